package function

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/backlog-alert/backlog-alert/lifecycle"
	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/progress/alikafka"
	"github.com/backlog-alert/backlog-alert/rules"
)

// Report is what one run did: the JSON every entry point returns.
type Report struct {
	Rules  string    `json:"rules"`
	Time   time.Time `json:"time"`
	DryRun bool      `json:"dry_run,omitempty"`
	// State names where the state document lives.
	State string `json:"state"`
	// Skipped says why the run did nothing: another run held the state's
	// lease (and is doing the work).
	Skipped string `json:"skipped,omitempty"`
	// Groups is how many consumer groups were read and evaluated.
	Groups int `json:"groups"`
	// Alerts are pending, firing, or resolved in this run.
	Alerts []lifecycle.Alert `json:"alerts"`
	// UnknownAge lists places with lag where the service gave no timestamp,
	// so staleness could not be judged.
	UnknownAge []rules.Target `json:"unknown_age,omitempty"`
	// Missing lists explicitly named groups the service does not know.
	Missing []lifecycle.GroupRef `json:"missing,omitempty"`
	// Gone lists watched groups that disappeared in this run, with why:
	// "deleted" (a rule selects it, the service no longer knows it) or
	// "unmatched" (no rule selects it any more).
	Gone []lifecycle.GoneGroup `json:"gone,omitempty"`
	// NotEvaluated lists what the run had no time left to read, and why.
	NotEvaluated []NotEvaluated `json:"not_evaluated,omitempty"`
	// API is how the run used the OpenAPI: calls, throttling, retries.
	API           APIStats       `json:"api"`
	Notifications []Notification `json:"notifications"`
	// Warnings need attention but did not fail the run.
	Warnings []string `json:"warnings,omitempty"`
	// Errors is every group that could not be read, every channel that
	// could not be notified and a state that could not be read or saved;
	// secrets are scrubbed.
	Errors []string `json:"errors"`
}

// APIStats is how a run used the OpenAPI.
type APIStats struct {
	Calls     int `json:"calls"`
	Throttled int `json:"throttled"`
	Retries   int `json:"retries"`
	Failed    int `json:"failed"`
	// Seconds is how long reading took.
	Seconds float64 `json:"seconds"`
	// MinQPS is the lowest rate the run slowed to after throttling.
	MinQPS float64 `json:"min_qps"`
}

func apiStats(s alikafka.Stats) APIStats {
	return APIStats{Calls: s.Calls, Throttled: s.Throttled, Retries: s.Retries, Failed: s.Failed, Seconds: s.Elapsed.Seconds(), MinQPS: s.MinRate}
}

// NotEvaluated is a group (or an instance's listing, Op GetConsumerList)
// the run did not read because its time budget ran out.
type NotEvaluated struct {
	Region   string `json:"region"`
	Instance string `json:"instance"`
	Group    string `json:"group,omitempty"`
	Op       string `json:"op"`
	Reason   string `json:"reason"`
}

// Notification is one channel's message of this run.
type Notification struct {
	Channel string `json:"channel"`
	Type    string `json:"type"`
	Alerts  int    `json:"alerts"`
	// Ongoing counts the alerts told again without news: those beside a
	// group's news, and every firing one for a channel told every run
	// (Alertmanager).
	Ongoing int `json:"ongoing,omitempty"`
	// Kinds counts the items by why they are sent (firing, resolved...).
	Kinds map[rules.Kind]int `json:"kinds"`
	Sent  bool               `json:"sent"`
	// Accepted counts the alerts the channel accepted: all of them when
	// Sent, some when a channel that takes sections one by one (Slack app
	// mode) failed part way; the rest are due again next run.
	Accepted int    `json:"accepted"`
	Error    string `json:"error,omitempty"`
	// Preview is the rendered message, in dry runs only.
	Preview string `json:"preview,omitempty"`
}

// WriteSummary prints the report for a person at a terminal.
func (r *Report) WriteSummary(w io.Writer) {
	if r.Skipped != "" {
		fmt.Fprintf(w, "%s: nothing done: %s\n", r.Rules, r.Skipped)
		return
	}
	fmt.Fprintf(w, "%s: %d consumer groups read, %d alerts", r.Rules, r.Groups, len(r.Alerts))
	if len(r.Errors) > 0 {
		fmt.Fprintf(w, ", %d errors", len(r.Errors))
	}
	fmt.Fprintln(w)
	for _, a := range r.Alerts {
		var marks []string
		if a.Notified {
			marks = append(marks, "notified")
		}
		if a.Silenced {
			marks = append(marks, "silenced: "+a.SilencedBy)
		}
		suffix := ""
		if len(marks) > 0 {
			suffix = " [" + strings.Join(marks, ", ") + "]"
		}
		on := a.Instance
		if on == rules.AllInstances { // a region whose instances could not be listed
			on = "every instance of " + a.Region
		}
		fmt.Fprintf(w, "  %-8s %-8s %-7s %s  %s on %s (%s)%s\n", a.State, strings.ToUpper(string(a.Severity)), a.Condition, a.Where(), valueText(a.Alert), on, a.Rule, suffix)
	}
	for _, u := range r.UnknownAge {
		t := rules.Alert{Group: u.Group, Topic: u.Topic, Partition: u.Partition}
		fmt.Fprintf(w, "  note     %s on %s has lag but no timestamp: staleness unknown (%s)\n", t.Where(), u.Instance, u.Rule)
	}
	for _, m := range r.Missing {
		fmt.Fprintf(w, "  missing  consumer group %s does not exist on %s (%s)\n", m.Group, m.Instance, m.Region)
	}
	for _, g := range r.Gone {
		why := "deleted: the service no longer knows it"
		if g.Reason == rules.GoneUnmatched {
			why = "no longer selected by the rules"
		}
		fmt.Fprintf(w, "  gone     consumer group %s on %s is no longer read: %s\n", g.Group, g.Instance, why)
	}
	for _, n := range r.Notifications {
		switch {
		case n.Preview != "":
			fmt.Fprintf(w, "\n--- %s (%s), dry run: would send %s ---\n%s\n", n.Channel, n.Type, kindsText(n.Kinds), strings.TrimRight(n.Preview, "\n"))
		case n.Sent:
			fmt.Fprintf(w, "  sent     %s to %s (%s)\n", kindsText(n.Kinds), n.Channel, n.Type)
		}
	}
	for _, m := range r.Warnings {
		fmt.Fprintf(w, "  warning  %s\n", m)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "  error    %s\n", e)
	}
}

func kindsText(kinds map[rules.Kind]int) string {
	parts := make([]string, 0, len(kinds))
	for k, n := range kinds {
		parts = append(parts, fmt.Sprintf("%d %s", n, k))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func valueText(a rules.Alert) string {
	switch a.Condition {
	case rules.Stale:
		return fmt.Sprintf("newest consumed message %s old (threshold %s), %s behind", notify.Duration(a.Value), notify.Duration(a.Threshold), notify.Count(a.Lag))
	case rules.Stuck:
		atLeast := ""
		if a.AtLeast {
			atLeast = "at least "
		}
		return fmt.Sprintf("offsets unmoved for %s%s (threshold %s), %s behind", atLeast, notify.Duration(a.Value), notify.Duration(a.Threshold), notify.Count(a.Lag))
	}
	return fmt.Sprintf("%s messages behind (threshold %s)", notify.Count(a.Value), notify.Count(a.Threshold))
}
