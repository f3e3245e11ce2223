package propose

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/rules"
)

// discovery is a Discovery of these groups, every instance they name
// running and read, plus extra instances.
func discovery(groups []Group, extra ...Instance) *Discovery {
	d := &Discovery{Groups: groups}
	for _, g := range groups {
		if !slices.Contains(d.Regions, g.Region) {
			d.Regions = append(d.Regions, g.Region)
		}
		if !slices.ContainsFunc(d.Instances, func(in Instance) bool { return in.ID == g.Instance }) {
			d.Instances = append(d.Instances, Instance{Region: g.Region, ID: g.Instance, Running: true, Read: true})
		}
	}
	d.Instances = append(d.Instances, extra...)
	return d
}

func grp(region, instance, name string, lag int64, tags map[string]string) Group {
	return Group{Region: region, Instance: instance, Name: name, Lag: lag, Tags: tags, Committed: true}
}

func tag(v string) map[string]string { return map[string]string{"team": v} }

// load reads a proposal as validate would, every variable set.
func load(t *testing.T, p *Proposal) *rules.File {
	t.Helper()
	f, err := rules.Parse("proposal", p.Document, func(string) (string, bool) { return "https://hooks.slack.com/services/T/B/x", true })
	if err != nil {
		t.Fatalf("%v\n%s", err, p.Document)
	}
	return f
}

func rule(t *testing.T, f *rules.File, name string) *rules.Rule {
	t.Helper()
	r, ok := f.Rule(name)
	if !ok {
		var names []string
		for _, r := range f.Rules {
			names = append(names, r.Name)
		}
		t.Fatalf("no rule %q among %v", name, names)
	}
	return r
}

