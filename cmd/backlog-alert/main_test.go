package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/function"
	"github.com/backlog-alert/backlog-alert/notify/chattest"
	"github.com/backlog-alert/backlog-alert/progress"
	"github.com/backlog-alert/backlog-alert/progress/alikafkatest"
)

const (
	akID     = "LTAI5tCliTestKeyId"
	akSecret = "cli-test-access-key-secret"
	stsToken = "CAIS-cli-test-security-token"
	signing  = "SECcli-test-signing-secret"
	robot    = "cli-test-robot-token"
)

// cli runs the command as a process would and returns its exit code and output.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr, os.Getenv)
	return code, stdout.String(), stderr.String()
}

func writeRules(t *testing.T, doc string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// cliChannels are the channels setup points at the sink.
const cliChannels = `channels:
  team-slack:
    type: slack
    webhook_url: ${SLACK_URL}
  ops-dingtalk:
    type: dingtalk
    webhook_url: ${DINGTALK_URL}
    secret: ${DINGTALK_SECRET}
`

const goodRules = `version: 1
defaults:
  region: cn-hangzhou
` + cliChannels + `rules:
  - name: orders
    instance: alikafka_post-cn-cli0001
    groups: ["orders-*"]
    backlog: {warning: 100, critical: 1000}
    stale: {warning: 10m}
    notify: [team-slack, ops-dingtalk]
`

// setup starts the fakes and points the environment at them, the way an
// operator's shell would.
func setup(t *testing.T) (*alikafkatest.Server, *chattest.Server) {
	t.Helper()
	api := alikafkatest.NewServer(alikafkatest.Credentials{AccessKeyID: akID, AccessKeySecret: akSecret, SecurityToken: stsToken})
	t.Cleanup(api.Close)
	sink := chattest.NewServer()
	t.Cleanup(sink.Close)
	sink.RequireDingTalkSecret("ops-dingtalk", signing)
	for k, v := range map[string]string{
		"ALIBABA_CLOUD_ACCESS_KEY_ID":         akID,
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET":     akSecret,
		"ALIBABA_CLOUD_SECURITY_TOKEN":        stsToken,
		"ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
		"BACKLOG_ALERT_ENDPOINT":              api.URL,
		"SLACK_URL":                           sink.SlackURL("team-slack"),
		"DINGTALK_URL":                        sink.DingTalkURL("ops-dingtalk", robot),
		"DINGTALK_SECRET":                     signing,
		"XDG_STATE_HOME":                      t.TempDir(), // each test its own state
		"BACKLOG_ALERT_STATE":                 "",
	} {
		t.Setenv(k, v)
	}
	return api, sink
}

func behind(name string, lag int64, age time.Duration) progress.Group {
	ts := time.Now().Add(-age).UnixMilli()
	return progress.Group{Region: "cn-hangzhou", Instance: "alikafka_post-cn-cli0001", Group: name, TotalDiff: lag, LastTimestamp: ts,
		Topics: []progress.Topic{{Topic: "orders", TotalDiff: lag, LastTimestamp: ts,
			Partitions: []progress.Partition{{Partition: 0, BrokerOffset: 100 + lag, ConsumerOffset: 100, LastTimestamp: ts}}}}}
}

func TestRunJSONReport(t *testing.T) {
	api, sink := setup(t)
	api.SetGroup(behind("orders-eu", 5000, 20*time.Minute))
	api.SetGroup(behind("orders-us", 1, time.Second))
	code, stdout, stderr := cli(t, "run", "--rules", writeRules(t, goodRules), "--json")
	if code != function.ExitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var rep struct {
		Groups int `json:"groups"`
		Alerts []struct {
			Rule, Instance, Group, Condition, Severity string
			Value, Threshold                           int64
		} `json:"alerts"`
		Notifications []struct {
			Channel string
			Sent    bool
		} `json:"notifications"`
		Errors []string `json:"errors"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, stdout)
	}
	if rep.Groups != 2 || len(rep.Alerts) != 2 || len(rep.Errors) != 0 {
		t.Fatalf("report = %+v", rep)
	}
	a := rep.Alerts[0]
	if a.Rule != "orders" || a.Group != "orders-eu" || a.Condition != "backlog" || a.Severity != "critical" || a.Value != 5000 || a.Threshold != 1000 {
		t.Errorf("alert = %+v", a)
	}
	if len(rep.Notifications) != 2 || !rep.Notifications[0].Sent || !rep.Notifications[1].Sent || len(sink.Received()) != 2 {
		t.Errorf("notifications = %+v, sink got %d", rep.Notifications, len(sink.Received()))
	}
}

func TestRunDryRunPrintsMessages(t *testing.T) {
	api, sink := setup(t)
	api.SetGroup(behind("orders-eu", 5000, time.Minute))
	code, stdout, stderr := cli(t, "run", "--rules", writeRules(t, goodRules), "--dry-run")
	if code != function.ExitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if len(sink.Received()) != 0 {
		t.Fatal("dry run sent messages")
	}
	for _, want := range []string{"team-slack (slack), dry run", "ops-dingtalk (dingtalk), dry run", "orders-eu", "5,000"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}

func TestRulesFileFromEnvironment(t *testing.T) {
	setup(t)
	t.Setenv("BACKLOG_ALERT_RULES", writeRules(t, goodRules))
	if code, stdout, stderr := cli(t, "validate"); code != 0 || !strings.Contains(stdout, "is valid: 1 rules, 2 channels") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
}

func TestValidateShowsLanguageZoneAndAnnotations(t *testing.T) {
	_, sink := setup(t)
	to := " to " + hostOf(t, sink.SlackURL("team-slack")) // where the channels post: the host only
	localized := strings.NewReplacer(
		"  region: cn-hangzhou\n", "  region: cn-hangzhou\n  language: zh-CN\n  timezone: Asia/Shanghai\n  annotations:\n    owner: \"@kafka-oncall\"\n",
		"    secret: ${DINGTALK_SECRET}\n", "    secret: ${DINGTALK_SECRET}\n    language: en\n    timezone: UTC\n",
		"    notify: [team-slack, ops-dingtalk]\n", "    notify: [team-slack, ops-dingtalk]\n    annotations:\n"+
			"      dashboard_url: \"https://grafana.example.com/d/kafka?var-group={{ .Group }}\"\n"+
			"      runbook_url: \"https://wiki.example.com/runbooks/kafka-lag#{{ .Group }}\"\n"+
			"      summary: \"{{ .Group }} on {{ .Instance }} is behind\"\n",
	).Replace(goodRules)
	tests := []struct {
		name, doc string
		want      []string // whole lines
		not       []string
	}{
		{"built-in defaults", goodRules, []string{
			"channel team-slack: slack" + to + ", language en, time zone UTC",
			"channel ops-dingtalk: dingtalk" + to + ", signed, language en, time zone UTC",
		}, []string{"annotations"}},
		{"defaults and a channel's own", localized, []string{
			"channel team-slack: slack" + to + ", language zh-CN, time zone Asia/Shanghai",
			"channel ops-dingtalk: dingtalk" + to + ", signed, language en, time zone UTC",
			"  annotations summary, owner, runbook_url, dashboard_url",
		}, nil},
		{"a rule dropping the default", strings.Replace(localized, "      summary:", "      owner: \"\"\n      summary:", 1), []string{
			"  annotations summary, runbook_url, dashboard_url",
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr := validateShows(t, tc.doc, tc.want, tc.not)
			for _, secret := range []string{sink.SlackURL("team-slack"), sink.DingTalkURL("ops-dingtalk", robot), robot, signing, "webhook"} {
				if strings.Contains(stdout+stderr, secret) {
					t.Errorf("validate printed %q", secret)
				}
			}
		})
	}
}

// validateShows runs validate on doc and checks that its output has every
// line of want, whole, and none of not anywhere (stderr included).
func validateShows(t *testing.T, doc string, want, not []string) (stdout, stderr string) {
	t.Helper()
	code, stdout, stderr := cli(t, "validate", "--rules", writeRules(t, doc))
	if code != function.ExitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	lines := strings.Split(stdout, "\n")
	for _, w := range want {
		if !slices.Contains(lines, w) {
			t.Errorf("no line %q in:\n%s", w, stdout)
		}
	}
	for _, n := range not {
		if strings.Contains(stdout+stderr, n) {
			t.Errorf("validate printed %q:\n%s", n, stdout)
		}
	}
	return stdout, stderr
}

func TestValidateSlackApp(t *testing.T) {
	_, sink := setup(t)
	to := " to " + hostOf(t, sink.SlackURL("team-slack"))
	const botToken = "xoxb-1111111111-2222222222-cliTestBotTokenValue"
	t.Setenv("SLACK_BOT_TOKEN", botToken)
	app := func(extra string) string {
		return strings.Replace(goodRules, "rules:\n", "  payments-app:\n    type: slack\n    token: ${SLACK_BOT_TOKEN}\n    channel: C0123456789\n"+extra+"rules:\n", 1)
	}
	tests := []struct {
		name, doc string
		want      []string // whole lines
		not       []string
	}{
		{"defaults", app(""), []string{
			"channel payments-app: slack app, channel C0123456789, token xoxb-…(redacted), language en, time zone UTC",
			"channel team-slack: slack" + to + ", language en, time zone UTC",
			"channel ops-dingtalk: dingtalk" + to + ", signed, language en, time zone UTC",
		}, []string{"slack.com", "reminders", "digest"}},
		{"everything set", app("    thread_reminders: false\n    digest_after: 3\n    api_url: http://127.0.0.1:9/fake-api\n    language: zh-CN\n"), []string{
			"channel payments-app: slack app, channel C0123456789, token xoxb-…(redacted), reminders not threaded, digest above 3 new alerts, api 127.0.0.1:9, language zh-CN, time zone UTC",
		}, []string{"fake-api"}},
		{"the default api_url spelled out", app("    api_url: https://slack.com/api\n"), []string{
			"channel payments-app: slack app, channel C0123456789, token xoxb-…(redacted), language en, time zone UTC",
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			validateShows(t, tc.doc, tc.want, append(tc.not, botToken, "1111111111", "cliTest", "xoxb-1"))
		})
	}

	// A broken app channel: the error names the field and shows no token.
	for _, token := range []string{"xoxp-3333333333-cliTestUserToken", "cliTest-not-a-token"} {
		t.Setenv("SLACK_BOT_TOKEN", token)
		code, stdout, stderr := cli(t, "validate", "--rules", writeRules(t, app("")))
		if code != function.ExitSetup || !strings.Contains(stderr, ":14: channels.payments-app.token: ") {
			t.Errorf("%s: exit %d, stderr %q", token, code, stderr)
		}
		if strings.Contains(stdout+stderr, "cliTest") || strings.Contains(stdout+stderr, "3333333333") {
			t.Errorf("validate printed the token: %q", stdout+stderr)
		}
	}
}

func TestBadRulesExitTwoWithOneLine(t *testing.T) {
	setup(t)
	tests := []struct {
		name, doc, want string
	}{
		{"unknown key", strings.Replace(goodRules, "    notify:", "    notfy: [x]\n    notify:", 1), `:18: rules[0].notfy: unknown key`},
		{"bad duration", strings.Replace(goodRules, "warning: 10m", "warning: 10mins", 1), `:17: rules[0].stale.warning: "10mins" is not a positive duration`},
		{"undefined variable", strings.Replace(goodRules, "${SLACK_URL}", "${NOT_SET_ANYWHERE}", 1), ":7: channels.team-slack.webhook_url: environment variable NOT_SET_ANYWHERE is not set"},
		{"unknown channel", strings.Replace(goodRules, "[team-slack, ops-dingtalk]", "[team-slack, ops-dingtlk]", 1), `:18: rules[0].notify[1]: unknown channel "ops-dingtlk"`},
		{"yaml syntax", strings.Replace(goodRules, `groups: ["orders-*"]`, `groups: ["orders-*"`, 1), ":15: YAML syntax:"},
		{"unknown language", strings.Replace(goodRules, "    secret: ${DINGTALK_SECRET}\n", "    secret: ${DINGTALK_SECRET}\n    language: zh\n", 1), `:12: channels.ops-dingtalk.language: unknown language "zh" (en or zh-CN)`},
		{"bad annotation", goodRules + "    annotations:\n      summary: \"{{ .Owner }}\"\n", ":20: rules[0].annotations.summary: template: can't evaluate field Owner (fields: Rule, Region, Instance, Group, Topic, Partition)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeRules(t, tc.doc)
			for _, cmd := range []string{"validate", "run"} {
				code, stdout, stderr := cli(t, cmd, "--rules", path)
				if code != function.ExitSetup {
					t.Errorf("%s: exit %d, want 2", cmd, code)
				}
				// A broken rules file is also told to its channels (logged);
				// the error itself is one line.
				var lines []string
				for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
					if !strings.HasPrefix(l, "time=") {
						lines = append(lines, l)
					}
				}
				line := strings.Join(lines, "\n")
				if strings.Count(line, "\n") != 0 || !strings.HasPrefix(line, path) || !strings.Contains(line, tc.want) {
					t.Errorf("%s: stderr = %q, want one line starting with the path and containing %q", cmd, stderr, tc.want)
				}
				if stdout != "" {
					t.Errorf("%s: stdout = %q", cmd, stdout)
				}
			}
		})
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	for _, args := range [][]string{nil, {"frobnicate"}, {"run", "--no-such-flag"}, {"validate", "extra"}} {
		if code, _, _ := cli(t, args...); code != function.ExitSetup {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func TestMissingCredentialsExitTwo(t *testing.T) {
	setup(t)
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "")
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "")
	t.Setenv("ALIBABA_CLOUD_SECURITY_TOKEN", "")
	t.Setenv("HOME", t.TempDir()) // no CLI profile or credentials file either
	t.Setenv("ALIBABA_CLOUD_CONFIG_FILE", "")
	t.Setenv("ALIBABA_CLOUD_CREDENTIALS_FILE", "")
	code, _, stderr := cli(t, "run", "--rules", writeRules(t, goodRules))
	if code != function.ExitSetup || !strings.Contains(stderr, "ALIBABA_CLOUD_ACCESS_KEY_ID") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestDemo(t *testing.T) {
	code, stdout, stderr := cli(t, "demo")
	if code != function.ExitOK {
		t.Fatalf("demo exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"=== team-slack (slack) received ===",
		"=== ops-dingtalk (dingtalk) received ===",
		"orders-payments", "billing", "analytics-clicks / pageviews",
		"analytics-clicks / clicks on alikafka_post-cn-demo0001 has lag but no timestamp",
		"5 consumer groups read, 4 alerts",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	// The idle group and the excluded group must not alert anywhere.
	received := stdout[strings.Index(stdout, "received ==="):]
	for _, quiet := range []string{"analytics-daily", "orders-test", "orders-api"} {
		if strings.Contains(received, quiet) {
			t.Errorf("%s alerted in the demo", quiet)
		}
	}
}

// TestNoSecretInAnyOutput greps everything succeeding and failing runs print.
func TestNoSecretInAnyOutput(t *testing.T) {
	secrets := []string{akSecret, stsToken, signing, robot, "/services/T"}
	signature := regexp.MustCompile(`Signature=[^*]`)
	var outputs []string
	collect := func(args ...string) int {
		code, stdout, stderr := cli(t, args...)
		outputs = append(outputs, stdout, stderr)
		return code
	}

	api, sink := setup(t)
	api.SetGroup(behind("orders-eu", 5000, time.Hour))
	api.SetGroup(behind("orders-us", 5000, time.Hour))
	path := writeRules(t, goodRules)
	t.Setenv("BACKLOG_ALERT_LOG_LEVEL", "debug")
	if code := collect("run", "--rules", path); code != 0 {
		t.Fatalf("succeeding run exit %d", code)
	}
	collect("run", "--rules", path, "--json")
	collect("run", "--rules", path, "--dry-run")
	collect("validate", "--rules", path)

	t.Setenv("XDG_STATE_HOME", t.TempDir()) // fresh state: the alerts are news again
	sink.Fail("team-slack", chattest.Failure{Status: 403, Body: "invalid_token"})
	sink.Fail("ops-dingtalk", chattest.Failure{DingTalkErrcode: 300001})
	api.Inject(alikafkatest.Fault{Group: "orders-eu", HTTPStatus: 403, Code: "Forbidden.RAM", Message: "User not authorized to operate on the specified resource."})
	if code := collect("run", "--rules", path, "--json"); code != function.ExitErrors {
		t.Errorf("failing run exit %d, want 1", code)
	}
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "a-wrong-secret-value")
	collect("run", "--rules", path)
	t.Setenv("BACKLOG_ALERT_ENDPOINT", "http://127.0.0.1:1")
	collect("run", "--rules", path)
	collect("run", "--rules", writeRules(t, strings.Replace(goodRules, "version: 1", "version: 1\nbogus: ${DINGTALK_SECRET}", 1)))

	all := strings.Join(outputs, "\n")
	if !strings.Contains(all, "invalid_token") || !strings.Contains(all, "Forbidden.RAM") || !strings.Contains(all, "SignatureDoesNotMatch") {
		t.Fatalf("the failing runs did not fail as planned:\n%s", all)
	}
	for _, s := range append(secrets, "a-wrong-secret-value") {
		if strings.Contains(all, s) {
			t.Errorf("output contains secret %q", s)
		}
	}
	if signature.MatchString(all) {
		t.Error("output contains a request signature")
	}
}

// hostOf is a URL's host, as validate shows where a channel posts.
func hostOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// DEBUG=sdk would make the SDK print signed requests to stdout, credentials
// and all: every command that may call the OpenAPI refuses to start, before
// any call.
func TestSDKDebugRefused(t *testing.T) {
	w := newPlatformWorld(t)
	creds := []string{"ALIBABA_CLOUD_ACCESS_KEY_ID=" + akID, "ALIBABA_CLOUD_ACCESS_KEY_SECRET=" + akSecret, "ALIBABA_CLOUD_SECURITY_TOKEN=" + stsToken}
	for _, debug := range []string{"sdk", "tea,sdk"} {
		for _, args := range [][]string{{"run", "--json"}, {"serve"}} {
			t.Run(debug+"/"+args[0], func(t *testing.T) {
				env := append(append([]string{"DEBUG=" + debug, "FC_CUSTOM_LISTEN_PORT=" + strconv.Itoa(freePort(t))}, w.env...), creds...)
				p := start(t, env, args...)
				err := p.cmd.Wait()
				if code := p.cmd.ProcessState.ExitCode(); code != 2 {
					t.Fatalf("exit %d (%v), want 2", code, err)
				}
				if !strings.Contains(p.stderr.String(), "unset DEBUG") {
					t.Errorf("stderr does not say what to do: %s", p.stderr)
				}
				assertNoSecrets(t, "stdout", p.stdout.String())
				assertNoSecrets(t, "stderr", p.stderr.String())
				if strings.Contains(p.stdout.String()+p.stderr.String(), akID) {
					t.Errorf("the AccessKey ID was printed")
				}
			})
		}
	}
	if n := len(w.api.Requests()); n != 0 {
		t.Errorf("%d OpenAPI calls were made", n)
	}
}

// validate says how long reading takes at api.qps, and warns when the named
// groups alone do not fit in a run's default time.
func TestValidateReadingTime(t *testing.T) {
	const doc = `version: 1
defaults: {region: cn-hangzhou, notify: [s]}
%s
channels:
  s: {type: slack, webhook_url: "https://hooks.slack.com/services/T0/B0/x"}
rules:
  - name: a
    instance: i-1
    groups: ["a", "b", "c*"]
    backlog: {warning: 10}
  - name: b
    instance: i-1
    groups: ["a", "d*"]
    backlog: {warning: 10}
`
	for _, tc := range []struct {
		qps, says string
		warns     string // "" for no warning
	}{
		{"api: {qps: 10}", "reading: 3 calls at api.qps 10/s take 0s, plus 100ms per group the globs select", ""},
		{"api: {qps: 0.01}", "reading: 3 calls at api.qps 0.01/s take 5m0s", "warning: that is more than the 3m45s a run with --timeout 4m0s has for reading"},
		{"api: {qps: 0.025}", "reading: 3 calls at api.qps 0.025/s take 2m0s", "warning: that is more than the 1m45s a function deployed with s.yaml or template.yaml (timeout 120 s) has for reading"},
		{"", "reading: 3 calls at api.qps 50/s take 0s, plus 20ms per group the globs select", ""}, // the default
	} {
		code, out, _ := cli(t, "validate", "--rules", writeRules(t, fmt.Sprintf(doc, tc.qps)))
		warned := strings.Contains(out, "warning: that is more than")
		if code != 0 || !strings.Contains(out, tc.says) || warned != (tc.warns != "") || !strings.Contains(out, tc.warns) {
			t.Errorf("qps %s: exit %d:\n%s", tc.qps, code, out)
		}
	}
}

// validate shows which instances a rule watches, its tags and its routes,
// and what watching every instance adds to the reading time.
func TestValidateInstancesTagsAndRoutes(t *testing.T) {
	validateShows(t, `version: 1
defaults: {region: cn-hangzhou, notify: [ops]}
channels:
  ops: {type: slack, webhook_url: "https://hooks.slack.com/services/T0/B0/x"}
  pay: {type: slack, webhook_url: "https://hooks.slack.com/services/T0/B1/y"}
rules:
  - name: teams
    instance: "*"
    groups: ["*"]
    exclude_groups: ["*-test"]
    group_tags: {env: prod, team: "*"}
    backlog: {warning: 10k}
    routes: {tag: team, to: {payments: [pay]}}
  - name: two
    instance: [i-1, i-2]
    groups: [a]
    backlog: {warning: 10}
`, []string{
		"  every running instance in cn-hangzhou",
		"  groups   [*] except [*-test] tagged env=prod, team=*",
		"  route    team=payments to [pay]",
		"  route    any other team to [ops]",
		"  instance i-1, i-2 in cn-hangzhou",
		"reading: 3 calls at api.qps 50/s take 0s, plus 20ms per group the globs select; every running instance of cn-hangzhou adds its listing and its groups",
	}, nil)
}
