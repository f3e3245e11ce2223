package notify

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Limit is how often one webhook may be posted to: at most Events messages
// in any window of Per. The zero Limit does not pace (pauses still apply, see
// Limiter.Hold).
type Limit struct {
	Events int
	Per    time.Duration
}

func (l Limit) String() string {
	if l.Events <= 0 || l.Per <= 0 {
		return "no limit"
	}
	noun := "messages"
	if l.Events == 1 {
		noun = "message"
	}
	return fmt.Sprintf("%d %s per %s", l.Events, noun, l.Per)
}

// Limiter paces posts per webhook so that none is hit faster than its
// Limit, and holds back a webhook that asked for a pause (a 429's
// Retry-After, DingTalk's ten-minute mute after errcode 130101). Keys are
// webhook URLs; they are never printed.
//
// It is a sliding window rather than a token bucket: a webhook limited to
// 20 messages a minute gets at most 20 in any minute, bursts included.
// Callers are served in order. A Limiter is safe for concurrent use; its
// zero value is not, call NewLimiter.
type Limiter struct {
	mu   sync.Mutex
	keys map[string]*pace
}

type pace struct {
	sends   []time.Time // granted send times, ascending; future ones are reservations
	hold    time.Time   // no send before this
	holdFor string      // what asked for the pause ("errcode 130101")
}

// NewLimiter returns an empty Limiter, for tests and for callers that want
// their own pacing apart from SharedLimiter's.
func NewLimiter() *Limiter { return &Limiter{keys: map[string]*pace{}} }

var shared = NewLimiter()

// SharedLimiter is the process-wide Limiter that Notifiers use unless told
// otherwise (see WithLimiter), so that every invocation a long-lived process
// serves (a Function Compute instance) paces the same webhook together.
func SharedLimiter() *Limiter { return shared }

// LimitError says why the Limiter would not let a message go now: the next
// slot, or the end of a pause the webhook asked for, is further away than
// the caller may wait.
type LimitError struct {
	Limit  Limit         // the webhook's limit
	Wait   time.Duration // how long the message would have to wait
	Paused string        // what asked for a pause ("errcode 130101"), when that is the reason
	// Why the message may not wait that long: either MaxWait, the longest
	// the caller may wait, or (when MaxWait is 0) Left, the time left
	// before the caller's deadline.
	MaxWait time.Duration
	Left    time.Duration
}

func (e *LimitError) Error() string {
	var why string
	if e.Paused != "" {
		why = fmt.Sprintf("the webhook asked for a pause (%s) that ends in %s", e.Paused, round(e.Wait))
	} else {
		why = fmt.Sprintf("the webhook's rate limit (%s) leaves no slot for %s", e.Limit, round(e.Wait))
	}
	if e.MaxWait > 0 {
		return why + fmt.Sprintf(", longer than the %s a message may wait", round(e.MaxWait))
	}
	return why + fmt.Sprintf(", after the deadline (%s left)", round(max(e.Left, 0)))
}

// Retryable: a later run may find a free slot.
func (e *LimitError) Retryable() bool { return true }

// Wait blocks until key may be posted to under lim, and takes that slot. It
// returns at once with a *LimitError, taking nothing, when the slot is more
// than maxWait away (maxWait > 0) or after ctx's deadline, and with ctx's
// error when ctx is done first. A nil Limiter never waits.
func (l *Limiter) Wait(ctx context.Context, key string, lim Limit, maxWait time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if l == nil {
		return nil
	}
	paced := lim.Events > 0 && lim.Per > 0

	l.mu.Lock()
	p := l.keys[key]
	if p == nil {
		p = &pace{}
		l.keys[key] = p
	}
	now := time.Now()
	if paced {
		// Sends that left the window no longer count.
		drop := 0
		for drop < len(p.sends) && !p.sends[drop].After(now.Add(-lim.Per)) {
			drop++
		}
		p.sends = slices.Delete(p.sends, 0, drop)
	}
	at, paused := now, ""
	if p.hold.After(at) {
		at, paused = p.hold, p.holdFor
	}
	if n := len(p.sends); paced && n > 0 {
		// In order, and at most lim.Events in any window: since at is not
		// before the last send, that holds when the lim.Events-th latest
		// send is a whole window earlier.
		slot := p.sends[n-1]
		if n >= lim.Events {
			slot = later(slot, p.sends[n-lim.Events].Add(lim.Per))
		}
		if slot.After(at) {
			at, paused = slot, ""
		}
	}
	wait := at.Sub(now)
	if wait > 0 {
		if deadline, ok := ctx.Deadline(); ok && at.After(deadline) {
			l.mu.Unlock()
			return &LimitError{Limit: lim, Wait: wait, Paused: paused, Left: deadline.Sub(now)}
		}
		if maxWait > 0 && wait > maxWait {
			l.mu.Unlock()
			return &LimitError{Limit: lim, Wait: wait, Paused: paused, MaxWait: maxWait}
		}
	}
	if paced {
		p.sends = append(p.sends, at)
	}
	l.mu.Unlock()

	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		if paced {
			l.release(key, at)
		}
		return ctx.Err()
	}
}

// release gives back a slot taken by a caller that stopped waiting.
func (l *Limiter) release(key string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if p := l.keys[key]; p != nil {
		if i := slices.IndexFunc(p.sends, at.Equal); i >= 0 {
			p.sends = slices.Delete(p.sends, i, i+1)
		}
	}
}

// Hold keeps every caller from posting to key before until, because of why
// ("errcode 130101", "HTTP 429"). A hold that ends earlier than one already
// in place changes nothing. A nil Limiter ignores holds.
func (l *Limiter) Hold(key string, until time.Time, why string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.keys[key]
	if p == nil {
		p = &pace{}
		l.keys[key] = p
	}
	if until.After(p.hold) {
		p.hold, p.holdFor = until, why
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// round makes a duration readable in a message: whole milliseconds below a
// second, tenths of a second above.
func round(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}
