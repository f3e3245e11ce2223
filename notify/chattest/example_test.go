package chattest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/notify/chattest"
	"github.com/backlog-alert/backlog-alert/notify/dingtalk"
	"github.com/backlog-alert/backlog-alert/rules"
)

// A real client posts to the sink, which shows what the channel would read.
func Example() {
	sink := chattest.NewServer()
	defer sink.Close()
	sink.RequireDingTalkSecret("oncall", "SECdemo0123")

	n := dingtalk.New(sink.DingTalkURL("oncall", "demo-token"), "SECdemo0123", []string{"13800000000"}, nil)
	err := n.Notify(context.Background(), notify.Message{
		Time: time.Date(2025, 3, 1, 18, 0, 0, 0, time.UTC),
		Alerts: []rules.Alert{{
			Rule: "orders", Region: "cn-hangzhou", Instance: "alikafka-1", Group: "order-consumer",
			Condition: rules.Backlog, Severity: rules.Critical, Value: 123456, Threshold: 100000, Lag: 123456,
		}},
	})
	fmt.Println("error:", err)
	for _, r := range sink.Received() {
		fmt.Printf("--- %s %s\n%s\n", r.Kind, r.Channel, r.Readable())
	}
	// Output:
	// error: <nil>
	// --- dingtalk oncall
	// backlog-alert: 1 consumer group behind (1 critical)
	//
	// ### 🚨 1 consumer group behind (1 critical)
	//
	// 1 alert · evaluated 2025-03-01 18:00:00 UTC · backlog-alert
	//
	// #### 🔴 CRITICAL · order-consumer
	//
	// - Backlog 123,456 messages (threshold 100,000)
	// - Newest consumed message: age unknown
	// - Instance alikafka-1 · region cn-hangzhou · rule orders
	//
	// @13800000000
	//
	// Mentions: @13800000000
}
