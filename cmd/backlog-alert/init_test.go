package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/function"
	"github.com/backlog-alert/backlog-alert/progress"
	"github.com/backlog-alert/backlog-alert/progress/alikafka"
	"github.com/backlog-alert/backlog-alert/progress/alikafkatest"
	"github.com/backlog-alert/backlog-alert/propose"
	"github.com/backlog-alert/backlog-alert/rules"
)

// seenGroup is a consumer group the fake serves to init, and whether init
// should watch it.
type seenGroup struct {
	region, instance, name string
	lag                    int64
	timestamps, committed  bool
	tags                   map[string]string
	watch                  bool
}

const (
	hzOrders    = "alikafka_post-cn-hzorders1"
	hzAnalytics = "alikafka_post-cn-hzanalyt1"
	hzMisc      = "alikafka_post-cn-hzmisc001"
	hzStopped   = "alikafka_post-cn-hzstopped"
	shRisk      = "alikafka_post-cn-shrisk001"
)

func team(v string) map[string]string { return map[string]string{"team": v} }

// initWorld is two regions: in cn-hangzhou three running instances and a
// stopped one, in cn-shanghai one; tagged and untagged groups, and
// test-looking ones, which init must leave out, beside a CID_ group that
// has committed offsets, which it must keep.
var initWorld = []seenGroup{
	{"cn-hangzhou", hzOrders, "orders-api", 37_000, true, true, team("payments"), true},
	{"cn-hangzhou", hzOrders, "orders-payments", 1_000, true, true, team("payments"), true},
	{"cn-hangzhou", hzOrders, "orders-test", 900_000, true, true, team("payments"), false},
	{"cn-hangzhou", hzOrders, "billing", 20, true, true, nil, true},
	{"cn-hangzhou", hzOrders, "CID_x", 0, false, false, nil, false},
	{"cn-hangzhou", hzOrders, "CID_y", 0, false, true, nil, true},
	{"cn-hangzhou", hzAnalytics, "clicks-a", 300, false, true, team("data"), true},
	{"cn-hangzhou", hzAnalytics, "clicks-b", 300, false, true, team("data"), true},
	{"cn-hangzhou", hzAnalytics, "pay-dev", 50_000, false, true, team("payments"), false},
	{"cn-hangzhou", hzAnalytics, "payments-gw", 10, false, true, team("payments"), true},
	{"cn-hangzhou", hzAnalytics, "stats", 10, false, true, nil, true},
	{"cn-hangzhou", hzMisc, "jobs-a", 0, false, true, team("data"), true},
	{"cn-hangzhou", hzMisc, "payments-batch", 0, false, true, team("payments"), true},
	{"cn-hangzhou", hzMisc, "misc", 0, false, true, nil, true},
	{"cn-shanghai", shRisk, "risk-a", 5, true, true, team("risk"), true},
	{"cn-shanghai", shRisk, "risk-b", 5, true, true, team("risk"), true},
	{"cn-shanghai", shRisk, "legacy_consumer", 2_100, true, true, nil, true},
	{"cn-shanghai", shRisk, "legacy_reporter", 7, true, true, nil, true},
	{"cn-shanghai", shRisk, "orders_DEV", 7, true, true, nil, false},
}

// serveInitWorld loads initWorld into the fake, with the stopped instance
// and its group, which init must not touch.
func serveInitWorld(api *alikafkatest.Server) {
	now := time.Now()
	for _, g := range initWorld {
		api.SetGroup(fakeGroup(g, now))
	}
	api.SetInstanceMeta("cn-hangzhou", hzOrders, alikafkatest.InstanceMeta{Name: "orders"})
	api.SetInstanceMeta("cn-hangzhou", hzStopped, alikafkatest.InstanceMeta{Name: "old", ServiceStatus: 10})
	api.SetGroup(fakeGroup(seenGroup{"cn-hangzhou", hzStopped, "ghost", 10, true, true, nil, false}, now))
}

func fakeGroup(g seenGroup, now time.Time) progress.Group {
	pg := progress.Group{Region: g.region, Instance: g.instance, Group: g.name, Tags: g.tags, TotalDiff: g.lag, LastTimestamp: -1}
	if g.name == "CID_x" {
		return pg // subscribed to nothing: no partitions, no commits
	}
	ts := int64(-1)
	if g.timestamps {
		ts = now.Add(-time.Minute).UnixMilli()
		pg.LastTimestamp = ts
	}
	consumer := int64(0)
	if g.committed {
		consumer = 5_000
	}
	pg.Topics = []progress.Topic{{Topic: "events", TotalDiff: g.lag, LastTimestamp: ts,
		Partitions: []progress.Partition{{Partition: 0, BrokerOffset: consumer + g.lag, ConsumerOffset: consumer, LastTimestamp: ts}}}}
	return pg
}

