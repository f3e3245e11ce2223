package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/backlog-alert/backlog-alert/function"
	"github.com/backlog-alert/backlog-alert/notify/chattest"
	"github.com/backlog-alert/backlog-alert/progress"
	"github.com/backlog-alert/backlog-alert/progress/alikafka"
	"github.com/backlog-alert/backlog-alert/progress/alikafkatest"
	"github.com/backlog-alert/backlog-alert/rules"
)

const demoInstance = "alikafka_post-cn-demo0001"

// demoCmd runs the embedded example rules against a fake alikafka endpoint
// and a local chat sink, both in this process: no credentials, no network.
func demoCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("demo", stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON instead of the readable walk-through")
	if fs.Parse(args) != nil || fs.NArg() > 0 {
		return function.ExitSetup
	}
	creds := alikafka.Credentials{AccessKeyID: "demo-access-key-id", AccessKeySecret: "demo-access-key-secret"}
	api := alikafkatest.NewServer(alikafkatest.Credentials(creds))
	defer api.Close()
	sink := chattest.NewServer()
	defer sink.Close()
	const signing = "SECdemo-signing-secret"
	sink.RequireDingTalkSecret("ops-dingtalk", signing)

	now := time.Now()
	scenario := demoScenario(now)
	for _, g := range scenario {
		api.SetGroup(g.group)
	}
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
	rep, err := function.Run(ctx, function.Options{
		Rules:       file,
		Now:         now,
		Credentials: &creds,
		Endpoint:    api.URL,
		Logger:      slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil || *asJSON {
		return finish(rep, err, *asJSON, stdout, stderr)
	}

	fmt.Fprintf(stdout, "backlog-alert demo: the example rules against a fake alikafka endpoint (%s)\n\n", api.URL)
	fmt.Fprintf(stdout, "Consumer groups on %s:\n", demoInstance)
	for _, g := range scenario {
		fmt.Fprintf(stdout, "  %-17s %s\n", g.group.Group, g.story)
	}
	fmt.Fprintf(stdout, "\nThe fake endpoint verified %d signed OpenAPI calls.\n", len(api.Requests()))
	for _, r := range sink.Received() {
		fmt.Fprintf(stdout, "\n=== %s (%s) received ===\n%s\n", r.Channel, r.Kind, strings.TrimRight(r.Readable(), "\n"))
	}
	fmt.Fprintln(stdout, "\n=== Run report ===")
	return finish(rep, nil, false, stdout, stderr)
}

type demoGroup struct {
	group progress.Group
	story string
}

func demoScenario(now time.Time) []demoGroup {
	ago := func(d time.Duration) int64 { return now.Add(-d).UnixMilli() }
	return []demoGroup{
		{demoGroupOf("orders-api", demoTopic("orders", 12, 3, ago(4*time.Second))),
			"healthy: a few messages behind, consuming now — no alert"},
		{demoGroupOf("orders-payments", demoTopic("payments", 12, 20_150, ago(40*time.Second))),
			"large backlog (~242k) but consuming — backlog critical"},
		{demoGroupOf("billing", demoTopic("billing-events", 6, 3_070, ago(47*time.Minute))),
			"consumer stopped: backlog ~18k, newest consumed message 47 min old — backlog warning and stale critical"},
		{demoGroupOf("orders-test", demoTopic("orders", 12, 50_000, ago(2*time.Hour))),
			"large backlog, but excluded by the rule (*-test) — no alert"},
		{demoGroupOf("analytics-daily", demoTopic("daily-rollup", 4, 0, ago(72*time.Hour))),
			"idle and caught up, last message 3 days old — no alert (idle topics never page)"},
		{demoGroupOf("analytics-clicks", demoTopic("clicks", 8, 1_125, -1), demoTopic("pageviews", 4, 10, ago(20*time.Minute))),
			"clicks has lag but no timestamp (-1): staleness unknown, reported; pageviews 20 min stale — stale warning"},
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

// demoTopic spreads lagPerPartition (give or take a little) over n partitions.
func demoTopic(name string, n int, lagPerPartition, ts int64) progress.Topic {
	t := progress.Topic{Topic: name, LastTimestamp: ts}
	for p := range n {
		lag := lagPerPartition
		if lag > 0 {
			lag += int64(p%3) - 1
		}
		broker := int64(1_000_000 + 7919*p)
		t.Partitions = append(t.Partitions, progress.Partition{Partition: p, BrokerOffset: broker, ConsumerOffset: broker - lag, LastTimestamp: ts})
		t.TotalDiff += lag
	}
	return t
}
