package lifecycle

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	"github.com/backlog-alert/backlog-alert/progress"
	"github.com/backlog-alert/backlog-alert/rules"
)

// Input is one run's view of the world.
type Input struct {
	File     *rules.File
	Snapshot progress.Snapshot
	// Unread reports groups this run could not read (a failed call, or a
	// failed listing of their instance): their state is kept as it was,
	// neither resolved nor declared gone. Nil means every group was read.
	Unread func(region, instance, group string) bool
	Now    time.Time
	// Blind lists what the monitor could not see in this run; each becomes
	// an alert of MetaRule, told to the rules file's meta_notify channels.
	Blind []BlindSpot
	// MetaOnly steps the monitor's own alerts and leaves everything else as
	// it was: for a run whose rules file could not be loaded.
	MetaOnly bool
}

// BlindSpot is something the monitor could not see.
type BlindSpot struct {
	Region, Instance string
	// Reason says why in English, for the report and logs; Cause says it in
	// parts, for messages in the channel's language.
	Reason string
	Cause  rules.BlindCause
}

// MetaRule is the rule name of the alerts the monitor raises about itself.
const MetaRule = "backlog-alert"

// Alert is an alert as the report shows it.
type Alert struct {
	rules.Alert
	// State is pending, firing or resolved.
	State string `json:"state"`
	// Notified is set once a channel accepted a notification about it in
	// this run (see Outcome.MarkNotified).
	Notified bool `json:"notified"`
	// Silenced alerts go through their lifecycle but notify nobody.
	Silenced   bool   `json:"silenced"`
	SilencedBy string `json:"silenced_by,omitempty"`
}

// Alert states.
const (
	Pending  = "pending"
	Firing   = "firing"
	Resolved = "resolved"
)

// Item is one notification: an alert and why it is sent.
type Item struct {
	Kind  rules.Kind
	Alert rules.Alert
	// Since is when the alert started firing.
	Since time.Time
	// Thread is the channel's living message about the alert while the
	// channel knows it fires (Slack app mode); nil otherwise, so that an
	// alert firing anew starts a new message.
	Thread *Thread
}

// Outbox is what one channel is to be told in this run.
type Outbox struct {
	Channel string
	Items   []Item
	// Ongoing are the alerts still firing at the places of Items that the
	// channel knows of and has nothing new to hear about: context for a
	// message that tells a group's whole state, not notifications (nothing
	// about them is recorded as delivered).
	Ongoing []Item
}

// GoneGroup is a group that disappeared, and why: rules.GoneDeleted (a
// rule still selects it, the service no longer knows it) or
// rules.GoneUnmatched (no rule selects it any more).
type GoneGroup struct {
	GroupRef
	Reason string `json:"reason"`
}

// GroupRef names a consumer group.
type GroupRef struct {
	Region   string `json:"region"`
	Instance string `json:"instance"`
	Group    string `json:"group"`
}

// Outcome is what one step decided.
type Outcome struct {
	Alerts []Alert
	// Outbox has one entry per channel with something to say, in the rules
	// file's channel order.
	Outbox []Outbox
	// Gone lists the groups that disappeared in this run.
	Gone       []GoneGroup
	UnknownAge []rules.Target
	// State is the new state: save it, after recording deliveries with
	// State.Delivered.
	State *State
}

