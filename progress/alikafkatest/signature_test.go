package alikafkatest

import (
	"net/url"
	"strings"
	"testing"
)

// The classic signature example from the Alibaba Cloud RPC documentation
// (ECS DescribeRegions).
func TestSignClassicVector(t *testing.T) {
	params := url.Values{}
	for k, v := range map[string]string{
		"AccessKeyId":      "testid",
		"Action":           "DescribeRegions",
		"Format":           "XML",
		"SignatureMethod":  "HMAC-SHA1",
		"SignatureNonce":   "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
		"SignatureVersion": "1.0",
		"Timestamp":        "2016-02-23T12:46:24Z",
		"Version":          "2014-05-26",
	} {
		params.Set(k, v)
	}
	const want = "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
	if got := Sign("GET", params, "testsecret"); got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
	// Signature itself never takes part; everything else does.
	params.Set("Signature", "whatever")
	if got := Sign("GET", params, "testsecret"); got != want {
		t.Errorf("Sign with a Signature param = %q, want %q", got, want)
	}
	params.Set("SignatureType", "")
	if got := Sign("GET", params, "testsecret"); got == want {
		t.Errorf("an empty parameter must be signed too")
	}
}

func TestStringToSignEncoding(t *testing.T) {
	params := url.Values{"b": {"x y*~z"}, "a": {"1/2"}, "Signature": {"s"}}
	got := StringToSign("post", params)
	// canonical: a=1%2F2&b=x%20y%2A~z, then encoded once more.
	want := "POST&%2F&a%3D1%252F2%26b%3Dx%2520y%252A~z"
	if got != want {
		t.Fatalf("StringToSign = %q, want %q", got, want)
	}
	if strings.Contains(got, "Signature") {
		t.Errorf("Signature must not be signed")
	}
}
