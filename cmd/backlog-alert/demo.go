package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/backlog-alert/backlog-alert/function"
	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/notify/chattest"
	"github.com/backlog-alert/backlog-alert/notify/feishu/feishutest"
	"github.com/backlog-alert/backlog-alert/notify/slack/slackapitest"
	"github.com/backlog-alert/backlog-alert/notify/wecom/wecomtest"
	"github.com/backlog-alert/backlog-alert/progress"
	"github.com/backlog-alert/backlog-alert/progress/alikafka"
	"github.com/backlog-alert/backlog-alert/progress/alikafkatest"
	"github.com/backlog-alert/backlog-alert/propose"
	"github.com/backlog-alert/backlog-alert/rules"
)

const demoInstance = "alikafka_post-cn-demo0001"

// demoCmd runs the embedded example rules three times over simulated time
// against a fake alikafka endpoint and a local chat sink, both in this
// process: no credentials, no network.
func demoCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("demo", stderr)
	asJSON := fs.Bool("json", false, "print each run's report as JSON instead of the readable walk-through")
	if fs.Parse(args) != nil || fs.NArg() > 0 {
		return function.ExitSetup
	}
	creds := alikafka.Credentials{AccessKeyID: "demo-access-key-id", AccessKeySecret: "demo-access-key-secret"}
	api := alikafkatest.NewServer(creds)
	defer api.Close()
	sink := chattest.NewServer()
	defer sink.Close()
	const signing = "SECdemo-signing-secret"
	sink.RequireDingTalkSecret("ops-dingtalk", signing)
	dir, err := os.MkdirTemp("", "backlog-alert-demo")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return function.ExitErrors
	}
	defer os.RemoveAll(dir)

	env := map[string]string{
		"SLACK_WEBHOOK_URL":    sink.SlackURL("team-slack"),
		"DINGTALK_WEBHOOK_URL": sink.DingTalkURL("ops-dingtalk", "demo-robot-token"),
		"DINGTALK_SECRET":      signing,
	}
	file, err := rules.Parse("rules/example.yaml (embedded)", rules.Example, func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return function.ExitSetup
	}
	slackAPI := slackapitest.NewServer(demoBotToken)
	defer slackAPI.Close()
	slackAPI.AddChannel(demoAppID)
	feishuBot := feishutest.NewServer()
	defer feishuBot.Close()
	feishuBot.RequireSecret("ops", demoFeishuSecret)
	wecomBot := wecomtest.NewServer()
	defer wecomBot.Close()
	if err := addDemoChannels(file, fmt.Sprintf(demoChannels, slackAPI.URL, feishuBot.Hook("ops", "demo-feishu-token"), wecomBot.WebhookURL("demo-wecom-key"))); err != nil {
		fmt.Fprintln(stderr, err)
		return function.ExitSetup
	}
	if !*asJSON {
		fmt.Fprintf(stdout, "backlog-alert demo: rules/example.yaml against a fake alikafka endpoint (%s),\n", api.URL)
		fmt.Fprintf(stdout, "three runs ten minutes apart, with state kept between them. The orders rule also\n")
		fmt.Fprintf(stdout, "tells a Feishu bot and a WeCom robot, in Chinese, and %s, a Slack app channel\n", demoAppChannel)
		fmt.Fprintf(stdout, "(local fakes of each service): one living message per alert there, posted once,\n")
		fmt.Fprintf(stdout, "then updated and replied to in its thread.\n")
		fmt.Fprintf(stdout, "First, init proposes a rules file from what the endpoint serves.\n")
	}
	start := time.Now().Add(-20 * time.Minute).Truncate(time.Minute)
	if !*asJSON { // the JSON output is the runs' reports only
		if code := demoInit(ctx, api, creds, start, stdout, stderr); code != function.ExitOK {
			return code
		}
	}
	code := function.ExitOK
	for run, story := range demoStories {
		now := start.Add(time.Duration(run) * 10 * time.Minute)
		for _, g := range demoGroups(now, run) {
			api.SetGroup(g)
		}
		seen, seenCalls := len(sink.Received()), len(slackAPI.Calls())
		seenFeishu, seenWeCom := len(feishuBot.Received()), len(wecomBot.Received())
		rep, err := function.Run(ctx, function.Options{
			Rules:       file,
			Now:         now,
			Credentials: &creds,
			Endpoint:    api.URL,
			State:       filepath.Join(dir, "state.json"),
			// The runs are minutes apart in simulated time only: pacing the
			// local sink at Slack's 1/s would just slow the demo.
			NotifyOptions: []notify.Option{notify.WithLimiter(nil)},
			Logger:        slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		})
		if err != nil || *asJSON {
			if c := finish(rep, err, *asJSON, stdout, stderr); c != function.ExitOK {
				return c
			}
			continue
		}
		fmt.Fprintf(stdout, "\n######## Run %d at %s ########\n%s\n", run+1, now.UTC().Format("15:04 UTC"), story)
		received := sink.Received()[seen:]
		calls := slackAPI.Calls()[seenCalls:]
		for _, r := range feishuBot.Received()[seenFeishu:] {
			received = append(received, chattest.Received{Channel: "ops-feishu", Kind: "feishu", Body: []byte(r.Readable())})
		}
		for _, r := range wecomBot.Received()[seenWeCom:] {
			received = append(received, chattest.Received{Channel: "ops-wecom", Kind: "wecom", Body: []byte(r.Readable())})
		}
		if len(received) == 0 && len(calls) == 0 {
			fmt.Fprintln(stdout, "\nNo channel hears anything in this run.")
		}
		for _, r := range received {
			fmt.Fprintf(stdout, "\n=== %s (%s) received ===\n%s\n", r.Channel, r.Kind, strings.TrimRight(r.Readable(), "\n"))
		}
		if len(calls) > 0 {
			fmt.Fprintf(stdout, "\n=== %s (Slack app, channel %s): Web API calls ===\n", demoAppChannel, demoAppID)
		}
		for _, c := range calls {
			fmt.Fprintf(stdout, "%s\n    %s\n", describeCall(c), c.Text)
		}
		fmt.Fprintf(stdout, "\n--- run %d report ---\n", run+1)
		code = max(code, finish(rep, nil, false, stdout, stderr))
	}
	if !*asJSON {
		fmt.Fprintf(stdout, "\nThe fake endpoint verified %d signed OpenAPI calls.\n", len(api.Requests()))
	}
	return code
}