// Whatever the discovery, the proposal loads and selects every group but
// the test-looking ones exactly once; each case checks its own shape.
func TestProposeSelectsExactly(t *testing.T) {
	never := Group{Region: "r1", Instance: "i-a", Name: "CID_x", Tags: tag("pay")} // no commits
	tests := []struct {
		name  string
		d     *Discovery
		byTag string
		check func(t *testing.T, f *rules.File, p *Proposal)
	}{
		{"one rule per instance, region on each rule", discovery([]Group{
			grp("r1", "i-a", "orders-api", 37_000, nil), grp("r1", "i-a", "orders-pay", 5, nil), grp("r1", "i-a", "orders-test", 1e6, nil), never,
			grp("r2", "i-b", "billing", 0, nil),
		}, Instance{Region: "r1", ID: "i-stopped", ServiceStatus: 10}), "", func(t *testing.T, f *rules.File, p *Proposal) {
			a := rule(t, f, "i-a")
			if a.Region != "r1" || !slices.Equal(a.Groups, []string{"orders-*"}) || !slices.Equal(a.ExcludeGroups, []string{"CID_x", "orders-test"}) {
				t.Errorf("i-a: %+v", a)
			}
			if a.Backlog.Warning != 500_000 || a.Backlog.Critical != 2_500_000 || a.Stuck == nil {
				t.Errorf("i-a thresholds: %+v, stuck %+v", a.Backlog, a.Stuck)
			}
			if b := rule(t, f, "i-b"); b.Region != "r2" || len(f.Rules) != 2 {
				t.Errorf("rules %d, i-b region %s", len(f.Rules), b.Region)
			}
			if !strings.Contains(string(p.Document), "# Not running, skipped: i-stopped (r1, ServiceStatus 10).") {
				t.Errorf("the stopped instance is not mentioned:\n%s", p.Document)
			}
		}},
		{"one region goes to defaults", discovery([]Group{grp("r1", "i-a", "x", 0, nil)}), "", func(t *testing.T, f *rules.File, p *Proposal) {
			if f.Defaults.Region != "r1" || strings.Contains(string(p.Document), "    region:") {
				t.Errorf("defaults.region %q:\n%s", f.Defaults.Region, p.Document)
			}
		}},
		{"by tag: every running instance is \"*\", some are a list", discovery([]Group{
			grp("r1", "i-a", "orders-api", 0, tag("pay")), grp("r1", "i-a", "clicks", 0, tag("data")), grp("r1", "i-a", "misc", 0, nil),
			grp("r1", "i-b", "refunds", 0, tag("pay")), grp("r1", "i-b", "views", 0, tag("data")),
			grp("r1", "i-c", "pay-batch", 0, tag("pay")), grp("r1", "i-c", "pay-dev", 0, tag("pay")),
		}), "team", func(t *testing.T, f *rules.File, p *Proposal) {
			if r := rule(t, f, "team-pay"); !slices.Equal(r.Instances, []string{"*"}) || !slices.Equal(r.ExcludeGroups, []string{"pay-dev"}) || !slices.Equal(r.Notify, []string{"pay-slack"}) {
				t.Errorf("team-pay: %+v", r)
			}
			if r := rule(t, f, "team-data"); !slices.Equal(r.Instances, []string{"i-a", "i-b"}) || !slices.Equal(r.Notify, []string{"data-slack"}) {
				t.Errorf("team-data: %+v", r)
			}
			if r := rule(t, f, "i-a-untagged"); !slices.Equal(r.Groups, []string{"misc"}) || !slices.Equal(r.Notify, []string{TeamChannel}) {
				t.Errorf("i-a-untagged: %+v", r)
			}
			if len(f.Rules) != 3 || !slices.Equal(p.Variables(), []string{"SLACK_WEBHOOK_URL", "DATA_SLACK_WEBHOOK_URL", "PAY_SLACK_WEBHOOK_URL"}) {
				t.Errorf("%d rules, variables %v", len(f.Rules), p.Variables())
			}
		}},
		{"by tag with --instance: never \"*\"", func() *Discovery {
			d := discovery([]Group{grp("r1", "i-a", "a", 0, tag("pay"))})
			d.Restricted = true
			return d
		}(), "team", func(t *testing.T, f *rules.File, p *Proposal) {
			if r := rule(t, f, "team-pay"); !slices.Equal(r.Instances, []string{"i-a"}) {
				t.Errorf("team-pay instances %v", r.Instances)
			}
		}},
		{"by tag: an excluded name used on another instance splits the rule", discovery([]Group{
			never, grp("r1", "i-a", "pay-a", 0, tag("pay")),
			grp("r1", "i-b", "CID_x", 0, tag("pay")), // committed: kept
		}), "team", func(t *testing.T, f *rules.File, p *Proposal) {
			a, b := rule(t, f, "team-pay-i-a"), rule(t, f, "team-pay-i-b")
			if !slices.Equal(a.ExcludeGroups, []string{"CID_x"}) || len(b.ExcludeGroups) != 0 || len(f.Rules) != 2 {
				t.Errorf("i-a excludes %v, i-b excludes %v, %d rules", a.ExcludeGroups, b.ExcludeGroups, len(f.Rules))
			}
		}},
		{"by tag: odd values make valid, distinct channels", discovery([]Group{
			grp("r1", "i-a", "a", 0, tag("Pay ments")), grp("r1", "i-a", "b", 0, tag("pay-ments")),
			grp("r1", "i-a", "c", 0, tag("2024")), grp("r1", "i-a", "d", 0, tag("支付")), grp("r1", "i-a", "e", 0, tag("a*b")),
			grp("r1", "i-a", "f", 0, tag("team")), grp("r1", "i-a", "g", 0, nil),
		}), "team", func(t *testing.T, f *rules.File, p *Proposal) {
			envName := regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
			var names, vars []string
			for _, c := range p.Channels {
				if !envName.MatchString(c.Variable) || slices.Contains(vars, c.Variable) || slices.Contains(names, c.Name) {
					t.Errorf("channel %+v", c)
				}
				names, vars = append(names, c.Name), append(vars, c.Variable)
			}
			if len(p.Channels) != 7 || !slices.Contains(names, "team-slack") || !slices.Contains(names, "team-2-slack") || !slices.Contains(vars, "TAG_2024_SLACK_WEBHOOK_URL") || !slices.Contains(vars, "TAG_SLACK_WEBHOOK_URL") {
				t.Errorf("channels %v, variables %v", names, vars)
			}
			if r := rule(t, f, "team-a*b"); r.GroupTags["team"] != `a\*b` {
				t.Errorf("the value's glob is %q", r.GroupTags["team"])
			}
		}},
		{"a group that could not be read keeps globs off its prefix", func() *Discovery {
			d := discovery([]Group{grp("r1", "i-a", "orders-api", 0, nil), grp("r1", "i-a", "orders-pay", 0, nil)})
			d.Problems = []Problem{{Region: "r1", Instance: "i-a", Group: "orders-new", Text: "cannot read its progress: boom"}}
			return d
		}(), "", func(t *testing.T, f *rules.File, p *Proposal) {
			if r := rule(t, f, "i-a"); !slices.Equal(r.Groups, []string{"orders-api", "orders-pay"}) {
				t.Errorf("groups %v", r.Groups)
			}
			if !strings.Contains(string(p.Document), "# NOT COVERED") || !strings.Contains(string(p.Document), "group orders-new on i-a (r1): cannot read its progress: boom") {
				t.Errorf("the unread group is not mentioned:\n%s", p.Document)
			}
		}},
		{"timestamps make it stale; an all-test instance is idle", discovery([]Group{
			{Region: "r1", Instance: "i-a", Name: "x", Timestamps: true, Committed: true},
			grp("r1", "i-b", "y-test", 5, nil),
		}), "", func(t *testing.T, f *rules.File, p *Proposal) {
			if r := rule(t, f, "i-a"); r.Stale == nil || r.Stuck != nil || r.Stale.Warning != StaleWarning || r.Stale.Critical != StaleCritical {
				t.Errorf("stale %+v, stuck %+v", r.Stale, r.Stuck)
			}
			if len(p.Idle) != 1 || !strings.Contains(string(p.Document), "# Nothing to watch on i-b (r1): its only group looks like a test group.") {
				t.Errorf("idle %v:\n%s", p.Idle, p.Document)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Propose(tc.d, Params{ByTag: tc.byTag})
			if err != nil {
				t.Fatalf("%v\n%s", err, p.Document)
			}
			f := load(t, p)
			for _, g := range tc.d.Groups {
				n := 0
				for i := range f.Rules {
					if f.Rules[i].Matches(g.Region, g.Instance, g.Name, g.Tags) {
						n++
					}
				}
				if want := map[bool]int{true: 1, false: 0}[ExcludeReason(g) == ""]; n != want {
					t.Errorf("%s on %s selected %d times, want %d\n%s", g.Name, g.Instance, n, want, p.Document)
				}
			}
			tc.check(t, f, p)
		})
	}
}

func TestProposeNothingToWatch(t *testing.T) {
	for _, d := range []*Discovery{
		{Regions: []string{"r1"}},
		discovery([]Group{grp("r1", "i-a", "a-test", 0, nil), {Region: "r1", Instance: "i-a", Name: "CID_new"}}),
	} {
		if _, err := Propose(d, Params{}); !errors.Is(err, ErrNothingToWatch) {
			t.Errorf("%+v: err %v", d, err)
		}
	}
}

// Whatever a name holds, the comments stay comments.
func TestCommentsStayComments(t *testing.T) {
	d := discovery([]Group{grp("r1", "i-a", "evil\nversion: 2\u2028x", 0, nil)},
		Instance{Region: "r1", ID: "i-b", Name: "bad\r\n- name: injected", ServiceStatus: 1})
	p, err := Propose(d, Params{Path: "my rules\n.yaml"})
	if err != nil {
		t.Fatalf("%v\n%s", err, p.Document)
	}
	if f := load(t, p); len(f.Rules) != 1 || f.Version != 1 {
		t.Errorf("%d rules, version %d", len(f.Rules), f.Version)
	}
	if !strings.Contains(string(p.Document), `backlog-alert validate --rules 'my rules .yaml'`) {
		t.Errorf("path:\n%s", p.Document)
	}
}

// A group behind now is trouble, not the measure of normal: it does not
// raise the warning above its own backlog, and the file says so.
func TestBehindGroupsDoNotSetTheThresholds(t *testing.T) {
	stale := grp("cn-hangzhou", "i-1", "orders-payments", 242_000, nil)
	stale.Timestamps, stale.Age = true, 3*time.Hour+5*time.Minute
	stopped := grp("cn-hangzhou", "i-1", "billing", 18_000, nil)
	stopped.Sampled, stopped.ProducedPerMinute = true, 600 // produced, nothing consumed
	healthy := grp("cn-hangzhou", "i-1", "orders-api", 1_200, nil)
	healthy.Timestamps, healthy.Age, healthy.Sampled, healthy.ConsumedPerMinute = true, 30*time.Second, true, 900
	for _, tc := range []struct {
		name    string
		groups  []Group
		warning int64 // 10 × L, or 5 × P, or 10k
		behind  []string
	}{
		{"one healthy", []Group{stale, stopped, healthy}, 20_000, []string{"orders-payments", "billing"}}, // max(10k, 12,000, 3,000)
		{"none healthy", []Group{stale, stopped}, 10_000, []string{"orders-payments", "billing"}},
		{"recently consumed", []Group{healthy}, 20_000, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Propose(discovery(tc.groups), Params{})
			if err != nil {
				t.Fatal(err)
			}
			r := p.Rules[0]
			var behind []string
			for _, b := range r.Behind {
				behind = append(behind, b.Group.Name)
			}
			if r.Warning != tc.warning || !sameSet(behind, tc.behind) {
				t.Errorf("warning %d, behind %v; want %d, %v", r.Warning, behind, tc.warning, tc.behind)
			}
			if f := load(t, p); f.Rules[0].Backlog.Warning != tc.warning {
				t.Errorf("the file says warning %d", f.Rules[0].Backlog.Warning)
			}
			doc := regexp.MustCompile(`\n *#   `).ReplaceAllString(string(p.Document), " ") // comments unwrapped
			if len(tc.behind) > 0 && !strings.Contains(doc, "Behind now, so not counted in L, and alerting on the first run: ") {
				t.Errorf("the file does not say which groups are behind:\n%s", doc)
			}
			if slices.Contains(tc.behind, "orders-payments") && !strings.Contains(doc, "orders-payments (242,000 messages behind: its newest consumed message was 3h 5m old)") {
				t.Errorf("the file does not say why orders-payments is behind:\n%s", doc)
			}
		})
	}
}

func sameSet(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}
