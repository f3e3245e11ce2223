package osstest_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"

	"github.com/backlog-alert/backlog-alert/state/osstest"
)

// helloETag is the ETag of an object holding "hello": its MD5, as OSS gives.
const helloETag = `"5D41402ABC4B2A76B9719D911017C592"`

const v4 = "OSS4-HMAC-SHA256 Credential=" + osstest.AccessKeyID + "/20261121/cn-hangzhou/oss/aliyun_v4_request,Signature=00"

type ossError struct {
	Code, Message, RequestId, HostId string
}

// do sends a raw request with V4-looking headers unless auth is "-".
func do(t *testing.T, srv *osstest.Server, method, path, auth string, body []byte, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "-" {
		req.Header.Set("Authorization", auth)
		req.Header.Set("x-oss-date", "20261121T120000Z")
		req.Header.Set("x-oss-content-sha256", "UNSIGNED-PAYLOAD")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func TestRawProtocol(t *testing.T) {
	srv := osstest.NewServer()
	defer srv.Close()
	srv.PutObject("bkt", "dir/obj.json", []byte("seeded"))

	tests := []struct {
		name       string
		method     string
		path       string
		auth       string
		body       string
		hdr        []string
		wantStatus int
		wantCode   string
		wantBody   string
	}{
		{name: "get", method: "GET", path: "/bkt/dir/obj.json", auth: v4, wantStatus: 200, wantBody: "seeded"},
		{name: "get missing", method: "GET", path: "/bkt/nope", auth: v4, wantStatus: 404, wantCode: "NoSuchKey"},
		{name: "no authorization", method: "GET", path: "/bkt/dir/obj.json", auth: "-", wantStatus: 403, wantCode: "AccessDenied"},
		{name: "garbled authorization", method: "GET", path: "/bkt/dir/obj.json", auth: "Bearer x", wantStatus: 400, wantCode: "InvalidArgument"},
		{name: "wrong key id", method: "GET", path: "/bkt/dir/obj.json",
			auth: "OSS4-HMAC-SHA256 Credential=LTAIother/20261121/cn-hangzhou/oss/aliyun_v4_request,Signature=00", wantStatus: 403, wantCode: "InvalidAccessKeyId"},
		{name: "v1 authorization", method: "GET", path: "/bkt/dir/obj.json", auth: "OSS " + osstest.AccessKeyID + ":c2ln", wantStatus: 200, wantBody: "seeded"},
		{name: "put", method: "PUT", path: "/bkt/new", auth: v4, body: "hello", hdr: []string{"Content-Type", "application/json"}, wantStatus: 200},
		{name: "put bad md5", method: "PUT", path: "/bkt/new2", auth: v4, body: "hello", hdr: []string{"Content-MD5", "AAAAAAAAAAAAAAAAAAAAAA=="}, wantStatus: 400, wantCode: "InvalidDigest"},
		{name: "put forbid overwrite", method: "PUT", path: "/bkt/dir/obj.json", auth: v4, body: "x", hdr: []string{"x-oss-forbid-overwrite", "true"}, wantStatus: 409, wantCode: "FileAlreadyExists"},
		{name: "copy", method: "PUT", path: "/bkt/copy", auth: v4, hdr: []string{"x-oss-copy-source", "/bkt/dir/obj.json"}, wantStatus: 200},
		{name: "copy missing source", method: "PUT", path: "/bkt/copy2", auth: v4, hdr: []string{"x-oss-copy-source", "/bkt/absent"}, wantStatus: 404, wantCode: "NoSuchKey"},
		{name: "copy bad source", method: "PUT", path: "/bkt/copy3", auth: v4, hdr: []string{"x-oss-copy-source", "bkt-absent"}, wantStatus: 400, wantCode: "InvalidArgument"},
		{name: "post not allowed", method: "POST", path: "/bkt/dir/obj.json", auth: v4, wantStatus: 405, wantCode: "MethodNotAllowed"},
		{name: "bucket op", method: "GET", path: "/bkt/", auth: v4, wantStatus: 501, wantCode: "NotImplemented"},
		{name: "subresource", method: "GET", path: "/bkt/dir/obj.json?acl", auth: v4, wantStatus: 501, wantCode: "NotImplemented"},
		{name: "get if-match", method: "GET", path: "/bkt/new", auth: v4, hdr: []string{"If-Match", helloETag}, wantStatus: 200, wantBody: "hello"},
		{name: "get if-match lowercase unquoted list", method: "GET", path: "/bkt/new", auth: v4,
			hdr: []string{"If-Match", `"0", ` + strings.ToLower(strings.Trim(helloETag, `"`))}, wantStatus: 200, wantBody: "hello"},
		{name: "get if-match other", method: "GET", path: "/bkt/new", auth: v4, hdr: []string{"If-Match", `"0123"`}, wantStatus: 412, wantCode: "PreconditionFailed"},
		{name: "head if-match other", method: "HEAD", path: "/bkt/new", auth: v4, hdr: []string{"If-Match", `"0123"`}, wantStatus: 412},
		{name: "get if-none-match", method: "GET", path: "/bkt/new", auth: v4, hdr: []string{"If-None-Match", helloETag}, wantStatus: 304},
		{name: "put to delete", method: "PUT", path: "/bkt/gone", auth: v4, body: "bye", wantStatus: 200},
		{name: "delete", method: "DELETE", path: "/bkt/gone", auth: v4, wantStatus: 204},
		{name: "get deleted", method: "GET", path: "/bkt/gone", auth: v4, wantStatus: 404, wantCode: "NoSuchKey"},
		{name: "delete missing", method: "DELETE", path: "/bkt/gone", auth: v4, wantStatus: 204},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, srv, tt.method, tt.path, tt.auth, []byte(tt.body), tt.hdr...)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantStatus, body)
			}
			rid := resp.Header.Get("x-oss-request-id")
			if rid == "" {
				t.Error("no x-oss-request-id")
			}
			if tt.wantCode != "" {
				var e ossError
				if err := xml.Unmarshal(body, &e); err != nil {
					t.Fatalf("error body %q: %v", body, err)
				}
				if e.Code != tt.wantCode || e.Message == "" || e.RequestId != rid || e.HostId == "" {
					t.Errorf("error %+v, want code %s with message, request id %s and host id", e, tt.wantCode, rid)
				}
				if ct := resp.Header.Get("Content-Type"); ct != "application/xml" {
					t.Errorf("error Content-Type %q", ct)
				}
				return
			}
			if tt.wantBody != "" && string(body) != tt.wantBody {
				t.Errorf("body %q, want %q", body, tt.wantBody)
			}
		})
	}

	if got, ok := srv.Object("bkt", "new"); !ok || string(got) != "hello" {
		t.Errorf("put stored %q, %v", got, ok)
	}
	if ct, _ := srv.ContentType("bkt", "new"); ct != "application/json" {
		t.Errorf("put stored Content-Type %q", ct)
	}
	if got, _ := srv.Object("bkt", "copy"); string(got) != "seeded" {
		t.Errorf("copy stored %q", got)
	}
	if got, _ := srv.Object("bkt", "dir/obj.json"); string(got) != "seeded" {
		t.Errorf("forbid-overwrite PUT changed the object to %q", got)
	}
	if _, ok := srv.Object("bkt", "new2"); ok {
		t.Error("a PUT with a bad Content-MD5 was stored")
	}
	want := []string{"copy", "dir/obj.json", "new"}
	if got := srv.Keys("bkt"); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("Keys = %v, want %v", got, want)
	}
	reqs := srv.Requests()
	if len(reqs) != len(tests) {
		t.Fatalf("%d requests recorded, want %d", len(reqs), len(tests))
	}
	if r := reqs[6]; r.Method != "PUT" || r.Bucket != "bkt" || r.Key != "new" || string(r.Body) != "hello" {
		t.Errorf("recorded %+v", r)
	}
	// Requests returns copies.
	reqs[0].Header.Set("Authorization", "changed")
	if srv.Requests()[0].Header.Get("Authorization") == "changed" {
		t.Error("Requests shares its headers with the server")
	}
}

