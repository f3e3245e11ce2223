package propose

import (
	"fmt"
	"math"
	"testing"

	"github.com/backlog-alert/backlog-alert/rules"
)

func TestNice(t *testing.T) {
	for _, tc := range []struct{ in, want int64 }{
		{-5, 1}, {0, 1}, {1, 1}, {2, 2}, {3, 5}, {5, 5}, {6, 10}, {10, 10},
		{10_000, 10_000}, {10_001, 20_000}, {20_001, 50_000}, {370_000, 500_000},
		{2_500_000, 5_000_000}, {5_000_001, 10_000_000},
		{math.MaxInt64 / 100, 100_000_000_000_000_000},
	} {
		if got := Nice(tc.in); got != tc.want {
			t.Errorf("Nice(%d) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestWarningAndCritical(t *testing.T) {
	for _, tc := range []struct {
		lag               int64
		perMinute         float64
		warning, critical int64
	}{
		{0, 0, 10_000, 50_000},              // the floor
		{999, 0, 10_000, 50_000},            // 10 × 999 < 10k
		{1_500, 0, 20_000, 100_000},         // 15,000 → 20k
		{37_000, 0, 500_000, 2_500_000},     // by hand: 10 × 37,000 = 370,000 → 500k; 5 × 500k
		{1_000, 60_000, 500_000, 2_500_000}, // the rate decides: 5 × 60,000 = 300,000 → 500k
		{50_000, 60_000, 500_000, 2_500_000},
		{0, 2_000.2, 20_000, 100_000},    // 5 × 2,000.2 = 10,001 → 20k
		{-3, math.NaN(), 10_000, 50_000}, // nonsense counts as nothing
		{0, math.Inf(1), 100_000_000_000_000_000, 500_000_000_000_000_000},
		{math.MaxInt64, 0, 100_000_000_000_000_000, 500_000_000_000_000_000},
	} {
		w := WarningFor(tc.lag, tc.perMinute)
		if c := CriticalFor(w); w != tc.warning || c != tc.critical {
			t.Errorf("L %d, P %g: warning %d, critical %d; want %d, %d", tc.lag, tc.perMinute, w, c, tc.warning, tc.critical)
		}
	}
}

// Every count FormatCount writes, a rules file reads back as that count.
func TestFormatCountLoads(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{999, "999"}, {1_000, "1k"}, {1_500, "1.5k"}, {12_345, "12345"}, {10_000, "10k"}, {50_000, "50k"},
		{250_000, "250k"}, {1_000_000, "1M"}, {2_500_000, "2.5M"}, {5_000_000_000, "5G"},
		{500_000_000_000_000_000, "500000000G"},
	} {
		if got := FormatCount(tc.n); got != tc.want {
			t.Errorf("FormatCount(%d) = %q, want %q", tc.n, got, tc.want)
		}
		doc := fmt.Sprintf(`version: 1
channels: {s: {type: slack, webhook_url: "https://hooks.slack.com/services/T/B/x"}}
rules:
  - {name: r, instance: i, region: cn-hangzhou, groups: [g], backlog: {critical: %s}, notify: [s]}
`, FormatCount(tc.n))
		f, err := rules.Parse("t", []byte(doc), func(string) (string, bool) { return "", false })
		if err != nil {
			t.Errorf("%s: %v", FormatCount(tc.n), err)
		} else if got := f.Rules[0].Backlog.Critical; got != tc.n {
			t.Errorf("%s loads as %d, want %d", FormatCount(tc.n), got, tc.n)
		}
	}
}
