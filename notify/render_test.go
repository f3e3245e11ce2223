package notify

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/rules"
)

func ptr(i int) *int { return &i }

var evaluated = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func item(kind rules.Kind, a rules.Alert) Item { return Item{Kind: kind, Alert: a} }

func subjects(r Rendered) []string {
	var out []string
	for _, s := range r.Sections {
		out = append(out, s.Title+" "+s.Subject)
	}
	return out
}

func TestSectionsMergeAGroupsConditions(t *testing.T) {
	billing := rules.Alert{Rule: "orders", Region: "r", Instance: "i", Group: "billing", Lag: 21000}
	stale, backlog, stuck := billing, billing, billing
	stale.Condition, stale.Severity, stale.Value, stale.Threshold = rules.Stale, rules.Critical, 57*60, 30*60
	backlog.Condition, backlog.Severity, backlog.Value, backlog.Threshold = rules.Backlog, rules.Warning, 21000, 10000
	stuck.Condition, stuck.Severity, stuck.Value, stuck.Threshold = rules.Stuck, rules.Warning, 20*60, 15*60
	other := rules.Alert{Rule: "orders", Region: "r", Instance: "i", Group: "orders-eu", Condition: rules.Backlog, Severity: rules.Warning, Lag: 500000, Value: 500000, Threshold: 10000}
	anotherRule := backlog
	anotherRule.Rule = "finance"

	r := Render(Message{Time: evaluated, Items: []Item{
		item(rules.KindFiring, backlog), item(rules.KindFiring, other), item(rules.KindFiring, stale), item(rules.KindFiring, anotherRule),
	}})
	// billing under rule orders is one section, its worst severity in the
	// title; the same group under another rule is another section.
	want := []string{"CRITICAL billing", "WARNING orders-eu", "WARNING billing"}
	if got := subjects(r); !slices.Equal(got, want) {
		t.Fatalf("sections = %v, want %v", got, want)
	}
	lines := r.Sections[0].Lines
	if !slices.Contains(lines, "Stale CRITICAL: newest consumed message is 57m old (threshold 30m)") ||
		!slices.Contains(lines, "Backlog WARNING: 21,000 messages (threshold 10,000)") {
		t.Errorf("billing's lines:\n%s", strings.Join(lines, "\n"))
	}
	// billing counts once, as critical, whichever rules see it.
	if r.Headline != "2 consumer groups behind (1 critical)" {
		t.Errorf("headline %q", r.Headline)
	}

	// Stale resolves while backlog and stuck still fire: one section says so.
	r = Render(Message{Time: evaluated,
		Items:   []Item{item(rules.KindResolved, stale)},
		Ongoing: []Item{{Alert: backlog}, {Alert: stuck}, {Alert: other}}, // other's place has no news: left out
	})
	if len(r.Sections) != 1 {
		t.Fatalf("sections = %v", subjects(r))
	}
	s := r.Sections[0]
	if s.Title != "Partly resolved, still WARNING" || s.Icon != IconResolved {
		t.Errorf("title %q icon %q", s.Title, s.Icon)
	}
	if !slices.Equal(s.Lines[:3], []string{
		"Stuck still WARNING: committed offsets have not moved for 20m (threshold 15m)",
		"Backlog still WARNING: 21,000 messages (threshold 10,000)",
		"Stale resolved: newest consumed message now 57m old (threshold 30m)",
	}) {
		t.Errorf("lines:\n%s", strings.Join(s.Lines, "\n"))
	}
	if r.Tone != ToneWarning || r.Headline != "1 partly resolved" {
		t.Errorf("tone %q headline %q", r.Tone, r.Headline)
	}
}

