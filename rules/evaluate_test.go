package rules

import (
	"fmt"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/progress"
)

var now = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) int64 { return now.Add(-d).UnixMilli() }

// group builds a group whose totals are consistent with its partitions.
func group(name string, topics ...progress.Topic) progress.Group {
	g := progress.Group{Region: "cn-hangzhou", Instance: "i", Group: name, LastTimestamp: -1}
	for _, t := range topics {
		g.TotalDiff += t.TotalDiff
		g.LastTimestamp = max(g.LastTimestamp, t.LastTimestamp)
		g.Topics = append(g.Topics, t)
	}
	return g
}

// topic builds a topic from partition lags, all with the same timestamp.
func topic(name string, ts int64, lags ...int64) progress.Topic {
	t := progress.Topic{Topic: name, LastTimestamp: ts}
	for i, lag := range lags {
		t.Partitions = append(t.Partitions, progress.Partition{Partition: i, BrokerOffset: 1000 + lag, ConsumerOffset: 1000, LastTimestamp: ts})
		t.TotalDiff += lag
	}
	return t
}

func TestEvaluate(t *testing.T) {
	backlog := &BacklogThresholds{Warning: 100, Critical: 1000}
	stale := &StaleThresholds{Warning: 10 * time.Minute, Critical: 30 * time.Minute}
	type want struct {
		where     string
		cond      Condition
		sev       Severity
		value     int64
		threshold int64
	}
	tests := []struct {
		name    string
		rule    Rule
		groups  []progress.Group
		want    []want
		unknown int
	}{
		{"healthy group", Rule{Backlog: backlog, Stale: stale},
			[]progress.Group{group("g", topic("t", ago(time.Minute), 5, 5))}, nil, 0},
		{"backlog warning", Rule{Backlog: backlog},
			[]progress.Group{group("g", topic("t", ago(time.Minute), 60, 60))},
			[]want{{"g", Backlog, Warning, 120, 100}}, 0},
		{"critical wins over warning", Rule{Backlog: backlog},
			[]progress.Group{group("g", topic("t", ago(time.Minute), 600, 600))},
			[]want{{"g", Backlog, Critical, 1200, 1000}}, 0},
		{"threshold is inclusive", Rule{Backlog: backlog},
			[]progress.Group{group("g", topic("t", ago(time.Minute), 100))},
			[]want{{"g", Backlog, Warning, 100, 100}}, 0},
		{"stopped consumer is stale", Rule{Stale: stale},
			[]progress.Group{group("g", topic("t", ago(45*time.Minute), 3))},
			[]want{{"g", Stale, Critical, 45 * 60, 30 * 60}}, 0},
		{"stale warning", Rule{Stale: stale},
			[]progress.Group{group("g", topic("t", ago(12*time.Minute), 3))},
			[]want{{"g", Stale, Warning, 12 * 60, 10 * 60}}, 0},
		{"idle caught-up group with old timestamp is not stale", Rule{Stale: stale, Backlog: backlog},
			[]progress.Group{group("g", topic("t", ago(48*time.Hour), 0, 0))}, nil, 0},
		{"unknown timestamp is never stale and is reported", Rule{Stale: stale},
			[]progress.Group{group("g", topic("t", -1, 50))}, nil, 1},
		{"unknown timestamp with zero lag is not reported", Rule{Stale: stale},
			[]progress.Group{group("g", topic("t", -1, 0))}, nil, 0},
		{"timestamp in the future counts as fresh", Rule{Stale: stale},
			[]progress.Group{group("g", topic("t", now.Add(time.Hour).UnixMilli(), 50))}, nil, 0},
		{"backlog and stale together", Rule{Backlog: backlog, Stale: stale},
			[]progress.Group{group("g", topic("t", ago(time.Hour), 2000))},
			[]want{{"g", Backlog, Critical, 2000, 1000}, {"g", Stale, Critical, 3600, 1800}}, 0},
		{"topic level judges each topic", Rule{Level: LevelTopic, Backlog: backlog, Stale: stale},
			[]progress.Group{group("g", topic("a", ago(time.Minute), 150), topic("b", ago(20*time.Minute), 10), topic("c", -1, 5))},
			[]want{{"g / a", Backlog, Warning, 150, 100}, {"g / b", Stale, Warning, 20 * 60, 10 * 60}}, 1},
		{"partition level judges each partition", Rule{Level: LevelPartition, Backlog: backlog},
			[]progress.Group{group("g", topic("t", ago(time.Minute), 10, 1500, 200))},
			[]want{{"g / t [p1]", Backlog, Critical, 1500, 1000}, {"g / t [p2]", Backlog, Warning, 200, 100}}, 0},
		{"consumer ahead of broker is no lag", Rule{Level: LevelPartition, Backlog: backlog, Stale: stale},
			[]progress.Group{{Region: "cn-hangzhou", Instance: "i", Group: "g", Topics: []progress.Topic{{Topic: "t", Partitions: []progress.Partition{{BrokerOffset: 5, ConsumerOffset: 9000, LastTimestamp: ago(time.Hour)}}}}}}, nil, 0},
		{"topic filter narrows the group", Rule{Topics: []string{"orders*"}, Backlog: backlog},
			[]progress.Group{group("g", topic("orders", ago(time.Minute), 150), topic("audit", ago(time.Minute), 5000))},
			[]want{{"g", Backlog, Warning, 150, 100}}, 0},
		{"topic filter stale uses newest filtered timestamp", Rule{Topics: []string{"orders"}, Stale: stale},
			[]progress.Group{group("g", topic("orders", ago(40*time.Minute), 5), topic("audit", ago(time.Minute), 5))},
			[]want{{"g", Stale, Critical, 40 * 60, 30 * 60}}, 0},
		{"groups of other rules' instances are ignored", Rule{Backlog: backlog},
			[]progress.Group{func() progress.Group { g := group("g", topic("t", 0, 5000)); g.Instance = "other"; return g }()}, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.rule.Name, tc.rule.Instances, tc.rule.Region, tc.rule.Groups = "r", []string{"i"}, "cn-hangzhou", []string{"*"}
			if tc.rule.Level == "" {
				tc.rule.Level = LevelGroup
			}
			res := Evaluate([]Rule{tc.rule}, progress.Snapshot{Groups: tc.groups}, now)
			if len(res.Alerts) != len(tc.want) {
				t.Fatalf("got %d alerts %+v, want %d", len(res.Alerts), res.Alerts, len(tc.want))
			}
			for i, w := range tc.want {
				a := res.Alerts[i]
				if a.Where() != w.where || a.Condition != w.cond || a.Severity != w.sev || a.Value != w.value || a.Threshold != w.threshold {
					t.Errorf("alert %d = %s %s %s %d/%d; want %+v", i, a.Where(), a.Condition, a.Severity, a.Value, a.Threshold, w)
				}
			}
			if len(res.UnknownAge) != tc.unknown {
				t.Errorf("unknown ages = %v, want %d", res.UnknownAge, tc.unknown)
			}
		})
	}
}