// demoInit is the demo's first step: init against the fake endpoint as it
// is at the first run, printing the rules file it would write.
func demoInit(ctx context.Context, api *alikafkatest.Server, creds alikafka.Credentials, now time.Time, stdout, stderr io.Writer) int {
	api.SetInstanceMeta("cn-hangzhou", demoInstance, alikafkatest.InstanceMeta{Name: "demo"})
	for _, g := range demoGroups(now, 0) { // what the first run reads, set again there
		api.SetGroup(g)
	}
	// At the first run's time, as the runs' ages are.
	d, err := propose.Discover(ctx, propose.Options{Regions: []string{"cn-hangzhou"}, Credentials: creds, Endpoint: api.URL,
		Now: func() time.Time { return now }})
	if err != nil {
		fmt.Fprintln(stderr, "init:", err)
		return function.ExitErrors
	}
	p, err := propose.Propose(d, propose.Params{Path: "rules.yaml", Generated: now})
	if err != nil {
		fmt.Fprintln(stderr, "init:", err)
		return function.ExitErrors
	}
	fmt.Fprintf(stdout, "\n######## Step 0: backlog-alert init --region cn-hangzhou ########\n")
	fmt.Fprintf(stdout, "init lists the region's instances, their consumer groups, and reads each group once. It\n")
	fmt.Fprintf(stdout, "proposes one rule for the instance: globs where names share a prefix, the test group left\n")
	fmt.Fprintf(stdout, "out, thresholds from the backlog it saw (not from the groups already behind: those alert),\n")
	fmt.Fprintf(stdout, "and a placeholder Slack channel. The file it would write:\n\n%s\n", p.Document)
	writeInitSummary(stdout, d, p, "", "")
	fmt.Fprintf(stdout, "The runs below use rules/example.yaml: such a proposal, edited by hand (a \"for\" before\n")
	fmt.Fprintf(stdout, "paging, a rule per team, a DingTalk channel, annotations).\n")
	return function.ExitOK
}

const (
	demoAppChannel = "payments-slack-app"
	demoAppID      = "C0DEMO0001"
	demoBotToken   = "xoxb-0-demo-bot-token"
)

const demoFeishuSecret = "demo-feishu-signing-secret"

// demoChannels are the channels the demo adds to the example's orders
// rule, talking to local fakes (the Web API's URL, Feishu's and WeCom's
// webhooks): the example itself stays deployable with two webhooks.
const demoChannels = `version: 1
channels:
  ` + demoAppChannel + `:
    type: slack
    token: ` + demoBotToken + `
    channel: ` + demoAppID + `
    api_url: %s/
  ops-feishu:
    type: feishu
    webhook_url: %s
    secret: ` + demoFeishuSecret + `
    language: zh-CN
    timezone: Asia/Shanghai
  ops-wecom:
    type: wecom
    webhook_url: %s
    language: zh-CN
    timezone: Asia/Shanghai
rules:
  - {name: x, instance: x, region: cn-hangzhou, groups: [x], stuck: {warning: 1m}, notify: [` + demoAppChannel + `]}
`

// addDemoChannels parses doc's channels (checked like any rules file's) and
// has the orders rule notify them too.
func addDemoChannels(file *rules.File, doc string) error {
	extra, err := rules.Parse("demo channels", []byte(doc), func(string) (string, bool) { return "", false })
	if err != nil {
		return err
	}
	file.Channels = append(file.Channels, extra.Channels...)
	file.Secrets = append(file.Secrets, extra.Secrets...)
	for i := range file.Rules {
		if file.Rules[i].Name == "orders" {
			for _, c := range extra.Channels {
				file.Rules[i].Notify = append(file.Rules[i].Notify, c.Name)
			}
		}
	}
	return nil
}

