// Package alertmanager hands alerts to a Prometheus Alertmanager through its
// API v2 (POST <base>/api/v2/alerts), so that a team's own Alertmanager
// groups, silences, inhibits and routes them to whoever is on call.
//
// Alertmanager is not a chat: it keeps alerts, not messages. Each alert of
// a message becomes one postable alert, identified by its labels (rule,
// place, condition, severity, and the group's tags as tag_<key>), and
// Alertmanager does the grouping itself.
// Its contract with clients is that a firing alert is sent again regularly,
// each time with an endsAt in the future, or else it resolves the alert by
// itself when endsAt passes: so a Notifier posts the message's Ongoing
// alerts too, every run, with endsAt three resend intervals ahead, and
// resolved and gone alerts with endsAt now.
//
// The protocol is one JSON POST, so it is written here rather than pulling
// in Alertmanager's generated client.
package alertmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/rules"
)

// Limit paces posts to one Alertmanager. Alertmanager documents no rate
// limit of its own; this keeps a burst of runs from flooding it.
var Limit = notify.Limit{Events: 10, Per: time.Second}

// MaxAlerts is the most postable alerts one POST carries; a message with
// more is sent in several posts.
const MaxAlerts = 1000

// Ahead is how many resend intervals a firing alert's endsAt lies in the
// future: Alertmanager resolves it by itself only after that many runs in
// a row failed to send it again.
const Ahead = 3

const maxReply = 64 << 10

// Auth is how the Notifier authenticates: a bearer token, or basic auth
// with Username and Password, or nothing when all are empty. A bearer token
// wins over basic auth.
type Auth struct{ BearerToken, Username, Password string }

// Notifier posts to one Alertmanager.
type Notifier struct {
	// Now is the clock for a message without a Time; tests replace it.
	Now func() time.Time

	base     string // without a trailing slash
	endpoint string
	auth     Auth
	resend   time.Duration
	client   *http.Client
	retrier  *notify.Retrier
}

var _ notify.Notifier = (*Notifier)(nil)

// New returns a Notifier for the Alertmanager at baseURL (http://am:9093,
// with its --web.route-prefix if it has one). resend is how often the
// caller sends every firing alert again (its run interval;
// rules.DefaultResend when 0): firing alerts are posted with endsAt Ahead
// resend intervals ahead. client may be nil (a client with a 10 s timeout is used); it is
// never told to follow redirects. By default failed posts are retried with
// notify.DefaultRetry and posts are paced by notify.SharedLimiter() at
// Limit; opts change that (notify.WithRetry, notify.WithLimiter).
func New(baseURL string, auth Auth, resend time.Duration, client *http.Client, opts ...notify.Option) *Notifier {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	// A redirect would turn the POST into a GET, or carry the credentials
	// elsewhere: it is reported rather than followed.
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if resend <= 0 {
		resend = rules.DefaultResend
	}
	base := strings.TrimRight(baseURL, "/")
	return &Notifier{
		Now:      time.Now,
		base:     base,
		endpoint: base + "/api/v2/alerts",
		auth:     auth,
		resend:   resend,
		client:   &c,
		retrier:  notify.NewRetrier(opts...),
	}
}

// postable is one alert as Alertmanager's API v2 takes it (PostableAlert).
type postable struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations,omitempty"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
}

// batch is one POST: its alerts, and the keys of the message's items they
// carry (ongoing alerts are no item: they are in no receipt).
type batch struct {
	alerts []postable
	keys   []string
}

// Notify posts every item and every ongoing alert of m, in posts of at most
// MaxAlerts alerts, and sends nothing when m has neither. A message with
// only Ongoing alerts is sent: Alertmanager must hear about them every run.
// The receipt lists the items of the posts Alertmanager accepted. A post
// Alertmanager refuses as invalid (400, 422) does not stop the next ones;
// any other failure does, since they would fail alike. The error is a
// *notify.DeliveryError wrapping the last attempt's *notify.HTTPError and
// never contains the bearer token or the password.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) (notify.Receipt, error) {
	batches := n.build(m)
	if len(batches) == 0 {
		return notify.Receipt{}, nil
	}
	target := notify.Target{Service: "alertmanager", Key: n.endpoint, Limit: Limit}
	var accepted []string
	var failed error
	for _, b := range batches {
		body := encode(b.alerts)
		err := n.retrier.Do(ctx, target, func(ctx context.Context) error { return n.post(ctx, body) })
		if err == nil {
			accepted = append(accepted, b.keys...)
			continue
		}
		if failed == nil {
			failed = err
		}
		if !invalid(err) {
			break
		}
	}
	if failed == nil {
		return notify.All(m), nil
	}
	if len(accepted) == 0 {
		return notify.Receipt{}, failed
	}
	return notify.Receipt{Accepted: accepted}, failed
}

// invalid reports whether Alertmanager refused a post for its content,
// which says nothing about the next post.
func invalid(err error) bool {
	he, ok := errors.AsType[*notify.HTTPError](err)
	return ok && (he.StatusCode == http.StatusBadRequest || he.StatusCode == http.StatusUnprocessableEntity)
}

