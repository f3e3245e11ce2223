package notify

import (
	"math"
	"strconv"
	"strings"

	"github.com/backlog-alert/backlog-alert/rules"
)

// SparklineMax is how many values a sparkline shows at most: the latest.
const SparklineMax = 24

var bars = []rune("▁▂▃▄▅▆▇█")

// Sparkline draws values with the eight block characters ▁▂▃▄▅▆▇█, scaled
// from the smallest to the largest value shown. Only the last SparklineMax
// values are drawn. A flat series has no scale: it is drawn all ▁ when every
// value is zero (nothing behind) and all ▄ otherwise. The result is plain
// Unicode, readable in Slack mrkdwn, DingTalk markdown and a terminal; ""
// for no values.
func Sparkline(values []int64) string {
	if len(values) > SparklineMax {
		values = values[len(values)-SparklineMax:]
	}
	if len(values) == 0 {
		return ""
	}
	lo, hi := values[0], values[0]
	for _, v := range values {
		lo, hi = min(lo, v), max(hi, v)
	}
	out := make([]rune, len(values))
	for i, v := range values {
		switch {
		case lo == hi && v == 0:
			out[i] = bars[0]
		case lo == hi:
			out[i] = bars[3]
		default:
			// Floats: the difference of two int64 may overflow.
			x := (float64(v) - float64(lo)) / (float64(hi) - float64(lo))
			out[i] = bars[int(math.Round(x*float64(len(bars)-1)))]
		}
	}
	return string(out)
}

// TrendLine words a group's trend in one line without markup, "" when t is
// nil or says nothing:
//
//	Trend: ▁▂▄▆█ 8,000 → 12,345 · consuming 1,200/min · producing 1,500/min · growing by 300/min
//	Trend: █▆▄▂▁ 12,000 → 2,000 · consuming 1,500/min · producing 300/min · drains in ~2 min
//	Trend: ▁▃▅█ 100 → 9,000 · not consuming · producing 1,500/min · growing by 1,500/min
//
// The sparkline and its first and last values are shown from two runs on;
// the rates when they are known (a consumption of 0 with lag > 0 reads "not
// consuming"); then the estimate: when the backlog drains ("~25 min",
// "~3h 20m"), or how fast it grows. lag is the alert's lag.
func TrendLine(t *rules.Trend, lag int64) string {
	if t == nil {
		return ""
	}
	var parts []string
	if b := t.Backlog; len(b) >= 2 {
		if len(b) > SparklineMax {
			b = b[len(b)-SparklineMax:]
		}
		parts = append(parts, Sparkline(b)+" "+Count(b[0])+" → "+Count(b[len(b)-1]))
	}
	if t.RatesKnown {
		if t.ConsumePerMin <= 0 && lag > 0 {
			parts = append(parts, "not consuming")
		} else {
			parts = append(parts, "consuming "+Rate(t.ConsumePerMin))
		}
		parts = append(parts, "producing "+Rate(t.ProducePerMin))
	}
	switch {
	case t.DrainMinutes > 0:
		parts = append(parts, "drains in "+DrainTime(t.DrainMinutes))
	case t.GrowthPerMin > 0:
		parts = append(parts, "growing by "+Rate(t.GrowthPerMin))
	}
	if len(parts) == 0 {
		return ""
	}
	return "Trend: " + strings.Join(parts, " · ")
}

// Rate formats messages per minute: "1,200/min", one decimal below ten
// ("2.5/min", "0.4/min"), "under 0.1/min" for a trickle, "0/min" for none.
// It writes no "<", which Slack's mrkdwn would have to escape.
func Rate(perMin float64) string {
	switch {
	case math.IsNaN(perMin) || perMin <= 0:
		return "0/min"
	case perMin < 0.05:
		return "under 0.1/min"
	case perMin < 9.95:
		return strings.TrimSuffix(strconv.FormatFloat(perMin, 'f', 1, 64), ".0") + "/min"
	case perMin >= math.MaxInt64:
		return Count(math.MaxInt64) + "/min"
	}
	return Count(int64(math.Round(perMin))) + "/min"
}

// DrainTime formats an estimate in minutes: "under a minute", "~25 min",
// then hours and days to two units: "~3h 20m", "~2d 3h".
func DrainTime(minutes float64) string {
	switch {
	case math.IsNaN(minutes) || minutes < 1:
		return "under a minute"
	case minutes < 59.5:
		return "~" + strconv.Itoa(int(math.Round(minutes))) + " min"
	case minutes > 1e12: // keeps minutes*60 within int64
		minutes = 1e12
	}
	return "~" + Duration(int64(math.Round(minutes))*60)
}