func TestToneHeadlineAndPaging(t *testing.T) {
	crit := rules.Alert{Instance: "i", Group: "c", Severity: rules.Critical, Lag: 100}
	warn := rules.Alert{Instance: "i", Group: "w", Severity: rules.Warning, Lag: 100}
	for _, tc := range []struct {
		name     string
		items    []Item
		tone     Tone
		headline string
		zh       string
		paging   bool
	}{
		{"critical firing", []Item{item(rules.KindFiring, crit), item(rules.KindFiring, warn)}, ToneCritical,
			"2 consumer groups behind (1 critical)", "2 个消费组消费滞后（1 个严重）", true},
		{"warning firing", []Item{item(rules.KindFiring, warn)}, ToneWarning, "1 consumer group behind", "1 个消费组消费滞后", false},
		{"escalated", []Item{item(rules.KindEscalated, crit), item(rules.KindResolved, warn)}, ToneCritical,
			"1 escalated, 1 resolved (1 critical)", "1 个升级，1 个已恢复（1 个严重）", true},
		{"critical reminder", []Item{item(rules.KindReminder, crit)}, ToneCritical, "1 still firing (1 critical)", "1 个持续告警（1 个严重）", true},
		{"warning reminder", []Item{item(rules.KindReminder, warn)}, ToneWarning, "1 still firing", "1 个持续告警", false},
		{"downgraded", []Item{item(rules.KindDowngraded, warn), item(rules.KindResolved, crit)}, ToneWarning,
			"1 downgraded, 1 resolved", "1 个降级，1 个已恢复", false},
		{"only resolved", []Item{item(rules.KindResolved, crit), item(rules.KindResolved, warn)}, ToneResolved, "2 resolved", "2 个已恢复", false},
		// One group gone with two alerts is one section.
		{"only missing", []Item{item(rules.KindMissing, crit), item(rules.KindMissing, func() rules.Alert { a := crit; a.Condition = rules.Stale; return a }())},
			ToneGone, "1 group gone", "1 个消费组已消失", false},
		{"missing and resolved", []Item{item(rules.KindMissing, crit), item(rules.KindMissing, warn), item(rules.KindResolved, func() rules.Alert { a := warn; a.Group = "x"; return a }())},
			ToneGone, "2 groups gone, 1 resolved", "2 个消费组已消失，1 个已恢复", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Render(Message{Items: tc.items})
			if r.Tone != tc.tone || r.Headline != tc.headline || r.Paging != tc.paging {
				t.Errorf("tone, headline, paging = %q, %q, %v; want %q, %q, %v", r.Tone, r.Headline, r.Paging, tc.tone, tc.headline, tc.paging)
			}
			if zh := Render(Message{Items: tc.items, Language: rules.LanguageChinese}); zh.Headline != tc.zh || zh.Tone != tc.tone {
				t.Errorf("zh headline %q, want %q", zh.Headline, tc.zh)
			}
		})
	}
}

func TestSectionOrder(t *testing.T) {
	a := func(group string, sev rules.Severity, lag int64) rules.Alert {
		return rules.Alert{Group: group, Instance: "i", Severity: sev, Lag: lag, Value: lag}
	}
	var in []Item
	add := func(k rules.Kind, as ...rules.Alert) {
		for _, x := range as {
			in = append(in, item(k, x))
		}
	}
	add(rules.KindResolved, a("resolved-w", rules.Warning, 5), a("resolved-c", rules.Critical, 1))
	add(rules.KindMissing, a("missing", rules.Warning, 100))
	add(rules.KindDowngraded, a("down", rules.Warning, 50000))
	add(rules.KindReminder, a("remind-w", rules.Warning, 90000), a("remind-c", rules.Critical, 10))
	add(rules.KindFiring, a("fire-w-big", rules.Warning, 1e6), a("fire-c-small", rules.Critical, 20), a("fire-c-big", rules.Critical, 30))
	add("", a("fire-empty-kind", rules.Warning, 1))
	add(rules.KindEscalated, a("esc", rules.Critical, 1))
	var got []string
	for _, s := range Sections(Message{Items: in}) {
		got = append(got, string(s.Kind)+" "+s.Place.Group)
	}
	want := []string{
		"escalated esc",
		"firing fire-c-big", "firing fire-c-small", "firing fire-w-big", "firing fire-empty-kind",
		"reminder remind-c", "reminder remind-w",
		"downgraded down",
		"missing missing",
		"resolved resolved-c", "resolved resolved-w",
	}
	if !slices.Equal(got, want) {
		t.Errorf("order:\n%v\nwant\n%v", got, want)
	}
}

