package rules

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// localeDoc has lines numbered for the tests below: defaults' extra lines
// start at line 5; without them, the channel's at line 9.
func localeDoc(defaults, channel string) string {
	return "version: 1\n" +
		"defaults:\n" +
		"  region: cn-hangzhou\n" +
		"  notify: [ops]\n" +
		defaults +
		"channels:\n" +
		"  ops:\n" +
		"    type: slack\n" +
		"    webhook_url: ${SLACK_WEBHOOK_URL}\n" +
		channel +
		"  plain:\n" +
		"    type: dingtalk\n" +
		"    webhook_url: ${DINGTALK_WEBHOOK_URL}\n" +
		"rules:\n" +
		"  - {name: r, instance: i, groups: [g], backlog: {warning: 10}}\n"
}

func TestLanguageAndTimezoneInheritance(t *testing.T) {
	tests := []struct {
		name, defaults, channel string
		// want for the channel that sets its own (ops) and the one that
		// does not (plain).
		opsLang, opsZone, plainLang, plainZone string
	}{
		{"built-in defaults", "", "", "en", "UTC", "en", "UTC"},
		{"defaults only", "  language: zh-CN\n  timezone: Asia/Shanghai\n", "", "zh-CN", "Asia/Shanghai", "zh-CN", "Asia/Shanghai"},
		{"channel only", "", "    language: zh-CN\n    timezone: Asia/Shanghai\n", "zh-CN", "Asia/Shanghai", "en", "UTC"},
		{"channel over defaults", "  language: zh-CN\n  timezone: Asia/Shanghai\n", "    language: en\n    timezone: Europe/Berlin\n", "en", "Europe/Berlin", "zh-CN", "Asia/Shanghai"},
		{"language from channel, zone from defaults", "  timezone: America/New_York\n", "    language: zh-CN\n", "zh-CN", "America/New_York", "en", "America/New_York"},
		{"UTC spelled out", "  timezone: Asia/Tokyo\n", "    timezone: UTC\n", "en", "UTC", "en", "Asia/Tokyo"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse("r.yaml", []byte(localeDoc(tc.defaults, tc.channel)), testEnv)
			if err != nil {
				t.Fatal(err)
			}
			ops, _ := f.Channel("ops")
			plain, _ := f.Channel("plain")
			if ops.Location == nil || plain.Location == nil {
				t.Fatalf("nil location: ops %v, plain %v", ops.Location, plain.Location)
			}
			got := [4]string{ops.Language, ops.Location.String(), plain.Language, plain.Location.String()}
			if want := [4]string{tc.opsLang, tc.opsZone, tc.plainLang, tc.plainZone}; got != want {
				t.Errorf("ops, plain = %v, want %v", got, want)
			}
			if f.Defaults.Language == "" || f.Defaults.Location == nil {
				t.Errorf("defaults not filled: %q %v", f.Defaults.Language, f.Defaults.Location)
			}
		})
	}
}

func TestShanghaiIsReallyShanghai(t *testing.T) {
	f, err := Parse("r.yaml", []byte(localeDoc("  timezone: Asia/Shanghai\n", "")), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := f.Channel("plain")
	if got := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).In(c.Location).Hour(); got != 8 {
		t.Errorf("midnight UTC is %d:00 in the channel's zone, want 8:00", got)
	}
}

// errorLines parses doc and returns its error lines; the test fails if it
// parses or if the error is not Errors.
func errorLines(t *testing.T, doc string) []string {
	t.Helper()
	_, err := Parse("rules.yaml", []byte(doc), testEnv)
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("err = %v (%T), want Errors", err, err)
	}
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return lines
}