// setInitChannels sets the variables a proposal's channels need, as the
// file's header tells its reader to.
func setInitChannels(t *testing.T) {
	for _, v := range []string{"SLACK_WEBHOOK_URL", "PAYMENTS_SLACK_WEBHOOK_URL", "DATA_SLACK_WEBHOOK_URL", "RISK_SLACK_WEBHOOK_URL"} {
		t.Setenv(v, "https://hooks.slack.com/services/T0/B0/"+strings.ToLower(v))
	}
}

// checkSelection loads the file and checks that every group of regions
// (all when none is named) init should watch is selected by exactly one
// rule, and no other group by any.
func checkSelection(t *testing.T, path string, regions ...string) *rules.File {
	t.Helper()
	f, err := rules.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range initWorld {
		if len(regions) > 0 && !slices.Contains(regions, g.region) {
			continue
		}
		var by []string
		for i := range f.Rules {
			if f.Rules[i].Matches(g.region, g.instance, g.name, g.tags) {
				by = append(by, f.Rules[i].Name)
			}
		}
		if want := map[bool]int{true: 1, false: 0}[g.watch]; len(by) != want {
			t.Errorf("group %s on %s is selected by %d rules %v, want %d", g.name, g.instance, len(by), by, want)
		}
	}
	return f
}

func ruleNamed(t *testing.T, f *rules.File, name string) *rules.Rule {
	t.Helper()
	r, ok := f.Rule(name)
	if !ok {
		t.Fatalf("no rule %q in the proposal", name)
	}
	return r
}

