package function

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/notify/chattest"
)

// faultRules read 60 groups at 60 calls/s.
const faultRules = `version: 1
api: {qps: 60}
defaults:
  region: cn-hangzhou
  notify: [team-slack, ops-dingtalk]
` + channelsYAML + `rules:
  - name: orders
    instance: ` + instance + `
    groups: ["orders-*"]
    backlog: {warning: 1000}
`

func TestThrottlingNeverFailsAGroup(t *testing.T) {
	w := newWorld(t, faultRules)
	for i := range 60 {
		w.api.SetGroup(grp(fmt.Sprintf("orders-%02d", i), int64(10*i), ago(time.Second)))
	}
	w.api.SetRateLimit(25) // the service allows less than the rules say
	rep := w.run(t)
	if rep.Groups != 60 || len(rep.Errors) != 0 || len(rep.NotEvaluated) != 0 {
		t.Fatalf("read %d of 60, errors %v, not evaluated %d", rep.Groups, rep.Errors, len(rep.NotEvaluated))
	}
	if rep.API.Throttled == 0 || rep.API.MinQPS >= 60 {
		t.Errorf("the run was never throttled or never slowed down: %+v", rep.API)
	}
	if stats := w.api.Stats(); stats.Throttled != rep.API.Throttled {
		t.Errorf("server saw %d throttled replies, report says %d", stats.Throttled, rep.API.Throttled)
	}
}

func TestWebhookRetriedWithinARunSendsOnce(t *testing.T) {
	w := newWorld(t, faultRules)
	w.api.SetGroup(grp("orders-big", 5000, ago(time.Second)))
	w.sink.Fail("team-slack", chattest.Failure{Status: 429, RetryAfter: 1, Times: 1})
	w.sink.Fail("ops-dingtalk", chattest.Failure{DingTalkErrcode: 410100, Body: "send too fast", Times: 1})
	rep := w.run(t)
	if len(rep.Errors) != 0 || !rep.Notifications[0].Sent || !rep.Notifications[1].Sent {
		t.Fatalf("errors %v, notifications %+v", rep.Errors, rep.Notifications)
	}
	if w.sink.Attempts("team-slack") != 2 || w.sink.Attempts("ops-dingtalk") != 2 || len(w.sink.Received()) != 2 {
		t.Errorf("attempts slack %d, dingtalk %d, received %d", w.sink.Attempts("team-slack"), w.sink.Attempts("ops-dingtalk"), len(w.sink.Received()))
	}
	// The next run has nothing new to say: nothing is sent twice.
	if got, _ := w.sent(t, 5*time.Minute); len(got) != 0 {
		t.Errorf("sent again: %v", got)
	}
}

func TestPermanentWebhookErrorSaysWhatToFix(t *testing.T) {
	w := newWorld(t, faultRules)
	w.api.SetGroup(grp("orders-big", 5000, ago(time.Second)))
	w.sink.Fail("ops-dingtalk", chattest.Failure{DingTalkErrcode: 310000, Body: "keywords not in content"})
	rep := w.run(t)
	var ding Notification
	for _, n := range rep.Notifications {
		if n.Channel == "ops-dingtalk" {
			ding = n
		}
	}
	if ding.Sent || !strings.Contains(ding.Error, "310000") || w.sink.Attempts("ops-dingtalk") != 1 {
		t.Errorf("dingtalk %+v after %d attempts", ding, w.sink.Attempts("ops-dingtalk"))
	}
	if ExitCode(rep, nil) != ExitErrors || !strings.Contains(strings.Join(rep.Errors, "\n"), "channel ops-dingtalk") {
		t.Errorf("exit %d, errors %v", ExitCode(rep, nil), rep.Errors)
	}
}
