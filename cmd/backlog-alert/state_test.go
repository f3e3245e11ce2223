package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReplayWithNow drives the CLI through simulated time with --now, the
// way an operator replays a timeline.
func TestReplayWithNow(t *testing.T) {
	api, sink := setup(t)
	statePath := filepath.Join(t.TempDir(), "state.json")
	rules := writeRules(t, strings.Replace(goodRules, "    notify: [team-slack, ops-dingtalk]", "    for: 10m\n    repeat: 1h\n    notify: [team-slack]", 1))
	t0 := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	type alert struct {
		Group, Condition, Severity, State string
		Notified                          bool
	}
	replay := func(at time.Duration, lag int64) ([]alert, int) {
		t.Helper()
		g := behind("orders-eu", lag, 0)
		for i := range g.Topics[0].Partitions { // timestamps relative to the replayed time
			g.Topics[0].Partitions[i].LastTimestamp = t0.Add(at).UnixMilli()
		}
		g.LastTimestamp, g.Topics[0].LastTimestamp = t0.Add(at).UnixMilli(), t0.Add(at).UnixMilli()
		api.SetGroup(g)
		before := len(sink.Received())
		code, stdout, stderr := cli(t, "run", "--rules", rules, "--state", statePath, "--now", t0.Add(at).Format(time.RFC3339), "--json")
		if code != 0 {
			t.Fatalf("at %v: exit %d\n%s", at, code, stderr)
		}
		var rep struct{ Alerts []alert }
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
			t.Fatal(err)
		}
		return rep.Alerts, len(sink.Received()) - before
	}
	steps := []struct {
		at        time.Duration
		lag       int64
		state     string
		notified  bool
		messages  int
		condition string
	}{
		{0, 500, "pending", false, 0, "backlog"},
		{10 * time.Minute, 500, "firing", true, 1, "backlog"},
		{30 * time.Minute, 500, "firing", false, 0, "backlog"}, // no repeat before repeat
		{70 * time.Minute, 500, "firing", true, 1, "backlog"},  // reminder
		{75 * time.Minute, 5, "resolved", true, 1, "backlog"},
	}
	for _, s := range steps {
		alerts, messages := replay(s.at, s.lag)
		if len(alerts) != 1 || alerts[0].State != s.state || alerts[0].Notified != s.notified || messages != s.messages {
			t.Errorf("at %v: alerts %+v, %d messages; want %s notified=%v, %d messages", s.at, alerts, messages, s.state, s.notified, s.messages)
		}
	}
}

func TestStateShowAndCorruptState(t *testing.T) {
	api, _ := setup(t)
	api.SetGroup(behind("orders-eu", 5000, time.Hour))
	statePath := filepath.Join(t.TempDir(), "state.json")
	rules := writeRules(t, goodRules)
	os.WriteFile(statePath, []byte("{ this is not json"), 0o600)

	code, stdout, stderr := cli(t, "run", "--rules", rules, "--state", statePath)
	if code != 0 || !strings.Contains(stdout, "warning  state in file "+statePath+" is corrupt") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if aside, _ := filepath.Glob(statePath + ".corrupt-*"); len(aside) != 1 {
		t.Errorf("corrupt state not kept aside: %v", aside)
	}

	code, stdout, stderr = cli(t, "state", "show", "--state", statePath)
	if code != 0 {
		t.Fatalf("state show: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"state: file " + statePath, "2 alerts, 1 groups remembered", "CRITICAL backlog orders-eu", "firing for", "team-slack: told firing (critical)", "ops-dingtalk: told firing (warning)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("state show lacks %q:\n%s", want, stdout)
		}
	}
	if code, _, _ := cli(t, "state", "list"); code != 2 {
		t.Errorf("state list: exit %d, want 2", code)
	}
}
