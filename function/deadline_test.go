package function

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/rules"
	"github.com/backlog-alert/backlog-alert/state"
)

// A channel that never answers holds back neither the record of a channel
// that did, nor the saving of the state: the run's deadline passes while it
// waits, the state is saved all the same, and the next run tells the slow
// channel, not the fast one, again.
func TestHangingChannelHoldsBackNothing(t *testing.T) {
	w := newWorld(t, testRules)
	var hangs atomic.Bool
	hangs.Store(true)
	release := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hangs.Load() {
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		w.Write([]byte("ok"))
	}))
	t.Cleanup(func() { close(release); hanging.Close() })
	env := map[string]string{
		"SLACK_URL":       hanging.URL + "/services/T0/B0/hangs",
		"DINGTALK_URL":    w.sink.DingTalkURL("ops-dingtalk", robot),
		"DINGTALK_SECRET": signing,
	}
	var err error
	w.file, err = rules.Parse("test.yaml", []byte(testRules), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	w.api.SetGroup(grp("billing", 18_000, ago(47*time.Minute)))

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	rep, err := Run(ctx, Options{Rules: w.file, Now: now, Credentials: &w.creds, Endpoint: w.api.URL, State: w.state, NotifyOptions: fastDelivery})
	if err != nil {
		t.Fatal(err)
	}
	sent := map[string]bool{}
	for _, n := range rep.Notifications {
		sent[n.Channel] = n.Sent
	}
	if !sent["ops-dingtalk"] || sent["team-slack"] || len(w.sink.Received()) != 1 {
		t.Fatalf("notifications: %+v", rep.Notifications)
	}
	for _, e := range rep.Errors {
		if strings.Contains(e, "saving state") {
			t.Fatalf("the state was not saved: %v", rep.Errors)
		}
	}

	// The next run, in time: the slow channel answers now and is told; the
	// other is not told again.
	hangs.Store(false)
	rep = w.run(t, func(o *Options) { o.Now = now.Add(time.Minute) })
	if len(w.sink.Received()) != 1 {
		t.Errorf("dingtalk was told again: %d messages", len(w.sink.Received()))
	}
	for _, n := range rep.Notifications {
		if n.Channel == "ops-dingtalk" || !n.Sent {
			t.Errorf("after the deadline run: %+v", n)
		}
	}
	if len(rep.Notifications) != 1 {
		t.Errorf("slack is due again: %+v", rep.Notifications)
	}
}

// While another run holds the state's lease, a run does nothing: it sends
// nothing, saves nothing, says who holds the state, and exits 0.
func TestOverlappingRunLeavesTheWorkToTheHolder(t *testing.T) {
	w := newWorld(t, testRules)
	w.api.SetGroup(grp("billing", 18_000, ago(47*time.Minute)))
	store, err := state.Open(w.state, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	held, err := store.Lock(context.Background(), "the other run", time.Second, time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	rep := w.run(t, func(o *Options) { o.LockWait = 200 * time.Millisecond })
	if !strings.Contains(rep.Skipped, "another run holds the state") || !strings.Contains(rep.Skipped, "the other run") ||
		len(w.sink.Received()) != 0 || ExitCode(rep, nil) != ExitOK {
		t.Fatalf("skipped %q, sent %d, errors %v", rep.Skipped, len(w.sink.Received()), rep.Errors)
	}
	if err := held.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Released: the next run does the work, once.
	if rep = w.run(t); rep.Skipped != "" || len(w.sink.Received()) != 2 {
		t.Errorf("after release: skipped %q, sent %d", rep.Skipped, len(w.sink.Received()))
	}
}
