package function

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/notify/alertmanager/amtest"
	"github.com/backlog-alert/backlog-alert/notify/feishu/feishutest"
	"github.com/backlog-alert/backlog-alert/notify/webhook/webhooktest"
	"github.com/backlog-alert/backlog-alert/notify/wecom/wecomtest"
	"github.com/backlog-alert/backlog-alert/rules"
)

// One run's alerts reach all six kinds of channel at once, each through its
// real client and a local fake that checks what the service checks; a
// failing channel stops none of the others, and the report says how each
// went.

const (
	feishuSecret = "feishu-signing-secret-value"
	hookSecret   = "webhook-signing-secret-value"
	hookAPIKey   = "webhook-api-key-value"
	amToken      = "alertmanager-bearer-token-value"
	wecomKey     = "wecom-robot-key-value"
)

const everyChannelRules = `version: 1
defaults:
  region: cn-hangzhou
  notify: [team-slack, ops-dingtalk, ops-feishu, ops-wecom, ops-hook, oncall-am]
` + channelsYAML + `  ops-feishu:
    type: feishu
    webhook_url: ${FEISHU_URL}
    secret: ${FEISHU_SECRET}
    language: zh-CN
    timezone: Asia/Shanghai
  ops-wecom:
    type: wecom
    webhook_url: ${WECOM_URL}
    language: zh-CN
  ops-hook:
    type: webhook
    url: ${HOOK_URL}
    secret: ${HOOK_SECRET}
    headers: {X-Api-Key: "${HOOK_API_KEY}"}
  oncall-am:
    type: alertmanager
    url: ${AM_URL}
    bearer_token: ${AM_TOKEN}
    resend: 5m
rules:
  - name: orders
    instance: ` + instance + `
    groups: ["orders-*", "billing"]
    backlog: {warning: 1000, critical: 100000}
    stale: {warning: 10m, critical: 30m}
`

type fakes struct {
	feishu *feishutest.Server
	wecom  *wecomtest.Server
	hook   *webhooktest.Server
	am     *amtest.Server
}

