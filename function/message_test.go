package function

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/rules"
)

// What the messages say, through function.Run against the fakes: one
// section per group, gone groups with the service's reason, each channel in
// its language and zone, annotations everywhere.

const messageRules = `version: 1
defaults:
  region: cn-hangzhou
  notify: [team-slack, ops-dingtalk]
  annotations:
    owner: "@kafka-oncall"
` + channelsYAML + `    language: zh-CN
    timezone: Asia/Shanghai
rules:
  - name: orders
    instance: ` + instance + `
    groups: ["orders-*", "billing"]
    backlog: {warning: 1000, critical: 100000}
    stale: {warning: 10m, critical: 30m}
    annotations:
      summary: "{{ .Group }} is behind"
      runbook_url: "https://wiki.example.com/runbooks/lag#{{ .Group }}"
`

// received returns the messages of this run by channel.
func (w *world) received(t *testing.T, at time.Duration, mutate ...func(*Options)) (map[string]string, *Report) {
	t.Helper()
	before := len(w.sink.Received())
	rep := w.run(t, append([]func(*Options){func(o *Options) { o.Now = now.Add(at) }}, mutate...)...)
	out := map[string]string{}
	for _, m := range w.sink.Received()[before:] {
		out[m.Channel] += m.Readable()
	}
	return out, rep
}

// slackSections and dingTalkSections list the subjects of a message's
// sections, in order.
var (
	slackSection    = regexp.MustCompile(`(?m)^:[a-z_]+: \*[^*]+\* · \*([^*]+)\*$`)
	dingTalkSection = regexp.MustCompile(`(?m)^#### \S+ .+ · (.+)$`)
)

