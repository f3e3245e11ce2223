package notify

import (
	"slices"
	"strings"
	"testing"

	"github.com/backlog-alert/backlog-alert/rules"
)

func ptr(i int) *int { return &i }

func TestCount(t *testing.T) {
	for _, tc := range []struct {
		in   int64
		want string
	}{
		{0, "0"},
		{999, "999"},
		{1000, "1,000"},
		{12345, "12,345"},
		{999999, "999,999"},
		{1_000_000, "1M"},
		{1_234_567, "1.2M"},
		{12_345_678, "12.3M"},
		{123_456_789, "123M"},
		{999_999_999, "1B"}, // rounds up into the next unit, not "1000M"
		{2_500_000_000, "2.5B"},
		{-12345, "-12,345"},
	} {
		if got := Count(tc.in); got != tc.want {
			t.Errorf("Count(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		in   int64
		want string
	}{
		{-5, "0s"},
		{45, "45s"},
		{60, "1m"},
		{42*60 + 59, "42m"},
		{3 * 3600, "3h"},
		{3*3600 + 5*60, "3h 5m"},
		{2*86400 + 3*3600 + 59, "2d 3h"},
		{86400, "1d"},
	} {
		if got := Duration(tc.in); got != tc.want {
			t.Errorf("Duration(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func items(kind rules.Kind, alerts ...rules.Alert) []Item {
	out := make([]Item, len(alerts))
	for i, a := range alerts {
		out[i] = Item{Kind: kind, Alert: a}
	}
	return out
}

func wheres(its []Item) []string {
	var out []string
	for _, it := range its {
		out = append(out, string(KindOf(it))+" "+it.Alert.Where())
	}
	return out
}

func TestSortedAndHeadlineAllFiring(t *testing.T) {
	in := items(rules.KindFiring,
		rules.Alert{Group: "w-small", Instance: "i1", Severity: rules.Warning, Lag: 10, Value: 10},
		rules.Alert{Group: "c-stale", Instance: "i1", Severity: rules.Critical, Condition: rules.Stale, Lag: 5, Value: 99999},
		rules.Alert{Group: "w-big", Instance: "i1", Severity: rules.Warning, Lag: 5000, Value: 5000},
		rules.Alert{Group: "c-big", Instance: "i1", Severity: rules.Critical, Lag: 900, Value: 900},
		rules.Alert{Group: "c-big", Instance: "i1", Topic: "t", Severity: rules.Warning, Lag: 800, Value: 800},
	)
	in[0].Kind = "" // an empty kind is firing
	orig := slices.Clone(in)
	want := []string{"firing c-big", "firing c-stale", "firing w-big", "firing c-big / t", "firing w-small"}
	if got := wheres(Sorted(in)); !slices.Equal(got, want) {
		t.Errorf("Sorted order = %v, want %v", got, want)
	}
	if !slices.EqualFunc(in, orig, func(a, b Item) bool { return a.Kind == b.Kind && a.Alert.Key() == b.Alert.Key() }) {
		t.Error("Sorted modified its input")
	}
	// c-big counts once, as critical; 4 groups in all.
	if h := Headline(in); h != "4 consumer groups behind (2 critical)" {
		t.Errorf("Headline = %q", h)
	}
	if h := Headline(in[:1]); h != "1 consumer group behind" {
		t.Errorf("Headline = %q", h)
	}
}

func TestSortedByKind(t *testing.T) {
	a := func(group string, sev rules.Severity, lag int64) rules.Alert {
		return rules.Alert{Group: group, Instance: "i", Severity: sev, Lag: lag, Value: lag}
	}
	var in []Item
	in = append(in, items(rules.KindResolved, a("resolved-w", rules.Warning, 5), a("resolved-c", rules.Critical, 1))...)
	in = append(in, items(rules.KindMissing, a("missing", rules.Warning, 100))...)
	in = append(in, items(rules.KindDowngraded, a("down", rules.Warning, 50000))...)
	in = append(in, items(rules.KindReminder, a("remind-w", rules.Warning, 90000), a("remind-c", rules.Critical, 10))...)
	in = append(in, items(rules.KindFiring, a("fire-w-big", rules.Warning, 1e6), a("fire-c-small", rules.Critical, 20), a("fire-c-big", rules.Critical, 30))...)
	in = append(in, items(rules.KindEscalated, a("esc", rules.Critical, 1))...)
	want := []string{
		"escalated esc",
		"firing fire-c-big", "firing fire-c-small", "firing fire-w-big",
		"reminder remind-c", "reminder remind-w",
		"downgraded down",
		"missing missing",
		"resolved resolved-c", "resolved resolved-w",
	}
	if got := wheres(Sorted(in)); !slices.Equal(got, want) {
		t.Errorf("Sorted order:\n%v\nwant\n%v", got, want)
	}
}

func TestToneHeadlineAndPaging(t *testing.T) {
	crit := rules.Alert{Instance: "i", Group: "c", Severity: rules.Critical, Lag: 100}
	warn := rules.Alert{Instance: "i", Group: "w", Severity: rules.Warning, Lag: 100}
	it := func(k rules.Kind, a rules.Alert) Item { return Item{Kind: k, Alert: a} }
	for _, tc := range []struct {
		name     string
		items    []Item
		tone     Tone
		headline string
		paging   bool
	}{
		{"critical firing", []Item{it(rules.KindFiring, crit), it(rules.KindFiring, warn)}, ToneCritical, "2 consumer groups behind (1 critical)", true},
		{"warning firing", []Item{it(rules.KindFiring, warn)}, ToneWarning, "1 consumer group behind", false},
		{"escalated", []Item{it(rules.KindEscalated, crit), it(rules.KindResolved, warn)}, ToneCritical, "1 escalated, 1 resolved (1 critical)", true},
		{"critical reminder", []Item{it(rules.KindReminder, crit)}, ToneCritical, "1 still firing (1 critical)", true},
		{"warning reminder", []Item{it(rules.KindReminder, warn)}, ToneWarning, "1 still firing", false},
		{"downgraded", []Item{it(rules.KindDowngraded, warn), it(rules.KindResolved, crit)}, ToneWarning, "1 downgraded, 1 resolved", false},
		{"only resolved", []Item{it(rules.KindResolved, crit), it(rules.KindResolved, warn)}, ToneResolved, "2 resolved", false},
		{"only missing", []Item{it(rules.KindMissing, crit), it(rules.KindMissing, crit)}, ToneGone, "1 group gone", false},
		{"missing and resolved", []Item{it(rules.KindMissing, crit), it(rules.KindMissing, warn), it(rules.KindResolved, warn)}, ToneGone, "2 groups gone, 1 resolved", false},
		{"everything", []Item{
			it(rules.KindResolved, warn), it(rules.KindMissing, warn), it(rules.KindDowngraded, warn),
			it(rules.KindReminder, crit), it(rules.KindFiring, crit), it(rules.KindFiring, warn), it(rules.KindEscalated, crit),
		}, ToneCritical, "1 escalated, 2 firing, 1 still firing, 1 downgraded, 1 group gone, 1 resolved (3 critical)", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := MessageTone(tc.items); got != tc.tone {
				t.Errorf("MessageTone = %q, want %q", got, tc.tone)
			}
			if got := Headline(tc.items); got != tc.headline {
				t.Errorf("Headline = %q, want %q", got, tc.headline)
			}
			if got := Paging(tc.items); got != tc.paging {
				t.Errorf("Paging = %v, want %v", got, tc.paging)
			}
		})
	}
}

func TestPagesAndTitle(t *testing.T) {
	for _, tc := range []struct {
		kind  rules.Kind
		sev   rules.Severity
		pages bool
		title string
	}{
		{rules.KindFiring, rules.Critical, true, "CRITICAL"},
		{rules.KindFiring, rules.Warning, false, "WARNING"},
		{"", rules.Critical, true, "CRITICAL"},
		{rules.KindEscalated, rules.Critical, true, "Escalated to CRITICAL"},
		{rules.KindReminder, rules.Critical, true, "Reminder: still firing (CRITICAL)"},
		{rules.KindReminder, rules.Warning, false, "Reminder: still firing (WARNING)"},
		{rules.KindDowngraded, rules.Warning, false, "Downgraded to WARNING"},
		{rules.KindResolved, rules.Critical, false, "Resolved"},
		{rules.KindMissing, rules.Critical, false, "Consumer group gone"},
	} {
		it := Item{Kind: tc.kind, Alert: rules.Alert{Severity: tc.sev}}
		if got := Pages(it); got != tc.pages {
			t.Errorf("Pages(%s %s) = %v, want %v", tc.kind, tc.sev, got, tc.pages)
		}
		if got := Title(it); got != tc.title {
			t.Errorf("Title(%s %s) = %q, want %q", tc.kind, tc.sev, got, tc.title)
		}
	}
}

func TestSummarize(t *testing.T) {
	growing := &rules.Trend{Backlog: []int64{8000, 10000, 12345}, RatesKnown: true, ConsumePerMin: 1200, ProducePerMin: 1500, GrowthPerMin: 300}
	for _, tc := range []struct {
		name    string
		kind    rules.Kind
		a       rules.Alert
		subject string
		want    []string
	}{{
		name: "group backlog, age known, top topics, trend",
		a: rules.Alert{Rule: "orders", Region: "cn-hangzhou", Instance: "alikafka-1", Group: "g",
			Condition: rules.Backlog, Severity: rules.Critical, Value: 12345, Threshold: 10000, Lag: 12345,
			AgeSeconds: 42 * 60, AgeKnown: true, Trend: growing,
			Top: []rules.Contributor{{Topic: "orders", Lag: 10000}, {Topic: "payments", Lag: 2345}}},
		subject: "g",
		want: []string{
			"Backlog 12,345 messages (threshold 10,000)",
			"Newest consumed message: 42m old",
			"Trend: ▁▄█ 8,000 → 12,345 · consuming 1,200/min · producing 1,500/min · growing by 300/min",
			"Instance alikafka-1 · region cn-hangzhou · rule orders",
			"Top topics: orders 10,000 · payments 2,345",
		},
	}, {
		name: "topic backlog, age unknown, top partitions",
		kind: rules.KindEscalated,
		a: rules.Alert{Instance: "i", Group: "g", Topic: "t", Condition: rules.Backlog, Severity: rules.Warning,
			Value: 2_000_000, Threshold: 1_000_000, Lag: 2_000_000,
			Top: []rules.Contributor{{Topic: "t", Partition: ptr(3), Lag: 1_500_000}, {Topic: "t", Partition: ptr(0), Lag: 500_000}}},
		subject: "g / t",
		want: []string{
			"Backlog 2M messages (threshold 1M)",
			"Newest consumed message: age unknown",
			"Instance i",
			"Top partitions: p3 1.5M · p0 500,000",
		},
	}, {
		name: "partition stale",
		kind: rules.KindReminder,
		a: rules.Alert{Instance: "i", Region: "r", Group: "g", Topic: "t", Partition: ptr(7), Condition: rules.Stale,
			Severity: rules.Warning, Value: 3*3600 + 300, Threshold: 3600, Lag: 1, AgeSeconds: 3*3600 + 300, AgeKnown: true},
		subject: "g / t [p7]",
		want: []string{
			"Stale: newest consumed message is 3h 5m old (threshold 1h)",
			"Lag: 1 message",
			"Instance i · region r",
		},
	}, {
		name: "stuck",
		kind: rules.KindFiring,
		a: rules.Alert{Instance: "i", Group: "g", Condition: rules.Stuck, Severity: rules.Critical,
			Value: 42 * 60, Threshold: 30 * 60, Lag: 18000,
			Trend: &rules.Trend{Backlog: []int64{18000, 18000}, RatesKnown: true, ProducePerMin: 0}},
		subject: "g",
		want: []string{
			"Stuck: committed offsets have not moved for 42m (threshold 30m)",
			"Lag: 18,000 messages",
			"Trend: ▄▄ 18,000 → 18,000 · not consuming · producing 0/min",
			"Instance i",
		},
	}, {
		name: "resolved backlog: current value, trend, no top",
		kind: rules.KindResolved,
		a: rules.Alert{Instance: "i", Group: "g", Condition: rules.Backlog, Severity: rules.Critical,
			Value: 120, Threshold: 10000, Lag: 120, Top: []rules.Contributor{{Topic: "t", Lag: 120}},
			Trend: &rules.Trend{Backlog: []int64{20000, 9000, 120}, RatesKnown: true, ConsumePerMin: 2000, ProducePerMin: 100, DrainMinutes: 0.06}},
		subject: "g",
		want: []string{
			"Backlog now 120 messages (threshold 10,000)",
			"Trend: █▄▁ 20,000 → 120 · consuming 2,000/min · producing 100/min · drains in under a minute",
			"Instance i",
		},
	}, {
		name:    "resolved stale, still behind",
		kind:    rules.KindResolved,
		a:       rules.Alert{Instance: "i", Group: "g", Condition: rules.Stale, Severity: rules.Warning, Value: 120, Threshold: 600, Lag: 40},
		subject: "g",
		want:    []string{"Newest consumed message now 2m old (threshold 10m)", "Lag now 40 messages", "Instance i"},
	}, {
		name:    "resolved stale, caught up",
		kind:    rules.KindResolved,
		a:       rules.Alert{Instance: "i", Group: "g", Condition: rules.Stale, Severity: rules.Warning, Value: 7200, Threshold: 600},
		subject: "g",
		want:    []string{"Caught up: no lag", "Instance i"},
	}, {
		name:    "resolved stuck",
		kind:    rules.KindResolved,
		a:       rules.Alert{Instance: "i", Group: "g", Condition: rules.Stuck, Severity: rules.Warning, Threshold: 600, Lag: 7},
		subject: "g",
		want:    []string{"Committed offsets are moving again", "Lag now 7 messages", "Instance i"},
	}, {
		name: "missing: last known values, no trend",
		kind: rules.KindMissing,
		a: rules.Alert{Instance: "i", Region: "r", Group: "g", Condition: rules.Backlog, Severity: rules.Critical,
			Value: 50000, Threshold: 10000, Lag: 50000, Trend: growing, Top: []rules.Contributor{{Topic: "t", Lag: 50000}}},
		subject: "g",
		want: []string{
			"The group was deleted or is no longer watched while it was alerting",
			"Last known (CRITICAL): backlog 50,000 messages (threshold 10,000)",
			"Instance i · region r",
			"Top topics: t 50,000",
		},
	}, {
		name:    "missing stale",
		kind:    rules.KindMissing,
		a:       rules.Alert{Instance: "i", Group: "g", Condition: rules.Stale, Severity: rules.Warning, Value: 900, Threshold: 600, Lag: 3},
		subject: "g",
		want: []string{
			"The group was deleted or is no longer watched while it was alerting",
			"Last known (WARNING): newest consumed message 15m old (threshold 10m), lag 3 messages",
			"Instance i",
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			it := Item{Kind: tc.kind, Alert: tc.a}
			s := Summarize(it)
			if s.Subject != tc.subject || s.Severity != tc.a.Severity || s.Kind != KindOf(it) || s.Title != Title(it) {
				t.Errorf("subject, severity, kind, title = %q, %q, %q, %q", s.Subject, s.Severity, s.Kind, s.Title)
			}
			if !slices.Equal(s.Lines, tc.want) {
				t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(s.Lines, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestTruncateMoreFit(t *testing.T) {
	if got := Truncate("héllo wörld", 5); got != "héll…" {
		t.Errorf("Truncate = %q", got)
	}
	if got := Truncate("short", 5); got != "short" {
		t.Errorf("Truncate = %q", got)
	}
	if got := More(13); got != "…and 13 more" {
		t.Errorf("More = %q", got)
	}
	for _, tc := range []struct{ total, limit, want int }{
		{10, 100, 10}, {10, 7, 7}, {10, 0, 0}, {0, 5, 0}, {1000, 333, 333},
	} {
		if got := Fit(tc.total, func(k int) bool { return k <= tc.limit }); got != tc.want {
			t.Errorf("Fit(%d, <=%d) = %d, want %d", tc.total, tc.limit, got, tc.want)
		}
	}
}

func TestBlindSummary(t *testing.T) {
	a := rules.Alert{Rule: "backlog-alert", Instance: "alikafka_post-cn-x", Region: "cn-hangzhou", Condition: rules.Blind, Severity: rules.Critical,
		Detail: "credentials rejected (InvalidAccessKeyId.NotFound)"}
	firing := Summarize(Item{Kind: rules.KindFiring, Alert: a})
	if firing.Subject != "backlog-alert cannot see alikafka_post-cn-x" || !strings.Contains(firing.Lines[0], "credentials rejected") {
		t.Errorf("firing = %+v", firing)
	}
	if h := Headline([]Item{{Kind: rules.KindFiring, Alert: a}}); h != "backlog-alert cannot see alikafka_post-cn-x" {
		t.Errorf("headline = %q", h)
	}
	resolved := Summarize(Item{Kind: rules.KindResolved, Alert: a})
	if resolved.Title != "Resolved" || !strings.Contains(resolved.Lines[0], "can see alikafka_post-cn-x again") {
		t.Errorf("resolved = %+v", resolved)
	}
}
