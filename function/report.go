package function

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/rules"
)

// Report is what one run did: the JSON every entry point returns.
type Report struct {
	Rules  string    `json:"rules"`
	Time   time.Time `json:"time"`
	DryRun bool      `json:"dry_run,omitempty"`
	// Groups is how many consumer groups were read and evaluated.
	Groups int           `json:"groups"`
	Alerts []rules.Alert `json:"alerts"`
	// UnknownAge lists places with lag where the service gave no timestamp,
	// so staleness could not be judged.
	UnknownAge []rules.Target `json:"unknown_age,omitempty"`
	// Missing lists explicitly named groups the service does not know.
	Missing       []GroupRef     `json:"missing,omitempty"`
	Notifications []Notification `json:"notifications"`
	// Errors is every group that could not be read and every channel that
	// could not be notified; secrets are scrubbed.
	Errors []string `json:"errors"`
}

// GroupRef names a consumer group.
type GroupRef struct {
	Region   string `json:"region"`
	Instance string `json:"instance"`
	Group    string `json:"group"`
}

// Notification is one channel's message of this run.
type Notification struct {
	Channel string `json:"channel"`
	Type    string `json:"type"`
	Alerts  int    `json:"alerts"`
	Sent    bool   `json:"sent"`
	Error   string `json:"error,omitempty"`
	// Preview is the rendered message, in dry runs only.
	Preview string `json:"preview,omitempty"`
}

// WriteSummary prints the report for a person at a terminal.
func (r *Report) WriteSummary(w io.Writer) {
	fmt.Fprintf(w, "%s: %d consumer groups read, %d alerts", r.Rules, r.Groups, len(r.Alerts))
	if len(r.Errors) > 0 {
		fmt.Fprintf(w, ", %d errors", len(r.Errors))
	}
	fmt.Fprintln(w)
	for _, a := range r.Alerts {
		fmt.Fprintf(w, "  %-8s %-7s %s  %s on %s (%s)\n", strings.ToUpper(string(a.Severity)), a.Condition, a.Where(), valueText(a), a.Instance, a.Rule)
	}
	for _, u := range r.UnknownAge {
		t := rules.Alert{Group: u.Group, Topic: u.Topic, Partition: u.Partition}
		fmt.Fprintf(w, "  note     %s on %s has lag but no timestamp: staleness unknown (%s)\n", t.Where(), u.Instance, u.Rule)
	}
	for _, m := range r.Missing {
		fmt.Fprintf(w, "  missing  consumer group %s does not exist on %s (%s)\n", m.Group, m.Instance, m.Region)
	}
	for _, n := range r.Notifications {
		switch {
		case n.Preview != "":
			fmt.Fprintf(w, "\n--- %s (%s), dry run: would send %d alerts ---\n%s\n", n.Channel, n.Type, n.Alerts, strings.TrimRight(n.Preview, "\n"))
		case n.Sent:
			fmt.Fprintf(w, "  sent     %d alerts to %s (%s)\n", n.Alerts, n.Channel, n.Type)
		}
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "  error    %s\n", e)
	}
}

func valueText(a rules.Alert) string {
	if a.Condition == rules.Stale {
		return fmt.Sprintf("newest consumed message %s old (threshold %s), %s behind", notify.Duration(a.Value), notify.Duration(a.Threshold), notify.Count(a.Lag))
	}
	return fmt.Sprintf("%s messages behind (threshold %s)", notify.Count(a.Value), notify.Count(a.Threshold))
}
