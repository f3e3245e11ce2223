package function

import (
	"github.com/backlog-alert/backlog-alert/lifecycle"
	"strings"
	"testing"
	"time"
)

func TestParseEvent(t *testing.T) {
	tests := []struct {
		name  string
		event string
		want  Overrides
		err   string
	}{
		{"empty body", "", Overrides{}, ""},
		{"null", "null", Overrides{}, ""},
		{"FC timer, empty payload", `{"triggerTime":"2026-11-21T10:00:00Z","triggerName":"every5m","payload":""}`, Overrides{}, ""},
		{"FC timer, JSON payload string", `{"triggerTime":"2026-11-21T10:00:00Z","triggerName":"t","payload":"{\"dry_run\": true, \"rules\": \"/code/other.yaml\"}"}`, Overrides{Rules: "/code/other.yaml", DryRun: true}, ""},
		{"FC timer, object payload", `{"triggerName":"t","payload":{"dry_run":true}}`, Overrides{DryRun: true}, ""},
		{"EventBridge scheduled event", `{"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events","time":"2026-11-21T10:00:00Z","detail":{}}`, Overrides{}, ""},
		{"Scheduler input", `{"rules":"/var/task/rules.yaml"}`, Overrides{Rules: "/var/task/rules.yaml"}, ""},
		{"unknown override key", `{"dryrun":true}`, Overrides{}, `unknown field "dryrun"`},
		{"unknown key in payload", `{"triggerName":"t","payload":"{\"rulez\":\"x\"}"}`, Overrides{}, `trigger payload: must be a JSON object`},
		{"payload that is not JSON", `{"triggerName":"t","payload":"every five minutes"}`, Overrides{}, "trigger payload"},
		{"not an object", `[1,2]`, Overrides{}, "event: not a JSON object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseEvent([]byte(tc.event))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseEvent = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestFetchBudget(t *testing.T) {
	start := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct{ left, reserve time.Duration }{
		{120 * time.Second, 15 * time.Second}, // capped
		{30 * time.Second, 6 * time.Second},   // a fifth
		{5 * time.Second, 2 * time.Second},    // at least 2 s
	} {
		if got := start.Add(tc.left).Sub(fetchBudget(start.Add(tc.left), start)); got != tc.reserve {
			t.Errorf("%v left: reserve %v, want %v", tc.left, got, tc.reserve)
		}
	}
}

func TestBlind(t *testing.T) {
	if Blind(&Report{Groups: 0, Errors: []string{"GetConsumerList i: denied"}}) == nil {
		t.Error("a run that read nothing and failed is blind")
	}
	for _, rep := range []*Report{
		{Groups: 1, Errors: []string{"x"}},
		{Groups: 0},
		{Groups: 0, Missing: []lifecycle.GroupRef{{Group: "g"}}, Errors: []string{"x"}},
	} {
		if err := Blind(rep); err != nil {
			t.Errorf("Blind(%+v) = %v", rep, err)
		}
	}
}
