package rules

import (
	"strconv"
	"time"
)

// Condition names what an alert is about.
type Condition string

const (
	// Backlog: the lag at the rule's level reached a threshold (messages).
	Backlog Condition = "backlog"
	// Stale: there is lag and the newest consumed message was produced at
	// least a threshold ago (seconds).
	Stale Condition = "stale"
	// Stuck: there is lag and the committed offsets have not moved for at
	// least a threshold, across runs (seconds).
	Stuck Condition = "stuck"
	// Blind: the monitor itself cannot see an instance (Detail says why).
	Blind Condition = "blind"
)

// Severity of an alert; critical outranks warning.
type Severity string

const (
	Warning  Severity = "warning"
	Critical Severity = "critical"
)

// Level is where a rule's thresholds apply.
type Level string

const (
	LevelGroup     Level = "group"
	LevelTopic     Level = "topic"
	LevelPartition Level = "partition"
)

// Alert is one condition that holds for one (rule, instance, group, topic,
// partition) in one run. It carries what a reader needs to act on it; it
// carries no secret.
type Alert struct {
	Rule     string `json:"rule"`
	Region   string `json:"region"`
	Instance string `json:"instance"`
	Group    string `json:"group"`
	// Topic is empty at group level.
	Topic string `json:"topic,omitempty"`
	// Partition is set at partition level only.
	Partition *int      `json:"partition,omitempty"`
	Level     Level     `json:"level"`
	Condition Condition `json:"condition"`
	Severity  Severity  `json:"severity"`
	// Value and Threshold are messages for backlog, seconds for stale.
	Value     int64 `json:"value"`
	Threshold int64 `json:"threshold"`
	// Lag is the backlog at the alert's level, in messages, whatever the condition.
	Lag int64 `json:"lag"`
	// AgeSeconds is how long ago the newest consumed message was produced;
	// AgeKnown is false when the service reported no timestamp.
	AgeSeconds int64 `json:"age_seconds"`
	AgeKnown   bool  `json:"age_known"`
	// Top lists the largest contributors to the lag, largest first, at most
	// TopN: the topics of a group, the partitions of a topic, and for a
	// partition the largest partitions of its topic.
	Top []Contributor `json:"top,omitempty"`
	// Trend is the group's recent history, when state is kept between runs.
	Trend *Trend `json:"trend,omitempty"`
	// Detail explains a blind alert (why the monitor cannot see, in
	// English) or a missing one (GoneDeleted, GoneUnmatched).
	Detail string `json:"detail,omitempty"`
	// Cause is a blind alert's reason in parts, for catalogues to word.
	Cause *BlindCause `json:"cause,omitempty"`
	// Since is, for a stuck alert, when the committed offsets last moved.
	// AtLeast means they were already not moving when monitoring of this
	// place began at Since: they may have stopped long before.
	Since   time.Time `json:"since,omitzero"`
	AtLeast bool      `json:"at_least,omitempty"`
	// Annotations are the rule's annotations (summary, owner, runbook_url
	// and free keys) rendered for this alert's place.
	Annotations map[string]string `json:"annotations,omitempty"`
	// Tags are the group's tags, when the run listed its instance: what
	// routes pick the alert's channels by.
	Tags map[string]string `json:"tags,omitempty"`
}

// TopN bounds Alert.Top.
const TopN = 5

// Contributor is a topic or partition and its lag.
type Contributor struct {
	Topic     string `json:"topic"`
	Partition *int   `json:"partition,omitempty"`
	Lag       int64  `json:"lag"`
}

// Key identifies an alert across runs: one per (rule, instance, group, topic,
// partition, condition).
func (a Alert) Key() string {
	p := ""
	if a.Partition != nil {
		p = strconv.Itoa(*a.Partition)
	}
	return a.Rule + "\x00" + a.Instance + "\x00" + a.Group + "\x00" + a.Topic + "\x00" + p + "\x00" + string(a.Condition)
}

// Where names the alert's subject for people: "group", "group / topic" or
// "group / topic [p3]".
func (a Alert) Where() string {
	s := a.Group
	if a.Topic != "" {
		s += " / " + a.Topic
	}
	if a.Partition != nil {
		s += " [p" + strconv.Itoa(*a.Partition) + "]"
	}
	return s
}

// Trend is how the backlog at an alert's level (its group, topic or
// partition) moved over the recent runs. It is filled in from the state kept
// between runs; nil when there is no history yet.
type Trend struct {
	// Backlog is the lag at each recent run, oldest first, ending with this
	// run.
	Backlog []int64 `json:"backlog"`
	// RatesKnown is false until two runs are far enough apart to measure
	// rates, or when offsets went backwards (a reset).
	RatesKnown bool `json:"rates_known"`
	// ConsumePerMin and ProducePerMin are messages per minute, from the
	// movement of the summed consumer and broker offsets over the most
	// recent interval (RateSeconds long).
	ConsumePerMin float64 `json:"consume_per_min"`
	ProducePerMin float64 `json:"produce_per_min"`
	RateSeconds   int64   `json:"rate_seconds,omitempty"`
	// DrainMinutes estimates when the backlog is gone at the current rates;
	// set only while it is shrinking.
	DrainMinutes float64 `json:"drain_minutes,omitempty"`
	// GrowthPerMin is set while the backlog is growing.
	GrowthPerMin float64 `json:"growth_per_min,omitempty"`
}

// Kind is why a notification is sent: alerts are notified only on change.
type Kind string

const (
	KindFiring     Kind = "firing"     // newly firing
	KindEscalated  Kind = "escalated"  // warning → critical
	KindDowngraded Kind = "downgraded" // critical → warning
	KindReminder   Kind = "reminder"   // still firing after `repeat`
	KindResolved   Kind = "resolved"   // the condition no longer holds
	KindMissing    Kind = "missing"    // the group disappeared while alerting
)

// BlindCause is why the monitor cannot see an instance (or its rules file).
type BlindCause struct {
	Kind string `json:"kind"` // one of the Blind* kinds below
	// Code is the service's error code when it refused the credentials.
	Code string `json:"code,omitempty"`
	// Unreadable of Groups consumer groups could not be read.
	Unreadable int `json:"unreadable,omitempty"`
	Groups     int `json:"groups,omitempty"`
	// Held notifications were held back because the state could not be saved.
	Held int `json:"held,omitempty"`
	// Error is the first error as the service or the rules loader said it.
	Error string `json:"error,omitempty"`
}

// Kinds of BlindCause.
const (
	BlindCredentials = "credentials" // the service refused the credentials
	BlindListing     = "listing"     // the instance's groups could not be listed
	BlindInstances   = "instances"   // the region's instances could not be listed (Instance "*")
	BlindUnreadable  = "unreadable"  // more than half of its groups could not be read
	BlindRules       = "rules"       // the rules file is invalid
	BlindState       = "state"       // the state cannot be saved: what is due is held back
)

// Why a group is gone, in the Detail of a missing alert: the words are the
// catalogues' (notify), the decision the lifecycle's.
const (
	// GoneDeleted: a rule still selects the group, but the service no longer
	// knows it (BIZ_SUBSCRIPTION_NOT_FOUND, or absent from the listing).
	GoneDeleted = "deleted"
	// GoneUnmatched: no rule selects the group any more.
	GoneUnmatched = "unmatched"
)