func TestSectionLines(t *testing.T) {
	growing := &rules.Trend{Backlog: []int64{8000, 10000, 12345}, RatesKnown: true, ConsumePerMin: 1200, ProducePerMin: 1500, RateSeconds: 300, GrowthPerMin: 300}
	firedAt := evaluated.Add(-72 * time.Minute)
	for _, tc := range []struct {
		name    string
		items   []Item
		title   string
		subject string
		want    []string
		links   []Link
	}{{
		name: "group backlog with annotations",
		items: []Item{item(rules.KindFiring, rules.Alert{Rule: "orders", Region: "cn-hangzhou", Instance: "alikafka-1", Group: "g",
			Condition: rules.Backlog, Severity: rules.Critical, Value: 12345, Threshold: 10000, Lag: 12345,
			AgeSeconds: 42 * 60, AgeKnown: true, Trend: growing,
			Top:         []rules.Contributor{{Topic: "orders", Lag: 10000}, {Topic: "payments", Lag: 2345}},
			Annotations: map[string]string{"summary": "g is behind", "owner": "payments team", "runbook_url": "https://wiki/rb#g", "team": "pay", "dashboard_url": "https://grafana/d"}})},
		title: "CRITICAL", subject: "g",
		want: []string{
			"g is behind",
			"Backlog CRITICAL: 12,345 messages (threshold 10,000)",
			"Newest consumed message: 42m old",
			"Trend: ▆▇█ 8,000 → 12,345 · consuming 1,200/min · producing 1,500/min (last 5m) · growing by 300/min",
			"Top topics: orders 10,000 · payments 2,345",
			"Instance alikafka-1 · region cn-hangzhou · rule orders",
			"Owner: payments team",
			"team: pay",
		},
		links: []Link{{"Runbook", "https://wiki/rb#g"}, {"dashboard", "https://grafana/d"}},
	}, {
		name: "topic backlog escalated, age unknown, top partitions",
		items: []Item{item(rules.KindEscalated, rules.Alert{Rule: "r", Region: "x", Instance: "i", Group: "g", Topic: "t", Condition: rules.Backlog, Severity: rules.Critical,
			Value: 2_000_000, Threshold: 1_000_000, Lag: 2_000_000,
			Top: []rules.Contributor{{Topic: "t", Partition: ptr(3), Lag: 1_500_000}, {Topic: "t", Partition: ptr(0), Lag: 500_000}}})},
		title: "Escalated to CRITICAL", subject: "g / t",
		want: []string{
			"Backlog CRITICAL (up from WARNING): 2M messages (threshold 1M)",
			"Newest consumed message: age unknown",
			"Top partitions: p3 1.5M · p0 500,000",
			"Instance i · region x · rule r",
		},
	}, {
		name: "partition stale reminder: for how long",
		items: []Item{{Kind: rules.KindReminder, Since: firedAt, Alert: rules.Alert{Rule: "r", Instance: "i", Region: "x", Group: "g", Topic: "t", Partition: ptr(7), Condition: rules.Stale,
			Severity: rules.Warning, Value: 3*3600 + 300, Threshold: 3600, Lag: 1, AgeSeconds: 3*3600 + 300, AgeKnown: true,
			Top: []rules.Contributor{{Topic: "t", Partition: ptr(7), Lag: 1}}}}},
		title: "Reminder: still firing (WARNING)", subject: "g / t [p7]",
		want: []string{
			"Stale WARNING for 1h 12m: newest consumed message is 3h 5m old (threshold 1h)",
			"Lag: 1 message",
			"Top partitions: p7 1",
			"Instance i · region x · rule r",
		},
	}, {
		name: "stuck since monitoring began",
		items: []Item{item(rules.KindFiring, rules.Alert{Rule: "r", Region: "x", Instance: "i", Group: "g", Condition: rules.Stuck, Severity: rules.Critical,
			Value: 20 * 60, Threshold: 15 * 60, Lag: 18000, Since: evaluated.Add(-20 * time.Minute), AtLeast: true,
			Trend: &rules.Trend{Backlog: []int64{18000, 18000}, RatesKnown: true, RateSeconds: 300}})},
		title: "CRITICAL", subject: "g",
		want: []string{
			"Stuck CRITICAL: committed offsets have not moved for at least 20m, since monitoring began at 11:40 UTC (threshold 15m)",
			"Lag: 18,000 messages",
			"Trend: ██ 18,000 → 18,000 · not consuming · producing 0/min (last 5m)",
			"Instance i · region x · rule r",
		},
	}, {
		name: "resolved backlog after how long: value now, trend, no top",
		items: []Item{{Kind: rules.KindResolved, Since: firedAt, Alert: rules.Alert{Rule: "r", Region: "x", Instance: "i", Group: "g", Condition: rules.Backlog, Severity: rules.Critical,
			Value: 120, Threshold: 10000, Lag: 120, Top: []rules.Contributor{{Topic: "t", Lag: 120}},
			Trend: &rules.Trend{Backlog: []int64{20000, 9000, 120}, RatesKnown: true, ConsumePerMin: 2000, ProducePerMin: 100, DrainMinutes: 0.06}}}},
		title: "Resolved", subject: "g",
		want: []string{
			"Backlog resolved after 1h 12m: now 120 messages (threshold 10,000)",
			"Trend: █▄▁ 20,000 → 120 · consuming 2,000/min · producing 100/min · drains in under a minute",
			"Instance i · region x · rule r",
		},
	}, {
		name:  "resolved stale, caught up",
		items: []Item{item(rules.KindResolved, rules.Alert{Rule: "r", Region: "x", Instance: "i", Group: "g", Condition: rules.Stale, Severity: rules.Warning, Value: 7200, Threshold: 600})},
		title: "Resolved", subject: "g",
		want: []string{"Stale resolved: caught up, no lag", "Instance i · region x · rule r"},
	}, {
		name:  "resolved stuck, still behind",
		items: []Item{item(rules.KindResolved, rules.Alert{Rule: "r", Region: "x", Instance: "i", Group: "g", Condition: rules.Stuck, Severity: rules.Warning, Threshold: 600, Lag: 7})},
		title: "Resolved", subject: "g",
		want: []string{"Stuck resolved: committed offsets are moving again", "Lag: 7 messages", "Instance i · region x · rule r"},
	}, {
		name: "deleted group with three alerts is one section with the service's reason",
		items: []Item{
			item(rules.KindMissing, rules.Alert{Rule: "r", Region: "x", Instance: "i", Group: "g", Topic: "t1", Condition: rules.Backlog, Severity: rules.Critical, Value: 50000, Detail: rules.GoneDeleted}),
			item(rules.KindMissing, rules.Alert{Rule: "r", Region: "x", Instance: "i", Group: "g", Topic: "t2", Condition: rules.Backlog, Severity: rules.Warning, Value: 20000, Detail: rules.GoneDeleted}),
			item(rules.KindMissing, rules.Alert{Rule: "r", Region: "x", Instance: "i", Group: "g", Topic: "t1", Condition: rules.Stale, Severity: rules.Critical, Value: 3600, Detail: rules.GoneDeleted}),
		},
		title: "Consumer group gone", subject: "g",
		want: []string{
			"Deleted: the service no longer knows this group",
			"It was alerting: CRITICAL Stale g / t1 (1h), CRITICAL Backlog g / t1 (50,000 messages), WARNING Backlog g / t2 (20,000 messages)",
			"Instance i · region x · rule r",
		},
	}, {
		name: "unmatched group",
		items: []Item{item(rules.KindMissing, rules.Alert{Rule: "r", Region: "x", Instance: "i", Group: "g", Condition: rules.Stale, Severity: rules.Warning,
			Value: 900, Detail: rules.GoneUnmatched})},
		title: "Consumer group gone", subject: "g",
		want: []string{"No longer matched by the rules", "It was alerting: WARNING Stale (15m)", "Instance i · region x · rule r"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			r := Render(Message{Time: evaluated, Items: tc.items})
			if len(r.Sections) != 1 {
				t.Fatalf("%d sections: %v", len(r.Sections), subjects(r))
			}
			s := r.Sections[0]
			if s.Title != tc.title || s.Subject != tc.subject {
				t.Errorf("title, subject = %q, %q; want %q, %q", s.Title, s.Subject, tc.title, tc.subject)
			}
			if !slices.Equal(s.Lines, tc.want) {
				t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(s.Lines, "\n"), strings.Join(tc.want, "\n"))
			}
			if !slices.Equal(s.Links, tc.links) {
				t.Errorf("links = %v, want %v", s.Links, tc.links)
			}
		})
	}
}

