package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/notify/webhook"
	"github.com/backlog-alert/backlog-alert/notify/webhook/webhooktest"
	"github.com/backlog-alert/backlog-alert/rules"
)

func message() notify.Message {
	return notify.Message{Items: []notify.Item{item(rules.KindFiring, "g", rules.Critical, 20000)}, Time: evalTime}
}

func TestSignature(t *testing.T) {
	srv := receiver(t)
	n := notifier(srv)
	now := time.Now()
	n.Now = func() time.Time { return now }
	if _, err := n.Notify(context.Background(), message()); err != nil {
		t.Fatal(err)
	}
	got := srv.Received()[0]
	ts := got.Header.Get("X-Backlog-Alert-Timestamp")
	if ts != strconv.FormatInt(now.Unix(), 10) {
		t.Errorf("timestamp %q, want %d", ts, now.Unix())
	}
	// Exactly what the package comment says is signed.
	mac := hmac.New(sha256.New, []byte(secret))
	io.WriteString(mac, ts+"."+string(got.Body))
	sig := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if got.Header.Get("X-Backlog-Alert-Signature") != sig {
		t.Errorf("signature %q, want %q", got.Header.Get("X-Backlog-Alert-Signature"), sig)
	}

	altered := func(h http.Header, k, v string) http.Header {
		h = h.Clone()
		h.Set(k, v)
		return h
	}
	for _, tc := range []struct {
		name   string
		secret string
		header http.Header
		body   []byte
		now    time.Time
		want   error // nil: accepted
	}{
		{"as sent", secret, got.Header, got.Body, now, nil},
		{"four minutes later", secret, got.Header, got.Body, now.Add(4 * time.Minute), nil},
		{"body altered", secret, got.Header, append([]byte(" "), got.Body...), now, webhooktest.ErrBadSignature},
		{"body cut", secret, got.Header, got.Body[:len(got.Body)-1], now, webhooktest.ErrBadSignature},
		{"timestamp altered", secret, altered(got.Header, "X-Backlog-Alert-Timestamp", strconv.FormatInt(now.Unix()+1, 10)), got.Body, now, webhooktest.ErrBadSignature},
		{"replayed ten minutes later", secret, got.Header, got.Body, now.Add(10 * time.Minute), webhooktest.ErrStale},
		{"from the future", secret, got.Header, got.Body, now.Add(-10 * time.Minute), webhooktest.ErrStale},
		{"other secret", "whsec-other-000000", got.Header, got.Body, now, webhooktest.ErrBadSignature},
		{"not signed", secret, http.Header{}, got.Body, now, webhooktest.ErrUnsigned},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := webhooktest.Verify(tc.secret, tc.header, tc.body, tc.now, 5*time.Minute)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestUnsigned(t *testing.T) {
	srv := webhooktest.NewServer("")
	defer srv.Close()
	n := webhook.New(srv.URL, "", nil, nil, notify.WithLimiter(nil))
	if _, err := n.Notify(context.Background(), message()); err != nil {
		t.Fatal(err)
	}
	h := srv.Received()[0].Header
	if h.Get("X-Backlog-Alert-Timestamp") != "" || h.Get("X-Backlog-Alert-Signature") != "" {
		t.Errorf("unsigned notifier sent signature headers: %v", h)
	}
	if p := n.Preview(message()); strings.Contains(p, "X-Backlog-Alert-Signature") {
		t.Errorf("preview shows a signature:\n%s", p)
	}
}

// The receiver refuses a wrong signature or a stale timestamp with 401,
// which is not retried, and the error shows neither secret nor signature.
func TestSignatureRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		secret string
		clock  time.Duration // the notifier's clock, off by
		want   string
	}{
		{"wrong secret", "whsec-wrong-0000000", 0, "webhook: HTTP 401 Unauthorized: invalid signature: signature does not match (check the secret and the headers"},
		{"clock ten minutes slow", secret, -10 * time.Minute, "webhook: HTTP 401 Unauthorized: invalid signature: timestamp too far from now: signed at "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := receiver(t)
			n := webhook.New(srv.URL, tc.secret, map[string]string{"X-Api-Key": apiKey}, nil, notify.WithRetry(fast), notify.WithLimiter(nil))
			now := time.Now().Add(tc.clock)
			n.Now = func() time.Time { return now }
			_, err := n.Notify(context.Background(), message())
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q…", err, tc.want)
			}
			if notify.Retryable(err) || notify.Attempts(err) != 1 || srv.Attempts() != 1 {
				t.Errorf("retryable %v after %d attempts; want a permanent error after 1", notify.Retryable(err), srv.Attempts())
			}
			assertClean(t, err.Error(), tc.secret)
		})
	}
}

