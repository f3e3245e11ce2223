package function

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/lifecycle"
	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/progress"
	"github.com/backlog-alert/backlog-alert/rules"
)

// These scenarios check, through function.Run with runs five minutes apart,
// that the trend an alert carries tells what is happening at that run, at
// the alert's own level.

const trendRules = `version: 1
defaults:
  region: cn-hangzhou
  notify: [team-slack]
` + channelsYAML + `rules:
  - name: dead
    instance: ` + instance + `
    groups: ["dead"]
    stale: {warning: 10m}
    stuck: {warning: 15m}
  - name: burst
    instance: ` + instance + `
    groups: ["burst"]
    backlog: {warning: 10000}
  - name: topics
    instance: ` + instance + `
    groups: ["places"]
    level: topic
    backlog: {warning: 1000}
  - name: partitions
    instance: ` + instance + `
    groups: ["places"]
    level: partition
    backlog: {warning: 1000}
  - name: stuck
    instance: ` + instance + `
    groups: ["legacy", "stops"]
    stuck: {warning: 15m}
`

const run5 = 5 * time.Minute

// part is a partition at the given offsets whose newest consumed message was
// produced at ts (Unix ms; -1 unknown).
func part(n int, broker, consumer, ts int64) progress.Partition {
	return progress.Partition{Partition: n, BrokerOffset: broker, ConsumerOffset: consumer, LastTimestamp: ts}
}

// topic totals its partitions' lag and newest timestamp.
func topic(name string, parts ...progress.Partition) progress.Topic {
	t := progress.Topic{Topic: name, LastTimestamp: -1, Partitions: parts}
	for _, p := range parts {
		t.TotalDiff += p.Lag()
		t.LastTimestamp = max(t.LastTimestamp, p.LastTimestamp)
	}
	return t
}

// group totals its topics.
func group(name string, topics ...progress.Topic) progress.Group {
	g := progress.Group{Region: "cn-hangzhou", Instance: instance, Group: name, LastTimestamp: -1, Topics: topics}
	for _, t := range topics {
		g.TotalDiff += t.TotalDiff
		g.LastTimestamp = max(g.LastTimestamp, t.LastTimestamp)
	}
	return g
}

// alertOf finds the report's alert of a rule and condition.
func alertOf(t *testing.T, rep *Report, rule, condition string) lifecycle.Alert {
	t.Helper()
	for _, a := range rep.Alerts {
		if a.Rule == rule && string(a.Condition) == condition {
			return a
		}
	}
	t.Fatalf("no %s %s alert in %v", rule, condition, states(rep))
	return lifecycle.Alert{}
}

func within(got, want, tolerance float64) bool {
	return math.Abs(got-want) <= tolerance*math.Abs(want)
}

// A consumer that consumed as fast as its topic was produced (600/min, 1,000
// behind) until 20 minutes in, then stopped: 20 minutes later its alerts say
// it consumes nothing and the backlog grows by the production rate.
func TestTrendOfDeadConsumerThroughRun(t *testing.T) {
	w := newWorld(t, trendRules)
	const produce, behind = 600, 1000
	stopped := 4 // the run from which the offsets no longer move
	var rep *Report
	var told []string // what the channel heard about it
	for run := 0; run <= stopped+4; run++ {
		at := time.Duration(run) * run5
		broker := int64(100_000 + produce*5*run)
		consumed := min(run, stopped)
		consumer := int64(100_000+produce*5*consumed) - behind
		// The newest consumed message was produced behind/produce minutes
		// before the consumer read it.
		ts := now.Add(time.Duration(consumed)*run5 - behind*time.Minute/produce).UnixMilli()
		w.api.SetGroup(group("dead", topic("orders", part(0, broker, consumer, ts))))
		var got map[string]string
		got, rep = w.received(t, at)
		if m := got["team-slack"]; m != "" {
			told = append(told, m)
		}
	}
	// Each message, when it was sent, says so in words.
	if len(told) != 2 { // stale at 10 minutes dead, stuck at 15
		t.Fatalf("messages: %q", told)
	}
	for _, m := range told {
		if !strings.Contains(m, "not consuming") || !strings.Contains(m, "growing by 600/min") || strings.Contains(m, "consuming 6") {
			t.Errorf("message about a dead consumer:\n%s", m)
		}
	}
	for _, condition := range []string{"stale", "stuck"} {
		tr := alertOf(t, rep, "dead", condition).Trend
		if tr == nil || !tr.RatesKnown || tr.ConsumePerMin != 0 || !within(tr.GrowthPerMin, produce, 0.10) || tr.DrainMinutes != 0 {
			t.Errorf("%s alert of a consumer dead for 20 minutes: trend %+v, want consuming 0 and growing by ~%d/min", condition, tr, produce)
		}
	}
	// Its offsets were seen moving, then stopped: the stuck alert knows when.
	if a := alertOf(t, rep, "dead", "stuck"); a.AtLeast || !a.Since.Equal(now.Add(time.Duration(stopped)*run5)) {
		t.Errorf("stuck since %v (at least %v), want exactly %v", a.Since, a.AtLeast, now.Add(time.Duration(stopped)*run5))
	}
}

