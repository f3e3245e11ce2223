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

// Sorted returns a copy of items in the order a message lists them: by kind
// (see KindRank), then critical before warning, then by lag, largest first.
// Lag rather than Value orders alerts because it is in messages for every
// condition, while a stale or stuck alert's Value is in seconds and cannot be
// compared with a backlog's. Remaining ties fall back to Value and the
// alert's subject so the order is stable from run to run.
func Sorted(items []Item) []Item {
	out := slices.Clone(items)
	slices.SortStableFunc(out, func(x, y Item) int {
		a, b := x.Alert, y.Alert
		return cmp.Or(
			cmp.Compare(KindRank(KindOf(x)), KindRank(KindOf(y))),
			cmp.Compare(SeverityRank(a.Severity), SeverityRank(b.Severity)),
			cmp.Compare(b.Lag, a.Lag),
			cmp.Compare(b.Value, a.Value),
			cmp.Compare(a.Where(), b.Where()),
			cmp.Compare(a.Key(), b.Key()),
		)
	})
	return out
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

// MessageTone is the tone of a message holding items: critical when any item
// pages, warning when any other item still fires (downgraded included), green
// when every item is resolved, grey otherwise (groups gone, possibly with
// some resolved).
func MessageTone(items []Item) Tone {
	switch {
	case Paging(items):
		return ToneCritical
	case slices.ContainsFunc(items, Firing):
		return ToneWarning
	case len(items) > 0 && !slices.ContainsFunc(items, func(it Item) bool { return KindOf(it) != rules.KindResolved }):
		return ToneResolved
	}
	return ToneGone
}

// Headline sums a message up in one line without markup.
//
// When every item is newly firing it counts groups, not alerts, because that
// is what a person acts on: "3 consumer groups behind (1 critical)", a group
// counting as critical when any of its alerts is.
//
// Otherwise it summarises the mix in the order items are listed, counting
// alerts (one per section of the message) and, for groups gone, groups:
// "1 escalated, 2 firing, 1 resolved (1 critical)", where "critical" counts
// the items that page.
func Headline(items []Item) string {
	isBlind := func(it Item) bool { return it.Alert.Condition == rules.Blind }
	if len(items) > 0 && !slices.ContainsFunc(items, func(it Item) bool { return !isBlind(it) || !Firing(it) }) {
		if len(items) == 1 {
			return "backlog-alert cannot see " + items[0].Alert.Instance
		}
		return fmt.Sprintf("backlog-alert cannot see %d instances", len(items))
	}
	if !slices.ContainsFunc(items, func(it Item) bool { return KindOf(it) != rules.KindFiring }) {
		return firingHeadline(items)
	}
	counts := map[rules.Kind]int{}
	gone := map[string]bool{}
	critical := 0
	for _, it := range items {
		k := KindOf(it)
		if k == rules.KindMissing {
			gone[groupKey(it.Alert)] = true
			continue
		}
		counts[k]++
		if Pages(it) {
			critical++
		}
	}
	var parts []string
	for _, k := range []rules.Kind{rules.KindEscalated, rules.KindFiring, rules.KindReminder, rules.KindDowngraded} {
		if n := counts[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, kindWord[k]))
		}
	}
	if n := len(gone); n == 1 {
		parts = append(parts, "1 group gone")
	} else if n > 1 {
		parts = append(parts, fmt.Sprintf("%d groups gone", n))
	}
	if n := counts[rules.KindResolved]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d resolved", n))
	}
	other := 0
	for k, n := range counts {
		if _, known := kindWord[k]; !known && k != rules.KindResolved {
			other += n
		}
	}
	if other > 0 {
		parts = append(parts, fmt.Sprintf("%d other", other))
	}
	h := strings.Join(parts, ", ")
	if critical > 0 {
		h += fmt.Sprintf(" (%d critical)", critical)
	}
	return h
}

var kindWord = map[rules.Kind]string{
	rules.KindEscalated:  "escalated",
	rules.KindFiring:     "firing",
	rules.KindReminder:   "still firing",
	rules.KindDowngraded: "downgraded",
}

func groupKey(a rules.Alert) string {
	return a.Region + "\x00" + a.Instance + "\x00" + a.Group
}

