package rules

import (
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // active_hours time zones must resolve on minimal serverless images too

	"go.yaml.in/yaml/v3"
)

// Timing are the lifecycle settings a rule inherits from defaults.
type Timing struct {
	// For is how long a condition must hold, across runs, before it fires.
	For time.Duration
	// Repeat is how long a firing alert stays quiet before a reminder.
	Repeat time.Duration
	// SendResolved says whether channels hear when an alert resolves.
	SendResolved bool
	// ForgetAfter is how long a group that disappeared is remembered.
	ForgetAfter time.Duration
	// ActiveHours, when set, are the weekly windows in which the rule fires
	// and notifies; outside them it does neither.
	ActiveHours []Window
}

// DefaultTiming is what a rules file gets when it says nothing.
var DefaultTiming = Timing{Repeat: 4 * time.Hour, SendResolved: true, ForgetAfter: 24 * time.Hour}

var timingKeys = []string{"for", "repeat", "send_resolved", "forget_after", "active_hours"}

// timing reads the lifecycle keys of m over base.
func (r *reader) timing(m map[string]*yaml.Node, field string, base Timing) Timing {
	t := base
	if v := m["for"]; v != nil {
		t.For, _ = r.durationOrZero(v, join(field, "for"))
	}
	if v := m["repeat"]; v != nil {
		t.Repeat, _ = r.duration(v, join(field, "repeat"))
	}
	if v := m["send_resolved"]; v != nil {
		if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" {
			r.fail(v, join(field, "send_resolved"), "must be true or false, not %s", kindName(v))
		} else {
			t.SendResolved = v.Value == "true"
		}
	}
	if v := m["forget_after"]; v != nil {
		t.ForgetAfter, _ = r.duration(v, join(field, "forget_after"))
	}
	if v := m["active_hours"]; v != nil {
		t.ActiveHours = r.windows(v, join(field, "active_hours"))
	}
	return t
}

// durationOrZero is duration that also accepts 0 ("fire at once").
func (r *reader) durationOrZero(n *yaml.Node, field string) (time.Duration, bool) {
	if n.Kind == yaml.ScalarNode && (n.Value == "0" || n.Value == "0s") {
		return 0, true
	}
	return r.duration(n, field)
}

// Window is a weekly time window in a time zone: on Days, From until To.
// A window whose To is not after From runs past midnight into the next day.
type Window struct {
	Days     [7]bool // indexed by time.Weekday
	From, To time.Duration
	Location *time.Location
}

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// windows reads one window (a mapping) or a list of them.
func (r *reader) windows(n *yaml.Node, field string) []Window {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	var out []Window
	for i, item := range items {
		f := field
		if n.Kind == yaml.SequenceNode {
			f = fmt.Sprintf("%s[%d]", field, i)
		}
		if w, ok := r.window(item, f); ok {
			out = append(out, w)
		}
	}
	return out
}

func (r *reader) window(n *yaml.Node, field string) (Window, bool) {
	w := Window{Location: time.UTC}
	m := r.mapping(n, field, "days", "from", "to", "tz")
	if m == nil {
		return w, false
	}
	before := len(r.errs)
	if v := m["days"]; v == nil {
		for d := range w.Days {
			w.Days[d] = true
		}
	} else {
		for i, d := range r.strList(v, field+".days") {
			wd, ok := weekdays[strings.ToLower(d)]
			if !ok {
				r.fail(v.Content[i], fmt.Sprintf("%s.days[%d]", field, i), "unknown day %q (mon, tue, wed, thu, fri, sat, sun)", d)
				continue
			}
			w.Days[wd] = true
		}
	}
	for _, key := range []string{"from", "to"} {
		v := m[key]
		if v == nil {
			r.fail(n, field+"."+key, "missing (a time of day such as \"09:00\")")
			continue
		}
		s, ok := r.str(v, field+"."+key)
		if !ok {
			continue
		}
		t, err := time.Parse("15:04", s)
		if err != nil && s != "24:00" {
			r.fail(v, field+"."+key, "%q is not a time of day such as \"09:00\"", s)
			continue
		}
		d := time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute
		if s == "24:00" {
			d = 24 * time.Hour
		}
		if key == "from" {
			w.From = d
		} else {
			w.To = d
		}
	}
	if v := m["tz"]; v != nil {
		if s, ok := r.str(v, field+".tz"); ok {
			loc, err := time.LoadLocation(s)
			if err != nil {
				r.fail(v, field+".tz", "unknown time zone %q (use an IANA name such as Asia/Shanghai)", s)
			} else {
				w.Location = loc
			}
		}
	}
	return w, len(r.errs) == before
}

