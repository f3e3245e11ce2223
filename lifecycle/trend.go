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

// rateWindow is how many recent samples the rates are measured over: long
// enough to smooth one quiet run, short enough to follow a change.
const rateWindow = 6

// minRateSpan is the shortest span rates are measured over.
const minRateSpan = 30 * time.Second

// trendOf turns a group's history (oldest first, this run last) into the
// trend its alerts show.
func trendOf(h []Sample) *rules.Trend {
	if len(h) == 0 {
		return nil
	}
	t := &rules.Trend{Backlog: make([]int64, len(h))}
	for i, s := range h {
		t.Backlog[i] = s.Lag
	}
	last := h[len(h)-1]
	// The oldest sample in the window that is comparable with this run: the
	// same partitions, and offsets that did not go backwards (a reset).
	var base *Sample
	for i := len(h) - 2; i >= max(0, len(h)-rateWindow); i-- {
		s := h[i]
		if s.Partitions != last.Partitions || s.Broker > last.Broker || s.Consumer > last.Consumer {
			break
		}
		base = &h[i]
	}
	if base == nil || last.Time.Sub(base.Time) < minRateSpan {
		return t
	}
	minutes := last.Time.Sub(base.Time).Minutes()
	t.RatesKnown = true
	t.ConsumePerMin = float64(last.Consumer-base.Consumer) / minutes
	t.ProducePerMin = float64(last.Broker-base.Broker) / minutes
	if last.Lag > 0 {
		switch net := t.ProducePerMin - t.ConsumePerMin; {
		case net < 0:
			t.DrainMinutes = float64(last.Lag) / -net
		case net > 0:
			t.GrowthPerMin = net
		}
	}
	return t
}