func TestBlindSection(t *testing.T) {
	a := rules.Alert{Rule: "backlog-alert", Instance: "alikafka_post-cn-x", Region: "cn-hangzhou", Condition: rules.Blind, Severity: rules.Critical,
		Detail: "credentials rejected (InvalidAccessKeyId.NotFound)"}
	r := Render(Message{Items: []Item{item(rules.KindFiring, a)}})
	if r.Headline != "backlog-alert cannot see alikafka_post-cn-x" || r.Sections[0].Subject != r.Headline ||
		!strings.Contains(r.Sections[0].Lines[0], "credentials rejected") {
		t.Errorf("firing = %+v", r)
	}
	r = Render(Message{Items: []Item{item(rules.KindResolved, a)}})
	if r.Sections[0].Title != "Resolved" || !strings.Contains(r.Sections[0].Lines[0], "can see alikafka_post-cn-x again") {
		t.Errorf("resolved = %+v", r.Sections[0])
	}

	// A region whose instances cannot be listed: every instance of it is
	// unseen, named so in each language.
	region := rules.Alert{Rule: "backlog-alert", Instance: rules.AllInstances, Region: "cn-hangzhou", Condition: rules.Blind, Severity: rules.Critical,
		Cause: &rules.BlindCause{Kind: rules.BlindInstances, Error: "ServiceUnavailable"}}
	for lang, want := range map[string][2]string{
		rules.LanguageEnglish: {"backlog-alert cannot see the instances of cn-hangzhou", "cannot list the region's instances (GetInstanceList): ServiceUnavailable"},
		rules.LanguageChinese: {"backlog-alert 无法监控 cn-hangzhou 地域的全部实例", "无法列出该地域的实例（GetInstanceList）：ServiceUnavailable"},
	} {
		r = Render(Message{Items: []Item{item(rules.KindFiring, region)}, Language: lang})
		if r.Headline != want[0] || !strings.Contains(r.Sections[0].Lines[0], want[1]) {
			t.Errorf("%s: %q / %q", lang, r.Headline, r.Sections[0].Lines)
		}
	}
}

