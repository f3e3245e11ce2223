package function

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/progress/alikafka"
	"github.com/backlog-alert/backlog-alert/progress/alikafkatest"
)

// Rules that watch every instance of a region, select groups by tag and
// route them by tag.
const tagRules = `version: 1
defaults:
  region: cn-hangzhou
  notify: [team-slack]
` + channelsYAML + `
rules:
  - name: by-team
    instance: "*"
    groups: ["*"]
    group_tags: {team: "*"}
    backlog: {warning: 1000}
    routes:
      tag: team
      to:
        payments: [ops-dingtalk]
        search: [team-slack, ops-dingtalk]
  - name: staging
    instance: [inst-b]
    groups: ["pay-*"]
    group_tags: {env: staging}
    backlog: {warning: 1000}
`

// tagWorld has two running instances and a stopped one in cn-hangzhou.
func tagWorld(t *testing.T) *world {
	w := newWorld(t, tagRules)
	w.api.AddInstance("cn-hangzhou", "inst-a")
	w.api.AddInstance("cn-hangzhou", "inst-b")
	w.api.SetInstanceMeta("cn-hangzhou", "inst-c", alikafkatest.InstanceMeta{ServiceStatus: 15}) // stopped
	for _, g := range []struct {
		instance, name string
		tags           map[string]string
	}{
		{"inst-a", "pay-1", map[string]string{"team": "payments"}},
		{"inst-a", "search-1", map[string]string{"team": "search"}},
		{"inst-a", "misc-1", nil},
		{"inst-b", "pay-2", map[string]string{"team": "payments", "env": "staging"}},
		{"inst-b", "ledger-1", map[string]string{"team": "ledger"}},
		{"inst-b", "ledger-2", map[string]string{"team": "ledger"}},
		{"inst-c", "pay-3", map[string]string{"team": "payments"}},
	} {
		pg := grp(g.name, 5000, ago(time.Minute))
		pg.Instance, pg.Tags = g.instance, g.tags
		w.api.SetGroup(pg)
	}
	return w
}

func TestSelectAndRouteByTag(t *testing.T) {
	w := tagWorld(t)
	rep := w.run(t)

	// Every tagged group of the running instances, once per rule that
	// selects it; not the untagged one, not the stopped instance's.
	var got []string
	for _, a := range rep.Alerts {
		got = append(got, a.Rule+":"+a.Instance+"/"+a.Group)
	}
	slices.Sort(got)
	want := []string{"by-team:inst-a/pay-1", "by-team:inst-a/search-1", "by-team:inst-b/ledger-1", "by-team:inst-b/ledger-2", "by-team:inst-b/pay-2", "staging:inst-b/pay-2"}
	if !slices.Equal(got, want) {
		t.Errorf("alerts %v\nwant   %v", got, want)
	}
	if rep.Groups != 5 {
		t.Errorf("read %d groups, want 5", rep.Groups)
	}

	// Each alert went where its team's route says, the unrouted team to
	// the rule's notify.
	told := map[string][]string{}
	for _, m := range w.sink.Received() {
		text := m.Readable()
		for _, g := range []string{"pay-1", "pay-2", "search-1", "ledger-1", "ledger-2"} {
			if strings.Contains(text, g) {
				told[m.Channel] = append(told[m.Channel], g)
			}
		}
	}
	wantTold := map[string][]string{
		"ops-dingtalk": {"pay-1", "pay-2", "search-1"},
		"team-slack":   {"pay-2", "search-1", "ledger-1", "ledger-2"}, // pay-2 from the staging rule
	}
	for ch, gs := range wantTold {
		if !sameSet(told[ch], gs) {
			t.Errorf("%s was told of %v, want %v", ch, told[ch], gs)
		}
	}

	// One warning for the team without a route, naming both its groups.
	var warned []string
	for _, wn := range rep.Warnings {
		if strings.Contains(wn, "route") {
			warned = append(warned, wn)
		}
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "has no route for team=ledger: the alerts of 2 groups (ledger-1, ledger-2) go to its notify channels team-slack") {
		t.Errorf("route warnings %q", warned)
	}

	// The region was listed once for both rules, each running instance
	// once, the stopped one never.
	calls := map[string]int{}
	for _, r := range w.api.Requests() {
		calls[r.Action+" "+r.InstanceId]++
		if r.InstanceId == "inst-c" {
			t.Errorf("%s on the stopped instance", r.Action)
		}
	}
	if calls["GetInstanceList "] != 1 || calls["GetConsumerList inst-a"] != 1 || calls["GetConsumerList inst-b"] != 1 {
		t.Errorf("calls %v", calls)
	}

	// A second run, a group moved to another team: its alert now goes
	// there, and nothing else is sent again.
	pg := grp("ledger-1", 5000, ago(time.Minute))
	pg.Instance, pg.Tags = "inst-b", map[string]string{"team": "payments"}
	w.api.SetGroup(pg)
	before := len(w.sink.Received())
	w.run(t)
	later := w.sink.Received()[before:]
	if len(later) != 1 || later[0].Channel != "ops-dingtalk" || !strings.Contains(later[0].Readable(), "ledger-1") || strings.Contains(later[0].Readable(), "pay-1") {
		for _, m := range later {
			t.Logf("%s:\n%s", m.Channel, m.Readable())
		}
		t.Errorf("after the move, %d messages; want one to ops-dingtalk about ledger-1 only", len(later))
	}
}

