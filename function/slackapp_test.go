package function

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/notify/slack/slackapitest"
	"github.com/backlog-alert/backlog-alert/rules"
)

// Slack app mode through function.Run, with simulated time, against a local
// fake of the Web API: one living message per alert, updated in place, its
// thread hearing the changes.

const (
	botToken   = "xoxb-1-test-bot-token"
	appChannel = "C0APP00001"
)

const appRules = `version: 1
defaults:
  region: cn-hangzhou
  notify: [payments-slack]
  repeat: 1h
channels:
  payments-slack:
    type: slack
    token: ${SLACK_BOT_TOKEN}
    channel: ` + appChannel + `
    api_url: ${SLACK_API_URL}
    digest_after: 3
rules:
  - name: orders
    instance: ` + instance + `
    groups: ["orders-*"]
    backlog: {warning: 1000, critical: 100000}
`

// appWorld is a world whose channel is a Slack app talking to a fake Web API.
type appWorld struct {
	*world
	slackAPI *slackapitest.Server
}

func newAppWorld(t *testing.T) *appWorld {
	t.Helper()
	w := &appWorld{world: newWorld(t, testRules), slackAPI: slackapitest.NewServer(botToken)}
	t.Cleanup(w.slackAPI.Close)
	w.slackAPI.AddChannel(appChannel)
	env := map[string]string{"SLACK_BOT_TOKEN": botToken, "SLACK_API_URL": w.slackAPI.URL + "/"}
	f, err := rules.Parse("app.yaml", []byte(appRules), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	w.file = f
	return w
}

// calls runs once at now+at and returns the Web API calls it made, as
// "method thread_ts=… broadcast" lines, and the report.
func (w *appWorld) calls(t *testing.T, at time.Duration) ([]slackapitest.Call, *Report) {
	t.Helper()
	before := len(w.slackAPI.Calls())
	rep := w.run(t, func(o *Options) { o.Now = now.Add(at) })
	return w.slackAPI.Calls()[before:], rep
}

func describe(calls []slackapitest.Call) []string {
	var out []string
	for _, c := range calls {
		s := c.Method
		if c.Method == "chat.update" {
			s += " ts=" + c.TS
		}
		if c.ThreadTS != "" {
			s += " thread_ts=" + c.ThreadTS
		}
		if c.ReplyBroadcast {
			s += " broadcast"
		}
		if c.Error != "" {
			s += " → " + c.Error
		}
		out = append(out, s)
	}
	return out
}

// storedThreads reads the state file's threads of the channel, by group.
func (w *appWorld) storedThreads(t *testing.T) map[string]map[string]any {
	t.Helper()
	data, err := os.ReadFile(w.state)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Alerts map[string]struct {
			Alert    struct{ Group string }
			Channels map[string]map[string]json.RawMessage
		}
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for _, a := range doc.Alerts {
		if raw, ok := a.Channels["payments-slack"]["thread"]; ok {
			var thread map[string]any
			if err := json.Unmarshal(raw, &thread); err != nil {
				t.Fatal(err)
			}
			out[a.Alert.Group] = thread
		}
	}
	return out
}

func TestSlackAppLivingMessageThroughRun(t *testing.T) {
	w := newAppWorld(t)
	set := func(group string, lag int64) { w.api.SetGroup(grp(group, lag, ago(time.Second))) }
	set("orders-eu", 5000)

	// Firing: one post.
	calls, _ := w.calls(t, 0)
	if got := describe(calls); len(got) != 1 || got[0] != "chat.postMessage" {
		t.Fatalf("firing: %v", got)
	}
	parent := calls[0].TS
	if th := w.storedThreads(t)["orders-eu"]; len(th) != 2 || th["channel"] != appChannel || th["ts"] != parent {
		t.Errorf("state keeps only channel and ts: %v", th)
	}

	// Nothing new: no call.
	if calls, _ = w.calls(t, 5*time.Minute); len(calls) != 0 {
		t.Errorf("no change: %v", describe(calls))
	}

	// Reminder: a reply in the thread, not a new post.
	calls, _ = w.calls(t, 65*time.Minute)
	if got := describe(calls); len(got) != 1 || got[0] != "chat.postMessage thread_ts="+parent {
		t.Errorf("reminder: %v", got)
	}

	// Escalation: the parent is updated, the thread hears it, and so does
	// the channel.
	set("orders-eu", 200_000)
	calls, _ = w.calls(t, 70*time.Minute)
	want := []string{"chat.update ts=" + parent, "chat.postMessage thread_ts=" + parent + " broadcast"}
	if got := describe(calls); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("escalation: %v, want %v", got, want)
	}
	if m, _ := w.slackAPI.Message(appChannel, parent); !m.Edited || !strings.Contains(m.Text, "Escalated to CRITICAL") {
		t.Errorf("parent after escalation: %+v", m)
	}

	// The parent was deleted: the downgrade is a fresh post, whose ts is
	// kept from now on.
	w.slackAPI.FailNext("chat.update", slackapitest.Failure{Error: "message_not_found"})
	set("orders-eu", 50_000)
	calls, _ = w.calls(t, 75*time.Minute)
	want = []string{"chat.update ts=" + parent + " → message_not_found", "chat.postMessage"}
	if got := describe(calls); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("parent gone: %v, want %v", got, want)
	}
	parent = calls[1].TS
	if th := w.storedThreads(t)["orders-eu"]; th["ts"] != parent {
		t.Errorf("the fresh post's ts is stored: %v, want %s", th, parent)
	}

	// Resolved while Slack is rate limiting: retried after Retry-After,
	// sent once; the parent turns to its resolved look and the thread
	// hears it.
	w.slackAPI.FailNext("chat.update", slackapitest.Failure{Error: "ratelimited", RetryAfter: time.Second})
	set("orders-eu", 100)
	calls, rep := w.calls(t, 80*time.Minute)
	want = []string{"chat.update ts=" + parent + " → ratelimited", "chat.update ts=" + parent, "chat.postMessage thread_ts=" + parent}
	if got := describe(calls); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("resolved: %v, want %v", got, want)
	}
	if m, _ := w.slackAPI.Message(appChannel, parent); !strings.Contains(m.Text, "Resolved") || !strings.Contains(m.Attachments, "#2EB67D") {
		t.Errorf("parent after resolution: %+v", m)
	}
	if len(rep.Errors) != 0 || len(rep.Notifications) != 1 || !rep.Notifications[0].Sent || rep.Notifications[0].Accepted != 1 {
		t.Errorf("report: errors %v, notifications %+v", rep.Errors, rep.Notifications)
	}
	if calls, _ = w.calls(t, 85*time.Minute); len(calls) != 0 {
		t.Errorf("after resolution: %v", describe(calls))
	}
}

