package notify

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/backlog-alert/backlog-alert/rules"
)

// Rendered is a message in words, without markup: what every integration
// lays out, so that Slack, DingTalk and any later channel describe a group
// the same way, in the channel's language and time zone.
type Rendered struct {
	Tone     Tone
	Headline string
	// About is the line under the headline: when it was evaluated.
	About    string
	Sections []Summary
	// Paging is set when a critical alert is firing, escalated or reminded:
	// the condition for @-mentions.
	Paging  bool
	catalog *Catalog
}

// More is the line that stands for n sections left out.
func (r Rendered) More(n int) string { return fmt.Sprintf(r.catalog.More, n) }

// Digest is the note of a message whose sections are each in its thread.
func (r Rendered) Digest() string { return fmt.Sprintf(r.catalog.DigestNote, len(r.Sections)) }

// Summary is one section in words.
type Summary struct {
	Icon    Icon
	Title   string // what happened: "Escalated to CRITICAL"
	Subject string // the place: "billing / orders [p3]"
	Lines   []string
	// Links are shown as clickable text (the runbook, dashboards).
	Links []Link
}

// Link is a URL with the text to show for it.
type Link struct{ Text, URL string }

// Render words a message in its language and time zone.
func Render(m Message) Rendered {
	c := CatalogFor(m.Language)
	loc := m.Location
	if loc == nil {
		loc = time.UTC
	}
	now := m.Time.In(loc)
	secs := Sections(m)
	r := Rendered{Tone: tone(secs), Headline: c.headline(secs), catalog: c}
	r.About = "backlog-alert"
	if !m.Time.IsZero() {
		r.About = fmt.Sprintf(c.About, c.Stamp(now)) + " · backlog-alert"
	}
	for _, s := range secs {
		r.Paging = r.Paging || s.Pages()
		r.Sections = append(r.Sections, c.summarize(s, now))
	}
	return r
}

// tone is critical when a section pages, warning when anything still fires
// (ongoing conditions included), green when every section resolved, grey
// otherwise (groups gone, possibly with some resolved).
func tone(secs []Section) Tone {
	firing, allResolved := false, len(secs) > 0
	for _, s := range secs {
		if s.Pages() {
			return ToneCritical
		}
		if s.Partly || slices.ContainsFunc(s.Entries, func(e Item) bool { return Firing(e) || e.Kind == KindOngoing }) {
			firing = true
		}
		if s.Kind != rules.KindResolved || s.Partly {
			allResolved = false
		}
	}
	switch {
	case firing:
		return ToneWarning
	case allResolved:
		return ToneResolved
	}
	return ToneGone
}

// headline sums the sections up in one line.
//
// When every section is newly firing it counts groups, which is what a
// person acts on: "3 consumer groups behind (1 critical)". Otherwise it
// counts sections by what happened to them, in the order they are listed,
// and groups gone: "1 escalated, 2 firing, 1 resolved (1 critical)", where
// "critical" counts the sections that page.
func (c *Catalog) headline(secs []Section) string {
	blind := func(s Section) bool { return s.Place.Condition == rules.Blind && Firing(s.Entries[0]) }
	if len(secs) > 0 && !slices.ContainsFunc(secs, func(s Section) bool { return !blind(s) }) {
		if len(secs) == 1 {
			return c.blindSubject(secs[0].Place)
		}
		return fmt.Sprintf(c.HeadBlindMany, len(secs))
	}
	if !slices.ContainsFunc(secs, func(s Section) bool { return s.Kind != rules.KindFiring }) {
		worst := map[string]rules.Severity{}
		for _, s := range secs {
			k := groupKey(s.Place)
			if w, ok := worst[k]; !ok || SeverityRank(s.Severity) < SeverityRank(w) {
				worst[k] = s.Severity
			}
		}
		critical := 0
		for _, sev := range worst {
			if sev == rules.Critical {
				critical++
			}
		}
		return c.Plural(len(worst), c.HeadBehind[0], c.HeadBehind[1]) + c.critical(critical)
	}
	counts := map[rules.Kind]int{}
	partly, paging := 0, 0
	for _, s := range secs {
		switch {
		case s.Partly:
			partly++
		default:
			counts[s.Kind]++
		}
		if s.Pages() {
			paging++
		}
	}
	var parts []string
	for _, k := range []rules.Kind{rules.KindEscalated, rules.KindFiring, rules.KindReminder, rules.KindDowngraded} {
		if n := counts[k]; n > 0 {
			parts = append(parts, fmt.Sprintf(c.HeadKinds[k], n))
		}
	}
	if partly > 0 {
		parts = append(parts, fmt.Sprintf(c.HeadPartly, partly))
	}
	if n := counts[rules.KindMissing]; n > 0 {
		parts = append(parts, c.Plural(n, c.HeadGone[0], c.HeadGone[1]))
	}
	if n := counts[rules.KindResolved]; n > 0 {
		parts = append(parts, fmt.Sprintf(c.HeadKinds[rules.KindResolved], n))
	}
	return strings.Join(parts, c.ListSeparator) + c.critical(paging)
}

