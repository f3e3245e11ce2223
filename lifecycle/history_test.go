package lifecycle

import (
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/progress"
)

// A group without an alert keeps a short history; it is enough for its
// first alert to show the rates a full history would, and grows to
// HistoryLen while the group alerts. Once the alert is gone, it is short
// again.
func TestQuietGroupsKeepAShortHistory(t *testing.T) {
	h := newHarness(t, `  - name: orders
    instance: i
    groups: ["*"]
    backlog: {warning: 100}
`)
	// Every five minutes 500 produced; as many consumed until run 10, then
	// 400 until run 30.
	committed, broker := int64(0), int64(0)
	at := func() progress.Group {
		lag := broker - committed
		return progress.Group{Region: "cn-hangzhou", Instance: "i", Group: "a", TotalDiff: lag, LastTimestamp: -1,
			Topics: []progress.Topic{{Topic: "t", TotalDiff: lag, LastTimestamp: -1, Partitions: []progress.Partition{{BrokerOffset: broker, ConsumerOffset: committed, LastTimestamp: -1}}}}}
	}
	history := func() History { return h.state.Groups["cn-hangzhou/i/a"].History }
	for i := range 40 {
		broker += 500
		switch {
		case i < 10 || i >= 30:
			committed = broker // caught up
		default:
			committed += 400 // falling behind
		}
		h.run(time.Duration(5*i)*time.Minute, at())
		switch alerting := len(h.state.Alerts) > 0; {
		case i < 10 && (alerting || len(history()) != min(i+1, QuietHistoryLen)):
			t.Fatalf("run %d: quiet group holds %d samples (alerts %d), want %d", i, len(history()), len(h.state.Alerts), min(i+1, QuietHistoryLen))
		case i == 10:
			// The first alert: the same rates as with every sample kept.
			tr := h.last.Alerts[0].Trend
			if tr == nil || len(tr.Backlog) != QuietHistoryLen+1 || !tr.RatesKnown || tr.ConsumePerMin != 80 || tr.ProducePerMin != 100 || tr.GrowthPerMin != 20 {
				t.Fatalf("first alert's trend %+v", tr)
			}
		case i > 10 && i < 30 && len(history()) != min(QuietHistoryLen+1+i-10, HistoryLen):
			t.Fatalf("run %d: alerting group holds %d samples, want %d", i, len(history()), min(QuietHistoryLen+1+i-10, HistoryLen))
		case i >= 32 && (alerting || len(history()) != QuietHistoryLen):
			t.Fatalf("run %d: quiet again, the group holds %d samples (alerts %d), want %d", i, len(history()), len(h.state.Alerts), QuietHistoryLen)
		}
	}
}