func subjectsOf(re *regexp.Regexp, text string) []string {
	var out []string
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestOneSectionPerGroupInEachLanguage(t *testing.T) {
	w := newWorld(t, messageRules)
	w.api.SetGroup(grp("billing", 18_000, ago(47*time.Minute)))       // stale critical and backlog warning
	w.api.SetGroup(grp("orders-payments", 250_000, ago(time.Minute))) // backlog critical
	got, rep := w.received(t, 0)

	slack, ding := got["team-slack"], got["ops-dingtalk"]
	// The same alerts reach both, one section per group in each.
	if s, d := subjectsOf(slackSection, slack), subjectsOf(dingTalkSection, ding); !slices.Equal(s, []string{"orders-payments", "billing"}) || !slices.Equal(d, s) {
		t.Fatalf("sections: slack %v, dingtalk %v\n%s\n%s", s, d, slack, ding)
	}
	for _, want := range []string{
		"2 consumer groups behind (2 critical)",
		"evaluated 2026-11-21 12:00 UTC",
		"Stale CRITICAL: newest consumed message is 47m old (threshold 30m)",
		"Backlog WARNING: 18,000 messages (threshold 1,000)",
		"billing is behind",
		"Owner: @kafka-oncall",
		"<https://wiki.example.com/runbooks/lag#billing|Runbook>",
	} {
		if !strings.Contains(slack, want) {
			t.Errorf("slack lacks %q:\n%s", want, slack)
		}
	}
	for _, want := range []string{
		"2 个消费组消费滞后（2 个严重）",
		"检测时间 2026-11-21 20:00（UTC+8）",
		"消费延迟（严重）：最新已消费的消息产生于 47分钟前（阈值 30分钟）",
		"消息堆积（警告）：1.8万条（阈值 1,000）",
		"负责人：@kafka-oncall",
		"[处理手册](https://wiki.example.com/runbooks/lag#billing)",
	} {
		if !strings.Contains(ding, want) {
			t.Errorf("dingtalk lacks %q:\n%s", want, ding)
		}
	}
	// Every Latin word of the Chinese message is a name, a URL, the
	// user's own annotation, or a word kept as it is.
	kept := []string{"backlog-alert", "backlog-alert:", "Topic", "UTC", "UTC+8", instance, "cn-hangzhou", "orders", "billing", "orders-payments", "billing-events",
		"is", "behind", "@kafka-oncall", "Mentions:"}
	for _, word := range regexp.MustCompile(`[A-Za-z@][A-Za-z0-9_.:/#@+-]*`).FindAllString(ding, -1) {
		if !slices.Contains(kept, word) && !strings.HasPrefix(word, "https://wiki.example.com/") {
			t.Errorf("untranslated %q in the zh-CN message:\n%s", word, ding)
			break
		}
	}
	// The report carries the rendered annotations.
	for _, a := range rep.Alerts {
		if a.Annotations["runbook_url"] != "https://wiki.example.com/runbooks/lag#"+a.Group || a.Annotations["owner"] != "@kafka-oncall" {
			t.Errorf("report alert %s %s annotations = %v", a.Group, a.Condition, a.Annotations)
		}
	}

	// Stale resolves while the backlog still fires: one section says both.
	w.api.SetGroup(grp("billing", 17_000, ago(time.Minute)))
	got, _ = w.received(t, 5*time.Minute)
	if !strings.Contains(got["team-slack"], "Partly resolved, still WARNING") ||
		!strings.Contains(got["team-slack"], "Stale resolved after 5m: newest consumed message now 6m old (threshold 30m)") ||
		!strings.Contains(got["team-slack"], "Backlog still WARNING: 17,000 messages (threshold 1,000)") {
		t.Errorf("partly resolved:\n%s", got["team-slack"])
	}
	if !strings.Contains(got["ops-dingtalk"], "部分恢复，仍为警告") || !strings.Contains(got["ops-dingtalk"], "消息堆积（仍为警告）") {
		t.Errorf("partly resolved, zh:\n%s", got["ops-dingtalk"])
	}
}

func TestGoneGroupIsOneSectionWithItsReason(t *testing.T) {
	w := newWorld(t, messageRules)
	// Three alerts on orders-old: stale critical and backlog critical;
	// billing is watched by name.
	w.api.SetGroup(grp("orders-old", 250_000, ago(47*time.Minute)))
	w.api.SetGroup(grp("billing", 5_000, ago(time.Minute))) // backlog warning
	if got, _ := w.received(t, 0); !strings.Contains(got["team-slack"], "orders-old") {
		t.Fatalf("no alert to lose: %v", got)
	}

	// orders-old is deleted: the service no longer lists it.
	w.api.RemoveGroup(instance, "orders-old")
	got, rep := w.received(t, 5*time.Minute)
	slack := got["team-slack"]
	if n := strings.Count(slack, "Consumer group gone"); n != 1 || !slices.Equal(subjectsOf(slackSection, slack), []string{"orders-old"}) {
		t.Errorf("want one gone section for orders-old:\n%s", slack)
	}
	for _, want := range []string{
		"Deleted: the service no longer knows this group",
		"It was alerting: CRITICAL Stale (47m), CRITICAL Backlog (250,000 messages)",
	} {
		if !strings.Contains(slack, want) {
			t.Errorf("slack lacks %q:\n%s", want, slack)
		}
	}
	if !strings.Contains(got["ops-dingtalk"], "已删除：服务端已查不到这个消费组") {
		t.Errorf("dingtalk:\n%s", got["ops-dingtalk"])
	}
	if len(rep.Gone) != 1 || rep.Gone[0].Reason != rules.GoneDeleted {
		t.Errorf("report gone = %+v", rep.Gone)
	}

	// billing is no longer selected by the rules: another reason.
	changed := strings.Replace(messageRules, `groups: ["orders-*", "billing"]`, `groups: ["orders-*"]`, 1)
	w.file = rulesOn(t, changed, w.sink)
	got, rep = w.received(t, 10*time.Minute)
	if !strings.Contains(got["team-slack"], "No longer matched by the rules") || !strings.Contains(got["ops-dingtalk"], "已不在告警规则的监控范围内") {
		t.Errorf("unmatched:\n%s\n%s", got["team-slack"], got["ops-dingtalk"])
	}
	if len(rep.Gone) != 1 || rep.Gone[0].Group != "billing" || rep.Gone[0].Reason != rules.GoneUnmatched {
		t.Errorf("report gone = %+v", rep.Gone)
	}
}
