package function

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/progress/alikafkatest"
)

func TestBlindWhenCredentialsRejected(t *testing.T) {
	w := newWorld(t, testRules)
	w.scenario()
	wrong := w.creds
	wrong.AccessKeySecret = "a-wrong-secret-value"
	got, rep := w.sent(t, 0, func(o *Options) { o.Credentials = &wrong })
	if len(got) != 2 || !strings.Contains(got[0], "backlog-alert cannot see "+instance) {
		t.Fatalf("sent %v", got)
	}
	if len(rep.Alerts) != 1 || !strings.Contains(rep.Alerts[0].Detail, "credentials rejected (SignatureDoesNotMatch)") {
		t.Fatalf("alerts = %+v", rep.Alerts)
	}
	if got, _ = w.sent(t, 5*time.Minute, func(o *Options) { o.Credentials = &wrong }); len(got) != 0 {
		t.Errorf("said twice: %v", got)
	}
	got, _ = w.sent(t, 10*time.Minute) // the right credentials again
	joined := strings.Join(got, "\n")
	if !strings.Contains(joined, "1 resolved") || !strings.Contains(joined, "firing") {
		t.Errorf("sight back: the blindness resolves and the real alerts fire: %v", got)
	}
}

func TestBlindWhenMostGroupsUnreadable(t *testing.T) {
	w := newWorld(t, testRules)
	w.scenario()
	for _, g := range []string{"orders-api", "orders-payments", "billing"} {
		w.api.Inject(alikafkatest.Fault{Group: g, HTTPStatus: 500, Code: "InternalError", Message: "boom"})
	}
	_, rep := w.sent(t, 0)
	var blind []string
	for _, a := range rep.Alerts {
		if a.Rule == "backlog-alert" {
			blind = append(blind, a.Detail)
		}
	}
	if len(blind) != 1 || !strings.Contains(blind[0], "3 of 4 consumer groups unreadable") {
		t.Errorf("blind alerts = %v", blind)
	}
}

func TestBlindWhenRulesInvalid(t *testing.T) {
	w := newWorld(t, testRules)
	w.scenario()
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	env := map[string]string{"SLACK_URL": w.sink.SlackURL("team-slack"), "DINGTALK_URL": w.sink.DingTalkURL("ops-dingtalk", robot), "DINGTALK_SECRET": signing}
	for k, v := range env {
		t.Setenv(k, v)
	}
	broken := strings.Replace(testRules, "warning: 10m", "warning: soon", 1)
	os.WriteFile(path, []byte(broken), 0o600)
	run := func(at time.Duration) (*Report, error) {
		return Run(context.Background(), Options{RulesPath: path, Now: now.Add(at), Credentials: &w.creds, Endpoint: w.api.URL, State: w.state, NotifyOptions: fastDelivery})
	}
	_, err := run(0)
	if ExitCode(nil, err) != ExitSetup {
		t.Fatalf("err = %v", err)
	}
	msgs := w.sink.Received()
	if len(msgs) != 2 || !strings.Contains(msgs[0].Readable(), "the rules file is invalid") || !strings.Contains(msgs[0].Readable(), "stale.warning") {
		t.Fatalf("received %d messages: %v", len(msgs), msgs)
	}
	if _, err = run(5 * time.Minute); err == nil || len(w.sink.Received()) != 2 {
		t.Errorf("told twice: %d messages", len(w.sink.Received()))
	}
	os.WriteFile(path, []byte(testRules), 0o600)
	rep, err := run(10 * time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var resolved bool
	for _, a := range rep.Alerts {
		resolved = resolved || (a.Rule == "backlog-alert" && a.State == "resolved")
	}
	if !resolved {
		t.Errorf("the rules blindness did not resolve: %+v", rep.Alerts)
	}
}