// describeCall is one Web API call for the demo's reader.
func describeCall(c slackapitest.Call) string {
	switch {
	case c.Error != "":
		return fmt.Sprintf("%s → %s", c.Method, c.Error)
	case c.Method == "chat.update":
		return "chat.update of the message " + c.TS
	case c.ThreadTS != "" && c.ReplyBroadcast:
		return "chat.postMessage, a reply in the thread of " + c.ThreadTS + ", also sent to the channel"
	case c.ThreadTS != "":
		return "chat.postMessage, a reply in the thread of " + c.ThreadTS
	}
	return "chat.postMessage, a new message " + c.TS
}

// demoStories say what each run shows.
var demoStories = []string{
	`team-slack speaks English in UTC; ops-dingtalk speaks Chinese in Beijing time
(language: zh-CN, timezone: Asia/Shanghai): the same alerts, each in its own words.
orders-payments has a large backlog and billing's consumer has stopped: both hold for
"for: 5m" before paging, so they are pending and nobody is paged yet. analytics-clicks'
pageviews topic is 20 minutes stale and fires at once (its rule has no "for").
orders-api is healthy, orders-test is excluded, analytics-daily is idle and caught up
(an old timestamp with no lag never alerts), and the clicks topic has lag but no
timestamp: its staleness is unknown and the report says so.`,
	`The orders alerts held for 10 minutes: they fire, with trends since the first run,
the rule's summary, owner and runbook link. billing is both stale and behind: one section
says both.
pageviews is still stale, but its channel was told 10 minutes ago: the reminder is
held back until "repeat: 4h".`,
	`billing's consumer restarted and pageviews caught up: their alerts resolve.
orders-payments is draining but still critical: nothing new to say, so nothing is sent. The clicks topic's
committed offsets have not moved for 20 minutes while it has lag: "stuck" fires, even
though the service gives no timestamp for it, and says the offsets may have stopped before
monitoring began.`,
}

// demoGroups is the scenario as the service reports it at a run.
func demoGroups(now time.Time, run int) []progress.Group {
	ago := func(d time.Duration) int64 { return now.Add(-d).UnixMilli() }
	minutes := int64(run * 10)
	fresh := ago(20 * time.Second)
	// payments: 10k/min produced, 13k/min consumed: draining, slowly.
	payments := demoTopic("payments", 12, 1_000_000+10_000*minutes, 1_000_000-242_000+13_000*minutes, fresh)
	// billing: stopped for 47 minutes at the first run; restarted before the third.
	billing := demoTopic("billing-events", 6, 500_000+300*minutes, 482_000, ago(time.Duration(47+minutes)*time.Minute))
	if run == 2 {
		billing = demoTopic("billing-events", 6, 500_000+300*minutes, 500_000+300*minutes-400, fresh)
	}
	pageviews := demoTopic("pageviews", 4, 80_000+100*minutes, 80_000-40, ago(time.Duration(20+minutes)*time.Minute))
	if run == 2 {
		pageviews = demoTopic("pageviews", 4, 80_000+100*minutes, 80_000+100*minutes, fresh)
	}
	return []progress.Group{
		demoGroupOf("orders-api", demoTopic("orders", 12, 2_000_000+5_000*minutes, 2_000_000+5_000*minutes-36, ago(4*time.Second))),
		demoGroupOf("orders-payments", payments),
		demoGroupOf("billing", billing),
		demoGroupOf("orders-test", demoTopic("orders", 12, 900_000, 300_000, ago(2*time.Hour))),
		demoGroupOf("analytics-daily", demoTopic("daily-rollup", 4, 7_000, 7_000, ago(72*time.Hour))),
		demoGroupOf("analytics-clicks", demoTopic("clicks", 8, 300_000+900*minutes, 291_000, -1), pageviews),
	}
}

func demoGroupOf(name string, topics ...progress.Topic) progress.Group {
	g := progress.Group{Region: "cn-hangzhou", Instance: demoInstance, Group: name, LastTimestamp: -1, Topics: topics}
	for _, t := range topics {
		g.TotalDiff += t.TotalDiff
		g.LastTimestamp = max(g.LastTimestamp, t.LastTimestamp)
	}
	return g
}

// demoTopic spreads the broker and consumer offsets evenly over n partitions.
func demoTopic(name string, n int, broker, consumer, ts int64) progress.Topic {
	t := progress.Topic{Topic: name, LastTimestamp: ts}
	for p := range n {
		b, c := share(broker, n, p), share(consumer, n, p)
		t.Partitions = append(t.Partitions, progress.Partition{Partition: p, BrokerOffset: b, ConsumerOffset: c, LastTimestamp: ts})
		t.TotalDiff += max(b-c, 0)
	}
	return t
}

// share is partition p's part of total spread over n partitions.
func share(total int64, n, p int) int64 {
	part := total / int64(n)
	if p == n-1 {
		part += total % int64(n)
	}
	return part
}
