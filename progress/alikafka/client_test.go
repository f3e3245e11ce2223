package alikafka_test

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	sdkalikafka "github.com/aliyun/alibaba-cloud-sdk-go/services/alikafka"

	"github.com/backlog-alert/backlog-alert/progress"
	"github.com/backlog-alert/backlog-alert/progress/alikafka"
	"github.com/backlog-alert/backlog-alert/progress/alikafkatest"
)

func TestProgressSignedAndDecoded(t *testing.T) {
	s := newFake(t)
	want := group("cn-hangzhou", "i1", "g1", 42)
	s.SetGroup(want)
	got, err := newClient(t, "cn-hangzhou", config(s)).Progress("i1", "g1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	reqs := s.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if !r.SignatureOK || r.Action != "GetConsumerProgress" || r.InstanceId != "i1" || r.ConsumerId != "g1" ||
		r.Params.Get("RegionId") != "cn-hangzhou" || r.Params.Get("SecurityToken") != testCreds.SecurityToken {
		t.Errorf("request %+v", r)
	}
}

func TestCredentialChecks(t *testing.T) {
	s := newFake(t)
	s.SetGroup(group("", "i1", "g1", 1))
	tests := []struct {
		name  string
		creds alikafka.Credentials
		code  string // "" = success
	}{
		{"sts", testCreds, ""},
		{"wrong secret", alikafka.Credentials{AccessKeyID: testCreds.AccessKeyID, AccessKeySecret: "WrongSecretValue", SecurityToken: testCreds.SecurityToken}, "SignatureDoesNotMatch"},
		{"no token", alikafka.Credentials{AccessKeyID: testCreds.AccessKeyID, AccessKeySecret: testCreds.AccessKeySecret, SecurityToken: ""}, "MissingSecurityToken"},
		{"wrong token", alikafka.Credentials{AccessKeyID: testCreds.AccessKeyID, AccessKeySecret: testCreds.AccessKeySecret, SecurityToken: "CAISanotherToken"}, "InvalidSecurityToken.MismatchWithAccessKey"},
		{"unknown key", alikafka.Credentials{AccessKeyID: "LTAIunknownKeyId", AccessKeySecret: testCreds.AccessKeySecret, SecurityToken: testCreds.SecurityToken}, "InvalidAccessKeyId.NotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config(s)
			cfg.Credentials = tt.creds
			_, err := newClient(t, "cn-hangzhou", cfg).Progress("i1", "g1")
			if tt.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ae *alikafka.APIError
			if !errors.As(err, &ae) || ae.Code != tt.code || ae.HTTPStatus < 400 {
				t.Fatalf("err = %#v, want *APIError %s", err, tt.code)
			}
			assertNoSecrets(t, err.Error(), tt.creds)
			assertNoSecrets(t, ae.Message, tt.creds)
		})
	}
}

// assertNoSecrets fails when text holds any credential or a signature value.
func assertNoSecrets(t *testing.T, text string, creds ...alikafka.Credentials) {
	t.Helper()
	for _, c := range append(creds, testCreds) {
		for _, v := range []string{c.AccessKeyID, c.AccessKeySecret, c.SecurityToken} {
			if v == "" {
				continue
			}
			for _, form := range []string{v, url.QueryEscape(v), url.QueryEscape(url.QueryEscape(v))} {
				if strings.Contains(text, form) {
					t.Errorf("text leaks %q:\n%s", form, text)
				}
			}
		}
	}
	if m := signatureValue.FindString(text); m != "" {
		t.Errorf("text leaks a signature %q:\n%s", m, text)
	}
}

var signatureValue = regexp.MustCompile(`(?i)signature(=|%3D|%253D|"?\s*:\s*"?)[^*&\s"]`)

