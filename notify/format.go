package notify

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/backlog-alert/backlog-alert/rules"
)

// The numbers and rankings every catalogue and integration shares; the
// words themselves are in the catalogues (catalog_*.go) and render.go.

// Count formats a message count for people: digits grouped below a million
// ("12,345"), one decimal with a unit above ("1.2M", "3.4B").
func Count(n int64) string { return western.count(n) }

// numbering is how a language writes large counts: digits grouped below
// its first unit, then the largest unit that keeps the number below step,
// with one decimal until a tenth of step.
type numbering struct {
	units []unit // ascending
	step  float64
}

type unit struct {
	size float64
	name string
}

var (
	western = numbering{units: []unit{{1e6, "M"}, {1e9, "B"}, {1e12, "T"}, {1e15, "P"}, {1e18, "E"}}, step: 1000}
	chinese = numbering{units: []unit{{1e4, "万"}, {1e8, "亿"}, {1e12, "万亿"}}, step: 10_000}
)

func (nb numbering) count(n int64) string {
	if n < 0 {
		if n == math.MinInt64 { // it has no positive counterpart
			n++
		}
		return "-" + nb.count(-n)
	}
	if float64(n) < nb.units[0].size {
		return group(n)
	}
	for i, u := range nb.units {
		x := float64(n) / u.size
		prec := 1
		if x >= nb.step/10-0.05 {
			prec = 0
		}
		s := strconv.FormatFloat(x, 'f', prec, 64)
		// Rounding may reach the next unit ("1000M"): move on to it.
		if v, _ := strconv.ParseFloat(s, 64); v < nb.step || i == len(nb.units)-1 {
			return strings.TrimSuffix(s, ".0") + u.name
		}
	}
	panic("unreachable")
}

func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Duration formats seconds for people, to the two largest units: "45s",
// "42m", "3h 5m", "2d 3h".
func Duration(seconds int64) string { return westernTime.duration(seconds) }

// timeUnits are a language's words for seconds, minutes, hours and days,
// and what stands between two of them.
type timeUnits struct{ second, minute, hour, day, sep string }

var (
	westernTime = timeUnits{"s", "m", "h", "d", " "}
	chineseTime = timeUnits{"秒", "分钟", "小时", "天", ""}
)

// duration writes seconds to the two largest units.
func (u timeUnits) duration(seconds int64) string {
	seconds = max(seconds, 0)
	const minute, hour, day = 60, 3600, 86400
	two := func(a int64, au string, b int64, bu string) string {
		if b == 0 {
			return fmt.Sprintf("%d%s", a, au)
		}
		return fmt.Sprintf("%d%s%s%d%s", a, au, u.sep, b, bu)
	}
	switch {
	case seconds < minute:
		return fmt.Sprintf("%d%s", seconds, u.second)
	case seconds < hour:
		return fmt.Sprintf("%d%s", seconds/minute, u.minute)
	case seconds < day:
		return two(seconds/hour, u.hour, seconds%hour/minute, u.minute)
	}
	return two(seconds/day, u.day, seconds%day/hour, u.hour)
}

// SeverityRank orders severities, most urgent first.
func SeverityRank(s rules.Severity) int {
	switch s {
	case rules.Critical:
		return 0
	case rules.Warning:
		return 1
	default:
		return 2
	}
}

// KindOf returns the item's kind, reading an empty Kind as rules.KindFiring.
func KindOf(it Item) rules.Kind {
	if it.Kind == "" {
		return rules.KindFiring
	}
	return it.Kind
}

// KindRank orders kinds as a message lists them: escalated, firing,
// reminder, downgraded, missing, resolved; unknown kinds last.
func KindRank(k rules.Kind) int {
	switch k {
	case rules.KindEscalated:
		return 0
	case rules.KindFiring, "":
		return 1
	case rules.KindReminder:
		return 2
	case rules.KindDowngraded:
		return 3
	case rules.KindMissing:
		return 4
	case rules.KindResolved:
		return 5
	default:
		return 6
	}
}

