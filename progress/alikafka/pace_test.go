package alikafka

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		want Class
	}{
		{&APIError{HTTPStatus: 400, Code: "Throttling.User"}, Throttled},
		{&APIError{HTTPStatus: 400, Code: "Throttling"}, Throttled},
		{&APIError{HTTPStatus: 503, Code: "Throttling.Api"}, Throttled},
		{&APIError{HTTPStatus: 400, Code: "Throttling.Anything.New"}, Throttled},
		{&APIError{HTTPStatus: 200, Code: "ONS_SYSTEM_FLOW_CONTROL"}, Throttled},
		{&APIError{HTTPStatus: 429}, Throttled},
		{&APIError{HTTPStatus: 500, Code: "InternalError"}, Transient},
		{&APIError{HTTPStatus: 502, Message: "<html>bad gateway</html>"}, Transient},
		{&APIError{HTTPStatus: 503, Code: "ServiceUnavailable"}, Transient},
		{&APIError{HTTPStatus: 200, Code: "ONS_SYSTEM_ERROR"}, Transient},
		{&APIError{HTTPStatus: 200, Code: "500"}, Transient},
		{&APIError{HTTPStatus: 400, Code: "SignatureNonceUsed"}, Transient},
		{&APIError{HTTPStatus: 200, Code: "BIZ_SUBSCRIPTION_NOT_FOUND"}, Permanent},
		{&APIError{HTTPStatus: 404, Code: "InvalidAccessKeyId.NotFound"}, Permanent},
		{&APIError{HTTPStatus: 400, Code: "SignatureDoesNotMatch"}, Permanent},
		{&APIError{HTTPStatus: 400, Code: "InvalidSecurityToken.Expired"}, Permanent},
		{&APIError{HTTPStatus: 403, Code: "Forbidden.RAM"}, Permanent},
		{&APIError{HTTPStatus: 400, Code: "ThrottlingX"}, Permanent},
		{&APIError{HTTPStatus: 200, Code: "200"}, Permanent},
		{&transportError{msg: "connection refused"}, Transient},
		{&transportError{msg: "timeout", timeout: true}, Transient},
		{&transportError{msg: "cannot decode", permanent: true}, Permanent},
		{errors.New("other"), Permanent},
		{nil, Permanent},
	}
	for _, tt := range tests {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("Classify(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestPacer(t *testing.T) {
	p := newPacer(50)
	before := time.Now()
	time.Sleep(time.Millisecond)
	p.throttled(time.Now())
	if p.cur != 35 || p.min != 35 {
		t.Fatalf("after one throttle: %v (min %v), want 35", p.cur, p.min)
	}
	// A reply to a call reserved before the cut does not cut again.
	p.throttled(before)
	if p.cur != 35 {
		t.Fatalf("cut twice for one generation: %v", p.cur)
	}
	for range 20 {
		time.Sleep(time.Millisecond)
		p.throttled(time.Now())
	}
	if p.cur != 1 || p.min != 1 {
		t.Fatalf("floor: %v", p.cur)
	}
	// Recovery: +2.5/s after a streak as long as the current rate (>= 5).
	at := time.Now().Add(time.Millisecond)
	for range 4 {
		p.succeeded(at)
	}
	if p.cur != 1 {
		t.Fatalf("raised before a streak: %v", p.cur)
	}
	p.succeeded(at)
	if p.cur != 3.5 || float64(p.lim.Limit()) != 3.5 {
		t.Fatalf("after a streak: %v (limiter %v)", p.cur, p.lim.Limit())
	}
	p.failed()
	for range 1000 {
		p.succeeded(at)
	}
	if p.cur != 50 || p.min != 1 {
		t.Fatalf("recovered to %v (min %v), want 50 (1)", p.cur, p.min)
	}
}

// Checked on the waits the pacer computes, not on how long it took: with a
// slot an hour apart, nobody waits one out, whatever the machine's speed.
func TestPacerWaitHonoursDeadline(t *testing.T) {
	p := newPacer(1.0 / 3600) // a slot every hour
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := p.wait(ctx); err != nil {
		t.Fatalf("first slot: %v", err)
	}
	// The next slot is past the deadline: given up at once with a
	// *slotError (a wait for it would have ended with the deadline's error,
	// after 10s), saying how far the slot was.
	_, err := p.wait(ctx)
	var se *slotError
	if !errors.As(err, &se) || se.wait <= se.left || se.wait < 59*time.Minute || se.wait > time.Hour {
		t.Fatalf("err %v (%+v), want a *slotError for the slot an hour away", err, se)
	}
	// The slot given up is not lost: the next caller is told the same
	// hour; a lost slot would mean two.
	_, err = p.wait(ctx)
	var again *slotError
	if !errors.As(err, &again) || again.wait > time.Hour || again.wait < 59*time.Minute {
		t.Errorf("err %v (%+v), want the same slot, an hour away", err, again)
	}
	cancelled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := p.wait(cancelled); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestBackoff(t *testing.T) {
	for n, want := range map[int]time.Duration{1: RetryBaseDelay, 2: 2 * RetryBaseDelay, 3: 4 * RetryBaseDelay, 6: RetryMaxDelay, 100: RetryMaxDelay} {
		for range 50 {
			if d := backoff(n); d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %v, want %v..%v", n, d, want/2, want)
			}
		}
	}
}