// Step advances every alert by one run. It updates prior in place (or a new
// state when prior is nil) and returns it in the outcome.
func Step(prior *State, in Input) Outcome {
	st := prior
	if st == nil {
		st = New()
	}
	// Once the alerts are settled: places without an alert forget their
	// history, groups without one keep only a short history.
	defer st.prune()
	now := in.Now
	unread := in.Unread
	if unread == nil {
		unread = func(string, string, string) bool { return false }
	}
	ruleIndex := map[string]int{MetaRule: -1}
	for i := range in.File.Rules {
		ruleIndex[in.File.Rules[i].Name] = i
	}
	meta := metaRule(in.File)
	ruleOf := func(name string) *rules.Rule {
		if name == MetaRule {
			return meta
		}
		if i, ok := ruleIndex[name]; ok && !in.MetaOnly {
			return &in.File.Rules[i]
		}
		return nil
	}
	// isMeta tells the monitor's own alerts; with MetaOnly nothing else is touched.
	isMeta := func(a rules.Alert) bool { return a.Rule == MetaRule }
	skip := func(a rules.Alert) bool { return in.MetaOnly && !isMeta(a) }
	var res rules.Result
	if !in.MetaOnly {
		res = rules.Evaluate(in.File.Rules, in.Snapshot, now)
	}

	// Groups read in this run: history, and so the trend.
	for _, g := range in.Snapshot.Groups {
		k := groupKey(g.Region, g.Instance, g.Group)
		gs := st.Groups[k]
		if gs == nil {
			gs = &GroupState{Region: g.Region, Instance: g.Instance, Group: g.Group}
			st.Groups[k] = gs
		}
		gs.LastSeen, gs.GoneSince = now, time.Time{}
		gs.History = appendSample(gs.History, sampleOf(g, now), HistoryLen)
	}
	// The snapshot's partitions are not needed any more: at 10,000 groups
	// they are megabytes the rest of the step can do without.
	in.Snapshot = progress.Snapshot{}
	// A group's trend is worked out when an alert asks for it: most groups
	// have none.
	trends := map[string]*rules.Trend{}
	groupTrend := func(gk string) *rules.Trend {
		if t, done := trends[gk]; done {
			return t
		}
		var t *rules.Trend
		if gs := st.Groups[gk]; gs != nil && gs.LastSeen.Equal(now) {
			t = trendOf(gs.History) // read in this run
		}
		trends[gk] = t
		return t
	}
	// Observations by place (identity): an index into res.Observations, not
	// a copy of each.
	observedAt := make(map[string]int, len(res.Observations))
	for i := range res.Observations {
		observedAt[res.Observations[i].At.Key()] = i
	}
	observed := func(place string) (rules.Observation, bool) {
		if i, ok := observedAt[place]; ok {
			return res.Observations[i], true
		}
		return rules.Observation{}, false
	}
	// Topics and partitions with an alert keep their own history: this
	// run's sample is added once, when the place's trend is first asked for.
	placeTrends := map[string]*rules.Trend{}
	trendFor := func(a rules.Alert) *rules.Trend {
		gk := groupKey(a.Region, a.Instance, a.Group)
		pk := placeKey(a)
		if pk == "" {
			return groupTrend(gk)
		}
		k := gk + "\x00" + pk
		if t, done := placeTrends[k]; done {
			return t
		}
		gs := st.Groups[gk]
		o, seen := observed(identity(a))
		if gs == nil || !seen {
			// Not read in this run: no sample, and no trend to show.
			placeTrends[k] = nil
			return nil
		}
		if gs.Places == nil {
			gs.Places = map[string]History{}
		}
		h := appendSample(gs.Places[pk], placeSample(o, now), PlaceHistoryLen)
		gs.Places[pk] = h
		placeTrends[k] = trendOf(h)
		return placeTrends[k]
	}
	// Places that already alert get this run's sample whether or not their
	// alert still holds, so their history has no gaps.
	for _, as := range st.Alerts {
		if !skip(as.Alert) {
			trendFor(as.Alert)
		}
	}

	// What holds now: backlog and stale from evaluation, stuck from offsets
	// that have not moved across runs.
	current := map[string]rules.Alert{}
	for _, a := range res.Alerts {
		a.Trend = trendFor(a)
		current[a.Key()] = a
	}
	// Groups whose marks were seen in this run; each seen mark is flagged.
	marking := map[*GroupState]bool{}
	for _, o := range res.Observations {
		rule := ruleOf(o.At.Rule)
		if rule.Stuck == nil {
			continue
		}
		gk := groupKey(o.At.Region, o.At.Instance, o.At.Group)
		gs := st.Groups[gk]
		mk := markKey(o.At)
		m := gs.Offsets.Get(mk)
		switch {
		case m == nil:
			// A place not watched before has stood still at least since now.
			m = gs.Offsets.Add(mk, Mark{Committed: o.Committed, Since: now, First: true})
		case m.Committed != o.Committed:
			// Its offset changed: it moved (at most) a run ago.
			*m = Mark{Committed: o.Committed, Since: now}
		}
		m.seen, marking[gs] = true, true
		if a, ok := stuck(rule, o, m, now); ok {
			a.Trend = trendFor(a)
			current[a.Key()] = a
		}
	}
	// Places that are gone are forgotten at once.
	for gs := range marking {
		gs.Offsets.keepSeen()
	}

	// Hysteresis: a firing backlog alert stays firing until its value drops
	// below resolve_below, so a value hovering at the threshold does not flap.
	for key, a := range st.Alerts {
		if _, holds := current[key]; holds || a.FiringSince.IsZero() || !a.ResolvedAt.IsZero() || a.Alert.Condition != rules.Backlog {
			continue
		}
		rule := ruleOf(a.Alert.Rule)
		o, seen := observed(identity(a.Alert))
		if rule == nil || rule.Backlog == nil || !seen || o.At.Lag < rule.Backlog.ResolveBelow {
			continue
		}
		held := o.At
		held.Condition, held.Value = rules.Backlog, o.At.Lag
		held.Threshold, held.Severity = rule.Backlog.Lowest()
		held.Trend = trendFor(held)
		current[key] = held
	}

	for _, b := range in.Blind {
		a := rules.Alert{Rule: MetaRule, Region: b.Region, Instance: b.Instance, Level: rules.LevelGroup,
			Condition: rules.Blind, Severity: rules.Critical, Detail: b.Reason, Cause: &b.Cause}
		current[a.Key()] = a
	}

	out := Outcome{State: st}
	for _, u := range res.UnknownAge {
		if r := ruleOf(u.Rule); r != nil && r.Active(now) {
			out.UnknownAge = append(out.UnknownAge, u)
		}
	}

	// Groups that were watched and are no longer read, though nothing failed:
	// deleted, or no longer selected.
	gone := map[string]bool{}
	goneWhy := map[string]string{}
	for gk, gs := range st.Groups {
		if in.MetaOnly || gs.LastSeen.Equal(now) || unread(gs.Region, gs.Instance, gs.Group) {
			continue
		}
		why := whyGone(in.File, gs)
		if gs.GoneSince.IsZero() {
			gs.GoneSince = now
			out.Gone = append(out.Gone, GoneGroup{GroupRef{gs.Region, gs.Instance, gs.Group}, why})
		}
		if now.Sub(gs.GoneSince) >= forgetAfter(st, gk, in.File, ruleOf) {
			delete(st.Groups, gk)
			for key, a := range st.Alerts {
				if groupKey(a.Alert.Region, a.Alert.Instance, a.Alert.Group) == gk {
					delete(st.Alerts, key)
				}
			}
			continue
		}
		gone[gk], goneWhy[gk] = true, why
	}
	slices.SortFunc(out.Gone, func(a, b GoneGroup) int {
		return cmp.Or(cmp.Compare(a.Region, b.Region), cmp.Compare(a.Instance, b.Instance), cmp.Compare(a.Group, b.Group))
	})

	// Transitions of what holds now.
	for key, a := range current {
		rule := ruleOf(a.Rule)
		if !rule.Active(now) {
			continue // outside active_hours the rule neither fires nor notifies
		}
		as := st.Alerts[key]
		if as == nil || !as.ResolvedAt.IsZero() {
			// New, or back after resolving: a new life, but the channels
			// keep what they were last told.
			fresh := &AlertState{ActiveSince: now}
			if as != nil {
				fresh.Channels = as.Channels
			}
			as = fresh
			st.Alerts[key] = as
		}
		as.Alert = a
		if as.FiringSince.IsZero() && now.Sub(as.ActiveSince) >= rule.For {
			as.FiringSince = now
		}
	}
	// ...and of what held before and holds no more.
	for key, as := range st.Alerts {
		if _, holds := current[key]; holds || skip(as.Alert) {
			continue
		}
		rule := ruleOf(as.Alert.Rule)
		gk := groupKey(as.Alert.Region, as.Alert.Instance, as.Alert.Group)
		switch {
		case isMeta(as.Alert):
			// Sight is back: firing meta alerts resolve, pending ones go.
			if as.FiringSince.IsZero() {
				delete(st.Alerts, key)
			} else if as.ResolvedAt.IsZero() {
				as.ResolvedAt = now
			}
		case rule == nil:
			delete(st.Alerts, key) // the rule was removed
		case gone[gk] || unread(as.Alert.Region, as.Alert.Instance, as.Alert.Group) || !rule.Active(now):
			// kept as it was
		default:
			o, seen := observed(identity(as.Alert))
			switch {
			case !seen, as.FiringSince.IsZero():
				delete(st.Alerts, key) // its topic or partition is gone, or it was only pending
			case as.ResolvedAt.IsZero():
				as.ResolvedAt = now
				as.Alert.Lag, as.Alert.Top, as.Alert.AgeSeconds, as.Alert.AgeKnown = o.At.Lag, o.At.Top, o.At.AgeSeconds, o.At.AgeKnown
				// The value now, so the resolution says where things stand.
				switch as.Alert.Condition {
				case rules.Backlog:
					as.Alert.Value = o.At.Lag
				case rules.Stale:
					if o.At.AgeKnown {
						as.Alert.Value = o.At.AgeSeconds
					}
				}
				as.Alert.Trend = trendFor(as.Alert)
			}
		}
	}

	// Reconcile what each channel was told with what holds, and report.
	outbox, ongoing := map[string][]Item{}, map[string][]Item{}
	resends := map[string]bool{} // channels told every run about what still fires
	for _, ch := range in.File.Channels {
		resends[ch.Name] = ch.Resends()
	}
	for key, as := range st.Alerts {
		if skip(as.Alert) {
			continue
		}
		rule := ruleOf(as.Alert.Rule)
		gk := groupKey(as.Alert.Region, as.Alert.Instance, as.Alert.Group)
		if rule == nil {
			continue
		}
		// A group's tags may route its alerts elsewhere than the rule's
		// notify; they are the tags of the last run that saw the group.
		channels, _ := rule.Channels(as.Alert.Tags)
		if !isMeta(as.Alert) && unread(as.Alert.Region, as.Alert.Instance, as.Alert.Group) {
			// Not seen this run: as it was. A channel told every run hears
			// it still fires, so that it does not resolve it by itself.
			for _, ch := range channels {
				if resends[ch] && as.ResolvedAt.IsZero() && as.Channels[ch].knowsFiring() {
					a := as.Alert
					a.Annotations = rule.Annotate(a)
					ongoing[ch] = append(ongoing[ch], Item{Alert: a, Since: as.FiringSince})
				}
			}
			continue
		}
		told := as.Alert
		told.Annotations = rule.Annotate(told)
		if gone[gk] {
			told.Detail = goneWhy[gk]
		}
		report := Alert{Alert: told, State: stateOf(as)}
		if !rule.Active(now) {
			report.Silenced, report.SilencedBy = true, "outside active_hours"
			out.Alerts = append(out.Alerts, report)
			continue
		}
		for _, s := range in.File.Silences {
			if s.Mutes(as.Alert, now) {
				report.Silenced, report.SilencedBy = true, "silence at line "+strconv.Itoa(s.Line)
				if s.Comment != "" {
					report.SilencedBy += ": " + s.Comment
				}
				break
			}
		}
		for ch := range as.Channels {
			if !slices.Contains(channels, ch) {
				delete(as.Channels, ch)
			}
		}
		if !report.Silenced {
			for _, ch := range channels {
				item := Item{Alert: told, Since: as.FiringSince}
				if d := as.Channels[ch]; d.knowsFiring() {
					item.Thread = d.Thread
				}
				switch item.Kind = due(as, as.Channels[ch], rule.SendResolved || resends[ch], gone[gk], rule.Repeat, now); {
				case item.Kind != "":
					outbox[ch] = append(outbox[ch], item)
				case !gone[gk] && as.ResolvedAt.IsZero() && !as.FiringSince.IsZero() && as.Channels[ch].knowsFiring():
					ongoing[ch] = append(ongoing[ch], item)
				}
			}
		}
		// A resolved alert is forgotten once no channel has anything left
		// to hear about it; the report shows it in the run it resolved.
		if !as.ResolvedAt.IsZero() && !owesResolution(as, rule, channels, report.Silenced, outbox, resends) {
			delete(st.Alerts, key)
			if !as.ResolvedAt.Equal(now) {
				continue
			}
		}
		if !gone[gk] {
			out.Alerts = append(out.Alerts, report)
		}
	}
	for _, ch := range in.File.Channels {
		items := outbox[ch.Name]
		slices.SortFunc(items, func(a, b Item) int { return compareAlerts(a.Alert, b.Alert, ruleIndex) })
		switch {
		case ch.Resends() && len(items)+len(ongoing[ch.Name]) > 0:
			// Told every run about everything that still fires.
			out.Outbox = append(out.Outbox, Outbox{Channel: ch.Name, Items: items, Ongoing: alongside(ongoing[ch.Name], nil, ruleIndex)})
		case len(items) > 0:
			out.Outbox = append(out.Outbox, Outbox{Channel: ch.Name, Items: items, Ongoing: alongside(ongoing[ch.Name], items, ruleIndex)})
		}
	}
	slices.SortFunc(out.Alerts, func(a, b Alert) int { return compareAlerts(a.Alert, b.Alert, ruleIndex) })
	return out
}