// Firing reports whether the item's condition still holds: firing,
// escalated, reminder or downgraded (resolved and missing do not).
func Firing(it Item) bool {
	switch KindOf(it) {
	case rules.KindFiring, rules.KindEscalated, rules.KindReminder, rules.KindDowngraded:
		return true
	}
	return false
}

// Pages reports whether the item is worth paging someone for: a critical
// alert that is firing, escalated or a reminder. A downgraded, resolved or
// missing item never pages.
func Pages(it Item) bool {
	switch KindOf(it) {
	case rules.KindFiring, rules.KindEscalated, rules.KindReminder:
		return it.Alert.Severity == rules.Critical
	}
	return false
}

// Paging reports whether any item pages (see Pages): the condition for
// @-mentions.
func Paging(items []Item) bool {
	return slices.ContainsFunc(items, Pages)
}

// Tone is the overall mood of a message, which the integrations show as a
// colour bar or a headline icon.
type Tone string

const (
	ToneCritical Tone = "critical" // some critical item pages (red)
	ToneWarning  Tone = "warning"  // something still fires, nothing pages (amber)
	ToneResolved Tone = "resolved" // only resolved items (green)
	ToneGone     Tone = "gone"     // only missing items, or missing and resolved (grey)
)

// Truncate shortens s to at most max runes, ending with "…" when cut.
func Truncate(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	if max <= 0 {
		return ""
	}
	r := []rune(s)
	return string(r[:max-1]) + "…"
}

// Fit returns the largest k in [0, total] for which fits(k) holds, for
// rendering the first k alerts followed by More(total-k). fits must be
// monotone: if k alerts fit, so do fewer. It returns 0 when nothing fits.
func Fit(total int, fits func(k int) bool) int {
	if fits(total) {
		return total
	}
	lo, hi := 0, total // fits(lo) is assumed, fits(hi) is false
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if fits(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// Layout is how an integration writes a section as one text.
type Layout struct {
	Escape   func(string) string // the integration's escaping of plain text
	LineSep  string              // before each line: "\n", "\n- "
	LinksSep string              // before the line of links
	LinkSep  string              // between links
}

// Clip writes a section within max runes: head (already in markup), the
// lines escaped, and the links (already in markup) on a last line. Links
// come first in the budget, up to a third of it, so a runbook survives a
// long section; a link that does not fit is left out rather than broken.
// Lines are cut before they are escaped, so an escape is never split, and
// the cut one ends with "…".
func (l Layout) Clip(head string, lines, links []string, max int) string {
	tail := ""
	for _, link := range links {
		sep := l.LinksSep
		if tail != "" {
			sep = l.LinkSep
		}
		if runes(tail)+runes(sep+link) <= max/3 {
			tail += sep + link
		}
	}
	budget := max - runes(tail)
	out := Truncate(head, budget)
	for _, line := range lines {
		next := l.LineSep + l.Escape(line)
		if runes(out)+runes(next) <= budget {
			out += next
			continue
		}
		r := []rune(line)
		k := Fit(len(r), func(k int) bool {
			return runes(out)+runes(l.LineSep+l.Escape(string(r[:k]))+"…") <= budget
		})
		if k > 0 {
			out += l.LineSep + l.Escape(string(r[:k])) + "…"
		}
		break
	}
	return out + tail
}

func runes(s string) int { return utf8.RuneCountInString(s) }

// Flanking reports whether the underscore at rs[i] could open or close
// emphasis in markdown: its run of underscores touches a space,
// punctuation or an end. One inside a word (alikafka_post) cannot, and is
// best left as it is.
func Flanking(rs []rune, i int) bool {
	word := func(i int) bool {
		return i >= 0 && i < len(rs) && (unicode.IsLetter(rs[i]) || unicode.IsDigit(rs[i]))
	}
	j, k := i, i
	for j > 0 && rs[j-1] == '_' {
		j--
	}
	for k < len(rs)-1 && rs[k+1] == '_' {
		k++
	}
	return !word(j-1) || !word(k+1)
}
