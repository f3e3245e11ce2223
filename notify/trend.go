package notify

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/backlog-alert/backlog-alert/rules"
)

// SparklineMax is how many values a sparkline shows at most: the latest.
const SparklineMax = 24

var bars = []rune("▁▂▃▄▅▆▇█")

// Sparkline draws values with the eight block characters ▁▂▃▄▅▆▇█, scaled
// from zero to the largest value shown, so that a few per cent of noise on
// a large backlog draws as noise (all near-full bars), not as a cliff. Only
// the last SparklineMax values are drawn; all-zero values draw as ▁. The
// result is plain Unicode, readable in Slack mrkdwn, DingTalk markdown and a
// terminal; "" for no values.
func Sparkline(values []int64) string {
	if len(values) > SparklineMax {
		values = values[len(values)-SparklineMax:]
	}
	if len(values) == 0 {
		return ""
	}
	var hi int64
	for _, v := range values {
		hi = max(hi, v)
	}
	out := make([]rune, len(values))
	for i, v := range values {
		if hi <= 0 || v <= 0 {
			out[i] = bars[0]
			continue
		}
		// Floats: v/hi of two int64 loses nothing that a bar could show.
		x := float64(v) / float64(hi)
		out[i] = bars[int(math.Round(x*float64(len(bars)-1)))]
	}
	return string(out)
}

// TrendLine words a trend in one line without markup, "" when t is nil or
// says nothing:
//
//	Trend: ▅▆▇█ 8,000 → 12,345 · not consuming · producing 300/min (last 5m) · growing by 300/min
//	Trend: █▆▄▂ 12,000 → 2,000 · consuming 1,500/min · producing 300/min (last 5m) · drains in ~2 min
//
// The sparkline and its first and last values are shown from two runs on;
// the rates over the most recent interval when they are known (a consumer
// whose offsets did not move reads "not consuming" while there is lag);
// then the estimate: when the backlog drains, or how fast it grows. lag is
// the alert's lag.
func (c *Catalog) TrendLine(t *rules.Trend, lag int64) string {
	if t == nil {
		return ""
	}
	var parts []string
	if b := t.Backlog; len(b) >= 2 {
		if len(b) > SparklineMax {
			b = b[len(b)-SparklineMax:]
		}
		parts = append(parts, fmt.Sprintf(c.TrendSpark, Sparkline(b), c.Count(b[0]), c.Count(b[len(b)-1])))
	}
	if t.RatesKnown {
		consuming := fmt.Sprintf(c.TrendConsuming, c.Rate(t.ConsumePerMin))
		if t.ConsumePerMin <= 0 && lag > 0 {
			consuming = c.TrendNotConsumed
		}
		rates := consuming + c.TrendSeparator + fmt.Sprintf(c.TrendProducing, c.Rate(t.ProducePerMin))
		if t.RateSeconds > 0 {
			rates = fmt.Sprintf(c.TrendOver, rates, c.Duration(t.RateSeconds))
		}
		parts = append(parts, rates)
	}
	switch {
	case t.DrainMinutes > 0:
		parts = append(parts, fmt.Sprintf(c.TrendDrains, c.DrainTime(t.DrainMinutes)))
	case t.GrowthPerMin > 0:
		parts = append(parts, fmt.Sprintf(c.TrendGrowing, c.Rate(t.GrowthPerMin)))
	}
	if len(parts) == 0 {
		return ""
	}
	return fmt.Sprintf(c.TrendLabel, strings.Join(parts, c.TrendSeparator))
}

// Rate formats messages per minute: "1,200/min", one decimal below ten
// ("2.5/min", "0.4/min"), "under 0.1/min" for a trickle, "0/min" for none.
// It writes no "<", which Slack's mrkdwn would have to escape.
func Rate(perMin float64) string { return rate(perMin, Count, "/min", "under 0.1/min") }

// rate writes a rate with a language's count and unit.
func rate(perMin float64, count func(int64) string, unit, trickle string) string {
	switch {
	case math.IsNaN(perMin) || perMin <= 0:
		return "0" + unit
	case perMin < 0.05:
		return trickle
	case perMin < 9.95:
		return strings.TrimSuffix(strconv.FormatFloat(perMin, 'f', 1, 64), ".0") + unit
	case perMin >= math.MaxInt64:
		return count(math.MaxInt64) + unit
	}
	return count(int64(math.Round(perMin))) + unit
}

// DrainTime formats an estimate in minutes: "under a minute", "~25 min",
// then hours and days to two units: "~3h 20m", "~2d 3h".
func DrainTime(minutes float64) string {
	return drainTime(minutes, Duration, "under a minute", "~%d min", "~%s")
}

// drainTime writes an estimate with a language's words: soon (under a
// minute), inMinutes (a number of minutes), about (a duration).
func drainTime(minutes float64, duration func(int64) string, soon, inMinutes, about string) string {
	switch {
	case math.IsNaN(minutes) || minutes < 1:
		return soon
	case minutes < 59.5:
		return fmt.Sprintf(inMinutes, int(math.Round(minutes)))
	case minutes > 1e12: // keeps minutes*60 within int64
		minutes = 1e12
	}
	return fmt.Sprintf(about, duration(int64(math.Round(minutes))*60))
}