// init over two regions: the file validates, watches every group but the
// test-looking ones exactly once, takes its thresholds from what it saw,
// skips the stopped instance, and stays within the API's rate.
func TestInitTwoRegions(t *testing.T) {
	api, _ := setup(t)
	serveInitWorld(api)
	// The fake refuses calls over the default rate, as the service does
	// over its limit: an unpaced burst of reads would be throttled.
	api.SetRateLimit(alikafka.DefaultQPS)
	out := filepath.Join(t.TempDir(), "rules.yaml")

	code, stdout, stderr := cli(t, "init", "--region", "cn-hangzhou", "--region", "cn-shanghai", "--out", out)
	if code != function.ExitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout = %q, want nothing (the file has the rules)", stdout)
	}
	setInitChannels(t)
	if code, vout, verr := cli(t, "validate", "--rules", out); code != function.ExitOK {
		t.Fatalf("validate exit %d\n%s%s", code, vout, verr)
	}
	f := checkSelection(t, out)

	// One rule per instance read, in its region.
	var names []string
	for _, r := range f.Rules {
		names = append(names, r.Name)
		if r.Region == "" || len(r.Instances) != 1 || r.Instances[0] != r.Name {
			t.Errorf("rule %s: region %q, instances %v", r.Name, r.Region, r.Instances)
		}
	}
	if want := []string{hzAnalytics, hzMisc, hzOrders, shRisk}; !slices.Equal(names, want) {
		t.Errorf("rules %v, want %v", names, want)
	}

	// Thresholds: L = 37,000 on the orders instance (its test group's
	// 900,000 does not count), so warning = nice(max(10k, 370,000)) = 500k
	// and critical = 5 × 500k = 2.5M.
	orders := ruleNamed(t, f, hzOrders)
	if orders.Backlog.Warning != 500_000 || orders.Backlog.Critical != 2_500_000 {
		t.Errorf("orders backlog = %+v, want 500k / 2.5M", *orders.Backlog)
	}
	if w := propose.WarningFor(37_000, 0); orders.Backlog.Warning != w || orders.Backlog.Critical != propose.CriticalFor(w) {
		t.Errorf("orders backlog = %+v, the formulas say %d / %d", *orders.Backlog, w, propose.CriticalFor(w))
	}
	if !slices.Equal(orders.ExcludeGroups, []string{"CID_x", "orders-test"}) {
		t.Errorf("orders exclude_groups = %v", orders.ExcludeGroups)
	}
	if orders.Stale == nil || orders.Stuck != nil {
		t.Errorf("orders has timestamps: want stale, not stuck: %+v %+v", orders.Stale, orders.Stuck)
	}
	// No timestamps on the analytics instance: stuck instead of stale;
	// its pay-dev backlog does not count either: 10 × 300 < 10k.
	analytics := ruleNamed(t, f, hzAnalytics)
	if analytics.Stale != nil || analytics.Stuck == nil || analytics.Stuck.Warning != propose.StaleWarning || analytics.Stuck.Critical != propose.StaleCritical {
		t.Errorf("analytics: stale %+v, stuck %+v", analytics.Stale, analytics.Stuck)
	}
	if analytics.Backlog.Warning != propose.MinWarning || analytics.Backlog.Critical != 50_000 {
		t.Errorf("analytics backlog = %+v, want 10k / 50k", *analytics.Backlog)
	}
	// legacy_consumer and legacy_reporter share a prefix: one glob.
	if risk := ruleNamed(t, f, shRisk); !slices.Contains(risk.Groups, "legacy_*") || risk.Backlog.Warning != 50_000 {
		t.Errorf("shanghai rule: groups %v, backlog %+v", risk.Groups, *risk.Backlog)
	}

	// The stopped instance was listed, never read; every other instance's
	// groups were listed once and each group read once.
	count := map[string]int{}
	for _, r := range api.Requests() {
		count[r.Action]++
		if r.InstanceId == hzStopped {
			t.Errorf("%s called on the stopped instance", r.Action)
		}
	}
	groups := len(initWorld)
	if count[alikafkatest.ActionGetInstanceList] != 2 || count[alikafkatest.ActionGetConsumerList] != 4 || count[alikafkatest.ActionGetConsumerProgress] != groups {
		t.Errorf("calls %v, want 2 instance listings, 4 group listings, %d progress reads", count, groups)
	}
	// Paced: nothing throttled at the default rate, and the summary counts
	// every call the service saw.
	if st := api.Stats(); st.Throttled != 0 || st.Calls != 2+4+groups {
		t.Errorf("the service saw %+v", st)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"init: cn-hangzhou, cn-shanghai: 4 instances read (1 not running, skipped), 19 consumer groups: 15 watched by 4 rules, 4 excluded as test groups; 25 OpenAPI calls.",
		"init: wrote " + out + ". Next:",
		"  export SLACK_WEBHOOK_URL=",
		"  backlog-alert validate --rules " + out,
		"  backlog-alert run --rules " + out + " --dry-run",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	for _, want := range []string{
		"backlog.warning  = nice(max(10k, 10 × L, 5 × P))",
		"backlog.critical = 5 × warning",
		"Not running, skipped: " + hzStopped + ` "old"`,
		"# Seen: L = 37,000 (orders-api), P = 0 (not sampled).",
		"# Backlog warning nice(max(10k, 370,000, 0)) = 500k, critical 5 × 500k = 2.5M.",
		"# Excluded: CID_x (console-created group that has never committed an offset); orders-test (name",
		"export SLACK_WEBHOOK_URL=",
	} {
		if !strings.Contains(string(data), want) {
			t.Errorf("the file lacks %q:\n%s", want, data)
		}
	}
	assertNoSecrets(t, "init output", stdout+stderr+string(data))
}

