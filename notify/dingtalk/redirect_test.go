package dingtalk_test

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
	"github.com/backlog-alert/backlog-alert/notify/dingtalk"
	"github.com/backlog-alert/backlog-alert/rules"
)

// A redirect from the robot's URL is not followed: the other server
// receives nothing (no message, no access_token or signature in a Referer),
// the error names the status, and the post is not retried.
func TestRedirectNotFollowed(t *testing.T) {
	for _, status := range []int{http.StatusTemporaryRedirect, http.StatusFound, http.StatusMovedPermanently, http.StatusPermanentRedirect} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			var elsewhereHits, robotHits atomic.Int32
			elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				elsewhereHits.Add(1)
				fmt.Fprint(w, `{"errcode":0,"errmsg":"ok"}`)
			}))
			defer elsewhere.Close()
			robot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				robotHits.Add(1)
				io.Copy(io.Discard, r.Body)
				w.Header().Set("Location", elsewhere.URL+"/collect?"+r.URL.RawQuery)
				w.WriteHeader(status)
				fmt.Fprintf(w, `{"errcode":0,"errmsg":"moved to %s"}`, elsewhere.URL)
			}))
			defer robot.Close()

			caller := &http.Client{Timeout: 10 * time.Second}
			n := dingtalk.New(robot.URL+"/robot/send?access_token="+token, secret, nil, caller, notify.WithRetry(fast), notify.WithLimiter(nil))
			_, err := n.Notify(context.Background(), notify.Message{Items: firing(alert("g", rules.Critical, 20000)), Time: time.Now()})
			if err == nil {
				t.Fatalf("no error for a %d", status)
			}
			want := fmt.Sprintf("redirected to another location (HTTP %d): not followed", status)
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
			if strings.Contains(err.Error(), elsewhere.URL) || strings.Contains(err.Error(), token) {
				t.Errorf("error %q quotes the Location or the token", err)
			}
			if notify.Retryable(err) {
				t.Errorf("a redirect is reported retryable: %v", err)
			}
			if n := robotHits.Load(); n != 1 {
				t.Errorf("%d attempts, want 1", n)
			}
			if n := elsewhereHits.Load(); n != 0 {
				t.Errorf("the redirect was followed: %d requests to the other server", n)
			}
			if caller.CheckRedirect != nil || caller.Transport != nil {
				t.Error("New changed the caller's client")
			}
		})
	}
}
