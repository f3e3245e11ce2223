package state_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/state"
	"github.com/backlog-alert/backlog-alert/state/osstest"
)

const lockKey = key + ".lock"

// lockBody is a lock object as another run would have written it.
func lockBody(t *testing.T, owner string, since, expires time.Time) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"owner": owner, "since": since, "expires": expires, "nonce": owner})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOSSLockUnlock(t *testing.T) {
	ctx := context.Background()
	srv := osstest.NewServer()
	defer srv.Close()
	st := openOSS(t, srv, permanent)
	until := time.Now().Add(time.Hour)

	lease, err := st.Lock(ctx, "run-a", 0, until)
	if err != nil {
		t.Fatal(err)
	}
	if lease.TookOver() != "" {
		t.Errorf("TookOver = %q", lease.TookOver())
	}
	if err := lease.Held(ctx); err != nil {
		t.Errorf("Held = %v", err)
	}
	data, ok := srv.Object(bucket, lockKey)
	if !ok {
		t.Fatalf("no lock object; keys %v", srv.Keys(bucket))
	}
	var body struct {
		Owner          string
		Since, Expires time.Time
	}
	if err := json.Unmarshal(data, &body); err != nil || body.Owner != "run-a" || body.Since.IsZero() ||
		!body.Expires.Equal(until.Add(state.LeaseMargin)) {
		t.Errorf("lock object %s (%v), want owner run-a, since and expires = until + %v", data, err, state.LeaseMargin)
	}
	var creates int
	for _, r := range srv.Requests() {
		if r.Method == "PUT" && r.Key == lockKey {
			creates++
			if r.Header.Get("x-oss-forbid-overwrite") != "true" {
				t.Errorf("lock created without x-oss-forbid-overwrite: %v", r.Header)
			}
		}
	}
	if creates != 1 {
		t.Errorf("%d PutObject of the lock, want 1", creates)
	}

	if err := lease.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := srv.Object(bucket, lockKey); ok {
		t.Error("Release left the lock object")
	}
	if err := lease.Release(ctx); err != nil {
		t.Errorf("second Release = %v", err)
	}
	if err := lease.Held(ctx); !errors.Is(err, state.ErrLeaseLost) {
		t.Errorf("Held after Release = %v, want ErrLeaseLost", err)
	}
	again, err := st.Lock(ctx, "run-b", 0, until)
	if err != nil {
		t.Fatalf("Lock after Release = %v", err)
	}
	_ = again.Release(ctx)
	if keys := srv.Keys(bucket); len(keys) != 0 {
		t.Errorf("objects left: %v", keys)
	}
}

func TestOSSLockHeldByAnother(t *testing.T) {
	ctx := context.Background()
	srv := osstest.NewServer()
	defer srv.Close()
	until := time.Now().Add(time.Hour)
	first, err := openOSS(t, srv, permanent).Lock(ctx, "run-a", 0, until)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		wait time.Duration
	}{
		{"no wait", 0},
		{"wait", 700 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := openOSS(t, srv, permanent).Lock(ctx, "run-b", tt.wait, until)
			var le *state.LockedError
			if !errors.Is(err, state.ErrLocked) || !errors.As(err, &le) {
				t.Fatalf("second Lock = %v, want a *LockedError", err)
			}
			if time.Since(start) < tt.wait {
				t.Errorf("gave up after %v, before the wait of %v", time.Since(start), tt.wait)
			}
			if le.Owner != "run-a" || le.Since.IsZero() || !le.Expires.Equal(until.Add(state.LeaseMargin)) {
				t.Errorf("LockedError %+v", le)
			}
			if !strings.Contains(err.Error(), "another run holds the state: run-a, since ") || !strings.Contains(err.Error(), location) {
				t.Errorf("error %q", err)
			}
			assertNoSecrets(t, err.Error(), permanent)
		})
	}
	if err := first.Held(ctx); err != nil {
		t.Errorf("the holder's Held = %v", err)
	}

	// A waiter gets the lease once the holder releases it.
	done := make(chan error, 1)
	waiter := openOSS(t, srv, permanent)
	go func() {
		l, err := waiter.Lock(ctx, "run-c", time.Minute, until)
		if err == nil {
			err = l.Release(ctx)
		}
		done <- err
	}()
	time.Sleep(600 * time.Millisecond)
	if err := first.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("waiting Lock = %v", err)
	}
}

