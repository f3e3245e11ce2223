package wecom_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/notify/wecom"
	"github.com/backlog-alert/backlog-alert/notify/wecom/wecomtest"
	"github.com/backlog-alert/backlog-alert/rules"
)

// How each failure reads and whether it is worth retrying, one attempt
// each; retries are TestRetry's.
func TestErrors(t *testing.T) {
	m := notify.Message{Items: firing(alert("g", rules.Critical, 20000))}
	for _, tc := range []struct {
		name       string
		wrongKey   bool
		fail       wecomtest.Failure
		text       string // a substring of the error
		retry      bool
		retryAfter time.Duration
	}{
		{name: "wrong key", wrongKey: true,
			text: "wecom: errcode 93000: invalid webhook url, hint: ["},
		{name: "robot removed", fail: wecomtest.Failure{Errcode: 93000},
			text: "from ip: 127.0.0.1, more info at https://open.work.weixin.qq.com/devtool/query?e=*** (the webhook key is wrong or the robot was removed from its group: copy the robot's webhook URL again)"},
		{name: "too long", fail: wecomtest.Failure{Errcode: 40058, Errmsg: "markdown.content exceed max length 4096. invalid Request Parameter"},
			text: "wecom: errcode 40058: markdown.content exceed max length 4096. invalid Request Parameter (message over 4096 bytes)"},
		{name: "too fast", fail: wecomtest.Failure{Errcode: 45009, Errmsg: "api freq out of limit"},
			text: "wecom: errcode 45009: api freq out of limit (over 20 messages per minute for this robot)", retry: true},
		{name: "concurrent", fail: wecomtest.Failure{Errcode: 45033, Errmsg: "api concurrent out of limit"},
			text: "wecom: errcode 45033: api concurrent out of limit (WeCom is busy)", retry: true},
		{name: "busy", fail: wecomtest.Failure{Errcode: -1, Errmsg: "system busy"}, text: "wecom: errcode -1: system busy (WeCom is busy)", retry: true},
		{name: "bad type", fail: wecomtest.Failure{Errcode: 40008}, text: "wecom: errcode 40008: invalid message type, hint: ["},
		{name: "unknown errcode", fail: wecomtest.Failure{Errcode: 60020, Errmsg: "not allow to access from your ip"},
			text: "wecom: errcode 60020: not allow to access from your ip"},
		{name: "errmsg echoes the key", fail: wecomtest.Failure{Errcode: 93000, Errmsg: "invalid webhook url: key " + key},
			text: "wecom: errcode 93000: invalid webhook url: key *** (the webhook key"},
		{name: "bad gateway", fail: wecomtest.Failure{Status: 502, Body: "upstream down"}, text: "wecom: HTTP 502 upstream down", retry: true},
		{name: "429", fail: wecomtest.Failure{Status: 429, RetryAfter: 7}, text: "wecom: HTTP 429 Too Many Requests (retry after 7s)", retry: true, retryAfter: 7 * time.Second},
		{name: "not json", fail: wecomtest.Failure{Status: 200, Body: "<html>proxy login</html>"}, text: "wecom: unexpected reply: <html>proxy login</html>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := wecomtest.NewServer()
			defer srv.Close()
			u := srv.WebhookURL(key)
			if tc.wrongKey {
				u = strings.Replace(u, key, key+"x", 1) // never handed out
			}
			srv.Fail(key, tc.fail)
			_, err := wecom.New(u, nil, nil, notify.WithRetry(notify.NoRetry), notify.WithLimiter(nil)).Notify(context.Background(), m)
			if err == nil || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("err = %v\nwant %q", err, tc.text)
			}
			assertClean(t, err)
			he, ok := errors.AsType[*notify.HTTPError](err)
			if !ok || he.Retry != tc.retry || notify.Retryable(err) != tc.retry || he.RetryAfter != tc.retryAfter {
				t.Errorf("HTTPError %+v, want retry %v after %v", he, tc.retry, tc.retryAfter)
			}
			if _, ok := errors.AsType[*notify.DeliveryError](err); !ok {
				t.Errorf("err is %T, want a *notify.DeliveryError", err)
			}
		})
	}
}