func TestErrorsAreRedacted(t *testing.T) {
	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + l.Addr().String()
	l.Close()

	// A server that answers 400 quoting the whole request, as a proxy or a
	// misbehaving gateway might.
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"Code":"InvalidParameter","Message":"bad request ` + r.URL.String() + `","RequestId":"R1"}`))
	}))
	defer echo.Close()
	// A non-JSON error page quoting the request.
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		w.Write([]byte(`<html>bad gateway for ` + r.URL.RawQuery + `</html>`))
	}))
	defer html.Close()
	s := newFake(t)
	s.SetGroup(group("", "i1", "g1", 1))

	wrongSecret := testCreds
	wrongSecret.AccessKeySecret = "AnotherSecretValue"
	tests := []struct {
		name     string
		endpoint string
		creds    alikafka.Credentials
		api      bool
	}{
		{"closed port", closedURL, testCreds, false},
		{"400 echoing the request", echo.URL, testCreds, true},
		{"502 html", html.URL, testCreds, true},
		{"signature mismatch quoting string to sign", s.URL, wrongSecret, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, "cn-hangzhou", alikafka.Config{Credentials: tt.creds, Endpoint: tt.endpoint, Timeout: 2 * time.Second})
			for _, call := range []func() error{
				func() error { _, err := c.Progress("i1", "g1"); return err },
				func() error { _, err := c.ListGroups("i1"); return err },
			} {
				err := call()
				if err == nil {
					t.Fatal("no error")
				}
				t.Logf("redacted: %v", err)
				var ae *alikafka.APIError
				if errors.As(err, &ae) != tt.api {
					t.Errorf("err %T %v: APIError = %v, want %v", err, err, !tt.api, tt.api)
				}
				assertNoSecrets(t, err.Error(), tt.creds)
				if ae != nil {
					assertNoSecrets(t, ae.Message, tt.creds)
				}
				// A transport error names only the endpoint; the others keep
				// their text with the secret values masked.
				if tt.api && !strings.Contains(err.Error(), "***") {
					t.Errorf("expected a redaction mark in %q", err)
				}
				if !tt.api && strings.Contains(err.Error(), "?") {
					t.Errorf("transport error quotes the request URL: %q", err)
				}
			}
		})
	}
	// The raw SDK error really does leak: this is what the redaction is for.
	raw, _ := sdkalikafka.NewClientWithOptions("cn-hangzhou", sdk.NewConfig(),
		credentials.NewStsTokenCredential(testCreds.AccessKeyID, testCreds.AccessKeySecret, testCreds.SecurityToken))
	raw.Domain = strings.TrimPrefix(closedURL, "http://")
	req := sdkalikafka.CreateGetConsumerProgressRequest()
	req.InstanceId, req.ConsumerId = "i1", "g1"
	if _, err := raw.GetConsumerProgress(req); err == nil || !strings.Contains(err.Error(), testCreds.AccessKeyID) {
		t.Errorf("raw SDK error no longer quotes the access key (%v): is the redaction test still meaningful?", err)
	}
}

func TestTimeout(t *testing.T) {
	s := newFake(t)
	s.SetGroup(group("", "i1", "g1", 1))
	s.Inject(alikafkatest.Fault{Latency: 3 * time.Second, Times: 1})
	cfg := config(s)
	cfg.Timeout = 200 * time.Millisecond
	c := newClient(t, "cn-hangzhou", cfg)
	start := time.Now()
	_, err := c.Progress("i1", "g1")
	var te interface{ Timeout() bool }
	if err == nil || !errors.As(err, &te) || !te.Timeout() {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v with a 200ms timeout", d)
	}
	assertNoSecrets(t, err.Error())
	// The client is still usable, with the same timeout, once the fault is gone.
	if _, err := c.Progress("i1", "g1"); err != nil {
		t.Errorf("second call: %v", err)
	}
}

// The API reference's JSON sample wraps the body in
// {"GetConsumerProgressResponse": ...} and sends the one topic as a bare
// object. The SDK cannot read either form: with the wrapper it silently
// returns an empty reply (no error, Code 0), without it it fails with
// SDK.JsonUnmarshalError. The client must read both.
func TestAPIReferenceSample(t *testing.T) {
	sample, err := os.ReadFile("testdata/api-reference-sample.json")
	if err != nil {
		t.Fatal(err)
	}
	var wrapper map[string]json.RawMessage
	if err := json.Unmarshal(sample, &wrapper); err != nil {
		t.Fatal(err)
	}
	const instance, name = "alikafka_pre-cn-mp919o4v****", "kafka-test"
	for _, tt := range []struct {
		name, body string
		sdkErr     bool
	}{
		{"verbatim", string(sample), false},
		{"unwrapped", string(wrapper["GetConsumerProgressResponse"]), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newFake(t)
			s.SetRawProgress(instance, name, tt.body)

			// Precondition: the SDK alone cannot read this body.
			raw, err := sdkalikafka.NewClientWithOptions("cn-hangzhou", sdk.NewConfig(),
				credentials.NewStsTokenCredential(testCreds.AccessKeyID, testCreds.AccessKeySecret, testCreds.SecurityToken))
			if err != nil {
				t.Fatal(err)
			}
			raw.Domain = strings.TrimPrefix(s.URL, "http://")
			req := sdkalikafka.CreateGetConsumerProgressRequest()
			req.InstanceId, req.ConsumerId = instance, name
			resp, err := raw.GetConsumerProgress(req)
			var ce *sdkerrors.ClientError
			if tt.sdkErr && (!errors.As(err, &ce) || ce.ErrorCode() != sdkerrors.JsonUnmarshalErrorCode) {
				t.Fatalf("SDK error = %v, want %s", err, sdkerrors.JsonUnmarshalErrorCode)
			}
			if !tt.sdkErr && (err != nil || resp.Code != 0 || len(resp.ConsumerProgress.TopicList.TopicListItem) != 0) {
				t.Fatalf("SDK = %v, %+v; want a silently empty reply", err, resp)
			}

			g, err := newClient(t, "cn-hangzhou", config(s)).Progress(instance, name)
			if err != nil {
				t.Fatal(err)
			}
			if g.TotalDiff != 0 || g.LastTimestamp != 1566874931671 || len(g.Topics) != 1 {
				t.Fatalf("group %+v", g)
			}
			tp := g.Topics[0]
			if tp.Topic != "kafka-test" || tp.TotalDiff != 0 || tp.LastTimestamp != 1566874931671 || len(tp.Partitions) != 12 {
				t.Fatalf("topic %+v", tp)
			}
			want := progress.Partition{Partition: 2, BrokerOffset: 10, ConsumerOffset: 10, LastTimestamp: 1566874931561}
			if tp.Partitions[2] != want {
				t.Errorf("partition 2 = %+v, want %+v", tp.Partitions[2], want)
			}
			for i, p := range tp.Partitions {
				if p.Partition != i || p.Lag() != 0 {
					t.Errorf("partition %d = %+v", i, p)
				}
			}
		})
	}
}

// The testdata copy must stay the API reference's sample, byte for byte.
func TestAPIReferenceSampleMatchesSeed(t *testing.T) {
	seed, err := os.ReadFile("../../../shared/seeds/001_14ad655432c5620b.txt")
	if err != nil {
		t.Skipf("seed not available: %v", err)
	}
	copy, err := os.ReadFile("testdata/api-reference-sample.json")
	if err != nil {
		t.Fatal(err)
	}
	text := string(seed)
	i := strings.Index(text, "`JSON` format")
	if i < 0 {
		t.Fatal("no JSON sample in the seed")
	}
	start := strings.Index(text[i:], "```\n")
	end := strings.Index(text[i+start+4:], "\n```")
	if start < 0 || end < 0 {
		t.Fatal("JSON sample block not delimited")
	}
	block := text[i+start+4 : i+start+4+end]
	if strings.TrimSpace(block) != strings.TrimSpace(string(copy)) {
		t.Error("testdata/api-reference-sample.json differs from the seed's JSON sample")
	}
}

