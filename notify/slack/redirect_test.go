package slack_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/notify/slack"
	"github.com/backlog-alert/backlog-alert/rules"
)

const hookPath = "/services/T0SEKRIT1/B0SEKRIT2/sekritWebhookToken42"

// A redirect from the webhook is not followed: the other server receives
// nothing (no message, no webhook path in a Referer), the error names the
// status, and the post is not retried.
func TestRedirectNotFollowed(t *testing.T) {
	for _, status := range []int{http.StatusTemporaryRedirect, http.StatusFound, http.StatusMovedPermanently, http.StatusPermanentRedirect} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			var elsewhereHits, hookHits atomic.Int32
			elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				elsewhereHits.Add(1)
				fmt.Fprint(w, "ok")
			}))
			defer elsewhere.Close()
			hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hookHits.Add(1)
				io.Copy(io.Discard, r.Body)
				http.Redirect(w, r, elsewhere.URL+"/collect", status)
			}))
			defer hook.Close()

			// The caller's client follows redirects; New's copy must not,
			// and the caller's is left as it was.
			caller := &http.Client{Timeout: 10 * time.Second}
			n := slack.New(hook.URL+hookPath, caller, notify.WithRetry(fast), notify.WithLimiter(nil))
			_, err := n.Notify(context.Background(), notify.Message{Items: firing(alert("g", rules.Critical, 20000)), Time: evalTime})
			if err == nil {
				t.Fatalf("no error for a %d", status)
			}
			want := fmt.Sprintf("redirected to another location (HTTP %d): not followed", status)
			if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "sekrit") {
				t.Errorf("error %q: want it to contain %q and no part of the webhook's path", err, want)
			}
			if notify.Retryable(err) {
				t.Errorf("a redirect is reported retryable: %v", err)
			}
			if n := hookHits.Load(); n != 1 {
				t.Errorf("%d attempts, want 1", n)
			}
			if n := elsewhereHits.Load(); n != 0 {
				t.Errorf("the redirect was followed: %d requests to the other server", n)
			}
			if caller.CheckRedirect != nil {
				t.Error("New changed the caller's client")
			}
		})
	}
}

// Slack's error page may echo the webhook's path, whole or in part: the
// error keeps none of it.
func TestErrorBodyEchoingPathIsScrubbed(t *testing.T) {
	segments := strings.Split(strings.TrimPrefix(hookPath, "/"), "/")[1:] // the secret ones
	for name, body := range map[string]string{
		"whole path":     "no_service: " + hookPath,
		"whole URL":      "no_service at http://hooks.example" + hookPath,
		"segments":       "no_service: team " + segments[0] + ", bot " + segments[1] + ", token " + segments[2],
		"escaped path":   "no_service: " + strings.ReplaceAll(hookPath, "/", "%2F"),
		"path, no slash": "no_service: " + strings.TrimPrefix(hookPath, "/"),
	} {
		t.Run(name, func(t *testing.T) {
			hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.WriteHeader(http.StatusNotFound)
				io.WriteString(w, body)
			}))
			defer hook.Close()
			n := slack.New(hook.URL+hookPath, nil, notify.WithRetry(fast), notify.WithLimiter(nil))
			_, err := n.Notify(context.Background(), notify.Message{Items: firing(alert("g", rules.Critical, 20000)), Time: evalTime})
			if err == nil || !strings.Contains(err.Error(), "HTTP 404") || !strings.Contains(err.Error(), "no_service") {
				t.Fatalf("err = %v, want the 404 and Slack's code", err)
			}
			for _, seg := range segments {
				if strings.Contains(err.Error(), seg) {
					t.Errorf("error %q contains the webhook path's segment %q", err, seg)
				}
			}
		})
	}
}
