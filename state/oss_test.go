package state_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/internal/closedport"
	"github.com/backlog-alert/backlog-alert/state"
	"github.com/backlog-alert/backlog-alert/state/osstest"
)

const (
	bucket    = "alert-state"
	key       = "backlog-alert/state.json"
	location  = "oss://" + bucket + "/" + key
	stsToken  = "CAIS-sts-token-0123456789/abc+def=="
	stsKeyID  = "STS.NTestStsKeyID0123"
	stsSecret = "sts-secret-0123456789abcdef"
)

var (
	permanent = state.Credentials{AccessKeyID: osstest.AccessKeyID, AccessKeySecret: osstest.AccessKeySecret}
	sts       = state.Credentials{AccessKeyID: stsKeyID, AccessKeySecret: stsSecret, SecurityToken: stsToken}
)

func openOSS(t *testing.T, srv *osstest.Server, creds state.Credentials) state.Store {
	t.Helper()
	st, err := state.Open(location, state.Options{Credentials: creds, Region: "cn-hangzhou", OSSEndpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// assertNoSecrets fails when text holds any part of the credentials.
func assertNoSecrets(t *testing.T, text string, creds ...state.Credentials) {
	t.Helper()
	for _, c := range creds {
		for _, s := range []string{c.AccessKeyID, c.AccessKeySecret, c.SecurityToken} {
			if s != "" && strings.Contains(text, s) {
				t.Errorf("text leaks %q: %s", s, text)
			}
		}
	}
	if strings.Contains(text, "Signature=") && !strings.Contains(text, "Signature=***") {
		t.Errorf("text leaks a signature: %s", text)
	}
}

func TestOSSRoundTrip(t *testing.T) {
	ctx := context.Background()
	srv := osstest.NewServer()
	defer srv.Close()
	st := openOSS(t, srv, permanent)

	if st.Ephemeral() {
		t.Error("an OSS store is not ephemeral")
	}
	if want := "oss://alert-state/backlog-alert/state.json (cn-hangzhou, endpoint " + srv.URL + ")"; st.String() != want {
		t.Errorf("String() = %q, want %q", st.String(), want)
	}

	_, err := st.Load(ctx)
	if !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("Load before Save = %v, want ErrNotFound", err)
	}
	if !strings.Contains(err.Error(), location) {
		t.Errorf("error %q does not name the location", err)
	}

	for _, doc := range [][]byte{[]byte(`{"version":1}`), []byte(`{"version":1,"alerts":["a","b"]}`), {}} {
		if err := st.Save(ctx, doc); err != nil {
			t.Fatalf("Save: %v", err)
		}
		if got, ok := srv.Object(bucket, key); !ok || !bytes.Equal(got, doc) {
			t.Fatalf("stored object = %q, %v; want %q", got, ok, doc)
		}
		if ct, _ := srv.ContentType(bucket, key); ct != "application/json" {
			t.Errorf("Content-Type = %q, want application/json", ct)
		}
		got, err := openOSS(t, srv, permanent).Load(ctx)
		if err != nil || !bytes.Equal(got, doc) {
			t.Fatalf("Load = %q, %v; want %q", got, err, doc)
		}
	}

	reqs := srv.Requests()
	var puts int
	for _, r := range reqs {
		if r.Bucket != bucket || r.Key != key {
			t.Errorf("request for %s/%s, want path-style %s/%s", r.Bucket, r.Key, bucket, key)
		}
		auth := r.Header.Get("Authorization")
		if !strings.HasPrefix(auth, "OSS4-HMAC-SHA256 Credential="+osstest.AccessKeyID+"/") ||
			!strings.Contains(auth, "/cn-hangzhou/oss/aliyun_v4_request") {
			t.Errorf("Authorization = %q, want V4 with the key ID and region", auth)
		}
		if r.Header.Get("x-oss-security-token") != "" {
			t.Errorf("a token was sent with permanent credentials")
		}
		if r.Method == http.MethodPut {
			puts++
		}
	}
	if puts != 3 {
		t.Errorf("%d PUT requests for 3 saves, want one each", puts)
	}
}

func TestOSSSecurityToken(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		creds   state.Credentials
		wantErr bool
	}{
		{name: "token sent", creds: sts},
		{name: "token missing", creds: state.Credentials{AccessKeyID: stsKeyID, AccessKeySecret: stsSecret}, wantErr: true},
		{name: "token wrong", creds: state.Credentials{AccessKeyID: stsKeyID, AccessKeySecret: stsSecret, SecurityToken: "CAIS-some-other-token-987654"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := osstest.NewServer()
			defer srv.Close()
			srv.RequireAccessKeyID(stsKeyID)
			srv.RequireToken(stsToken)
			st := openOSS(t, srv, tt.creds)

			err := st.Save(ctx, []byte(`{"version":1}`))
			if !tt.wantErr {
				if err != nil {
					t.Fatal(err)
				}
				if got, err := st.Load(ctx); err != nil || string(got) != `{"version":1}` {
					t.Fatalf("Load = %q, %v", got, err)
				}
				for _, r := range srv.Requests() {
					if r.Header.Get("x-oss-security-token") != stsToken {
						t.Errorf("%s without the STS token", r.Method)
					}
				}
				return
			}
			var oe *state.OSSError
			if !errors.As(err, &oe) || oe.StatusCode != http.StatusForbidden || oe.Code != osstest.CodeInvalidSecurityToken {
				t.Fatalf("Save = %v, want 403 InvalidSecurityToken", err)
			}
			if !strings.Contains(err.Error(), "InvalidSecurityToken") || !strings.Contains(err.Error(), location) {
				t.Errorf("error %q does not say what failed where", err)
			}
			assertNoSecrets(t, err.Error(), tt.creds, sts)
			if n := len(srv.Requests()); n != 1 {
				t.Errorf("%d requests, want 1: a 403 is not retried", n)
			}
			if _, ok := srv.Object(bucket, key); ok {
				t.Error("the object was written")
			}
		})
	}
}

func TestOSSErrors(t *testing.T) {
	ctx := context.Background()
	// A server that echoes credentials in its message: they must not get
	// through.
	echo := "denied for " + stsKeyID + " with " + stsToken + " Authorization: OSS4-HMAC-SHA256 Credential=" +
		stsKeyID + "/20261121/cn-hangzhou/oss/aliyun_v4_request,Signature=abcdef0123 secret " + stsSecret
	tests := []struct {
		name       string
		op         string // load, save, aside
		faults     []osstest.Fault
		wantStatus int
		wantCode   string
		wantReqs   int
		wantTemp   bool
		notFound   bool
	}{
		{name: "500 once is retried", op: "save", faults: []osstest.Fault{{Method: "PUT", Status: 500, Times: 1}}, wantReqs: 2},
		{name: "500 twice fails after 2 attempts", op: "save", faults: []osstest.Fault{{Method: "PUT", Status: 500, Times: 2}},
			wantStatus: 500, wantCode: "InternalError", wantReqs: 2, wantTemp: true},
		{name: "503 on load", op: "load", faults: []osstest.Fault{{Method: "GET", Status: 503, Code: "ServiceUnavailable"}},
			wantStatus: 503, wantCode: "ServiceUnavailable", wantReqs: 2, wantTemp: true},
		{name: "403 access denied with echoed secrets", op: "load", faults: []osstest.Fault{{Status: 403, Code: "AccessDenied", Message: echo}},
			wantStatus: 403, wantCode: "AccessDenied", wantReqs: 1},
		{name: "500 with echoed secrets", op: "save", faults: []osstest.Fault{{Status: 500, Message: echo}},
			wantStatus: 500, wantCode: "InternalError", wantReqs: 2, wantTemp: true},
		{name: "no such bucket is not ErrNotFound", op: "load", faults: []osstest.Fault{{Status: 404, Code: "NoSuchBucket", Message: "The specified bucket does not exist."}},
			wantStatus: 404, wantCode: "NoSuchBucket", wantReqs: 1},
		{name: "no such key is ErrNotFound", op: "load", notFound: true, wantReqs: 1},
		{name: "copy denied", op: "aside", faults: []osstest.Fault{{Method: "PUT", Status: 403, Code: "AccessDenied", Message: echo}},
			wantStatus: 403, wantCode: "AccessDenied", wantReqs: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := osstest.NewServer()
			defer srv.Close()
			srv.RequireAccessKeyID(stsKeyID)
			srv.RequireToken(stsToken)
			if tt.op == "aside" {
				srv.PutObject(bucket, key, []byte("corrupt"))
			}
			for _, f := range tt.faults {
				srv.Fail(f)
			}
			st := openOSS(t, srv, sts)
			var err error
			switch tt.op {
			case "load":
				_, err = st.Load(ctx)
			case "save":
				err = st.Save(ctx, []byte(`{"version":1}`))
			case "aside":
				var where string
				where, err = st.SetAside(ctx, time.Now())
				if err != nil && where != "" {
					t.Errorf("failed SetAside returned %q", where)
				}
			}
			if n := len(srv.Requests()); n != tt.wantReqs {
				t.Errorf("%d requests, want %d", n, tt.wantReqs)
			}
			if tt.notFound {
				if !errors.Is(err, state.ErrNotFound) {
					t.Fatalf("err = %v, want ErrNotFound", err)
				}
				return
			}
			if tt.wantStatus == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, state.ErrNotFound) {
				t.Errorf("%v is ErrNotFound", err)
			}
			var oe *state.OSSError
			if !errors.As(err, &oe) {
				t.Fatalf("err %T %v is not an *OSSError", err, err)
			}
			if oe.StatusCode != tt.wantStatus || oe.Code != tt.wantCode {
				t.Errorf("status %d code %q, want %d %q", oe.StatusCode, oe.Code, tt.wantStatus, tt.wantCode)
			}
			if oe.Temporary() != tt.wantTemp {
				t.Errorf("Temporary() = %v, want %v", oe.Temporary(), tt.wantTemp)
			}
			if oe.RequestID == "" || !strings.Contains(err.Error(), oe.RequestID) {
				t.Errorf("error %q lacks the request ID", err)
			}
			assertNoSecrets(t, err.Error(), sts)
			assertNoSecrets(t, oe.Message+oe.Code+oe.RequestID+oe.Location, sts)
		})
	}
}