func TestFaultsAndToken(t *testing.T) {
	srv := osstest.NewServer()
	defer srv.Close()
	srv.PutObject("bkt", "k", []byte("v"))

	srv.Fail(osstest.Fault{Method: "GET", Key: "k", Status: 503, Code: "ServiceUnavailable", Times: 2})
	for i, want := range []int{503, 503, 200} {
		if resp, _ := do(t, srv, "GET", "/bkt/k", v4, nil); resp.StatusCode != want {
			t.Errorf("request %d: status %d, want %d", i, resp.StatusCode, want)
		}
	}
	srv.Fail(osstest.Fault{Key: "other", Status: 500})
	if resp, _ := do(t, srv, "GET", "/bkt/k", v4, nil); resp.StatusCode != 200 {
		t.Errorf("a fault for another key applied: %d", resp.StatusCode)
	}
	for range 3 {
		if resp, _ := do(t, srv, "PUT", "/bkt/other", v4, []byte("x")); resp.StatusCode != 500 {
			t.Errorf("a fault with Times 0 stopped applying: %d", resp.StatusCode)
		}
	}
	srv.ClearFaults()
	if resp, _ := do(t, srv, "PUT", "/bkt/other", v4, []byte("x")); resp.StatusCode != 200 {
		t.Errorf("after ClearFaults: %d", resp.StatusCode)
	}

	srv.RequireToken("the-token")
	for _, tc := range []struct {
		hdr  []string
		want int
	}{{nil, 403}, {[]string{"x-oss-security-token", "other"}, 403}, {[]string{"x-oss-security-token", "the-token"}, 200}} {
		resp, body := do(t, srv, "GET", "/bkt/k", v4, nil, tc.hdr...)
		if resp.StatusCode != tc.want {
			t.Errorf("token %v: status %d, want %d", tc.hdr, resp.StatusCode, tc.want)
		}
		if tc.want == 403 && !strings.Contains(string(body), "<Code>InvalidSecurityToken</Code>") {
			t.Errorf("body %s, want InvalidSecurityToken", body)
		}
	}
}

