package rules

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

var testEnv = env(map[string]string{
	"SLACK_WEBHOOK_URL":    "https://hooks.slack.com/services/T0/B0/sekrit-slack-path",
	"DINGTALK_WEBHOOK_URL": "https://oapi.dingtalk.com/robot/send?access_token=sekrit-token",
	"DINGTALK_SECRET":      "SECsekrit-signing",
})

const validHead = `version: 1
defaults:
  region: cn-hangzhou
  notify: [team-slack]
channels:
  team-slack:
    type: slack
    webhook_url: ${SLACK_WEBHOOK_URL}
rules:
`

func TestExampleIsValid(t *testing.T) {
	f, err := Load("example.yaml")
	if err == nil {
		t.Fatal("example.yaml must fail without its environment variables")
	}
	t.Setenv("SLACK_WEBHOOK_URL", "https://hooks.example/x")
	t.Setenv("DINGTALK_WEBHOOK_URL", "https://ding.example/robot/send?access_token=t")
	t.Setenv("DINGTALK_SECRET", "SECx")
	if f, err = Load("example.yaml"); err != nil {
		t.Fatalf("example.yaml: %v", err)
	}
	if len(f.Rules) != 2 || len(f.Channels) != 2 {
		t.Fatalf("got %d rules, %d channels", len(f.Rules), len(f.Channels))
	}
	orders := f.Rules[0]
	if orders.Region != "cn-hangzhou" || orders.Backlog.Critical != 100000 || orders.Stale.Warning != 10*time.Minute {
		t.Errorf("orders rule = %+v", orders)
	}
	if got := f.Rules[1].Notify; len(got) != 1 || got[0] != "team-slack" {
		t.Errorf("analytics inherits defaults.notify, got %v", got)
	}
	if f.Rules[1].Level != LevelTopic || f.Rules[0].Level != LevelGroup {
		t.Errorf("levels: %s %s", f.Rules[0].Level, f.Rules[1].Level)
	}
	if len(f.Secrets) != 3 {
		t.Errorf("secrets = %d, want the 3 expanded secret values", len(f.Secrets))
	}
}

