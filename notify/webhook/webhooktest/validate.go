package webhooktest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// The values the document's enumerations may take (version 1).
var (
	kinds      = []string{"firing", "escalated", "downgraded", "reminder", "resolved", "gone"}
	tones      = []string{"critical", "warning", "resolved", "gone"}
	levels     = []string{"group", "topic", "partition"}
	conditions = []string{"backlog", "stale", "stuck", "blind"}
	severities = []string{"warning", "critical"}
	causes     = []string{"credentials", "listing", "unreadable", "rules"}
	icons      = []string{"critical", "warning", "other", "escalated", "downgraded", "reminder", "resolved", "gone", "alarm", "caution"}
)

var fingerprintRE = regexp.MustCompile(`^[0-9a-f]{16}$`)

// Validate checks a document against version 1 of the schema in
// notify/webhook's package comment: the version, every required field with
// its type, the enumerations (kinds, tone, level, condition, severity,
// icon), the fingerprints (16 hex digits, one notification each), times in
// RFC 3339, and what a level implies (a topic alert names its topic, a
// partition alert its partition). Unknown fields are allowed, as receivers
// must allow them. It returns the first problem, naming its place
// ("notifications[2].alert.severity").
func Validate(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("not JSON: %v", err)
	}
	if dec.More() {
		return fmt.Errorf("not JSON: data after the document")
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("the document is not a JSON object")
	}
	c := &checker{}
	if ver, _ := doc["version"].(string); ver != "1" {
		return fmt.Errorf("version: %s, want \"1\"", show(doc["version"]))
	}
	c.enum(doc, "", "source", "backlog-alert")
	c.time(doc, "", "time", true)
	c.str(doc, "", "language", true)
	c.str(doc, "", "headline", true)
	c.enum(doc, "", "tone", tones...)
	c.boolean(doc, "", "paging", true)
	notes := c.array(doc, "", "notifications", true)
	if c.err == nil && len(notes) == 0 {
		c.fail("notifications: empty; a document has at least one")
	}
	seen := map[string]string{}
	for i, n := range notes {
		c.notification(n, fmt.Sprintf("notifications[%d]", i), kinds, seen)
	}
	for i, n := range c.array(doc, "", "ongoing", true) {
		c.notification(n, fmt.Sprintf("ongoing[%d]", i), []string{"ongoing"}, seen)
	}
	if om, ok := c.object(doc, "", "omitted", false); ok {
		c.boolean(om, "omitted", "trend_backlog", true)
		notes := c.count(om, "omitted", "notifications", true)
		c.count(om, "omitted", "ongoing", true)
		if notes > 0 {
			c.str(om, "omitted", "text", true) // "…and N more"
		} else {
			c.optStr(om, "omitted", "text")
		}
	}
	return c.err
}

// checker records the first problem found.
type checker struct{ err error }

func (c *checker) fail(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf(format, args...)
	}
}

func path(at, key string) string {
	switch {
	case key == "":
		return at
	case at == "":
		return key
	}
	return at + "." + key
}

func show(v any) string {
	if v == nil {
		return "missing"
	}
	b, _ := json.Marshal(v)
	if len(b) > 60 {
		b = append(b[:57], "..."...)
	}
	return string(b)
}

// get returns m[key], failing when it is required and missing or null.
func (c *checker) get(m map[string]any, at, key string, required bool) (any, bool) {
	v, ok := m[key]
	if !ok || v == nil {
		if required {
			c.fail("%s: missing", path(at, key))
		}
		return nil, false
	}
	return v, true
}

func (c *checker) str(m map[string]any, at, key string, nonEmpty bool) string {
	v, ok := c.get(m, at, key, true)
	if !ok {
		return ""
	}
	s, ok := v.(string)
	switch {
	case !ok:
		c.fail("%s: %s, want a string", path(at, key), show(v))
	case nonEmpty && s == "":
		c.fail("%s: empty", path(at, key))
	}
	return s
}

func (c *checker) optStr(m map[string]any, at, key string) {
	if v, ok := c.get(m, at, key, false); ok {
		if _, ok := v.(string); !ok {
			c.fail("%s: %s, want a string", path(at, key), show(v))
		}
	}
}

func (c *checker) enum(m map[string]any, at, key string, values ...string) string {
	v, ok := c.get(m, at, key, true)
	if !ok {
		return ""
	}
	s, _ := v.(string)
	if !slices.Contains(values, s) {
		c.fail("%s: %s, want one of %q", path(at, key), show(v), values)
	}
	return s
}

func (c *checker) boolean(m map[string]any, at, key string, required bool) {
	if v, ok := c.get(m, at, key, required); ok {
		if _, ok := v.(bool); !ok {
			c.fail("%s: %s, want true or false", path(at, key), show(v))
		}
	}
}

// integer checks a whole number; it returns it, and whether it is there.
func (c *checker) integer(m map[string]any, at, key string, required bool) (int64, bool) {
	v, ok := c.get(m, at, key, required)
	if !ok {
		return 0, false
	}
	n, ok := v.(json.Number)
	i, err := strconv.ParseInt(string(n), 10, 64)
	if !ok || err != nil {
		c.fail("%s: %s, want a whole number", path(at, key), show(v))
		return 0, false
	}
	return i, true
}

func (c *checker) count(m map[string]any, at, key string, required bool) int64 {
	i, ok := c.integer(m, at, key, required)
	if ok && i < 0 {
		c.fail("%s: %d, want 0 or more", path(at, key), i)
	}
	return i
}

