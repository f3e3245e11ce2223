package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/lifecycle"
	"github.com/backlog-alert/backlog-alert/progress/alikafkatest"
)

// A webhook that accepts the connection and never answers, and a group the
// OpenAPI never answers for: the run still ends by its --timeout (plus 2 s,
// the bound for the process's own start and exit), with the other
// channel notified and the state saved.
func TestRunEndsByItsTimeoutWhatEverHangs(t *testing.T) {
	w := newPlatformWorld(t)
	w.api.Inject(alikafkatest.Fault{Group: "orders-us", Latency: time.Hour})
	env, statePath := hangingSlack(t, w)
	const timeout = 6 * time.Second
	buildBinary(t) // before the clock starts
	began := time.Now()
	p := start(t, env, "run", "--json", "--timeout", timeout.String())
	p.cmd.Wait()
	elapsed := time.Since(began)
	if elapsed > timeout+2*time.Second {
		t.Errorf("the run took %v with --timeout %v", elapsed, timeout)
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit %d, want 1 (a group unread, a channel not told)", code)
	}
	var rep struct {
		Notifications []struct {
			Channel string
			Sent    bool
		}
		NotEvaluated []struct{ Group string } `json:"not_evaluated"`
		Errors       []string
	}
	if err := json.Unmarshal([]byte(p.stdout.String()), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, p.stdout)
	}
	sent := map[string]bool{}
	for _, n := range rep.Notifications {
		sent[n.Channel] = n.Sent
	}
	if !sent["ops-dingtalk"] || sent["team-slack"] || len(w.sink.Received()) != 1 {
		t.Errorf("notifications %+v, dingtalk got %d", rep.Notifications, len(w.sink.Received()))
	}
	if !strings.Contains(p.stdout.String(), "orders-us") {
		t.Errorf("the group that never answered is not reported: %+v", rep)
	}
	for _, e := range rep.Errors {
		if strings.Contains(e, "saving state") {
			t.Errorf("state not saved: %s", e)
		}
	}
	st := decodeStateFile(t, statePath)
	delivered := 0
	for _, a := range st.Alerts {
		delivered += len(a.Channels)
	}
	if delivered == 0 {
		t.Errorf("the state does not record DingTalk's delivery: %+v", st.Alerts)
	}
}

// SIGTERM while a channel hangs: the run stops waiting, and still records
// what the other channel accepted, so the next run does not tell it again.
func TestSIGTERMDuringDeliverySavesWhatWasAccepted(t *testing.T) {
	w := newPlatformWorld(t)
	env, statePath := hangingSlack(t, w)
	p := start(t, env, "run", "--json", "--timeout", "10m")
	for waited := time.Duration(0); len(w.sink.Received()) == 0; waited += 10 * time.Millisecond {
		if waited > time.Minute {
			t.Fatal("DingTalk was never told")
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
	if code := p.cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit %d, want 1 (a channel not told)", code)
	}
	st := decodeStateFile(t, statePath)
	for key, a := range st.Alerts {
		if _, told := a.Channels["ops-dingtalk"]; !told {
			t.Errorf("%s: DingTalk's delivery is not recorded", key)
		}
		if _, told := a.Channels["team-slack"]; told {
			t.Errorf("%s: Slack's is, though it never answered", key)
		}
	}
	if len(st.Alerts) == 0 {
		t.Error("no alert in the state")
	}
}

// hangingSlack is the environment of a run in w whose Slack webhook accepts
// the connection and never answers, and the run's state file.
func hangingSlack(t *testing.T, w *platformWorld) (env []string, statePath string) {
	t.Helper()
	release := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release); hanging.Close() })
	env = append([]string{
		"ALIBABA_CLOUD_ACCESS_KEY_ID=" + akID, "ALIBABA_CLOUD_ACCESS_KEY_SECRET=" + akSecret, "ALIBABA_CLOUD_SECURITY_TOKEN=" + stsToken,
	}, w.env...)
	for i, kv := range env {
		if strings.HasPrefix(kv, "SLACK_URL=") {
			env[i] = "SLACK_URL=" + hanging.URL + "/services/T0/B0/hangs"
		}
		if p, ok := strings.CutPrefix(kv, "BACKLOG_ALERT_STATE="); ok {
			statePath = p
		}
	}
	return env, statePath
}

func decodeStateFile(t *testing.T, path string) *lifecycle.State {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := lifecycle.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
