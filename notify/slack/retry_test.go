package slack_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/notify/chattest"
	"github.com/backlog-alert/backlog-alert/notify/slack"
	"github.com/backlog-alert/backlog-alert/rules"
)

func TestRetry(t *testing.T) {
	m := notify.Message{Items: firing(alert("g", rules.Critical, 20000)), Time: evalTime}
	for _, tc := range []struct {
		name     string
		fail     chattest.Failure
		attempts int    // requests the sink saw
		err      string // "" for success; else the whole error text
		retry    bool
	}{
		{name: "503 twice then ok", fail: chattest.Failure{Status: 503, Times: 2}, attempts: 3},
		{name: "429 without Retry-After then ok", fail: chattest.Failure{Status: 429, Body: "rate_limited", Times: 1}, attempts: 2},
		{name: "500 forever", fail: chattest.Failure{Status: 500, Body: "rollup_error"}, attempts: 4,
			err: "slack: HTTP 500 rollup_error; gave up after 4 attempts", retry: true},
		{name: "400 invalid_payload", fail: chattest.Failure{Status: 400, Body: "invalid_payload"}, attempts: 1,
			err: "slack: HTTP 400 invalid_payload"},
		{name: "403 invalid_token", fail: chattest.Failure{Status: 403, Body: "invalid_token"}, attempts: 1,
			err: "slack: HTTP 403 invalid_token"},
		{name: "410 archived", fail: chattest.Failure{Status: 410, Body: "channel_is_archived"}, attempts: 1,
			err: "slack: HTTP 410 channel_is_archived"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sink := chattest.NewServer()
			defer sink.Close()
			hook := sink.SlackURL("ops")
			sink.Fail("ops", tc.fail)
			_, err := slack.New(hook, nil, notify.WithRetry(fast), notify.WithLimiter(nil)).Notify(context.Background(), m)
			if got := sink.Attempts("ops"); got != tc.attempts {
				t.Errorf("sink saw %d attempts, want %d", got, tc.attempts)
			}
			if tc.err == "" {
				if err != nil || len(sink.Received()) != 1 {
					t.Fatalf("err = %v, received %d; want delivered once", err, len(sink.Received()))
				}
				return
			}
			if err == nil || err.Error() != tc.err {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
			if notify.Attempts(err) != tc.attempts || notify.Retryable(err) != tc.retry {
				t.Errorf("Attempts = %d, Retryable = %v; want %d, %v", notify.Attempts(err), notify.Retryable(err), tc.attempts, tc.retry)
			}
			if _, ok := errors.AsType[*notify.HTTPError](err); !ok {
				t.Errorf("the last attempt's HTTPError is not in the chain: %#v", err)
			}
		})
	}
}

// The real header value is honoured: Retry-After: 1 means at least a second.
func TestRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	sink := chattest.NewServer()
	defer sink.Close()
	hook := sink.SlackURL("ops")
	sink.Fail("ops", chattest.Failure{Status: 429, Body: "rate_limited", RetryAfter: 1, Times: 1})
	var waits []time.Duration
	policy := fast
	policy.OnRetry = func(_ int, _ error, wait time.Duration) { waits = append(waits, wait) }

	start := time.Now()
	_, err := slack.New(hook, nil, notify.WithRetry(policy), notify.WithLimiter(notify.NewLimiter())).
		Notify(context.Background(), notify.Message{Items: firing(alert("g", rules.Warning, 20000))})
	elapsed := time.Since(start)
	if err != nil || len(sink.Received()) != 1 || sink.Attempts("ops") != 2 {
		t.Fatalf("err = %v, received %d after %d attempts", err, len(sink.Received()), sink.Attempts("ops"))
	}
	if elapsed < time.Second || len(waits) != 1 || waits[0] < time.Second {
		t.Errorf("took %v, waits %v; want at least the 1s Slack asked for", elapsed, waits)
	}
}

// A Retry-After given as an HTTP date, which slack-go cannot parse, is read
// from the header.
func TestRetryAfterDate(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", time.Now().Add(30*time.Second).UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte("rate_limited"))
	}))
	defer srv.Close()
	_, err := slack.New(srv.URL+"/services/T0/B0/secret", nil, notify.WithRetry(notify.NoRetry), notify.WithLimiter(nil)).
		Notify(context.Background(), notify.Message{Items: firing(alert("g", rules.Warning, 20000))})
	he, ok := errors.AsType[*notify.HTTPError](err)
	if !ok || he.StatusCode != 429 || he.RetryAfter < 28*time.Second || he.RetryAfter > 30*time.Second || !notify.Retryable(err) {
		t.Fatalf("err = %v (%+v), want a retryable 429 asking for about 30s", err, he)
	}

	// With retries on, 30s does not fit a 2s deadline: it gives up at once,
	// which the reason says (had it waited, the deadline would have stopped
	// it instead).
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = slack.New(srv.URL+"/services/T0/B0/secret", nil, notify.WithRetry(fast), notify.WithLimiter(nil)).
		Notify(ctx, notify.Message{Items: firing(alert("g", rules.Warning, 20000))})
	if err == nil || notify.Attempts(err) != 1 || !strings.Contains(err.Error(), "; gave up after 1 attempt: no time left for another before the deadline (waiting 30s as the service asked") {
		t.Errorf("err = %v", err)
	}
}

