package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/backlog-alert/backlog-alert/function"
	"github.com/backlog-alert/backlog-alert/lifecycle"
	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/rules"
)

func stateCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 || args[0] != "show" {
		fmt.Fprintln(stderr, "usage: backlog-alert state show [--state LOC] [--rules FILE]")
		return function.ExitSetup
	}
	fs := newFlags("state show", stderr)
	stateFlag := fs.String("state", "", "state location (default as for run)")
	rulesFlag := fs.String("rules", "", "rules file whose state: and region to use (default as for run, if it exists)")
	if fs.Parse(args[1:]) != nil || fs.NArg() > 0 {
		return function.ExitSetup
	}
	file, err := optionalRules(*rulesFlag, getenv)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return function.ExitSetup
	}
	opts := function.Options{State: stateLocation(*stateFlag, getenv), OSSEndpoint: getenv("BACKLOG_ALERT_OSS_ENDPOINT")}
	st, where, err := function.ReadState(ctx, opts, file)
	if err != nil {
		fmt.Fprintf(stderr, "state %s: %v\n", where, err)
		return function.ExitErrors
	}
	showState(stdout, st, where, time.Now())
	return function.ExitOK
}

// optionalRules loads the rules file when one is named or the default one
// exists: `state show` works without one.
func optionalRules(flagValue string, getenv func(string) string) (*rules.File, error) {
	path := rulesPath(flagValue, getenv)
	if flagValue == "" && getenv("BACKLOG_ALERT_RULES") == "" {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
	}
	return rules.Load(path)
}

// showState prints the stored alerts and their ages.
func showState(w io.Writer, st *lifecycle.State, where string, now time.Time) {
	fmt.Fprintf(w, "state: %s", where)
	if !st.Saved.IsZero() {
		fmt.Fprintf(w, ", saved %s ago (%s)", age(now, st.Saved), st.Saved.Format(time.RFC3339))
	}
	fmt.Fprintf(w, "\n%d alerts, %d groups remembered\n", len(st.Alerts), len(st.Groups))
	alerts := make([]*lifecycle.AlertState, 0, len(st.Alerts))
	for _, a := range st.Alerts {
		alerts = append(alerts, a)
	}
	slices.SortFunc(alerts, func(a, b *lifecycle.AlertState) int {
		return cmp.Or(cmp.Compare(a.Alert.Rule, b.Alert.Rule), cmp.Compare(a.Alert.Key(), b.Alert.Key()))
	})
	for _, a := range alerts {
		status := "pending for " + age(now, a.ActiveSince)
		switch {
		case !a.ResolvedAt.IsZero():
			status = "resolved " + age(now, a.ResolvedAt) + " ago, telling channels"
		case !a.FiringSince.IsZero():
			status = "firing for " + age(now, a.FiringSince)
		}
		fmt.Fprintf(w, "\n  %s %s %s on %s (rule %s)\n    %s; %s\n", strings.ToUpper(string(a.Alert.Severity)), a.Alert.Condition, a.Alert.Where(), a.Alert.Instance, a.Alert.Rule, status, valueOf(a.Alert))
		channels := make([]string, 0, len(a.Channels))
		for ch := range a.Channels {
			channels = append(channels, ch)
		}
		slices.Sort(channels)
		for _, ch := range channels {
			d := a.Channels[ch]
			fmt.Fprintf(w, "    %s: told %s (%s) %s ago\n", ch, d.Kind, d.Severity, age(now, d.At))
		}
		if len(channels) == 0 {
			fmt.Fprintln(w, "    no channel told yet")
		}
	}
	var gone []string
	for _, g := range st.Groups {
		if !g.GoneSince.IsZero() {
			gone = append(gone, fmt.Sprintf("  %s on %s: gone for %s", g.Group, g.Instance, age(now, g.GoneSince)))
		}
	}
	slices.Sort(gone)
	if len(gone) > 0 {
		fmt.Fprintf(w, "\ngroups gone (forgotten after forget_after):\n%s\n", strings.Join(gone, "\n"))
	}
}

func valueOf(a rules.Alert) string {
	if a.Condition == rules.Backlog {
		return fmt.Sprintf("backlog %s (threshold %s)", notify.Count(a.Value), notify.Count(a.Threshold))
	}
	return fmt.Sprintf("%s (threshold %s), lag %s", notify.Duration(a.Value), notify.Duration(a.Threshold), notify.Count(a.Lag))
}

func age(now, t time.Time) string {
	return notify.Duration(int64(max(now.Sub(t), 0) / time.Second))
}
