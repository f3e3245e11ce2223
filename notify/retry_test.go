package notify

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

var fast = RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 4 * time.Millisecond}

// script returns an attempt function that fails with errs in turn and then
// succeeds, and a counter of its calls.
func script(errs ...error) (func(context.Context) error, *int) {
	calls := 0
	return func(context.Context) error {
		calls++
		if calls <= len(errs) {
			return errs[calls-1]
		}
		return nil
	}, &calls
}

func status(code int) *HTTPError {
	return &HTTPError{Service: "x", StatusCode: code, Retry: RetryableStatus(code)}
}

func TestRetryOutcomes(t *testing.T) {
	forever := make([]error, 10)
	for i := range forever {
		forever[i] = status(500)
	}
	for _, tc := range []struct {
		name     string
		policy   RetryPolicy
		errs     []error
		calls    int
		text     string // "" for success
		retry    bool
		attempts int
	}{
		{name: "first time", policy: fast, calls: 1},
		{name: "503 twice", policy: fast, errs: []error{status(503), status(503)}, calls: 3},
		{name: "500 forever", policy: fast, errs: forever, calls: 4,
			text: "x: HTTP 500 Internal Server Error; gave up after 4 attempts", retry: true, attempts: 4},
		{name: "two attempts allowed", policy: RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond}, errs: forever, calls: 2,
			text: "x: HTTP 500 Internal Server Error; gave up after 2 attempts", retry: true, attempts: 2},
		{name: "retries off", policy: NoRetry, errs: forever, calls: 1,
			text: "x: HTTP 500 Internal Server Error", retry: true, attempts: 1},
		{name: "400", policy: fast, errs: []error{status(400)}, calls: 1,
			text: "x: HTTP 400 Bad Request", attempts: 1},
		{name: "503 then 404", policy: fast, errs: []error{status(503), status(404)}, calls: 2,
			text: "x: HTTP 404 Not Found; after 2 attempts", attempts: 2},
		{name: "plain error", policy: fast, errs: []error{errors.New("boom")}, calls: 1,
			text: "boom", attempts: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			attempt, calls := script(tc.errs...)
			err := Retry(context.Background(), tc.policy, attempt)
			if *calls != tc.calls {
				t.Errorf("%d calls, want %d", *calls, tc.calls)
			}
			if tc.text == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || err.Error() != tc.text {
				t.Fatalf("err = %v, want %q", err, tc.text)
			}
			if Retryable(err) != tc.retry || Attempts(err) != tc.attempts {
				t.Errorf("Retryable %v, Attempts %d; want %v, %d", Retryable(err), Attempts(err), tc.retry, tc.attempts)
			}
			if !errors.Is(err, tc.errs[tc.calls-1]) {
				t.Error("the last error is not in the chain")
			}
		})
	}
}

func TestRetryWaits(t *testing.T) {
	var waits []time.Duration
	p := RetryPolicy{MaxAttempts: 5, BaseDelay: 10 * time.Millisecond, MaxDelay: 40 * time.Millisecond,
		OnRetry: func(_ int, _ error, d time.Duration) { waits = append(waits, d) }}
	asked := &HTTPError{Service: "x", StatusCode: 429, Retry: true, RetryAfter: 150 * time.Millisecond}
	attempt, _ := script(status(503), status(503), status(503), asked)
	start := time.Now()
	if err := Retry(context.Background(), p, attempt); err != nil {
		t.Fatal(err)
	}
	if len(waits) != 4 {
		t.Fatalf("waits %v", waits)
	}
	// Jittered in the upper half of 10ms, 20ms, 40ms (capped); then the
	// Retry-After.
	for i, hi := range []time.Duration{10, 20, 40} {
		hi *= time.Millisecond
		if waits[i] < hi/2 || waits[i] > hi {
			t.Errorf("wait %d = %v, want in [%v, %v]", i+1, waits[i], hi/2, hi)
		}
	}
	if waits[3] != 150*time.Millisecond || time.Since(start) < 150*time.Millisecond {
		t.Errorf("Retry-After wait %v, total %v", waits[3], time.Since(start))
	}
}