func TestReplyShapes(t *testing.T) {
	s := newFake(t)
	s.AddInstance("", "i1")
	tests := []struct {
		name     string
		body     string // served verbatim for the test's group when set
		fault    *alikafkatest.Fault
		notFound bool
		code     string // expected APIError code, "" = success
		diff     int64
	}{
		{name: "unknown group, Success:false shape", notFound: true, code: "BIZ_SUBSCRIPTION_NOT_FOUND"},
		{name: "unknown group, HTTP error shape", fault: &alikafkatest.Fault{HTTPStatus: 400, Code: "BIZ_SUBSCRIPTION_NOT_FOUND"}, notFound: true, code: "BIZ_SUBSCRIPTION_NOT_FOUND"},
		{name: "Success false with Code 200", body: `{"Code":200,"Success":false,"Message":"oops","RequestId":"R"}`, code: "200"},
		{name: "Code 500 with Success true", body: `{"Code":500,"Success":true,"Message":"oops"}`, code: "500"},
		{name: "Code as text", body: `{"Code":"ONS_SYSTEM_ERROR","Success":"false","Message":"busy"}`, code: "ONS_SYSTEM_ERROR"},
		{name: "no Code at all", body: `{"Success":true}`, code: "Unknown"},
		{name: "numbers as strings", body: `{"Code":"200","Success":"true","ConsumerProgress":{"TotalDiff":"7","LastTimestamp":"-1",
			"TopicList":{"TopicList":[{"Topic":"t","TotalDiff":"7","OffsetList":{"OffsetList":{"Partition":"3","BrokerOffset":"9","ConsumerOffset":"2"}}}]}}}`, diff: 7},
		{name: "flat lists", body: `{"Code":200,"Success":true,"ConsumerProgress":{"TotalDiff":1,"TopicList":[{"Topic":"t","OffsetList":[{"Partition":0}]}]}}`, diff: 1},
		{name: "500 error", fault: &alikafkatest.Fault{HTTPStatus: 500, Code: "InternalError"}, code: "InternalError"},
		{name: "throttled", fault: &alikafkatest.Fault{HTTPStatus: 400, Code: "Throttling.User"}, code: "Throttling.User"},
		{name: "fault without code", fault: &alikafkatest.Fault{HTTPStatus: 503}, code: "InjectedFault"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			group := strings.ReplaceAll(tt.name, " ", "-")
			if tt.body != "" {
				s.SetRawProgress("i1", group, tt.body)
			}
			if tt.fault != nil {
				f := *tt.fault
				f.Group = group
				s.Inject(f)
				s.SetGroup(progress.Group{Instance: "i1", Group: group})
			}
			g, err := newClient(t, "cn-hangzhou", config(s)).Progress("i1", group)
			if tt.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				if g.TotalDiff != tt.diff || len(g.Topics) != 1 || len(g.Topics[0].Partitions) != 1 {
					t.Errorf("group %+v", g)
				}
				return
			}
			var ae *alikafka.APIError
			if !errors.As(err, &ae) || ae.Code != tt.code {
				t.Fatalf("err = %#v, want *APIError %s", err, tt.code)
			}
			if alikafka.IsGroupNotFound(err) != tt.notFound {
				t.Errorf("IsGroupNotFound = %v", !tt.notFound)
			}
		})
	}
}

