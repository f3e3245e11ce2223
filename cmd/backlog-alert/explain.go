package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/backlog-alert/backlog-alert/function"
	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/rules"
)

const explainUsage = "usage: backlog-alert explain [--rules FILE] [--state LOC] [--now T] [--json] GROUP[@INSTANCE]"

// explainCmd says why a group is or is not alerting.
func explainCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := newFlags("explain", stderr)
	rulesFlag := fs.String("rules", "", "rules file (default $BACKLOG_ALERT_RULES, else ./rules.yaml)")
	stateFlag := fs.String("state", "", "state location (default as for run)")
	nowFlag := fs.String("now", "", "explain as if at this RFC 3339 time")
	asJSON := fs.Bool("json", false, "print the explanation as JSON")
	timeout := fs.Duration("timeout", time.Minute, "give up reading after this long")
	// The group may come before the flags or after them.
	var target []string
	for rest := args; ; {
		if fs.Parse(rest) != nil {
			return function.ExitSetup
		}
		if fs.NArg() == 0 {
			break
		}
		target, rest = append(target, fs.Arg(0)), fs.Args()[1:]
	}
	if len(target) != 1 || target[0] == "" {
		fmt.Fprintln(stderr, explainUsage)
		return function.ExitSetup
	}
	group, instance, _ := strings.Cut(target[0], "@")
	now, ok := parseNow("explain", *nowFlag, stderr)
	if !ok {
		return function.ExitSetup
	}
	if now.IsZero() {
		now = time.Now()
	}
	file, err := rules.Load(rulesPath(*rulesFlag, getenv))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return function.ExitSetup
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	exps, unread, err := function.Explain(ctx, function.Options{Rules: file, State: stateLocation(*stateFlag, getenv),
		OSSEndpoint: getenv("BACKLOG_ALERT_OSS_ENDPOINT"), Endpoint: getenv("BACKLOG_ALERT_ENDPOINT"), Now: now}, group, instance)
	for _, u := range unread {
		fmt.Fprintln(stderr, "explain: not read, so not explained there:", u)
	}
	if err != nil {
		fmt.Fprintln(stderr, "explain:", err)
		if _, ok := errors.AsType[*function.ExplainError](err); ok {
			return function.ExitErrors
		}
		return function.ExitSetup
	}
	if *asJSON {
		if !writeJSON(stdout, stderr, exps) {
			return function.ExitErrors
		}
		return explained(unread)
	}
	for i, e := range exps {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		writeExplanation(stdout, e, now, file.Defaults.Location)
	}
	return explained(unread)
}

// explained is the exit code of an explanation: 1 when some instance that
// may have the group too could not be read.
func explained(unread []string) int {
	if len(unread) > 0 {
		return function.ExitErrors
	}
	return function.ExitOK
}

// writeExplanation prints one explanation for people, times in loc.
func writeExplanation(w io.Writer, e function.Explanation, now time.Time, loc *time.Location) {
	at := func(t time.Time) string { return t.In(loc).Format("2006-01-02 15:04 MST") }
	fmt.Fprintf(w, "consumer group %s on %s (%s), as of %s\n", e.Group, e.Instance, e.Region, at(now))
	fmt.Fprintf(w, "  lag %s messages", notify.Count(e.Lag))
	if e.AgeKnown {
		fmt.Fprintf(w, "; newest consumed message %s old", notify.Duration(e.AgeSeconds))
	} else {
		fmt.Fprint(w, "; no timestamp from the service")
	}
	if len(e.Tags) > 0 {
		fmt.Fprintf(w, "; tags %s", tagList(e.Tags))
	}
	fmt.Fprintln(w)
	watched := 0
	for _, v := range e.Rules {
		if v.Why != "" {
			fmt.Fprintf(w, "\nrule %s (line %d) does not watch it: %s\n", v.Rule, v.Line, v.Why)
			continue
		}
		watched++
		fmt.Fprintf(w, "\nrule %s (line %d) watches it\n", v.Rule, v.Line)
		if len(v.Inactive) > 0 {
			fmt.Fprintf(w, "  outside its active_hours (%s): it neither fires nor notifies now\n", strings.Join(v.Inactive, "; "))
		}
		for _, c := range v.Checks {
			fmt.Fprintf(w, "  %-8s %s\n", c.Condition, checkText(c))
		}
		if len(v.Alerts) == 0 {
			fmt.Fprintln(w, "  no alert: nothing holds, nothing pending, nothing owed to a channel")
		}
		for _, a := range v.Alerts {
			writeLife(w, a, now, at)
		}
	}
	if watched == 0 {
		fmt.Fprintln(w, "\nno rule watches it: nothing about it is ever sent")
	}
}

// checkText says a condition's value against its thresholds.
func checkText(c function.Check) string {
	unit := func(v int64) string { return notify.Duration(v) }
	if c.Condition == rules.Backlog {
		unit = func(v int64) string { return notify.Count(v) + " messages" }
	}
	if !c.Known {
		return "not judged: " + c.Note
	}
	var limits []string
	if c.Warning > 0 {
		limits = append(limits, "warning at "+unit(c.Warning))
	}
	if c.Critical > 0 {
		limits = append(limits, "critical at "+unit(c.Critical))
	}
	verdict := "below the thresholds"
	if c.Holds != "" {
		verdict = strings.ToUpper(string(c.Holds))
	}
	s := fmt.Sprintf("%s at %s: %s (%s)", unit(c.Value), c.Place, verdict, strings.Join(limits, ", "))
	if c.Note != "" {
		s += "; " + c.Note
	}
	return s
}

// writeLife prints where an alert is in its lifecycle and what comes next.
func writeLife(w io.Writer, a function.AlertLife, now time.Time, at func(time.Time) string) {
	fmt.Fprintf(w, "  alert    %s %s at %s: ", strings.ToUpper(string(a.Severity)), a.Condition, a.Place)
	switch a.State {
	case "pending":
		fmt.Fprintf(w, "pending since %s", at(a.Since))
		if a.FiresAt.After(now) {
			fmt.Fprintf(w, "; fires at %s if it still holds (%s left)", at(a.FiresAt), notify.Duration(int64(a.FiresAt.Sub(now)/time.Second)))
		}
	case "firing":
		fmt.Fprintf(w, "firing since %s (%s)", at(a.Since), notify.Duration(int64(max(now.Sub(a.Since), 0)/time.Second)))
	default:
		fmt.Fprint(w, a.State)
	}
	fmt.Fprintln(w)
	if a.SilencedBy != "" {
		fmt.Fprintf(w, "           silenced by %s", a.SilencedBy)
		if !a.SilencedUntil.IsZero() {
			fmt.Fprintf(w, ", until %s", at(a.SilencedUntil))
		}
		fmt.Fprintln(w, ": nothing is sent about it meanwhile")
	}
	for _, t := range a.Told {
		fmt.Fprintf(w, "           %s was told %s at %s", t.Channel, t.Kind, at(t.At))
		if !t.NextReminder.IsZero() {
			fmt.Fprintf(w, "; next reminder at %s", at(t.NextReminder))
		}
		fmt.Fprintln(w)
	}
	if len(a.Next) == 0 {
		fmt.Fprintln(w, "           a run now would send nothing about it")
		return
	}
	var next []string
	for _, p := range a.Next {
		next = append(next, p.Channel+" ("+string(p.Kind)+")")
	}
	fmt.Fprintf(w, "           a run now would send: %s\n", strings.Join(next, ", "))
}