func (c *checker) number(m map[string]any, at, key string, required bool) {
	if v, ok := c.get(m, at, key, required); ok {
		n, ok := v.(json.Number)
		if _, err := n.Float64(); !ok || err != nil {
			c.fail("%s: %s, want a number", path(at, key), show(v))
		}
	}
}

func (c *checker) time(m map[string]any, at, key string, required bool) {
	if v, ok := c.get(m, at, key, required); ok {
		s, _ := v.(string)
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			c.fail("%s: %s, want an RFC 3339 time", path(at, key), show(v))
		}
	}
}

func (c *checker) object(m map[string]any, at, key string, required bool) (map[string]any, bool) {
	v, ok := c.get(m, at, key, required)
	if !ok {
		return nil, false
	}
	o, ok := v.(map[string]any)
	if !ok {
		c.fail("%s: %s, want an object", path(at, key), show(v))
	}
	return o, ok
}

func (c *checker) array(m map[string]any, at, key string, required bool) []any {
	v, ok := c.get(m, at, key, required)
	if !ok {
		return nil
	}
	a, ok := v.([]any)
	if !ok {
		c.fail("%s: %s, want an array", path(at, key), show(v))
	}
	return a
}

// notification checks one entry of notifications or ongoing; seen maps
// the fingerprints met so far to where.
func (c *checker) notification(v any, at string, kinds []string, seen map[string]string) {
	n, ok := v.(map[string]any)
	if !ok {
		c.fail("%s: %s, want an object", at, show(v))
		return
	}
	c.enum(n, at, "kind", kinds...)
	fp := c.str(n, at, "fingerprint", true)
	if fp != "" && !fingerprintRE.MatchString(fp) {
		c.fail("%s.fingerprint: %q, want 16 lower-case hex digits", at, fp)
	}
	if where, dup := seen[fp]; dup && fp != "" {
		c.fail("%s.fingerprint: %s again, already at %s: one notification per alert", at, fp, where)
	}
	seen[fp] = at
	c.time(n, at, "since", false)
	if a, ok := c.object(n, at, "alert", true); ok {
		c.alert(a, at+".alert")
	}
	if s, ok := c.object(n, at, "summary", true); ok {
		c.summary(s, at+".summary")
	}
}

func (c *checker) alert(a map[string]any, at string) {
	c.str(a, at, "rule", true)
	c.str(a, at, "region", false)
	c.str(a, at, "instance", true)
	level := c.enum(a, at, "level", levels...)
	cond := c.enum(a, at, "condition", conditions...)
	c.str(a, at, "group", cond != "blind")
	c.enum(a, at, "severity", severities...)
	for _, k := range []string{"value", "threshold", "lag", "age_seconds"} {
		c.integer(a, at, k, true)
	}
	c.boolean(a, at, "age_known", true)
	if level == "topic" || level == "partition" {
		c.str(a, at, "topic", true)
	} else {
		c.optStr(a, at, "topic")
	}
	c.count(a, at, "partition", level == "partition")
	for i, t := range c.array(a, at, "top", false) {
		tp := fmt.Sprintf("%s.top[%d]", at, i)
		o, ok := t.(map[string]any)
		if !ok {
			c.fail("%s: %s, want an object", tp, show(t))
			continue
		}
		c.str(o, tp, "topic", false)
		c.count(o, tp, "partition", false)
		c.integer(o, tp, "lag", true)
	}
	if t, ok := c.object(a, at, "trend", false); ok {
		tp := at + ".trend"
		if _, present := t["backlog"]; !present {
			c.fail("%s.backlog: missing (null when left out for size)", tp)
		}
		for i, b := range c.array(t, tp, "backlog", false) {
			c.integer(map[string]any{"": b}, fmt.Sprintf("%s.backlog[%d]", tp, i), "", true)
		}
		c.boolean(t, tp, "rates_known", true)
		c.number(t, tp, "consume_per_min", true)
		c.number(t, tp, "produce_per_min", true)
		c.integer(t, tp, "rate_seconds", false)
		c.number(t, tp, "drain_minutes", false)
		c.number(t, tp, "growth_per_min", false)
	}
	c.optStr(a, at, "detail")
	if cause, ok := c.object(a, at, "cause", false); ok {
		c.enum(cause, at+".cause", "kind", causes...)
	}
	c.time(a, at, "since", false)
	c.boolean(a, at, "at_least", false)
	if ann, ok := c.object(a, at, "annotations", false); ok {
		for k := range ann {
			c.str(ann, at+".annotations", k, false)
		}
	}
}

func (c *checker) summary(s map[string]any, at string) {
	c.enum(s, at, "icon", icons...)
	c.str(s, at, "title", true)
	c.str(s, at, "subject", false)
	for i, l := range c.array(s, at, "lines", true) {
		if _, ok := l.(string); !ok {
			c.fail("%s.lines[%d]: %s, want a string", at, i, show(l))
		}
	}
	for i, l := range c.array(s, at, "links", true) {
		lp := fmt.Sprintf("%s.links[%d]", at, i)
		o, ok := l.(map[string]any)
		if !ok {
			c.fail("%s: %s, want an object", lp, show(l))
			continue
		}
		c.str(o, lp, "text", true)
		c.str(o, lp, "url", true)
	}
}
