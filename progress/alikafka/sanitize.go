package alikafka

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/backlog-alert/backlog-alert/progress"
)

// A GetConsumerProgress reply is not trusted blindly. toGroup repairs what is
// implausible and says what it repaired in Group.Anomalies:
//
//   - an offset entry without a valid partition number (absent, negative or
//     over 2^31-1) is dropped;
//   - a partition listed twice in a topic keeps its first entry;
//   - a topic listed twice is merged: its partitions are pooled (first entry
//     of each partition wins), its TotalDiff is the largest given and its
//     LastTimestamp the newest;
//   - an absent or negative BrokerOffset or ConsumerOffset is taken as 0;
//   - a ConsumerOffset ahead of the BrokerOffset is kept (the partition's lag
//     counts as 0, as Partition.Lag says) and reported;
//   - a LastTimestamp after now + 1 day or before 2000 (typically seconds
//     where milliseconds were due) becomes -1, unknown; zero and negative
//     values already mean unknown and are kept. "Now" is the run's
//     evaluation time (Config.Now), not the wall clock;
//   - totals: a topic's TotalDiff that differs from the sum of its
//     partitions' lags, or a group's that differs from the sum of its
//     topics', is replaced by the larger of the two. Neither figure can be
//     proven right, and for an alerting tool a backlog hidden by a truncated
//     or stale figure is worse than one reported next to the anomaly that
//     explains it. A negative total becomes the sum of its parts (or 0).
//     When the service's total is the signed sum of its partitions'
//     BrokerOffset - ConsumerOffset (a consumer ahead counted negative), the
//     correction is explained by the consumer-ahead anomaly and not reported
//     again.
//
// Anomalies of one kind in one topic are counted in one line naming a few
// partitions, and at most maxAnomalies lines are kept, so a hostile reply
// with 100,000 bad partitions yields a short list. Sums saturate at
// math.MaxInt64 instead of overflowing.

const (
	// minPlausibleMillis is 2000-01-01T00:00:00Z in Unix milliseconds.
	minPlausibleMillis = 946684800000
	// maxFutureSkew is how far in the future a timestamp may be.
	maxFutureSkew = 24 * time.Hour
	// maxAnomalies bounds the lines in Group.Anomalies (one more says how
	// many were left out).
	maxAnomalies = 16
	// maxExamples is how many partitions one anomaly line names.
	maxExamples = 3
	// maxNameInAnomaly bounds a topic name quoted in an anomaly.
	maxNameInAnomaly = 80
)

type anomalyKind int

// The order of the kinds is the order of the lines for one topic.
const (
	// group level
	aGroupTimestamp anomalyKind = iota
	aGroupDiff
	// topic level
	aTopicNoName
	aTopicDup
	aTopicTimestamp
	aTopicDiff
	// partition level, counted
	aPartNoNumber
	aPartDup
	aBrokerAbsent
	aBrokerNegative
	aConsumerAbsent
	aConsumerNegative
	aConsumerAhead
	aPartTimestamp
)

type anomalyKey struct {
	topic string
	kind  anomalyKind
}

type tally struct {
	n        int   // occurrences
	parts    int   // distinct partitions among them
	last     int   // the partition counted last
	examples []int // the first few distinct partitions
	value    int64 // the first offending value, where it helps
	text     string
}

type anomalyLog map[anomalyKey]*tally

// note records a one-off anomaly with its text.
func (l anomalyLog) note(topic string, kind anomalyKind, format string, args ...any) {
	l[anomalyKey{topic, kind}] = &tally{n: 1, text: fmt.Sprintf(format, args...)}
}

// count records one more partition with an anomaly of kind.
func (l anomalyLog) count(topic string, kind anomalyKind, partition int, value int64) {
	k := anomalyKey{topic, kind}
	t := l[k]
	if t == nil {
		t = &tally{value: value}
		l[k] = t
	}
	// Partitions arrive in order, so a repeated one is the last one.
	if t.n == 0 || partition != t.last {
		t.parts++
		if len(t.examples) < maxExamples && partition >= 0 {
			t.examples = append(t.examples, partition)
		}
	}
	t.n++
	t.last = partition
}

// lines renders the log: group-level lines first, then by topic and kind,
// at most maxAnomalies of them. Nil when the log is empty.
func (l anomalyLog) lines() []string {
	if len(l) == 0 {
		return nil
	}
	keys := make([]anomalyKey, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b anomalyKey) int {
		ga, gb := a.kind < aTopicNoName, b.kind < aTopicNoName
		if ga != gb {
			if ga {
				return -1
			}
			return 1
		}
		return cmp.Or(strings.Compare(a.topic, b.topic), cmp.Compare(a.kind, b.kind))
	})
	var out []string
	for i, k := range keys {
		if i == maxAnomalies {
			out = append(out, fmt.Sprintf("… and %d more anomalies", len(keys)-maxAnomalies))
			break
		}
		t := l[k]
		prefix := "group: "
		if k.kind >= aTopicNoName {
			prefix = "topic " + quoteName(k.topic) + ": "
		}
		text := t.text
		if text == "" {
			text = describe(k.kind, t)
		}
		out = append(out, prefix+text)
	}
	return out
}

