package notify

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/backlog-alert/backlog-alert/rules"
)

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

func TestTruncateFit(t *testing.T) {
	if got := Truncate("héllo wörld", 5); got != "héll…" {
		t.Errorf("Truncate = %q", got)
	}
	if got := Truncate("short", 5); got != "short" {
		t.Errorf("Truncate = %q", got)
	}
	for _, tc := range []struct{ total, limit, want int }{
		{10, 100, 10}, {10, 7, 7}, {10, 0, 0}, {0, 5, 0}, {1000, 333, 333},
	} {
		if got := Fit(tc.total, func(k int) bool { return k <= tc.limit }); got != tc.want {
			t.Errorf("Fit(%d, <=%d) = %d, want %d", tc.total, tc.limit, got, tc.want)
		}
	}
}

func TestPages(t *testing.T) {
	for _, tc := range []struct {
		kind  rules.Kind
		sev   rules.Severity
		pages bool
	}{
		{rules.KindFiring, rules.Critical, true},
		{rules.KindFiring, rules.Warning, false},
		{"", rules.Critical, true},
		{rules.KindEscalated, rules.Critical, true},
		{rules.KindReminder, rules.Critical, true},
		{rules.KindReminder, rules.Warning, false},
		{rules.KindDowngraded, rules.Warning, false},
		{rules.KindResolved, rules.Critical, false},
		{rules.KindMissing, rules.Critical, false},
		{KindOngoing, rules.Critical, false},
	} {
		if got := Pages(Item{Kind: tc.kind, Alert: rules.Alert{Severity: tc.sev}}); got != tc.pages {
			t.Errorf("Pages(%s %s) = %v, want %v", tc.kind, tc.sev, got, tc.pages)
		}
	}
}

func TestClip(t *testing.T) {
	amp := strings.NewReplacer("&", "&amp;").Replace
	l := Layout{Escape: amp, LineSep: "\n", LinksSep: "\n", LinkSep: " · "}
	for _, tc := range []struct {
		name  string
		lines []string
		links []string
		max   int
		want  string
	}{
		{"fits", []string{"a & b", "c"}, []string{"<u|Runbook>"}, 100, "H\na &amp; b\nc\n<u|Runbook>"},
		{"a long line is cut before escaping, never inside an escape", []string{strings.Repeat("&", 10)}, nil, 20, "H\n&amp;&amp;&amp;…"},
		{"lines after a cut are left out", []string{"first", strings.Repeat("x", 50), "third"}, nil, 20, "H\nfirst\nxxxxxxxxxxx…"},
		{"the links keep their place", []string{strings.Repeat("y", 50)}, []string{"<u|R>"}, 20, "H\nyyyyyyyyyyy…\n<u|R>"},
		// A link longer than a third of the budget would leave no room for
		// the head: it is left out, the section still says what it is about.
		{"a huge link is left out", []string{"line"}, []string{"<" + strings.Repeat("u", 50) + "|R>", "<v|S>"}, 30, "H\nline\n<v|S>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := l.Clip("H", tc.lines, tc.links, tc.max)
			if got != tc.want {
				t.Errorf("Clip = %q, want %q", got, tc.want)
			}
			if n := utf8.RuneCountInString(got); n > tc.max {
				t.Errorf("%d runes, max %d", n, tc.max)
			}
		})
	}
}

// Every icon has an emoji (the robots draw them with Emoji).
func TestEveryIconHasAnEmoji(t *testing.T) {
	for _, icon := range Icons {
		if Emoji[icon] == "" {
			t.Errorf("no emoji for %s", icon)
		}
	}
}