func TestRetry(t *testing.T) {
	m := notify.Message{Items: firing(alert("g", rules.Critical, 20000)), Time: evalTime}
	for _, tc := range []struct {
		name     string
		fail     wecomtest.Failure
		wrongKey bool
		attempts int
		err      string // "" for success; else a substring
		retry    bool
	}{
		{name: "too fast twice then ok", fail: wecomtest.Failure{Errcode: 45009, Times: 2}, attempts: 3},
		{name: "concurrent then ok", fail: wecomtest.Failure{Errcode: 45033, Times: 1}, attempts: 2},
		{name: "busy then ok", fail: wecomtest.Failure{Errcode: -1, Times: 1}, attempts: 2},
		{name: "502 then ok", fail: wecomtest.Failure{Status: 502, Times: 1}, attempts: 2},
		{name: "too fast forever", fail: wecomtest.Failure{Errcode: 45009, Errmsg: "api freq out of limit"}, attempts: 4,
			err: "wecom: errcode 45009: api freq out of limit (over 20 messages per minute for this robot); gave up after 4 attempts", retry: true},
		{name: "invalid webhook url", fail: wecomtest.Failure{Errcode: 93000}, attempts: 1,
			err: "(the webhook key is wrong or the robot was removed from its group"},
		{name: "wrong key", wrongKey: true, attempts: 1, err: "wecom: errcode 93000: invalid webhook url"},
		{name: "too long", fail: wecomtest.Failure{Errcode: 40058}, attempts: 1, err: "(message over 4096 bytes)"},
		{name: "unknown errcode", fail: wecomtest.Failure{Errcode: 60020, Errmsg: "not allow"}, attempts: 1, err: "wecom: errcode 60020: not allow"},
		{name: "400", fail: wecomtest.Failure{Status: 400, Body: "bad request"}, attempts: 1, err: "wecom: HTTP 400 bad request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := wecomtest.NewServer()
			defer srv.Close()
			hook, attemptsKey := srv.WebhookURL(key), key
			if tc.wrongKey {
				attemptsKey = key + "x"
				hook = strings.Replace(hook, key, attemptsKey, 1)
			}
			if tc.fail != (wecomtest.Failure{}) {
				srv.Fail(key, tc.fail)
			}
			var waits []time.Duration
			policy := fast
			policy.OnRetry = func(_ int, _ error, wait time.Duration) { waits = append(waits, wait) }
			_, err := wecom.New(hook, nil, nil, notify.WithRetry(policy), notify.WithLimiter(notify.NewLimiter())).Notify(context.Background(), m)
			if got := srv.Attempts(attemptsKey); got != tc.attempts {
				t.Errorf("server saw %d attempts, want %d", got, tc.attempts)
			}
			// Each retry waited first: backed off, not hammered.
			if len(waits) != tc.attempts-1 || (len(waits) > 0 && waits[0] <= 0) {
				t.Errorf("waits before retries: %v, want %d positive ones", waits, tc.attempts-1)
			}
			if tc.err == "" {
				if err != nil || len(srv.Received()) != 1 {
					t.Fatalf("err = %v, received %d; want delivered once", err, len(srv.Received()))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
			if tc.attempts == 1 && strings.Contains(err.Error(), "attempt") {
				t.Errorf("a permanent error on the first attempt should read as itself: %v", err)
			}
			if notify.Attempts(err) != tc.attempts || notify.Retryable(err) != tc.retry {
				t.Errorf("Attempts = %d, Retryable = %v; want %d, %v", notify.Attempts(err), notify.Retryable(err), tc.attempts, tc.retry)
			}
			assertClean(t, err)
		})
	}
}

// At most 20 messages a minute per robot: the Limiter holds the 21st back,
// and the fake, like WeCom, answers 45009 to a sender that does not pace.
func TestTwentyPerMinute(t *testing.T) {
	m := notify.Message{Items: firing(alert("g", rules.Warning, 20000)), Time: evalTime}

	t.Run("paced", func(t *testing.T) {
		srv := wecomtest.NewServer()
		defer srv.Close()
		lim := notify.NewLimiter()
		// The first 20 go at once: a Notifier that may not wait for a slot
		// at all sends them all.
		impatient := fast
		impatient.MaxWait = time.Nanosecond
		burst := wecom.New(srv.WebhookURL(key), nil, nil, notify.WithRetry(impatient), notify.WithLimiter(lim))
		for i := range 20 {
			if _, err := burst.Notify(context.Background(), m); err != nil {
				t.Fatalf("message %d: %v", i+1, err)
			}
		}
		// The 21st's slot is a minute away, past its deadline: refused at
		// once by the limiter, without a request.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := wecom.New(srv.WebhookURL(key), nil, nil, notify.WithRetry(fast), notify.WithLimiter(lim)).Notify(ctx, m)
		if _, ok := errors.AsType[*notify.LimitError](err); !ok ||
			!strings.HasPrefix(err.Error(), "wecom: not sent: the webhook's rate limit (20 messages per 1m0s) leaves no slot for ") {
			t.Errorf("21st message: err = %v", err)
		}
		if srv.Attempts(key) != 20 || !notify.Retryable(err) {
			t.Errorf("server saw %d attempts, want 20; retryable %v", srv.Attempts(key), notify.Retryable(err))
		}
		// Another robot is not held up.
		other := wecom.New(srv.WebhookURL("other"), nil, nil, notify.WithRetry(impatient), notify.WithLimiter(lim))
		if _, err := other.Notify(context.Background(), m); err != nil {
			t.Errorf("other robot: %v", err)
		}
	})

	t.Run("not paced", func(t *testing.T) {
		srv := wecomtest.NewServer()
		defer srv.Close()
		now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
		srv.SetClock(func() time.Time { return now })
		n := wecom.New(srv.WebhookURL(key), nil, nil, notify.WithRetry(notify.NoRetry), notify.WithLimiter(nil))
		for i := range 20 {
			if _, err := n.Notify(context.Background(), m); err != nil {
				t.Fatalf("message %d: %v", i+1, err)
			}
		}
		_, err := n.Notify(context.Background(), m)
		if err == nil || !strings.HasPrefix(err.Error(), "wecom: errcode 45009: api freq out of limit") || !notify.Retryable(err) {
			t.Errorf("21st message: err = %v, want a retryable 45009", err)
		}
		srv.SetClock(func() time.Time { return now.Add(time.Minute) })
		if _, err := n.Notify(context.Background(), m); err != nil {
			t.Errorf("a minute later: %v", err)
		}
	})
}
