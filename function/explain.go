package function

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/backlog-alert/backlog-alert/lifecycle"
	"github.com/backlog-alert/backlog-alert/progress"
	"github.com/backlog-alert/backlog-alert/progress/alikafka"
	"github.com/backlog-alert/backlog-alert/rules"
)

// Explanation says why one consumer group, on one instance, is or is not
// alerting: what each rule makes of it, and what the next run would send.
type Explanation struct {
	Region   string            `json:"region"`
	Instance string            `json:"instance"`
	Group    string            `json:"group"`
	Tags     map[string]string `json:"tags,omitempty"`
	// Lag is the group's backlog; AgeSeconds how old its newest consumed
	// message is, when AgeKnown.
	Lag        int64         `json:"lag"`
	AgeSeconds int64         `json:"age_seconds"`
	AgeKnown   bool          `json:"age_known"`
	Rules      []RuleVerdict `json:"rules"`
}

// RuleVerdict is what one rule makes of the group.
type RuleVerdict struct {
	Rule string `json:"rule"`
	Line int    `json:"line"`
	// Why says why the rule does not watch the group; empty when it does.
	Why string `json:"why,omitempty"`
	// Inactive lists the rule's active_hours when now is outside them: it
	// then neither fires nor notifies.
	Inactive []string    `json:"inactive,omitempty"`
	Checks   []Check     `json:"checks,omitempty"`
	Alerts   []AlertLife `json:"alerts,omitempty"`
}

// Check is one condition of a rule against the group's worst place.
type Check struct {
	Condition rules.Condition `json:"condition"`
	// Place is the worst place at the rule's level ("group", "group /
	// topic", "group / topic [p3]"); Value is its lag in messages or its age
	// or stuck time in seconds. Known is false when there is no value to
	// judge: Note says why.
	Place    string         `json:"place,omitempty"`
	Value    int64          `json:"value"`
	Known    bool           `json:"known"`
	Warning  int64          `json:"warning,omitempty"`
	Critical int64          `json:"critical,omitempty"`
	Holds    rules.Severity `json:"holds,omitempty"` // the severity that holds; empty below the thresholds
	Note     string         `json:"note,omitempty"`
}

// AlertLife is one alert of the group: where it is in its lifecycle, what
// each channel was told, and what the next run would tell them.
type AlertLife struct {
	Condition rules.Condition `json:"condition"`
	Severity  rules.Severity  `json:"severity"`
	Place     string          `json:"place"`
	State     string          `json:"state"` // pending, firing or resolved
	Since     time.Time       `json:"since"` // active since; firing since once it fires
	// FiresAt is when a pending alert fires if its condition still holds.
	FiresAt    time.Time `json:"fires_at,omitzero"`
	SilencedBy string    `json:"silenced_by,omitempty"`
	// SilencedUntil is when the silence ends; zero outside active_hours.
	SilencedUntil time.Time `json:"silenced_until,omitzero"`
	Told          []Told    `json:"told,omitempty"`
	Next          []Planned `json:"next,omitempty"`
}

// Told is what a channel last accepted about an alert, and when it would
// hear again if nothing changed.
type Told struct {
	Channel      string     `json:"channel"`
	Kind         rules.Kind `json:"kind"`
	At           time.Time  `json:"at"`
	NextReminder time.Time  `json:"next_reminder,omitzero"`
}

// Planned is what the next run would send a channel about the alert.
type Planned struct {
	Channel string     `json:"channel"`
	Kind    rules.Kind `json:"kind"`
}

// ExplainError is a group Explain could not find or read.
type ExplainError struct{ Msg string }

func (e *ExplainError) Error() string { return e.Msg }

