package fc

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/backlog-alert/backlog-alert/function"
)

// Each invocation's x-fc-function-memory sets the Go memory limit, unless
// GOMEMLIMIT is set.
func TestInvocationSetsMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	h := &Handler{Logs: io.Discard, Console: io.Discard}
	invoke := func(memory string) {
		req := httptest.NewRequest(http.MethodPost, "/invoke", strings.NewReader("not an event")) // fails before any run
		req.Header.Set(headerMemory, memory)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotFound {
			t.Fatalf("status %d, want the invalid event's 404", rec.Code)
		}
	}

	t.Setenv("GOMEMLIMIT", "1GiB")
	invoke("128")
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("with GOMEMLIMIT set the limit became %d", got)
	}
	t.Setenv("GOMEMLIMIT", "")
	// A large size: the limit stays harmless for the package's other tests.
	invoke("1048576")
	if want, _ := function.MemoryLimit("1048576"); debug.SetMemoryLimit(-1) != want {
		t.Errorf("limit %d, want %d", debug.SetMemoryLimit(-1), want)
	}
}
