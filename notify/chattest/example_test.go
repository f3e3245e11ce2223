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
				Trend: &rules.Trend{Backlog: []int64{20000, 61000, 98000, 123456}, RatesKnown: true,
					ConsumePerMin: 1200, ProducePerMin: 6000, GrowthPerMin: 4800},
			},
		}, {
			Kind: rules.KindResolved,
			Alert: rules.Alert{
				Rule: "orders", Region: "cn-hangzhou", Instance: "alikafka-1", Group: "billing",
				Condition: rules.Backlog, Severity: rules.Warning, Value: 120, Threshold: 10000, Lag: 120,
			},
		}},
	}
	fmt.Println("dingtalk:", n.Notify(context.Background(), m))
	fmt.Println("slack:", slack.New(sink.SlackURL("team"), nil).Notify(context.Background(), m))
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
	// 2 alerts · evaluated 2025-03-01 18:00:00 UTC · backlog-alert
	//
	// #### ⏫ Escalated to CRITICAL · order-consumer
	//
	// - Backlog 123,456 messages (threshold 100,000)
	// - Newest consumed message: age unknown
	// - Trend: ▁▄▆█ 20,000 → 123,456 · consuming 1,200/min · producing 6,000/min · growing by 4,800/min
	// - Instance alikafka-1 · region cn-hangzhou · rule orders
	//
	// #### ✅ Resolved · billing
	//
	// - Backlog now 120 messages (threshold 10,000)
	// - Instance alikafka-1 · region cn-hangzhou · rule orders
	//
	// @13800000000
	//
	// Mentions: @13800000000
	// --- slack team
	// :rotating_light: 1 escalated, 1 resolved (1 critical)
	//
	// 2 alerts · evaluated 2025-03-01 18:00:00 UTC · backlog-alert
	//
	// :arrow_double_up: *Escalated to CRITICAL* · *order-consumer*
	// Backlog 123,456 messages (threshold 100,000)
	// Newest consumed message: age unknown
	// Trend: ▁▄▆█ 20,000 → 123,456 · consuming 1,200/min · producing 6,000/min · growing by 4,800/min
	// Instance alikafka-1 · region cn-hangzhou · rule orders
	//
	// :white_check_mark: *Resolved* · *billing*
	// Backlog now 120 messages (threshold 10,000)
	// Instance alikafka-1 · region cn-hangzhou · rule orders
}