func TestOSSLockTakeOver(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		seed     func(t *testing.T, srv *osstest.Server, st state.Store) state.Lease
		tookOver string
	}{
		{
			name: "expired lease of a run",
			seed: func(t *testing.T, srv *osstest.Server, st state.Store) state.Lease {
				// until in the past: expired as soon as taken.
				l, err := st.Lock(ctx, "run-a", 0, time.Now().Add(-time.Minute))
				if err != nil {
					t.Fatal(err)
				}
				return l
			},
			tookOver: "run-a, since ",
		},
		{
			name: "garbled lock object",
			seed: func(t *testing.T, srv *osstest.Server, st state.Store) state.Lease {
				srv.PutObject(bucket, lockKey, []byte("not json"))
				return nil
			},
			tookOver: "unreadable lock object",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := osstest.NewServer()
			defer srv.Close()
			old := tt.seed(t, srv, openOSS(t, srv, permanent))

			lease, err := openOSS(t, srv, permanent).Lock(ctx, "run-b", 0, time.Now().Add(time.Hour))
			if err != nil {
				t.Fatalf("Lock over a stale lock = %v", err)
			}
			if got := lease.TookOver(); !strings.Contains(got, tt.tookOver) {
				t.Errorf("TookOver = %q, want it to contain %q", got, tt.tookOver)
			}
			if err := lease.Held(ctx); err != nil {
				t.Errorf("Held = %v", err)
			}
			if old != nil {
				if err := old.Held(ctx); !errors.Is(err, state.ErrLeaseLost) {
					t.Errorf("the stale lease's Held = %v, want ErrLeaseLost", err)
				}
				if err := old.Release(ctx); !errors.Is(err, state.ErrLeaseLost) {
					t.Errorf("the stale lease's Release = %v, want ErrLeaseLost", err)
				}
			}
			if err := lease.Held(ctx); err != nil {
				t.Errorf("Held after the stale lease's Release = %v: it deleted the new lock", err)
			}
			if keys := srv.Keys(bucket); len(keys) != 1 || keys[0] != lockKey {
				t.Errorf("objects %v, want only the lock (no takeover marker)", keys)
			}
		})
	}
}

// TestOSSLockHeldLost checks Held and Release of a lease whose lock object
// another run replaced (If-Match fails: 412) or removed.
func TestOSSLockHeldLost(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		change  func(srv *osstest.Server)
		wantMsg string
	}{
		{"taken over", func(srv *osstest.Server) {
			now := time.Now()
			srv.PutObject(bucket, lockKey, []byte(fmt.Sprintf(`{"owner":"run-b","since":%q,"expires":%q}`,
				now.Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339))))
		}, "another run took it over"},
		{"removed", func(srv *osstest.Server) { srv.DeleteObject(bucket, lockKey) }, "removed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := osstest.NewServer()
			defer srv.Close()
			lease, err := openOSS(t, srv, permanent).Lock(ctx, "run-a", 0, time.Now().Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			tt.change(srv)
			err = lease.Held(ctx)
			if !errors.Is(err, state.ErrLeaseLost) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Held = %v, want ErrLeaseLost saying %q", err, tt.wantMsg)
			}
			before, _ := srv.Object(bucket, lockKey)
			_ = lease.Release(ctx)
			if after, _ := srv.Object(bucket, lockKey); string(after) != string(before) {
				t.Errorf("Release changed another run's lock from %q to %q", before, after)
			}
		})
	}
}

// TestOSSLockConcurrentTakeOver has 20 runs find the same expired lock at once:
// exactly one gets the lease.
func TestOSSLockConcurrentTakeOver(t *testing.T) {
	ctx := context.Background()
	srv := osstest.NewServer()
	defer srv.Close()
	for round := range 3 {
		srv.PutObject(bucket, lockKey, lockBody(t, fmt.Sprintf("dead-%d", round), time.Now().Add(-time.Hour), time.Now().Add(-time.Minute)))
		const runs = 20
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			won    []string
			leases []state.Lease
		)
		for i := range runs {
			st := openOSS(t, srv, permanent)
			wg.Go(func() {
				owner := fmt.Sprintf("run-%d", i)
				l, err := st.Lock(ctx, owner, 0, time.Now().Add(time.Hour))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won = append(won, owner)
					leases = append(leases, l)
				case !errors.Is(err, state.ErrLocked):
					t.Errorf("%s: Lock = %v, want success or ErrLocked", owner, err)
				}
			})
		}
		wg.Wait()
		if len(won) != 1 {
			t.Fatalf("round %d: %d runs got the lease: %v", round, len(won), won)
		}
		if err := leases[0].Held(ctx); err != nil {
			t.Errorf("round %d: the winner's Held = %v", round, err)
		}
		if data, _ := srv.Object(bucket, lockKey); !strings.Contains(string(data), `"owner":"`+won[0]+`"`) {
			t.Errorf("round %d: lock object %s, want the winner %s", round, data, won[0])
		}
		if keys := srv.Keys(bucket); len(keys) != 1 {
			t.Errorf("round %d: objects %v, want only the lock", round, keys)
		}
	}
}

func TestOSSLockErrors(t *testing.T) {
	ctx := context.Background()
	srv := osstest.NewServer()
	defer srv.Close()
	until := time.Now().Add(time.Hour)

	if _, err := openOSS(t, srv, state.Credentials{}).Lock(ctx, "run", 0, until); !errors.Is(err, state.ErrNoCredentials) {
		t.Errorf("Lock without credentials = %v", err)
	}
	if _, err := openOSS(t, srv, permanent).Lock(ctx, "run", 0, time.Time{}); err == nil || !strings.Contains(err.Error(), "no deadline") {
		t.Errorf("Lock without a deadline = %v", err)
	}
	srv.Fail(osstest.Fault{Method: "PUT", Key: lockKey, Status: 403, Times: 1})
	_, err := openOSS(t, srv, permanent).Lock(ctx, "run", 0, until)
	var oe *state.OSSError
	if !errors.As(err, &oe) || oe.StatusCode != 403 || oe.Op != "PutObject" || errors.Is(err, state.ErrLocked) {
		t.Errorf("Lock refused by OSS = %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := openOSS(t, srv, permanent).Lock(cctx, "run", 0, until); !errors.Is(err, context.Canceled) {
		t.Errorf("Lock with a cancelled context = %v", err)
	}
}