func firingHeadline(items []Item) string {
	worst := map[string]rules.Severity{}
	for _, it := range items {
		a := it.Alert
		k := groupKey(a)
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

// Summary is one item in words, without markup.
type Summary struct {
	Kind     rules.Kind // never empty (see KindOf)
	Severity rules.Severity
	Title    string   // what happened, see Title
	Subject  string   // "group / topic [p3]"
	Lines    []string // value vs threshold, age or lag, trend, where, top contributors
}

// Title says what happened to an item, without emoji or markup:
//
//	firing      CRITICAL / WARNING
//	escalated   Escalated to CRITICAL
//	downgraded  Downgraded to WARNING
//	reminder    Reminder: still firing (CRITICAL)
//	resolved    Resolved
//	missing     Consumer group gone
func Title(it Item) string {
	sev := strings.ToUpper(string(it.Alert.Severity))
	switch KindOf(it) {
	case rules.KindEscalated:
		return "Escalated to " + sev
	case rules.KindDowngraded:
		return "Downgraded to " + sev
	case rules.KindReminder:
		return "Reminder: still firing (" + sev + ")"
	case rules.KindResolved:
		return "Resolved"
	case rules.KindMissing:
		return "Consumer group gone"
	}
	return sev
}

// Summarize words one item. A firing alert (also escalated, downgraded or a
// reminder):
//
//	Backlog 12,345 messages (threshold 10,000)
//	Newest consumed message: 42m old
//	Trend: ▁▂▄▆█ 8,000 → 12,345 · consuming 1,200/min · producing 1,500/min · growing by 300/min
//	Instance alikafka-1 · region cn-hangzhou · rule orders
//	Top topics: orders 10,000 · payments 2,345
//
// A stale or stuck alert states the age in its first line and the lag in
// its second. A resolved alert gives the current values ("Backlog now 120
// messages (threshold 10,000)"); a missing one says the group is gone and
// gives the last known values.
func Summarize(it Item) Summary {
	a := it.Alert
	kind := KindOf(it)
	if a.Condition == rules.Blind {
		return blindSummary(it, kind)
	}
	var lines []string
	switch kind {
	case rules.KindResolved:
		lines = resolvedLines(a)
	case rules.KindMissing:
		lines = []string{
			"The group was deleted or is no longer watched while it was alerting",
			"Last known (" + strings.ToUpper(string(a.Severity)) + "): " + lastKnown(a),
		}
	default:
		lines = firingLines(a)
	}
	if kind != rules.KindMissing {
		if t := TrendLine(a.Trend, a.Lag); t != "" {
			lines = append(lines, t)
		}
	}
	where := "Instance " + a.Instance
	if a.Region != "" {
		where += " · region " + a.Region
	}
	if a.Rule != "" {
		where += " · rule " + a.Rule
	}
	lines = append(lines, where)
	if kind != rules.KindResolved {
		if top := topLine(a); top != "" {
			lines = append(lines, top)
		}
	}
	return Summary{Kind: kind, Severity: a.Severity, Title: Title(it), Subject: a.Where(), Lines: lines}
}

// blindSummary words the monitor's own alert: it cannot see an instance
// (or its rules file), so its silence about it means nothing.
func blindSummary(it Item, kind rules.Kind) Summary {
	a := it.Alert
	subject := "backlog-alert cannot see " + a.Instance
	lines := []string{subject + ": " + a.Detail, "Until this resolves, no alert from it means nothing."}
	if kind == rules.KindResolved {
		lines = []string{"backlog-alert can see " + a.Instance + " again", "It was: " + a.Detail}
	}
	if a.Region != "" {
		lines = append(lines, "Region "+a.Region)
	}
	return Summary{Kind: kind, Severity: a.Severity, Title: Title(it), Subject: subject, Lines: lines}
}

func firingLines(a rules.Alert) []string {
	switch a.Condition {
	case rules.Stale:
		return []string{
			fmt.Sprintf("Stale: newest consumed message is %s old (threshold %s)", Duration(a.Value), Duration(a.Threshold)),
			"Lag: " + messages(a.Lag),
		}
	case rules.Stuck:
		return []string{
			fmt.Sprintf("Stuck: committed offsets have not moved for %s (threshold %s)", Duration(a.Value), Duration(a.Threshold)),
			"Lag: " + messages(a.Lag),
		}
	}
	age := "age unknown"
	if a.AgeKnown {
		age = Duration(a.AgeSeconds) + " old"
	}
	return []string{
		fmt.Sprintf("Backlog %s (threshold %s)", messages(a.Value), Count(a.Threshold)),
		"Newest consumed message: " + age,
	}
}

// resolvedLines gives the current values of a resolved alert.
func resolvedLines(a rules.Alert) []string {
	switch a.Condition {
	case rules.Stale:
		if a.Lag <= 0 {
			return []string{"Caught up: no lag"}
		}
		return []string{
			fmt.Sprintf("Newest consumed message now %s old (threshold %s)", Duration(a.Value), Duration(a.Threshold)),
			"Lag now " + messages(a.Lag),
		}
	case rules.Stuck:
		if a.Lag <= 0 {
			return []string{"Caught up: no lag"}
		}
		return []string{"Committed offsets are moving again", "Lag now " + messages(a.Lag)}
	}
	return []string{fmt.Sprintf("Backlog now %s (threshold %s)", messages(a.Value), Count(a.Threshold))}
}

// lastKnown states a missing alert's last known value.
func lastKnown(a rules.Alert) string {
	switch a.Condition {
	case rules.Stale:
		return fmt.Sprintf("newest consumed message %s old (threshold %s), lag %s", Duration(a.Value), Duration(a.Threshold), messages(a.Lag))
	case rules.Stuck:
		return fmt.Sprintf("committed offsets had not moved for %s (threshold %s), lag %s", Duration(a.Value), Duration(a.Threshold), messages(a.Lag))
	}
	return fmt.Sprintf("backlog %s (threshold %s)", messages(a.Value), Count(a.Threshold))
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
