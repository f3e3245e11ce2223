package function

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/lifecycle"
	"github.com/backlog-alert/backlog-alert/notify/chattest"
	"github.com/backlog-alert/backlog-alert/progress"
	"github.com/backlog-alert/backlog-alert/state/osstest"
)

// These scenarios drive sequences of runs with simulated time through
// function.Run: the real SDK against the fake endpoint, the real clients
// against the chat sink, and the state in a real file (or OSS object).

const lifecycleRules = `version: 1
defaults:
  region: cn-hangzhou
  notify: [team-slack]
  repeat: 1h
` + channelsYAML + `silences:
  - matchers: {group: "quiet-*"}
    starts: 2026-11-21T12:00:00Z
    ends: 2026-11-21T13:00:00Z
    comment: planned reindex
rules:
  - name: orders
    instance: ` + instance + `
    groups: ["orders-*", "quiet-*"]
    backlog: {warning: 1000, critical: 100000, resolve_below: 500}
    for: 10m
    notify: [team-slack, ops-dingtalk]
  - name: stuck
    instance: ` + instance + `
    groups: ["legacy"]
    level: partition
    stuck: {warning: 15m, critical: 30m}
  - name: office
    instance: ` + instance + `
    groups: ["batch"]
    backlog: {warning: 10}
    active_hours: {days: [mon, tue, wed, thu, fri], from: "09:00", to: "18:00", tz: Asia/Shanghai}
`

// sent runs once at now+at and returns what the sink received in that run,
// as "channel: kind severity where" lines in a stable order.
func (w *world) sent(t *testing.T, at time.Duration, mutate ...func(*Options)) ([]string, *Report) {
	t.Helper()
	before := len(w.sink.Received())
	rep := w.run(t, append([]func(*Options){func(o *Options) { o.Now = now.Add(at) }}, mutate...)...)
	var lines []string
	for _, m := range w.sink.Received()[before:] {
		lines = append(lines, m.Channel+": "+firstLines(m.Readable()))
	}
	slices.Sort(lines)
	return lines, rep
}