// --by-tag: one rule per value of the tag, on the instances that have such
// groups ("*" when that is all of them), one channel per value; groups
// without the tag still watched, each by one rule.
func TestInitByTag(t *testing.T) {
	api, _ := setup(t)
	serveInitWorld(api)
	out := filepath.Join(t.TempDir(), "rules.yaml")
	code, _, stderr := cli(t, "init", "--region", "cn-hangzhou,cn-shanghai", "--by-tag", "team", "--out", out)
	if code != function.ExitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	setInitChannels(t)
	if code, vout, verr := cli(t, "validate", "--rules", out); code != function.ExitOK {
		t.Fatalf("validate exit %d\n%s%s", code, vout, verr)
	}
	f := checkSelection(t, out)

	type shape struct {
		instances []string
		tag       string
		notify    string
	}
	want := map[string]shape{
		// payments groups are on every running instance of cn-hangzhou.
		"team-payments-cn-hangzhou": {[]string{rules.AllInstances}, "payments", "payments-slack"},
		// data groups on two of its three.
		"team-data-cn-hangzhou":   {[]string{hzAnalytics, hzMisc}, "data", "data-slack"},
		"team-risk-cn-shanghai":   {[]string{rules.AllInstances}, "risk", "risk-slack"},
		hzOrders + "-untagged":    {[]string{hzOrders}, "", "team-slack"},
		hzAnalytics + "-untagged": {[]string{hzAnalytics}, "", "team-slack"},
		hzMisc + "-untagged":      {[]string{hzMisc}, "", "team-slack"},
		shRisk + "-untagged":      {[]string{shRisk}, "", "team-slack"},
	}
	if len(f.Rules) != len(want) {
		t.Errorf("%d rules, want %d", len(f.Rules), len(want))
	}
	for name, w := range want {
		r := ruleNamed(t, f, name)
		if !slices.Equal(r.Instances, w.instances) || !slices.Equal(r.Notify, []string{w.notify}) {
			t.Errorf("rule %s: instances %v, notify %v; want %v, %v", name, r.Instances, r.Notify, w.instances, w.notify)
		}
		if w.tag != "" && (r.GroupTags["team"] != w.tag || len(r.GroupTags) != 1 || !slices.Equal(r.Groups, []string{"*"})) {
			t.Errorf("rule %s: groups %v, group_tags %v", name, r.Groups, r.GroupTags)
		}
		if w.tag == "" && len(r.GroupTags) != 0 {
			t.Errorf("rule %s selects by tags %v", name, r.GroupTags)
		}
	}
	// The payments rule leaves out the test groups that have its tag.
	if r := ruleNamed(t, f, "team-payments-cn-hangzhou"); !slices.Equal(r.ExcludeGroups, []string{"orders-test", "pay-dev"}) {
		t.Errorf("payments exclude_groups = %v", r.ExcludeGroups)
	}
	// orders-* would select tagged groups: the untagged rule names its own.
	if r := ruleNamed(t, f, hzOrders+"-untagged"); !slices.Equal(r.Groups, []string{"CID_y", "billing"}) {
		t.Errorf("untagged orders groups = %v", r.Groups)
	}
	if !strings.Contains(stderr, "export PAYMENTS_SLACK_WEBHOOK_URL=") || !strings.Contains(stderr, "export SLACK_WEBHOOK_URL=") {
		t.Errorf("the summary does not say which variables to export:\n%s", stderr)
	}
}

// init never overwrites a file unless told to, and refuses before calling
// anything; --out - prints the rules.
func TestInitOutput(t *testing.T) {
	api, _ := setup(t)
	serveInitWorld(api)
	t.Chdir(t.TempDir())
	const mine = "# my own rules\n"
	if err := os.WriteFile("rules.yaml", []byte(mine), 0o600); err != nil {
		t.Fatal(err)
	}

	code, _, stderr := cli(t, "init", "--region", "cn-hangzhou")
	if code != function.ExitSetup || !strings.Contains(stderr, "rules.yaml exists") || !strings.Contains(stderr, "--force") {
		t.Errorf("exit %d, stderr %q: want 2, naming the file and --force", code, stderr)
	}
	if data, _ := os.ReadFile("rules.yaml"); string(data) != mine {
		t.Errorf("the file was changed: %q", data)
	}
	if n := len(api.Requests()); n != 0 {
		t.Errorf("%d OpenAPI calls before refusing", n)
	}

	code, _, stderr = cli(t, "init", "--region", "cn-hangzhou", "--force")
	data, _ := os.ReadFile("rules.yaml")
	if code != function.ExitOK || !strings.HasPrefix(string(data), "# Proposed by `backlog-alert init`") {
		t.Errorf("--force: exit %d, file %q\n%s", code, data, stderr)
	}
	if info, err := os.Stat("rules.yaml"); err != nil || info.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, %v", info.Mode(), err)
	}

	code, stdout, stderr := cli(t, "init", "--region", "cn-hangzhou", "--out", "-")
	if code != function.ExitOK || !strings.HasPrefix(stdout, "# Proposed by `backlog-alert init`") || !strings.Contains(stdout, "\nversion: 1\n") {
		t.Errorf("--out -: exit %d, stdout %q\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "init: wrote the rules to stdout.") || !strings.Contains(stderr, "backlog-alert validate --rules rules.yaml") {
		t.Errorf("--out -: stderr %q", stderr)
	}
	entries, _ := os.ReadDir(".")
	if len(entries) != 1 {
		t.Errorf("the directory has %d entries, want only rules.yaml (no temporary file left)", len(entries))
	}
}