// post makes one attempt.
func (n *Notifier) post(ctx context.Context, body []byte) error {
	secrets := n.secrets()
	fail := func(he *notify.HTTPError) error {
		he.Service = "alertmanager"
		he.Message = notify.RedactText(he.Message, secrets...)
		he.Code = notify.RedactText(he.Code, secrets...)
		he.Err = notify.RedactError(he.Err, secrets...)
		return he
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.endpoint, bytes.NewReader(body))
	if err != nil {
		return fail(&notify.HTTPError{Err: err})
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "backlog-alert")
	switch a := n.auth; {
	case a.BearerToken != "":
		req.Header.Set("Authorization", "Bearer "+a.BearerToken)
	case a.Username != "" || a.Password != "":
		req.SetBasicAuth(a.Username, a.Password)
	}
	resp, err := n.client.Do(req)
	if err != nil {
		// Our own caller giving up is not a reason to try again.
		return fail(&notify.HTTPError{Err: err, Retry: ctx.Err() == nil})
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return nil
	}
	he := &notify.HTTPError{StatusCode: code, Retry: notify.RetryableStatus(code)}
	if d, ok := notify.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok && he.Retry {
		he.RetryAfter = d
	}
	switch {
	case code >= 300 && code < 400:
		he.Message = "redirected"
		if loc := resp.Header.Get("Location"); loc != "" {
			if u, err := req.URL.Parse(loc); err == nil {
				loc = notify.RedactURL(u.String())
			}
			he.Message += " to " + loc
		}
		he.Hint = "redirects are not followed: set url to the address Alertmanager itself answers on"
	case code == http.StatusBadRequest || code == http.StatusUnprocessableEntity:
		he.Message = reason(raw)
		he.Hint = "Alertmanager refused the alerts as invalid"
	case code == http.StatusUnauthorized:
		he.Message = notify.Excerpt(raw, 200)
		he.Hint = "Alertmanager (or the proxy in front of it) wants credentials: set bearer_token or basic_auth"
		if n.auth != (Auth{}) {
			he.Hint = "Alertmanager (or the proxy in front of it) refused the credentials: check bearer_token or basic_auth"
		}
	case code == http.StatusForbidden:
		he.Message = notify.Excerpt(raw, 200)
		he.Hint = "the credentials may not post alerts: check bearer_token or basic_auth, and the proxy's rules"
	case code == http.StatusNotFound || code == http.StatusMethodNotAllowed:
		he.Message = notify.Excerpt(raw, 200)
		he.Hint = "no Alertmanager API v2 at this url: give the base URL (with the --web.route-prefix, if any); API v1 was removed in Alertmanager 0.27"
	default:
		he.Message = reason(raw)
	}
	return fail(he)
}

// secrets are what no error may contain.
func (n *Notifier) secrets() []string {
	s := []string{n.auth.BearerToken, n.auth.Password}
	if u, err := url.Parse(n.base); err == nil && u.User != nil {
		p, _ := u.User.Password()
		s = append(s, p)
	}
	return s
}

// reason is Alertmanager's explanation in a reply: a JSON string (the
// handler's "start time must be before end time; …"), or go-openapi's
// {"code": …, "message": …} when the body did not match the schema.
func reason(raw []byte) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return notify.Truncate(s, 500)
	}
	var e struct {
		Message *string `json:"message"`
	}
	if json.Unmarshal(raw, &e) == nil && e.Message != nil {
		return notify.Truncate(*e.Message, 500)
	}
	return notify.Excerpt(raw, 200)
}

// Preview renders what Notify would post: each POST's target and its JSON
// body, indented.
func (n *Notifier) Preview(m notify.Message) string {
	batches := n.build(m)
	if len(batches) == 0 {
		return ""
	}
	auth := ""
	switch {
	case n.auth.BearerToken != "":
		auth = " (Authorization: Bearer ***)"
	case n.auth.Username != "" || n.auth.Password != "":
		auth = " (basic auth as " + n.auth.Username + ")"
	}
	target := notify.RedactURL(n.base) + "/api/v2/alerts"
	var parts []string
	for i, b := range batches {
		head := "POST " + target + auth
		if len(batches) > 1 {
			head += fmt.Sprintf(" [%d of %d]", i+1, len(batches))
		}
		var out bytes.Buffer
		if err := json.Indent(&out, encode(b.alerts), "", "  "); err != nil {
			panic(err) // encode's output is valid JSON
		}
		parts = append(parts, head+"\n"+out.String())
	}
	return strings.Join(parts, "\n\n")
}

