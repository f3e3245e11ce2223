package alertmanager_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/internal/closedport"
	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/notify/alertmanager"
	"github.com/backlog-alert/backlog-alert/notify/alertmanager/amtest"
	"github.com/backlog-alert/backlog-alert/rules"
)

func message() notify.Message {
	now := time.Now()
	return notify.Message{Time: now, Items: []notify.Item{item(rules.KindFiring, alert("orders", rules.Backlog, rules.Critical), now)}}
}

// assertClean fails when err's text holds a credential.
func assertClean(t *testing.T, err error) {
	t.Helper()
	for _, s := range []string{token, password} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error contains a credential %q: %v", s, err)
		}
	}
}

func TestAuth(t *testing.T) {
	for _, tc := range []struct {
		name    string
		require func(*amtest.Server)
		auth    alertmanager.Auth
		err     string // "" for success
	}{
		{name: "none needed", require: func(*amtest.Server) {}},
		{name: "bearer", require: func(s *amtest.Server) { s.RequireBearer(token) }, auth: alertmanager.Auth{BearerToken: token}},
		{name: "basic", require: func(s *amtest.Server) { s.RequireBasic(user, password) }, auth: alertmanager.Auth{Username: user, Password: password}},
		{name: "wrong bearer", require: func(s *amtest.Server) { s.RequireBearer("another-token-123") }, auth: alertmanager.Auth{BearerToken: token},
			err: "alertmanager: HTTP 401 Unauthorized: Unauthorized (Alertmanager (or the proxy in front of it) refused the credentials: check bearer_token or basic_auth)"},
		{name: "wrong password", require: func(s *amtest.Server) { s.RequireBasic(user, "another-pass-123") }, auth: alertmanager.Auth{Username: user, Password: password},
			err: "HTTP 401 Unauthorized: Unauthorized (Alertmanager (or the proxy in front of it) refused the credentials"},
		{name: "basic where bearer is wanted", require: func(s *amtest.Server) { s.RequireBearer(token) }, auth: alertmanager.Auth{Username: user, Password: password},
			err: "HTTP 401"},
		{name: "missing", require: func(s *amtest.Server) { s.RequireBasic(user, password) },
			err: "HTTP 401 Unauthorized: Unauthorized (Alertmanager (or the proxy in front of it) wants credentials: set bearer_token or basic_auth)"},
		{name: "forbidden", require: func(s *amtest.Server) { s.Fail(amtest.Failure{Status: 403, Body: "RBAC: access denied"}) }, auth: alertmanager.Auth{BearerToken: token},
			err: "HTTP 403 Forbidden: RBAC: access denied (the credentials may not post alerts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := amtest.NewServer()
			defer s.Close()
			tc.require(s)
			_, err := newNotifier(s, tc.auth).Notify(context.Background(), message())
			if tc.err == "" {
				if err != nil || len(s.Stored()) != 1 {
					t.Fatalf("err = %v, stored %d", err, len(s.Stored()))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
			if len(s.Received()) != 1 || notify.Retryable(err) || notify.Attempts(err) != 1 {
				t.Errorf("%d requests, retryable %v; want 1, not retried", len(s.Received()), notify.Retryable(err))
			}
			assertClean(t, err)
		})
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		fail     amtest.Failure
		attempts int
		err      string // "" for success; else a substring
		retry    bool
	}{
		{name: "503 then ok", fail: amtest.Failure{Status: 503, Times: 1}, attempts: 2},
		{name: "500 twice then ok", fail: amtest.Failure{Status: 500, Body: `"failed to create alerts"`, Times: 2}, attempts: 3},
		{name: "429 with Retry-After then ok", fail: amtest.Failure{Status: 429, RetryAfter: 1, Times: 1}, attempts: 2},
		{name: "503 forever", fail: amtest.Failure{Status: 503}, attempts: 4,
			err: "alertmanager: HTTP 503 Service Unavailable: Service Unavailable; gave up after 4 attempts", retry: true},
		{name: "400 is not retried", fail: amtest.Failure{Status: 400, Body: `"start time must be before end time; invalid label set: invalid name \"x-y\""` + "\n"}, attempts: 1,
			err: `alertmanager: HTTP 400 Bad Request: start time must be before end time; invalid label set: invalid name "x-y" (Alertmanager refused the alerts as invalid)`},
		{name: "422 is not retried", fail: amtest.Failure{Status: 422, Body: `{"code":602,"message":"0.labels in body is required"}`}, attempts: 1,
			err: "alertmanager: HTTP 422 Unprocessable Entity: 0.labels in body is required (Alertmanager refused the alerts as invalid)"},
		{name: "400 echoing a secret", fail: amtest.Failure{Status: 400, Body: `"bad token ` + token + `"`}, attempts: 1,
			err: "HTTP 400 Bad Request: bad token ***"},
		{name: "404", fail: amtest.Failure{Status: 404, Body: "404 page not found"}, attempts: 1,
			err: "HTTP 404 Not Found: 404 page not found (no Alertmanager API v2 at this url"},
		{name: "302 is not followed", fail: amtest.Failure{Status: 302, Location: "https://sso.example.com/login?token=abc"}, attempts: 1,
			err: "alertmanager: HTTP 302 Found: redirected to https://sso.example.com/login?token=*** (redirects are not followed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := amtest.NewServer()
			defer s.Close()
			s.RequireBearer(token)
			s.Fail(tc.fail)
			_, err := newNotifier(s, alertmanager.Auth{BearerToken: token}).Notify(context.Background(), message())
			if got := len(s.Received()); got != tc.attempts {
				t.Errorf("server saw %d requests, want %d", got, tc.attempts)
			}
			if tc.err == "" {
				if err != nil || len(s.Alerts(time.Now())) != 1 {
					t.Fatalf("err = %v, firing %d; want delivered", err, len(s.Alerts(time.Now())))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v\nwant %q", err, tc.err)
			}
			if _, ok := errors.AsType[*notify.DeliveryError](err); !ok {
				t.Errorf("err is a %T", err)
			}
			if notify.Attempts(err) != tc.attempts || notify.Retryable(err) != tc.retry {
				t.Errorf("Attempts = %d, Retryable = %v; want %d, %v", notify.Attempts(err), notify.Retryable(err), tc.attempts, tc.retry)
			}
			assertClean(t, err)
		})
	}
}

// A redirect is reported, never followed: the server it points to is not
// asked, and the credentials stay where they were meant to go.
func TestRedirectNotFollowed(t *testing.T) {
	var hits atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer elsewhere.Close()
	s := amtest.NewServer()
	defer s.Close()
	s.Fail(amtest.Failure{Status: 307, Location: elsewhere.URL + "/api/v2/alerts"})
	_, err := newNotifier(s, alertmanager.Auth{BearerToken: token}).Notify(context.Background(), message())
	if err == nil || !strings.Contains(err.Error(), "HTTP 307 Temporary Redirect: redirected to "+elsewhere.URL+"/api/***") || notify.Retryable(err) {
		t.Errorf("err = %v", err)
	}
	if hits.Load() != 0 {
		t.Errorf("the redirect was followed")
	}
}

// The password in the URL itself (http://user:pass@host) stays out of
// errors too.
func TestTransportError(t *testing.T) {
	base := strings.Replace(closedport.URL(t), "http://", "http://"+user+":"+password+"@", 1)
	_, err := alertmanager.New(base, alertmanager.Auth{BearerToken: token}, 0, nil, notify.WithRetry(notify.NoRetry), notify.WithLimiter(nil)).
		Notify(context.Background(), message())
	if err == nil || !strings.Contains(err.Error(), "alertmanager: request failed: ") || !notify.Retryable(err) {
		t.Fatalf("err = %v", err)
	}
	assertClean(t, err)
}

// More than MaxAlerts alerts go in several posts; the receipt lists the
// items of those Alertmanager accepted. A post refused as invalid does not
// stop the next; a refusal that would repeat (credentials) does.
func TestChunks(t *testing.T) {
	now := time.Now()
	const items, ongoing = 1500, 800 // 2,300 alerts: 1000, 1000, 300
	m := notify.Message{Time: now}
	for i := range items {
		m.Items = append(m.Items, item(rules.KindFiring, alert(fmt.Sprintf("g%04d", i), rules.Backlog, rules.Warning), now))
	}
	for i := range ongoing {
		m.Ongoing = append(m.Ongoing, item("", alert(fmt.Sprintf("o%04d", i), rules.Backlog, rules.Warning), now))
	}
	keys := notify.All(m).Accepted

	t.Run("all accepted", func(t *testing.T) {
		s := amtest.NewServer()
		defer s.Close()
		receipt, err := newNotifier(s, alertmanager.Auth{}).Notify(context.Background(), m)
		if err != nil || len(receipt.Accepted) != items {
			t.Fatalf("err %v, %d accepted", err, len(receipt.Accepted))
		}
		var sizes []int
		for _, p := range s.Received() {
			sizes = append(sizes, len(decode(t, p)))
		}
		if fmt.Sprint(sizes) != "[1000 1000 300]" || len(s.Stored()) != items+ongoing {
			t.Errorf("posts of %v alerts, %d stored", sizes, len(s.Stored()))
		}
	})
	t.Run("second refused as invalid", func(t *testing.T) {
		s := amtest.NewServer()
		defer s.Close()
		s.Fail(amtest.Failure{Status: 400, Body: `"invalid"`, After: 1, Times: 1})
		receipt, err := newNotifier(s, alertmanager.Auth{}).Notify(context.Background(), m)
		if err == nil || !strings.Contains(err.Error(), "HTTP 400") {
			t.Fatalf("err = %v", err)
		}
		// Items 0-999 went in the first post, 1000-1499 in the second
		// (with 500 ongoing), the third held only ongoing alerts.
		if want := keys[:1000]; fmt.Sprint(receipt.Accepted) != fmt.Sprint(want) {
			t.Errorf("accepted %d items, want the first 1000", len(receipt.Accepted))
		}
		if len(s.Received()) != 3 {
			t.Errorf("%d posts, want 3: an invalid post does not stop the next", len(s.Received()))
		}
	})
	t.Run("credentials refused", func(t *testing.T) {
		s := amtest.NewServer()
		defer s.Close()
		s.Fail(amtest.Failure{Status: 401, After: 1})
		receipt, err := newNotifier(s, alertmanager.Auth{}).Notify(context.Background(), m)
		if err == nil || len(receipt.Accepted) != 1000 || len(s.Received()) != 2 {
			t.Errorf("err %v, %d accepted, %d posts; want 1000 accepted and no third post", err, len(receipt.Accepted), len(s.Received()))
		}
	})
}

// Posts to one Alertmanager are paced at Limit; another is not held up.
func TestPacing(t *testing.T) {
	s := amtest.NewServer()
	defer s.Close()
	lim := notify.NewLimiter()
	impatient := fast
	impatient.MaxWait = time.Nanosecond
	n := alertmanager.New(s.URL, alertmanager.Auth{}, 0, nil, notify.WithRetry(impatient), notify.WithLimiter(lim))
	m := message()
	// The first Limit.Events posts go at once, whatever the machine's
	// speed; the window then refuses one, unless posting took so long
	// that it had moved on.
	var refused error
	sent := 0
	for range 1000 {
		if _, err := n.Notify(context.Background(), m); err != nil {
			refused = err
			break
		}
		sent++
	}
	if sent < alertmanager.Limit.Events {
		t.Fatalf("only %d posts went before %v", sent, refused)
	}
	le, ok := errors.AsType[*notify.LimitError](refused)
	if !ok || le.Limit != alertmanager.Limit || !strings.HasPrefix(refused.Error(), "alertmanager: not sent: the webhook's rate limit (10 messages per 1s)") {
		t.Fatalf("err = %v, want a LimitError", refused)
	}
	if !notify.Retryable(refused) || len(s.Received()) != sent {
		t.Errorf("retryable %v; server saw %d posts, %d sent", notify.Retryable(refused), len(s.Received()), sent)
	}
	other := amtest.NewServer()
	defer other.Close()
	if _, err := alertmanager.New(other.URL, alertmanager.Auth{}, 0, nil, notify.WithRetry(impatient), notify.WithLimiter(lim)).
		Notify(context.Background(), m); err != nil {
		t.Errorf("another Alertmanager: %v", err)
	}
}