func TestOSSWrongAccessKey(t *testing.T) {
	srv := osstest.NewServer()
	defer srv.Close()
	wrong := state.Credentials{AccessKeyID: "LTAI5tSomeOtherKeyID9", AccessKeySecret: "another-secret-value-42"}
	_, err := openOSS(t, srv, wrong).Load(context.Background())
	var oe *state.OSSError
	if !errors.As(err, &oe) || oe.StatusCode != 403 || oe.Code != osstest.CodeInvalidAccessKeyID {
		t.Fatalf("Load = %v, want 403 InvalidAccessKeyId", err)
	}
	assertNoSecrets(t, err.Error(), wrong)
}

func TestOSSNoCredentials(t *testing.T) {
	srv := osstest.NewServer()
	defer srv.Close()
	st := openOSS(t, srv, state.Credentials{})
	ctx := context.Background()
	if _, err := st.Load(ctx); !errors.Is(err, state.ErrNoCredentials) {
		t.Errorf("Load = %v, want ErrNoCredentials", err)
	}
	if err := st.Save(ctx, []byte("x")); !errors.Is(err, state.ErrNoCredentials) {
		t.Errorf("Save = %v, want ErrNoCredentials", err)
	}
	if _, err := st.SetAside(ctx, time.Now()); !errors.Is(err, state.ErrNoCredentials) {
		t.Errorf("SetAside = %v, want ErrNoCredentials", err)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests without credentials", n)
	}
}

