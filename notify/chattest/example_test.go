package chattest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/notify/chattest"
	"github.com/backlog-alert/backlog-alert/notify/dingtalk"
	"github.com/backlog-alert/backlog-alert/notify/slack"
	"github.com/backlog-alert/backlog-alert/rules"
)

// A real client posts to the sink, which shows what the channel would read.
func Example() {
	sink := chattest.NewServer()
	defer sink.Close()
	sink.RequireDingTalkSecret("oncall", "SECdemo0123")

	n := dingtalk.New(sink.DingTalkURL("oncall", "demo-token"), "SECdemo0123", []string{"13800000000"}, nil)
	m := notify.Message{
		Time: time.Date(2025, 3, 1, 18, 0, 0, 0, time.UTC),
		Items: []notify.Item{{
			Kind: rules.KindEscalated,
			Alert: rules.Alert{
				Rule: "orders", Region: "cn-hangzhou", Instance: "alikafka-1", Group: "order-consumer",
				Condition: rules.Backlog, Severity: rules.Critical, Value: 123456, Threshold: 100000, Lag: 123456,
				Trend: &rules.Trend{Backlog: []int64{20000, 61000, 98000, 123456}, RatesKnown: true, RateSeconds: 300,
					ConsumePerMin: 1200, ProducePerMin: 6000, GrowthPerMin: 4800},
				Annotations: map[string]string{"owner": "orders team", "runbook_url": "https://wiki.example.com/runbooks/kafka-lag"},
			},
		}, {
			Kind:  rules.KindResolved,
			Since: time.Date(2025, 3, 1, 16, 48, 0, 0, time.UTC),
			Alert: rules.Alert{
				Rule: "orders", Region: "cn-hangzhou", Instance: "alikafka-1", Group: "billing",
				Condition: rules.Backlog, Severity: rules.Warning, Value: 120, Threshold: 10000, Lag: 120,
			},
		}},
	}
	_, err := n.Notify(context.Background(), m)
	fmt.Println("dingtalk:", err)
	_, err = slack.New(sink.SlackURL("team"), nil).Notify(context.Background(), m)
	fmt.Println("slack:", err)
	for _, r := range sink.Received() {
		fmt.Printf("--- %s %s\n%s\n", r.Kind, r.Channel, r.Readable())
	}
	// Output:
	// dingtalk: <nil>
	// slack: <nil>
	// --- dingtalk oncall
	// backlog-alert: 1 escalated, 1 resolved (1 critical)
	//
	// ### 🚨 1 escalated, 1 resolved (1 critical)
	//
	// evaluated 2025-03-01 18:00 UTC · backlog-alert
	//
	// #### ⏫ Escalated to CRITICAL · order-consumer
	//
	// - Backlog CRITICAL (up from WARNING): 123,456 messages (threshold 100,000)
	// - Newest consumed message: age unknown
	// - Trend: ▂▄▇█ 20,000 → 123,456 · consuming 1,200/min · producing 6,000/min (last 5m) · growing by 4,800/min
	// - Instance alikafka-1 · region cn-hangzhou · rule orders
	// - Owner: orders team
	//
	// [Runbook](https://wiki.example.com/runbooks/kafka-lag)
	//
	// #### ✅ Resolved · billing
	//
	// - Backlog resolved after 1h 12m: now 120 messages (threshold 10,000)
	// - Instance alikafka-1 · region cn-hangzhou · rule orders
	//
	// @13800000000
	//
	// Mentions: @13800000000
	// --- slack team
	// :rotating_light: 1 escalated, 1 resolved (1 critical)
	//
	// evaluated 2025-03-01 18:00 UTC · backlog-alert
	//
	// :arrow_double_up: *Escalated to CRITICAL* · *order-consumer*
	// Backlog CRITICAL (up from WARNING): 123,456 messages (threshold 100,000)
	// Newest consumed message: age unknown
	// Trend: ▂▄▇█ 20,000 → 123,456 · consuming 1,200/min · producing 6,000/min (last 5m) · growing by 4,800/min
	// Instance alikafka-1 · region cn-hangzhou · rule orders
	// Owner: orders team
	// <https://wiki.example.com/runbooks/kafka-lag|Runbook>
	//
	// :white_check_mark: *Resolved* · *billing*
	// Backlog resolved after 1h 12m: now 120 messages (threshold 10,000)
	// Instance alikafka-1 · region cn-hangzhou · rule orders
}