// firstLines keeps the headline of a received message: enough to tell the
// kinds apart.
func firstLines(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

func states(rep *Report) map[string]string {
	out := map[string]string{}
	for _, a := range rep.Alerts {
		out[a.Where()+" "+string(a.Condition)] = a.State + "/" + string(a.Severity)
	}
	return out
}

func TestLifecycleThroughRun(t *testing.T) {
	w := newWorld(t, lifecycleRules)
	min := time.Minute
	set := func(g progress.Group) { w.api.SetGroup(g) }
	set(grp("orders-eu", 5000, ago(time.Second)))

	got, rep := w.sent(t, 0)
	if len(got) != 0 || states(rep)["orders-eu backlog"] != "pending/warning" {
		t.Fatalf("run 1: sent %v, states %v", got, states(rep))
	}
	got, rep = w.sent(t, 10*min)
	if len(got) != 2 || !strings.Contains(got[0], "1 consumer group behind") || states(rep)["orders-eu backlog"] != "firing/warning" {
		t.Fatalf("run 2 (for: 10m held): sent %v, states %v", got, states(rep))
	}
	if got, _ = w.sent(t, 30*min); len(got) != 0 {
		t.Errorf("no repeat before repeat: sent %v", got)
	}
	if got, _ = w.sent(t, 70*min); len(got) != 2 || !strings.Contains(got[0], "still firing") {
		t.Errorf("reminder after repeat: sent %v", got)
	}
	set(grp("orders-eu", 200_000, ago(time.Second)))
	if got, _ = w.sent(t, 75*min); len(got) != 2 || !strings.Contains(got[0], "escalated") {
		t.Errorf("escalation: sent %v", got)
	}
	set(grp("orders-eu", 800, ago(time.Second))) // below warning, above resolve_below
	if got, rep = w.sent(t, 80*min); len(got) != 2 || !strings.Contains(got[0], "downgraded") || states(rep)["orders-eu backlog"] != "firing/warning" {
		t.Errorf("hysteresis holds it as a warning: sent %v, states %v", got, states(rep))
	}
	set(grp("orders-eu", 100, ago(time.Second)))
	if got, rep = w.sent(t, 85*min); len(got) != 2 || !strings.Contains(got[0], "resolved") || states(rep)["orders-eu backlog"] != "resolved/warning" {
		t.Errorf("resolution: sent %v, states %v", got, states(rep))
	}
	if got, rep = w.sent(t, 90*min); len(got) != 0 || len(rep.Alerts) != 0 {
		t.Errorf("after resolution: sent %v, alerts %v", got, states(rep))
	}
}

func TestStuckWithUnknownTimestampThroughRun(t *testing.T) {
	w := newWorld(t, lifecycleRules)
	w.api.SetGroup(grp("legacy", 300, -1)) // no timestamps, offsets never move
	for _, at := range []time.Duration{0, 5 * time.Minute, 10 * time.Minute} {
		if got, _ := w.sent(t, at); len(got) != 0 {
			t.Fatalf("at %v: sent %v", at, got)
		}
	}
	got, rep := w.sent(t, 15*time.Minute)
	if len(got) != 1 || states(rep)["legacy / orders [p0] stuck"] != "firing/warning" {
		t.Fatalf("stuck: sent %v, states %v", got, states(rep))
	}
	if len(rep.UnknownAge) != 0 { // the stuck rule has no stale threshold
		t.Errorf("unknown ages: %v", rep.UnknownAge)
	}
}

func TestSilenceAndActiveHoursThroughRun(t *testing.T) {
	w := newWorld(t, lifecycleRules)
	w.api.SetGroup(grp("quiet-1", 5000, ago(time.Second))) // silenced 12:00-13:00 UTC
	w.api.SetGroup(grp("batch", 50, ago(time.Second)))     // active 09:00-18:00 Shanghai = 01:00-10:00 UTC
	got, rep := w.sent(t, 15*time.Minute)                  // 12:15 UTC, a Saturday: batch is outside hours too
	if len(got) != 0 {
		t.Fatalf("sent %v", got)
	}
	for _, a := range rep.Alerts {
		if a.Group == "quiet-1" && (!a.Silenced || !strings.Contains(a.SilencedBy, "planned reindex")) {
			t.Errorf("quiet-1 not silenced: %+v", a)
		}
	}
	if _, ok := states(rep)["batch backlog"]; ok {
		t.Errorf("batch fired outside active hours: %v", states(rep))
	}
	// After the silence: quiet-1 is told. Monday 09:00 Shanghai: batch fires.
	got, _ = w.sent(t, 61*time.Minute)
	if len(got) != 2 || !strings.Contains(strings.Join(got, " "), "1 consumer group behind") {
		t.Errorf("after the silence: %v", got)
	}
	monday := time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC).Sub(now)
	got, rep = w.sent(t, monday) // quiet-1 is also due a reminder by then
	if len(got) != 2 || got[1] != "team-slack: :warning: 1 firing, 1 still firing" || states(rep)["batch backlog"] != "firing/warning" {
		t.Errorf("inside active hours: sent %v, states %v", got, states(rep))
	}
}

func TestGroupGoneThroughRun(t *testing.T) {
	w := newWorld(t, lifecycleRules)
	w.api.SetGroup(grp("orders-eu", 5000, ago(time.Second)))
	w.sent(t, 0)
	w.sent(t, 10*time.Minute) // fires
	w.api.RemoveGroup(instance, "orders-eu")
	got, rep := w.sent(t, 15*time.Minute)
	if len(got) != 2 || !strings.Contains(got[0], "group gone") || len(rep.Gone) != 1 {
		t.Fatalf("gone: sent %v, gone %v", got, rep.Gone)
	}
	if got, _ = w.sent(t, 20*time.Minute); len(got) != 0 {
		t.Errorf("gone is said once: %v", got)
	}
	w.sent(t, 15*time.Minute+24*time.Hour)
	st := readState(t, w.state)
	if len(st.Groups) != 0 || len(st.Alerts) != 0 {
		t.Errorf("not forgotten after forget_after: %d groups, %d alerts", len(st.Groups), len(st.Alerts))
	}
}

func TestFailedSendRetriedThroughRun(t *testing.T) {
	w := newWorld(t, lifecycleRules)
	w.api.SetGroup(grp("orders-eu", 5000, ago(time.Second)))
	w.sent(t, 0)
	// Fails more often than a run retries: the next run delivers it.
	w.sink.Fail("ops-dingtalk", chattest.Failure{Status: 502, Times: 3})
	got, rep := w.sent(t, 10*time.Minute)
	if len(got) != 1 || !strings.HasPrefix(got[0], "team-slack") || ExitCode(rep, nil) != ExitErrors {
		t.Fatalf("first attempt: sent %v, exit %d", got, ExitCode(rep, nil))
	}
	got, rep = w.sent(t, 15*time.Minute)
	if len(got) != 1 || !strings.HasPrefix(got[0], "ops-dingtalk") || !strings.Contains(got[0], "behind") {
		t.Fatalf("retry: sent %v", got)
	}
	if !rep.Alerts[0].Notified {
		t.Error("retried alert not marked notified")
	}
	if got, _ = w.sent(t, 20*time.Minute); len(got) != 0 {
		t.Errorf("sent twice: %v", got)
	}
}