func TestOSSTransportErrors(t *testing.T) {
	t.Run("server down", func(t *testing.T) {
		srv := osstest.NewServer()
		srv.Close()
		srv.URL = closedport.URL(t)
		st := openOSS(t, srv, sts)
		err := st.Save(context.Background(), []byte("x"))
		var oe *state.OSSError
		if !errors.As(err, &oe) || oe.StatusCode != 0 || !oe.Temporary() {
			t.Fatalf("Save to a closed server = %v, want a temporary *OSSError without status", err)
		}
		if !strings.Contains(err.Error(), srv.URL) {
			t.Errorf("error %q does not name the endpoint", err)
		}
		assertNoSecrets(t, err.Error(), sts)
	})
	t.Run("deadline", func(t *testing.T) {
		srv := osstest.NewServer()
		defer srv.Close()
		srv.Fail(osstest.Fault{Method: "GET", Latency: 5 * time.Second})
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := openOSS(t, srv, permanent).Load(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Load past the deadline = %v, want DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("Load took %v past a 150ms deadline", d)
		}
		assertNoSecrets(t, err.Error(), permanent)
	})
}

func TestOSSSetAside(t *testing.T) {
	ctx := context.Background()
	srv := osstest.NewServer()
	defer srv.Close()
	srv.RequireAccessKeyID(stsKeyID)
	srv.RequireToken(stsToken)
	st := openOSS(t, srv, sts)
	now := time.Date(2026, 11, 21, 20, 0, 0, 0, time.FixedZone("CST", 8*3600))

	if where, err := st.SetAside(ctx, now); !errors.Is(err, state.ErrNotFound) || where != "" {
		t.Fatalf("SetAside of nothing = %q, %v; want ErrNotFound", where, err)
	}

	corrupt := []byte(`{"version":1,"alerts":[`)
	srv.PutObject(bucket, key, corrupt)
	where, err := st.SetAside(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	wantKey := key + ".corrupt-20261121T120000Z"
	if want := "oss://" + bucket + "/" + wantKey; where != want {
		t.Errorf("SetAside = %q, want %q", where, want)
	}
	if got, ok := srv.Object(bucket, wantKey); !ok || !bytes.Equal(got, corrupt) {
		t.Errorf("copy = %q, %v; want the corrupt bytes", got, ok)
	}
	reqs := srv.Requests()
	last := reqs[len(reqs)-1]
	if last.Method != http.MethodPut || last.Key != wantKey ||
		last.Header.Get("x-oss-copy-source") != "/"+bucket+"/"+key ||
		last.Header.Get("x-oss-forbid-overwrite") != "true" {
		t.Errorf("SetAside sent %s %s copy-source %q forbid-overwrite %q; want a CopyObject that does not overwrite",
			last.Method, last.Key, last.Header.Get("x-oss-copy-source"), last.Header.Get("x-oss-forbid-overwrite"))
	}

	// Same second, new corrupt document: the first copy is kept.
	srv.PutObject(bucket, key, []byte("second"))
	where2, err := st.SetAside(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := "oss://" + bucket + "/" + wantKey + "-1"; where2 != want {
		t.Errorf("second SetAside = %q, want %q", where2, want)
	}
	if got, _ := srv.Object(bucket, wantKey); !bytes.Equal(got, corrupt) {
		t.Errorf("first copy overwritten: %q", got)
	}

	// The next Save starts fresh.
	if err := st.Save(ctx, []byte(`{"version":1}`)); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Load(ctx); err != nil || string(got) != `{"version":1}` {
		t.Errorf("Load after Save = %q, %v", got, err)
	}
}

// roundTripper answers every request with NoSuchKey and records the URLs.
type roundTripper struct {
	mu   sync.Mutex
	urls []string
}

func (rt *roundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	rt.urls = append(rt.urls, r.URL.String())
	rt.mu.Unlock()
	body := `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><RequestId>R1</RequestId><HostId>h</HostId></Error>`
	return &http.Response{
		StatusCode: 404, Status: "404 Not Found", Request: r,
		Header: http.Header{"Content-Type": {"application/xml"}, "X-Oss-Request-Id": {"R1"}},
		Body:   io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)),
	}, nil
}