// A region that cannot be listed is said, with the service's reason and no
// secret; init writes what it could read, says what it left out, and exits
// 1; with nothing read it writes nothing. Refused credentials exit 2.
func TestInitRegionFails(t *testing.T) {
	tests := []struct {
		name    string
		fault   alikafkatest.Fault
		regions string
		secret  string // a wrong ALIBABA_CLOUD_ACCESS_KEY_SECRET
		code    int
		written bool
		says    []string
	}{
		{"one of two regions", alikafkatest.Fault{Action: alikafkatest.ActionGetInstanceList, Region: "cn-shanghai", HTTPStatus: 503, Code: "ServiceUnavailable", Message: "The request has failed due to a temporary failure of the server."},
			"cn-hangzhou,cn-shanghai", "", function.ExitErrors, true,
			[]string{"init: region cn-shanghai: cannot list its instances: alikafka: ServiceUnavailable (HTTP 503)", "exit 1"}},
		{"the only region", alikafkatest.Fault{Action: alikafkatest.ActionGetInstanceList, HTTPStatus: 500, Code: "InternalError", Message: "oops"},
			"cn-shanghai", "", function.ExitErrors, false,
			[]string{"init: region cn-shanghai: cannot list its instances: alikafka: InternalError (HTTP 500)", "no consumer group to watch was found in cn-shanghai; nothing written"}},
		{"not authorized", alikafkatest.Fault{Action: alikafkatest.ActionGetInstanceList, HTTPStatus: 403, Code: "Forbidden.RAM", Message: "User not authorized to operate on the specified resource."},
			"cn-hangzhou", "", function.ExitSetup, false,
			[]string{"Forbidden.RAM", "nothing written", "the service refused the credentials"}},
		{"wrong secret", alikafkatest.Fault{}, "cn-hangzhou", "a-wrong-secret-value", function.ExitSetup, false,
			[]string{"SignatureDoesNotMatch", "nothing written", "the service refused the credentials"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api, _ := setup(t)
			serveInitWorld(api)
			if tc.fault.HTTPStatus != 0 {
				api.Inject(tc.fault)
			}
			if tc.secret != "" {
				t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", tc.secret)
			}
			out := filepath.Join(t.TempDir(), "rules.yaml")
			code, stdout, stderr := cli(t, "init", "--region", tc.regions, "--out", out)
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s", code, tc.code, stderr)
			}
			for _, want := range tc.says {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			data, err := os.ReadFile(out)
			if written := err == nil; written != tc.written {
				t.Fatalf("file written: %v, want %v", written, tc.written)
			}
			if tc.written {
				if !strings.Contains(string(data), "# NOT COVERED") || !strings.Contains(string(data), "region cn-shanghai: cannot list its instances") {
					t.Errorf("the file does not say what it leaves out:\n%s", data)
				}
				setInitChannels(t)
				checkSelection(t, out, "cn-hangzhou") // all the groups it could read
			}
			all := stdout + stderr + string(data)
			assertNoSecrets(t, "init output", all)
			if tc.secret != "" && strings.Contains(all, tc.secret) {
				t.Error("the wrong secret was printed")
			}
		})
	}
}

// Bad flags: a clear message and exit 2, before any call.
func TestInitUsage(t *testing.T) {
	api, _ := setup(t)
	tests := []struct {
		args []string
		says string
	}{
		{nil, "name at least one --region"},
		{[]string{"--region", "CN_Hangzhou"}, `--region "CN_Hangzhou" is not a region ID`},
		{[]string{"--region", "cn-hangzhou,"}, "empty value"},
		{[]string{"--region", "cn-hangzhou", "--sample", "1s"}, "--sample 1s: use at least 10s"},
		{[]string{"--region", "cn-hangzhou", "--sample", "-2m"}, "--sample -2m0s: use at least 10s"},
		{[]string{"--region", "cn-hangzhou", "--by-tag", ""}, "--by-tag needs a tag key"},
		{[]string{"--region", "cn-hangzhou", "--out", ""}, "--out needs a path"},
		{[]string{"--region", "cn-hangzhou", "--out", t.TempDir()}, "is a directory; name the file"},
		{[]string{"--region", "cn-hangzhou", "--out", filepath.Join(t.TempDir(), "no", "rules.yaml")}, "/no does not exist"},
		{[]string{"--region", "cn-hangzhou", "extra"}, `unexpected argument "extra"`},
		{[]string{"--regions", "cn-hangzhou"}, "flag provided but not defined: -regions"},
	}
	for _, tc := range tests {
		code, stdout, stderr := cli(t, append([]string{"init"}, tc.args...)...)
		if code != function.ExitSetup || !strings.Contains(stderr, tc.says) || stdout != "" {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr, tc.says)
		}
	}
	t.Setenv("DEBUG", "sdk")
	if code, _, stderr := cli(t, "init", "--region", "cn-hangzhou", "--out", "-"); code != function.ExitSetup || !strings.Contains(stderr, "unset DEBUG") {
		t.Errorf("DEBUG=sdk: exit %d, %q", code, stderr)
	}
	if n := len(api.Requests()); n != 0 {
		t.Errorf("%d OpenAPI calls", n)
	}
}