// A burst of 368k drains 368k → 259k → 150k → 40k, consuming 23,000/min
// while 1,000/min are produced: at the last run it drains in 40k/22k
// minutes, and at no point does it say it grows.
func TestTrendOfDrainingBurstThroughRun(t *testing.T) {
	w := newWorld(t, trendRules)
	const produce, consume = 1000, 23_000
	brokers := []int64{1_000_000, 1_373_000, 1_378_000, 1_383_000, 1_388_000}
	consumers := []int64{1_000_000, 1_005_000, 1_119_000, 1_233_000, 1_348_000}
	var rep *Report
	for run := range brokers {
		// Two partitions, evenly loaded.
		w.api.SetGroup(group("burst", topic("orders",
			part(0, brokers[run]/2, consumers[run]/2, ago(time.Minute)), part(1, brokers[run]-brokers[run]/2, consumers[run]-consumers[run]/2, ago(time.Minute)))))
		_, rep = w.sent(t, time.Duration(run)*run5)
		if run >= 2 {
			if tr := alertOf(t, rep, "burst", "backlog").Trend; tr == nil || tr.GrowthPerMin != 0 {
				t.Errorf("run %d: a draining backlog said to grow: %+v", run, tr)
			}
		}
	}
	lag := brokers[4] - consumers[4]
	remaining := float64(lag) / (consume - produce)
	a := alertOf(t, rep, "burst", "backlog")
	tr := a.Trend
	if lag != 40_000 || tr == nil || !within(tr.DrainMinutes, remaining, 0.25) || tr.GrowthPerMin != 0 {
		t.Errorf("trend %+v, want draining in ~%.1f minutes", tr, remaining)
	}
	// What a reminder would say now.
	words := notify.Render(notify.Message{Time: now.Add(4 * run5), Items: []notify.Item{{Kind: rules.KindReminder, Alert: a.Alert}}})
	line := strings.Join(words.Sections[0].Lines, "\n")
	var minutes float64
	if m := regexp.MustCompile(`drains in ~(\d+) min`).FindStringSubmatch(line); m != nil {
		minutes, _ = strconv.ParseFloat(m[1], 64)
	}
	if !within(minutes, remaining, 0.25) || strings.Contains(line, "growing") {
		t.Errorf("want drains in ~%.1f min:\n%s", remaining, line)
	}
}