func TestOSSEndpoints(t *testing.T) {
	tests := []struct {
		name     string
		location string
		endpoint string
		wantURL  string
	}{
		{name: "default regional HTTPS endpoint", location: location,
			wantURL: "https://alert-state.oss-cn-hangzhou.aliyuncs.com/backlog-alert/state.json"},
		{name: "region from the location", location: location + "?region=ap-southeast-1",
			wantURL: "https://alert-state.oss-ap-southeast-1.aliyuncs.com/backlog-alert/state.json"},
		{name: "internal endpoint stays virtual-hosted", location: location, endpoint: "https://oss-cn-hangzhou-internal.aliyuncs.com",
			wantURL: "https://alert-state.oss-cn-hangzhou-internal.aliyuncs.com/backlog-alert/state.json"},
		{name: "proxy gets path style", location: location, endpoint: "http://oss-proxy.internal:8080",
			wantURL: "http://oss-proxy.internal:8080/alert-state/backlog-alert/state.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := &roundTripper{}
			st, err := state.Open(tt.location, state.Options{
				Credentials: permanent, Region: "cn-hangzhou", OSSEndpoint: tt.endpoint,
				HTTPClient: &http.Client{Transport: rt},
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Load(context.Background()); !errors.Is(err, state.ErrNotFound) {
				t.Fatalf("Load = %v, want ErrNotFound", err)
			}
			if len(rt.urls) != 1 || rt.urls[0] != tt.wantURL {
				t.Errorf("requested %v, want %s", rt.urls, tt.wantURL)
			}
		})
	}
}

// TestOSSSDKLogSilenced checks that OSS_SDK_LOG_LEVEL cannot make the SDK log
// request headers (the Authorization header and the STS token).
func TestOSSSDKLogSilenced(t *testing.T) {
	t.Setenv("OSS_SDK_LOG_LEVEL", "debug")
	var buf bytes.Buffer
	orig := log.Writer()
	log.SetOutput(&buf)
	defer log.SetOutput(orig)

	srv := osstest.NewServer()
	defer srv.Close()
	srv.RequireAccessKeyID(stsKeyID)
	srv.RequireToken(stsToken)
	st := openOSS(t, srv, sts)
	if err := st.Save(context.Background(), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Errorf("the SDK logged: %s", buf.String())
	}
	assertNoSecrets(t, buf.String(), sts)
}
