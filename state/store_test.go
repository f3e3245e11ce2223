package state_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/backlog-alert/backlog-alert/state"
)

func TestOpen(t *testing.T) {
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	creds := state.Credentials{AccessKeyID: "LTAI5tOpenTestKeyID", AccessKeySecret: "open-test-secret-value-123"}
	tests := []struct {
		name      string
		location  string
		opts      state.Options
		want      string // String() of the store; "" when an error is expected
		ephemeral bool
		errHas    []string // substrings of the error
		errHasNot []string // secrets that must not appear
	}{
		{name: "absolute path", location: "/var/lib/ba/state.json", want: "file /var/lib/ba/state.json"},
		{name: "path is cleaned", location: "/var/lib/ba/../ba/./state.json", want: "file /var/lib/ba/state.json"},
		{name: "relative path made absolute", location: "data/state.json", want: "file " + filepath.Join(cwd, "data/state.json")},
		{name: "relative path with colon", location: "./a:b.json", want: "file " + filepath.Join(cwd, "a:b.json")},
		{name: "file URL", location: "file:///srv/state.json", want: "file /srv/state.json"},
		{name: "file URL localhost", location: "file://localhost/srv/state.json", want: "file /srv/state.json"},
		{name: "file URL escaped", location: "file:///srv/my%20state.json", want: "file /srv/my state.json"},
		{name: "tmp serverless", location: "/tmp/backlog-alert/state.json", opts: state.Options{Serverless: true},
			want: "file /tmp/backlog-alert/state.json", ephemeral: true},
		{name: "tmp not serverless", location: "/tmp/backlog-alert/state.json", want: "file /tmp/backlog-alert/state.json"},
		{name: "tmp lookalike", location: "/tmpfs/state.json", opts: state.Options{Serverless: true}, want: "file /tmpfs/state.json"},
		{name: "var serverless", location: "/var/state.json", opts: state.Options{Serverless: true}, want: "file /var/state.json"},
		{name: "oss default region", location: "oss://my-bucket/backlog/state.json", opts: state.Options{Region: "cn-hangzhou", Credentials: creds},
			want: "oss://my-bucket/backlog/state.json (cn-hangzhou)"},
		{name: "oss query region wins", location: "oss://my-bucket/state.json?region=cn-shanghai", opts: state.Options{Region: "cn-hangzhou", Serverless: true},
			want: "oss://my-bucket/state.json (cn-shanghai)"},
		{name: "oss endpoint shown", location: "oss://my-bucket/state.json?region=cn-beijing", opts: state.Options{OSSEndpoint: "http://127.0.0.1:9000"},
			want: "oss://my-bucket/state.json (cn-beijing, endpoint http://127.0.0.1:9000)"},

		{name: "empty", location: "  ", errHas: []string{"empty location"}},
		{name: "directory", location: "/var/lib/ba/", errHas: []string{"directory"}},
		{name: "dot", location: ".", errHas: []string{"directory"}},
		{name: "tilde", location: "~/state.json", errHas: []string{"~ is not expanded"}},
		{name: "s3 scheme", location: "s3://bucket/key", errHas: []string{`"s3"`, "oss://bucket/key"}},
		{name: "http scheme", location: "https://example.com/state.json", errHas: []string{`"https"`}},
		{name: "scheme without slashes", location: "gs:bucket/key", errHas: []string{`"gs"`, "./gs:bucket/key"}},
		{name: "file URL relative", location: "file:state.json", errHas: []string{"absolute path"}},
		{name: "file URL host", location: "file://server/srv/state.json", errHas: []string{"no host"}},
		{name: "file URL query", location: "file:///srv/state.json?mode=x", errHas: []string{`"mode"`}},
		{name: "file URL directory", location: "file:///srv/", errHas: []string{"directory"}},
		{name: "oss no region", location: "oss://my-bucket/state.json", errHas: []string{"no region", "oss://my-bucket/state.json"}},
		{name: "oss no bucket", location: "oss:///state.json", opts: state.Options{Region: "cn-hangzhou"}, errHas: []string{"no bucket"}},
		{name: "oss no key", location: "oss://my-bucket", opts: state.Options{Region: "cn-hangzhou"}, errHas: []string{"no object key"}},
		{name: "oss slash key", location: "oss://my-bucket/", opts: state.Options{Region: "cn-hangzhou"}, errHas: []string{"no object key"}},
		{name: "oss dir key", location: "oss://my-bucket/backlog/", opts: state.Options{Region: "cn-hangzhou"}, errHas: []string{"directory"}},
		{name: "oss bad bucket", location: "oss://My_Bucket/state.json", opts: state.Options{Region: "cn-hangzhou"}, errHas: []string{"invalid bucket name"}},
		{name: "oss port", location: "oss://my-bucket:443/state.json", opts: state.Options{Region: "cn-hangzhou"}, errHas: []string{"port"}},
		{name: "oss opaque", location: "oss:my-bucket/state.json", opts: state.Options{Region: "cn-hangzhou"}, errHas: []string{"oss://bucket/key"}},
		{name: "oss endpoint as region", location: "oss://my-bucket/state.json?region=oss-cn-hangzhou", errHas: []string{"cn-hangzhou", "endpoint"}},
		{name: "oss bad region", location: "oss://my-bucket/state.json?region=CN_Hangzhou", errHas: []string{"invalid region"}},
		{name: "oss unknown parameter hides its value", location: "oss://my-bucket/state.json?region=cn-hangzhou&token=SuperSecretToken123",
			errHas: []string{`"token"`, "unknown query parameter"}, errHasNot: []string{"SuperSecretToken123"}},
		{name: "oss credentials in URL", location: "oss://LTAI5tKeyInURL:KeySecretInURL99@my-bucket/state.json", opts: state.Options{Region: "cn-hangzhou"},
			errHas: []string{"credentials do not belong"}, errHasNot: []string{"KeySecretInURL99", "LTAI5tKeyInURL"}},
		{name: "oss bad endpoint", location: "oss://my-bucket/state.json", opts: state.Options{Region: "cn-hangzhou", OSSEndpoint: "ftp://127.0.0.1"},
			errHas: []string{"OSS endpoint"}},
		{name: "oss endpoint with password", location: "oss://my-bucket/state.json",
			opts:   state.Options{Region: "cn-hangzhou", OSSEndpoint: "http://user:EndpointPassw0rd@127.0.0.1:9000"},
			errHas: []string{"OSS endpoint"}, errHasNot: []string{"EndpointPassw0rd"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := state.Open(tt.location, tt.opts)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("Open(%q) = %v, want an error", tt.location, st)
				}
				for _, s := range tt.errHas {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
				for _, s := range append(tt.errHasNot, creds.AccessKeySecret) {
					if strings.Contains(err.Error(), s) {
						t.Errorf("error %q leaks %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Open(%q): %v", tt.location, err)
			}
			if got := st.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if got := st.Ephemeral(); got != tt.ephemeral {
				t.Errorf("Ephemeral() = %v, want %v", got, tt.ephemeral)
			}
		})
	}
}

func TestDefaultLocation(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	tests := []struct {
		name       string
		serverless bool
		getenv     func(string) string
		want       string
		wantErr    bool
	}{
		{name: "serverless ignores XDG and HOME", serverless: true, getenv: env("XDG_STATE_HOME", "/x", "HOME", "/home/u"),
			want: "/tmp/backlog-alert/state.json"},
		{name: "serverless without HOME", serverless: true, getenv: env(), want: "/tmp/backlog-alert/state.json"},
		{name: "XDG_STATE_HOME", getenv: env("XDG_STATE_HOME", "/srv/state", "HOME", "/home/u"),
			want: "/srv/state/backlog-alert/state.json"},
		{name: "relative XDG_STATE_HOME ignored", getenv: env("XDG_STATE_HOME", "state", "HOME", "/home/u"),
			want: "/home/u/.local/state/backlog-alert/state.json"},
		{name: "HOME fallback", getenv: env("HOME", "/home/u"), want: "/home/u/.local/state/backlog-alert/state.json"},
		{name: "no HOME", getenv: env(), wantErr: true},
		{name: "relative HOME", getenv: env("HOME", "home"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := state.DefaultLocation(tt.serverless, tt.getenv)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("DefaultLocation = %q, want an error", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("DefaultLocation = %q, %v; want %q", got, err, tt.want)
			}
			st, err := state.Open(got, state.Options{Serverless: tt.serverless})
			if err != nil {
				t.Fatal(err)
			}
			if st.Ephemeral() != tt.serverless {
				t.Errorf("Open(%q).Ephemeral() = %v, want %v", got, st.Ephemeral(), tt.serverless)
			}
		})
	}

	t.Run("nil getenv reads the environment", func(t *testing.T) {
		t.Setenv("XDG_STATE_HOME", "/from/env")
		got, err := state.DefaultLocation(false, nil)
		if err != nil || got != "/from/env/backlog-alert/state.json" {
			t.Fatalf("DefaultLocation = %q, %v", got, err)
		}
	})
}

func TestRedact(t *testing.T) {
	const id, secret, token = "LTAI5tRedactKeyID01", "redact-secret-0123456789", "CAIS/redact+token=="
	tests := []struct {
		name string
		in   string
		keep string // a part that must survive
	}{
		{name: "v4 authorization header", in: "Authorization: OSS4-HMAC-SHA256 Credential=LTAIother/20260101/cn-hangzhou/oss/aliyun_v4_request,AdditionalHeaders=host,Signature=0123abcd",
			keep: "Authorization"},
		{name: "v1 authorization", in: "sent OSS LTAIother:c2lnbmF0dXJlPT0= to the server", keep: "to the server"},
		{name: "query signature", in: "GET /b/k?x-oss-signature=deadbeef&x-oss-security-token=tok%2Fen&x-oss-credential=LTAIx%2F2026 failed", keep: "failed"},
		{name: "header token", in: "x-oss-security-token: sometoken123\nnext line", keep: "next line"},
		{name: "xml echo", in: "<OSSAccessKeyId>LTAIother</OSSAccessKeyId><StringToSign>OSS4-HMAC-SHA256\n2026</StringToSign>", keep: "<OSSAccessKeyId>"},
		{name: "known values", in: "id " + id + " secret " + secret + " token " + token + " escaped " + "CAIS%2Fredact%2Btoken%3D%3D", keep: "escaped"},
	}
	leaks := []string{id, secret, token, "0123abcd", "LTAIother", "c2lnbmF0dXJlPT0", "deadbeef", "tok%2Fen", "sometoken123", "CAIS%2Fredact"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := state.Redact(tt.in, id, secret, token, "")
			for _, l := range leaks {
				if strings.Contains(got, l) {
					t.Errorf("Redact(%q) = %q: still contains %q", tt.in, got, l)
				}
			}
			if !strings.Contains(got, tt.keep) {
				t.Errorf("Redact(%q) = %q: lost %q", tt.in, got, tt.keep)
			}
		})
	}
	if got := state.Redact("ordinary text: region=cn-hangzhou", "short"); got != "ordinary text: region=cn-hangzhou" {
		t.Errorf("ordinary text changed: %q", got)
	}
}
