package feishu

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/notify/feishu/feishutest"
	"github.com/backlog-alert/backlog-alert/rules"
)

func TestLimits(t *testing.T) {
	if PerSecond != (notify.Limit{Events: 5, Per: time.Second}) || PerMinute != (notify.Limit{Events: 100, Per: time.Minute}) {
		t.Errorf("limits %v and %v, want Feishu's 5 a second and 100 a minute", PerSecond, PerMinute)
	}
	n := New("https://open.feishu.cn/open-apis/bot/v2/hook/x", "", nil, nil)
	if n.perSecond != PerSecond || n.perMinute != PerMinute {
		t.Errorf("a Notifier paces at %v and %v", n.perSecond, n.perMinute)
	}
}

// Each window refuses the message that would overflow it, with a
// *notify.LimitError and no request. A second is too short a window for a
// test that must not depend on timing, so the windows are stretched to an
// hour: the same pacing, slower.
func TestPacing(t *testing.T) {
	m := notify.Message{Items: []notify.Item{{Kind: rules.KindFiring, Alert: rules.Alert{
		Rule: "r", Region: "cn-shanghai", Instance: "i", Group: "g", Condition: rules.Backlog, Severity: rules.Warning, Value: 2, Threshold: 1, Lag: 2,
	}}}}
	// A Notifier that may not wait for a slot at all.
	impatient := notify.RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond, MaxWait: time.Nanosecond}
	newNotifier := func(hook string, lim *notify.Limiter, perSecond, perMinute notify.Limit) *Notifier {
		n := New(hook, "", nil, nil, notify.WithRetry(impatient), notify.WithLimiter(lim))
		n.perSecond, n.perMinute = perSecond, perMinute
		return n
	}
	refused := func(t *testing.T, err error, limit string) {
		t.Helper()
		if _, ok := errors.AsType[*notify.LimitError](err); !ok ||
			!strings.HasPrefix(err.Error(), "feishu: not sent: the webhook's rate limit ("+limit+") leaves no slot for ") ||
			notify.Attempts(err) != 0 || !notify.Retryable(err) {
			t.Errorf("err = %v, want a retryable LimitError (%s) and no attempt", err, limit)
		}
	}

	for _, tc := range []struct {
		name                 string
		perSecond, perMinute notify.Limit
		limit                string
	}{
		{"per second", notify.Limit{Events: 5, Per: time.Hour}, PerMinute, "5 messages per 1h0m0s"},
		{"per minute", PerSecond, notify.Limit{Events: 3, Per: time.Hour}, "3 messages per 1h0m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := feishutest.NewServer()
			defer sink.Close()
			lim := notify.NewLimiter()
			n := newNotifier(sink.Hook("ops", "tok-ops"), lim, tc.perSecond, tc.perMinute)
			for i := range tc.perSecond.Events + tc.perMinute.Events {
				if _, err := n.Notify(context.Background(), m); err != nil {
					if i < min(tc.perSecond.Events, tc.perMinute.Events) {
						t.Fatalf("message %d: %v", i+1, err)
					}
					refused(t, err, tc.limit)
					break
				}
			}
			if want := min(tc.perSecond.Events, tc.perMinute.Events); sink.Attempts("ops") != want {
				t.Errorf("fake saw %d attempts, want %d", sink.Attempts("ops"), want)
			}
			// Another bot is not held up.
			other := newNotifier(sink.Hook("other", "tok-other"), lim, tc.perSecond, tc.perMinute)
			if _, err := other.Notify(context.Background(), m); err != nil {
				t.Errorf("other bot: %v", err)
			}
		})
	}

	// Every attempt takes a slot of the bot's second: a retry is paced like
	// a message; the minute's slot is taken once per message.
	t.Run("retries", func(t *testing.T) {
		sink := feishutest.NewServer()
		defer sink.Close()
		hook := sink.Hook("ops", "tok-ops")
		sink.Fail("ops", feishutest.Failure{Code: 11232, Times: 1})
		lim := notify.NewLimiter()
		if _, err := newNotifier(hook, lim, notify.Limit{Events: 2, Per: time.Hour}, PerMinute).Notify(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		_, err := newNotifier(hook, lim, notify.Limit{Events: 2, Per: time.Hour}, PerMinute).Notify(context.Background(), m)
		refused(t, err, "2 messages per 1h0m0s")
		if sink.Attempts("ops") != 2 {
			t.Errorf("fake saw %d attempts, want 2", sink.Attempts("ops"))
		}
	})
}
