package alikafka_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/backlog-alert/backlog-alert/progress/alikafka"
)

// These tests change the environment, so they do not run in parallel.
func TestDefaultCredentials(t *testing.T) {
	const ak, sk, token = "STS.DefaultChainKeyId", "DefaultChainSecretValue", "DefaultChainTokenValue"
	uri := func(status int, body string) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			w.Write([]byte(body))
		}))
		t.Cleanup(s.Close)
		return s.URL
	}
	full := `{"AccessKeyId":"` + ak + `","AccessKeySecret":"` + sk + `","SecurityToken":"` + token + `","Expiration":"2099-01-01T00:00:00Z"}`
	// No Expiration: the SDK rejects the reply and quotes it in its error.
	partial := `{"AccessKeyId":"` + ak + `","AccessKeySecret":"` + sk + `","SecurityToken":"` + token + `"}`

	tests := []struct {
		name string
		env  map[string]string
		want alikafka.Credentials // zero: an error is expected
	}{
		{"env with token", map[string]string{"ALIBABA_CLOUD_ACCESS_KEY_ID": ak, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": sk, "ALIBABA_CLOUD_SECURITY_TOKEN": token},
			alikafka.Credentials{AccessKeyID: ak, AccessKeySecret: sk, SecurityToken: token}},
		{"env without token", map[string]string{"ALIBABA_CLOUD_ACCESS_KEY_ID": ak, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": sk},
			alikafka.Credentials{AccessKeyID: ak, AccessKeySecret: sk}},
		{"credentials URI", map[string]string{"ALIBABA_CLOUD_CREDENTIALS_URI": uri(200, full)},
			alikafka.Credentials{AccessKeyID: ak, AccessKeySecret: sk, SecurityToken: token}},
		{"nothing", nil, alikafka.Credentials{}},
		{"credentials URI fails quoting secrets", map[string]string{"ALIBABA_CLOUD_CREDENTIALS_URI": uri(500, partial)}, alikafka.Credentials{}},
		{"credentials URI incomplete", map[string]string{"ALIBABA_CLOUD_CREDENTIALS_URI": uri(200, partial)}, alikafka.Credentials{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			got, err := alikafka.DefaultCredentials()
			if tt.want != (alikafka.Credentials{}) {
				if err != nil || got != tt.want {
					t.Fatalf("got %#v, %v; want %#v", got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, got %v", got)
			}
			t.Logf("error: %v", err)
			for _, secret := range []string{ak, sk, token} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error leaks %q: %v", secret, err)
				}
			}
		})
	}
}
