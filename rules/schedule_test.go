package rules

import (
	"strings"
	"testing"
	"time"
)

const lifecycleDoc = `version: 1
state: oss://bucket/backlog-alert/state.json
defaults:
  region: cn-hangzhou
  notify: [team-slack]
  for: 5m
  repeat: 1h
channels:
  team-slack:
    type: slack
    webhook_url: ${SLACK_WEBHOOK_URL}
silences:
  - matchers: {group: "orders-*", topic: audit}
    starts: 2026-11-21T09:00:00+08:00
    ends: 2026-11-21T12:00:00+08:00
    comment: migration
rules:
  - name: inherits
    instance: i
    groups: [g]
    backlog: {warning: 100, critical: 1000, resolve_below: 50}
  - name: overrides
    instance: i
    groups: [g]
    stuck: {warning: 15m, critical: 30m}
    for: 0
    send_resolved: false
    forget_after: 2d
    active_hours: {days: [mon, tue, wed, thu, fri], from: "09:00", to: "21:00", tz: Asia/Shanghai}
`

func TestLifecycleKeys(t *testing.T) {
	f, err := Parse("r.yaml", []byte(lifecycleDoc), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if f.State != "oss://bucket/backlog-alert/state.json" || len(f.Silences) != 1 {
		t.Fatalf("state %q, silences %+v", f.State, f.Silences)
	}
	in, over := f.Rules[0], f.Rules[1]
	if in.For != 5*time.Minute || in.Repeat != time.Hour || !in.SendResolved || in.ForgetAfter != 24*time.Hour {
		t.Errorf("inherited timing = %+v", in.Timing)
	}
	if in.Backlog.ResolveBelow != 50 {
		t.Errorf("resolve_below = %d", in.Backlog.ResolveBelow)
	}
	if over.For != 0 || over.Repeat != time.Hour || over.SendResolved || over.ForgetAfter != 48*time.Hour || len(over.ActiveHours) != 1 {
		t.Errorf("overridden timing = %+v", over.Timing)
	}
	if over.Stuck == nil || over.Stuck.Critical != 30*time.Minute {
		t.Errorf("stuck = %+v", over.Stuck)
	}
	s := f.Silences[0]
	if s.Group != "orders-*" || s.Topic != "audit" || s.Rule != "" || s.Comment != "migration" {
		t.Errorf("silence = %+v", s)
	}
}

func TestDefaultTiming(t *testing.T) {
	f, err := Parse("r.yaml", []byte(validHead+"  - name: r\n    instance: i\n    groups: [g]\n    backlog: {warning: 10, critical: 20}\n"), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	r := f.Rules[0]
	if r.Timing.For != 0 || r.Repeat != 4*time.Hour || !r.SendResolved || r.ForgetAfter != 24*time.Hour || r.Backlog.ResolveBelow != 10 {
		t.Errorf("defaults = %+v, resolve_below %d", r.Timing, r.Backlog.ResolveBelow)
	}
}

func TestLifecycleKeyErrors(t *testing.T) {
	rule := "  - name: r\n    instance: i\n    groups: [g]\n    backlog: {warning: 10}\n"
	tests := []struct{ name, doc, want string }{
		{"resolve_below above threshold", validHead + "  - name: r\n    instance: i\n    groups: [g]\n    backlog: {warning: 10, resolve_below: 20}\n", "r.yaml:13: rules[0].backlog.resolve_below: must not be above the lowest threshold (10)"},
		{"send_resolved not bool", validHead + rule + "    send_resolved: maybe\n", "r.yaml:14: rules[0].send_resolved: must be true or false"},
		{"bad day", validHead + rule + "    active_hours: {days: [funday], from: \"09:00\", to: \"17:00\"}\n", `r.yaml:14: rules[0].active_hours.days[0]: unknown day "funday"`},
		{"bad tz", validHead + rule + "    active_hours: {from: \"09:00\", to: \"17:00\", tz: Mars/Olympus}\n", `rules[0].active_hours.tz: unknown time zone "Mars/Olympus"`},
		{"bad time of day", validHead + rule + "    active_hours: {from: \"9am\", to: \"17:00\"}\n", `rules[0].active_hours.from: "9am" is not a time of day`},
		{"silence ends before starts", strings.Replace(validHead, "rules:\n", "silences:\n  - matchers: {group: g}\n    starts: 2026-11-21T12:00:00Z\n    ends: 2026-11-21T09:00:00Z\nrules:\n", 1) + rule, "r.yaml:12: silences[0].ends: must be after starts"},
		{"silence bad time", strings.Replace(validHead, "rules:\n", "silences:\n  - matchers: {group: g}\n    starts: tomorrow\n    ends: 2026-11-21T09:00:00Z\nrules:\n", 1) + rule, `r.yaml:11: silences[0].starts: "tomorrow" is not an RFC 3339 time`},
		{"silence unknown matcher", strings.Replace(validHead, "rules:\n", "silences:\n  - matchers: {grp: g}\n    starts: 2026-11-21T09:00:00Z\n    ends: 2026-11-21T12:00:00Z\nrules:\n", 1) + rule, "r.yaml:10: silences[0].matchers.grp: unknown key"},
		{"zero repeat", validHead + rule + "    repeat: 0s\n", `rules[0].repeat: "0s" is not a positive duration`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("r.yaml", []byte(tc.doc), testEnv)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v\nwant %q", err, tc.want)
			}
		})
	}
}

