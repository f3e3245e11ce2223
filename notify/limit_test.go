package notify

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLimiterWindow(t *testing.T) {
	l := NewLimiter()
	lim := Limit{Events: 2, Per: 200 * time.Millisecond}
	ctx := context.Background()
	start := time.Now()
	var at []time.Duration
	for range 5 {
		if err := l.Wait(ctx, "k", lim, 0); err != nil {
			t.Fatal(err)
		}
		at = append(at, time.Since(start))
	}
	// Two at once, then two a window later, then one more.
	for i, min := range []time.Duration{0, 0, 200, 200, 400} {
		min *= time.Millisecond
		// The upper slack is wide for a loaded machine, short of the next window.
		if at[i] < min || at[i] > min+180*time.Millisecond {
			t.Errorf("send %d at %v, want about %v", i+1, at[i], min)
		}
	}
	// Another key is not held up.
	s := time.Now()
	if err := l.Wait(ctx, "other", lim, 0); err != nil || time.Since(s) > 150*time.Millisecond {
		t.Errorf("other key: %v after %v", err, time.Since(s))
	}
}

func TestLimiterConcurrent(t *testing.T) {
	l := NewLimiter()
	lim := Limit{Events: 1, Per: 50 * time.Millisecond}
	var mu sync.Mutex
	var times []time.Time
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			if err := l.Wait(context.Background(), "k", lim, 0); err != nil {
				t.Error(err)
			}
			mu.Lock()
			times = append(times, time.Now())
			mu.Unlock()
		})
	}
	wg.Wait()
	first, last := times[0], times[0]
	for _, x := range times {
		if x.Before(first) {
			first = x
		}
		if x.After(last) {
			last = x
		}
	}
	if d := last.Sub(first); d < 240*time.Millisecond {
		t.Errorf("6 sends at 1 per 50ms spread over %v, want ≥ 250ms", d)
	}
}

func TestLimiterRefuses(t *testing.T) {
	l := NewLimiter()
	lim := Limit{Events: 1, Per: time.Second}
	if err := l.Wait(context.Background(), "k", lim, 0); err != nil {
		t.Fatal(err)
	}
	// Past the deadline: refused at once, nothing taken.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	s := time.Now()
	err := l.Wait(ctx, "k", lim, 0)
	le, ok := errors.AsType[*LimitError](err)
	if !ok || time.Since(s) > 150*time.Millisecond || le.Wait < 900*time.Millisecond ||
		!strings.HasPrefix(err.Error(), "the webhook's rate limit (1 message per 1s) leaves no slot for ") ||
		!strings.Contains(err.Error(), ", after the deadline (") || !Retryable(err) {
		t.Fatalf("err = %v after %v", err, time.Since(s))
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
	l.Hold("k", time.Now().Add(150*time.Millisecond), "HTTP 429")
	l.Hold("k", time.Now().Add(10*time.Millisecond), "shorter") // no effect
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := l.Wait(ctx, "k", Limit{}, 0)
	if err == nil || !strings.HasPrefix(err.Error(), "the webhook asked for a pause (HTTP 429) that ends in ") {
		t.Errorf("err = %v", err)
	}
	s := time.Now()
	if err := l.Wait(context.Background(), "k", Limit{}, 0); err != nil || time.Since(s) < 100*time.Millisecond {
		t.Errorf("err = %v after %v, want to wait out the hold", err, time.Since(s))
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
