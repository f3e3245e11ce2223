package notify

import (
	"cmp"
	"slices"

	"github.com/backlog-alert/backlog-alert/rules"
)

// A Section is what a message says about one place: a consumer group under
// one rule (at the rule's level: the group, one topic or one partition).
// Every condition of that place that changed in this run, and those that
// still fire beside them, are told together, so a reader never has to
// merge two sections about the same group in their head. A group that is
// gone is one section whatever its alerts were; so is each blind instance.
type Section struct {
	// Kind is what happened to the section as a whole: the most urgent kind
	// of its items (escalated, firing, reminder, downgraded, missing,
	// resolved).
	Kind rules.Kind
	// Severity is the worst severity that still fires; when nothing does
	// (resolved, gone), the worst of the items.
	Severity rules.Severity
	// Partly is set when the section resolved some conditions while others
	// still fire.
	Partly bool
	// Entries are the conditions, worst first: the items of this run and
	// the ongoing alerts (Kind KindOngoing).
	Entries []Item
	// Place is the representative alert: identity, lag, trend, top
	// contributors and annotations of the place.
	Place rules.Alert
	// Rules names the rules of a gone group's alerts.
	Rules []string
}

// KindOngoing marks an entry that still fires and has nothing new to say.
const KindOngoing rules.Kind = "ongoing"

// Sections groups a message's items into sections, in the order a message
// lists them: by kind (see KindRank), then critical before warning, then by
// lag, largest first, then by subject. Ongoing alerts join the section of
// their place and never make one on their own.
func Sections(m Message) []Section {
	byKey := map[string]*Section{}
	var order []string
	for _, it := range m.Items {
		it.Kind = KindOf(it)
		k := sectionKey(it)
		s := byKey[k]
		if s == nil {
			s = &Section{}
			byKey[k] = s
			order = append(order, k)
		}
		s.Entries = append(s.Entries, it)
	}
	for _, it := range m.Ongoing {
		if s := byKey[sectionKey(it)]; s != nil && !s.gone() {
			it.Kind = KindOngoing
			s.Entries = append(s.Entries, it)
		}
	}
	out := make([]Section, 0, len(order))
	for _, k := range order {
		s := byKey[k]
		s.settle()
		out = append(out, *s)
	}
	slices.SortStableFunc(out, func(a, b Section) int {
		return cmp.Or(
			cmp.Compare(a.rank(), b.rank()),
			cmp.Compare(SeverityRank(a.Severity), SeverityRank(b.Severity)),
			cmp.Compare(b.Place.Lag, a.Place.Lag),
			cmp.Compare(a.Place.Where(), b.Place.Where()),
			cmp.Compare(a.Place.Rule, b.Place.Rule),
		)
	})
	return out
}

// rank orders sections by what happened to them (see KindRank); one that
// partly resolved still fires, so it comes with the downgraded ones, before
// groups gone and resolutions.
func (s Section) rank() int {
	if s.Partly {
		return KindRank(rules.KindDowngraded)
	}
	return KindRank(s.Kind)
}

// sectionKey names the section an item belongs to.
func sectionKey(it Item) string {
	a := it.Alert
	if KindOf(it) == rules.KindMissing {
		return "gone\x00" + a.Region + "\x00" + a.Instance + "\x00" + a.Group
	}
	a.Condition = ""
	return a.Key()
}

func (s *Section) gone() bool {
	return len(s.Entries) > 0 && s.Entries[0].Kind == rules.KindMissing
}

// settle orders the entries and decides the section's kind, severity and
// representative place.
func (s *Section) settle() {
	slices.SortStableFunc(s.Entries, func(x, y Item) int {
		return cmp.Or(
			cmp.Compare(entryRank(x), entryRank(y)),
			cmp.Compare(SeverityRank(x.Alert.Severity), SeverityRank(y.Alert.Severity)),
			cmp.Compare(conditionRank(x.Alert.Condition), conditionRank(y.Alert.Condition)),
			cmp.Compare(x.Alert.Key(), y.Alert.Key()),
		)
	})
	s.Kind = s.Entries[0].Kind
	firing := rules.Severity("")
	worst := rules.Severity("")
	for _, e := range s.Entries {
		if KindRank(e.Kind) < KindRank(s.Kind) {
			s.Kind = e.Kind
		}
		if worst == "" || SeverityRank(e.Alert.Severity) < SeverityRank(worst) {
			worst = e.Alert.Severity
		}
		if e.Kind != rules.KindResolved && e.Kind != rules.KindMissing &&
			(firing == "" || SeverityRank(e.Alert.Severity) < SeverityRank(firing)) {
			firing = e.Alert.Severity
		}
		if !slices.Contains(s.Rules, e.Alert.Rule) {
			s.Rules = append(s.Rules, e.Alert.Rule)
		}
	}
	s.Severity = cmp.Or(firing, worst)
	s.Partly = s.Kind == rules.KindResolved && firing != ""
	// The place as this run saw it: any entry holds the same place; the
	// first one with a trend has the freshest view.
	s.Place = s.Entries[0].Alert
	for _, e := range s.Entries {
		if e.Alert.Trend != nil {
			s.Place = e.Alert
			break
		}
	}
	if s.Place.Annotations == nil {
		for _, e := range s.Entries {
			if e.Alert.Annotations != nil {
				s.Place.Annotations = e.Alert.Annotations
				break
			}
		}
	}
}

// entryRank lists what changed before what did not: the section's news
// first, then ongoing conditions, resolutions last.
func entryRank(it Item) int {
	if it.Kind == KindOngoing {
		return KindRank(rules.KindDowngraded) // after the news, before resolutions
	}
	return KindRank(it.Kind)
}

func conditionRank(c rules.Condition) int {
	switch c {
	case rules.Stale:
		return 0
	case rules.Stuck:
		return 1
	case rules.Backlog:
		return 2
	}
	return 3
}

// Pages reports whether the section pages someone: one of its items does.
func (s Section) Pages() bool {
	return slices.ContainsFunc(s.Entries, Pages)
}