func TestRetryGivesUp(t *testing.T) {
	muted := &HTTPError{Service: "dingtalk", StatusCode: 200, Code: "errcode 130101", Retry: true, RetryAfter: 10 * time.Minute}
	for _, tc := range []struct {
		name    string
		policy  RetryPolicy
		timeout time.Duration // 0: no deadline
		cancel  time.Duration // cancel this long into the wait for a retry; 0: never
		err     error
		text    string // in the error, when the suffix is not all it says
		suffix  string
		retry   bool
	}{
		{name: "wait longer than MaxWait", policy: fast, err: muted,
			suffix: "; gave up after 1 attempt: the service asked to wait 10m0s, longer than the 1m0s a retry may wait", retry: true},
		// The time left is not compared: it is however much of the second
		// the machine did not spend before the attempt failed.
		{name: "Retry-After past the deadline", policy: RetryPolicy{MaxWait: time.Hour}, timeout: time.Second, err: muted,
			text: "; gave up after 1 attempt: no time left for another before the deadline (waiting 10m0s as the service asked, ", suffix: " left)", retry: true},
		{name: "backoff past the deadline", policy: RetryPolicy{BaseDelay: 4 * time.Second}, timeout: time.Second, err: status(503),
			text: "; gave up after 1 attempt: no time left for another before the deadline (the next try in ", suffix: " left)", retry: true},
		{name: "cancelled while waiting", policy: RetryPolicy{BaseDelay: time.Hour, MaxDelay: time.Hour, MaxWait: time.Hour}, cancel: 50 * time.Millisecond, err: status(503),
			suffix: "; stopped after 1 attempt: context canceled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			if tc.cancel > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				defer cancel()
				// Counted from the start of the wait, so that it cancels
				// the wait and not the first attempt, however late that runs.
				tc.policy.OnRetry = func(int, error, time.Duration) { time.AfterFunc(tc.cancel, cancel) }
			}
			// Nothing here is timed: a Retrier that waited instead of
			// giving up would wait the 10m asked (go test's timeout ends
			// it) or until the deadline, which stops it with another
			// reason than the one wanted; one that slept through the
			// cancellation would hang on its hour.
			attempt, calls := script(tc.err, tc.err, tc.err, tc.err)
			err := Retry(ctx, tc.policy, attempt)
			if *calls != 1 || err == nil || !strings.Contains(err.Error(), tc.text) || !strings.HasSuffix(err.Error(), tc.suffix) || Retryable(err) != tc.retry {
				t.Errorf("%d calls, err = %v (retryable %v), want %q… and suffix %q", *calls, err, Retryable(err), tc.text, tc.suffix)
			}
		})
	}
}

// An attempt as long as the last one must fit after the wait, so that the
// run does not end on a request cut short by the deadline.
func TestRetryLeavesTimeForTheAttempt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	calls := 0
	err := Retry(ctx, RetryPolicy{BaseDelay: 20 * time.Millisecond, MaxDelay: 20 * time.Millisecond}, func(context.Context) error {
		calls++
		if calls == 2 {
			time.Sleep(500 * time.Millisecond)
		}
		return status(502)
	})
	// The first attempt fails at once: a retry fits, with time to spare
	// for a slow machine. The second takes at least 500ms and ends at least
	// 510ms in: another as long, after a backoff of at least 10ms, would end
	// past the deadline, and a slower machine only leaves less time for it.
	if calls != 2 || err == nil || !strings.Contains(err.Error(), "gave up after 2 attempts: no time left") {
		t.Errorf("%d calls, err = %v", calls, err)
	}
}

func TestRetryCancelledBefore(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	attempt, calls := script()
	err := (&Retrier{Limiter: NewLimiter()}).Do(ctx, Target{Service: "slack", Key: "k"}, attempt)
	if *calls != 0 || err == nil || err.Error() != "slack: not sent: context canceled" || Retryable(err) || Attempts(err) != 0 {
		t.Errorf("%d calls, err = %v", *calls, err)
	}
	if !errors.Is(err, context.Canceled) {
		t.Error("context.Canceled is not in the chain")
	}
}

// A Retry-After is held in the limiter for the webhook's other callers.
func TestRetryHoldsTheWebhook(t *testing.T) {
	lim := NewLimiter()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	target := Target{Service: "slack", Key: "hook"}
	asked := &HTTPError{Service: "slack", StatusCode: 429, Code: "rate_limited", Retry: true, RetryAfter: 50 * time.Second}
	attempt, _ := script(asked)
	var other error
	p := fast
	p.OnRetry = func(int, error, time.Duration) {
		// While this call waits out the Retry-After, another caller may
		// not post either: it is told to wait (at most a second here)
		// for the pause the service asked for.
		other = lim.Wait(context.Background(), "hook", Limit{}, time.Second)
		cancel()
	}
	err := (&Retrier{Policy: p, Limiter: lim}).Do(ctx, target, attempt)
	if err == nil || !strings.HasSuffix(err.Error(), "; stopped after 1 attempt: context canceled") {
		t.Errorf("err = %v, want the call stopped while waiting", err)
	}
	le, ok := errors.AsType[*LimitError](other)
	if !ok || le.Paused != "HTTP 429" || le.Wait <= 40*time.Second || le.Wait > 50*time.Second {
		t.Errorf("another caller: %v, want held for the 50s asked", other)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"1", time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"0", 0, false},
		{"-3", 0, false},
		{"", 0, false},
		{"soon", 0, false},
		{"Fri, 02 Jan 2026 03:04:35 GMT", 30 * time.Second, true},
		{"Friday, 02-Jan-26 03:05:05 GMT", time.Minute, true}, // RFC 850
		{"Fri Jan  2 03:04:15 2026", 10 * time.Second, true},  // asctime
		{"Fri, 02 Jan 2026 03:04:00 GMT", 0, false},           // past
		{"99999999999", 24 * time.Hour, true},
	} {
		got, ok := ParseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	// A date is read in whole seconds, rounded up.
	if got, _ := ParseRetryAfter(now.Add(10*time.Second).Format(http.TimeFormat), now.Add(-300*time.Millisecond)); got != 11*time.Second {
		t.Errorf("got %v", got)
	}
}
