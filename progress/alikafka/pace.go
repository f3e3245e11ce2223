package alikafka

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// How a run adapts its rate to throttling (AIMD, as TCP does): a throttled
// reply multiplies the shared rate by throttleFactor, at most once per
// "generation" of calls (see pacer.throttled), never below floorQPS; after a
// streak of successes as long as one second's worth of calls at the current
// rate (at least minStreak), the rate grows by a twentieth of the configured
// QPS (at least 0.5/s), up to the configured QPS.
const (
	throttleFactor = 0.7
	floorQPS       = 1.0
	minStreak      = 5
	// maxThrottledWithoutDeadline bounds how often one call is retried after
	// throttling when the run has no deadline; with a deadline, throttling
	// alone never fails a call, and the deadline ends the waiting.
	maxThrottledWithoutDeadline = 10
)

// pacer is the token bucket every worker of one Fetch draws from, with the
// rate adapted to throttling. Its burst is 1: calls are spaced evenly, and a
// run never sends more at once than any server limit allows.
type pacer struct {
	lim        *rate.Limiter
	max, floor float64
	step       float64

	mu      sync.Mutex
	cur     float64
	min     float64
	streak  int
	lastCut time.Time // when the rate was last lowered
}

func newPacer(qps float64) *pacer {
	return &pacer{
		lim:   rate.NewLimiter(rate.Limit(qps), 1),
		max:   qps,
		floor: min(floorQPS, qps),
		step:  max(qps/20, 0.5),
		cur:   qps,
		min:   qps,
	}
}

// slotError says no call slot is free before the run's deadline.
type slotError struct {
	wait, left time.Duration
	rate       float64
}

func (e *slotError) Error() string {
	return fmt.Sprintf("no call slot left before the deadline in %s, at %.3g calls/s", roundDuration(e.left), e.rate)
}

// wait blocks until the caller may send one call, and returns when the slot
// was reserved: a throttled reply to a call reserved before the rate was last
// lowered says nothing about the lowered rate. It gives up at once, with a
// *slotError, when the slot is past ctx's deadline, and with ctx.Err() when
// ctx is done first.
func (p *pacer) wait(ctx context.Context) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	now := time.Now()
	r := p.lim.ReserveN(now, 1)
	d := r.DelayFrom(now)
	if d <= 0 {
		return now, nil
	}
	if dl, ok := ctx.Deadline(); ok && now.Add(d).After(dl) {
		r.CancelAt(now)
		return now, &slotError{wait: d, left: dl.Sub(now), rate: float64(p.lim.Limit())}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return now, nil
	case <-ctx.Done():
		r.Cancel()
		return now, ctx.Err()
	}
}

// throttled lowers the rate for a call reserved at at that was throttled.
// Calls reserved before the last cut were paced at the older, higher rate:
// their throttling is already answered, and counting it again would collapse
// the rate to the floor after one burst of replies.
func (p *pacer) throttled(at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.streak = 0
	if !at.After(p.lastCut) {
		return
	}
	p.lastCut = time.Now()
	p.cur = max(p.floor, p.cur*throttleFactor)
	p.min = min(p.min, p.cur)
	p.lim.SetLimit(rate.Limit(p.cur))
}

// succeeded counts an answered call reserved at at, and raises the rate after
// a streak of them.
func (p *pacer) succeeded(at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur >= p.max || !at.After(p.lastCut) {
		return
	}
	p.streak++
	if p.streak >= max(minStreak, int(math.Ceil(p.cur))) {
		p.streak = 0
		p.cur = min(p.max, p.cur+p.step)
		p.lim.SetLimit(rate.Limit(p.cur))
	}
}

// failed breaks a streak of successes without lowering the rate: a
// transient failure is not a sign of too many calls.
func (p *pacer) failed() {
	p.mu.Lock()
	p.streak = 0
	p.mu.Unlock()
}

func (p *pacer) minRate() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.min
}

// backoff is the delay before the n-th retry (n >= 1): RetryBaseDelay ×
// 2^(n-1), capped at RetryMaxDelay, of which a random half ("equal jitter").
func backoff(n int) time.Duration {
	d := RetryMaxDelay
	if n < 20 {
		d = min(RetryMaxDelay, RetryBaseDelay<<(n-1))
	}
	return d/2 + rand.N(d/2+1)
}

// runner paces and retries the calls of one Fetch, and counts them.
type runner struct {
	cfg   Config
	pacer *pacer
	start time.Time

	calls, throttled, retries, failed atomic.Int64
}

func newRunner(cfg Config, start time.Time) *runner {
	return &runner{cfg: cfg, pacer: newPacer(cfg.QPS), start: start}
}