func TestTimesInTheChannelsZone(t *testing.T) {
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	kolkata, _ := time.LoadLocation("Asia/Kolkata")
	berlin, _ := time.LoadLocation("Europe/Berlin")
	stuck := rules.Alert{Instance: "i", Group: "g", Condition: rules.Stuck, Severity: rules.Warning, Lag: 1,
		Since: evaluated.Add(-13 * time.Hour), AtLeast: true, Value: 13 * 3600, Threshold: 900}
	for _, tc := range []struct {
		lang      string
		loc       *time.Location
		about     string
		monitored string
	}{
		{"en", nil, "evaluated 2026-11-21 12:00 UTC · backlog-alert", "since monitoring began at Nov 20 23:00 UTC"},
		{"en", shanghai, "evaluated 2026-11-21 20:00 UTC+8 · backlog-alert", "since monitoring began at 07:00 UTC+8"},
		{"en", kolkata, "evaluated 2026-11-21 17:30 UTC+5:30 · backlog-alert", "since monitoring began at 04:30 UTC+5:30"},
		{"en", berlin, "evaluated 2026-11-21 13:00 UTC+1 · backlog-alert", "since monitoring began at 00:00 UTC+1"},
		{"zh-CN", shanghai, "检测时间 2026-11-21 20:00（UTC+8） · backlog-alert", "从 07:00 开始监控起"},
		{"zh-CN", nil, "检测时间 2026-11-21 12:00（UTC） · backlog-alert", "从 11月20日 23:00 开始监控起"},
	} {
		r := Render(Message{Time: evaluated, Items: []Item{item(rules.KindFiring, stuck)}, Language: tc.lang, Location: tc.loc})
		if r.About != tc.about {
			t.Errorf("%s %v: about = %q, want %q", tc.lang, tc.loc, r.About, tc.about)
		}
		if !strings.Contains(r.Sections[0].Lines[0], tc.monitored) {
			t.Errorf("%s %v: %q lacks %q", tc.lang, tc.loc, r.Sections[0].Lines[0], tc.monitored)
		}
	}
}

// A section that partly resolved still fires: it is listed, and counted in
// the headline, before groups gone and full resolutions.
func TestPartlyResolvedComesBeforeGone(t *testing.T) {
	p := rules.Alert{Rule: "r", Instance: "i", Group: "p", Lag: 100}
	stale, backlog := p, p
	stale.Condition, stale.Severity = rules.Stale, rules.Critical
	backlog.Condition, backlog.Severity = rules.Backlog, rules.Warning
	gone := rules.Alert{Rule: "r", Instance: "i", Group: "a-gone", Condition: rules.Backlog, Severity: rules.Critical, Lag: 1e6}
	done := rules.Alert{Rule: "r", Instance: "i", Group: "done", Condition: rules.Backlog, Severity: rules.Critical, Lag: 1e6}
	r := Render(Message{Items: []Item{item(rules.KindResolved, done), item(rules.KindMissing, gone), item(rules.KindResolved, stale)}, Ongoing: []Item{{Alert: backlog}}})
	want := []string{"Partly resolved, still WARNING p", "Consumer group gone a-gone", "Resolved done"}
	if got := subjects(r); !slices.Equal(got, want) || r.Headline != "1 partly resolved, 1 group gone, 1 resolved" || r.Tone != ToneWarning {
		t.Errorf("sections %v, headline %q, tone %q", got, r.Headline, r.Tone)
	}
}