func newEveryChannelWorld(t *testing.T) (*world, fakes) {
	t.Helper()
	w := newWorld(t, testRules)
	f := fakes{feishu: feishutest.NewServer(), wecom: wecomtest.NewServer(), hook: webhooktest.NewServer(hookSecret), am: amtest.NewServer()}
	t.Cleanup(func() { f.feishu.Close(); f.wecom.Close(); f.hook.Close(); f.am.Close() })
	f.feishu.RequireSecret("ops", feishuSecret)
	f.hook.RequireHeader("X-Api-Key", hookAPIKey)
	f.am.RequireBearer(amToken)
	env := map[string]string{
		"SLACK_URL":       w.sink.SlackURL("team-slack"),
		"DINGTALK_URL":    w.sink.DingTalkURL("ops-dingtalk", robot),
		"DINGTALK_SECRET": signing,
		"FEISHU_URL":      f.feishu.Hook("ops", "feishu-bot-token-value"),
		"FEISHU_SECRET":   feishuSecret,
		"WECOM_URL":       f.wecom.WebhookURL(wecomKey),
		"HOOK_URL":        f.hook.URL + "/alerts",
		"HOOK_SECRET":     hookSecret,
		"HOOK_API_KEY":    hookAPIKey,
		"AM_URL":          f.am.URL,
		"AM_TOKEN":        amToken,
	}
	var err error
	w.file, err = rules.Parse("every.yaml", []byte(everyChannelRules), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	return w, f
}

func TestEveryChannelTypeAtOnce(t *testing.T) {
	w, f := newEveryChannelWorld(t)
	w.api.SetGroup(grp("billing", 18_000, ago(47*time.Minute))) // stale critical, backlog warning
	// WeCom's robot was removed: that channel fails, the others do not.
	f.wecom.Fail(wecomKey, wecomtest.Failure{Errcode: 93000, Times: 1})

	// Alertmanager judges endsAt against its own clock: the simulated one.
	at := now
	f.am.SetClock(func() time.Time { return at })
	run := func(d time.Duration) *Report {
		at = now.Add(d)
		return w.run(t, func(o *Options) { o.Now = at })
	}
	rep := run(0)
	outcome := map[string]Notification{}
	for _, n := range rep.Notifications {
		outcome[n.Channel] = n
	}
	for _, ch := range []string{"team-slack", "ops-dingtalk", "ops-feishu", "ops-hook", "oncall-am"} {
		if n := outcome[ch]; !n.Sent || n.Accepted != 2 || n.Error != "" {
			t.Errorf("%s: %+v", ch, n)
		}
	}
	if n := outcome["ops-wecom"]; n.Sent || n.Accepted != 0 || !strings.Contains(n.Error, "93000") {
		t.Errorf("ops-wecom: %+v", n)
	}
	if len(rep.Errors) != 1 || !strings.Contains(rep.Errors[0], "channel ops-wecom") {
		t.Errorf("errors: %v", rep.Errors)
	}
	// What each received, in its own form.
	if got := w.sink.Received(); len(got) != 2 {
		t.Errorf("slack and dingtalk: %d messages", len(got))
	}
	if got := f.feishu.Received(); len(got) != 1 || !strings.Contains(string(got[0].Body), "消费组") || !strings.Contains(string(got[0].Body), "billing") {
		t.Errorf("feishu: %v", got)
	}
	if got := f.hook.Received(); len(got) != 1 || got[0].Header.Get("X-Backlog-Alert-Signature") == "" {
		t.Errorf("webhook: %v, rejected %v", got, f.hook.Rejected())
	} else {
		var doc struct {
			Notifications []struct {
				Kind, Fingerprint string
				Alert             struct{ Group, Condition string }
			}
		}
		if err := json.Unmarshal(got[0].Body, &doc); err != nil || len(doc.Notifications) != 2 || doc.Notifications[0].Fingerprint == "" {
			t.Errorf("webhook document: %v %+v", err, doc)
		}
	}
	firing := f.am.Alerts(now)
	if len(firing) != 2 {
		t.Fatalf("alertmanager firing: %+v", firing)
	}
	firstEnd := firing[0].EndsAt
	if !firstEnd.After(now) || firing[0].Labels["group"] != "billing" {
		t.Errorf("alertmanager alert: %+v", firing[0])
	}

	// Five minutes on, nothing new: only Alertmanager hears again what
	// still fires (its contract), WeCom gets what it missed, the others
	// nothing.
	before := map[string]int{"sink": len(w.sink.Received()), "feishu": len(f.feishu.Received()), "hook": len(f.hook.Received()), "am": len(f.am.Received())}
	rep = run(5 * time.Minute)
	if len(w.sink.Received()) != before["sink"] || len(f.feishu.Received()) != before["feishu"] || len(f.hook.Received()) != before["hook"] {
		t.Error("a channel without news was told again")
	}
	if len(f.wecom.Received()) != 1 {
		t.Errorf("wecom got %d messages, want the one it missed", len(f.wecom.Received()))
	}
	if len(f.am.Received()) != before["am"]+1 {
		t.Errorf("alertmanager: %d posts, want one more", len(f.am.Received()))
	}
	if firing = f.am.Alerts(now.Add(5 * time.Minute)); len(firing) != 2 || !firing[0].EndsAt.After(firstEnd) {
		t.Errorf("alertmanager after a re-send: %+v", firing)
	}

	// Resolved: Alertmanager sees endsAt now, so nothing fires there.
	w.api.SetGroup(grp("billing", 10, now.Add(10*time.Minute-time.Second).UnixMilli()))
	rep = run(10 * time.Minute)
	if firing = f.am.Alerts(now.Add(10*time.Minute + time.Second)); len(firing) != 0 {
		t.Errorf("alertmanager still fires after resolution: %+v", firing)
	}
	if len(rep.Errors) != 0 {
		t.Errorf("errors: %v", rep.Errors)
	}

	// No secret anywhere a person reads.
	out, _ := json.Marshal(rep)
	for _, secret := range []string{feishuSecret, hookSecret, hookAPIKey, amToken, wecomKey, "feishu-bot-token-value"} {
		if strings.Contains(string(out), secret) || strings.Contains(w.logs.String(), secret) {
			t.Errorf("%q leaked into the report or logs", secret)
		}
	}
}
