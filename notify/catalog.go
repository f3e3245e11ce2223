package notify

import (
	"fmt"
	"time"

	"github.com/backlog-alert/backlog-alert/rules"
)

// Catalog holds every word a message says, in one language. Integrations
// never write words of their own: they lay out what Render words with a
// catalogue, so a channel's language is a table, not branches. A test
// checks that every catalogue fills every field.
//
// Format strings take their arguments in the order documented on each
// field; a translation may reorder them with explicit indexes (%[2]s).
type Catalog struct {
	Language string

	// Numbers and time.
	Count     func(n int64) string                 // a message count: "12,345", "1.2M" / "1.2万"
	Messages  func(n int64) string                 // with its unit: "12,345 messages"
	Duration  func(seconds int64) string           // "3h 5m"
	Rate      func(perMin float64) string          // "1,200/min"
	DrainTime func(minutes float64) string         // "~25 min"
	Stamp     func(t time.Time) string             // date, time and zone: "2026-12-03 15:09 UTC"
	Clock     func(t, now time.Time) string        // a time near now: "15:09 UTC", with the date when not today
	Subject   func(a rules.Alert) string           // "group / topic [p3]"
	Partition func(p int) string                   // "p3"
	Severity  map[rules.Severity]string            // "CRITICAL"
	Condition map[rules.Condition]string           // "Backlog"
	Gone      map[string]string                    // a gone group's reason, by lifecycle's code
	Plural    func(n int, one, many string) string // picks the form for n ("%d groups")

	// The headline and the line under it.
	HeadBlindOne   string                // instance
	HeadBlindState string                // state location
	HeadBlindMany  string                // count
	HeadBehind     [2]string             // count: one group, many groups
	HeadKinds      map[rules.Kind]string // count: "%d escalated"
	HeadPartly     string                // count
	HeadGone       [2]string             // count: one group, many groups
	HeadCritical   string                // count: " (%d critical)"
	ListSeparator  string                // between headline parts
	About          string                // stamp: "evaluated %s"
	More           string                // count: "…and %d more"
	DigestNote     string                // count of sections, each in the thread
	RunbookLink    string                // the runbook link's text
	OwnerLine      string                // owner
	AnnotationLine string                // key, value

	// A section's title, by its kind.
	TitleFiring     string // severity
	TitleEscalated  string // severity
	TitleDowngraded string // severity
	TitleReminder   string // severity
	TitleResolved   string
	TitlePartly     string // severity still firing
	TitleGone       string

	// A condition's line: "<Condition> <status>: <statement>".
	ConditionLine    string // condition, status, statement
	StatusFiring     string // severity
	StatusEscalated  string // severity now, severity before
	StatusDowngraded string // severity now, severity before
	StatusReminder   string // severity, how long it has fired
	StatusStill      string // severity
	StatusResolved   string
	StatusResolvedIn string // how long it fired

	BacklogNow       string // messages, threshold
	BacklogResolved  string // messages, threshold
	StaleNow         string // age, threshold
	StaleResolved    string // age, threshold
	StuckNow         string // duration, threshold
	StuckAtLeast     string // duration, when monitoring began, threshold
	StuckResolved    string
	CaughtUp         string
	LagLine          string // messages
	AgeLine          string // age
	AgeUnknown       string
	LastKnown        string // the alerts a gone group had: list
	LastKnownAlert   string // severity, condition, value
	WhereLine        string // instance, region, rule
	WhereRules       string // rules (a gone group, several rules)
	TopTopics        string // list
	TopPartitions    string // list
	TopSeparator     string
	TrendLabel       string // parts
	TrendSeparator   string
	TrendSpark       string // sparkline, first, last
	TrendConsuming   string // rate
	TrendNotConsumed string
	TrendProducing   string // rate
	TrendOver        string // the rates, the span they were measured over
	TrendDrains      string // drain time
	TrendGrowing     string // rate

	// The monitor's own alerts.
	BlindFiring  string // instance, reason
	BlindMeaning string
	// BlindStateMeaning replaces BlindMeaning when the state cannot be saved.
	BlindStateMeaning string
	BlindResolved     string // instance
	BlindWas          string // reason
	BlindRegion       string // region
	// BlindEveryInstance names what a rule watching every instance of a
	// region cannot see when the region's instances cannot be listed.
	BlindEveryInstance string // region
	// Why it cannot see, by rules.BlindCause kind; the arguments are those
	// of English's, in this order: code / error / unreadable, groups, error /
	// error / held, error.
	BlindCauses map[string]string
}

// BlindReason words why the monitor cannot see.
func (c *Catalog) BlindReason(b rules.BlindCause) string {
	switch b.Kind {
	case rules.BlindCredentials:
		return fmt.Sprintf(c.BlindCauses[b.Kind], b.Code)
	case rules.BlindUnreadable:
		return fmt.Sprintf(c.BlindCauses[b.Kind], b.Unreadable, b.Groups, b.Error)
	case rules.BlindListing, rules.BlindInstances, rules.BlindRules:
		return fmt.Sprintf(c.BlindCauses[b.Kind], b.Error)
	case rules.BlindState:
		return fmt.Sprintf(c.BlindCauses[b.Kind], b.Held, b.Error)
	}
	return b.Error
}

// CatalogFor returns the catalogue of a language; English for an unknown
// or empty one.
func CatalogFor(language string) *Catalog {
	if c, ok := catalogs[language]; ok {
		return c
	}
	return English
}

// catalogs are every language a channel may choose.
var catalogs = map[string]*Catalog{
	rules.LanguageEnglish: English,
	rules.LanguageChinese: Chinese,
}