func TestParseErrors(t *testing.T) {
	rule := "  - name: r\n    instance: i\n    groups: [g]\n    backlog: {warning: 10}\n"
	tests := []struct {
		name string
		doc  string
		want string // file:line: field: message fragment
	}{
		{"unknown top key", "versoin: 1\n", "r.yaml:1: versoin: unknown key"},
		{"unknown rule key", validHead + rule + "    treshold: 5\n", "r.yaml:14: rules[0].treshold: unknown key"},
		{"bad duration", validHead + "  - name: r\n    instance: i\n    groups: [g]\n    stale: {warning: 10 minutes}\n", `r.yaml:13: rules[0].stale.warning: "10 minutes" is not a positive duration`},
		{"undefined variable", strings.Replace(validHead, "SLACK_WEBHOOK_URL", "NOPE_URL", 1) + rule, "r.yaml:8: channels.team-slack.webhook_url: environment variable NOPE_URL is not set"},
		{"unknown channel", validHead + rule + "    notify: [team-slak]\n", `r.yaml:14: rules[0].notify[0]: unknown channel "team-slak"`},
		{"unknown default channel", strings.Replace(validHead, "notify: [team-slack]", "notify: [nope]", 1) + rule, `r.yaml:4: defaults.notify[0]: unknown channel "nope"`},
		{"yaml syntax", validHead + "  - name: [unclosed\n", "r.yaml:10: YAML syntax:"},
		{"wrong type", validHead + "  - name: r\n    instance: i\n    groups: g\n    backlog: {warning: 10}\n", "r.yaml:12: rules[0].groups: must be a list of strings, not a string"},
		{"threshold not a number", validHead + "  - name: r\n    instance: i\n    groups: [g]\n    backlog: {warning: lots}\n", "r.yaml:13: rules[0].backlog.warning: must be a positive whole number of messages such as 10000, 2_000_000, 10k or 1.5M, not lots"},
		{"threshold not whole", validHead + "  - name: r\n    instance: i\n    groups: [g]\n    backlog: {warning: 1.2345k}\n", "r.yaml:13: rules[0].backlog.warning: must be a positive whole number of messages such as 10000, 2_000_000, 10k or 1.5M, not 1.2345k"},
		{"missing instance", validHead + "  - name: r\n    groups: [g]\n    backlog: {warning: 10}\n", "r.yaml:10: rules[0].instance: missing"},
		{"no condition", validHead + "  - name: r\n    instance: i\n    groups: [g]\n", "r.yaml:10: rules[0]: set at least one of backlog, stale, stuck"},
		{"empty thresholds", validHead + "  - name: r\n    instance: i\n    groups: [g]\n    stale: {}\n", "r.yaml:13: rules[0].stale: set warning, critical or both"},
		{"critical below warning", validHead + "  - name: r\n    instance: i\n    groups: [g]\n    backlog: {warning: 10, critical: 5}\n", "r.yaml:13: rules[0].backlog.critical: must be above warning"},
		{"duplicate rule", validHead + rule + rule, `r.yaml:14: rules[1].name: rule name "r" is already used at line 10`},
		{"bad level", validHead + rule + "    level: broker\n", `r.yaml:14: rules[0].level: unknown level "broker"`},
		{"bad glob", validHead + "  - name: r\n    instance: i\n    groups: [\"orders-[\"]\n    backlog: {warning: 10}\n", `r.yaml:12: rules[0].groups[0]: malformed glob`},
		{"missing version", strings.Replace(validHead, "version: 1\n", "", 1) + rule, "r.yaml:1: version: missing"},
		{"future version", strings.Replace(validHead, "version: 1", "version: 2", 1) + rule, "r.yaml:1: version: unsupported version 2"},
		{"unknown channel type", strings.Replace(validHead, "type: slack", "type: teams", 1) + rule, `r.yaml:7: channels.team-slack.type: unknown channel type "teams"`},
		{"secret on slack", strings.Replace(validHead, "type: slack", "type: slack\n    secret: x", 1) + rule, "r.yaml:8: channels.team-slack.secret: only dingtalk channels take a signing secret"},
		{"slack without webhook_url or token", strings.Replace(validHead, "    webhook_url: ${SLACK_WEBHOOK_URL}\n", "", 1) + rule, "r.yaml:7: channels.team-slack: set webhook_url (incoming webhook) or token (Slack app)"},
		{"dingtalk without webhook_url", strings.Replace(validHead, "type: slack\n    webhook_url: ${SLACK_WEBHOOK_URL}", "type: dingtalk", 1) + rule, "r.yaml:7: channels.team-slack.webhook_url: missing"},
		{"bot token on a webhook channel", strings.Replace(validHead, "type: slack", "type: slack\n    token: xoxb-1-sekrit", 1) + rule, "r.yaml:7: channels.team-slack: set webhook_url (incoming webhook) or token (Slack app), not both"},
		{"empty file", "", "r.yaml: the rules file is empty"},
		{"no rules", validHead, "rules: missing"},
		{"two documents", validHead + rule + "---\nversion: 1\n", "only one YAML document"},
		{"key with a newline", validHead + rule + "    \"a\\nb\": 1\n", `r.yaml:14: rules[0]."a\nb": unknown key`},
		{"channel name with a newline", strings.Replace(validHead, "  team-slack:\n", "  team-slack:\n    type: slack\n    webhook_url: https://x.example/\n  \"a\\nb\":\n", 1) + rule, `r.yaml:9: channels."a\nb": channel names use letters`},
		{"version with a newline", strings.Replace(validHead, "version: 1", "version: \"1\\n2\"", 1) + rule, `r.yaml:1: version: unsupported version "1\n2"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("r.yaml", []byte(tc.doc), testEnv)
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("error is %T, want Errors", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error:\n%v\nwant it to contain:\n%s", err, tc.want)
			}
			for _, e := range es {
				if strings.Contains(e.Error(), "\n") {
					t.Errorf("error is not one line: %q", e.Error())
				}
				if strings.Contains(e.Error(), "sekrit") {
					t.Errorf("error leaks a secret: %q", e.Error())
				}
			}
		})
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	doc := validHead + "  - name: a\n    instance: i\n    groups: [g]\n    backlog: {warning: 10, critical: 20, wrong: 1}\n  - name: b\n    instance: i\n    groups: [g]\n    stale: {warning: soon}\n"
	_, err := Parse("r.yaml", []byte(doc), testEnv)
	var es Errors
	if !errors.As(err, &es) || len(es) != 2 {
		t.Fatalf("want 2 errors, got %v", err)
	}
	if es[0].Line != 13 || es[1].Line != 17 {
		t.Errorf("lines %d, %d; want 13, 17", es[0].Line, es[1].Line)
	}
}

func TestBadWebhookURLIsNotEchoed(t *testing.T) {
	doc := strings.Replace(validHead, "${SLACK_WEBHOOK_URL}", "${BAD}", 1) + "  - name: r\n    instance: i\n    groups: [g]\n    backlog: {warning: 10}\n"
	_, err := Parse("r.yaml", []byte(doc), env(map[string]string{"BAD": "sekrit-not-a-url"}))
	if err == nil || !strings.Contains(err.Error(), "webhook_url: is not an http(s) URL") || strings.Contains(err.Error(), "sekrit") {
		t.Fatalf("err = %v", err)
	}
}

func TestDurations(t *testing.T) {
	for in, want := range map[string]time.Duration{"90s": 90 * time.Second, "10m": 10 * time.Minute, "1h30m": 90 * time.Minute, "2d": 48 * time.Hour} {
		if got, err := parseDuration(in); err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0s", "-5m", "10", "ten minutes", "0d"} {
		if _, err := parseDuration(in); err == nil {
			t.Errorf("parseDuration(%q) accepted", in)
		}
	}
}

func TestMatches(t *testing.T) {
	named := Rule{Instances: []string{"i", "j"}, Region: "cn-hangzhou", Groups: []string{"orders-*", "billing"}, ExcludeGroups: []string{"*-test"}}
	every := Rule{Instances: []string{AllInstances}, Region: "cn-hangzhou", Groups: []string{"*"}, GroupTags: map[string]string{"team": "pay*", "env": "prod"}}
	prod := map[string]string{"team": "payments", "env": "prod"}
	for _, tc := range []struct {
		rule                    *Rule
		region, instance, group string
		tags                    map[string]string
		why                     string // "" when the rule watches the group
	}{
		{&named, "cn-hangzhou", "i", "orders-eu", nil, ""},
		{&named, "cn-hangzhou", "j", "billing", nil, ""},
		{&named, "cn-hangzhou", "i", "orders-test", nil, `excluded by exclude_groups "*-test"`},
		{&named, "cn-hangzhou", "i", "billing-2", nil, "no groups entry matches billing-2 (groups: orders-*, billing)"},
		{&named, "cn-beijing", "i", "billing", nil, "watches region cn-hangzhou, not cn-beijing"},
		{&named, "cn-hangzhou", "k", "billing", nil, "watches instance i, j, not k"},
		{&every, "cn-hangzhou", "any-instance", "g", prod, ""},
		{&every, "cn-hangzhou", "i", "g", map[string]string{"team": "payroll", "env": "prod", "x": "y"}, ""},
		{&every, "cn-hangzhou", "i", "g", map[string]string{"team": "search", "env": "prod"}, `group_tags wants team=pay*; the group's team is "search"`},
		{&every, "cn-hangzhou", "i", "g", map[string]string{"team": "payments"}, "group_tags wants env=prod; the group has no tag env"},
		{&every, "cn-hangzhou", "i", "g", nil, "group_tags wants env=prod; the group has no tag env"},
		{&every, "cn-shanghai", "i", "g", prod, "watches region cn-hangzhou, not cn-shanghai"},
	} {
		why := tc.rule.Why(tc.region, tc.instance, tc.group, tc.tags)
		if why != tc.why || tc.rule.Matches(tc.region, tc.instance, tc.group, tc.tags) != (tc.why == "") {
			t.Errorf("%s/%s/%s %v: why %q, want %q", tc.region, tc.instance, tc.group, tc.tags, why, tc.why)
		}
		// A run asks every rule about every group: no garbage for it.
		if n := testing.AllocsPerRun(10, func() { tc.rule.Matches(tc.region, tc.instance, tc.group, tc.tags) }); n != 0 {
			t.Errorf("%s/%s/%s: Matches allocates %v times", tc.region, tc.instance, tc.group, n)
		}
	}
}

// A rule may watch a list of instances or every instance of its region,
// select groups by tag, and route by a tag's value; mistakes name the line.
func TestInstancesTagsAndRoutes(t *testing.T) {
	const head = "version: 1\ndefaults:\n  region: cn-hangzhou\nchannels:\n" +
		"  a: {type: slack, webhook_url: \"${SLACK_WEBHOOK_URL}\"}\n  b: {type: slack, webhook_url: \"${SLACK_WEBHOOK_URL}\"}\n"
	for _, tc := range []struct {
		name, rule string
		err        string // "" when valid
		check      func(*testing.T, Rule)
	}{
		{name: "one instance", rule: "instance: i", check: func(t *testing.T, r Rule) {
			if !slices.Equal(r.Instances, []string{"i"}) || r.OnInstance("j") {
				t.Errorf("instances %v", r.Instances)
			}
		}},
		{name: "a list", rule: "instance: [i, j]", check: func(t *testing.T, r Rule) {
			if !r.OnInstance("i") || !r.OnInstance("j") || r.OnInstance("k") {
				t.Errorf("instances %v", r.Instances)
			}
		}},
		{name: "every instance", rule: `instance: "*"`, check: func(t *testing.T, r Rule) {
			if !r.OnInstance("anything") {
				t.Errorf("instances %v", r.Instances)
			}
		}},
		{name: "tags and routes", rule: "instance: \"*\"\n    group_tags: {team: \"pay*\", env: prod}\n    routes:\n      tag: team\n      to:\n        payments: [b]\n        payroll: [a, b]",
			check: func(t *testing.T, r Rule) {
				if r.GroupTags["team"] != "pay*" || r.GroupTags["env"] != "prod" || !r.NeedsTags() {
					t.Errorf("group_tags %v", r.GroupTags)
				}
				for _, tc := range []struct {
					tags   map[string]string
					want   []string
					routed bool
				}{
					{map[string]string{"team": "payments"}, []string{"b"}, true},
					{map[string]string{"team": "payroll"}, []string{"a", "b"}, true},
					{map[string]string{"team": "search"}, []string{"a"}, false},
					{nil, []string{"a"}, false},
				} {
					if got, routed := r.Channels(tc.tags); !slices.Equal(got, tc.want) || routed != tc.routed {
						t.Errorf("Channels(%v) = %v, %v; want %v, %v", tc.tags, got, routed, tc.want, tc.routed)
					}
				}
			}},
		{name: "star in a list", rule: `instance: [i, "*"]`, err: `:9: rules[0].instance: "*" (every instance of the region) stands alone, not in a list`},
		{name: "instance glob", rule: `instance: "alikafka-*"`, err: `rules[0].instance: "alikafka-*": an instance is an ID or "*", not a pattern`},
		{name: "empty list", rule: "instance: []", err: "rules[0].instance: name at least one instance"},
		{name: "twice", rule: "instance: [i, i]", err: "rules[0].instance: instance i listed twice"},
		{name: "empty tags", rule: "instance: i\n    group_tags: {}", err: "rules[0].group_tags: name at least one tag"},
		{name: "bad tag glob", rule: "instance: i\n    group_tags: {team: \"[x\"}", err: `:10: rules[0].group_tags.team: malformed glob "[x"`},
		{name: "tags not a map", rule: "instance: i\n    group_tags: [team]", err: "rules[0].group_tags: must be a mapping"},
		{name: "route to unknown channel", rule: "instance: i\n    routes: {tag: team, to: {payments: [nope]}}", err: `:10: rules[0].routes.to.payments[0]: unknown channel "nope"`},
		{name: "route without tag", rule: "instance: i\n    routes: {to: {payments: [a]}}", err: "rules[0].routes.tag: missing"},
		{name: "route unknown key", rule: "instance: i\n    routes: {tag: team, by: x, to: {p: [a]}}", err: "rules[0].routes.by: unknown key"},
		{name: "route to nothing", rule: "instance: i\n    routes: {tag: team, to: {payments: []}}", err: "rules[0].routes.to.payments: name at least one channel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := head + "rules:\n  - name: r\n    " + tc.rule + "\n    groups: [\"*\"]\n    backlog: {warning: 10}\n    notify: [a]\n"
			f, err := Parse("r.yaml", []byte(doc), testEnv)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v\nwant it to contain %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, f.Rules[0])
		})
	}
}