func TestCorruptStateRecovered(t *testing.T) {
	w := newWorld(t, lifecycleRules)
	w.api.SetGroup(grp("orders-eu", 5000, ago(time.Second)))
	if err := os.WriteFile(w.state, []byte(`{"version": 1, "alerts": [`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, rep := w.sent(t, 0)
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "corrupt") || states(rep)["orders-eu backlog"] != "pending/warning" {
		t.Fatalf("warnings %v, states %v", rep.Warnings, states(rep))
	}
	aside, _ := filepath.Glob(w.state + ".corrupt-*")
	if len(aside) != 1 {
		t.Errorf("corrupt state not kept aside: %v", aside)
	}
	if st := readState(t, w.state); len(st.Alerts) != 1 {
		t.Errorf("the run did not save a fresh state: %+v", st)
	}
}

// A state location holding what this program must not replace — a newer
// version's state, another program's JSON — stops the run before any API
// call, and is left as it was.
func TestStateNotOursIsRefused(t *testing.T) {
	for _, tc := range []struct{ name, doc, says string }{
		{"newer version", `{"format": "backlog-alert/state", "version": 99, "alerts": {}}`, "newer version"},
		{"another program's JSON", `{"version": 1, "name": "deploy-bot", "targets": ["a"]}`, "not a backlog-alert state document"},
		{"a JSON array", `[{"version": 1}]`, "not a backlog-alert state document"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, lifecycleRules)
			os.WriteFile(w.state, []byte(tc.doc), 0o600)
			_, err := Run(context.Background(), Options{Rules: w.file, Now: now, Credentials: &w.creds, Endpoint: w.api.URL, State: w.state})
			if ExitCode(nil, err) != ExitSetup || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("err = %v", err)
			}
			if data, _ := os.ReadFile(w.state); string(data) != tc.doc {
				t.Error("the document was overwritten")
			}
			if n := len(w.api.Requests()); n != 0 {
				t.Errorf("%d OpenAPI calls before refusing", n)
			}
		})
	}
}

func TestStateInOSS(t *testing.T) {
	w := newWorld(t, lifecycleRules)
	oss := osstest.NewServer()
	t.Cleanup(oss.Close)
	oss.RequireAccessKeyID(akID)
	oss.RequireToken(stsToken)
	w.api.SetGroup(grp("orders-eu", 5000, ago(time.Second)))
	w.api.SetGroup(grp("batch", 0, ago(time.Second))) // named in the rules: they exist
	w.api.SetGroup(grp("legacy", 0, -1))
	viaOSS := func(o *Options) { o.State, o.OSSEndpoint = "oss://alerts-bucket/backlog-alert/state.json", oss.URL }
	got, rep := w.sent(t, 0, viaOSS)
	if len(got) != 0 || len(rep.Errors) != 0 || !strings.Contains(rep.State, "oss://alerts-bucket/backlog-alert/state.json") {
		t.Fatalf("run 1: sent %v, errors %v, state %q", got, rep.Errors, rep.State)
	}
	data, ok := oss.Object("alerts-bucket", "backlog-alert/state.json")
	if !ok {
		t.Fatal("no state object was written")
	}
	if st, err := lifecycle.Decode(data); err != nil || len(st.Alerts) != 1 {
		t.Fatalf("state object: %v %+v", err, st)
	}
	if got, _ = w.sent(t, 10*time.Minute, viaOSS); len(got) != 2 {
		t.Errorf("run 2 read the pending alert back from OSS and fires: sent %v", got)
	}
}

func TestEphemeralStateWarns(t *testing.T) {
	w := newWorld(t, lifecycleRules)
	w.api.SetGroup(grp("orders-eu", 5000, ago(time.Second)))
	_, rep := w.sent(t, 0, func(o *Options) {
		o.State, o.Serverless = filepath.Join("/tmp", fmt.Sprintf("backlog-alert-test-%d", time.Now().UnixNano()), "state.json"), true
	})
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(strings.TrimPrefix(rep.State, "file "))) })
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "lost when the instance is recycled") {
		t.Errorf("warnings = %v", rep.Warnings)
	}
}

func readState(t *testing.T, path string) *lifecycle.State {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := lifecycle.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