// alongside keeps the ongoing alerts at the places of items, in order; all
// of them when items is nil.
func alongside(ongoing, items []Item, ruleIndex map[string]int) []Item {
	places := map[string]bool{}
	for _, it := range items {
		places[identity(it.Alert)] = true
	}
	var out []Item
	for _, it := range ongoing {
		if items == nil || places[identity(it.Alert)] {
			out = append(out, it)
		}
	}
	slices.SortFunc(out, func(a, b Item) int { return compareAlerts(a.Alert, b.Alert, ruleIndex) })
	return out
}

// whyGone says why a group is no longer read though nothing failed: a rule
// still selects it (so the service no longer knows it: deleted), or none
// does. The group's tags are not kept: a rule that selects by tag no longer
// selects a group the run did not see.
func whyGone(f *rules.File, gs *GroupState) string {
	for i := range f.Rules {
		if f.Rules[i].Matches(gs.Region, gs.Instance, gs.Group, nil) {
			return rules.GoneDeleted
		}
	}
	return rules.GoneUnmatched
}

// metaRule is the rule of the monitor's own alerts: they fire at once, remind
// and resolve like any alert, and go to the meta_notify channels.
func metaRule(f *rules.File) *rules.Rule {
	t := f.Defaults.Timing
	t.For, t.SendResolved, t.ActiveHours = 0, true, nil
	return &rules.Rule{Name: MetaRule, Notify: f.MetaNotify, Timing: t}
}