func TestLanguageAndTimezoneErrors(t *testing.T) {
	tests := []struct{ name, defaults, channel, want string }{
		{"near-miss language", "", "    language: zh\n", `rules.yaml:9: channels.ops.language: unknown language "zh" (en or zh-CN)`},
		{"language case", "", "    language: zh-cn\n", `rules.yaml:9: channels.ops.language: unknown language "zh-cn" (en or zh-CN)`},
		{"language not a string", "", "    language: [en]\n", `rules.yaml:9: channels.ops.language: must be a string, not a list`},
		{"defaults language", "  language: English\n", "", `rules.yaml:5: defaults.language: unknown language "English" (en or zh-CN)`},
		{"misspelt zone", "", "    timezone: Asia/Shangai\n", `rules.yaml:9: channels.ops.timezone: unknown time zone "Asia/Shangai" (an IANA name such as Asia/Shanghai or UTC)`},
		{"defaults zone", "  timezone: Mars/Olympus\n", "", `rules.yaml:5: defaults.timezone: unknown time zone "Mars/Olympus" (an IANA name such as Asia/Shanghai or UTC)`},
		{"Local is not a zone", "", "    timezone: Local\n", `rules.yaml:9: channels.ops.timezone: unknown time zone "Local" (an IANA name such as Asia/Shanghai or UTC)`},
		{"empty zone", "", "    timezone: \"\"\n", `rules.yaml:9: channels.ops.timezone: unknown time zone "" (an IANA name such as Asia/Shanghai or UTC)`},
		{"path as zone", "", "    timezone: ../../etc/passwd\n", `rules.yaml:9: channels.ops.timezone: unknown time zone "../../etc/passwd" (an IANA name such as Asia/Shanghai or UTC)`},
		{"offset as zone", "", "    timezone: \"+08:00\"\n", `rules.yaml:9: channels.ops.timezone: unknown time zone "+08:00" (an IANA name such as Asia/Shanghai or UTC)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lines := errorLines(t, localeDoc(tc.defaults, tc.channel))
			if len(lines) != 1 || lines[0] != tc.want {
				t.Errorf("errors:\n%s\nwant exactly:\n%s", strings.Join(lines, "\n"), tc.want)
			}
		})
	}
}

// annotationDoc puts defaults' extra lines from line 5; without them, the
// rule's extra lines start at line 14.
func annotationDoc(defaults, rule string) string {
	return "version: 1\n" +
		"defaults:\n" +
		"  region: cn-hangzhou\n" +
		"  notify: [ops]\n" +
		defaults +
		"channels:\n" +
		"  ops:\n" +
		"    type: slack\n" +
		"    webhook_url: ${SLACK_WEBHOOK_URL}\n" +
		"rules:\n" +
		"  - name: orders\n" +
		"    instance: alikafka_post-cn-1\n" +
		"    groups: [\"orders-*\"]\n" +
		"    backlog: {warning: 10}\n" +
		rule
}

func TestAnnotationErrors(t *testing.T) {
	many := "  annotations:\n"
	for c := 'a'; c <= 'u'; c++ {
		many += "    k" + string(c) + ": x\n"
	}
	tests := []struct{ name, defaults, rule, want string }{
		{"unknown field", "", "    annotations:\n      summary: \"{{ .Owner }} is behind\"\n",
			"rules.yaml:15: rules[0].annotations.summary: template: can't evaluate field Owner (fields: Rule, Region, Instance, Group, Topic, Partition)"},
		{"unclosed action", "", "    annotations:\n      summary: \"{{ .Group\"\n",
			"rules.yaml:15: rules[0].annotations.summary: template: unclosed action"},
		{"undefined function", "", "    annotations:\n      summary: \"{{ upper .Group }}\"\n",
			`rules.yaml:15: rules[0].annotations.summary: template: function "upper" not defined`},
		{"field of a string", "", "    annotations:\n      summary: \"{{ .Group.Name }}\"\n",
			"rules.yaml:15: rules[0].annotations.summary: template: in {{ .Group.Name }}: can't evaluate field Name of a string"},
		{"error on a later template line", "", "    annotations:\n      description: |\n        Group {{ .Group }}\n        owned by {{ .Team }}\n",
			"rules.yaml:15: rules[0].annotations.description: template: can't evaluate field Team (fields: Rule, Region, Instance, Group, Topic, Partition) (template line 2)"},
		{"loop", "", "    annotations:\n      summary: \"{{ range 1000000000 }}x{{ end }}\"\n",
			"rules.yaml:15: rules[0].annotations.summary: template: range, define, block and template are not supported in annotations"},
		{"define", "", "    annotations:\n      summary: '{{ define \"x\" }}y{{ end }}{{ template \"x\" }}'\n",
			"rules.yaml:15: rules[0].annotations.summary: template: range, define, block and template are not supported in annotations"},
		{"renders too long", "", "    annotations:\n      summary: '{{ printf \"%5000s\" .Group }}'\n",
			"rules.yaml:15: rules[0].annotations.summary: template: renders to more than 4096 bytes"},
		{"runbook not a URL", "", "    annotations:\n      runbook_url: \"wiki/runbooks/{{ .Group }}\"\n",
			`rules.yaml:15: rules[0].annotations.runbook_url: "wiki/runbooks/sample-group" is not an absolute http(s) URL`},
		{"other _url not http", "", "    annotations:\n      dashboard_url: \"ftp://grafana.example.com/d\"\n",
			`rules.yaml:15: rules[0].annotations.dashboard_url: "ftp://grafana.example.com/d" is not an absolute http(s) URL`},
		{"url without host", "", "    annotations:\n      runbook_url: \"https:///x\"\n",
			`rules.yaml:15: rules[0].annotations.runbook_url: "https:///x" is not an absolute http(s) URL`},
		{"bad key", "", "    annotations:\n      Runbook-URL: https://x.example\n",
			"rules.yaml:15: rules[0].annotations.Runbook-URL: annotation keys are lower-case letters, digits and '_', starting with a letter"},
		{"key starting with a digit", "", "    annotations:\n      1st: x\n",
			"rules.yaml:15: rules[0].annotations.1st: annotation keys are lower-case letters, digits and '_', starting with a letter"},
		{"number value", "", "    annotations:\n      priority: 1\n",
			"rules.yaml:15: rules[0].annotations.priority: must be a string, not a number"},
		{"list value", "", "    annotations:\n      owner: [a, b]\n",
			"rules.yaml:15: rules[0].annotations.owner: must be a string, not a list"},
		{"mapping value", "", "    annotations:\n      owner: {team: a}\n",
			"rules.yaml:15: rules[0].annotations.owner: must be a string, not a mapping"},
		{"null value", "", "    annotations:\n      owner:\n",
			`rules.yaml:15: rules[0].annotations.owner: must be a string (write "" to drop an inherited annotation)`},
		{"not a mapping", "", "    annotations: [summary]\n",
			"rules.yaml:14: rules[0].annotations: must be a mapping of names, not a list"},
		{"repeated key", "", "    annotations:\n      owner: a\n      owner: b\n",
			"rules.yaml:16: rules[0].annotations.owner: repeated name"},
		{"unset variable", "", "    annotations:\n      owner: ${NO_SUCH_TEAM}\n",
			"rules.yaml:15: rules[0].annotations.owner: environment variable NO_SUCH_TEAM is not set"},
		{"value too long", "", "    annotations:\n      description: " + strings.Repeat("x", 1001) + "\n",
			"rules.yaml:15: rules[0].annotations.description: at most 1000 bytes of template text, not 1001"},
		{"too many in defaults", many, "",
			"rules.yaml:5: defaults.annotations: at most 20 annotations, not 21"},
		{"too many with defaults", strings.Join(strings.SplitAfter(many, "\n")[:16], ""), "    annotations:\n      x1: a\n      x2: b\n      x3: c\n      x4: d\n      x5: e\n      x6: f\n",
			"rules.yaml:30: rules[0].annotations: at most 20 annotations, not 21 with those from defaults"},
		{"bad default template", "  annotations:\n    owner: \"{{ .Owner }}\"\n", "",
			"rules.yaml:6: defaults.annotations.owner: template: can't evaluate field Owner (fields: Rule, Region, Instance, Group, Topic, Partition)"},
		{"default runbook not a URL", "  annotations:\n    runbook_url: see the wiki\n", "",
			`rules.yaml:6: defaults.annotations.runbook_url: "see the wiki" is not an absolute http(s) URL`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lines := errorLines(t, annotationDoc(tc.defaults, tc.rule))
			if len(lines) != 1 || lines[0] != tc.want {
				t.Errorf("errors:\n%s\nwant exactly:\n%s", strings.Join(lines, "\n"), tc.want)
			}
			for _, l := range lines {
				if strings.Contains(l, "rules.AnnotationData") || strings.Contains(l, "executing") {
					t.Errorf("error shows Go internals: %s", l)
				}
			}
		})
	}
}

func keys(as []Annotation) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Key
	}
	return out
}

func TestAnnotationMerge(t *testing.T) {
	defaults := "  annotations:\n" +
		"    owner: \"@kafka-oncall\"\n" +
		"    runbook_url: https://wiki.example.com/runbooks/kafka-lag\n" +
		"    team: platform\n"
	tests := []struct {
		name, defaults, rule string
		want                 map[string]string // key: source text
		order                []string
	}{
		{"no annotations", "", "", nil, []string{}},
		{"defaults only", defaults, "", map[string]string{"owner": "@kafka-oncall", "runbook_url": "https://wiki.example.com/runbooks/kafka-lag", "team": "platform"}, []string{"owner", "runbook_url", "team"}},
		{"rule only", "", "    annotations:\n      summary: s\n", map[string]string{"summary": "s"}, []string{"summary"}},
		{"rule key wins, others inherited", defaults, "    annotations:\n      owner: payments team\n      summary: s\n",
			map[string]string{"summary": "s", "owner": "payments team", "runbook_url": "https://wiki.example.com/runbooks/kafka-lag", "team": "platform"}, []string{"summary", "owner", "runbook_url", "team"}},
		{"empty drops the default", defaults, "    annotations:\n      owner: \"\"\n      team: ''\n",
			map[string]string{"runbook_url": "https://wiki.example.com/runbooks/kafka-lag"}, []string{"runbook_url"}},
		{"empty without a default is nothing", "", "    annotations:\n      owner: \"\"\n", nil, []string{}},
		{"null rule annotations inherit", defaults, "    annotations:\n", map[string]string{"owner": "@kafka-oncall", "runbook_url": "https://wiki.example.com/runbooks/kafka-lag", "team": "platform"}, []string{"owner", "runbook_url", "team"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse("r.yaml", []byte(annotationDoc(tc.defaults, tc.rule)), testEnv)
			if err != nil {
				t.Fatal(err)
			}
			as := f.Rules[0].Annotations
			var got map[string]string
			for _, a := range as {
				if got == nil {
					got = map[string]string{}
				}
				got[a.Key] = a.Text
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("annotations = %v, want %v", got, tc.want)
			}
			if k := keys(as); !reflect.DeepEqual(k, tc.order) {
				t.Errorf("order = %v, want %v", k, tc.order)
			}
		})
	}
}

func TestAnnotationEnvironment(t *testing.T) {
	doc := annotationDoc("", "    annotations:\n      dashboard_url: \"${GRAFANA}/d/kafka?var-group={{ .Group }}\"\n")
	f, err := Parse("r.yaml", []byte(doc), func(k string) (string, bool) {
		if k == "GRAFANA" {
			return "https://grafana.example.com", true
		}
		return testEnv(k)
	})
	if err != nil {
		t.Fatal(err)
	}
	got := f.Rules[0].Annotate(Alert{Group: "orders-eu"})["dashboard_url"]
	if want := "https://grafana.example.com/d/kafka?var-group=orders-eu"; got != want {
		t.Errorf("dashboard_url = %q, want %q", got, want)
	}
	if len(f.Secrets) != 1 {
		t.Errorf("secrets = %d, want only the webhook URL: annotations are not secrets", len(f.Secrets))
	}
}

func TestAnnotate(t *testing.T) {
	doc := annotationDoc("  annotations:\n    owner: \"@kafka-oncall\"\n",
		"    annotations:\n"+
			"      summary: \"{{ .Group }} on {{ .Instance }} is behind\"\n"+
			"      runbook_url: \"https://wiki.example.com/runbooks/kafka-lag#{{ .Group }}\"\n"+
			"      where: \"{{ .Rule }}/{{ .Region }}/{{ .Group }}{{ with .Topic }}/{{ . }}{{ end }}{{ with .Partition }}[p{{ . }}]{{ end }}\"\n"+
			"      topic_only: \"{{ .Topic }}\"\n")
	f, err := Parse("r.yaml", []byte(doc), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	rule := &f.Rules[0]
	p0, p3 := 0, 3
	base := Alert{Rule: "orders", Region: "cn-hangzhou", Instance: "alikafka_post-cn-1", Group: "orders-eu"}
	topic := base
	topic.Topic = "payments"
	part, part0 := topic, topic
	part.Partition, part0.Partition = &p3, &p0
	tests := []struct {
		name  string
		alert Alert
		want  map[string]string
	}{
		{"group", base, map[string]string{
			"summary":     "orders-eu on alikafka_post-cn-1 is behind",
			"runbook_url": "https://wiki.example.com/runbooks/kafka-lag#orders-eu",
			"owner":       "@kafka-oncall",
			"where":       "orders/cn-hangzhou/orders-eu",
			// topic_only renders empty at group level: left out.
		}},
		{"topic", topic, map[string]string{
			"summary":     "orders-eu on alikafka_post-cn-1 is behind",
			"runbook_url": "https://wiki.example.com/runbooks/kafka-lag#orders-eu",
			"owner":       "@kafka-oncall",
			"where":       "orders/cn-hangzhou/orders-eu/payments",
			"topic_only":  "payments",
		}},
		{"partition", part, map[string]string{
			"summary":     "orders-eu on alikafka_post-cn-1 is behind",
			"runbook_url": "https://wiki.example.com/runbooks/kafka-lag#orders-eu",
			"owner":       "@kafka-oncall",
			"where":       "orders/cn-hangzhou/orders-eu/payments[p3]",
			"topic_only":  "payments",
		}},
		{"partition 0 is a partition", part0, map[string]string{
			"summary":     "orders-eu on alikafka_post-cn-1 is behind",
			"runbook_url": "https://wiki.example.com/runbooks/kafka-lag#orders-eu",
			"owner":       "@kafka-oncall",
			"where":       "orders/cn-hangzhou/orders-eu/payments[p0]",
			"topic_only":  "payments",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := rule.Annotate(tc.alert); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Annotate =\n%v\nwant\n%v", got, tc.want)
			}
		})
	}
	if got := (&Rule{}).Annotate(base); got != nil {
		t.Errorf("a rule without annotations gives %v, want nil", got)
	}
}

func TestAnnotateFallsBackToSource(t *testing.T) {
	// index .Topic 0 works for the sample (a topic) but not at group level.
	doc := annotationDoc("", "    annotations:\n      initial: \"{{ index .Topic 0 }}\"\n      owner: ok\n")
	f, err := Parse("r.yaml", []byte(doc), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	got := f.Rules[0].Annotate(Alert{Group: "g"})
	if want := map[string]string{"initial": "{{ index .Topic 0 }}", "owner": "ok"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Annotate = %v, want %v", got, want)
	}
}

func TestAnnotationOrder(t *testing.T) {
	tests := []struct{ in, want []string }{
		{nil, nil},
		{[]string{"runbook_url", "zeta", "owner", "alpha", "description", "summary"}, []string{"summary", "description", "owner", "runbook_url", "alpha", "zeta"}},
		{[]string{"dashboard_url", "team", "runbook_url"}, []string{"runbook_url", "dashboard_url", "team"}},
		{[]string{"b", "a", "summary_extra", "summary"}, []string{"summary", "a", "b", "summary_extra"}},
	}
	for _, tc := range tests {
		in := append([]string(nil), tc.in...)
		got := AnnotationOrder(tc.in)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("AnnotationOrder(%v) = %v, want %v", tc.in, got, tc.want)
		}
		if !reflect.DeepEqual(in, tc.in) {
			t.Errorf("AnnotationOrder changed its argument: %v", tc.in)
		}
	}
}

func TestLoadMetaLanguageAndLocation(t *testing.T) {
	t.Setenv("SLACK_WEBHOOK_URL", "https://hooks.example/x")
	t.Setenv("DINGTALK_WEBHOOK_URL", "https://ding.example/robot/send?access_token=t")
	tests := []struct {
		name, defaults, channel string
		opsLang, opsZone        string
		plainLang, plainZone    string
	}{
		{"built-in", "", "", "en", "UTC", "en", "UTC"},
		{"inherited", "  language: zh-CN\n  timezone: Asia/Shanghai\n", "    timezone: Europe/Paris\n", "zh-CN", "Europe/Paris", "zh-CN", "Asia/Shanghai"},
		{"broken annotations do not matter", "  language: zh-CN\n  annotations:\n    owner: \"{{ .Owner }}\"\n", "", "zh-CN", "UTC", "zh-CN", "UTC"},
		{"a bad zone falls back", "  timezone: Asia/Shangai\n", "    language: zh\n", "en", "UTC", "en", "UTC"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The rule is broken: Load fails, LoadMeta is what remains.
			doc := strings.Replace(localeDoc(tc.defaults, tc.channel), "warning: 10", "warning: lots", 1)
			p := filepath.Join(t.TempDir(), "rules.yaml")
			if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(p); err == nil {
				t.Fatal("Load accepted the broken file")
			}
			f, err := LoadMeta(p)
			if err != nil {
				t.Fatal(err)
			}
			ops, _ := f.Channel("ops")
			plain, _ := f.Channel("plain")
			if ops.Location == nil || plain.Location == nil {
				t.Fatalf("nil location: ops %v, plain %v", ops.Location, plain.Location)
			}
			got := [4]string{ops.Language, ops.Location.String(), plain.Language, plain.Location.String()}
			if want := [4]string{tc.opsLang, tc.opsZone, tc.plainLang, tc.plainZone}; got != want {
				t.Errorf("ops, plain = %v, want %v", got, want)
			}
		})
	}
}
