package rules

import (
	"cmp"
	"slices"
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
	// Broker is the sum of the broker (log end) offsets at this place, and
	// Partitions how many partitions it spans: with Committed, what the
	// lifecycle needs to measure the place's rates.
	Broker     int64
	Partitions int
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
			if g := &snap.Groups[gi]; rs[i].Matches(g.Region, g.Instance, g.Group, g.Tags) {
				places += rs[i].places(g)
			}
		}
	}
	res.Observations = make([]Observation, 0, places)
	var tops contributors
	for i := range rs {
		rule := &rs[i]
		for gi := range snap.Groups {
			g := &snap.Groups[gi]
			if !rule.Matches(g.Region, g.Instance, g.Group, g.Tags) {
				continue
			}
			res.Matched[rule.Name]++
			rule.visit(g, &tops, func(s sample) { rule.judge(s, now, &res) })
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
	broker        int64
	partitions    int
	top           []Contributor
}

// visit calls fn for each place of the group the rule's level judges; tops
// hands out the lists of a topic's largest partitions.
func (rule *Rule) visit(g *progress.Group, tops *contributors, fn func(sample)) {
	base := Alert{Rule: rule.Name, Region: g.Region, Instance: g.Instance, Group: g.Group, Level: rule.Level, Tags: g.Tags}
	switch rule.Level {
	case LevelTopic:
		for ti := range g.Topics {
			if t := &g.Topics[ti]; rule.watchesTopic(t.Topic) {
				at := base
				at.Topic = t.Topic
				c, b := offsets(t)
				fn(sample{at: at, lag: nonNegative(t.TotalDiff), lastTimestamp: t.LastTimestamp, committed: c, broker: b, partitions: len(t.Partitions), top: largestPartitions(t, tops)})
			}
		}
		return
	case LevelPartition:
		for ti := range g.Topics {
			t := &g.Topics[ti]
			if !rule.watchesTopic(t.Topic) {
				continue
			}
			// The topic's largest partitions, shared by all its partitions'
			// alerts: computed once per topic, not once per partition.
			top := largestPartitions(t, tops)
			for pi := range t.Partitions {
				p := &t.Partitions[pi]
				at := base
				// Points into the snapshot, which nobody changes: one
				// allocation fewer per partition.
				at.Topic, at.Partition = t.Topic, &p.Partition
				fn(sample{at: at, lag: p.Lag(), lastTimestamp: p.LastTimestamp, committed: p.ConsumerOffset, broker: p.BrokerOffset, partitions: 1, top: top})
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
		c, b := offsets(t)
		s.committed += c
		s.broker += b
		s.partitions += len(t.Partitions)
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
	res.Observations = append(res.Observations, Observation{At: at, Committed: s.committed, Broker: s.broker, Partitions: s.partitions})
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

// offsets sums a topic's committed (consumer) and broker offsets.
func offsets(t *progress.Topic) (committed, broker int64) {
	for pi := range t.Partitions {
		committed += t.Partitions[pi].ConsumerOffset
		broker += t.Partitions[pi].BrokerOffset
	}
	return committed, broker
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

// contributors hands out top lists of capacity TopN from a few large
// allocations: one per topic would be tens of thousands of small ones at
// partition level.
type contributors []Contributor

const contributorsChunk = 1024 * TopN

func (c *contributors) next() []Contributor {
	if cap(*c) < TopN {
		*c = make(contributors, 0, contributorsChunk)
	}
	s := (*c)[:0:TopN]
	*c = (*c)[TopN:TopN]
	return s
}

// largestPartitions is the topic's partitions with lag, largest first (the
// first listed among equals), at most TopN; nil when none has lag.
func largestPartitions(t *progress.Topic, tops *contributors) []Contributor {
	var out []Contributor
	for pi := range t.Partitions {
		p := &t.Partitions[pi]
		lag := p.Lag()
		if lag <= 0 || (len(out) == TopN && lag <= out[TopN-1].Lag) {
			continue
		}
		if out == nil {
			out = tops.next()
		}
		i := len(out)
		for i > 0 && out[i-1].Lag < lag {
			i--
		}
		if len(out) < TopN {
			out = append(out, Contributor{})
		}
		copy(out[i+1:], out[i:len(out)-1])
		out[i] = Contributor{Topic: t.Topic, Partition: &p.Partition, Lag: lag}
	}
	return out
}

func largest(cs []Contributor) []Contributor {
	slices.SortStableFunc(cs, func(a, b Contributor) int { return cmp.Compare(b.Lag, a.Lag) })
	if len(cs) > TopN {
		cs = cs[:TopN]
	}
	return cs
}

func nonNegative(n int64) int64 { return max(n, 0) }
