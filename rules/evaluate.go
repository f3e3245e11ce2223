package rules

import (
	"sort"
	"time"

	"github.com/backlog-alert/backlog-alert/progress"
)

// Result is what one evaluation found.
type Result struct {
	// Alerts in rule order, then instance, group, topic, partition, condition.
	Alerts []Alert
	// UnknownAge lists the places that have lag and a stale threshold but no
	// timestamp from the service, so staleness could not be judged there.
	UnknownAge []Target
	// Matched counts, per rule name, the groups of the snapshot it watched.
	Matched map[string]int
	// Observations are every place every rule judged, with its lag and
	// committed offset, whether or not an alert fired there: what the
	// lifecycle needs for hysteresis and stuck consumers.
	Observations []Observation
}

// Observation is one place a rule judged in this run.
type Observation struct {
	// At identifies the place (rule, instance, group, topic, partition,
	// level) and carries its lag, age and top contributors; Condition,
	// Severity, Value and Threshold are empty.
	At Alert
	// Committed is the sum of the consumer offsets at this place: when it
	// does not move while there is lag, the consumer is stuck.
	Committed int64
}

// Target names one place a rule judged: a group, a topic of it, or a
// partition of a topic.
type Target struct {
	Rule      string `json:"rule"`
	Instance  string `json:"instance"`
	Group     string `json:"group"`
	Topic     string `json:"topic,omitempty"`
	Partition *int   `json:"partition,omitempty"`
}

// Evaluate judges every rule against the snapshot as of now. It is a pure
// function: the same input gives the same output.
func Evaluate(rs []Rule, snap progress.Snapshot, now time.Time) Result {
	res := Result{Matched: map[string]int{}}
	// Count the places first: at partition level a large snapshot has
	// hundreds of thousands, and growing the slice would copy them often.
	places := 0
	for i := range rs {
		for gi := range snap.Groups {
			if g := &snap.Groups[gi]; rs[i].Matches(g.Region, g.Instance, g.Group) {
				places += rs[i].places(g)
			}
		}
	}
	res.Observations = make([]Observation, 0, places)
	for i := range rs {
		rule := &rs[i]
		for gi := range snap.Groups {
			g := &snap.Groups[gi]
			if !rule.Matches(g.Region, g.Instance, g.Group) {
				continue
			}
			res.Matched[rule.Name]++
			rule.visit(g, func(s sample) { rule.judge(s, now, &res) })
		}
	}
	return res
}

// places counts the places the rule judges in a group.
func (rule *Rule) places(g *progress.Group) int {
	switch rule.Level {
	case LevelTopic:
		return len(g.Topics)
	case LevelPartition:
		n := 0
		for _, t := range g.Topics {
			n += len(t.Partitions)
		}
		return n
	}
	return 1
}

// sample is the lag and timestamp at one place of a rule's level.
type sample struct {
	at            Alert // identity fields only
	lag           int64
	lastTimestamp int64
	committed     int64
	top           []Contributor
}