// TestWithSDK drives the server with the real SDK client, HeadObject
// included: a HEAD error has no body, so the SDK reads x-oss-err.
func TestWithSDK(t *testing.T) {
	ctx := context.Background()
	srv := osstest.NewServer()
	defer srv.Close()
	c := oss.NewClient(oss.LoadDefaultConfig().
		WithCredentialsProvider(credentials.NewStaticCredentialsProvider(osstest.AccessKeyID, osstest.AccessKeySecret)).
		WithRegion("cn-hangzhou").WithEndpoint(srv.URL).WithUsePathStyle(true).WithRetryMaxAttempts(1))

	_, err := c.HeadObject(ctx, &oss.HeadObjectRequest{Bucket: oss.Ptr("bkt"), Key: oss.Ptr("k")})
	var se *oss.ServiceError
	if !errors.As(err, &se) || se.StatusCode != 404 || se.Code != "NoSuchKey" || se.RequestID == "" {
		t.Fatalf("HeadObject of a missing key = %v", err)
	}

	data := []byte(`{"a":1}`)
	// The SDK checks the CRC-64 the server returns against what it sent.
	if _, err := c.PutObject(ctx, &oss.PutObjectRequest{Bucket: oss.Ptr("bkt"), Key: oss.Ptr("k"), Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	head, err := c.HeadObject(ctx, &oss.HeadObjectRequest{Bucket: oss.Ptr("bkt"), Key: oss.Ptr("k")})
	if err != nil || head.ContentLength != int64(len(data)) || oss.ToString(head.ETag) == "" {
		t.Fatalf("HeadObject = %+v, %v", head, err)
	}
	if _, err := c.CopyObject(ctx, &oss.CopyObjectRequest{Bucket: oss.Ptr("bkt"), Key: oss.Ptr("k2"), SourceKey: oss.Ptr("k")}); err != nil {
		t.Fatal(err)
	}
	res, err := c.GetObject(ctx, &oss.GetObjectRequest{Bucket: oss.Ptr("bkt"), Key: oss.Ptr("k2")})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !bytes.Equal(got, data) {
		t.Errorf("copy holds %q", got)
	}
	if _, err := c.CopyObject(ctx, &oss.CopyObjectRequest{Bucket: oss.Ptr("bkt"), Key: oss.Ptr("k2"), SourceKey: oss.Ptr("k"),
		ForbidOverwrite: oss.Ptr("true")}); !errors.As(err, &se) || se.Code != "FileAlreadyExists" || se.StatusCode != 409 {
		t.Errorf("CopyObject over an existing object with ForbidOverwrite = %v", err)
	}

	if _, err := c.DeleteObject(ctx, &oss.DeleteObjectRequest{Bucket: oss.Ptr("bkt"), Key: oss.Ptr("k2")}); err != nil {
		t.Errorf("DeleteObject = %v", err)
	}
	if _, ok := srv.Object("bkt", "k2"); ok {
		t.Error("DeleteObject left the object")
	}
}

// TestConditionalWithSDK checks, with the real SDK, what a lease on OSS relies
// on: a create-only PutObject fails with 409 FileAlreadyExists on an existing
// object, the ETag changes when the object is replaced, and If-Match on
// GetObject and HeadObject fails with 412 PreconditionFailed on another ETag.
func TestConditionalWithSDK(t *testing.T) {
	ctx := context.Background()
	srv := osstest.NewServer()
	defer srv.Close()
	c := oss.NewClient(oss.LoadDefaultConfig().
		WithCredentialsProvider(credentials.NewStaticCredentialsProvider(osstest.AccessKeyID, osstest.AccessKeySecret)).
		WithRegion("cn-hangzhou").WithEndpoint(srv.URL).WithUsePathStyle(true).WithRetryMaxAttempts(1))
	put := func(body string, forbid bool) (string, error) {
		req := &oss.PutObjectRequest{Bucket: oss.Ptr("bkt"), Key: oss.Ptr("lock"), Body: strings.NewReader(body)}
		if forbid {
			req.ForbidOverwrite = oss.Ptr("true")
		}
		res, err := c.PutObject(ctx, req)
		if err != nil {
			return "", err
		}
		return oss.ToString(res.ETag), nil
	}

	first, err := put("one", true)
	if err != nil || first == "" {
		t.Fatalf("create-only PutObject of a new object = %q, %v", first, err)
	}
	var se *oss.ServiceError
	if _, err := put("two", true); !errors.As(err, &se) || se.StatusCode != 409 || se.Code != "FileAlreadyExists" {
		t.Fatalf("create-only PutObject of an existing object = %v, want 409 FileAlreadyExists", err)
	}
	if got, _ := srv.Object("bkt", "lock"); string(got) != "one" {
		t.Errorf("the refused PutObject changed the object to %q", got)
	}
	second, err := put("two", false)
	if err != nil {
		t.Fatal(err)
	}
	if second == first {
		t.Errorf("the ETag %s did not change when the object was replaced", first)
	}

	tests := []struct {
		name    string
		ifMatch string
		want    int // 0: success
	}{
		{"current etag", second, 0},
		{"replaced etag", first, 412},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.GetObject(ctx, &oss.GetObjectRequest{Bucket: oss.Ptr("bkt"), Key: oss.Ptr("lock"), IfMatch: oss.Ptr(tt.ifMatch)})
			if err == nil {
				res.Body.Close()
			}
			_, herr := c.HeadObject(ctx, &oss.HeadObjectRequest{Bucket: oss.Ptr("bkt"), Key: oss.Ptr("lock"), IfMatch: oss.Ptr(tt.ifMatch)})
			for op, err := range map[string]error{"GetObject": err, "HeadObject": herr} {
				var se *oss.ServiceError
				switch {
				case tt.want == 0 && err != nil:
					t.Errorf("%s If-Match %s = %v", op, tt.ifMatch, err)
				case tt.want != 0 && (!errors.As(err, &se) || se.StatusCode != tt.want || se.Code != "PreconditionFailed"):
					t.Errorf("%s If-Match %s = %v, want %d PreconditionFailed", op, tt.ifMatch, err, tt.want)
				}
			}
		})
	}
}
