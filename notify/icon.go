package notify

import "github.com/backlog-alert/backlog-alert/rules"

// Icon names the mark an item or a headline carries. Which mark is decided
// here, once; each integration only draws it (Slack shortcodes, DingTalk
// Unicode), so the two cannot drift apart.
type Icon string

const (
	IconCritical   Icon = "critical"   // a firing critical alert
	IconWarning    Icon = "warning"    // a firing warning
	IconOther      Icon = "other"      // a firing alert of no known severity
	IconEscalated  Icon = "escalated"  // warning → critical
	IconDowngraded Icon = "downgraded" // critical → warning
	IconReminder   Icon = "reminder"   // still firing
	IconResolved   Icon = "resolved"   // an item, or a headline of only resolutions
	IconGone       Icon = "gone"       // a group gone, or a headline of only those
	IconAlarm      Icon = "alarm"      // a headline with something critical paging
	IconCaution    Icon = "caution"    // a headline with warnings firing
)

// Icons lists every Icon: each integration must draw them all.
var Icons = []Icon{IconCritical, IconWarning, IconOther, IconEscalated, IconDowngraded, IconReminder, IconResolved, IconGone, IconAlarm, IconCaution}

// ItemIcon marks an item by its kind; a firing item shows its severity.
func ItemIcon(k rules.Kind, s rules.Severity) Icon {
	switch k {
	case rules.KindEscalated:
		return IconEscalated
	case rules.KindDowngraded:
		return IconDowngraded
	case rules.KindReminder:
		return IconReminder
	case rules.KindResolved:
		return IconResolved
	case rules.KindMissing:
		return IconGone
	}
	switch s {
	case rules.Critical:
		return IconCritical
	case rules.Warning:
		return IconWarning
	}
	return IconOther
}

// HeadlineIcon starts a message's headline, by the message's tone.
func HeadlineIcon(t Tone) Icon {
	switch t {
	case ToneCritical:
		return IconAlarm
	case ToneWarning:
		return IconCaution
	case ToneResolved:
		return IconResolved
	}
	return IconGone
}