func describe(kind anomalyKind, t *tally) string {
	parts := partitionList(t.parts, t.examples)
	switch kind {
	case aPartNoNumber:
		if t.n == 1 {
			return "1 offset entry without a valid Partition number; ignored"
		}
		return fmt.Sprintf("%d offset entries without a valid Partition number; ignored", t.n)
	case aPartDup:
		return fmt.Sprintf("%s listed more than once (%d extra %s); kept the first entry of each", parts, t.n, plural(t.n, "entry", "entries"))
	case aBrokerAbsent:
		return "no BrokerOffset for " + parts + "; taken as 0"
	case aBrokerNegative:
		return fmt.Sprintf("negative BrokerOffset for %s (e.g. %d); taken as 0", parts, t.value)
	case aConsumerAbsent:
		return "no ConsumerOffset for " + parts + "; taken as 0"
	case aConsumerNegative:
		return fmt.Sprintf("negative ConsumerOffset for %s (e.g. %d); taken as 0", parts, t.value)
	case aConsumerAhead:
		return "ConsumerOffset ahead of BrokerOffset for " + parts + "; lag counted as 0"
	case aPartTimestamp:
		return fmt.Sprintf("implausible LastTimestamp for %s (e.g. %d); treated as unknown", parts, t.value)
	}
	return fmt.Sprintf("anomaly %d", kind)
}