// A topic-level and a partition-level alert each show their own place's
// history and rates, not the group's; the partition alert lists its
// topic's largest partitions.
func TestTrendAtAlertLevelThroughRun(t *testing.T) {
	w := newWorld(t, trendRules)
	// Per run (5 minutes): orders p0 and p1 produce and consume 1,000 each
	// (lag 100 and 300 held), p2 produces 2,500 and consumes 500 (lag +2,000);
	// audit produces and consumes 5,000 (lag 500 held).
	var rep *Report
	for run := range int64(4) {
		w.api.SetGroup(group("places",
			topic("audit", part(0, 10_500+5000*run, 10_000+5000*run, ago(time.Second))),
			topic("orders",
				part(0, 1100+1000*run, 1000+1000*run, ago(time.Second)),
				part(1, 1300+1000*run, 1000+1000*run, ago(time.Second)),
				part(2, 1000+2500*run, 1000+500*run, ago(time.Second)))))
		_, rep = w.sent(t, time.Duration(run)*run5)
	}
	// orders alerts from run 1 (lag 2,400), its p2 from run 1 (2,000); the
	// group's lag is 500 more than orders'.
	tests := []struct {
		rule                      string
		backlog                   []int64
		produce, consume, growing float64
	}{
		{"topics", []int64{2400, 4400, 6400}, 900, 500, 400},
		{"partitions", []int64{2000, 4000, 6000}, 500, 100, 400},
	}
	for _, tt := range tests {
		a := alertOf(t, rep, tt.rule, "backlog")
		tr := a.Trend
		if a.Topic != "orders" || tr == nil || fmt.Sprint(tr.Backlog) != fmt.Sprint(tt.backlog) || !tr.RatesKnown || tr.RateSeconds != 300 ||
			!within(tr.ProducePerMin, tt.produce, 1e-9) || !within(tr.ConsumePerMin, tt.consume, 1e-9) || !within(tr.GrowthPerMin, tt.growing, 1e-9) {
			t.Errorf("%s alert at %s: trend %+v, want backlog %v, producing %v, consuming %v, growing %v",
				tt.rule, a.Where(), tr, tt.backlog, tt.produce, tt.consume, tt.growing)
		}
	}
	p := alertOf(t, rep, "partitions", "backlog")
	var top []string
	for _, c := range p.Top {
		top = append(top, fmt.Sprintf("%s[p%d]=%d", c.Topic, *c.Partition, c.Lag))
	}
	if p.Partition == nil || *p.Partition != 2 || fmt.Sprint(top) != "[orders[p2]=6000 orders[p1]=300 orders[p0]=100]" {
		t.Errorf("partition alert at %s: top %v", p.Where(), top)
	}
	// And the words say the same: the partition's own lag, rates and neighbours.
	words := notify.Render(notify.Message{Time: now.Add(3 * run5), Items: []notify.Item{{Kind: rules.KindReminder, Alert: p.Alert}}})
	text := strings.Join(words.Sections[0].Lines, "\n")
	for _, want := range []string{
		"Backlog still WARNING: 6,000 messages (threshold 1,000)",
		"2,000 → 6,000 · consuming 100/min · producing 500/min (last 5m) · growing by 400/min",
		"Top partitions: p2 6,000 · p1 300 · p0 100",
	} {
		if !strings.Contains(text, want) || words.Sections[0].Subject != "places / orders [p2]" {
			t.Errorf("partition section %q lacks %q:\n%s", words.Sections[0].Subject, want, text)
		}
	}
}

// A consumer dead before monitoring began is stuck "at least" since the
// first run; one seen moving, then stopping, is stuck since the run that
// first saw its final offsets.
func TestStuckSinceThroughRun(t *testing.T) {
	w := newWorld(t, trendRules)
	var rep *Report
	for run := range int64(6) {
		w.api.SetGroup(grp("legacy", 300, -1))
		moved := min(run, 2) * 100 // moves at runs 1 and 2 (10 minutes), then stops
		w.api.SetGroup(group("stops", topic("orders", part(0, 1000+moved+300, 1000+moved, -1))))
		_, rep = w.sent(t, time.Duration(run)*run5)
	}
	var legacy, stops lifecycle.Alert
	for _, a := range rep.Alerts {
		switch {
		case a.Group == "legacy" && a.Condition == "stuck":
			legacy = a
		case a.Group == "stops" && a.Condition == "stuck":
			stops = a
		}
	}
	if !legacy.AtLeast || !legacy.Since.Equal(now) || legacy.Value != int64(25*time.Minute/time.Second) {
		t.Errorf("legacy: stuck since %v (at least %v) value %d, want at least since the first run %v", legacy.Since, legacy.AtLeast, legacy.Value, now)
	}
	if stops.AtLeast || !stops.Since.Equal(now.Add(2*run5)) || stops.Value != int64(15*time.Minute/time.Second) {
		t.Errorf("stops: stuck since %v (at least %v) value %d, want exactly since %v", stops.Since, stops.AtLeast, stops.Value, now.Add(2*run5))
	}
}