// do makes one logical call out of attempts: each waits for a slot of the
// shared rate; throttled attempts lower the rate and are retried after a
// backoff, without limit while ctx has a deadline; transient failures are
// retried with backoff up to cfg.Retries times; permanent ones are returned
// at once. When ctx ends the waiting, do returns a *notReadError.
func (r *runner) do(ctx context.Context, attempt func() error) error {
	_, hasDeadline := ctx.Deadline()
	var last error
	tries, throttles := 0, 0
	for n := 0; ; n++ {
		at, err := r.pacer.wait(ctx)
		if err == nil {
			err = r.fits(ctx)
		}
		if err != nil {
			return r.notRead(ctx, err, last)
		}
		r.calls.Add(1)
		if n > 0 {
			r.retries.Add(1)
		}
		err = attempt()
		if err == nil {
			r.pacer.succeeded(at)
			return nil
		}
		var delay time.Duration
		switch Classify(err) {
		case Throttled:
			r.throttled.Add(1)
			r.pacer.throttled(at)
			throttles++
			if !hasDeadline && throttles > maxThrottledWithoutDeadline {
				r.failed.Add(1)
				return err
			}
			delay = backoff(throttles)
		case Transient:
			r.pacer.failed()
			if tries >= r.cfg.Retries {
				r.failed.Add(1)
				return err
			}
			tries++
			delay = backoff(tries)
		default:
			// An answer, if not the one wanted: the rate was fine.
			r.pacer.succeeded(at)
			if !IsGroupNotFound(err) {
				r.failed.Add(1)
			}
			return err
		}
		last = err
		if err := sleep(ctx, delay); err != nil {
			return r.notRead(ctx, err, last)
		}
	}
}

// MinCallTime is the least time a call starts with: one that would be cut
// at the deadline sooner spends a slot of the account's rate for nothing.
// (A call's time is min(MinCallTime, Config.Timeout).)
const MinCallTime = 200 * time.Millisecond

// callError says too little time is left for a call.
type callError struct{ left time.Duration }

func (e *callError) Error() string {
	return fmt.Sprintf("deadline in %s, too soon to start a call", roundDuration(e.left))
}

// fits returns a *callError when ctx's deadline leaves less than a call's
// time.
func (r *runner) fits(ctx context.Context) error {
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < min(MinCallTime, r.cfg.Timeout) {
			return &callError{left: left}
		}
	}
	return nil
}

// retryError says the next retry would come after the deadline.
type retryError struct{ wait, left time.Duration }

func (e *retryError) Error() string {
	return fmt.Sprintf("deadline in %s, before the next retry in %s", roundDuration(e.left), roundDuration(e.wait))
}

// sleep waits d unless ctx ends first; it does not start a wait that would
// end past ctx's deadline.
func sleep(ctx context.Context, d time.Duration) error {
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < d {
			return &retryError{wait: d, left: left}
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// notReadError is why a group (or a listing) was not read: the run's time
// ran out, or it was cancelled, before the call could be made or retried.
// It unwraps to context.DeadlineExceeded or context.Canceled.
type notReadError struct {
	msg   string
	cause error
}

func (e *notReadError) Error() string { return e.msg }
func (e *notReadError) Unwrap() error { return e.cause }

// notRead explains why a call was not made: why is ctx.Err(), a *slotError,
// a *callError or a *retryError (nil for a job never started); last is the error of the
// attempt a retry would have repeated.
func (r *runner) notRead(ctx context.Context, why, last error) error {
	cause := context.DeadlineExceeded
	var msg string
	if errors.Is(why, context.Canceled) || (why == nil && errors.Is(ctx.Err(), context.Canceled)) {
		cause = context.Canceled
		msg = "not read: the run was cancelled"
	} else {
		detail := "deadline passed"
		if dl, ok := ctx.Deadline(); ok {
			detail = fmt.Sprintf("deadline %s after the start", roundDuration(dl.Sub(r.start)))
		}
		var se *slotError
		var re *retryError
		var ce *callError
		if errors.As(why, &se) || errors.As(why, &re) || errors.As(why, &ce) {
			detail = why.Error()
		}
		msg = "not read: the run's time budget ran out (" + detail + ")"
	}
	if last != nil {
		msg += "; gave up retrying after: " + last.Error()
	}
	return &notReadError{msg: msg + ": " + cause.Error(), cause: cause}
}

func roundDuration(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		d = d.Round(time.Second)
	case d >= time.Second:
		d = d.Round(100 * time.Millisecond)
	default:
		d = d.Round(time.Millisecond)
	}
	return d.String()
}
