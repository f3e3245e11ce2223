package dingtalk_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/notify/chattest"
	"github.com/backlog-alert/backlog-alert/notify/dingtalk"
	"github.com/backlog-alert/backlog-alert/rules"
)

func TestRetry(t *testing.T) {
	m := notify.Message{Items: firing(alert("g", rules.Critical, 20000)), Time: time.Now()}
	for _, tc := range []struct {
		name     string
		fail     chattest.Failure
		secret   string // the Notifier's; the robot wants secret
		attempts int
		err      string // "" for success; else a substring
		retry    bool
	}{
		{name: "too fast then ok", fail: chattest.Failure{DingTalkErrcode: 410100, Body: "too fast", Times: 1}, attempts: 2},
		{name: "busy twice then ok", fail: chattest.Failure{DingTalkErrcode: -1, Body: "system busy", Times: 2}, attempts: 3},
		{name: "502 then ok", fail: chattest.Failure{Status: 502, Times: 1}, attempts: 2},
		{name: "busy forever", fail: chattest.Failure{DingTalkErrcode: -1, Body: "system busy"}, attempts: 4,
			err: "dingtalk: errcode -1: system busy (DingTalk is busy or the robot sends too fast); gave up after 4 attempts", retry: true},
		{name: "sign not match", secret: "SECwrongwrongwrong", attempts: 1,
			err: "dingtalk: errcode 310000: sign not match (check the robot's security settings"},
		{name: "keyword missing", fail: chattest.Failure{DingTalkErrcode: 310000, Body: "keywords not in content"}, attempts: 1,
			err: "errcode 310000: keywords not in content (check the robot's security settings"},
		{name: "robot disabled", fail: chattest.Failure{DingTalkErrcode: 400102, Body: "robot disabled"}, attempts: 1,
			err: "errcode 400102: robot disabled (the robot is disabled"},
		{name: "content rejected", fail: chattest.Failure{DingTalkErrcode: 430102, Body: "inappropriate text"}, attempts: 1,
			err: "(DingTalk rejected the content)"},
		{name: "too long", fail: chattest.Failure{DingTalkErrcode: 460101, Body: "message too long"}, attempts: 1,
			err: "(message over 20000 bytes)"},
		{name: "missing parameter", fail: chattest.Failure{DingTalkErrcode: 40035, Body: "missing parameter"}, attempts: 1,
			err: "errcode 40035: missing parameter (a required parameter is missing"},
		{name: "unknown errcode", fail: chattest.Failure{DingTalkErrcode: 999999, Body: "new"}, attempts: 1,
			err: "dingtalk: errcode 999999: new"},
		{name: "400", fail: chattest.Failure{Status: 400, Body: "bad request"}, attempts: 1,
			err: "dingtalk: HTTP 400 bad request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sink := chattest.NewServer()
			defer sink.Close()
			sink.RequireDingTalkSecret("ops", secret)
			hook := sink.DingTalkURL("ops", token)
			if tc.fail != (chattest.Failure{}) {
				sink.Fail("ops", tc.fail)
			}
			sec := secret
			if tc.secret != "" {
				sec = tc.secret
			}
			_, err := dingtalk.New(hook, sec, nil, nil, notify.WithRetry(fast), notify.WithLimiter(notify.NewLimiter())).Notify(context.Background(), m)
			if got := sink.Attempts("ops"); got != tc.attempts {
				t.Errorf("sink saw %d attempts, want %d", got, tc.attempts)
			}
			if tc.err == "" {
				if err != nil || len(sink.Received()) != 1 {
					t.Fatalf("err = %v, received %d; want delivered once", err, len(sink.Received()))
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
			assertClean(t, err, tc.secret)
		})
	}
}

// Errcode 130101 mutes the robot for ten minutes: waiting that out only
// makes sense if it fits, and later messages in the process hold back too.
func TestMuted(t *testing.T) {
	m := notify.Message{Items: firing(alert("g", rules.Critical, 20000)), Time: time.Now()}
	throttled := chattest.Failure{DingTalkErrcode: 130101, Body: "send too fast, exceed 20 times per minute"}

	t.Run("near deadline", func(t *testing.T) {
		t.Parallel()
		sink := chattest.NewServer()
		defer sink.Close()
		hook := sink.DingTalkURL("ops", token)
		sink.Fail("ops", throttled)
		patient := fast
		patient.MaxWait = time.Hour // only the deadline is in the way
		const budget = 2 * time.Second
		ctx, cancel := context.WithTimeout(context.Background(), budget)
		defer cancel()
		// It gives up at once: had it waited, the deadline would have
		// stopped it ("stopped after …: context deadline exceeded").
		_, err := dingtalk.New(hook, "", nil, nil, notify.WithRetry(patient), notify.WithLimiter(notify.NewLimiter())).Notify(ctx, m)
		want := "dingtalk: errcode 130101: send too fast, exceed 20 times per minute (retry after 10m0s) (over 20 messages per minute for this robot); " +
			"gave up after 1 attempt: no time left for another before the deadline (waiting 10m0s as the service asked, "
		if err == nil || !strings.HasPrefix(err.Error(), want) || sink.Attempts("ops") != 1 || !notify.Retryable(err) {
			t.Errorf("err = %v (%d attempts, retryable %v)\nwant %q…", err, sink.Attempts("ops"), notify.Retryable(err), want)
		}
	})

	t.Run("no deadline", func(t *testing.T) {
		t.Parallel()
		sink := chattest.NewServer()
		defer sink.Close()
		hook := sink.DingTalkURL("ops", token)
		sink.Fail("ops", throttled)
		lim := notify.NewLimiter()
		n := dingtalk.New(hook, "", nil, nil, notify.WithRetry(fast), notify.WithLimiter(lim))
		// It gives up at once, without a wait that could only end in ten
		// minutes (go test's timeout would end this test first).
		_, err := n.Notify(context.Background(), m)
		if err == nil || !strings.HasSuffix(err.Error(), "; gave up after 1 attempt: the service asked to wait 10m0s, longer than the 1m0s a retry may wait") {
			t.Errorf("err = %v", err)
		}

		// The robot is muted: the next message, from another Notifier on
		// the same limiter, is held back without a request.
		sink.Fail("ops", chattest.Failure{})
		_, err = dingtalk.New(hook, "", nil, nil, notify.WithRetry(fast), notify.WithLimiter(lim)).Notify(context.Background(), m)
		if err == nil || !strings.HasPrefix(err.Error(), "dingtalk: not sent: the webhook asked for a pause (errcode 130101) that ends in ") ||
			!strings.HasSuffix(err.Error(), ", longer than the 1m0s a message may wait") {
			t.Errorf("err = %v", err)
		}
		if sink.Attempts("ops") != 1 || notify.Attempts(err) != 0 || !notify.Retryable(err) {
			t.Errorf("sink saw %d attempts, Attempts %d, Retryable %v", sink.Attempts("ops"), notify.Attempts(err), notify.Retryable(err))
		}
	})
}

// At most 20 messages a minute per robot: the 21st waits for its slot, and
// with a deadline before it is refused at once.
func TestTwentyPerMinute(t *testing.T) {
	t.Parallel()
	sink := chattest.NewServer()
	defer sink.Close()
	lim := notify.NewLimiter()
	n := dingtalk.New(sink.DingTalkURL("ops", token), secret, nil, nil, notify.WithRetry(fast), notify.WithLimiter(lim))
	m := notify.Message{Items: firing(alert("g", rules.Warning, 20000)), Time: time.Now()}
	// The first 20 go at once: a Notifier that may not wait for a slot at
	// all sends them all.
	impatient := fast
	impatient.MaxWait = time.Nanosecond
	burst := dingtalk.New(sink.DingTalkURL("ops", token), secret, nil, nil, notify.WithRetry(impatient), notify.WithLimiter(lim))
	for i := range 20 {
		if _, err := burst.Notify(context.Background(), m); err != nil {
			t.Fatalf("message %d: %v", i+1, err)
		}
	}
	// The 21st's slot is a minute away, past its deadline: refused at once
	// by the limiter rather than stopped by the deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := n.Notify(ctx, m)
	if _, ok := errors.AsType[*notify.LimitError](err); !ok ||
		!strings.HasPrefix(err.Error(), "dingtalk: not sent: the webhook's rate limit (20 messages per 1m0s) leaves no slot for ") {
		t.Errorf("21st message: err = %v", err)
	}
	assertClean(t, err, "")
	if sink.Attempts("ops") != 20 {
		t.Errorf("sink saw %d attempts, want 20", sink.Attempts("ops"))
	}
	// Another robot is not held up: it needs no wait at all.
	other := dingtalk.New(sink.DingTalkURL("other", token), "", nil, nil, notify.WithRetry(impatient), notify.WithLimiter(lim))
	if _, err := other.Notify(context.Background(), m); err != nil {
		t.Errorf("other robot: %v", err)
	}
}
