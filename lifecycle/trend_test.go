package lifecycle

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/progress"
	"github.com/backlog-alert/backlog-alert/rules"
)

// pt is one run of a one-partition history: seconds after t0, summed broker
// and consumer offsets; the lag is their difference unless lag is set.
type pt struct {
	sec              int
	broker, consumer int64
	lag              int64 // -1: broker - consumer
	partitions       int   // 0: 1
}

func history(pts ...pt) []Sample {
	h := make([]Sample, len(pts))
	for i, p := range pts {
		lag := p.lag
		if lag < 0 {
			lag = p.broker - p.consumer
		}
		h[i] = Sample{Time: t0.Add(time.Duration(p.sec) * time.Second), Lag: lag, Broker: p.broker, Consumer: p.consumer, Partitions: max(p.partitions, 1)}
	}
	return h
}

// every5 is a history of runs five minutes apart, offsets as given.
func every5(offsets ...[2]int64) []pt {
	pts := make([]pt, len(offsets))
	for i, o := range offsets {
		pts[i] = pt{sec: 300 * i, broker: o[0], consumer: o[1], lag: -1}
	}
	return pts
}

func near(got, want, tolerance float64) bool {
	return math.Abs(got-want) <= tolerance*math.Abs(want)
}

func TestTrendRates(t *testing.T) {
	tests := []struct {
		name string
		h    []Sample
		// wantKnown false: no rate, drain or growth at all.
		wantKnown                      bool
		consume, produce, drain, grows float64 // per minute; drain in minutes
		rateSeconds                    int64
	}{
		{
			// Consumed 800/min, then nothing over the last interval, while
			// 1,000/min are produced: not consuming, growing by the production.
			name: "dead consumer",
			h: history(every5([2]int64{10_000, 9_000}, [2]int64{15_000, 13_000}, [2]int64{20_000, 17_000},
				[2]int64{25_000, 21_000}, [2]int64{30_000, 21_000})...),
			wantKnown: true, consume: 0, produce: 1000, grows: 1000, rateSeconds: 300,
		},
		{
			// A burst of 368k (growing before), then draining
			// 368k → 259k → 150k → 40k at 22k/min net while producing 1,000/min.
			name: "draining burst",
			h: history(every5([2]int64{100_000, 100_000}, [2]int64{473_000, 105_000}, [2]int64{478_000, 219_000},
				[2]int64{483_000, 333_000}, [2]int64{488_000, 448_000})...),
			wantKnown: true, consume: 23_000, produce: 1000, drain: 40_000.0 / 22_000, rateSeconds: 300,
		},
		{
			// Producing 1,000/min; dead for 25 minutes (lag 25k), then
			// consuming 4,000/min: 10k left, draining 3,000/min. The drain
			// is judged at that rate, not at the average of the window.
			name: "recovered consumer",
			h: history(every5([2]int64{0, 0}, [2]int64{5_000, 0}, [2]int64{10_000, 0}, [2]int64{15_000, 0},
				[2]int64{20_000, 0}, [2]int64{25_000, 0}, [2]int64{30_000, 20_000})...),
			wantKnown: true, consume: 4000, produce: 1000, drain: 10_000.0 / 3000, rateSeconds: 300,
		},
		{
			// A manual run 10 s after the timer's: rates over the timer's
			// previous interval and the manual run (310 s).
			name: "sample 10 s after the previous",
			h: history(pt{sec: 0, broker: 1000, consumer: 0, lag: -1}, pt{sec: 300, broker: 2500, consumer: 1000, lag: -1},
				pt{sec: 600, broker: 4000, consumer: 2000, lag: -1}, pt{sec: 610, broker: 4050, consumer: 2000, lag: -1}),
			wantKnown: true, consume: 1000 / (310.0 / 60), produce: 1550 / (310.0 / 60), grows: 550 / (310.0 / 60), rateSeconds: 310,
		},
		{
			// Only samples within 30 s in the last three: no rates, though
			// an older one exists.
			name: "no sample far enough within three back",
			h: history(pt{sec: 0, broker: 0, lag: -1}, pt{sec: 300, broker: 500, lag: -1}, pt{sec: 305, broker: 510, lag: -1},
				pt{sec: 315, broker: 520, lag: -1}, pt{sec: 325, broker: 530, lag: -1}),
		},
		{
			name: "offsets reset in the last interval",
			h:    history(every5([2]int64{10_000, 9_000}, [2]int64{11_000, 10_000}, [2]int64{100, 50})...),
		},
		{
			// A reset long ago does not matter: the last interval is clean.
			name: "offsets reset before the last interval",
			h: history(every5([2]int64{10_000, 9_000}, [2]int64{100, 50}, [2]int64{600, 350},
				[2]int64{1100, 650})...),
			wantKnown: true, consume: 60, produce: 100, grows: 40, rateSeconds: 300,
		},
		{
			name: "partition count changed",
			h: history(pt{sec: 0, broker: 100, consumer: 50, lag: -1}, pt{sec: 300, broker: 200, consumer: 150, lag: -1},
				pt{sec: 600, broker: 400, consumer: 200, lag: -1, partitions: 2}),
		},
		{
			// The lag rose three runs in a row but the offsets say it
			// shrinks (consumed 50/min more than produced): no drain, and
			// the lag's own slope (100 in 5 minutes) is the growth.
			name: "three rises with a negative net",
			h: history(pt{sec: 0, broker: 1000, consumer: 0, lag: 100}, pt{sec: 300, broker: 2000, consumer: 1250, lag: 200},
				pt{sec: 600, broker: 3000, consumer: 2500, lag: 300}, pt{sec: 900, broker: 4000, consumer: 3750, lag: 400}),
			wantKnown: true, consume: 250, produce: 200, grows: 20, rateSeconds: 300,
		},
		{
			// The converse: three falls while the offsets say it grows.
			name: "three falls with a positive net",
			h: history(pt{sec: 0, broker: 1000, consumer: 0, lag: 400}, pt{sec: 300, broker: 2000, consumer: 750, lag: 300},
				pt{sec: 600, broker: 3000, consumer: 1500, lag: 200}, pt{sec: 900, broker: 4000, consumer: 2250, lag: 100}),
			wantKnown: true, consume: 150, produce: 200, drain: 5, rateSeconds: 300,
		},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := trendOf(tc.h)
			if tr == nil || len(tr.Backlog) != len(tc.h) || tr.Backlog[len(tr.Backlog)-1] != tc.h[len(tc.h)-1].Lag {
				t.Fatalf("trend %+v", tr)
			}
			if !tc.wantKnown {
				if tr.RatesKnown || tr.ConsumePerMin != 0 || tr.ProducePerMin != 0 || tr.DrainMinutes != 0 || tr.GrowthPerMin != 0 || tr.RateSeconds != 0 {
					t.Errorf("rates should be unknown: %+v", *tr)
				}
				return
			}
			const eps = 1e-9
			if !tr.RatesKnown || tr.RateSeconds != tc.rateSeconds || !near(tr.ConsumePerMin, tc.consume, eps) || !near(tr.ProducePerMin, tc.produce, eps) ||
				!near(tr.DrainMinutes, tc.drain, eps) || !near(tr.GrowthPerMin, tc.grows, eps) {
				t.Errorf("trend %+v\nwant consume %v produce %v drain %v growth %v over %ds", *tr, tc.consume, tc.produce, tc.drain, tc.grows, tc.rateSeconds)
			}
			if tr.DrainMinutes != 0 && tr.GrowthPerMin != 0 {
				t.Errorf("drains and grows at once: %+v", *tr)
			}
		})
	}
}

