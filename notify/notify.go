// Package notify delivers alerts to chat channels. Each integration lives in
// its own sub-package (slack, dingtalk) behind the small Notifier interface;
// this package holds what they share: the message model, redaction of webhook
// secrets, error classification, delivery (a Retrier that retries what is
// worth retrying and a Limiter that paces each webhook) and the words of a
// message: Sections group the alerts by consumer group, Render words them
// from one catalogue per language (catalog_*.go), so that every channel
// describes a group the same way and an integration only adds its markup.
package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/backlog-alert/backlog-alert/rules"
)

// Item is one alert and why it is notified this run. Alerts have a
// lifecycle across runs and a run notifies only on change, so the same Alert
// may be newly firing, escalated, a reminder, resolved, and so on. An empty
// Kind is treated as rules.KindFiring.
type Item struct {
	Kind  rules.Kind
	Alert rules.Alert
	// Since is when the alert started firing (zero when unknown): a
	// reminder says for how long, a resolution after how long.
	Since time.Time
	// Thread is where the channel was last told about the alert, for a
	// channel that keeps one living message per section (Slack app mode);
	// nil when it has no message to update.
	Thread *Thread
}

// Thread is a section's living message: the message to update, and the
// thread its replies go to (the message itself, or the digest post it was
// threaded under).
type Thread struct {
	Channel string
	TS      string
	Root    string
}

// Receipt says what a channel accepted of a message.
type Receipt struct {
	// Accepted lists the keys (rules.Alert.Key) of the items the channel
	// accepted: every item of a message sent whole, or those of the
	// sections that went through when they are sent one by one.
	Accepted []string
	// Threads are, by alert key, the living message each item's section
	// now is (Slack app mode): the accepted items and the ongoing ones
	// beside them.
	Threads map[string]Thread
}

// All is the receipt of a message accepted whole.
func All(m Message) Receipt {
	r := Receipt{Accepted: make([]string, len(m.Items))}
	for i, it := range m.Items {
		r.Accepted[i] = it.Alert.Key()
	}
	return r
}

// Message is what one channel gets in one run: every change routed to it,
// in the channel's language and time zone.
type Message struct {
	Items []Item
	// Ongoing are alerts that still fire at the places of Items but have
	// nothing new to say; a section shows them so that it tells the whole
	// truth about its group ("stale resolved; backlog still WARNING").
	// They never make a message on their own.
	Ongoing []Item
	Time    time.Time // evaluation time, shown in the message
	// Language picks the catalogue (rules.LanguageEnglish when empty);
	// Location the time zone times are shown in (UTC when nil).
	Language string
	Location *time.Location
}

// Notifier sends a Message to one channel.
type Notifier interface {
	// Notify sends every item (a webhook: one message holding them all, or
	// a summary of those that do not fit; Slack app mode: one living
	// message per section), retrying failed requests as its retry policy
	// allows and within ctx's deadline, and says what the channel
	// accepted: an item not in the receipt is due again next run. A
	// Message without items sends nothing, except to a channel told every
	// run about what still fires (Alertmanager), whose Ongoing it sends. The error (a *DeliveryError
	// from the integrations, see Attempts and Retryable) says what failed
	// and never contains a secret (webhook paths, tokens, signatures).
	Notify(ctx context.Context, m Message) (Receipt, error)
	// Preview renders, for a person, exactly what Notify would send; "" when
	// Notify would send nothing.
	Preview(m Message) string
}

// Fingerprint identifies an alert across runs for receivers that
// deduplicate (a generic webhook, Alertmanager): the same rule, place and
// condition always give the same 16 hex digits.
func Fingerprint(a rules.Alert) string {
	sum := sha256.Sum256([]byte(a.Key()))
	return hex.EncodeToString(sum[:8])
}