func TestNewClientErrors(t *testing.T) {
	for _, tt := range []struct {
		name   string
		region string
		cfg    alikafka.Config
	}{
		{"no region", "", alikafka.Config{Credentials: testCreds}},
		{"bad region", "cn hangzhou/..", alikafka.Config{Credentials: testCreds}},
		{"no key", "cn-hangzhou", alikafka.Config{Credentials: alikafka.Credentials{AccessKeySecret: "x"}}},
		{"bad endpoint", "cn-hangzhou", alikafka.Config{Credentials: testCreds, Endpoint: "127.0.0.1:80"}},
		{"ftp endpoint", "cn-hangzhou", alikafka.Config{Credentials: testCreds, Endpoint: "ftp://127.0.0.1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := alikafka.NewClient(tt.region, tt.cfg); err == nil {
				t.Error("no error")
			} else {
				assertNoSecrets(t, err.Error())
			}
		})
	}
}

// The SDK type-asserts an HTTP error body's Code to a string and panics on a
// number; the client turns that into an error.
func TestSDKPanicRecovered(t *testing.T) {
	odd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"Code":400,"Message":"numeric code"}`))
	}))
	defer odd.Close()
	c := newClient(t, "cn-hangzhou", alikafka.Config{Credentials: testCreds, Endpoint: odd.URL})
	_, err := c.Progress("i1", "g1")
	if err == nil || !strings.Contains(err.Error(), "panic") {
		t.Fatalf("err = %v, want a recovered SDK panic", err)
	}
	assertNoSecrets(t, err.Error())
}

// Timestamps are judged against Config.Now, the run's evaluation time, not
// the wall clock: a replay with --now trusts what the live run trusted.
func TestTimestampsJudgedAtConfigNow(t *testing.T) {
	wall := time.Now()
	tests := []struct {
		name    string
		now     time.Time // Config.Now
		ts      time.Time // the group's, its topic's and partitions' LastTimestamp
		want    bool      // trusted
		anomaly bool
	}{
		{"a month ahead of the wall clock, a minute before Now", wall.AddDate(0, 1, 0), wall.AddDate(0, 1, 0).Add(-time.Minute), true, false},
		{"a minute before the wall clock, a month after Now", wall.AddDate(0, -1, 0), wall.Add(-time.Minute), false, true},
		{"zero Now is the wall clock: a month ahead", time.Time{}, wall.AddDate(0, 1, 0), false, true},
		{"zero Now is the wall clock: a minute before", time.Time{}, wall.Add(-time.Minute), true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newFake(t)
			g := group("cn-hangzhou", "i1", "g1", 42)
			ms := tt.ts.UnixMilli()
			g.LastTimestamp, g.Topics[0].LastTimestamp = ms, ms
			for i := range g.Topics[0].Partitions {
				g.Topics[0].Partitions[i].LastTimestamp = ms
			}
			s.SetGroup(g)
			cfg := config(s)
			cfg.Now = tt.now
			got, err := newClient(t, "cn-hangzhou", cfg).Progress("i1", "g1")
			if err != nil {
				t.Fatal(err)
			}
			want := int64(-1)
			if tt.want {
				want = ms
			}
			if got.LastTimestamp != want || got.Topics[0].LastTimestamp != want || got.Topics[0].Partitions[0].LastTimestamp != want {
				t.Errorf("timestamps %d / %d / %d, want %d", got.LastTimestamp, got.Topics[0].LastTimestamp, got.Topics[0].Partitions[0].LastTimestamp, want)
			}
			if (len(got.Anomalies) > 0) != tt.anomaly {
				t.Errorf("anomalies %q", got.Anomalies)
			}
		})
	}
}

// Fetch passes Config.Now to every client it makes.
func TestFetchJudgesTimestampsAtConfigNow(t *testing.T) {
	s := newFake(t)
	later := time.Now().AddDate(0, 2, 0)
	g := group("cn-hangzhou", "i1", "g1", 42)
	ms := later.Add(-time.Minute).UnixMilli()
	g.LastTimestamp, g.Topics[0].LastTimestamp = ms, ms
	for i := range g.Topics[0].Partitions {
		g.Topics[0].Partitions[i].LastTimestamp = ms
	}
	s.SetGroup(g)
	cfg := config(s)
	cfg.Now = later
	out := alikafka.Fetch(t.Context(), cfg, []alikafka.Selection{{Region: "cn-hangzhou", Instance: "i1", Groups: []string{"g1"}, NeedTimestamps: true}})
	if len(out.Snapshot.Groups) != 1 || out.Snapshot.Groups[0].LastTimestamp != ms || len(out.Snapshot.Groups[0].Anomalies) != 0 {
		t.Errorf("outcome %+v", out)
	}
}
