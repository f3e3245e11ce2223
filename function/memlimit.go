package function

import (
	"math"
	"runtime/debug"
	"strconv"
	"strings"
)

// The Go memory limit set from the platform's memory size: memoryShare of it,
// but keeping at least memoryReserve out of the limit, and never under half.
// The limit counts only what the Go runtime manages; the platform counts the
// whole process, the binary's code mapped in memory (about 15 MiB) included.
const (
	memoryShare   = 0.85
	memoryReserve = 20 << 20
)

// MemoryLimit is the Go memory limit for a function given platformMB, the
// platform's memory size in megabytes (MiB, as Lambda and Function Compute
// count them): 85% of it, with at least 20 MiB left out, never under half.
// ok is false when platformMB is not a positive whole number.
func MemoryLimit(platformMB string) (limit int64, ok bool) {
	mb, err := strconv.ParseInt(strings.TrimSpace(platformMB), 10, 64)
	if err != nil || mb <= 0 || mb > math.MaxInt64>>20 {
		return 0, false
	}
	total := mb << 20
	limit = min(int64(float64(total)*memoryShare), total-memoryReserve)
	return max(limit, total/2), true
}

// SetPlatformMemoryLimit sets the Go memory limit (what GOMEMLIMIT sets)
// from the platform's memory size in megabytes, unless the GOMEMLIMIT
// environment variable is set: the user's choice stands. With the limit the
// garbage collector works harder as the heap nears the platform's memory
// instead of letting the heap double and the platform kill the function. It
// returns the limit set, 0 when none was. Lambda gives the size in
// AWS_LAMBDA_FUNCTION_MEMORY_SIZE, Function Compute in each invocation's
// x-fc-function-memory header.
func SetPlatformMemoryLimit(platformMB string, getenv func(string) string) int64 {
	if getenv("GOMEMLIMIT") != "" {
		return 0
	}
	limit, ok := MemoryLimit(platformMB)
	if !ok {
		return 0
	}
	debug.SetMemoryLimit(limit)
	return limit
}