// Contains reports whether t falls inside the window.
func (w Window) Contains(t time.Time) bool {
	t = t.In(w.Location)
	midnight := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, w.Location)
	since := t.Sub(midnight)
	if w.To > w.From {
		return w.Days[t.Weekday()] && since >= w.From && since < w.To
	}
	// Past midnight: either the evening part of a listed day, or the
	// morning part of the day after one.
	yesterday := (t.Weekday() + 6) % 7
	return (w.Days[t.Weekday()] && since >= w.From) || (w.Days[yesterday] && since < w.To)
}

// String writes the window as the rules file would: "mon,tue 09:00-21:00
// Asia/Shanghai"; every day is "daily".
func (w Window) String() string {
	var days []string
	for d := time.Sunday; d <= time.Saturday; d++ {
		if w.Days[(d+1)%7] { // from Monday
			days = append(days, strings.ToLower(((d + 1) % 7).String()[:3]))
		}
	}
	on := strings.Join(days, ",")
	if len(days) == 7 {
		on = "daily"
	}
	hm := func(d time.Duration) string { return fmt.Sprintf("%02d:%02d", int(d.Hours()), int(d.Minutes())%60) }
	return on + " " + hm(w.From) + "-" + hm(w.To) + " " + w.Location.String()
}

// Active reports whether the rule fires and notifies at t.
func (rule *Rule) Active(t time.Time) bool {
	if len(rule.ActiveHours) == 0 {
		return true
	}
	for _, w := range rule.ActiveHours {
		if w.Contains(t) {
			return true
		}
	}
	return false
}

// Silence mutes the alerts its matchers select between Starts and Ends.
type Silence struct {
	// Matchers are globs on rule, instance, group and topic; an absent
	// matcher matches everything.
	Rule, Instance, Group, Topic string
	Starts, Ends                 time.Time
	Comment                      string
	Line                         int
}

// Mutes reports whether the silence applies to the alert at t.
func (s *Silence) Mutes(a Alert, t time.Time) bool {
	if t.Before(s.Starts) || !t.Before(s.Ends) {
		return false
	}
	for _, m := range [][2]string{{s.Rule, a.Rule}, {s.Instance, a.Instance}, {s.Group, a.Group}, {s.Topic, a.Topic}} {
		if m[0] != "" && !matchAny([]string{m[0]}, m[1]) {
			return false
		}
	}
	return true
}

func (r *reader) silences(n *yaml.Node) []Silence {
	if n.Kind != yaml.SequenceNode {
		r.fail(n, "silences", "must be a list of silences, not %s", kindName(n))
		return nil
	}
	var out []Silence
	for i, sn := range n.Content {
		field := fmt.Sprintf("silences[%d]", i)
		m := r.mapping(sn, field, "matchers", "starts", "ends", "comment")
		if m == nil {
			continue
		}
		s := Silence{Line: sn.Line}
		if v := m["matchers"]; v == nil {
			r.fail(sn, field+".matchers", "missing (at least one of rule, instance, group, topic)")
		} else if mm := r.mapping(v, field+".matchers", "rule", "instance", "group", "topic"); mm != nil {
			if len(mm) == 0 {
				r.fail(v, field+".matchers", "name at least one of rule, instance, group, topic")
			}
			for key, dst := range map[string]*string{"rule": &s.Rule, "instance": &s.Instance, "group": &s.Group, "topic": &s.Topic} {
				if mv := mm[key]; mv != nil {
					*dst, _ = r.glob(mv, field+".matchers."+key)
				}
			}
		}
		for key, dst := range map[string]*time.Time{"starts": &s.Starts, "ends": &s.Ends} {
			v := m[key]
			if v == nil {
				r.fail(sn, field+"."+key, "missing (an RFC 3339 time such as 2026-11-21T09:00:00+08:00)")
				continue
			}
			// YAML reads an unquoted time as a timestamp, a quoted one as a string.
			str := v.Value
			if v.Tag != "!!timestamp" {
				var ok bool
				if str, ok = r.str(v, field+"."+key); !ok {
					continue
				}
			}
			t, err := time.Parse(time.RFC3339, str)
			if err != nil {
				r.fail(v, field+"."+key, "%q is not an RFC 3339 time such as 2026-11-21T09:00:00+08:00", str)
				continue
			}
			*dst = t
		}
		if !s.Starts.IsZero() && !s.Ends.IsZero() && !s.Ends.After(s.Starts) {
			r.fail(m["ends"], field+".ends", "must be after starts")
		}
		if v := m["comment"]; v != nil {
			s.Comment, _ = r.str(v, field+".comment")
		}
		out = append(out, s)
	}
	return out
}