func (c *Catalog) critical(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(c.HeadCritical, n)
}

func groupKey(a rules.Alert) string {
	return a.Region + "\x00" + a.Instance + "\x00" + a.Group
}

// title says what happened to a section.
func (c *Catalog) title(s Section) string {
	sev := c.Severity[s.Severity]
	switch {
	case s.Partly:
		return fmt.Sprintf(c.TitlePartly, sev)
	case s.Kind == rules.KindEscalated:
		return fmt.Sprintf(c.TitleEscalated, sev)
	case s.Kind == rules.KindDowngraded:
		return fmt.Sprintf(c.TitleDowngraded, sev)
	case s.Kind == rules.KindReminder:
		return fmt.Sprintf(c.TitleReminder, sev)
	case s.Kind == rules.KindResolved:
		return c.TitleResolved
	case s.Kind == rules.KindMissing:
		return c.TitleGone
	}
	return fmt.Sprintf(c.TitleFiring, sev)
}

// summarize words one section (see the README's message anatomy):
//
//	<summary annotation>
//	<one line per condition: what it is, what happened, value vs threshold>
//	Lag / newest consumed message, where no condition line said it
//	Trend: sparkline, rates over the last interval, drain or growth
//	Top topics or partitions
//	Instance · region · rule
//	Owner, description, other annotations; the runbook as a link
func (c *Catalog) summarize(s Section, now time.Time) Summary {
	p := s.Place
	sum := Summary{Icon: ItemIcon(s.Kind, s.Severity), Title: c.title(s), Subject: c.Subject(p)}
	if s.Partly {
		sum.Icon = IconResolved
	}
	switch {
	case p.Condition == rules.Blind:
		return c.blind(s, sum)
	case s.Kind == rules.KindMissing:
		return c.gone(s, sum)
	}
	ann := p.Annotations
	resolved := s.Kind == rules.KindResolved && !s.Partly
	// The summary says what is wrong; once nothing is, it would mislead.
	if v := ann["summary"]; v != "" && !resolved {
		sum.Lines = append(sum.Lines, v)
	}
	said := map[rules.Condition]bool{}
	for _, e := range s.Entries {
		sum.Lines = append(sum.Lines, c.conditionLine(e, now))
		said[e.Alert.Condition] = true
	}
	if !said[rules.Backlog] && !(resolved && p.Lag <= 0) {
		sum.Lines = append(sum.Lines, fmt.Sprintf(c.LagLine, c.Messages(p.Lag)))
	}
	if !said[rules.Stale] && !resolved && said[rules.Backlog] {
		if p.AgeKnown {
			sum.Lines = append(sum.Lines, fmt.Sprintf(c.AgeLine, c.Duration(p.AgeSeconds)))
		} else {
			sum.Lines = append(sum.Lines, c.AgeUnknown)
		}
	}
	if t := c.TrendLine(p.Trend, p.Lag); t != "" {
		sum.Lines = append(sum.Lines, t)
	}
	if !resolved {
		if top := c.topLine(p); top != "" {
			sum.Lines = append(sum.Lines, top)
		}
	}
	sum.Lines = append(sum.Lines, fmt.Sprintf(c.WhereLine, p.Instance, p.Region, p.Rule))
	c.annotations(ann, &sum)
	return sum
}

