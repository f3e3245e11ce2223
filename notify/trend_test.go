package notify

import (
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/backlog-alert/backlog-alert/rules"
)

func TestSparkline(t *testing.T) {
	var thirty []int64
	for i := range 30 {
		thirty = append(thirty, int64(i))
	}
	for _, tc := range []struct {
		name string
		in   []int64
		want string
	}{
		{"empty", nil, ""},
		{"one value", []int64{500}, "█"},
		{"one zero", []int64{0}, "▁"},
		{"flat", []int64{7, 7, 7, 7}, "████"},
		{"flat zero", []int64{0, 0, 0}, "▁▁▁"},
		{"rising", []int64{0, 1, 2, 3, 4, 5, 6, 7}, "▁▂▃▄▅▆▇█"},
		{"falling", []int64{700, 600, 500, 400, 300, 200, 100, 0}, "█▇▆▅▄▃▂▁"},
		// ±3 % around 100,000 is noise and must look like noise, not a cliff.
		{"noise on a large backlog", []int64{100_000, 97_000, 103_000, 99_000}, "████"},
		{"scaled from zero, not from the minimum", []int64{1000, 1500, 2000}, "▅▆█"},
		{"spike", []int64{10, 10, 1_000_000, 10}, "▁▁█▁"},
		{"negative draws as zero", []int64{-5, 0, 10}, "▁▁█"},
		{"extremes do not overflow", []int64{math.MinInt64, 0, math.MaxInt64}, "▁▁█"},
		// 30 values: the last 24 (6..29) are drawn, scaled from zero to 29.
		{"more than 24 keeps the last 24", thirty, "▂▃▃▃▃▄▄▄▄▅▅▅▅▆▆▆▆▇▇▇▇███"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Sparkline(tc.in)
			if got != tc.want {
				t.Errorf("Sparkline(%v) = %q, want %q", tc.in, got, tc.want)
			}
			if n := utf8.RuneCountInString(got); n > SparklineMax {
				t.Errorf("%d characters, cap is %d", n, SparklineMax)
			}
		})
	}
}

func TestTrendLine(t *testing.T) {
	long := make([]int64, 40)
	for i := range long {
		long[i] = int64(1000 * (i + 1))
	}
	for _, tc := range []struct {
		name  string
		trend *rules.Trend
		lag   int64
		want  string
	}{
		{"nil", nil, 100, ""},
		{"nothing known yet", &rules.Trend{Backlog: []int64{100}}, 100, ""},
		{"unknown rates", &rules.Trend{Backlog: []int64{100, 300, 200}}, 200,
			"Trend: ▃█▆ 100 → 200"},
		{"draining, rates over the last 5m", &rules.Trend{Backlog: []int64{30000, 24000, 18000}, RatesKnown: true, ConsumePerMin: 1200, ProducePerMin: 500, RateSeconds: 300, DrainMinutes: 25.4}, 18000,
			"Trend: █▇▅ 30,000 → 18,000 · consuming 1,200/min · producing 500/min (last 5m) · drains in ~25 min"},
		{"draining for hours", &rules.Trend{Backlog: []int64{2_000_000, 1_900_000}, RatesKnown: true, ConsumePerMin: 10000, ProducePerMin: 500, DrainMinutes: 200}, 1_900_000,
			"Trend: ██ 2M → 1.9M · consuming 10,000/min · producing 500/min · drains in ~3h 20m"},
		{"draining for days", &rules.Trend{RatesKnown: true, ConsumePerMin: 0.4, ProducePerMin: 0.1, DrainMinutes: 3*24*60 + 125}, 1000,
			"Trend: consuming 0.4/min · producing 0.1/min · drains in ~3d 2h"},
		{"growing", &rules.Trend{Backlog: []int64{8000, 10000, 12345}, RatesKnown: true, ConsumePerMin: 1200, ProducePerMin: 1500, GrowthPerMin: 300}, 12345,
			"Trend: ▆▇█ 8,000 → 12,345 · consuming 1,200/min · producing 1,500/min · growing by 300/min"},
		{"not consuming", &rules.Trend{Backlog: []int64{100, 1600, 3100}, RatesKnown: true, ProducePerMin: 1500, GrowthPerMin: 1500}, 3100,
			"Trend: ▁▅█ 100 → 3,100 · not consuming · producing 1,500/min · growing by 1,500/min"},
		{"idle and caught up is not 'not consuming'", &rules.Trend{Backlog: []int64{0, 0}, RatesKnown: true}, 0,
			"Trend: ▁▁ 0 → 0 · consuming 0/min · producing 0/min"},
		{"growth without rates", &rules.Trend{Backlog: []int64{1, 2}, GrowthPerMin: 0.5}, 2,
			"Trend: ▅█ 1 → 2 · growing by 0.5/min"},
		{"long history: the last 24 and their ends", &rules.Trend{Backlog: long}, 40000,
			"Trend: " + Sparkline(long[16:]) + " 17,000 → 40,000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := English.TrendLine(tc.trend, tc.lag); got != tc.want {
				t.Errorf("TrendLine = %q\nwant         %q", got, tc.want)
			}
		})
	}
	spark, _, _ := strings.Cut(strings.TrimPrefix(English.TrendLine(&rules.Trend{Backlog: long}, 1), "Trend: "), " ")
	if n := utf8.RuneCountInString(spark); n != SparklineMax {
		t.Errorf("long sparkline %q has %d characters, want %d", spark, n, SparklineMax)
	}
}

func TestRateAndDrainTime(t *testing.T) {
	for in, want := range map[float64]string{
		0: "0/min", -3: "0/min", math.NaN(): "0/min", 0.01: "under 0.1/min", 0.2: "0.2/min", 1: "1/min", 2.54: "2.5/min", 9.96: "10/min", 1499.6: "1,500/min", 2.5e6: "2.5M/min", math.Inf(1): "9.2E/min",
	} {
		if got := Rate(in); got != want {
			t.Errorf("Rate(%v) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[float64]string{
		0.5: "under a minute", 1: "~1 min", 25.4: "~25 min", 59.4: "~59 min", 59.6: "~1h", 200: "~3h 20m", 3 * 24 * 60: "~3d", math.Inf(1): "~694444444d 10h",
	} {
		if got := DrainTime(in); got != want {
			t.Errorf("DrainTime(%v) = %q, want %q", in, got, want)
		}
	}
}