// When the region's instances cannot be listed, the run says it cannot see
// them, and what fired on them stays firing: neither resolved nor gone.
func TestRegionUnlistable(t *testing.T) {
	w := tagWorld(t)
	first := w.run(t)
	firing := len(first.Alerts)
	w.api.Inject(alikafkatest.Fault{Action: alikafka.OpInstances, HTTPStatus: 503, Code: "ServiceUnavailable", Message: "try later"})
	before := len(w.sink.Received())
	rep := w.run(t, func(o *Options) { o.Now = now.Add(time.Minute) })

	var blind, stillFiring int
	for _, a := range rep.Alerts {
		switch {
		case a.Condition == "blind":
			blind++
			if a.Instance != "*" || a.Cause == nil || a.Cause.Kind != "instances" {
				t.Errorf("blind alert %+v", a.Alert)
			}
		case a.State == "firing":
			stillFiring++
		default:
			t.Errorf("%s %s is %s", a.Group, a.Condition, a.State)
		}
	}
	// The groups of the instance a rule names were read (and still fire);
	// those only "*" watched are as they were: not in the report, not gone.
	if blind != 1 || stillFiring != 2 || len(rep.Gone) != 0 {
		t.Errorf("%d blind alerts, %d firing (of %d before), gone %v; want 1 blind, pay-2's 2 firing, none gone", blind, stillFiring, firing, rep.Gone)
	}
	if !slices.ContainsFunc(rep.Errors, func(e string) bool { return strings.HasPrefix(e, "GetInstanceList region cn-hangzhou: ") }) {
		t.Errorf("errors %q", rep.Errors)
	}
	var summary strings.Builder
	rep.WriteSummary(&summary)
	if !strings.Contains(summary.String(), "on every instance of cn-hangzhou (backlog-alert)") {
		t.Errorf("summary:\n%s", summary.String())
	}
	var said bool
	for _, m := range w.sink.Received()[before:] {
		text := m.Readable()
		if strings.Contains(text, "resolved") {
			t.Errorf("%s told of a resolution:\n%s", m.Channel, text)
		}
		said = said || strings.Contains(text, "backlog-alert cannot see the instances of cn-hangzhou")
	}
	if !said {
		t.Error("no channel was told the region's instances cannot be listed")
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
	return slices.Equal(a, b)
}