func TestEvaluateContext(t *testing.T) {
	rule := Rule{Name: "r", Instances: []string{"i"}, Region: "cn-hangzhou", Groups: []string{"g"}, Level: LevelGroup, Backlog: &BacklogThresholds{Warning: 1}}
	topics := []progress.Topic{topic("small", ago(2*time.Minute), 1)}
	for i := range 7 {
		topics = append(topics, topic(string(rune('a'+i)), ago(time.Minute), int64(100*(i+1))))
	}
	res := Evaluate([]Rule{rule}, progress.Snapshot{Groups: []progress.Group{group("g", topics...)}}, now)
	if len(res.Alerts) != 1 {
		t.Fatalf("alerts: %+v", res.Alerts)
	}
	a := res.Alerts[0]
	if len(a.Top) != TopN || a.Top[0].Topic != "g" || a.Top[0].Lag != 700 || a.Top[TopN-1].Lag != 300 {
		t.Errorf("top = %+v", a.Top)
	}
	if !a.AgeKnown || a.AgeSeconds != 60 || a.Lag != 2801 {
		t.Errorf("age %v/%d lag %d", a.AgeKnown, a.AgeSeconds, a.Lag)
	}
	if res.Matched["r"] != 1 {
		t.Errorf("matched = %v", res.Matched)
	}
}

func TestEvaluateIsPure(t *testing.T) {
	rules := []Rule{{Name: "r", Instances: []string{"i"}, Region: "cn-hangzhou", Groups: []string{"*"}, Level: LevelPartition, Backlog: &BacklogThresholds{Warning: 1}}}
	snap := progress.Snapshot{Groups: []progress.Group{group("g", topic("t", ago(time.Minute), 3, 4, 5))}}
	a, b := Evaluate(rules, snap, now), Evaluate(rules, snap, now)
	if len(a.Alerts) != 3 || len(b.Alerts) != 3 {
		t.Fatalf("alerts %d %d", len(a.Alerts), len(b.Alerts))
	}
	for i := range a.Alerts {
		if a.Alerts[i].Key() != b.Alerts[i].Key() || a.Alerts[i].Value != b.Alerts[i].Value {
			t.Errorf("run differs at %d", i)
		}
	}
}