func TestExtraHeaders(t *testing.T) {
	srv := receiver(t)
	srv.RequireHeader("Authorization", "Bearer tok-0123456789abcdef")
	headers := map[string]string{
		"x-api-key":     apiKey,
		"Authorization": "Bearer tok-0123456789abcdef",
		// They cannot replace what the protocol sets.
		"content-type":              "text/plain",
		"X-Backlog-Alert-Signature": "sha256=00",
	}
	n := webhook.New(srv.URL+"/hook", secret, headers, nil, notify.WithRetry(fast), notify.WithLimiter(nil))
	if _, err := n.Notify(context.Background(), message()); err != nil {
		t.Fatalf("%v (receiver: %q)", err, srv.Rejected())
	}
	h := srv.Received()[0].Header
	if h.Get("X-Api-Key") != apiKey || h.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", h)
	}
	p := n.Preview(message())
	if !strings.Contains(p, "\nAuthorization: ***\n") || !strings.Contains(p, "\nX-Api-Key: ***\n") || strings.Contains(p, "text/plain") {
		t.Errorf("preview:\n%s", p)
	}
	assertClean(t, p, "tok-0123456789abcdef")

	// A receiver that echoes what it got: the error quotes its body
	// without any header value or the signature.
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, "denied: "+r.Header.Get("Authorization")+" "+r.Header.Get("X-Api-Key")+" "+r.Header.Get("X-Backlog-Alert-Signature"))
	}))
	defer echo.Close()
	n = webhook.New(echo.URL, secret, headers, nil, notify.WithRetry(fast), notify.WithLimiter(nil))
	_, err := n.Notify(context.Background(), message())
	want := "webhook: HTTP 403 Forbidden: denied: *** *** *** (check the secret and the headers the receiver expects (an API key or token))"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}

func TestRetry(t *testing.T) {
	long := strings.Repeat("x", 150) + " " + strings.Repeat("é", 100) // over 200 bytes
	for _, tc := range []struct {
		name     string
		fail     webhooktest.Failure
		attempts int
		err      string // "" for success; else the error's text
		retry    bool
	}{
		{name: "429 then ok", fail: webhooktest.Failure{Status: 429, RetryAfter: "1", Times: 1}, attempts: 2},
		{name: "503 twice then ok", fail: webhooktest.Failure{Status: 503, Times: 2}, attempts: 3},
		{name: "408 then ok", fail: webhooktest.Failure{Status: 408, Times: 1}, attempts: 2},
		{name: "202 is success", fail: webhooktest.Failure{Status: 202}, attempts: 1},
		{name: "204 is success", fail: webhooktest.Failure{Status: 204}, attempts: 1},
		{name: "500 forever", fail: webhooktest.Failure{Status: 500, Body: "boom"}, attempts: 4,
			err: "webhook: HTTP 500 Internal Server Error: boom; gave up after 4 attempts", retry: true},
		{name: "400", fail: webhooktest.Failure{Status: 400, Body: "bad\n  document"}, attempts: 1,
			err: "webhook: HTTP 400 Bad Request: bad document (the receiver refused the document: check that it reads version 1 of backlog-alert's webhook document)"},
		{name: "404", fail: webhooktest.Failure{Status: 404}, attempts: 1,
			err: "webhook: HTTP 404 Not Found (check the url: the receiver has no such endpoint)"},
		{name: "413", fail: webhooktest.Failure{Status: 413, Body: "too big"}, attempts: 1,
			err: "webhook: HTTP 413 Request Entity Too Large: too big (the receiver takes less than the 1 MiB a document may be)"},
		{name: "422 with a long body", fail: webhooktest.Failure{Status: 422, Body: long}, attempts: 1,
			err: "webhook: HTTP 422 Unprocessable Entity: " + strings.Repeat("x", 150) + " " + strings.Repeat("é", 24) + " (the receiver refused"},
		{name: "429 ignored on a 4xx", fail: webhooktest.Failure{Status: 418, RetryAfter: "1"}, attempts: 1,
			err: "webhook: HTTP 418 I'm a teapot"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := receiver(t)
			srv.Fail(tc.fail)
			_, err := notifier(srv, notify.WithLimiter(notify.NewLimiter())).Notify(context.Background(), message())
			if got := srv.Attempts(); got != tc.attempts {
				t.Errorf("receiver saw %d attempts, want %d", got, tc.attempts)
			}
			if tc.err == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
				t.Fatalf("err = %v\nwant %q…", err, tc.err)
			}
			if notify.Attempts(err) != tc.attempts || notify.Retryable(err) != tc.retry {
				t.Errorf("Attempts = %d, Retryable = %v; want %d, %v", notify.Attempts(err), notify.Retryable(err), tc.attempts, tc.retry)
			}
			if he, ok := errors.AsType[*notify.HTTPError](err); !ok || he.Service != "webhook" || len(he.Message) > 200 {
				t.Errorf("HTTPError %+v", he)
			}
			assertClean(t, err.Error())
		})
	}
}

