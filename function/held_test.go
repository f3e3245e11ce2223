package function

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/state/osstest"
)

// A state that cannot be saved would make every run send what is due again.
// Instead what is due is held back, and the meta channels hear why once
// across three runs; once the state saves again, the alert goes out, once.
func TestUnsavableStateTellsOnceAndSendsNothingItCannotRecord(t *testing.T) {
	const key = "backlog-alert/state.json"
	for _, tc := range []struct {
		name    string
		breakIt func(t *testing.T, w *world, oss *osstest.Server) (fix func())
	}{
		{"OSS refuses to write the state", func(t *testing.T, w *world, oss *osstest.Server) func() {
			oss.Fail(osstest.Fault{Method: "PUT", Key: key, Status: 403, Code: "AccessDenied"})
			return oss.ClearFaults
		}},
		{"OSS refuses every write, the lease's too", func(t *testing.T, w *world, oss *osstest.Server) func() {
			oss.Fail(osstest.Fault{Method: "PUT", Status: 403, Code: "AccessDenied"})
			return oss.ClearFaults
		}},
		{"a file state whose directory is a file", func(t *testing.T, w *world, _ *osstest.Server) func() {
			dir := filepath.Join(t.TempDir(), "state")
			os.WriteFile(dir, []byte("not a directory"), 0o600)
			w.state = filepath.Join(dir, "state.json")
			return func() { os.Remove(dir) }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("TMPDIR", t.TempDir()) // where the "told" marker lives
			w := newWorld(t, testRules)
			oss := osstest.NewServer()
			t.Cleanup(oss.Close)
			oss.RequireAccessKeyID(akID)
			oss.RequireToken(stsToken)
			viaOSS := func(o *Options) {}
			if strings.HasPrefix(tc.name, "OSS") {
				viaOSS = func(o *Options) { o.State, o.OSSEndpoint = "oss://alerts-bucket/"+key, oss.URL }
			}
			w.api.SetGroup(grp("billing", 18_000, ago(time.Minute)))
			fix := tc.breakIt(t, w, oss)

			var told []string
			for i := range 3 {
				got, rep := w.sent(t, time.Duration(i)*5*time.Minute, viaOSS)
				told = append(told, got...)
				if ExitCode(rep, nil) != ExitErrors || !strings.Contains(strings.Join(rep.Errors, "\n"), "held back") {
					t.Errorf("run %d: errors %v", i+1, rep.Errors)
				}
			}
			if len(told) != 2 {
				t.Fatalf("across three runs the channels got %d messages, want the notice once on each of 2:\n%s", len(told), strings.Join(told, "\n"))
			}
			for _, m := range w.sink.Received() {
				if text := m.Readable(); !strings.Contains(text, "notifications held back") || strings.Contains(text, "billing") {
					t.Errorf("%s got something other than the notice:\n%s", m.Channel, text)
				}
			}

			fix()
			got, rep := w.sent(t, 15*time.Minute, viaOSS)
			if len(got) != 2 || len(rep.Errors) != 0 {
				t.Errorf("once saved again: sent %v, errors %v", got, rep.Errors)
			}
			for _, m := range w.sink.Received()[2:] {
				if text := m.Readable(); !strings.Contains(text, "billing") {
					t.Errorf("%s was not told of the alert held back:\n%s", m.Channel, text)
				}
			}
			if got, _ := w.sent(t, 20*time.Minute, viaOSS); len(got) != 0 {
				t.Errorf("the alert was sent again: %v", got)
			}
		})
	}
}