// Thresholds are written as people say them: 10k, 1.5M, 2_000_000.
func TestBacklogThresholdsWithSuffixes(t *testing.T) {
	for _, tc := range []struct {
		warning, critical, resolve string
		want                       [3]int64
	}{
		{"10000", "2_000_000", "5000", [3]int64{10_000, 2_000_000, 5000}},
		{"10k", "1.5M", "9.5K", [3]int64{10_000, 1_500_000, 9500}},
		{"1e4", "2G", "1_000", [3]int64{10_000, 2_000_000_000, 1000}},
	} {
		doc := validHead + fmt.Sprintf("  - name: r\n    instance: i\n    groups: [g]\n    backlog: {warning: %s, critical: %s, resolve_below: %s}\n", tc.warning, tc.critical, tc.resolve)
		f, err := Parse("r.yaml", []byte(doc), testEnv)
		if err != nil {
			t.Errorf("%s/%s/%s: %v", tc.warning, tc.critical, tc.resolve, err)
			continue
		}
		b := f.Rules[0].Backlog
		if got := [3]int64{b.Warning, b.Critical, b.ResolveBelow}; got != tc.want {
			t.Errorf("%s/%s/%s = %v, want %v", tc.warning, tc.critical, tc.resolve, got, tc.want)
		}
	}
}
