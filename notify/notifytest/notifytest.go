// Package notifytest holds what the integrations' tests share: a retry
// policy that does not make tests wait, and alerts to notify about.
package notifytest

import (
	"time"

	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/rules"
)

// FastRetry retries as production does, without waiting long.
var FastRetry = notify.RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 4 * time.Millisecond}

// BacklogAlert is a group-level backlog alert of lag messages (threshold
// 10,000), its newest consumed message 3h 5m old, all lag on one topic.
func BacklogAlert(group string, sev rules.Severity, lag int64) rules.Alert {
	return rules.Alert{
		Rule: "orders", Region: "cn-shanghai", Instance: "alikafka-post-1", Group: group,
		Level: rules.LevelGroup, Condition: rules.Backlog, Severity: sev,
		Value: lag, Threshold: 10000, Lag: lag, AgeSeconds: 3*3600 + 300, AgeKnown: true,
		Top: []rules.Contributor{{Topic: "orders", Lag: lag}},
	}
}

// Item is a BacklogAlert notified for kind.
func Item(kind rules.Kind, group string, sev rules.Severity, lag int64) notify.Item {
	return notify.Item{Kind: kind, Alert: BacklogAlert(group, sev, lag)}
}

// Firing wraps alerts as newly firing items.
func Firing(alerts ...rules.Alert) []notify.Item {
	out := make([]notify.Item, len(alerts))
	for i, a := range alerts {
		out[i] = notify.Item{Kind: rules.KindFiring, Alert: a}
	}
	return out
}
