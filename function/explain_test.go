package function

import (
	"bytes"
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/progress/alikafka"
	"github.com/backlog-alert/backlog-alert/progress/alikafkatest"
	"github.com/backlog-alert/backlog-alert/rules"
)

// explainRules watch orders-* for backlog at once, billing for backlog
// after 10m, and mute orders-payments' backlog for a deploy window.
const explainRules = `version: 1
defaults:
  region: cn-hangzhou
  notify: [team-slack]
` + channelsYAML + `
rules:
  - name: orders
    instance: ` + instance + `
    groups: ["orders-*"]
    exclude_groups: ["*-test"]
    backlog: {warning: 1000, critical: 100000}
    stale: {warning: 10m, critical: 30m}
    notify: [team-slack, ops-dingtalk]
  - name: billing
    instance: ` + instance + `
    groups: [billing]
    backlog: {warning: 1000}
    for: 10m
  - name: office
    instance: ` + instance + `
    groups: ["orders-api"]
    backlog: {warning: 1000}
    active_hours: {days: [mon, tue, wed, thu, fri], from: "09:00", to: "18:00", tz: Asia/Shanghai}
silences:
  - matchers: {group: orders-api}
    starts: 2026-11-21T00:00:00Z
    ends: 2026-11-21T18:00:00Z
    comment: deploy window
`

func (w *world) explain(t *testing.T, at time.Time, group string) Explanation {
	t.Helper()
	exps, unread, err := Explain(context.Background(), Options{Rules: w.file, Now: at, Credentials: &w.creds, Endpoint: w.api.URL, State: w.state}, group, "")
	if err != nil || unread != nil {
		t.Fatalf("Explain(%s): %v, unread %q", group, err, unread)
	}
	if len(exps) != 1 {
		t.Fatalf("%d explanations of %s, want 1", len(exps), group)
	}
	return exps[0]
}

func verdict(t *testing.T, e Explanation, rule string) RuleVerdict {
	t.Helper()
	for _, v := range e.Rules {
		if v.Rule == rule {
			return v
		}
	}
	t.Fatalf("no verdict of rule %s in %+v", rule, e.Rules)
	return RuleVerdict{}
}

