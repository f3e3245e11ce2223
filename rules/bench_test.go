package rules

import (
	"fmt"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/progress"
)

// BigSnapshot is n groups of one topic with partitions partitions each,
// a third of them behind.
func BigSnapshot(n, partitions int, now time.Time) progress.Snapshot {
	snap := progress.Snapshot{Groups: make([]progress.Group, n)}
	for i := range snap.Groups {
		t := progress.Topic{Topic: fmt.Sprintf("topic-%d", i%50), LastTimestamp: now.Add(-time.Duration(i%90) * time.Minute).UnixMilli()}
		for p := range partitions {
			lag := int64(0)
			if i%3 == 0 {
				lag = int64(1000 * (p + 1))
			}
			t.Partitions = append(t.Partitions, progress.Partition{Partition: p, BrokerOffset: 1_000_000 + lag, ConsumerOffset: 1_000_000, LastTimestamp: t.LastTimestamp})
			t.TotalDiff += lag
		}
		snap.Groups[i] = progress.Group{Region: "cn-hangzhou", Instance: "i", Group: fmt.Sprintf("bench-%05d", i), TotalDiff: t.TotalDiff, LastTimestamp: t.LastTimestamp, Topics: []progress.Topic{t}}
	}
	return snap
}

// BenchmarkEvaluate10k is the target: evaluating 10,000 groups of
// 12 partitions must take at most 100 ms.
func BenchmarkEvaluate10k(b *testing.B) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	snap := BigSnapshot(10_000, 12, now)
	for _, level := range []Level{LevelGroup, LevelPartition} {
		rs := []Rule{{Name: "r", Instances: []string{"i"}, Region: "cn-hangzhou", Groups: []string{"bench-*"}, Level: level,
			Backlog: &BacklogThresholds{Warning: 10_000, Critical: 50_000}, Stale: &StaleThresholds{Warning: 10 * time.Minute, Critical: time.Hour}}}
		b.Run(string(level), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Evaluate(rs, snap, now)
			}
		})
	}
}
