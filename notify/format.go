package notify

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/backlog-alert/backlog-alert/rules"
)

// The wording of alerts lives here so that Slack and DingTalk say the same
// thing; each integration only adds its own markup.

// Count formats a message count for people: digits grouped below a million
// ("12,345"), one decimal with a unit above ("1.2M", "3.4B").
func Count(n int64) string {
	if n < 0 {
		if n == -n { // math.MinInt64 has no positive counterpart
			return "-9.2E"
		}
		return "-" + Count(-n)
	}
	if n < 1_000_000 {
		return group(n)
	}
	units := []struct {
		size float64
		name string
	}{{1e6, "M"}, {1e9, "B"}, {1e12, "T"}, {1e15, "P"}, {1e18, "E"}}
	for i, u := range units {
		x := float64(n) / u.size
		prec := 1
		if x >= 99.95 {
			prec = 0
		}
		s := strconv.FormatFloat(x, 'f', prec, 64)
		// Rounding may reach the next unit ("1000M"): move on to it.
		if v, _ := strconv.ParseFloat(s, 64); v < 1000 || i == len(units)-1 {
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
func Duration(seconds int64) string {
	if seconds < 0 {
		seconds = 0
	}
	const (
		minute = 60
		hour   = 60 * minute
		day    = 24 * hour
	)
	two := func(a int64, au string, b int64, bu string) string {
		if b == 0 {
			return fmt.Sprintf("%d%s", a, au)
		}
		return fmt.Sprintf("%d%s %d%s", a, au, b, bu)
	}
	switch {
	case seconds < minute:
		return fmt.Sprintf("%ds", seconds)
	case seconds < hour:
		return fmt.Sprintf("%dm", seconds/minute)
	case seconds < day:
		return two(seconds/hour, "h", seconds%hour/minute, "m")
	default:
		return two(seconds/day, "d", seconds%day/hour, "h")
	}
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

// Sorted returns a copy of alerts, most urgent first: critical before
// warning, then by lag, largest first. Lag rather than Value orders alerts of
// equal severity because it is in messages for both conditions, while a stale
// alert's Value is in seconds and cannot be compared with a backlog's.
// Remaining ties fall back to Value and the alert's subject so the order is
// stable from run to run.
func Sorted(alerts []rules.Alert) []rules.Alert {
	out := slices.Clone(alerts)
	slices.SortStableFunc(out, func(a, b rules.Alert) int {
		return cmp.Or(
			cmp.Compare(SeverityRank(a.Severity), SeverityRank(b.Severity)),
			cmp.Compare(b.Lag, a.Lag),
			cmp.Compare(b.Value, a.Value),
			cmp.Compare(a.Where(), b.Where()),
			cmp.Compare(a.Key(), b.Key()),
		)
	})
	return out
}

// Worst returns the most urgent severity among alerts ("" for none).
func Worst(alerts []rules.Alert) rules.Severity {
	var worst rules.Severity
	for _, a := range alerts {
		if worst == "" || SeverityRank(a.Severity) < SeverityRank(worst) {
			worst = a.Severity
		}
	}
	return worst
}

// HasCritical reports whether any alert is critical.
func HasCritical(alerts []rules.Alert) bool {
	return Worst(alerts) == rules.Critical
}

// Headline sums a message up in one line without markup: "3 consumer groups
// behind (1 critical)". It counts groups, not alerts, because that is what a
// person acts on; a group counts as critical when any of its alerts is.
func Headline(alerts []rules.Alert) string {
	worst := map[string]rules.Severity{}
	for _, a := range alerts {
		k := a.Region + "\x00" + a.Instance + "\x00" + a.Group
		if w, ok := worst[k]; !ok || SeverityRank(a.Severity) < SeverityRank(w) {
			worst[k] = a.Severity
		}
	}
	critical := 0
	for _, s := range worst {
		if s == rules.Critical {
			critical++
		}
	}
	noun := "consumer groups"
	if len(worst) == 1 {
		noun = "consumer group"
	}
	h := fmt.Sprintf("%d %s behind", len(worst), noun)
	if critical > 0 {
		h += fmt.Sprintf(" (%d critical)", critical)
	}
	return h
}

// Summary is one alert in words, without markup.
type Summary struct {
	Severity rules.Severity
	Subject  string   // "group / topic [p3]"
	Lines    []string // value vs threshold, age or lag, where, top contributors
}

// Summarize words one alert:
//
//	Backlog 12,345 messages (threshold 10,000)
//	Newest consumed message: 42m old
//	Instance alikafka-1 · region cn-hangzhou · rule orders
//	Top topics: orders 10,000 · payments 2,345
//
// A stale alert states the age in its first line and the lag in its second.
func Summarize(a rules.Alert) Summary {
	var lines []string
	switch a.Condition {
	case rules.Stale:
		lines = append(lines,
			fmt.Sprintf("Stale: newest consumed message is %s old (threshold %s)", Duration(a.Value), Duration(a.Threshold)),
			"Lag: "+messages(a.Lag))
	default:
		age := "age unknown"
		if a.AgeKnown {
			age = Duration(a.AgeSeconds) + " old"
		}
		lines = append(lines,
			fmt.Sprintf("Backlog %s (threshold %s)", messages(a.Value), Count(a.Threshold)),
			"Newest consumed message: "+age)
	}
	where := "Instance " + a.Instance
	if a.Region != "" {
		where += " · region " + a.Region
	}
	if a.Rule != "" {
		where += " · rule " + a.Rule
	}
	lines = append(lines, where)
	if top := topLine(a); top != "" {
		lines = append(lines, top)
	}
	return Summary{Severity: a.Severity, Subject: a.Where(), Lines: lines}
}

func messages(n int64) string {
	if n == 1 {
		return "1 message"
	}
	return Count(n) + " messages"
}

// topLine names the largest contributors to the lag: topics of a group,
// partitions of a topic.
func topLine(a rules.Alert) string {
	if len(a.Top) == 0 {
		return ""
	}
	label := "Top topics: "
	parts := make([]string, len(a.Top))
	for i, c := range a.Top {
		name := c.Topic
		if c.Partition != nil {
			label = "Top partitions: "
			name = "p" + strconv.Itoa(*c.Partition)
			if c.Topic != "" && c.Topic != a.Topic {
				name = c.Topic + " " + name
			}
		}
		parts[i] = name + " " + Count(c.Lag)
	}
	return label + strings.Join(parts, " · ")
}

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

// More is the line that stands for n alerts left out.
func More(n int) string {
	return fmt.Sprintf("…and %d more", n)
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
