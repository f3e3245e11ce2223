package function

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/internal/closedport"
	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/notify/chattest"
	"github.com/backlog-alert/backlog-alert/progress"
	"github.com/backlog-alert/backlog-alert/progress/alikafka"
	"github.com/backlog-alert/backlog-alert/progress/alikafkatest"
	"github.com/backlog-alert/backlog-alert/rules"
)

const (
	instance = "alikafka_post-cn-test0001"
	akID     = "LTAI5tTestAccessKeyId"
	akSecret = "test-access-key-secret-value"
	stsToken = "CAIS-test-security-token-value"
	signing  = "SECtest-dingtalk-signing-secret"
	robot    = "test-robot-access-token"
)

var now = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// fastDelivery retries as in production but with short waits and no pacing,
// so that tests of many runs stay fast.
var fastDelivery = []notify.Option{
	notify.WithRetry(notify.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}),
	notify.WithLimiter(nil),
}

// world is one run's surroundings: a fake alikafka endpoint, a chat sink and
// a rules file pointing at both.
type world struct {
	api   *alikafkatest.Server
	sink  *chattest.Server
	creds alikafka.Credentials
	file  *rules.File
	logs  *bytes.Buffer
	state string
}

// channelsYAML is the channels every test rules file points at the sink.
const channelsYAML = `channels:
  team-slack:
    type: slack
    webhook_url: ${SLACK_URL}
  ops-dingtalk:
    type: dingtalk
    webhook_url: ${DINGTALK_URL}
    secret: ${DINGTALK_SECRET}
`

const testRules = `version: 1
defaults:
  region: cn-hangzhou
  notify: [team-slack]
` + channelsYAML + `    at_mobiles: ["13800000000"]
rules:
  - name: orders
    instance: ` + instance + `
    groups: ["orders-*", "billing"]
    exclude_groups: ["*-test"]
    backlog: {warning: 1000, critical: 100000}
    stale: {warning: 10m, critical: 30m}
    notify: [team-slack, ops-dingtalk]
`

func newWorld(t *testing.T, rulesDoc string) *world {
	t.Helper()
	w := &world{creds: alikafka.Credentials{AccessKeyID: akID, AccessKeySecret: akSecret, SecurityToken: stsToken}, logs: &bytes.Buffer{},
		state: filepath.Join(t.TempDir(), "state.json")}
	w.api = alikafkatest.NewServer(w.creds)
	t.Cleanup(w.api.Close)
	w.sink = chattest.NewServer()
	t.Cleanup(w.sink.Close)
	w.sink.RequireDingTalkSecret("ops-dingtalk", signing)
	w.file = rulesOn(t, rulesDoc, w.sink)
	return w
}