func TestRetryStops(t *testing.T) {
	m := notify.Message{Items: firing(alert("g", rules.Critical, 20000)), Time: evalTime}
	// Hour-long backoffs: a Retrier that slept through one instead of
	// stopping would hang the test (and fail it at go test's timeout)
	// rather than pass it, whatever the machine's speed.
	slow := notify.RetryPolicy{MaxAttempts: 4, BaseDelay: time.Hour, MaxDelay: time.Hour, MaxWait: time.Hour}
	for _, tc := range []struct {
		name          string
		ctx           func() (context.Context, context.CancelFunc)
		cancelOnRetry bool // cancel once the Retrier starts waiting
		err           string
		retry         bool
		attempt       int
	}{{
		name:          "cancelled while waiting",
		ctx:           func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
		cancelOnRetry: true,
		err:           "slack: HTTP 500 rollup_error; stopped after 1 attempt: context canceled",
		attempt:       1,
	}, {
		name: "cancelled before",
		ctx: func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		},
		err: "slack: not sent: context canceled",
	}, {
		name: "next backoff past the deadline",
		ctx: func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), time.Minute)
		},
		err:     "slack: HTTP 500 rollup_error; gave up after 1 attempt: no time left for another before the deadline (the next try in ",
		retry:   true,
		attempt: 1,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sink := chattest.NewServer()
			defer sink.Close()
			hook := sink.SlackURL("ops")
			sink.Fail("ops", chattest.Failure{Status: 500, Body: "rollup_error"})
			ctx, cancel := tc.ctx()
			defer cancel()
			policy := slow
			if tc.cancelOnRetry {
				policy.OnRetry = func(int, error, time.Duration) { cancel() }
			}
			_, err := slack.New(hook, nil, notify.WithRetry(policy), notify.WithLimiter(nil)).Notify(ctx, m)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
			if notify.Retryable(err) != tc.retry || notify.Attempts(err) != tc.attempt || sink.Attempts("ops") != tc.attempt {
				t.Errorf("Retryable %v, Attempts %d, sink saw %d; want %v, %d", notify.Retryable(err), notify.Attempts(err), sink.Attempts("ops"), tc.retry, tc.attempt)
			}
		})
	}
}

// New without options paces through the process-wide limiter at Slack's
// one message per second per webhook, whichever Notifier posts.
func TestSharedLimiter(t *testing.T) {
	t.Parallel()
	sink := chattest.NewServer()
	defer sink.Close()
	hook := sink.SlackURL("ops")
	m := notify.Message{Items: firing(alert("g", rules.Warning, 20000))}
	start := time.Now()
	for range 3 {
		if _, err := slack.New(hook, nil).Notify(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	if elapsed := time.Since(start); elapsed < 2*time.Second {
		t.Errorf("3 messages to one webhook took %v, want at least 2s", elapsed)
	}
	if n := len(sink.Received()); n != 3 {
		t.Errorf("received %d", n)
	}
}

// Webhooks are paced apart; a retry waits for its slot like any message.
func TestLimiterPerWebhook(t *testing.T) {
	t.Parallel()
	sink := chattest.NewServer()
	defer sink.Close()
	lim := notify.NewLimiter()
	a := slack.New(sink.SlackURL("a"), nil, notify.WithLimiter(lim), notify.WithRetry(fast))
	b := slack.New(sink.SlackURL("b"), nil, notify.WithLimiter(lim), notify.WithRetry(fast))
	m := notify.Message{Items: firing(alert("g", rules.Warning, 20000))}

	// bNow may not wait at all for a slot: it fails with a LimitError if
	// b's slot were held up by a's messages.
	impatient := fast
	impatient.MaxWait = time.Nanosecond
	bNow := slack.New(sink.SlackURL("b"), nil, notify.WithLimiter(lim), notify.WithRetry(impatient))

	start := time.Now()
	if _, err := a.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var aTook time.Duration
	wg.Go(func() {
		if _, err := a.Notify(context.Background(), m); err != nil {
			t.Error(err)
		}
		aTook = time.Since(start)
	})
	wg.Go(func() {
		if _, err := bNow.Notify(context.Background(), m); err != nil {
			t.Errorf("b waited behind a: %v", err)
		}
	})
	wg.Wait()
	if aTook < time.Second {
		t.Errorf("second message to a after %v, want ≥ 1s", aTook)
	}

	// b failed once with 503: its retry, 1ms of backoff later, still waits
	// for b's next slot.
	sink.Fail("b", chattest.Failure{Status: 503, Times: 1})
	s := time.Now()
	if _, err := b.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(s); took < 900*time.Millisecond || sink.Attempts("b") != 3 {
		t.Errorf("retry took %v over %d attempts in all; want it paced at 1/s", took, sink.Attempts("b"))
	}

	// A caller whose deadline comes before the next slot is refused at
	// once, without a request: a LimitError rather than the deadline's.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := b.Notify(ctx, m)
	if _, ok := errors.AsType[*notify.LimitError](err); !ok || notify.Attempts(err) != 0 || sink.Attempts("b") != 3 ||
		!strings.HasPrefix(err.Error(), "slack: not sent: the webhook's rate limit (1 message per 1s) leaves no slot for ") ||
		!strings.Contains(err.Error(), "after the deadline") {
		t.Errorf("err = %v", err)
	}
}