// due decides what a channel must hear about an alert now, if anything:
// sendResolved says whether it hears resolutions, repeat after how long a
// still-firing alert is told again.
func due(as *AlertState, d *Delivery, sendResolved, gone bool, repeat time.Duration, now time.Time) rules.Kind {
	switch {
	case gone:
		if d.knowsFiring() {
			return rules.KindMissing
		}
	case !as.ResolvedAt.IsZero():
		if d.knowsFiring() && sendResolved {
			return rules.KindResolved
		}
	case !as.FiringSince.IsZero():
		switch {
		case !d.knowsFiring():
			return rules.KindFiring
		case d.Severity != as.Alert.Severity && as.Alert.Severity == rules.Critical:
			return rules.KindEscalated
		case d.Severity != as.Alert.Severity:
			return rules.KindDowngraded
		case now.Sub(d.At) >= repeat:
			return rules.KindReminder
		}
	}
	return ""
}

// owesResolution reports whether some channel still has to hear that the
// alert resolved: it was told the alert fires, hears resolutions (the rule's
// send_resolved, or a channel told every run), and the resolution is queued
// now or held back by a silence.
func owesResolution(as *AlertState, rule *rules.Rule, channels []string, silenced bool, outbox map[string][]Item, resends map[string]bool) bool {
	for _, ch := range channels {
		if !as.Channels[ch].knowsFiring() || !rule.SendResolved && !resends[ch] {
			continue
		}
		if silenced {
			return true
		}
		for _, it := range outbox[ch] {
			if it.Alert.Key() == as.Alert.Key() {
				return true
			}
		}
	}
	return false
}