// partitionList names n partitions through a few examples: "partition 3",
// "partitions 3, 4", "12 partitions (e.g. 3, 4, 5)".
func partitionList(n int, examples []int) string {
	ex := make([]string, len(examples))
	for i, p := range examples {
		ex[i] = strconv.Itoa(p)
	}
	switch {
	case n == 1 && len(ex) == 1:
		return "partition " + ex[0]
	case n == len(ex):
		return "partitions " + strings.Join(ex, ", ")
	}
	return fmt.Sprintf("%d partitions (e.g. %s)", n, strings.Join(ex, ", "))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// quoteName quotes a topic name from the reply, cut to a readable length.
func quoteName(s string) string {
	if len(s) > maxNameInAnomaly {
		cut := maxNameInAnomaly
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return strconv.Quote(s)
}

// plausible tells whether a LastTimestamp (Unix ms) can be believed; zero
// and negative values mean "unknown" and are fine.
type plausible struct{ max int64 }

func (p plausible) ok(ts int64) bool {
	return ts <= 0 || (ts >= minPlausibleMillis && ts <= p.max)
}

// addSat adds two non-negative numbers, saturating at math.MaxInt64.
func addSat(a, b int64) int64 {
	if b > math.MaxInt64-a {
		return math.MaxInt64
	}
	return a + b
}

// addSigned adds with saturation in both directions.
func addSigned(a, b int64) int64 {
	switch {
	case b > 0 && a > math.MaxInt64-b:
		return math.MaxInt64
	case b < 0 && a < math.MinInt64-b:
		return math.MinInt64
	}
	return a + b
}

// topicAcc gathers every entry of one topic name.
type topicAcc struct {
	name    string
	entries int
	diff    int64 // the largest TotalDiff given
	ts      int64 // the newest plausible LastTimestamp given
	offsets []offsetJSON
}

// toGroup turns a decoded reply into a progress.Group, repairing and
// reporting what is implausible (see the comment at the top of this file).
func toGroup(region, instance, name string, cp progressJSON, now time.Time) progress.Group {
	log := anomalyLog{}
	pl := plausible{max: now.Add(maxFutureSkew).UnixMilli()}

	byName := map[string]*topicAcc{}
	var accs []*topicAcc
	for _, t := range cp.TopicList {
		tn := string(t.Topic)
		a := byName[tn]
		if a == nil {
			a = &topicAcc{name: tn, diff: int64(t.TotalDiff), ts: math.MinInt64}
			byName[tn] = a
			accs = append(accs, a)
		}
		a.entries++
		a.diff = max(a.diff, int64(t.TotalDiff))
		ts := int64(t.LastTimestamp)
		if !pl.ok(ts) {
			log.note(tn, aTopicTimestamp, "implausible LastTimestamp %d; treated as unknown", ts)
			ts = -1
		}
		a.ts = max(a.ts, ts)
		a.offsets = append(a.offsets, t.OffsetList...)
	}
	slices.SortFunc(accs, func(a, b *topicAcc) int { return strings.Compare(a.name, b.name) })

	g := progress.Group{Region: region, Instance: instance, Group: name, Topics: make([]progress.Topic, 0, len(accs))}
	var serviceSum, fixedSum int64
	for _, a := range accs {
		if a.name == "" {
			log.note("", aTopicNoName, "a topic entry without a name")
		}
		if a.entries > 1 {
			log.note(a.name, aTopicDup, "listed %d times; the entries were merged", a.entries)
		}
		t := topicFrom(a, pl, log)
		serviceSum = addSigned(serviceSum, a.diff)
		fixedSum = addSat(fixedSum, t.TotalDiff)
		g.Topics = append(g.Topics, t)
	}

	g.TotalDiff = int64(cp.TotalDiff)
	switch {
	case len(g.Topics) == 0:
		if g.TotalDiff < 0 {
			log.note("", aGroupDiff, "negative TotalDiff %d; taken as 0", g.TotalDiff)
			g.TotalDiff = 0
		}
	case g.TotalDiff == fixedSum:
	case g.TotalDiff == serviceSum:
		// The group agrees with its topics as sent; their repairs, each
		// reported, carry over (a repaired total is never lower).
		g.TotalDiff = fixedSum
	default:
		use := max(g.TotalDiff, fixedSum)
		log.note("", aGroupDiff, "TotalDiff %d disagrees with the sum over its topics %d; using %d", g.TotalDiff, fixedSum, use)
		g.TotalDiff = use
	}
	g.LastTimestamp = int64(cp.LastTimestamp)
	if !pl.ok(g.LastTimestamp) {
		log.note("", aGroupTimestamp, "implausible LastTimestamp %d; treated as unknown", g.LastTimestamp)
		g.LastTimestamp = -1
	}
	g.Anomalies = log.lines()
	return g
}

// topicFrom builds one topic from all its entries.
func topicFrom(a *topicAcc, pl plausible, log anomalyLog) progress.Topic {
	// Entries without a usable partition number cannot be placed.
	offsets := make([]offsetJSON, 0, len(a.offsets))
	for _, o := range a.offsets {
		if !o.Partition.set || o.Partition.v < 0 || o.Partition.v > math.MaxInt32 {
			log.count(a.name, aPartNoNumber, -1, 0)
			continue
		}
		offsets = append(offsets, o)
	}
	// Stable: among entries for one partition the first stays first.
	slices.SortStableFunc(offsets, func(x, y offsetJSON) int { return cmp.Compare(x.Partition.v, y.Partition.v) })

	t := progress.Topic{Topic: a.name, LastTimestamp: a.ts, Partitions: make([]progress.Partition, 0, len(offsets))}
	var lagSum, signedSum int64
	ahead := 0
	for i, o := range offsets {
		pn := int(o.Partition.v)
		if i > 0 && o.Partition.v == offsets[i-1].Partition.v {
			if n := len(t.Partitions); n > 0 && t.Partitions[n-1].Partition == pn {
				log.count(a.name, aPartDup, pn, 0)
			}
			continue
		}
		p := progress.Partition{Partition: pn, LastTimestamp: int64(o.LastTimestamp)}
		p.BrokerOffset = offset(o.BrokerOffset, a.name, pn, aBrokerAbsent, aBrokerNegative, log)
		p.ConsumerOffset = offset(o.ConsumerOffset, a.name, pn, aConsumerAbsent, aConsumerNegative, log)
		if p.ConsumerOffset > p.BrokerOffset {
			log.count(a.name, aConsumerAhead, pn, 0)
			ahead++
		}
		if !pl.ok(p.LastTimestamp) {
			log.count(a.name, aPartTimestamp, pn, p.LastTimestamp)
			p.LastTimestamp = -1
		}
		lagSum = addSat(lagSum, p.Lag())
		signedSum = addSigned(signedSum, p.BrokerOffset-p.ConsumerOffset) // both >= 0: no overflow
		t.Partitions = append(t.Partitions, p)
	}
	if t.LastTimestamp == math.MinInt64 { // cannot happen: every topic has an entry
		t.LastTimestamp = -1
	}

	d := a.diff
	switch {
	case len(t.Partitions) == 0:
		if d < 0 {
			log.note(a.name, aTopicDiff, "negative TotalDiff %d; taken as 0", d)
			d = 0
		}
	case d == lagSum:
	case ahead > 0 && d == signedSum:
		// The service subtracted the consumers ahead; reported above.
		d = lagSum
	default:
		use := max(d, lagSum)
		log.note(a.name, aTopicDiff, "TotalDiff %d disagrees with the sum of its partitions' lag %d; using %d", d, lagSum, use)
		d = use
	}
	t.TotalDiff = d
	return t
}

// offset reads one offset: absent or negative is taken as 0, and reported.
func offset(o optInt, topic string, partition int, absent, negative anomalyKind, log anomalyLog) int64 {
	switch {
	case !o.set:
		log.count(topic, absent, partition, 0)
		return 0
	case o.v < 0:
		log.count(topic, negative, partition, o.v)
		return 0
	}
	return o.v
}