// conditionLine is one condition of a section: "Stale CRITICAL (up from
// WARNING): newest consumed message is 57m old (threshold 30m)".
func (c *Catalog) conditionLine(e Item, now time.Time) string {
	a := e.Alert
	sev := c.Severity[a.Severity]
	other := c.Severity[rules.Warning]
	if a.Severity == rules.Warning {
		other = c.Severity[rules.Critical]
	}
	var status string
	switch e.Kind {
	case rules.KindEscalated:
		status = fmt.Sprintf(c.StatusEscalated, sev, other)
	case rules.KindDowngraded:
		status = fmt.Sprintf(c.StatusDowngraded, sev, other)
	case rules.KindReminder:
		if e.Since.IsZero() {
			status = fmt.Sprintf(c.StatusStill, sev)
		} else {
			status = fmt.Sprintf(c.StatusReminder, sev, c.Duration(seconds(now.Sub(e.Since))))
		}
	case KindOngoing:
		status = fmt.Sprintf(c.StatusStill, sev)
	case rules.KindResolved:
		status = c.StatusResolved
		if !e.Since.IsZero() {
			status = fmt.Sprintf(c.StatusResolvedIn, c.Duration(seconds(now.Sub(e.Since))))
		}
	default:
		status = fmt.Sprintf(c.StatusFiring, sev)
	}
	return fmt.Sprintf(c.ConditionLine, c.Condition[a.Condition], status, c.statement(e, now))
}

// statement gives a condition's value against its threshold, or for a
// resolution where things stand now.
func (c *Catalog) statement(e Item, now time.Time) string {
	a := e.Alert
	if e.Kind == rules.KindResolved {
		switch a.Condition {
		case rules.Backlog:
			return fmt.Sprintf(c.BacklogResolved, c.Messages(a.Value), c.Count(a.Threshold))
		case rules.Stale:
			if a.Lag <= 0 {
				return c.CaughtUp
			}
			return fmt.Sprintf(c.StaleResolved, c.Duration(a.Value), c.Duration(a.Threshold))
		default:
			if a.Lag <= 0 {
				return c.CaughtUp
			}
			return c.StuckResolved
		}
	}
	switch a.Condition {
	case rules.Stale:
		return fmt.Sprintf(c.StaleNow, c.Duration(a.Value), c.Duration(a.Threshold))
	case rules.Stuck:
		if a.AtLeast && !a.Since.IsZero() {
			return fmt.Sprintf(c.StuckAtLeast, c.Duration(a.Value), c.Clock(a.Since.In(now.Location()), now), c.Duration(a.Threshold))
		}
		return fmt.Sprintf(c.StuckNow, c.Duration(a.Value), c.Duration(a.Threshold))
	}
	return fmt.Sprintf(c.BacklogNow, c.Messages(a.Value), c.Count(a.Threshold))
}

// gone words a group that disappeared: one section whatever its alerts
// were, with the reason and what it was alerting about.
func (c *Catalog) gone(s Section, sum Summary) Summary {
	p := s.Place
	p.Topic, p.Partition = "", nil
	sum.Subject = c.Subject(p)
	reason, ok := c.Gone[p.Detail]
	if !ok {
		reason = c.Gone[""]
	}
	sum.Lines = append(sum.Lines, reason)
	var was []string
	for _, e := range s.Entries {
		a := e.Alert
		value := c.Messages(a.Value)
		if a.Condition != rules.Backlog {
			value = c.Duration(a.Value)
		}
		what := c.Condition[a.Condition]
		if a.Topic != "" || a.Partition != nil {
			what += " " + c.Subject(a)
		}
		was = append(was, fmt.Sprintf(c.LastKnownAlert, c.Severity[a.Severity], what, value))
	}
	sum.Lines = append(sum.Lines, fmt.Sprintf(c.LastKnown, strings.Join(was, c.ListSeparator)))
	where := c.WhereLine
	if len(s.Rules) > 1 {
		where = c.WhereRules
	}
	sum.Lines = append(sum.Lines, fmt.Sprintf(where, p.Instance, p.Region, strings.Join(s.Rules, ", ")))
	return sum
}