// build turns m into posts: one postable alert per item and per ongoing
// alert, and for an escalated or downgraded item also the resolution of
// the alert under its former severity, which is another label set to
// Alertmanager. Items come first; a label set is posted once.
func (n *Notifier) build(m notify.Message) []batch {
	if len(m.Items) == 0 && len(m.Ongoing) == 0 {
		return nil
	}
	now := m.Time
	if now.IsZero() {
		now = n.Now()
	}
	type entry struct {
		key    string
		alerts []postable
	}
	var entries []entry
	seen := map[string]bool{}
	add := func(key string, ps ...postable) {
		e := entry{key: key}
		for _, p := range ps {
			if id := identity(p.Labels); !seen[id] {
				seen[id] = true
				e.alerts = append(e.alerts, p)
			}
		}
		if len(e.alerts) > 0 || key != "" {
			entries = append(entries, e)
		}
	}
	for _, it := range m.Items {
		kind := notify.KindOf(it)
		p := n.alert(m, it, kind, now)
		ps := []postable{p}
		if kind == rules.KindEscalated || kind == rules.KindDowngraded {
			if former := other(it.Alert.Severity); former != "" {
				q := p
				q.Labels = maps.Clone(p.Labels)
				q.Labels["severity"] = string(former)
				q.EndsAt = now
				q.StartsAt = earliest(q.StartsAt, now)
				ps = append(ps, q)
			}
		}
		add(it.Alert.Key(), ps...)
	}
	for _, it := range m.Ongoing {
		// Still firing and nothing new: worded as a reminder ("WARNING for 3h").
		add("", n.alert(m, it, rules.KindReminder, now))
	}

	var out []batch
	var cur batch
	for _, e := range entries {
		if len(cur.alerts)+len(e.alerts) > MaxAlerts && len(cur.alerts) > 0 {
			out = append(out, cur)
			cur = batch{}
		}
		cur.alerts = append(cur.alerts, e.alerts...)
		if e.key != "" {
			cur.keys = append(cur.keys, e.key)
		}
	}
	if len(cur.alerts) > 0 || len(cur.keys) > 0 {
		out = append(out, cur)
	}
	return out
}

// alert is one item as a postable alert: its identity as labels, its words
// (in the message's language) as annotations, and its active interval.
func (n *Notifier) alert(m notify.Message, it notify.Item, kind rules.Kind, now time.Time) postable {
	a := it.Alert
	labels := map[string]string{
		"alertname": "BacklogAlert" + capitalise(string(a.Condition)),
		"rule":      a.Rule,
		"region":    a.Region,
		"instance":  a.Instance,
		"group":     a.Group,
		"topic":     a.Topic,
		"condition": string(a.Condition),
		"severity":  string(a.Severity),
	}
	if a.Partition != nil {
		labels["partition"] = strconv.Itoa(*a.Partition)
	}
	// The group's tags, so that Alertmanager's routes can match team=...
	// as our routes do; prefixed, so that no tag replaces an identity label.
	for k, v := range a.Tags {
		labels["tag_"+labelName(k)] = v
	}
	for k, v := range labels {
		if v == "" {
			delete(labels, k) // Alertmanager drops empty labels anyway
		} else {
			labels[k] = strings.ToValidUTF8(v, "\uFFFD")
		}
	}

	one := m
	one.Items = []notify.Item{{Kind: kind, Alert: a, Since: it.Since}}
	one.Ongoing = nil
	r := notify.Render(one)
	ann := map[string]string{}
	for k, v := range a.Annotations {
		if v != "" {
			ann[labelName(k)] = v
		}
	}
	summary := a.Annotations["summary"]
	var lines []string
	if len(r.Sections) > 0 {
		s := r.Sections[0]
		lines = s.Lines
		if len(lines) > 0 && summary != "" && lines[0] == summary {
			lines = lines[1:] // the summary has its own annotation
		}
		if summary == "" {
			summary = s.Title + " · " + s.Subject
		}
	}
	ann["summary"] = summary
	ann["description"] = strings.Join(lines, "\n")
	for k, v := range ann {
		ann[k] = strings.ToValidUTF8(v, "\uFFFD")
	}

	starts := it.Since
	if starts.IsZero() || starts.After(now) {
		starts = now
	}
	ends := now.Add(Ahead * n.resend)
	if kind == rules.KindResolved || kind == rules.KindMissing {
		ends = now
	}
	return postable{Labels: labels, Annotations: ann, StartsAt: starts.UTC(), EndsAt: ends.UTC()}
}

// other is the severity an escalated or downgraded alert had before.
func other(s rules.Severity) rules.Severity {
	switch s {
	case rules.Critical:
		return rules.Warning
	case rules.Warning:
		return rules.Critical
	}
	return ""
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b.UTC()
	}
	return a
}

// capitalise upper-cases the first letter: "backlog" → "Backlog".
func capitalise(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	if size == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[size:]
}

// labelName makes an annotation key a valid label name
// ([a-zA-Z_][a-zA-Z0-9_]*), as Alertmanager requires of annotations too.
// The rules file allows only such keys; this is a safeguard.
func labelName(k string) string {
	var b strings.Builder
	for i, r := range k {
		switch {
		case r == '_' || r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) && i > 0):
			b.WriteRune(r)
		case unicode.IsDigit(r) && r < utf8.RuneSelf:
			b.WriteString("_" + string(r))
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

// identity names a label set, as Alertmanager's fingerprint does.
func identity(labels map[string]string) string {
	keys := slices.Sorted(maps.Keys(labels))
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "\xff" + labels[k] + "\xff")
	}
	return b.String()
}

// encode marshals without HTML escaping.
func encode(alerts []postable) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(alerts); err != nil {
		panic(err) // strings, maps and times only: cannot fail
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}
