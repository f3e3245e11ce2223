package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/function"
)

// explain prints, for people, each condition against its thresholds, the
// alert's life and what a run now would send; --json the same for machines.
func TestExplainCommand(t *testing.T) {
	api, _ := setup(t)
	api.SetGroup(behind("orders-eu", 5000, 20*time.Minute))
	file := writeRules(t, goodRules)
	start := time.Now().UTC().Truncate(time.Second)
	if code, _, stderr := cli(t, "run", "--rules", file, "--now", start.Format(time.RFC3339)); code != function.ExitOK {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
	at := start.Add(5 * time.Minute).Format(time.RFC3339)
	code, stdout, stderr := cli(t, "explain", "orders-eu@alikafka_post-cn-cli0001", "--rules", file, "--now", at)
	if code != function.ExitOK {
		t.Fatalf("explain: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{
		"consumer group orders-eu on alikafka_post-cn-cli0001 (cn-hangzhou)",
		"rule orders (line 13) watches it",
		"backlog  5,000 messages at orders-eu: CRITICAL (warning at 100 messages, critical at 1,000 messages)",
		"m at orders-eu: WARNING (warning at 10m)", // 24m or 25m: the fake's clock is the real one,
		"alert    CRITICAL backlog at orders-eu: firing since " + start.Format("2006-01-02 15:04 UTC") + " (5m)",
		"team-slack was told firing at " + start.Format("2006-01-02 15:04 UTC") + "; next reminder at " + start.Add(4*time.Hour).Format("2006-01-02 15:04 UTC"),
		"alert    WARNING stale at orders-eu: firing since",
		"a run now would send nothing about it",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}

	code, stdout, _ = cli(t, "explain", "--rules", file, "--now", at, "--json", "orders-eu")
	var exps []function.Explanation
	if err := json.Unmarshal([]byte(stdout), &exps); code != function.ExitOK || err != nil || len(exps) != 1 || len(exps[0].Rules[0].Alerts) != 2 {
		t.Fatalf("exit %d, %v:\n%s", code, err, stdout)
	}

	for _, tc := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"nope"}, function.ExitErrors, "consumer group nope not found on [alikafka_post-cn-cli0001 (cn-hangzhou)]"},
		{nil, function.ExitSetup, "usage: backlog-alert explain"},
		{[]string{"a", "b"}, function.ExitSetup, "usage: backlog-alert explain"},
		{[]string{"--now", "soon", "orders-eu"}, function.ExitSetup, `--now "soon" is not an RFC 3339 time`},
	} {
		code, _, stderr := cli(t, append([]string{"explain", "--rules", file}, tc.args...)...)
		if code != tc.code || !strings.Contains(stderr, tc.err) {
			t.Errorf("explain %v: exit %d, %q; want %d, %q", tc.args, code, stderr, tc.code, tc.err)
		}
	}
}
