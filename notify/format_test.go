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

func TestSortedAndHeadline(t *testing.T) {
	in := []rules.Alert{
		{Group: "w-small", Instance: "i1", Severity: rules.Warning, Lag: 10, Value: 10},
		{Group: "c-stale", Instance: "i1", Severity: rules.Critical, Condition: rules.Stale, Lag: 5, Value: 99999},
		{Group: "w-big", Instance: "i1", Severity: rules.Warning, Lag: 5000, Value: 5000},
		{Group: "c-big", Instance: "i1", Severity: rules.Critical, Lag: 900, Value: 900},
		{Group: "c-big", Instance: "i1", Topic: "t", Severity: rules.Warning, Lag: 800, Value: 800},
	}
	orig := slices.Clone(in)
	var got []string
	for _, a := range Sorted(in) {
		got = append(got, a.Where())
	}
	want := []string{"c-big", "c-stale", "w-big", "c-big / t", "w-small"}
	if !slices.Equal(got, want) {
		t.Errorf("Sorted order = %v, want %v", got, want)
	}
	if !slices.EqualFunc(in, orig, func(a, b rules.Alert) bool { return a.Key() == b.Key() }) {
		t.Error("Sorted modified its input")
	}
	if w := Worst(in); w != rules.Critical {
		t.Errorf("Worst = %q", w)
	}
	// c-big counts once, as critical; 4 groups in all.
	if h := Headline(in); h != "4 consumer groups behind (2 critical)" {
		t.Errorf("Headline = %q", h)
	}
	if h := Headline(in[:1]); h != "1 consumer group behind" {
		t.Errorf("Headline = %q", h)
	}
}

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		name    string
		a       rules.Alert
		subject string
		want    []string
	}{{
		name: "group backlog, age known, top topics",
		a: rules.Alert{Rule: "orders", Region: "cn-hangzhou", Instance: "alikafka-1", Group: "g",
			Condition: rules.Backlog, Severity: rules.Critical, Value: 12345, Threshold: 10000, Lag: 12345,
			AgeSeconds: 42 * 60, AgeKnown: true,
			Top: []rules.Contributor{{Topic: "orders", Lag: 10000}, {Topic: "payments", Lag: 2345}}},
		subject: "g",
		want: []string{
			"Backlog 12,345 messages (threshold 10,000)",
			"Newest consumed message: 42m old",
			"Instance alikafka-1 · region cn-hangzhou · rule orders",
			"Top topics: orders 10,000 · payments 2,345",
		},
	}, {
		name: "topic backlog, age unknown, top partitions",
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
		a: rules.Alert{Instance: "i", Region: "r", Group: "g", Topic: "t", Partition: ptr(7), Condition: rules.Stale,
			Severity: rules.Warning, Value: 3*3600 + 300, Threshold: 3600, Lag: 1, AgeSeconds: 3*3600 + 300, AgeKnown: true},
		subject: "g / t [p7]",
		want: []string{
			"Stale: newest consumed message is 3h 5m old (threshold 1h)",
			"Lag: 1 message",
			"Instance i · region r",
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			s := Summarize(tc.a)
			if s.Subject != tc.subject || s.Severity != tc.a.Severity {
				t.Errorf("subject, severity = %q, %q", s.Subject, s.Severity)
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
