package notify

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The Retrier is shared by the integrations, as Alertmanager's notify
// retrier is: every attempt waits for the webhook's slot in a Limiter,
// failures are classified (see Retryable), and those worth it are tried
// again with jittered exponential backoff or after the Retry-After the
// service asked for, never past the caller's deadline.

// RetryPolicy says how often and how patiently a message is tried. Zero
// fields take the defaults of DefaultRetry.
type RetryPolicy struct {
	// MaxAttempts bounds the requests made for one message, the first
	// included; 1 turns retrying off. Default 4.
	MaxAttempts int
	// BaseDelay is the backoff before the first retry; it doubles with each
	// retry up to MaxDelay, and each wait is drawn at random from its upper
	// half (jitter). Defaults 500ms and 10s.
	BaseDelay time.Duration
	MaxDelay  time.Duration
	// MaxWait is the longest one wait may be: a Retry-After, a pause the
	// webhook asked for, or a slot under its rate limit. A service asking
	// for more (DingTalk mutes a robot for ten minutes after errcode 130101)
	// gets no retry in this call. Default 1m.
	MaxWait time.Duration
	// OnRetry, when set, is called before each wait for a retry: attempt
	// is the number of the attempt that failed with err.
	OnRetry func(attempt int, err error, wait time.Duration)
}

// DefaultRetry is the policy of Notifiers built without WithRetry.
var DefaultRetry = RetryPolicy{MaxAttempts: 4, BaseDelay: 500 * time.Millisecond, MaxDelay: 10 * time.Second, MaxWait: time.Minute}

// NoRetry makes one attempt per message.
var NoRetry = RetryPolicy{MaxAttempts: 1}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultRetry.MaxAttempts
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = DefaultRetry.BaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = DefaultRetry.MaxDelay
	}
	if p.MaxWait <= 0 {
		p.MaxWait = DefaultRetry.MaxWait
	}
	return p
}

// backoff is the jittered wait after the given failed attempt (1-based):
// BaseDelay·2^(attempt-1), at most MaxDelay, drawn from [d/2, d].
func (p RetryPolicy) backoff(attempt int) time.Duration {
	d := p.MaxDelay
	if shift := attempt - 1; shift < 30 && p.BaseDelay<<shift < p.MaxDelay {
		d = p.BaseDelay << shift
	}
	return d/2 + rand.N(d/2+1)
}

// Target is what a Retrier delivers to: the service named in errors, the
// webhook's key in the Limiter (its URL) and its rate limit.
type Target struct {
	Service string // "slack", "dingtalk"
	Key     string
	Limit   Limit
}

// Retrier delivers a message: each attempt waits for the webhook's slot in
// Limiter (nil: no pacing), and failed attempts are retried as Policy says.
// Its zero value retries with DefaultRetry and does not pace.
type Retrier struct {
	Policy  RetryPolicy
	Limiter *Limiter
}

// Option configures the Retrier of a Notifier (slack.New, dingtalk.New).
type Option func(*Retrier)

// WithRetry sets the retry policy; the default is DefaultRetry.
func WithRetry(p RetryPolicy) Option { return func(r *Retrier) { r.Policy = p } }

// WithLimiter sets the Limiter that paces posts; the default is
// SharedLimiter(). nil turns pacing off (tests).
func WithLimiter(l *Limiter) Option { return func(r *Retrier) { r.Limiter = l } }

// NewRetrier returns a Retrier with DefaultRetry and SharedLimiter(),
// changed by opts.
func NewRetrier(opts ...Option) *Retrier {
	r := &Retrier{Policy: DefaultRetry, Limiter: SharedLimiter()}
	for _, o := range opts {
		if o != nil {
			o(r)
		}
	}
	return r
}

// Retry calls attempt until it succeeds or retrying is pointless, without
// pacing (see Retrier.Do).
func Retry(ctx context.Context, p RetryPolicy, attempt func(context.Context) error) error {
	return (&Retrier{Policy: p}).Do(ctx, Target{}, attempt)
}