// A 429's Retry-After is honoured: it is in the error, and the Limiter
// holds every later post to the URL until then.
func TestRetryAfter(t *testing.T) {
	srv := receiver(t)
	srv.Fail(webhooktest.Failure{Status: 429, RetryAfter: "120"})
	lim := notify.NewLimiter()
	_, err := notifier(srv, notify.WithRetry(notify.NoRetry), notify.WithLimiter(lim)).Notify(context.Background(), message())
	if he, ok := errors.AsType[*notify.HTTPError](err); !ok || he.RetryAfter != 2*time.Minute || !notify.Retryable(err) ||
		err.Error() != "webhook: HTTP 429 Too Many Requests (retry after 2m0s)" {
		t.Fatalf("err = %v", err)
	}
	srv.Fail(webhooktest.Failure{})
	_, err = notifier(srv, notify.WithLimiter(lim)).Notify(context.Background(), message())
	if _, ok := errors.AsType[*notify.LimitError](err); !ok || !strings.HasPrefix(err.Error(), "webhook: not sent: the webhook asked for a pause (HTTP 429) that ends in ") {
		t.Errorf("err = %v", err)
	}
	if srv.Attempts() != 1 {
		t.Errorf("receiver saw %d attempts, want 1", srv.Attempts())
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	elsewhere := webhooktest.NewServer("")
	defer elsewhere.Close()
	for _, status := range []int{301, 302, 303, 307, 308} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			srv := receiver(t)
			srv.Fail(webhooktest.Failure{Status: status, Location: elsewhere.URL + "/collect?token=tok-redirect-123"})
			client := &http.Client{}
			n := webhook.New(srv.URL+"/hook", secret, map[string]string{"X-Api-Key": apiKey}, client, notify.WithRetry(fast), notify.WithLimiter(nil))
			_, err := n.Notify(context.Background(), message())
			want := "webhook: HTTP " + strconv.Itoa(status) + " " + http.StatusText(status) + ": to " + elsewhere.URL +
				"/collect?token=***, not followed (the document and its signature would go to another address: set url to the final one)"
			if err == nil || err.Error() != want {
				t.Errorf("err = %v\nwant %s", err, want)
			}
			if notify.Retryable(err) || srv.Attempts() != 1 {
				t.Errorf("retryable %v after %d attempts", notify.Retryable(err), srv.Attempts())
			}
			if client.CheckRedirect != nil {
				t.Error("New changed the caller's client")
			}
		})
	}
	if elsewhere.Attempts() != 0 {
		t.Errorf("the redirect was followed %d times", elsewhere.Attempts())
	}
}

