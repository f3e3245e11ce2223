package function

import (
	"runtime/debug"
	"testing"
)

func TestMemoryLimit(t *testing.T) {
	const mib = 1 << 20
	share := func(mb int64) int64 { return int64(float64(mb*mib) * 0.85) }
	for _, tc := range []struct {
		platform string
		want     int64
		ok       bool
	}{
		{"128", 108 * mib, true},                      // the 20 MiB reserve is more than 15%
		{"256", share(256), true},                     // 15% is more than the reserve
		{"3008", share(3008), true},                   // Lambda's former maximum
		{"10240", share(10240), true},                 // Lambda's maximum
		{"64", 44 * mib, true},                        // small: the reserve, still over half
		{"32", 16 * mib, true},                        // tiny: never under half
		{"1", mib / 2, true},                          //
		{" 512\n", share(512), true},                  // spaces around
		{"", 0, false},                                // not given
		{"0", 0, false},                               //
		{"-128", 0, false},                            //
		{"1.5", 0, false},                             // not whole
		{"128MB", 0, false},                           //
		{"99999999999999999999", 0, false},            // overflows int64
		{"9223372036854775807", 0, false},             // overflows in bytes
		{"8796093022207", share(8796093022207), true}, // the largest that fits
	} {
		got, ok := MemoryLimit(tc.platform)
		if got != tc.want || ok != tc.ok {
			t.Errorf("MemoryLimit(%q) = %d, %v; want %d, %v", tc.platform, got, ok, tc.want, tc.ok)
		}
	}
}

func TestSetPlatformMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

	// The user's GOMEMLIMIT stands.
	if got := SetPlatformMemoryLimit("128", env(map[string]string{"GOMEMLIMIT": "50MiB"})); got != 0 || debug.SetMemoryLimit(-1) != before {
		t.Errorf("with GOMEMLIMIT set: set %d, limit now %d", got, debug.SetMemoryLimit(-1))
	}
	// No size, no limit.
	if got := SetPlatformMemoryLimit("", env(nil)); got != 0 || debug.SetMemoryLimit(-1) != before {
		t.Errorf("without a size: set %d", got)
	}
	// A size sets the limit. (A large one: the limit stays in force for the
	// rest of the package's tests.)
	want, _ := MemoryLimit("1048576")
	if got := SetPlatformMemoryLimit("1048576", env(nil)); got != want || debug.SetMemoryLimit(-1) != want {
		t.Errorf("set %d, limit now %d; want %d", got, debug.SetMemoryLimit(-1), want)
	}
}
