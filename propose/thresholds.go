package propose

import (
	"math"
	"strconv"
	"time"
)

// The formulas behind a proposed rule's thresholds. L is the largest backlog
// seen among the rule's groups, P the largest production rate seen, in
// messages per minute (0 when init did not sample).
const (
	// MinWarning is the lowest backlog warning proposed: below it, a
	// healthy group's ordinary jitter would page someone.
	MinWarning int64 = 10_000
	// LagFactor: the warning is at least ten times the worst backlog seen,
	// so that what is normal today does not alert.
	LagFactor = 10
	// RateMinutes: the warning is at least this many minutes of the fastest
	// production seen, so that a short consumer pause does not alert.
	RateMinutes = 5
	// CriticalFactor: critical is this many times the warning.
	CriticalFactor = 5

	// StaleWarning and StaleCritical are the proposed stale thresholds, or
	// stuck ones when the service gives no timestamps for a rule's groups.
	StaleWarning  = 10 * time.Minute
	StaleCritical = 30 * time.Minute
)

// Nice rounds n up to the nearest 1, 2 or 5 × 10^k (1 for n ≤ 1): numbers a
// person reads at a glance and would have chosen.
func Nice(n int64) int64 {
	for p := int64(1); ; p *= 10 {
		for _, m := range []int64{1, 2, 5} {
			if m*p >= n {
				return m * p
			}
		}
		if p > math.MaxInt64/100 {
			return n // the next power would overflow
		}
	}
}

// WarningFor is the backlog warning proposed for a rule whose groups showed
// at most lag messages of backlog and perMinute messages a minute of
// production: Nice(max(MinWarning, LagFactor × lag, RateMinutes × perMinute)).
func WarningFor(lag int64, perMinute float64) int64 {
	// Capped so that the critical threshold still fits a rules file: no
	// real backlog comes near it.
	const limit = math.MaxInt64 / 100
	w := max(MinWarning, saturatingMul(max(lag, 0), LagFactor))
	if r := math.Ceil(RateMinutes * perMinute); r > float64(w) { // NaN compares false
		w = int64(min(r, limit))
	}
	return Nice(min(w, limit))
}

// CriticalFor is the backlog critical threshold proposed over a warning:
// CriticalFactor × warning. The warning is already a 1, 2 or 5 × 10^k, so
// this is 5, 10 or 25 × 10^k (50k, 100k, 2.5M): round enough, and always
// the same distance above the warning, which rounding it again (2.5M up to
// 5M) would break.
func CriticalFor(warning int64) int64 {
	return saturatingMul(warning, CriticalFactor)
}

func saturatingMul(a, b int64) int64 {
	if a > 0 && b > 0 && a > math.MaxInt64/b {
		return math.MaxInt64
	}
	return a * b
}

// FormatCount writes a message count the way a rules file takes it: with a
// k, M or G suffix when that is exact (10k, 2.5M, 1G), else as digits.
func FormatCount(n int64) string {
	for _, u := range []struct {
		scale  int64
		suffix string
	}{{1_000_000_000, "G"}, {1_000_000, "M"}, {1_000, "k"}} {
		if n < u.scale {
			continue
		}
		if n%u.scale == 0 {
			return strconv.FormatInt(n/u.scale, 10) + u.suffix
		}
		if n%(u.scale/10) == 0 {
			return strconv.FormatInt(n/u.scale, 10) + "." + strconv.FormatInt(n%u.scale/(u.scale/10), 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}
