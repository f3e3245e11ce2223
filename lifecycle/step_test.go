package lifecycle

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/progress"
	"github.com/backlog-alert/backlog-alert/rules"
)

var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC) // a Friday

const head = `version: 1
defaults:
  region: cn-hangzhou
  notify: [slack]
channels:
  slack:
    type: slack
    webhook_url: https://hooks.example/services/x
  ding:
    type: dingtalk
    webhook_url: https://ding.example/robot/send?access_token=t
rules:
`

// harness runs Step over simulated time, delivering to every channel that
// is not told to fail, and encoding and decoding the state between runs as
// the store would.
type harness struct {
	t     *testing.T
	file  *rules.File
	state *State
	fail  map[string]bool
	last  Outcome
}

func newHarness(t *testing.T, rulesYAML string) *harness {
	t.Helper()
	f, err := rules.Parse("r.yaml", []byte(head+rulesYAML), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, file: f, fail: map[string]bool{}}
}

// run steps at t0+at and returns what was sent, as "channel kind group
// condition severity" lines.
func (h *harness) run(at time.Duration, groups ...progress.Group) []string {
	h.t.Helper()
	return h.runUnread(at, nil, groups...)
}

func (h *harness) runUnread(at time.Duration, unread func(string, string, string) bool, groups ...progress.Group) []string {
	h.t.Helper()
	now := t0.Add(at)
	if h.state != nil {
		data, err := h.state.Encode(now)
		if err != nil {
			h.t.Fatal(err)
		}
		if h.state, err = Decode(data); err != nil {
			h.t.Fatal(err)
		}
	}
	out := Step(h.state, Input{File: h.file, Snapshot: progress.Snapshot{Groups: groups}, Unread: unread, Now: now})
	h.state = out.State
	var sent []string
	for _, ob := range out.Outbox {
		for _, it := range ob.Items {
			line := fmt.Sprintf("%s %s %s %s %s", ob.Channel, it.Kind, it.Alert.Where(), it.Alert.Condition, it.Alert.Severity)
			if h.fail[ob.Channel] {
				line += " (failed)"
			}
			sent = append(sent, line)
		}
		if !h.fail[ob.Channel] {
			out.State.Delivered(ob.Channel, ob.Items, now, nil)
			out.MarkNotified(ob.Items)
		}
	}
	h.last = out
	return sent
}