// rulesOn parses a rules document whose channels (channelsYAML) point at
// sink.
func rulesOn(t *testing.T, doc string, sink *chattest.Server) *rules.File {
	t.Helper()
	env := map[string]string{
		"SLACK_URL":       sink.SlackURL("team-slack"),
		"DINGTALK_URL":    sink.DingTalkURL("ops-dingtalk", robot),
		"DINGTALK_SECRET": signing,
	}
	f, err := rules.Parse("test.yaml", []byte(doc), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (w *world) run(t *testing.T, mutate ...func(*Options)) *Report {
	t.Helper()
	opts := Options{Rules: w.file, Now: now, Credentials: &w.creds, Endpoint: w.api.URL, State: w.state,
		Logger: slog.New(slog.NewJSONHandler(w.logs, nil)), NotifyOptions: fastDelivery}
	for _, m := range mutate {
		m(&opts)
	}
	rep, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rep
}

func ago(d time.Duration) int64 { return now.Add(-d).UnixMilli() }

func grp(name string, lag int64, ts int64) progress.Group {
	parts := []progress.Partition{
		{Partition: 0, BrokerOffset: 5000 + lag/2, ConsumerOffset: 5000, LastTimestamp: ts},
		{Partition: 1, BrokerOffset: 7000 + lag - lag/2, ConsumerOffset: 7000, LastTimestamp: ts},
	}
	return progress.Group{Region: "cn-hangzhou", Instance: instance, Group: name, TotalDiff: lag, LastTimestamp: ts,
		Topics: []progress.Topic{{Topic: "orders", TotalDiff: lag, LastTimestamp: ts, Partitions: parts}}}
}

func (w *world) scenario() {
	w.api.SetGroup(grp("orders-api", 12, ago(5*time.Second)))         // healthy
	w.api.SetGroup(grp("orders-payments", 250_000, ago(time.Minute))) // backlog critical
	w.api.SetGroup(grp("billing", 18_000, ago(47*time.Minute)))       // stopped: warning + stale critical
	w.api.SetGroup(grp("orders-test", 900_000, ago(time.Hour)))       // excluded
	w.api.SetGroup(grp("orders-idle", 0, ago(72*time.Hour)))          // idle, caught up
}

func alertKeys(rep *Report) []string {
	var out []string
	for _, a := range rep.Alerts {
		out = append(out, a.Group+" "+string(a.Condition)+" "+string(a.Severity))
	}
	return out
}

func TestRunEndToEnd(t *testing.T) {
	w := newWorld(t, testRules)
	w.scenario()
	rep := w.run(t)

	if rep.Groups != 4 {
		t.Errorf("groups read = %d, want 4 (orders-test is excluded)", rep.Groups)
	}
	want := []string{"billing backlog warning", "billing stale critical", "orders-payments backlog critical"}
	if got := alertKeys(rep); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("alerts = %v, want %v", got, want)
	}
	if len(rep.Errors) != 0 || ExitCode(rep, nil) != ExitOK {
		t.Errorf("errors = %v", rep.Errors)
	}
	if len(rep.Notifications) != 2 || !rep.Notifications[0].Sent || !rep.Notifications[1].Sent {
		t.Fatalf("notifications = %+v", rep.Notifications)
	}

	// Every OpenAPI call was signed with the STS credentials.
	reqs := w.api.Requests()
	if len(reqs) == 0 {
		t.Fatal("the fake endpoint saw no request")
	}
	for _, r := range reqs {
		if !r.SignatureOK || r.Params.Get("SecurityToken") != stsToken || r.Params.Get("AccessKeyId") != akID {
			t.Errorf("%s request: signature ok %v, token %q", r.Action, r.SignatureOK, r.Params.Get("SecurityToken"))
		}
	}

	// One message per channel, each holding all three alerts.
	got := w.sink.Received()
	if len(got) != 2 {
		t.Fatalf("sink received %d messages, want 2", len(got))
	}
	for _, m := range got {
		text := m.Readable()
		for _, g := range []string{"billing", "orders-payments"} {
			if !strings.Contains(text, g) {
				t.Errorf("%s message lacks %s:\n%s", m.Channel, g, text)
			}
		}
		if strings.Contains(text, "orders-test") || strings.Contains(text, "orders-idle") {
			t.Errorf("%s message mentions a group that must not alert:\n%s", m.Channel, text)
		}
	}
	ding := got[0]
	if ding.Kind != "dingtalk" {
		ding = got[1]
	}
	if ding.Query.Get("sign") == "" || !strings.Contains(ding.Readable(), "13800000000") {
		t.Errorf("dingtalk message not signed or critical not @-mentioned: %v\n%s", ding.Query, ding.Readable())
	}
}

func TestRunNoAlertsSendsNothing(t *testing.T) {
	w := newWorld(t, testRules)
	w.api.SetGroup(grp("orders-api", 3, ago(time.Second)))
	w.api.SetGroup(grp("orders-idle", 0, ago(240*time.Hour)))
	rep := w.run(t)
	if len(rep.Alerts) != 0 || len(rep.Notifications) != 0 || len(w.sink.Received()) != 0 {
		t.Fatalf("alerts %v, notifications %v, sink %d", rep.Alerts, rep.Notifications, len(w.sink.Received()))
	}
}

func TestRunGroupFailureHidesNothingElse(t *testing.T) {
	w := newWorld(t, testRules)
	w.scenario()
	w.api.Inject(alikafkatest.Fault{Action: "GetConsumerProgress", Instance: instance, Group: "billing", HTTPStatus: 500, Code: "ONS_SYSTEM_ERROR", Message: "system error"})
	rep := w.run(t)
	if got := alertKeys(rep); len(got) != 1 || got[0] != "orders-payments backlog critical" {
		t.Errorf("alerts = %v, want the payments alert despite billing failing", got)
	}
	if len(rep.Errors) != 1 || !strings.Contains(rep.Errors[0], "billing") || !strings.Contains(rep.Errors[0], "ONS_SYSTEM_ERROR") {
		t.Errorf("errors = %v", rep.Errors)
	}
	if ExitCode(rep, nil) != ExitErrors {
		t.Errorf("exit code %d, want %d", ExitCode(rep, nil), ExitErrors)
	}
	if len(w.sink.Received()) != 2 {
		t.Errorf("channels still notified: got %d messages", len(w.sink.Received()))
	}
}

func TestRunChannelFailureHidesNothingElse(t *testing.T) {
	w := newWorld(t, testRules)
	w.scenario()
	w.sink.Fail("team-slack", chattest.Failure{Status: 404, Body: "no_service"})
	rep := w.run(t)
	var slack, ding Notification
	for _, n := range rep.Notifications {
		if n.Channel == "team-slack" {
			slack = n
		} else {
			ding = n
		}
	}
	if slack.Sent || !strings.Contains(slack.Error, "no_service") || !ding.Sent {
		t.Errorf("slack %+v, dingtalk %+v", slack, ding)
	}
	if ExitCode(rep, nil) != ExitErrors || len(rep.Errors) != 1 {
		t.Errorf("exit %d, errors %v", ExitCode(rep, nil), rep.Errors)
	}
}

func TestRunMissingGroupIsReported(t *testing.T) {
	w := newWorld(t, testRules)
	w.api.SetGroup(grp("orders-api", 3, ago(time.Second)))
	rep := w.run(t) // "billing" is named explicitly but does not exist
	if len(rep.Missing) != 1 || rep.Missing[0].Group != "billing" {
		t.Fatalf("missing = %+v", rep.Missing)
	}
	// It cannot be read: an error of the run (exit 1), which names it.
	if len(rep.Errors) != 1 || !strings.Contains(rep.Errors[0], "billing is named in the rules but does not exist") || ExitCode(rep, nil) != ExitErrors {
		t.Errorf("errors: %v", rep.Errors)
	}
}

func TestRunDryRunSendsNothing(t *testing.T) {
	w := newWorld(t, testRules)
	w.scenario()
	rep := w.run(t, func(o *Options) { o.DryRun = true })
	if len(w.sink.Received()) != 0 {
		t.Fatalf("dry run sent %d messages", len(w.sink.Received()))
	}
	if len(rep.Notifications) != 2 {
		t.Fatalf("notifications = %+v", rep.Notifications)
	}
	for _, n := range rep.Notifications {
		if n.Sent || !strings.Contains(n.Preview, "orders-payments") {
			t.Errorf("%s: sent %v, preview:\n%s", n.Channel, n.Sent, n.Preview)
		}
	}
}

func TestRunInvalidRulesIsSetupError(t *testing.T) {
	_, err := Run(context.Background(), Options{RulesPath: "testdata/does-not-exist.yaml"})
	if ExitCode(nil, err) != ExitSetup || !strings.Contains(err.Error(), "testdata/does-not-exist.yaml") {
		t.Fatalf("err = %v, exit %d", err, ExitCode(nil, err))
	}
}

var signed = regexp.MustCompile(`Signature=[^*]`)

// TestRunLeaksNoSecret runs a failing and a succeeding run and looks for every
// secret in everything they produced: report, logs, chat messages.
func TestRunLeaksNoSecret(t *testing.T) {
	secrets := []string{akSecret, stsToken, signing, robot, "T000/B000"}
	check := func(t *testing.T, w *world, rep *Report) {
		t.Helper()
		js, _ := json.Marshal(rep)
		var sum bytes.Buffer
		rep.WriteSummary(&sum)
		outputs := map[string]string{"report": string(js), "summary": sum.String(), "logs": w.logs.String()}
		for _, m := range w.sink.Received() {
			outputs["message to "+m.Channel] = string(m.Body)
		}
		for name, out := range outputs {
			for _, s := range secrets {
				if strings.Contains(out, s) {
					t.Errorf("%s contains secret %q:\n%s", name, s, out)
				}
			}
			if signed.MatchString(out) {
				t.Errorf("%s contains a request signature:\n%s", name, out)
			}
		}
	}
	t.Run("succeeding", func(t *testing.T) {
		w := newWorld(t, testRules)
		w.scenario()
		check(t, w, w.run(t))
	})
	t.Run("failing", func(t *testing.T) {
		w := newWorld(t, testRules)
		w.scenario()
		w.api.Inject(alikafkatest.Fault{Group: "billing", HTTPStatus: 503, Code: "ServiceUnavailable"})
		w.sink.Fail("team-slack", chattest.Failure{Status: 500, Body: "rollup_error"})
		w.sink.Fail("ops-dingtalk", chattest.Failure{DingTalkErrcode: 310000})
		rep := w.run(t)
		if len(rep.Errors) != 3 {
			t.Errorf("errors = %v, want 3", rep.Errors)
		}
		check(t, w, rep)
	})
	t.Run("unreachable", func(t *testing.T) {
		w := newWorld(t, testRules)
		w.api.Close() // transport errors carry the signed URL
		w.sink.Close()
		w.api.URL, w.sink.URL = closedport.URL(t), closedport.URL(t)
		w.file = rulesOn(t, testRules, w.sink)
		rep := w.run(t)
		if len(rep.Errors) == 0 {
			t.Fatal("no errors from a closed endpoint")
		}
		secrets = append(secrets, "AccessKeyId="+akID)
		check(t, w, rep)
	})
}

// TestRunStopsFetchingInTimeToNotify gives the run a deadline it cannot read
// every group within: it must stop starting calls early, report the groups
// it did not read, and still notify about the ones it did. It is judged on
// the report, not on the clock: a run that fetched until its deadline would
// have no time left to notify, and its messages would fail.
func TestRunStopsFetchingInTimeToNotify(t *testing.T) {
	w := newWorld(t, testRules)
	for i := range 40 {
		w.api.SetGroup(grp(fmt.Sprintf("orders-%02d", i), 500_000, ago(time.Minute)))
	}
	w.api.SetGroup(grp("billing", 500_000, ago(time.Minute))) // named in the rules: 41 groups in all
	w.api.Inject(alikafkatest.Fault{Action: "GetConsumerProgress", Latency: 400 * time.Millisecond})
	w.file.API.QPS = 10
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	rep, err := Run(ctx, Options{Rules: w.file, Now: now, Credentials: &w.creds, Endpoint: w.api.URL, State: w.state, Logger: slog.New(slog.NewJSONHandler(w.logs, nil)), NotifyOptions: fastDelivery})
	if err != nil {
		t.Fatal(err)
	}
	// Some read (the first calls end 400ms into a fetch budget of 2s), and
	// not all: the rate (10/s) and the latency leave no time for 41.
	if rep.Groups == 0 || rep.Groups == 41 {
		t.Fatalf("read %d of 41 groups; want some but not all", rep.Groups)
	}
	// The rest were left for want of time, not failed; nothing else went
	// wrong, saving the state included.
	if len(rep.NotEvaluated) != 41-rep.Groups || len(rep.Errors) != 1 || !strings.Contains(rep.Errors[0], "not evaluated") {
		t.Errorf("%d groups read, %d not evaluated, errors: %v", rep.Groups, len(rep.NotEvaluated), rep.Errors)
	}
	for _, n := range rep.NotEvaluated {
		if n.Group == "" || !strings.Contains(n.Reason, "not read: the run's time budget ran out") {
			t.Errorf("not evaluated without group or for another reason than time: %+v", n)
		}
	}
	// Both channels were told, before the deadline: a delivery still going
	// then is cut, and one starting after it is refused.
	if len(rep.Notifications) != 2 || !rep.Notifications[0].Sent || !rep.Notifications[1].Sent {
		t.Errorf("notifications = %+v", rep.Notifications)
	}
}

func TestRunReportsAnomalies(t *testing.T) {
	w := newWorld(t, testRules)
	odd := grp("orders-odd", 10, ago(time.Minute))
	odd.Topics[0].Partitions[0].ConsumerOffset = -7
	odd.Topics[0].Partitions[1].LastTimestamp = now.Add(400 * 24 * time.Hour).UnixMilli()
	w.api.SetGroup(odd)
	rep := w.run(t)
	if rep.Groups != 1 || len(rep.Warnings) == 0 || !strings.Contains(strings.Join(rep.Warnings, "\n"), "orders-odd") {
		t.Errorf("groups %d, warnings %v", rep.Groups, rep.Warnings)
	}
}