func stateOf(as *AlertState) string {
	switch {
	case !as.ResolvedAt.IsZero():
		return Resolved
	case !as.FiringSince.IsZero():
		return Firing
	}
	return Pending
}

// Delivered records that a channel accepted these items at the given time,
// and where its living message about each now is (threads, by alert key;
// nil for a channel without them). An ongoing alert that moved to another
// message keeps what it was told and learns only the new thread. Only
// accepted notifications count: anything else is due again next run.
func (s *State) Delivered(channel string, accepted []Item, at time.Time, threads map[string]Thread) {
	told := map[string]bool{}
	for _, it := range accepted {
		key := it.Alert.Key()
		as := s.Alerts[key]
		if as == nil {
			continue
		}
		if as.Channels == nil {
			as.Channels = map[string]*Delivery{}
		}
		d := &Delivery{Kind: it.Kind, Severity: it.Alert.Severity, At: at}
		if t, ok := threads[key]; ok {
			d.Thread = &t
		}
		as.Channels[channel] = d
		told[key] = true
	}
	for key, t := range threads {
		if as := s.Alerts[key]; as != nil && !told[key] && as.Channels[channel] != nil {
			as.Channels[channel].Thread = &t
		}
	}
}

// MarkNotified flags the report's alerts that some channel accepted.
func (o *Outcome) MarkNotified(items []Item) {
	sent := map[string]bool{}
	for _, it := range items {
		sent[it.Alert.Key()] = true
	}
	for i := range o.Alerts {
		if sent[o.Alerts[i].Key()] {
			o.Alerts[i].Notified = true
		}
	}
}

