// Package notify delivers alerts to chat channels. Each integration lives in
// its own sub-package (slack, dingtalk) behind the small Notifier interface;
// this package holds what they share: the message model, redaction of webhook
// secrets, error classification and the wording of an alert, so that every
// channel describes an alert the same way.
package notify

import (
	"context"
	"time"

	"github.com/backlog-alert/backlog-alert/rules"
)

// Message is what one channel gets in one run: every alert routed to it.
type Message struct {
	Alerts []rules.Alert
	Time   time.Time // evaluation time, shown in the message
}

// Notifier sends a Message to one channel.
type Notifier interface {
	// Notify sends one HTTP message holding every alert (or a summary of
	// those that do not fit). A Message without alerts sends nothing. The
	// error text never contains the webhook URL's secret parts.
	Notify(ctx context.Context, m Message) error
	// Preview renders, for a person, exactly what Notify would send; "" when
	// Notify would send nothing.
	Preview(m Message) string
}