// Do delivers through attempt, which makes one request and returns its
// classified error (an *HTTPError). Before each attempt it waits for the
// target's slot in the Limiter. After a failure it stops when the error is
// not Retryable, after Policy.MaxAttempts attempts, when ctx is done, and
// when the next wait would not fit: longer than Policy.MaxWait, or ending
// too late for another attempt as long as the last one before ctx's
// deadline. It never sleeps past the deadline. A Retry-After (see
// RetryAfterOf) is honoured, and held in the Limiter so that other callers
// of the same webhook respect it too.
//
// It returns nil on success, else a *DeliveryError holding the last error,
// the number of attempts made and why it stopped. Its Retryable verdict is
// whether a later run may succeed: false after a permanent error or when
// ctx was cancelled, true when it ran out of attempts or time.
func (r *Retrier) Do(ctx context.Context, t Target, attempt func(context.Context) error) error {
	p := r.Policy.withDefaults()
	fail := func(n int, last error, retry bool, reason string) error {
		return &DeliveryError{Service: t.Service, Attempts: n, Reason: reason, Err: last, retry: retry}
	}
	var last error
	for n := 0; ; {
		if err := r.Limiter.Wait(ctx, t.Key, t.Limit, p.MaxWait); err != nil {
			_, limited := errors.AsType[*LimitError](err)
			if n == 0 {
				return fail(0, err, limited || !errors.Is(err, context.Canceled), "")
			}
			if limited {
				return fail(n, last, true, fmt.Sprintf("gave up after %s: %v", attempts(n), err))
			}
			return fail(n, last, !errors.Is(err, context.Canceled), fmt.Sprintf("stopped after %s: %v", attempts(n), err))
		}
		n++
		start := time.Now()
		err := attempt(ctx)
		if err == nil {
			return nil
		}
		last = err
		took := time.Since(start)

		if cerr := ctx.Err(); cerr != nil {
			return fail(n, last, !errors.Is(cerr, context.Canceled), fmt.Sprintf("stopped after %s: %v", attempts(n), cerr))
		}
		if !Retryable(err) {
			reason := ""
			if n > 1 {
				reason = "after " + attempts(n)
			}
			return fail(n, last, false, reason)
		}
		after := RetryAfterOf(err)
		if after > 0 {
			// Whether or not this call waits, nobody else should post
			// before then either.
			r.Limiter.Hold(t.Key, time.Now().Add(after), codeOf(err))
		}
		if p.MaxAttempts == 1 {
			return fail(n, last, true, "") // retrying is off: the error says it all
		}
		if n >= p.MaxAttempts {
			return fail(n, last, true, "gave up after "+attempts(n))
		}
		if after > p.MaxWait {
			return fail(n, last, true, fmt.Sprintf("gave up after %s: the service asked to wait %s, longer than the %s a retry may wait",
				attempts(n), round(after), round(p.MaxWait)))
		}
		wait := max(p.backoff(n), after)
		if deadline, ok := ctx.Deadline(); ok {
			if left := time.Until(deadline); wait+took > left {
				what := "the next try in " + round(wait).String()
				if after > 0 {
					what = "waiting " + round(after).String() + " as the service asked"
				}
				return fail(n, last, true, fmt.Sprintf("gave up after %s: no time left for another before the deadline (%s, %s left)",
					attempts(n), what, round(max(left, 0))))
			}
		}
		if p.OnRetry != nil {
			p.OnRetry(n, err, wait)
		}
		if !sleep(ctx, wait) {
			cerr := ctx.Err()
			return fail(n, last, !errors.Is(cerr, context.Canceled), fmt.Sprintf("stopped after %s: %v", attempts(n), cerr))
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func attempts(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return strconv.Itoa(n) + " attempts"
}

// codeOf names what asked for a pause, for a LimitError: "errcode 130101",
// "HTTP 429".
func codeOf(err error) string {
	if he, ok := errors.AsType[*HTTPError](err); ok {
		if strings.HasPrefix(he.Code, "errcode ") {
			return he.Code
		}
		if he.StatusCode != 0 && he.StatusCode != http.StatusOK {
			return "HTTP " + strconv.Itoa(he.StatusCode)
		}
	}
	return "Retry-After"
}

// DeliveryError is a message that was not delivered: the last attempt's
// error, how many attempts were made and why the Retrier stopped. Its text
// is the last error's, followed by the reason when there is more to say
// than the error itself ("; gave up after 4 attempts").
type DeliveryError struct {
	Service  string // "slack", "dingtalk"
	Attempts int    // requests made; 0 when none was (the rate limit, a cancelled caller)
	// Reason says why it stopped, with the number of attempts: "gave up
	// after 4 attempts", "gave up after 1 attempt: the service asked to
	// wait 10m0s, ...". Empty when the last error says it all: a permanent
	// error on the first attempt, or retrying off.
	Reason string
	Err    error // the last attempt's error; when no attempt was made, why not
	retry  bool
}

func (e *DeliveryError) Error() string {
	if e.Attempts == 0 {
		return e.Service + ": not sent: " + e.Err.Error()
	}
	if e.Reason == "" {
		return e.Err.Error()
	}
	return e.Err.Error() + "; " + e.Reason
}

func (e *DeliveryError) Unwrap() error { return e.Err }

// Retryable reports whether sending the message again in a later run may
// succeed: not after a permanent error or when the caller gave up.
func (e *DeliveryError) Retryable() bool { return e.retry }

// Attempts returns how many requests the delivery that returned err made,
// or 0 when err does not say (it is not from a Retrier).
func Attempts(err error) int {
	if de, ok := errors.AsType[*DeliveryError](err); ok {
		return de.Attempts
	}
	return 0
}

// RetryAfterOf returns the wait a failed attempt asked for: the RetryAfter
// of the *HTTPError in err's chain (the integrations copy slack-go's
// RateLimitedError and the Retry-After header there); 0 when none.
func RetryAfterOf(err error) time.Duration {
	if he, ok := errors.AsType[*HTTPError](err); ok && he.RetryAfter > 0 {
		return he.RetryAfter
	}
	return 0
}

// ParseRetryAfter reads a Retry-After header: delay seconds or an HTTP date
// (RFC 9110), relative to now, in whole seconds. It returns false for an empty, malformed or
// past value.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0, false
		}
		if s > int64(24*time.Hour/time.Second) {
			s = int64(24 * time.Hour / time.Second) // nonsense; cap it rather than overflow
		}
		return time.Duration(s) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	if d <= 0 {
		return 0, false
	}
	// The date has whole seconds; so does the wait, rounded up so as not to
	// come back early.
	return (d + time.Second - 1).Truncate(time.Second), true
}