func (h *harness) expect(got []string, want ...string) {
	h.t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		h.t.Errorf("sent:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func (h *harness) expectState(group, state string) {
	h.t.Helper()
	var got []string
	for _, a := range h.last.Alerts {
		if a.Group == group {
			got = append(got, a.State)
		}
	}
	if state == "" && len(got) == 0 {
		return
	}
	if len(got) == 0 || slices.ContainsFunc(got, func(s string) bool { return s != state }) {
		h.t.Errorf("%s: states %v, want %s", group, got, state)
	}
}

// g is a group with one topic of two partitions; committed is the consumer
// offset of partition 0, lag is spread over both.
func g(name string, lag, committed int64, lastTimestamp int64) progress.Group {
	parts := []progress.Partition{
		{Partition: 0, BrokerOffset: committed + lag/2, ConsumerOffset: committed, LastTimestamp: lastTimestamp},
		{Partition: 1, BrokerOffset: 1000 + lag - lag/2, ConsumerOffset: 1000, LastTimestamp: lastTimestamp},
	}
	return progress.Group{Region: "cn-hangzhou", Instance: "i", Group: name, TotalDiff: lag, LastTimestamp: lastTimestamp,
		Topics: []progress.Topic{{Topic: "t", TotalDiff: lag, LastTimestamp: lastTimestamp, Partitions: parts}}}
}

const backlogRule = `  - name: orders
    instance: i
    groups: ["*"]
    backlog: {warning: 100, critical: 1000}
`

const pendingRule = backlogRule + "    for: 10m\n    repeat: 1h\n"

func TestPendingFiringReminderResolved(t *testing.T) {
	h := newHarness(t, pendingRule)
	min := time.Minute
	h.expect(h.run(0, g("a", 500, 0, -1)))
	h.expectState("a", Pending)
	h.expect(h.run(5*min, g("a", 500, 10, -1)))
	h.expectState("a", Pending)
	h.expect(h.run(10*min, g("a", 500, 20, -1)), "slack firing a backlog warning")
	h.expectState("a", Firing)
	if !h.last.Alerts[0].Notified {
		t.Error("the firing alert is not marked notified")
	}
	h.expect(h.run(30*min, g("a", 600, 30, -1))) // no repeat before `repeat`
	h.expect(h.run(69*min, g("a", 600, 40, -1))) // still not
	h.expect(h.run(70*min, g("a", 600, 50, -1)), "slack reminder a backlog warning")
	h.expect(h.run(75*min, g("a", 5000, 60, -1)), "slack escalated a backlog critical") // at once, no `for`
	h.expect(h.run(80*min, g("a", 500, 70, -1)), "slack downgraded a backlog warning")
	h.expect(h.run(85*min, g("a", 10, 80, -1)), "slack resolved a backlog warning")
	h.expectState("a", Resolved)
	if a := h.last.Alerts[0]; a.Value != 10 || a.Lag != 10 {
		t.Errorf("resolved alert shows value %d lag %d, want the current 10", a.Value, a.Lag)
	}
	h.expect(h.run(90*min, g("a", 10, 90, -1)))
	if len(h.state.Alerts) != 0 || len(h.last.Alerts) != 0 {
		t.Errorf("resolved alert not forgotten: %+v", h.state.Alerts)
	}
}

func TestPendingThatClearsSendsNothing(t *testing.T) {
	h := newHarness(t, pendingRule)
	h.expect(h.run(0, g("a", 500, 0, -1)))
	h.expect(h.run(5*time.Minute, g("a", 5, 0, -1)))
	h.expect(h.run(20*time.Minute, g("a", 500, 0, -1))) // pending anew: `for` restarts
	h.expectState("a", Pending)
}

func TestHysteresis(t *testing.T) {
	h := newHarness(t, `  - name: orders
    instance: i
    groups: ["*"]
    backlog: {warning: 100, resolve_below: 50}
`)
	h.expect(h.run(0, g("a", 120, 0, -1)), "slack firing a backlog warning")
	h.expect(h.run(5*time.Minute, g("a", 90, 0, -1))) // below 100, not below 50: still firing
	h.expectState("a", Firing)
	h.expect(h.run(10*time.Minute, g("a", 110, 0, -1))) // back above: no new firing
	h.expect(h.run(15*time.Minute, g("a", 49, 0, -1)), "slack resolved a backlog warning")
}

func TestSendResolvedFalse(t *testing.T) {
	h := newHarness(t, pendingRule+"    send_resolved: false\n")
	h.run(0, g("a", 500, 0, -1))
	h.expect(h.run(10*time.Minute, g("a", 500, 0, -1)), "slack firing a backlog warning")
	h.expect(h.run(15*time.Minute, g("a", 5, 0, -1)))
	if len(h.state.Alerts) != 0 {
		t.Error("an alert that resolved quietly is still in state")
	}
}

func TestStuckWithUnknownTimestamps(t *testing.T) {
	h := newHarness(t, `  - name: orders
    instance: i
    groups: ["*"]
    level: partition
    stuck: {warning: 15m, critical: 30m}
    stale: {warning: 10m}
`)
	min := time.Minute
	// Partition 0's committed offset stays at 500 with lag, timestamps unknown.
	h.expect(h.run(0, g("a", 40, 500, -1)))
	h.expect(h.run(10*min, g("a", 40, 500, -1)))
	h.expect(h.run(15*min, g("a", 40, 500, -1)), "slack firing a / t [p0] stuck warning", "slack firing a / t [p1] stuck warning")
	if len(h.last.UnknownAge) != 2 {
		t.Errorf("unknown ages = %v", h.last.UnknownAge)
	}
	h.expect(h.run(30*min, g("a", 40, 500, -1)), "slack escalated a / t [p0] stuck critical", "slack escalated a / t [p1] stuck critical")
	// Partition 0 moves: its stuck alert resolves; partition 1 does not move.
	h.expect(h.run(35*min, g("a", 40, 520, -1)), "slack resolved a / t [p0] stuck critical")
	if a := h.last.Alerts; len(a) != 2 || a[1].Value != 35*60 {
		t.Errorf("alerts = %+v", a)
	}
}

func TestStuckNeverFiresWhenCaughtUp(t *testing.T) {
	h := newHarness(t, `  - name: orders
    instance: i
    groups: ["*"]
    stuck: {warning: 15m}
`)
	for i := range 10 {
		h.expect(h.run(time.Duration(i)*10*time.Minute, g("idle", 0, 500, t0.Add(-72*time.Hour).UnixMilli())))
	}
}

func TestSilence(t *testing.T) {
	h := newHarness(t, pendingRule)
	h.file.Silences = []rules.Silence{{Group: "a", Starts: t0.Add(5 * time.Minute), Ends: t0.Add(time.Hour), Comment: "migration", Line: 3}}
	h.expect(h.run(0, g("a", 500, 0, -1), g("b", 500, 0, -1)))
	h.expect(h.run(10*time.Minute, g("a", 500, 0, -1), g("b", 500, 0, -1)), "slack firing b backlog warning")
	if a := h.last.Alerts[0]; !a.Silenced || a.State != Firing || !strings.Contains(a.SilencedBy, "migration") {
		t.Errorf("silenced alert in report = %+v", a)
	}
	h.expect(h.run(60*time.Minute, g("a", 500, 0, -1), g("b", 500, 0, -1)), "slack firing a backlog warning")
}

func TestActiveHours(t *testing.T) {
	// 09:00-17:00 UTC on weekdays; t0 is Friday 10:00.
	h := newHarness(t, backlogRule+"    active_hours: {days: [mon, tue, wed, thu, fri], from: \"09:00\", to: \"17:00\"}\n")
	hour := time.Hour
	h.expect(h.run(0, g("a", 500, 0, -1)), "slack firing a backlog warning")
	h.expect(h.run(8*hour, g("a", 5000, 0, -1)))                    // 18:00: no escalation, no reminder
	h.expect(h.run(9*hour, g("a", 50, 0, -1)))                      // 19:00: recovered, but quiet
	h.expect(h.run(10*hour, g("b", 900, 0, -1), g("a", 50, 0, -1))) // 20:00: b would fire, but not outside active hours
	if a := h.last.Alerts; len(a) != 1 || !a[0].Silenced || a[0].SilencedBy != "outside active_hours" {
		t.Errorf("alerts outside hours = %+v", a)
	}
	h.expect(h.run(71*hour, g("a", 50, 0, -1), g("b", 900, 0, -1)), "slack resolved a backlog warning", "slack firing b backlog warning") // Monday 09:00
}

func TestGroupMissingAndForgotten(t *testing.T) {
	h := newHarness(t, backlogRule)
	h.expect(h.run(0, g("a", 500, 0, -1), g("quiet", 0, 0, -1)), "slack firing a backlog warning")
	h.expect(h.run(5*time.Minute), "slack missing a backlog warning") // both gone; only a was alerting
	if len(h.last.Gone) != 2 {
		t.Errorf("gone = %+v", h.last.Gone)
	}
	h.expect(h.run(10 * time.Minute)) // once only
	if len(h.state.Groups) != 2 {
		t.Errorf("groups forgotten too early: %d", len(h.state.Groups))
	}
	h.expect(h.run(5*time.Minute + 24*time.Hour))
	if len(h.state.Groups) != 0 || len(h.state.Alerts) != 0 {
		t.Errorf("not forgotten after forget_after: %d groups, %d alerts", len(h.state.Groups), len(h.state.Alerts))
	}
}

func TestUnreadGroupKeepsItsState(t *testing.T) {
	h := newHarness(t, backlogRule)
	h.expect(h.run(0, g("a", 500, 0, -1)), "slack firing a backlog warning")
	all := func(string, string, string) bool { return true }
	h.expect(h.runUnread(5*time.Minute, all))
	if len(h.last.Gone) != 0 || h.state.Alerts[h.state.firstKey()].ResolvedAt != (time.Time{}) {
		t.Error("a group that could not be read was treated as gone or resolved")
	}
	h.expect(h.run(10*time.Minute, g("a", 500, 0, -1))) // still firing: nothing new
}

func (s *State) firstKey() string {
	for k := range s.Alerts {
		return k
	}
	return ""
}

func TestFailedSendIsRetried(t *testing.T) {
	h := newHarness(t, backlogRule+"    notify: [slack, ding]\n")
	h.fail["ding"] = true
	h.expect(h.run(0, g("a", 500, 0, -1)), "slack firing a backlog warning", "ding firing a backlog warning (failed)")
	h.fail["ding"] = false
	h.expect(h.run(5*time.Minute, g("a", 500, 0, -1)), "ding firing a backlog warning")
	h.expect(h.run(10*time.Minute, g("a", 500, 0, -1)))
	// A resolution that fails is retried too, and the alert kept until then.
	h.fail["slack"] = true
	h.expect(h.run(15*time.Minute, g("a", 5, 0, -1)), "slack resolved a backlog warning (failed)", "ding resolved a backlog warning")
	h.fail["slack"] = false
	h.expect(h.run(20*time.Minute, g("a", 5, 0, -1)), "slack resolved a backlog warning")
	h.expect(h.run(25*time.Minute, g("a", 5, 0, -1)))
}

func TestGoneTopicIsDroppedAtOnce(t *testing.T) {
	h := newHarness(t, `  - name: orders
    instance: i
    groups: ["*"]
    level: topic
    backlog: {warning: 100}
`)
	two := g("a", 500, 0, -1)
	two.Topics = append(two.Topics, progress.Topic{Topic: "old", TotalDiff: 300, Partitions: []progress.Partition{{BrokerOffset: 300}}})
	h.expect(h.run(0, two), "slack firing a / old backlog warning", "slack firing a / t backlog warning")
	h.expect(h.run(5*time.Minute, g("a", 500, 0, -1)))
	if len(h.state.Alerts) != 1 {
		t.Errorf("alerts in state = %d, want the remaining topic only", len(h.state.Alerts))
	}
}

func TestTrend(t *testing.T) {
	h := newHarness(t, `  - name: orders
    instance: i
    groups: ["*"]
    backlog: {warning: 100}
`)
	// Every 5 minutes: 4,000 consumed and 5,000 produced, so producing
	// 1,000/min, consuming 800/min, growing 200/min.
	for i := range 30 {
		consumer, broker := int64(4000*i), int64(5000*i+1000)
		grp := progress.Group{Region: "cn-hangzhou", Instance: "i", Group: "a", TotalDiff: broker - consumer, LastTimestamp: -1,
			Topics: []progress.Topic{{Topic: "t", TotalDiff: broker - consumer, Partitions: []progress.Partition{{BrokerOffset: broker, ConsumerOffset: consumer}}}}}
		h.run(time.Duration(5*i)*time.Minute, grp)
	}
	tr := h.last.Alerts[0].Trend
	if tr == nil || len(tr.Backlog) != HistoryLen || !tr.RatesKnown {
		t.Fatalf("trend = %+v", tr)
	}
	if tr.ConsumePerMin != 800 || tr.ProducePerMin != 1000 || tr.GrowthPerMin != 200 || tr.DrainMinutes != 0 {
		t.Errorf("rates = %+v", tr)
	}
	if tr.Backlog[HistoryLen-1] != 5000*29+1000-4000*29 {
		t.Errorf("last backlog sample = %d", tr.Backlog[HistoryLen-1])
	}
	if len(h.state.Groups["cn-hangzhou/i/a"].History) != HistoryLen {
		t.Error("history is not bounded")
	}
}

func TestTrendOf(t *testing.T) {
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	tests := []struct {
		name string
		h    []Sample
		want rules.Trend
	}{
		{"one sample", []Sample{{Time: at(0), Lag: 5, Partitions: 1}}, rules.Trend{Backlog: []int64{5}}},
		{"draining", []Sample{{Time: at(0), Lag: 1000, Broker: 2000, Consumer: 1000, Partitions: 1}, {Time: at(10), Lag: 500, Broker: 2500, Consumer: 2000, Partitions: 1}},
			rules.Trend{Backlog: []int64{1000, 500}, RatesKnown: true, ConsumePerMin: 100, ProducePerMin: 50, RateSeconds: 600, DrainMinutes: 10}},
		{"offsets reset", []Sample{{Time: at(0), Lag: 10, Broker: 2000, Consumer: 1990, Partitions: 1}, {Time: at(10), Lag: 10, Broker: 20, Consumer: 10, Partitions: 1}},
			rules.Trend{Backlog: []int64{10, 10}}},
		{"partitions added", []Sample{{Time: at(0), Lag: 10, Broker: 20, Consumer: 10, Partitions: 1}, {Time: at(10), Lag: 10, Broker: 40, Consumer: 30, Partitions: 2}},
			rules.Trend{Backlog: []int64{10, 10}}},
		{"too close", []Sample{{Time: at(0), Lag: 10, Partitions: 1}, {Time: at(0).Add(10 * time.Second), Lag: 10, Partitions: 1}},
			rules.Trend{Backlog: []int64{10, 10}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := trendOf(tc.h)
			if fmt.Sprint(*got) != fmt.Sprint(tc.want) {
				t.Errorf("trend = %+v, want %+v", *got, tc.want)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	if _, err := Decode([]byte(`{"version": 2, "alerts": {}}`)); err == nil || !strings.Contains(err.Error(), "newer version") {
		t.Errorf("newer schema: %v", err)
	}
	for _, bad := range []string{`not json`, `{"format": "backlog-alert/state", "version": 1, "alerts": []}`, `{"format": "backlog-alert/state", "version": 0}`, `{"format": "backlog-alert/state"}`} {
		if _, err := Decode([]byte(bad)); err == nil || CheckOwned([]byte(bad)) != nil {
			t.Errorf("Decode(%q) accepted, or it was not ours to set aside", bad)
		}
	}
	// Another program's JSON is not ours to set aside or overwrite.
	for _, foreign := range []string{`{"version": 1}`, `{"version": 1, "alerts": {}, "config": {}}`, `{"format": "other", "version": 1, "alerts": {}, "groups": {}}`, `[1]`, `{"alerts": {}, "groups": {}}`} {
		if err := CheckOwned([]byte(foreign)); !errors.Is(err, ErrForeign) {
			t.Errorf("CheckOwned(%q) = %v, want ErrForeign", foreign, err)
		}
	}
	for _, doc := range []string{`{"format": "backlog-alert/state", "version": 1}`, `{"version": 1, "saved": "2026-01-01T00:00:00Z", "alerts": null, "groups": {}}`} {
		s, err := Decode([]byte(doc))
		if err != nil || s.Alerts == nil || s.Groups == nil {
			t.Errorf("minimal document %s: %v %+v", doc, err, s)
		}
	}
	data, err := New().Encode(t0)
	if err != nil || !strings.HasPrefix(string(data), `{"format":"backlog-alert/state",`) {
		t.Errorf("Encode = %s, %v", data, err)
	}
}

func (h *harness) runBlind(at time.Duration, metaOnly bool, blind []BlindSpot, groups ...progress.Group) []string {
	h.t.Helper()
	now := t0.Add(at)
	// What the monitor cannot see, it could not read.
	unread := func(string, string, string) bool { return len(blind) > 0 }
	out := Step(h.state, Input{File: h.file, Snapshot: progress.Snapshot{Groups: groups}, Now: now, Blind: blind, MetaOnly: metaOnly, Unread: unread})
	h.state = out.State
	var sent []string
	for _, ob := range out.Outbox {
		for _, it := range ob.Items {
			sent = append(sent, fmt.Sprintf("%s %s %s %s", ob.Channel, it.Kind, it.Alert.Instance, it.Alert.Detail))
		}
		out.State.Delivered(ob.Channel, ob.Items, now, nil)
	}
	h.last = out
	return sent
}

func TestMonitorBlindness(t *testing.T) {
	h := newHarness(t, backlogRule+"    notify: [slack, ding]\n")
	h.file.MetaNotify = []string{"ding"}
	h.expect(h.run(0, g("a", 500, 0, -1)), "slack firing a backlog warning", "ding firing a backlog warning")
	blind := []BlindSpot{{Region: "cn-hangzhou", Instance: "i", Reason: "credentials rejected (InvalidAccessKeyId.NotFound)"}}
	// The rules file breaks: only the monitor's own alert moves; a's alert stays.
	h.expect(h.runBlind(5*time.Minute, true, []BlindSpot{{Instance: "rules.yaml", Reason: "the rules file is invalid"}}),
		"ding firing rules.yaml the rules file is invalid")
	if len(h.state.Alerts) != 2 {
		t.Fatalf("MetaOnly touched other alerts: %d in state", len(h.state.Alerts))
	}
	h.expect(h.runBlind(10*time.Minute, false, blind), "ding firing i credentials rejected (InvalidAccessKeyId.NotFound)", "ding resolved rules.yaml the rules file is invalid")
	h.expect(h.runBlind(20*time.Minute, false, blind))
	h.expect(h.runBlind(5*time.Hour, false, blind), "ding reminder i credentials rejected (InvalidAccessKeyId.NotFound)")
	// Sight returns: the blindness resolves; a, unseen for hours, is due its reminder.
	h.expect(h.runBlind(5*time.Hour+5*time.Minute, false, nil, g("a", 500, 0, -1)),
		"slack reminder i ", "ding resolved i credentials rejected (InvalidAccessKeyId.NotFound)", "ding reminder i ")
}