// Explain reads one group's progress (one call per instance it may be on,
// plus a listing when a rule needs its tags) and says what every rule makes
// of it, with the state as the last run left it. instance may be empty: the
// group is then looked for on every instance the rules name, and on every
// running instance of a region a rule watches whole. It sends nothing and
// saves nothing. unread says where reading failed: an instance that may
// have the group too, unexplained. The error is an *ExplainError when the
// group was found nowhere or could not be read anywhere.
func Explain(ctx context.Context, opts Options, group, instance string) (exps []Explanation, unread []string, err error) {
	file := opts.Rules
	if file == nil {
		var err error
		if file, err = rules.Load(opts.RulesPath); err != nil {
			return nil, nil, &SetupError{Err: err}
		}
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	creds, err := credentials(opts.Credentials)
	if err != nil {
		return nil, nil, &SetupError{Err: err}
	}
	scrub, _ := scrubbing(creds, file, slog.New(slog.DiscardHandler))
	st, loc, err := ReadState(ctx, opts, file)
	if err != nil {
		return nil, nil, &SetupError{Err: fmt.Errorf("state %s: %v", loc, err)}
	}

	cfg := alikafka.Config{Credentials: creds, Endpoint: opts.Endpoint, QPS: file.API.QPS, Timeout: file.API.Timeout, Now: now}
	out := alikafka.Fetch(ctx, cfg, lookups(file, group, instance))
	for _, f := range append(out.Failures, out.NotEvaluated...) {
		unread = append(unread, scrub.string(fmt.Sprintf("%s %s: %v", f.Op, where(f), f.Err)))
	}
	if len(out.Snapshot.Groups) == 0 {
		if len(unread) > 0 {
			return nil, unread, &ExplainError{Msg: "cannot read " + group + ": " + unread[0]}
		}
		var looked []string
		for _, m := range out.Missing {
			looked = append(looked, m.Instance+" ("+m.Region+")")
		}
		return nil, nil, &ExplainError{Msg: fmt.Sprintf("consumer group %s not found on %v", group, looked)}
	}
	for _, g := range out.Snapshot.Groups {
		exps = append(exps, explain(file, st, g, now))
	}
	return exps, unread, nil
}

// lookups are where to look for the group: the instances the rules name
// (only the one asked, when one is), every running instance of a region a
// rule watches whole.
func lookups(f *rules.File, group, instance string) []alikafka.Selection {
	type at struct{ region, instance string }
	tags := map[at]bool{}
	var order []at
	add := func(k at, needsTags bool) {
		if _, ok := tags[k]; !ok {
			order = append(order, k)
		}
		tags[k] = tags[k] || needsTags
	}
	for _, r := range f.Rules {
		for _, in := range r.Instances {
			switch {
			case instance == "":
				add(at{r.Region, in}, r.NeedsTags())
			case r.OnInstance(instance):
				add(at{r.Region, instance}, r.NeedsTags())
			}
		}
	}
	if len(order) == 0 {
		// No rule watches that instance: read the group where it might be,
		// to say which rule does not select it and why.
		for _, r := range f.Rules {
			add(at{r.Region, instance}, false)
		}
	}
	sels := make([]alikafka.Selection, len(order))
	for i, k := range order {
		sels[i] = alikafka.Selection{Region: k.region, Instance: k.instance, Groups: []string{group}, NeedTimestamps: true, WantTags: tags[k]}
	}
	return sels
}

// explain judges the group with every rule, and steps a copy of the state
// as a run would with only this group read.
func explain(f *rules.File, st *lifecycle.State, g progress.Group, now time.Time) Explanation {
	e := Explanation{Region: g.Region, Instance: g.Instance, Group: g.Group, Tags: g.Tags, Lag: g.TotalDiff}
	if g.LastTimestamp > 0 {
		e.AgeSeconds, e.AgeKnown = max(0, now.UnixMilli()-g.LastTimestamp)/1000, true
	}
	// What each channel had been told, before the step changes it.
	told := map[string]map[string]lifecycle.Delivery{}
	for key, as := range st.Alerts {
		if as.Alert.Region == g.Region && as.Alert.Instance == g.Instance && as.Alert.Group == g.Group {
			told[key] = map[string]lifecycle.Delivery{}
			for ch, d := range as.Channels {
				told[key][ch] = *d
			}
		}
	}
	this := func(region, instance, group string) bool {
		return region == g.Region && instance == g.Instance && group == g.Group
	}
	step := lifecycle.Step(st, lifecycle.Input{File: f, Snapshot: progress.Snapshot{Groups: []progress.Group{g}}, Now: now,
		Unread: func(region, instance, group string) bool { return !this(region, instance, group) }})
	next := map[string][]Planned{}
	for _, box := range step.Outbox {
		for _, it := range box.Items {
			if this(it.Alert.Region, it.Alert.Instance, it.Alert.Group) {
				next[it.Alert.Key()] = append(next[it.Alert.Key()], Planned{Channel: box.Channel, Kind: it.Kind})
			}
		}
	}
	for i := range f.Rules {
		rule := &f.Rules[i]
		v := RuleVerdict{Rule: rule.Name, Line: rule.Line, Why: rule.Why(g.Region, g.Instance, g.Group, g.Tags)}
		if v.Why == "" {
			if !rule.Active(now) {
				for _, w := range rule.ActiveHours {
					v.Inactive = append(v.Inactive, w.String())
				}
			}
			var alerts []lifecycle.Alert
			for _, a := range step.Alerts {
				if a.Rule == rule.Name && this(a.Region, a.Instance, a.Group) {
					alerts = append(alerts, a)
				}
			}
			v.Checks = checks(rule, g, alerts, now)
			for _, a := range alerts {
				v.Alerts = append(v.Alerts, life(f, rule, step.State.Alerts[a.Key()], a, told[a.Key()], next[a.Key()], now))
			}
		}
		e.Rules = append(e.Rules, v)
	}
	return e
}

// checks judges each condition the rule sets at the group's worst place.
func checks(rule *rules.Rule, g progress.Group, alerts []lifecycle.Alert, now time.Time) []Check {
	res := rules.Evaluate([]rules.Rule{*rule}, progress.Snapshot{Groups: []progress.Group{g}}, now)
	var out []Check
	if b := rule.Backlog; b != nil {
		c := Check{Condition: rules.Backlog, Warning: b.Warning, Critical: b.Critical, Known: true}
		for _, o := range res.Observations {
			if c.Place == "" || o.At.Lag > c.Value {
				c.Place, c.Value = o.At.Where(), o.At.Lag
			}
		}
		c.Holds = holds(c.Value, c.Warning, c.Critical)
		out = append(out, c)
	}
	if s := rule.Stale; s != nil {
		c := Check{Condition: rules.Stale, Warning: int64(s.Warning.Seconds()), Critical: int64(s.Critical.Seconds())}
		for _, o := range res.Observations {
			if o.At.Lag > 0 && o.At.AgeKnown && (!c.Known || o.At.AgeSeconds > c.Value) {
				c.Place, c.Value, c.Known = o.At.Where(), o.At.AgeSeconds, true
			}
		}
		switch {
		case c.Known:
			c.Holds = holds(c.Value, c.Warning, c.Critical)
		case len(res.UnknownAge) > 0:
			c.Note = "the service reports no timestamp where there is lag: staleness cannot be judged"
		default:
			c.Note = "no lag: staleness is judged only where there is lag (an idle topic is not stale)"
		}
		out = append(out, c)
	}
	if s := rule.Stuck; s != nil {
		c := Check{Condition: rules.Stuck, Warning: int64(s.Warning.Seconds()), Critical: int64(s.Critical.Seconds()),
			Note: "the committed offsets moved since the last run, or there is no lag"}
		for _, a := range alerts {
			if a.Condition == rules.Stuck && (!c.Known || a.Value > c.Value) {
				c.Place, c.Value, c.Known, c.Note = a.Where(), a.Value, true, ""
				if a.AtLeast {
					c.Note = "at least: the offsets were already not moving when monitoring began"
				}
			}
		}
		if c.Known {
			c.Holds = holds(c.Value, c.Warning, c.Critical)
		}
		out = append(out, c)
	}
	return out
}

func holds(v, warning, critical int64) rules.Severity {
	switch {
	case critical > 0 && v >= critical:
		return rules.Critical
	case warning > 0 && v >= warning:
		return rules.Warning
	}
	return ""
}

// life describes one alert after the step: as, its state; before, what
// each channel had been told; next, what the run would send.
func life(f *rules.File, rule *rules.Rule, as *lifecycle.AlertState, a lifecycle.Alert, before map[string]lifecycle.Delivery, next []Planned, now time.Time) AlertLife {
	l := AlertLife{Condition: a.Condition, Severity: a.Severity, Place: a.Where(), State: a.State, SilencedBy: a.SilencedBy, Next: next}
	if as != nil {
		l.Since = as.ActiveSince
		switch {
		case !as.FiringSince.IsZero():
			l.Since = as.FiringSince
		case a.State == lifecycle.Pending:
			l.FiresAt = as.ActiveSince.Add(rule.For)
		}
	}
	if a.Silenced {
		for _, s := range f.Silences {
			if s.Mutes(a.Alert, now) {
				l.SilencedUntil = s.Ends
				break
			}
		}
	}
	for _, ch := range slices.Sorted(maps.Keys(before)) {
		d := before[ch]
		t := Told{Channel: ch, Kind: d.Kind, At: d.At}
		if d.Kind != rules.KindResolved && d.Kind != rules.KindMissing && rule.Repeat > 0 && a.State == lifecycle.Firing {
			t.NextReminder = d.At.Add(rule.Repeat)
		}
		l.Told = append(l.Told, t)
	}
	return l
}