// No credential reaches an error: not the URL's token (path or query),
// user info, the secret, the signature or a header value.
func TestNoSecretInErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	hook := "http://bot:pw-0123456789@" + addr + "/hooks/T0KEN0123456789/alert?key=qk-0123456789"
	n := webhook.New(hook, secret, map[string]string{"Authorization": "Bearer tok-0123456789abcdef", "X-Api-Key": apiKey}, nil,
		notify.WithRetry(fast), notify.WithLimiter(nil))
	fixed := time.Now()
	n.Now = func() time.Time { return fixed }
	_, err = n.Notify(context.Background(), message())
	if err == nil || !notify.Retryable(err) || !strings.HasSuffix(err.Error(), "; gave up after 4 attempts") {
		t.Fatalf("err = %v, want a retryable transport error", err)
	}
	if !strings.Contains(err.Error(), "http://"+addr+"/hooks/***") {
		t.Errorf("err = %v, want the redacted URL", err)
	}
	assertClean(t, err.Error(), "pw-0123456789", "T0KEN0123456789", "qk-0123456789", "tok-0123456789abcdef", "alert?key")
	p := n.Preview(message())
	if !strings.HasPrefix(p, "POST http://"+addr+"/hooks/***?key=***\n") {
		t.Errorf("preview:\n%s", p)
	}
	assertClean(t, p, "pw-0123456789", "T0KEN0123456789", "qk-0123456789", "tok-0123456789abcdef")

	// A header net/http cannot send: a permanent error, without its value.
	bad := webhook.New("http://"+addr+"/hook", "", map[string]string{"X-Api-Key": apiKey + "\r\nX-Injected: 1"}, nil,
		notify.WithRetry(fast), notify.WithLimiter(nil))
	_, err = bad.Notify(context.Background(), message())
	if err == nil || notify.Retryable(err) || notify.Attempts(err) != 1 ||
		err.Error() != `webhook: request failed (check the headers): header "X-Api-Key": not a valid header name and value` {
		t.Errorf("err = %v, want a permanent error", err)
	}

	// URLs that cannot be posted to: a permanent error, without the URL.
	for _, u := range []string{"http://[::1" + secret, "ftp://" + secret + "@127.0.0.1/", "", "/hooks/" + secret} {
		_, err = webhook.New(u, "", nil, nil, notify.WithRetry(fast), notify.WithLimiter(nil)).Notify(context.Background(), message())
		if err == nil || notify.Retryable(err) || !strings.HasPrefix(err.Error(), "webhook: request failed (check the url): ") {
			t.Errorf("%q: err = %v, want a permanent error", u, err)
		} else {
			assertClean(t, err.Error())
		}
	}
}

// Posts to one URL are paced at Notifier.Limit: with no time to wait for a
// slot, a post over the limit is refused by the Limiter, not sent.
func TestPacing(t *testing.T) {
	if webhook.New("http://127.0.0.1/", "", nil, nil).Limit != (notify.Limit{Events: 10, Per: time.Second}) || webhook.DefaultLimit.Events != 10 {
		t.Errorf("default limit %v, want 10 a second", webhook.DefaultLimit)
	}
	srv := receiver(t)
	impatient := fast
	impatient.MaxWait = time.Nanosecond
	lim := notify.NewLimiter()
	n := notifier(srv, notify.WithRetry(impatient), notify.WithLimiter(lim))
	n.Limit = notify.Limit{Events: 3, Per: time.Minute}
	for i := range 3 {
		if _, err := n.Notify(context.Background(), message()); err != nil {
			t.Fatalf("message %d: %v", i+1, err)
		}
	}
	_, err := n.Notify(context.Background(), message())
	if _, ok := errors.AsType[*notify.LimitError](err); !ok ||
		!strings.HasPrefix(err.Error(), "webhook: not sent: the webhook's rate limit (3 messages per 1m0s) leaves no slot for ") || !notify.Retryable(err) {
		t.Errorf("4th message: err = %v", err)
	}
	if srv.Attempts() != 3 {
		t.Errorf("receiver saw %d attempts, want 3", srv.Attempts())
	}
	// Another URL is not held up.
	other := webhook.New(srv.URL+"/other", secret, map[string]string{"X-Api-Key": apiKey}, nil, notify.WithRetry(impatient), notify.WithLimiter(lim))
	other.Limit = n.Limit
	if _, err := other.Notify(context.Background(), message()); err != nil {
		t.Errorf("other URL: %v", err)
	}
}