// blind words the monitor's own alert: it cannot see an instance (or its
// rules file), so its silence about it means nothing.
func (c *Catalog) blind(s Section, sum Summary) Summary {
	a := s.Place
	sum.Subject = c.blindSubject(a)
	reason := a.Detail
	if a.Cause != nil {
		reason = c.BlindReason(*a.Cause)
	}
	switch {
	case s.Kind == rules.KindResolved:
		sum.Lines = []string{fmt.Sprintf(c.BlindResolved, c.blindWhat(a)), fmt.Sprintf(c.BlindWas, reason)}
	case a.Cause != nil && a.Cause.Kind == rules.BlindState:
		sum.Lines = []string{reason, c.BlindStateMeaning}
	default:
		sum.Lines = []string{fmt.Sprintf(c.BlindFiring, c.blindWhat(a), reason), c.BlindMeaning}
	}
	if a.Region != "" {
		sum.Lines = append(sum.Lines, fmt.Sprintf(c.BlindRegion, a.Region))
	}
	return sum
}

// blindSubject says what the monitor cannot do: see an instance or its rules
// file, or save its state.
func (c *Catalog) blindSubject(a rules.Alert) string {
	if a.Cause != nil && a.Cause.Kind == rules.BlindState {
		return fmt.Sprintf(c.HeadBlindState, a.Instance)
	}
	return fmt.Sprintf(c.HeadBlindOne, c.blindWhat(a))
}

// blindWhat names what the monitor cannot see: an instance, or every
// instance of a region it could not list.
func (c *Catalog) blindWhat(a rules.Alert) string {
	if a.Instance == rules.AllInstances {
		return fmt.Sprintf(c.BlindEveryInstance, a.Region)
	}
	return a.Instance
}

// topLine names the largest contributors to the lag: topics of a group,
// partitions of a topic or of a partition's topic.
func (c *Catalog) topLine(a rules.Alert) string {
	if len(a.Top) == 0 {
		return ""
	}
	format := c.TopTopics
	parts := make([]string, len(a.Top))
	for i, t := range a.Top {
		name := t.Topic
		if t.Partition != nil {
			format = c.TopPartitions
			name = c.Partition(*t.Partition)
			if t.Topic != "" && t.Topic != a.Topic {
				name = t.Topic + " " + name
			}
		}
		parts[i] = name + " " + c.Count(t.Lag)
	}
	return fmt.Sprintf(format, strings.Join(parts, c.TopSeparator))
}

// annotations adds the rule's annotations after the facts: owner and
// description as lines, the runbook and other URLs as links, the rest as
// "key: value". The summary was shown first.
func (c *Catalog) annotations(ann map[string]string, sum *Summary) {
	for _, k := range rules.AnnotationOrder(mapKeys(ann)) {
		v := ann[k]
		switch {
		case k == "summary" || v == "":
		case k == "owner":
			sum.Lines = append(sum.Lines, fmt.Sprintf(c.OwnerLine, v))
		case k == "description":
			sum.Lines = append(sum.Lines, v)
		case k == "runbook_url":
			sum.Links = append(sum.Links, Link{Text: c.RunbookLink, URL: v})
		case k == "url" || strings.HasSuffix(k, "_url"):
			sum.Links = append(sum.Links, Link{Text: strings.TrimSuffix(k, "_url"), URL: v})
		default:
			sum.Lines = append(sum.Lines, fmt.Sprintf(c.AnnotationLine, k, v))
		}
	}
}

func mapKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

func seconds(d time.Duration) int64 { return int64(max(d, 0) / time.Second) }