// stuck judges a place whose committed offsets have not moved since the
// mark. A caught-up consumer is never stuck: with no lag there is nothing to
// move. The alert says since when, and whether that is only when monitoring
// began (AtLeast).
func stuck(rule *rules.Rule, o rules.Observation, m *Mark, now time.Time) (rules.Alert, bool) {
	if o.At.Lag <= 0 {
		return rules.Alert{}, false
	}
	unmoved := now.Sub(m.Since)
	a := o.At
	a.Condition, a.Value = rules.Stuck, int64(unmoved/time.Second)
	a.Since, a.AtLeast = m.Since, m.First
	switch t := rule.Stuck; {
	case t.Critical > 0 && unmoved >= t.Critical:
		a.Severity, a.Threshold = rules.Critical, int64(t.Critical/time.Second)
	case t.Warning > 0 && unmoved >= t.Warning:
		a.Severity, a.Threshold = rules.Warning, int64(t.Warning/time.Second)
	default:
		return rules.Alert{}, false
	}
	return a, true
}

// identity is the key of the place an alert is about, whatever its condition.
func identity(a rules.Alert) string {
	a.Condition = ""
	return a.Key()
}

// markKey names a place a stuck rule watches within its group.
func markKey(a rules.Alert) string {
	a.Instance, a.Group, a.Region = "", "", ""
	return identity(a)
}

// forgetAfter is how long a vanished group is remembered: the longest
// forget_after of the rules that alerted on it, else the defaults'.
func forgetAfter(st *State, gk string, f *rules.File, ruleOf func(string) *rules.Rule) time.Duration {
	d := f.Defaults.ForgetAfter
	for _, a := range st.Alerts {
		if groupKey(a.Alert.Region, a.Alert.Instance, a.Alert.Group) == gk {
			if r := ruleOf(a.Alert.Rule); r != nil {
				d = max(d, r.ForgetAfter)
			}
		}
	}
	return d
}

func compareAlerts(a, b rules.Alert, ruleIndex map[string]int) int {
	return cmp.Or(cmp.Compare(ruleIndex[a.Rule], ruleIndex[b.Rule]), cmp.Compare(a.Instance, b.Instance),
		cmp.Compare(a.Group, b.Group), cmp.Compare(a.Topic, b.Topic), cmp.Compare(partition(a), partition(b)),
		cmp.Compare(a.Condition, b.Condition))
}

func partition(a rules.Alert) int {
	if a.Partition == nil {
		return -1
	}
	return *a.Partition
}