func TestExplain(t *testing.T) {
	w := newWorld(t, explainRules)
	w.api.SetGroup(grp("orders-payments", 250_000, ago(time.Minute))) // firing: backlog critical
	w.api.SetGroup(grp("orders-api", 5_000, ago(time.Minute)))        // backlog warning, silenced
	w.api.SetGroup(grp("orders-test", 900_000, ago(time.Hour)))       // excluded
	w.api.SetGroup(grp("billing", 18_000, ago(time.Minute)))          // pending (for: 10m)
	w.api.SetGroup(grp("payments", 18_000, ago(time.Minute)))         // no rule
	w.run(t)
	saved, err := os.ReadFile(w.state)
	if err != nil {
		t.Fatal(err)
	}
	sent := len(w.sink.Received())
	later := now.Add(3 * time.Minute)

	t.Run("firing", func(t *testing.T) {
		v := verdict(t, w.explain(t, later, "orders-payments"), "orders")
		if v.Why != "" || len(v.Checks) != 2 {
			t.Fatalf("verdict %+v", v)
		}
		if c := v.Checks[0]; c.Condition != rules.Backlog || c.Value != 250_000 || c.Holds != rules.Critical || c.Critical != 100_000 {
			t.Errorf("backlog check %+v", c)
		}
		if c := v.Checks[1]; c.Condition != rules.Stale || !c.Known || c.Value != 240 || c.Holds != "" {
			t.Errorf("stale check %+v (the message is 4m old)", c)
		}
		if len(v.Alerts) != 1 {
			t.Fatalf("alerts %+v", v.Alerts)
		}
		a := v.Alerts[0]
		if a.State != "firing" || !a.Since.Equal(now) || len(a.Told) != 2 || len(a.Next) != 0 {
			t.Errorf("alert %+v", a)
		}
		for _, told := range a.Told {
			if told.Kind != rules.KindFiring || !told.At.Equal(now) || !told.NextReminder.Equal(now.Add(4*time.Hour)) {
				t.Errorf("told %+v, want firing at the run, reminder 4h later", told)
			}
		}
		// Past the reminder time, a run would remind both channels.
		a = verdict(t, w.explain(t, now.Add(4*time.Hour+time.Minute), "orders-payments"), "orders").Alerts[0]
		if len(a.Next) != 2 || a.Next[0].Kind != rules.KindReminder {
			t.Errorf("next %+v, want a reminder to both channels", a.Next)
		}
	})
	t.Run("pending", func(t *testing.T) {
		v := verdict(t, w.explain(t, later, "billing"), "billing")
		if len(v.Alerts) != 1 {
			t.Fatalf("alerts %+v", v.Alerts)
		}
		a := v.Alerts[0]
		if a.State != "pending" || !a.Since.Equal(now) || !a.FiresAt.Equal(now.Add(10*time.Minute)) || len(a.Told) != 0 || len(a.Next) != 0 {
			t.Errorf("alert %+v, want pending since the run, firing 10m after", a)
		}
		// Once for has passed, the next run fires it.
		a = verdict(t, w.explain(t, now.Add(11*time.Minute), "billing"), "billing").Alerts[0]
		if a.State != "firing" || len(a.Next) != 1 || a.Next[0] != (Planned{Channel: "team-slack", Kind: rules.KindFiring}) {
			t.Errorf("after for: %+v", a)
		}
	})
	t.Run("silenced", func(t *testing.T) {
		a := verdict(t, w.explain(t, later, "orders-api"), "orders").Alerts
		if len(a) != 1 || a[0].SilencedBy != "silence at line 33: deploy window" || !a[0].SilencedUntil.Equal(time.Date(2026, 11, 21, 18, 0, 0, 0, time.UTC)) || len(a[0].Next) != 0 {
			t.Errorf("alerts %+v", a)
		}
	})
	t.Run("outside active hours", func(t *testing.T) {
		// Saturday 2026-11-21 12:03 UTC is 20:03 in Shanghai.
		v := verdict(t, w.explain(t, later, "orders-api"), "office")
		if !slices.Equal(v.Inactive, []string{"mon,tue,wed,thu,fri 09:00-18:00 Asia/Shanghai"}) || len(v.Alerts) != 0 || v.Checks[0].Holds != rules.Warning {
			t.Errorf("verdict %+v", v)
		}
		// On Monday morning in Shanghai it fires.
		monday := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
		v = verdict(t, w.explain(t, monday, "orders-api"), "office")
		if v.Inactive != nil || len(v.Alerts) != 1 || v.Alerts[0].State != "firing" || len(v.Alerts[0].Next) != 1 {
			t.Errorf("on Monday: %+v", v)
		}
	})
	t.Run("excluded", func(t *testing.T) {
		e := w.explain(t, later, "orders-test")
		if v := verdict(t, e, "orders"); v.Why != `excluded by exclude_groups "*-test"` || v.Checks != nil {
			t.Errorf("orders: %+v", v)
		}
		if v := verdict(t, e, "billing"); v.Why != "no groups entry matches orders-test (groups: billing)" {
			t.Errorf("billing: %+v", v)
		}
	})
	t.Run("unselected", func(t *testing.T) {
		e := w.explain(t, later, "payments")
		for _, v := range e.Rules {
			if v.Why == "" {
				t.Errorf("rule %s watches payments", v.Rule)
			}
		}
		if e.Lag != 18_000 || !e.AgeKnown {
			t.Errorf("explanation %+v", e)
		}
	})
	t.Run("nowhere", func(t *testing.T) {
		_, _, err := Explain(context.Background(), Options{Rules: w.file, Now: later, Credentials: &w.creds, Endpoint: w.api.URL, State: w.state}, "nope", "")
		if _, ok := errors.AsType[*ExplainError](err); !ok || !strings.Contains(err.Error(), "consumer group nope not found on ["+instance+" (cn-hangzhou)]") {
			t.Errorf("err = %v", err)
		}
	})
	// Explaining sends nothing and leaves the state as it was.
	if after, err := os.ReadFile(w.state); err != nil || !bytes.Equal(after, saved) {
		t.Errorf("the state changed (%v)", err)
	}
	if got := len(w.sink.Received()); got != sent {
		t.Errorf("%d messages sent while explaining", got-sent)
	}
}

// A tag mismatch is named, and an instance no rule watches is read anyway.
func TestExplainTagsAndInstances(t *testing.T) {
	w := tagWorld(t)
	opts := Options{Rules: w.file, Now: now, Credentials: &w.creds, Endpoint: w.api.URL, State: w.state}
	exps, _, err := Explain(context.Background(), opts, "misc-1", "inst-a")
	if err != nil || len(exps) != 1 {
		t.Fatalf("%v, %+v", err, exps)
	}
	if v := verdict(t, exps[0], "by-team"); v.Why != "group_tags wants team=*; the group has no tag team" {
		t.Errorf("by-team: %q", v.Why)
	}
	if v := verdict(t, exps[0], "staging"); v.Why != "watches instance inst-b, not inst-a" {
		t.Errorf("staging: %q", v.Why)
	}
	// Without an instance, the group is looked for on every running
	// instance of the region.
	exps, unread, err := Explain(context.Background(), opts, "pay-2", "")
	if err != nil || unread != nil || len(exps) != 1 || exps[0].Instance != "inst-b" || exps[0].Tags["env"] != "staging" {
		t.Fatalf("%v, %q, %+v", err, unread, exps)
	}
	for _, v := range exps[0].Rules {
		if v.Why != "" {
			t.Errorf("%s does not watch pay-2: %s", v.Rule, v.Why)
		}
	}
	// An instance that cannot be read is named, and does not hide the one
	// that could.
	w.api.Inject(alikafkatest.Fault{Action: alikafka.OpProgress, Instance: "inst-a", HTTPStatus: 400, Code: "InvalidParameter", Message: "bad"})
	exps, unread, err = Explain(context.Background(), opts, "pay-2", "")
	if err != nil || len(exps) != 1 || exps[0].Instance != "inst-b" || len(unread) != 1 || !strings.HasPrefix(unread[0], "GetConsumerProgress inst-a group pay-2: ") {
		t.Errorf("%v, %q, %d explanations", err, unread, len(exps))
	}
}
