package alikafka_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/progress/alikafka"
)

// A redirect from the endpoint is never followed: the server it points to
// receives nothing (the signed request carries the AccessKeyId, the
// Signature and the SecurityToken), and the call fails with an error that
// names the status and is not retried.
func TestRedirectNotFollowed(t *testing.T) {
	for _, status := range []int{http.StatusTemporaryRedirect, http.StatusFound, http.StatusMovedPermanently, http.StatusPermanentRedirect, http.StatusSeeOther} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			var elsewhereHits, originHits atomic.Int32
			elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				elsewhereHits.Add(1)
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, `{"Success":true,"Code":200,"ConsumerList":[]}`)
			}))
			defer elsewhere.Close()
			origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				originHits.Add(1)
				w.Header().Set("Location", elsewhere.URL+r.URL.RequestURI())
				w.WriteHeader(status)
				fmt.Fprintf(w, "moved to %s%s", elsewhere.URL, r.URL.RequestURI())
			}))
			defer origin.Close()

			c := newClient(t, "cn-hangzhou", alikafka.Config{Credentials: testCreds, Endpoint: origin.URL, Timeout: 5 * time.Second})
			defer c.CloseIdleConnections()
			_, perr := c.Progress("i1", "g1")
			_, lerr := c.ListGroups("i1")
			for name, err := range map[string]error{"Progress": perr, "ListGroups": lerr} {
				if err == nil {
					t.Fatalf("%s: no error for a %d", name, status)
				}
				msg := err.Error()
				if want := fmt.Sprintf("redirected to another location (HTTP %d): not followed", status); !strings.Contains(msg, want) {
					t.Errorf("%s: error %q does not contain %q", name, msg, want)
				}
				if strings.Contains(msg, elsewhere.URL) {
					t.Errorf("%s: error %q quotes the Location", name, msg)
				}
				for _, v := range []string{testCreds.AccessKeyID, testCreds.AccessKeySecret, testCreds.SecurityToken} {
					if strings.Contains(msg, v) {
						t.Errorf("%s: error %q leaks a credential", name, msg)
					}
				}
				if cl := alikafka.Classify(err); cl != alikafka.Permanent {
					t.Errorf("%s: a redirect is %v, want permanent", name, cl)
				}
			}
			if n := elsewhereHits.Load(); n != 0 {
				t.Errorf("the redirect was followed: %d requests to the other server", n)
			}
			if n := originHits.Load(); n != 2 {
				t.Errorf("%d requests to the endpoint, want 2 (one per call)", n)
			}
		})
	}
}