// Observations carry what a place's history needs (its summed offsets and
// partition count) at every level, and partition-level alerts carry their
// topic's largest partitions, themselves included.
func TestEvaluateObservationsAndPartitionTop(t *testing.T) {
	g := group("g", topic("a", ago(time.Minute), 10, 0, 700, 30, 50, 60, 5), topic("b", ago(time.Minute), 400))
	// topic() puts every consumer at 1000 and every broker at 1000 + lag.
	tests := []struct {
		level      Level
		where      string
		committed  int64
		broker     int64
		partitions int
	}{
		{LevelGroup, "g", 8000, 8000 + 1255, 8},
		{LevelTopic, "g / a", 7000, 7000 + 855, 7},
		{LevelTopic, "g / b", 1000, 1400, 1},
		{LevelPartition, "g / a [p2]", 1000, 1700, 1},
		{LevelPartition, "g / b [p0]", 1000, 1400, 1},
	}
	for _, tc := range tests {
		rule := Rule{Name: "r", Instances: []string{"i"}, Region: "cn-hangzhou", Groups: []string{"*"}, Level: tc.level, Backlog: &BacklogThresholds{Warning: 1}}
		res := Evaluate([]Rule{rule}, progress.Snapshot{Groups: []progress.Group{g}}, now)
		found := false
		for _, o := range res.Observations {
			if o.At.Where() == tc.where {
				found = true
				if o.Committed != tc.committed || o.Broker != tc.broker || o.Partitions != tc.partitions {
					t.Errorf("%s: committed %d broker %d partitions %d, want %d %d %d", tc.where, o.Committed, o.Broker, o.Partitions, tc.committed, tc.broker, tc.partitions)
				}
			}
		}
		if !found {
			t.Errorf("no observation at %s", tc.where)
		}
	}

	rule := Rule{Name: "r", Instances: []string{"i"}, Region: "cn-hangzhou", Groups: []string{"*"}, Level: LevelPartition, Backlog: &BacklogThresholds{Warning: 20}}
	res := Evaluate([]Rule{rule}, progress.Snapshot{Groups: []progress.Group{g}}, now)
	tops := map[string]string{}
	for _, a := range res.Alerts {
		s := ""
		for _, c := range a.Top {
			s += fmt.Sprintf("%s/p%d=%d ", c.Topic, *c.Partition, c.Lag)
		}
		tops[a.Where()] = s
	}
	// Largest first, at most TopN, the alert's own partition among them
	// when it is large enough; b's only partition lists itself.
	wantA := "a/p2=700 a/p5=60 a/p4=50 a/p3=30 a/p0=10 "
	for _, where := range []string{"g / a [p2]", "g / a [p3]", "g / a [p4]", "g / a [p5]"} {
		if tops[where] != wantA {
			t.Errorf("%s: top %q, want %q", where, tops[where], wantA)
		}
	}
	if tops["g / b [p0]"] != "b/p0=400 " || len(tops) != 5 {
		t.Errorf("tops %v", tops)
	}
}

// The largest partitions are in order of lag, the first listed first among
// equals, as a stable sort would have them.
func TestLargestPartitions(t *testing.T) {
	tests := []struct {
		lags []int64
		want string
	}{
		{nil, ""},
		{[]int64{0, 0}, ""},
		{[]int64{3}, "p0=3 "},
		{[]int64{5, 5, 9, 1, 5, 9, 5}, "p2=9 p5=9 p0=5 p1=5 p4=5 "},
		{[]int64{1, 2, 3, 4, 5, 6, 7}, "p6=7 p5=6 p4=5 p3=4 p2=3 "},
		{[]int64{7, 0, 6, 5, 4, 3, 2, 8}, "p7=8 p0=7 p2=6 p3=5 p4=4 "},
	}
	var tops contributors
	for _, tc := range tests {
		tp := topic("t", -1, tc.lags...)
		got := ""
		for _, c := range largestPartitions(&tp, &tops) {
			got += fmt.Sprintf("p%d=%d ", *c.Partition, c.Lag)
		}
		if got != tc.want {
			t.Errorf("%v: %q, want %q", tc.lags, got, tc.want)
		}
	}
}