func TestWindowContains(t *testing.T) {
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	weekdays := [7]bool{false, true, true, true, true, true, false}
	office := Window{Days: weekdays, From: 9 * time.Hour, To: 21 * time.Hour, Location: shanghai}
	night := Window{Days: [7]bool{true, true, true, true, true, true, true}, From: 22 * time.Hour, To: 6 * time.Hour, Location: time.UTC}
	friNight := Window{Days: [7]bool{5: true}, From: 22 * time.Hour, To: 2 * time.Hour, Location: time.UTC}
	at := func(s string) time.Time { t, _ := time.Parse(time.RFC3339, s); return t }
	tests := []struct {
		w    Window
		t    string
		want bool
	}{
		{office, "2026-11-20T01:00:00Z", true},  // Fri 09:00 Shanghai
		{office, "2026-11-20T00:59:00Z", false}, // Fri 08:59 Shanghai
		{office, "2026-11-20T13:00:00Z", false}, // Fri 21:00 Shanghai: end is exclusive
		{office, "2026-11-21T03:00:00Z", false}, // Sat
		{night, "2026-11-21T23:00:00Z", true},
		{night, "2026-11-21T05:59:00Z", true},
		{night, "2026-11-21T12:00:00Z", false},
		{friNight, "2026-11-20T23:00:00Z", true},  // Fri 23:00
		{friNight, "2026-11-21T01:00:00Z", true},  // Sat 01:00, the morning after Friday
		{friNight, "2026-11-22T01:00:00Z", false}, // Sun 01:00
	}
	for _, tc := range tests {
		if got := tc.w.Contains(at(tc.t)); got != tc.want {
			t.Errorf("%s: Contains = %v, want %v", tc.t, got, tc.want)
		}
	}
}

func TestSilenceMutes(t *testing.T) {
	s := Silence{Group: "orders-*", Topic: "audit", Starts: now.Add(-time.Hour), Ends: now.Add(time.Hour)}
	tests := []struct {
		a    Alert
		at   time.Time
		want bool
	}{
		{Alert{Rule: "r", Group: "orders-eu", Topic: "audit"}, now, true},
		{Alert{Rule: "r", Group: "orders-eu", Topic: "orders"}, now, false},
		{Alert{Rule: "r", Group: "billing", Topic: "audit"}, now, false},
		{Alert{Rule: "r", Group: "orders-eu", Topic: "audit"}, now.Add(time.Hour), false},
		{Alert{Rule: "r", Group: "orders-eu", Topic: "audit"}, now.Add(-2 * time.Hour), false},
	}
	for i, tc := range tests {
		if got := s.Mutes(tc.a, tc.at); got != tc.want {
			t.Errorf("%d: Mutes = %v, want %v", i, got, tc.want)
		}
	}
}
