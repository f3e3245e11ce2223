package lifecycle

import (
	"time"

	"github.com/backlog-alert/backlog-alert/progress"
	"github.com/backlog-alert/backlog-alert/rules"
)

// sampleOf sums a group's offsets over every topic it consumes.
func sampleOf(g progress.Group, now time.Time) Sample {
	s := Sample{Time: now, Lag: max(g.TotalDiff, 0)}
	for _, t := range g.Topics {
		for _, p := range t.Partitions {
			s.Broker += p.BrokerOffset
			s.Consumer += p.ConsumerOffset
			s.Partitions++
		}
	}
	return s
}

// appendSample adds s to the history h, which keeps at most max samples:
// the oldest go. A full history is shifted in place rather than copied, so
// that a run adds no allocation per group.
func appendSample(h []Sample, s Sample, max int) []Sample {
	if len(h) >= max {
		n := copy(h, h[len(h)-max+1:])
		return append(h[:n], s)
	}
	return append(h, s)
}

// placeSample is one run's view of the place an observation is about: a
// topic or a partition.
func placeSample(o rules.Observation, now time.Time) Sample {
	return Sample{Time: now, Lag: max(o.At.Lag, 0), Broker: o.Broker, Consumer: o.Committed, Partitions: o.Partitions}
}

// minRateSpan is the shortest span rates are measured over: a run started by
// hand seconds after the timer's says nothing about rates.
const minRateSpan = 30 * time.Second

// maxRateBack is how many samples back the start of the rate interval may
// be: the previous sample, or, when that one is too close, up to two more.
// It only smooths a missing or doubled sample; rates describe now, not the
// last half hour.
const maxRateBack = 3

// trendOf turns a history (oldest first, this run last) into the trend an
// alert shows.
//
// Rates come from the most recent interval: this run and the previous
// sample, or, when the previous one is closer than minRateSpan, the newest
// of the two before it that is at least minRateSpan older. Offsets that went
// backwards (a reset) or a changed number of partitions anywhere in the
// interval leave the rates unknown. Consumer offsets that did not move over
// the interval mean consuming exactly 0.
//
// The drain estimate and the growth come from those rates (net = produce -
// consume), checked against the lag itself: after three falls in a row the
// backlog is never said to grow, and after three rises never to drain; the
// lag's own slope over the interval stands in for a net rate that
// contradicts it.
func trendOf(h []Sample) *rules.Trend {
	if len(h) == 0 {
		return nil
	}
	t := &rules.Trend{Backlog: make([]int64, len(h))}
	for i, s := range h {
		t.Backlog[i] = s.Lag
	}
	n := len(h)
	last := h[n-1]
	base := -1
	for i := n - 2; i >= max(0, n-1-maxRateBack); i-- {
		if last.Time.Sub(h[i].Time) >= minRateSpan {
			base = i
			break
		}
	}
	if base < 0 {
		return t
	}
	for i := base; i < n-1; i++ {
		a, b := h[i], h[i+1]
		if a.Partitions != b.Partitions || a.Broker > b.Broker || a.Consumer > b.Consumer || !b.Time.After(a.Time) {
			return t
		}
	}
	first := h[base]
	span := last.Time.Sub(first.Time)
	minutes := span.Minutes()
	t.RatesKnown = true
	t.RateSeconds = int64(span / time.Second)
	t.ProducePerMin = float64(last.Broker-first.Broker) / minutes
	if last.Consumer != first.Consumer {
		t.ConsumePerMin = float64(last.Consumer-first.Consumer) / minutes
	}
	if last.Lag <= 0 {
		return t
	}
	net := t.ProducePerMin - t.ConsumePerMin
	slope := float64(last.Lag-first.Lag) / minutes
	switch {
	case monotone(h, -1):
		// Fallen three runs in a row: it drains, whatever the offsets say.
		if net >= 0 {
			net = slope
		}
	case monotone(h, +1):
		// Risen three runs in a row: it grows.
		if net <= 0 {
			net = slope
		}
	}
	switch {
	case net < 0:
		t.DrainMinutes = float64(last.Lag) / -net
	case net > 0:
		t.GrowthPerMin = net
	}
	return t
}

// monotone reports whether the last four samples' lag strictly fell (dir
// -1) or strictly rose (dir +1) from each run to the next.
func monotone(h []Sample, dir int64) bool {
	if len(h) < 4 {
		return false
	}
	for i := len(h) - 3; i < len(h); i++ {
		if d := h[i].Lag - h[i-1].Lag; d*dir <= 0 {
			return false
		}
	}
	return true
}