// A dead consumer says exactly 0, not a small rate left over from before.
func TestTrendDeadConsumerIsExactlyZero(t *testing.T) {
	h := history(every5([2]int64{1000, 0}, [2]int64{2000, 999_999}, [2]int64{3000, 999_999})...)
	h[1].Lag, h[2].Lag = 5, 10
	if tr := trendOf(h); tr.ConsumePerMin != 0 || !tr.RatesKnown {
		t.Errorf("trend %+v", *tr)
	}
}

// Topic- and partition-level alerts show their own place's history, kept
// only while the place alerts; group-level alerts the group's.
func TestPlaceTrends(t *testing.T) {
	h := newHarness(t, `  - name: topics
    instance: i
    groups: ["*"]
    level: topic
    backlog: {warning: 1000}
  - name: parts
    instance: i
    groups: ["*"]
    level: partition
    backlog: {warning: 1000}
  - name: group
    instance: i
    groups: ["*"]
    backlog: {warning: 1000}
`)
	// Topic "hot" grows 600 a run on partition 1 and holds 50 behind on
	// partition 0; topic "cold" holds 900 behind on its one partition. Runs
	// are 5 minutes apart.
	grp := func(run int64) progress.Group {
		hot := progress.Topic{Topic: "hot", TotalDiff: 600*run + 50, Partitions: []progress.Partition{
			{Partition: 0, BrokerOffset: 100*run + 50, ConsumerOffset: 100 * run},
			{Partition: 1, BrokerOffset: 1000 * run, ConsumerOffset: 400 * run},
		}}
		cold := progress.Topic{Topic: "cold", TotalDiff: 900, Partitions: []progress.Partition{{BrokerOffset: 900 + 50*run, ConsumerOffset: 50 * run}}}
		return progress.Group{Region: "cn-hangzhou", Instance: "i", Group: "a", TotalDiff: hot.TotalDiff + 900, LastTimestamp: -1,
			Topics: []progress.Topic{cold, hot}}
	}
	for run := int64(1); run <= 4; run++ {
		h.run(time.Duration(5*run)*time.Minute, grp(run))
	}
	byRule := map[string]Alert{}
	for _, a := range h.last.Alerts {
		byRule[a.Rule] = a
	}
	// hot and its partition 1 alert from run 2 on; the group from run 1.
	want := map[string]struct {
		backlog                   []int64
		produce, consume, growing float64
	}{
		"topics": {[]int64{1250, 1850, 2450}, 220, 100, 120},
		"parts":  {[]int64{1200, 1800, 2400}, 200, 80, 120},
		"group":  {[]int64{1550, 2150, 2750, 3350}, 230, 110, 120},
	}
	for rule, w := range want {
		tr := byRule[rule].Trend
		if tr == nil || fmt.Sprint(tr.Backlog) != fmt.Sprint(w.backlog) || !tr.RatesKnown ||
			tr.ProducePerMin != w.produce || tr.ConsumePerMin != w.consume || tr.GrowthPerMin != w.growing {
			t.Errorf("%s: trend %+v, want %+v", rule, tr, w)
		}
	}
	p := byRule["parts"]
	if p.Partition == nil || *p.Partition != 1 || len(p.Top) != 2 || *p.Top[0].Partition != 1 || p.Top[0].Lag != 2400 || *p.Top[1].Partition != 0 {
		t.Errorf("partition alert %+v, top %+v", p, p.Top)
	}
	gs := h.state.Groups["cn-hangzhou/i/a"]
	if len(gs.Places) != 2 {
		t.Errorf("places %v, want hot and hot [p1]", gs.Places)
	}
	// hot's partition 1 catches up: its alerts resolve, showing their own
	// place's trend, and their places are forgotten once the channels
	// have heard.
	done := grp(5)
	done.Topics[1].Partitions[1].ConsumerOffset = done.Topics[1].Partitions[1].BrokerOffset
	done.Topics[1].TotalDiff, done.TotalDiff = 50, 950
	h.expect(h.run(25*time.Minute, done), "slack resolved a / hot backlog warning", "slack resolved a / hot [p1] backlog warning", "slack resolved a backlog warning")
	for _, a := range h.last.Alerts {
		if a.Rule != "group" && (a.Trend == nil || len(a.Trend.Backlog) != 4 || a.Trend.Backlog[3] != a.Lag || a.Trend.GrowthPerMin != 0) {
			t.Errorf("resolved %s: trend %+v", a.Where(), a.Trend)
		}
	}
	h.run(30*time.Minute, done)
	if gs := h.state.Groups["cn-hangzhou/i/a"]; len(gs.Places) != 0 || gs.Places != nil {
		t.Errorf("places kept after resolution: %v", gs.Places)
	}
}

