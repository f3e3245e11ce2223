package notify

import (
	"fmt"
	"strconv"
	"time"

	"github.com/backlog-alert/backlog-alert/rules"
)

// English is the default catalogue.
var English = &Catalog{
	Language:  rules.LanguageEnglish,
	Count:     Count,
	Messages:  func(n int64) string { return englishPlural(n, Count(n), "message", "messages") },
	Duration:  Duration,
	Rate:      Rate,
	DrainTime: DrainTime,
	Stamp: func(t time.Time) string {
		return t.Format("2006-01-02 15:04") + " " + ZoneLabel(t)
	},
	Clock: func(t, now time.Time) string {
		if sameDay(t, now) {
			return t.Format("15:04") + " " + ZoneLabel(t)
		}
		return t.Format("Jan 2 15:04") + " " + ZoneLabel(t)
	},
	Subject:   rules.Alert.Where,
	Partition: func(p int) string { return "p" + strconv.Itoa(p) },
	Severity:  map[rules.Severity]string{rules.Critical: "CRITICAL", rules.Warning: "WARNING"},
	Condition: map[rules.Condition]string{rules.Backlog: "Backlog", rules.Stale: "Stale", rules.Stuck: "Stuck", rules.Blind: "Blind"},
	Gone: map[string]string{
		rules.GoneDeleted:   "Deleted: the service no longer knows this group",
		rules.GoneUnmatched: "No longer matched by the rules",
		"":                  "Deleted or no longer watched",
	},
	Plural: func(n int, one, many string) string {
		if n == 1 {
			return fmt.Sprintf(one, n)
		}
		return fmt.Sprintf(many, n)
	},

	HeadBlindOne:   "backlog-alert cannot see %s",
	HeadBlindState: "backlog-alert cannot save its state in %s",
	HeadBlindMany:  "backlog-alert cannot see %d instances",
	HeadBehind:     [2]string{"%d consumer group behind", "%d consumer groups behind"},
	HeadKinds: map[rules.Kind]string{
		rules.KindEscalated:  "%d escalated",
		rules.KindFiring:     "%d firing",
		rules.KindReminder:   "%d still firing",
		rules.KindDowngraded: "%d downgraded",
		rules.KindResolved:   "%d resolved",
	},
	HeadPartly:     "%d partly resolved",
	HeadGone:       [2]string{"%d group gone", "%d groups gone"},
	HeadCritical:   " (%d critical)",
	ListSeparator:  ", ",
	About:          "evaluated %s",
	More:           "…and %d more",
	DigestNote:     "%d consumer groups: each has its own reply in this thread, kept up to date",
	RunbookLink:    "Runbook",
	OwnerLine:      "Owner: %s",
	AnnotationLine: "%s: %s",

	TitleFiring:     "%s",
	TitleEscalated:  "Escalated to %s",
	TitleDowngraded: "Downgraded to %s",
	TitleReminder:   "Reminder: still firing (%s)",
	TitleResolved:   "Resolved",
	TitlePartly:     "Partly resolved, still %s",
	TitleGone:       "Consumer group gone",

	ConditionLine:    "%s %s: %s",
	StatusFiring:     "%s",
	StatusEscalated:  "%s (up from %s)",
	StatusDowngraded: "%s (down from %s)",
	StatusReminder:   "%s for %s",
	StatusStill:      "still %s",
	StatusResolved:   "resolved",
	StatusResolvedIn: "resolved after %s",

	BacklogNow:       "%s (threshold %s)",
	BacklogResolved:  "now %s (threshold %s)",
	StaleNow:         "newest consumed message is %s old (threshold %s)",
	StaleResolved:    "newest consumed message now %s old (threshold %s)",
	StuckNow:         "committed offsets have not moved for %s (threshold %s)",
	StuckAtLeast:     "committed offsets have not moved for at least %s, since monitoring began at %s (threshold %s)",
	StuckResolved:    "committed offsets are moving again",
	CaughtUp:         "caught up, no lag",
	LagLine:          "Lag: %s",
	AgeLine:          "Newest consumed message: %s old",
	AgeUnknown:       "Newest consumed message: age unknown",
	LastKnown:        "It was alerting: %s",
	LastKnownAlert:   "%s %s (%s)",
	WhereLine:        "Instance %s · region %s · rule %s",
	WhereRules:       "Instance %s · region %s · rules %s",
	TopTopics:        "Top topics: %s",
	TopPartitions:    "Top partitions: %s",
	TopSeparator:     " · ",
	TrendLabel:       "Trend: %s",
	TrendSeparator:   " · ",
	TrendSpark:       "%s %s → %s",
	TrendConsuming:   "consuming %s",
	TrendNotConsumed: "not consuming",
	TrendProducing:   "producing %s",
	TrendOver:        "%s (last %s)",
	TrendDrains:      "drains in %s",
	TrendGrowing:     "growing by %s",

	BlindFiring:        "backlog-alert cannot see %s: %s",
	BlindMeaning:       "Until this resolves, no alert from it means nothing.",
	BlindStateMeaning:  "Until the state can be saved, no alert is sent: silence means nothing.",
	BlindResolved:      "backlog-alert can see %s again",
	BlindWas:           "It was: %s",
	BlindRegion:        "Region %s",
	BlindEveryInstance: "the instances of %s",
	BlindCauses: map[string]string{
		rules.BlindCredentials: "credentials rejected (%s): check the AccessKey or STS token and the RAM policy (deploy/ram-policy.json)",
		rules.BlindListing:     "cannot list its consumer groups: %s",
		rules.BlindInstances:   "cannot list the region's instances (GetInstanceList): %s",
		rules.BlindUnreadable:  "%d of %d consumer groups unreadable: %s",
		rules.BlindRules:       "the rules file is invalid: %s",
		rules.BlindState:       "%d notifications held back: sent, they could not be recorded and would go out again every run (%s)",
	},
}

func englishPlural(n int64, count, one, many string) string {
	if n == 1 {
		return count + " " + one
	}
	return count + " " + many
}

// ZoneLabel names t's zone by its offset from UTC: "UTC", "UTC+8",
// "UTC+5:30", "UTC-5". Abbreviations are not used: Asia/Shanghai's "CST"
// is also a US zone, "IST" is India's, Ireland's and Israel's.
func ZoneLabel(t time.Time) string {
	_, offset := t.Zone()
	if offset == 0 {
		return "UTC"
	}
	sign := "+"
	if offset < 0 {
		sign, offset = "-", -offset
	}
	h, m := offset/3600, offset%3600/60
	if m == 0 {
		return "UTC" + sign + strconv.Itoa(h)
	}
	return fmt.Sprintf("UTC%s%d:%02d", sign, h, m)
}

func sameDay(a, b time.Time) bool {
	b = b.In(a.Location())
	return a.YearDay() == b.YearDay() && a.Year() == b.Year()
}
