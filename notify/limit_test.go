package notify

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// granted returns the send times key holds in l: the slots it granted,
// reservations of callers still waiting included.
func granted(l *Limiter, key string) []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if p := l.keys[key]; p != nil {
		return slices.Clone(p.sends)
	}
	return nil
}

// The window is checked on the slots the limiter grants, not on when
// callers wake: with an hour's window nobody waits it out, so the slots are
// exact whatever the machine's speed. (How closely sends follow their slots
// is measured by `make bench`.)
func TestLimiterWindow(t *testing.T) {
	l := NewLimiter()
	lim := Limit{Events: 2, Per: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel() // the callers still waiting give up
	// Five callers in turn, each taking its slot (a reservation, for those
	// that must wait) before the next asks.
	for i := range 5 {
		returned := make(chan struct{})
		wg.Go(func() {
			defer close(returned)
			if err := l.Wait(ctx, "k", lim, 0); err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("caller %d: %v", i+1, err)
			}
		})
		giveUp := time.After(time.Minute)
	taken:
		for len(granted(l, "k")) < i+1 {
			select {
			case <-returned: // without a slot: the check below says so
				break taken
			case <-giveUp:
				t.Fatalf("caller %d took no slot in a minute", i+1)
			case <-time.After(time.Millisecond):
			}
		}
	}
	// Two at once, then two a window later, then one more.
	at := granted(l, "k")
	now := time.Now()
	if len(at) != 5 {
		t.Fatalf("slots %v, want 5", at)
	}
	want := []time.Time{at[0], at[1], at[0].Add(time.Hour), at[1].Add(time.Hour), at[0].Add(2 * time.Hour)}
	if at[0].After(now) || at[1].Before(at[0]) || at[1].After(now) || !slices.EqualFunc(at, want, time.Time.Equal) {
		t.Errorf("slots %v at %v, want two at once, then two a window later, then one more", at, now)
	}
	// Another key is not held up: it may not wait at all, and need not.
	if err := l.Wait(ctx, "other", lim, time.Nanosecond); err != nil {
		t.Errorf("other key: %v", err)
	}
}

func TestLimiterConcurrent(t *testing.T) {
	l := NewLimiter()
	lim := Limit{Events: 1, Per: 50 * time.Millisecond}
	var mu sync.Mutex
	var last time.Time
	var wg sync.WaitGroup
	// The first slot is not before start and the others follow it a window
	// apart, so the last caller cannot be done before start+250ms, however
	// late any of them runs.
	start := time.Now()
	for range 6 {
		wg.Go(func() {
			if err := l.Wait(context.Background(), "k", lim, 0); err != nil {
				t.Error(err)
			}
			mu.Lock()
			if now := time.Now(); now.After(last) {
				last = now
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if d := last.Sub(start); d < 250*time.Millisecond {
		t.Errorf("6 sends at 1 per 50ms done %v after the start, want ≥ 250ms", d)
	}
}

func TestLimiterRefuses(t *testing.T) {
	l := NewLimiter()
	lim := Limit{Events: 1, Per: time.Hour}
	if err := l.Wait(context.Background(), "k", lim, 0); err != nil {
		t.Fatal(err)
	}
	// The next slot is an hour away, past the deadline: refused at once,
	// nothing taken. (Had it waited, the deadline would have ended the wait
	// with the context's error, not a LimitError.)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := l.Wait(ctx, "k", lim, 0)
	le, ok := errors.AsType[*LimitError](err)
	if !ok || le.Wait < 59*time.Minute || le.Wait > time.Hour || le.Left > 10*time.Second ||
		!strings.HasPrefix(err.Error(), "the webhook's rate limit (1 message per 1h0m0s) leaves no slot for ") ||
		!strings.Contains(err.Error(), ", after the deadline (") || !Retryable(err) {
		t.Fatalf("err = %v (%+v)", err, le)
	}
	if n := len(granted(l, "k")); n != 1 {
		t.Errorf("%d slots taken, want 1", n)
	}
	// Longer than maxWait.
	err = l.Wait(context.Background(), "k", lim, 100*time.Millisecond)
	if err == nil || !strings.HasSuffix(err.Error(), ", longer than the 100ms a message may wait") {
		t.Errorf("err = %v", err)
	}
	// Cancelled while waiting: the slot is given back, so the next caller
	// is not pushed further out.
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	l2 := NewLimiter()
	l2.Wait(context.Background(), "k", lim, 0)
	go func() { time.Sleep(20 * time.Millisecond); cancel2() }()
	if err := l2.Wait(ctx2, "k", lim, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if n := len(l2.keys["k"].sends); n != 1 {
		t.Errorf("%d slots taken, want 1", n)
	}
	// A cancelled context returns at once, even with a free slot.
	done, cancel3 := context.WithCancel(context.Background())
	cancel3()
	if err := l.Wait(done, "new", lim, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
}

func TestLimiterHold(t *testing.T) {
	l := NewLimiter()
	until := time.Now().Add(500 * time.Millisecond)
	l.Hold("k", until, "HTTP 429")
	l.Hold("k", time.Now().Add(10*time.Millisecond), "shorter") // no effect
	ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
	defer cancel()
	err := l.Wait(ctx, "k", Limit{}, 0)
	if err == nil || !strings.HasPrefix(err.Error(), "the webhook asked for a pause (HTTP 429) that ends in ") {
		t.Errorf("err = %v", err)
	}
	// Waited out: not done before the hold ends, however late it started.
	if err := l.Wait(context.Background(), "k", Limit{}, 0); err != nil || time.Now().Before(until) {
		t.Errorf("err = %v %v before the hold ends, want to wait out the hold", err, time.Until(until))
	}
}

func TestNilLimiter(t *testing.T) {
	var l *Limiter
	l.Hold("k", time.Now().Add(time.Hour), "x")
	if err := l.Wait(context.Background(), "k", Limit{Events: 1, Per: time.Hour}, 0); err != nil {
		t.Error(err)
	}
	if SharedLimiter() == nil || SharedLimiter() != SharedLimiter() {
		t.Error("SharedLimiter is not one process-wide limiter")
	}
	if r := NewRetrier(); r.Limiter != SharedLimiter() || r.Policy.MaxAttempts != 4 {
		t.Errorf("NewRetrier() = %+v", r)
	}
	if r := NewRetrier(WithLimiter(nil), WithRetry(NoRetry)); r.Limiter != nil || r.Policy.MaxAttempts != 1 {
		t.Errorf("NewRetrier(options) = %+v", r)
	}
}

func TestLimitString(t *testing.T) {
	for l, want := range map[Limit]string{
		{1, time.Second}:  "1 message per 1s",
		{20, time.Minute}: "20 messages per 1m0s",
		{}:                "no limit",
	} {
		if got := l.String(); got != want {
			t.Errorf("%#v.String() = %q, want %q", l, got, want)
		}
	}
}