// An old document (no places, marks without `first`) decodes, and its marks
// count as exact.
func TestOldStateDocument(t *testing.T) {
	doc := `{"version":1,"saved":"2026-11-20T10:00:00Z","alerts":{},"groups":{"cn-hangzhou/i/a":{"region":"cn-hangzhou","instance":"i","group":"a",
"last_seen":"2026-11-20T10:00:00Z","history":[[1795168800,40,540,500,2]],"offsets":{"x":{"committed":500,"since":"2026-11-20T09:00:00Z"}}}}}`
	st, err := Decode([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	gs := st.Groups["cn-hangzhou/i/a"]
	if gs.Places != nil || gs.Offsets.Get("x").First || len(gs.History) != 1 {
		t.Errorf("decoded %+v", gs)
	}
	// What this version adds is left out when empty.
	data, _ := st.Encode(t0)
	if strings.Contains(string(data), "places") || strings.Contains(string(data), "first") {
		t.Errorf("encoded %s", data)
	}
}

// A stuck alert says since when, and whether that is only since monitoring
// began.
func TestStuckSince(t *testing.T) {
	h := newHarness(t, `  - name: orders
    instance: i
    groups: ["*"]
    stuck: {warning: 15m}
`)
	minute := time.Minute
	// "dead" never moves; "stops" moves until 10m.
	for run := range 6 {
		at := time.Duration(run) * 5 * minute
		h.run(at, g("dead", 40, 500, -1), g("stops", 40, int64(min(run, 2))*50, -1))
	}
	got := map[string]rules.Alert{}
	for _, a := range h.last.Alerts {
		got[a.Group] = a.Alert
	}
	if a := got["dead"]; !a.AtLeast || !a.Since.Equal(t0) || a.Value != 25*60 {
		t.Errorf("dead: since %v, at least %v, value %d", a.Since, a.AtLeast, a.Value)
	}
	if a := got["stops"]; a.AtLeast || !a.Since.Equal(t0.Add(10*minute)) || a.Value != 15*60 {
		t.Errorf("stops: since %v, at least %v, value %d", a.Since, a.AtLeast, a.Value)
	}
}