func TestSlackAppGoneDigestAndFailuresThroughRun(t *testing.T) {
	w := newAppWorld(t)
	// Four groups fire at once, more than digest_after (3): one digest post,
	// each group a reply in its thread.
	for _, g := range []string{"orders-a", "orders-b", "orders-c", "orders-d"} {
		w.api.SetGroup(grp(g, 5000, ago(time.Second)))
	}
	calls, _ := w.calls(t, 0)
	if len(calls) != 5 || calls[0].ThreadTS != "" {
		t.Fatalf("digest: %v", describe(calls))
	}
	digest := calls[0].TS
	for _, c := range calls[1:] {
		if c.Method != "chat.postMessage" || c.ThreadTS != digest {
			t.Errorf("a section outside the digest's thread: %v", describe(calls))
		}
	}
	threads := w.storedThreads(t)
	b := threads["orders-b"]
	if b["root"] != digest || b["ts"] == digest {
		t.Errorf("orders-b's message is its reply under the digest: %v", b)
	}

	// orders-b escalates: its reply is updated, the digest's thread hears it.
	w.api.SetGroup(grp("orders-b", 200_000, ago(time.Second)))
	// orders-c is deleted: its message says so, once.
	w.api.RemoveGroup(instance, "orders-c")
	calls, _ = w.calls(t, 5*time.Minute)
	got := describe(calls)
	want := []string{
		"chat.update ts=" + b["ts"].(string), "chat.postMessage thread_ts=" + digest + " broadcast",
		"chat.update ts=" + threads["orders-c"]["ts"].(string), "chat.postMessage thread_ts=" + digest,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("escalated and gone:\n%v\nwant\n%v", got, want)
	}
	if m, _ := w.slackAPI.Message(appChannel, threads["orders-c"]["ts"].(string)); !strings.Contains(m.Text, "Consumer group gone") {
		t.Errorf("gone message: %+v", m)
	}

	// A channel the app is not in: nothing accepted, due again, the report
	// says what to do; once fixed, the next run sends it, once.
	w.api.SetGroup(grp("orders-e", 5000, ago(time.Second)))
	w.slackAPI.FailNext("chat.postMessage", slackapitest.Failure{Error: "not_in_channel"})
	calls, rep := w.calls(t, 10*time.Minute)
	if len(calls) != 1 || len(rep.Errors) != 1 || !strings.Contains(rep.Errors[0], "not_in_channel") || !strings.Contains(rep.Errors[0], "/invite") ||
		rep.Notifications[0].Accepted != 0 {
		t.Errorf("not in channel: calls %v, errors %v", describe(calls), rep.Errors)
	}
	if calls, _ = w.calls(t, 15*time.Minute); len(calls) != 1 || calls[0].Method != "chat.postMessage" || calls[0].Error != "" {
		t.Errorf("sent next run: %v", describe(calls))
	}
	if calls, _ = w.calls(t, 20*time.Minute); len(calls) != 0 {
		t.Errorf("and not again: %v", describe(calls))
	}

	// The token is a secret: in no report, log or state.
	data, _ := os.ReadFile(w.state)
	if strings.Contains(string(data), botToken) || strings.Contains(w.logs.String(), botToken) {
		t.Error("the bot token leaked into the state or the logs")
	}
}

func TestSlackAppDryRunShowsTheCalls(t *testing.T) {
	w := newAppWorld(t)
	w.api.SetGroup(grp("orders-eu", 5000, ago(time.Second)))
	calls, _ := w.calls(t, 0)
	parent := calls[0].TS
	w.api.SetGroup(grp("orders-eu", 200_000, ago(time.Second)))
	before := len(w.slackAPI.Calls())
	rep := w.run(t, func(o *Options) { o.Now = now.Add(5 * time.Minute); o.DryRun = true })
	if len(w.slackAPI.Calls()) != before {
		t.Error("a dry run called the Web API")
	}
	preview := rep.Notifications[0].Preview
	want := "chat.update " + appChannel + " ts=" + parent + " + chat.postMessage " + appChannel + " thread_ts=" + parent + " reply_broadcast"
	if !strings.HasPrefix(preview, want) || !strings.Contains(preview, "Escalated to CRITICAL") || strings.Contains(preview, botToken) {
		t.Errorf("preview:\n%s\nwant it to start with %q", preview, want)
	}
}