// visit calls fn for each place of the group the rule's level judges.
func (rule *Rule) visit(g *progress.Group, fn func(sample)) {
	base := Alert{Rule: rule.Name, Region: g.Region, Instance: g.Instance, Group: g.Group, Level: rule.Level}
	switch rule.Level {
	case LevelTopic:
		for ti := range g.Topics {
			if t := &g.Topics[ti]; rule.watchesTopic(t.Topic) {
				at := base
				at.Topic = t.Topic
				fn(sample{at: at, lag: nonNegative(t.TotalDiff), lastTimestamp: t.LastTimestamp, committed: committed(t), top: topPartitions(t)})
			}
		}
		return
	case LevelPartition:
		for ti := range g.Topics {
			t := &g.Topics[ti]
			if !rule.watchesTopic(t.Topic) {
				continue
			}
			for pi := range t.Partitions {
				p := &t.Partitions[pi]
				at := base
				// Points into the snapshot, which nobody changes: one
				// allocation fewer per partition.
				at.Topic, at.Partition = t.Topic, &p.Partition
				fn(sample{at: at, lag: p.Lag(), lastTimestamp: p.LastTimestamp, committed: p.ConsumerOffset})
			}
		}
		return
	}
	topics := make([]*progress.Topic, 0, len(g.Topics))
	for ti := range g.Topics {
		if t := &g.Topics[ti]; rule.watchesTopic(t.Topic) {
			topics = append(topics, t)
		}
	}
	s := sample{at: base, lag: nonNegative(g.TotalDiff), lastTimestamp: g.LastTimestamp, top: topTopics(topics)}
	for _, t := range topics {
		s.committed += committed(t)
	}
	if len(rule.Topics) > 0 {
		// A topic filter narrows the group to the chosen topics: their
		// backlog, and the newest timestamp among them.
		s.lag, s.lastTimestamp = 0, 0
		for _, t := range topics {
			s.lag += nonNegative(t.TotalDiff)
			s.lastTimestamp = max(s.lastTimestamp, t.LastTimestamp)
		}
	}
	fn(s)
}

func (rule *Rule) judge(s sample, now time.Time, res *Result) {
	age, ageKnown := time.Duration(0), s.lastTimestamp > 0
	if ageKnown {
		age = max(now.Sub(time.UnixMilli(s.lastTimestamp)), 0)
	}
	at := s.at
	at.Lag, at.Top = s.lag, s.top
	at.AgeKnown, at.AgeSeconds = ageKnown, int64(age/time.Second)
	res.Observations = append(res.Observations, Observation{At: at, Committed: s.committed})
	fill := func(c Condition, sev Severity, value, threshold int64) {
		a := at
		a.Condition, a.Severity, a.Value, a.Threshold = c, sev, value, threshold
		res.Alerts = append(res.Alerts, a)
	}
	if b := rule.Backlog; b != nil {
		switch {
		case b.Critical > 0 && s.lag >= b.Critical:
			fill(Backlog, Critical, s.lag, b.Critical)
		case b.Warning > 0 && s.lag >= b.Warning:
			fill(Backlog, Warning, s.lag, b.Warning)
		}
	}
	// A caught-up consumer is never stale, however old its last message:
	// an idle topic must not page anyone.
	if st := rule.Stale; st != nil && s.lag > 0 {
		if !ageKnown {
			res.UnknownAge = append(res.UnknownAge, Target{Rule: s.at.Rule, Instance: s.at.Instance, Group: s.at.Group, Topic: s.at.Topic, Partition: s.at.Partition})
			return
		}
		switch {
		case st.Critical > 0 && age >= st.Critical:
			fill(Stale, Critical, int64(age/time.Second), int64(st.Critical/time.Second))
		case st.Warning > 0 && age >= st.Warning:
			fill(Stale, Warning, int64(age/time.Second), int64(st.Warning/time.Second))
		}
	}
}

func committed(t *progress.Topic) int64 {
	var sum int64
	for _, p := range t.Partitions {
		sum += p.ConsumerOffset
	}
	return sum
}

func topTopics(topics []*progress.Topic) []Contributor {
	var out []Contributor
	for _, t := range topics {
		if lag := nonNegative(t.TotalDiff); lag > 0 {
			out = append(out, Contributor{Topic: t.Topic, Lag: lag})
		}
	}
	return largest(out)
}

func topPartitions(t *progress.Topic) []Contributor {
	var out []Contributor
	for pi := range t.Partitions {
		if p := &t.Partitions[pi]; p.Lag() > 0 {
			out = append(out, Contributor{Topic: t.Topic, Partition: &p.Partition, Lag: p.Lag()})
		}
	}
	return largest(out)
}

func largest(cs []Contributor) []Contributor {
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].Lag > cs[j].Lag })
	if len(cs) > TopN {
		cs = cs[:TopN]
	}
	return cs
}

func nonNegative(n int64) int64 { return max(n, 0) }
