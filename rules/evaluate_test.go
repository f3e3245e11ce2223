package rules

import (
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
			tc.rule.Name, tc.rule.Instance, tc.rule.Region, tc.rule.Groups = "r", "i", "cn-hangzhou", []string{"*"}
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
	rule := Rule{Name: "r", Instance: "i", Region: "cn-hangzhou", Groups: []string{"g"}, Level: LevelGroup, Backlog: &BacklogThresholds{Warning: 1}}
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
	rules := []Rule{{Name: "r", Instance: "i", Region: "cn-hangzhou", Groups: []string{"*"}, Level: LevelPartition, Backlog: &BacklogThresholds{Warning: 1}}}
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
