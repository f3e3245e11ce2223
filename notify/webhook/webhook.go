// Package webhook posts alerts to any HTTP endpoint as one versioned JSON
// document per message, for bridges to PagerDuty or Opsgenie and for a
// team's own bot. The protocol is ours, so it is written here; the local
// receiver in webhooktest checks it, and its Verify is the reference for
// receivers' signature checks.
//
// # The document (version 1)
//
// Each message is one POST with Content-Type: application/json and this
// body (see Document; times are RFC 3339 in UTC):
//
//	{
//	  "version": "1",                  // the document's version (Version)
//	  "source": "backlog-alert",
//	  "time": "2026-11-21T12:00:00Z",  // when the run evaluated
//	  "language": "en",                // of the human text: "en" or "zh-CN"
//	  "headline": "1 escalated, 1 resolved (1 critical)",
//	  "tone": "critical",              // critical, warning, resolved or gone
//	  "paging": true,                  // a critical alert is firing, escalated or reminded
//	  "notifications": [{
//	    "kind": "escalated",
//	    "fingerprint": "3f1c9a0b5e7d2468",
//	    "since": "2026-11-21T11:20:00Z", // when the alert started firing; absent when unknown
//	    "alert": {"rule": "orders", "region": "cn-hangzhou", "instance": "alikafka_post-cn-xxxx",
//	              "group": "billing", "level": "group", "condition": "stale", "severity": "critical",
//	              "value": 2820, "threshold": 1800, "lag": 18000, "age_seconds": 2820, "age_known": true,
//	              "top": [...], "trend": {...}, "annotations": {...}},
//	    "summary": {"icon": "escalated", "title": "Escalated to CRITICAL", "subject": "billing",
//	                "lines": ["Stale CRITICAL (up from WARNING): ...", "..."],
//	                "links": [{"text": "Runbook", "url": "https://wiki.example.com/..."}]}
//	  }],
//	  "ongoing": [...],                // the same shape, kind "ongoing"
//	  "omitted": {...}                 // only when the document had to be cut (below)
//	}
//
// notifications are what changed in this run, one per alert, in the order
// a chat message lists them (most urgent first); there is at least one.
// ongoing are alerts that still fire at the same places (the same rule and
// group, topic or partition) with nothing new to say: context, never news.
//
// kind is one of firing (newly), escalated (warning to critical),
// downgraded (critical to warning), reminder (still firing after the
// rule's repeat), resolved, gone (the consumer group disappeared while
// alerting: deleted, or no rule selects it any more; alert.detail says
// which: "deleted" or "unmatched"), and ongoing (only in "ongoing").
//
// Blind is not a kind. When backlog-alert cannot see an instance (rejected
// credentials, groups that cannot be listed or read, an invalid rules
// file) it raises an alert whose alert.condition is "blind", with
// alert.rule "backlog-alert", alert.cause saying why and an empty
// alert.group, and that alert has a lifecycle like any other: firing,
// reminder, resolved. Kind says what happened and condition what it is
// about, so a bridge that maps kinds to actions (firing, escalated,
// reminder: trigger; resolved, gone: resolve) handles blindness without a
// special case, and a "blind" kind would lose whether it is new, a reminder
// or over. Filter on alert.condition == "blind" to route it apart.
//
// fingerprint is 16 hex digits that identify the alert across runs and
// releases: the same rule, instance, group, topic, partition and condition
// always give the same fingerprint, whatever the kind, severity or values
// (notify.Fingerprint). Use it as a deduplication key (PagerDuty's
// dedup_key, Opsgenie's alias). (fingerprint, kind, time) identifies one
// notification: a retried POST carries the same body.
//
// alert holds every field of the alert as the run's JSON report has it
// (rules.Alert): rule, region, instance, group, level (group, topic or
// partition), condition (backlog, stale, stuck or blind), severity
// (warning or critical), value and threshold (messages for backlog, seconds
// for stale and stuck), lag (messages), age_seconds and age_known, and when
// they apply topic, partition, top, trend, detail, cause, since, at_least,
// annotations and tags (the group's tags, when its instance was listed).
//
// summary is the human text of the notification's section, from the same
// catalogue as the chat messages and in the channel's language: title,
// subject (the place), lines and links (the runbook and other URL
// annotations). icon names the mark chat channels show (one of
// notify.Icons). Notifications and ongoing alerts of one place share their
// section's summary.
//
// Fields may be added within version 1; receivers must ignore fields they
// do not know. A change that would break a receiver gets a new version.
//
// # Size
//
// The protocol has no size limit, but a document is kept within MaxBytes
// (1 MiB), which every common receiver accepts: first trend.backlog (the
// history behind a trend) becomes null in every alert, then the least
// urgent places are left out, each with its notifications and ongoing
// alerts, and "omitted" counts them:
//
//	"omitted": {"trend_backlog": true, "notifications": 12, "ongoing": 3, "text": "…and 12 more"}
//
// Notifications left out are not in Notify's receipt, so they are sent
// again by the next run rather than lost. One notification is always sent,
// even if alone it exceeds the cap.
//
// # Signature
//
// With a secret, every attempt carries two headers:
//
//	X-Backlog-Alert-Timestamp: 1795262400
//	X-Backlog-Alert-Signature: sha256=<hex>
//
// where the timestamp is the Unix time of the attempt in seconds and <hex>
// is the lower-case hex HMAC-SHA256, keyed with the secret, of the
// timestamp's decimal digits exactly as in the header, one ".", and the
// request body byte for byte:
//
//	hex(HMAC-SHA256(key = secret, message = timestamp + "." + body))
//
// A receiver recomputes it over the raw body before parsing it, compares in
// constant time, and rejects a timestamp more than a few minutes from its
// own clock, so that a captured request cannot be replayed later
// (webhooktest.Verify does all three).
//
// # Delivery
//
// Any 2xx is success. 429 and 5xx (honouring Retry-After) and 408 are
// retried, as are transport errors; other 4xx are not, and the error quotes
// the first 200 bytes of the response body with secrets removed. Redirects
// are not followed: a 3xx is a failure that says where it pointed, since
// following it would send the document and its signature to another
// address. Posts to one URL are paced (DefaultLimit unless Notifier.Limit
// says otherwise).
package webhook

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/rules"
)

const (
	// Version is the version of the document Notify sends.
	Version = "1"
	// Source is the document's "source".
	Source = "backlog-alert"
	// MaxBytes caps a document (see the package comment's "Size").
	MaxBytes = 1 << 20

	// TimestampHeader and SignatureHeader carry the signature.
	TimestampHeader = "X-Backlog-Alert-Timestamp"
	SignatureHeader = "X-Backlog-Alert-Signature"
	// SignaturePrefix starts the signature header's value.
	SignaturePrefix = "sha256="

	contentType = "application/json"
	userAgent   = "backlog-alert"
	maxExcerpt  = 200      // bytes of an error response quoted in the error
	maxDrain    = 64 << 10 // bytes read of a response, so the connection is reused
)

// DefaultLimit paces posts to one URL: at most 10 a second, which any
// receiver worth the name takes, and which a run that notifies a channel
// once never reaches. It only matters for many channels sharing a URL.
var DefaultLimit = notify.Limit{Events: 10, Per: time.Second}

// Kind is why a notification is in the document.
type Kind string

// The kinds of a document (see the package comment).
const (
	KindFiring     Kind = "firing"
	KindEscalated  Kind = "escalated"
	KindDowngraded Kind = "downgraded"
	KindReminder   Kind = "reminder"
	KindResolved   Kind = "resolved"
	KindGone       Kind = "gone" // rules.KindMissing
	KindOngoing    Kind = "ongoing"
)

// KindOf names an item's kind in the document.
func KindOf(it notify.Item) Kind {
	switch k := notify.KindOf(it); k {
	case rules.KindMissing:
		return KindGone
	case notify.KindOngoing:
		return KindOngoing
	default:
		return Kind(k)
	}
}

// Document is the body of a POST, version 1. A Go receiver may decode into
// it.
type Document struct {
	Version       string         `json:"version"`
	Source        string         `json:"source"`
	Time          time.Time      `json:"time"`
	Language      string         `json:"language"`
	Headline      string         `json:"headline"`
	Tone          notify.Tone    `json:"tone"`
	Paging        bool           `json:"paging"`
	Notifications []Notification `json:"notifications"`
	Ongoing       []Notification `json:"ongoing"`
	Omitted       *Omitted       `json:"omitted,omitempty"`
}

// Notification is one alert in a document.
type Notification struct {
	Kind        Kind        `json:"kind"`
	Fingerprint string      `json:"fingerprint"`
	Since       time.Time   `json:"since,omitzero"`
	Alert       rules.Alert `json:"alert"`
	Summary     Summary     `json:"summary"`
}

// Summary is the human text of a notification's section.
type Summary struct {
	Icon    notify.Icon `json:"icon"`
	Title   string      `json:"title"`
	Subject string      `json:"subject"`
	Lines   []string    `json:"lines"`
	Links   []Link      `json:"links"`
}

// Link is a URL with the text to show for it.
type Link struct {
	Text string `json:"text"`
	URL  string `json:"url"`
}

// Omitted says what was left out to keep a document within MaxBytes.
type Omitted struct {
	// TrendBacklog: trend.backlog is null in every alert.
	TrendBacklog bool `json:"trend_backlog"`
	// Notifications and Ongoing count the entries left out.
	Notifications int `json:"notifications"`
	Ongoing       int `json:"ongoing"`
	// Text says so in the document's language ("…and 12 more"); empty when
	// no notification was left out.
	Text string `json:"text,omitempty"`
}

// Notifier posts to one URL.
type Notifier struct {
	// Now is the clock for the signature's timestamp; tests replace it.
	Now func() time.Time
	// Limit paces posts to the URL, in the Limiter New was given
	// (notify.SharedLimiter() unless notify.WithLimiter says otherwise);
	// DefaultLimit unless set, and the zero Limit does not pace.
	Limit notify.Limit

	url     string
	secret  string
	headers map[string]string // canonical names
	client  *http.Client
	retrier *notify.Retrier
	hidden  []string // what errors must not show, longest first
}

var _ notify.Notifier = (*Notifier)(nil)

// New returns a Notifier for url. secret, when not empty, signs every
// request (see the package comment). headers are sent with every request
// (an API key, "Authorization: Bearer ..."); their values are treated as
// secrets, kept out of errors and Preview. They cannot replace
// Content-Type, User-Agent or the signature headers. client may be nil (a
// client with a 10 s timeout is used); New keeps its own copy that does
// not follow redirects. By default failed posts are retried with
// notify.DefaultRetry and posts are paced by notify.SharedLimiter() at
// DefaultLimit; opts change that (notify.WithRetry, notify.WithLimiter).
func New(url, secret string, headers map[string]string, client *http.Client, opts ...notify.Option) *Notifier {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	h := map[string]string{}
	for k, v := range headers {
		if k = strings.TrimSpace(k); k != "" {
			h[http.CanonicalHeaderKey(k)] = v
		}
	}
	for _, k := range []string{"Content-Type", "User-Agent", TimestampHeader, SignatureHeader} {
		delete(h, k)
	}
	n := &Notifier{Now: time.Now, Limit: DefaultLimit, url: url, secret: secret, headers: h, client: &c, retrier: notify.NewRetrier(opts...)}
	n.hidden = hidden(url, secret, h)
	return n
}

// Notify posts m as one document, retrying 429, 5xx, 408 and transport
// errors as the retry policy allows. The receipt holds every item, or, when
// the document had to be cut to MaxBytes, those it holds: the others are
// due again next run. The error is a *notify.DeliveryError (see
// notify.Attempts) wrapping the last attempt's *notify.HTTPError, and never
// contains the URL's credentials, the secret, the signature or a header
// value.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) (notify.Receipt, error) {
	if len(m.Items) == 0 {
		return notify.Receipt{}, nil
	}
	b := n.build(m)
	if err := n.retrier.Do(ctx, notify.Target{Service: "webhook", Key: n.url, Limit: n.Limit}, func(ctx context.Context) error {
		return n.post(ctx, b.body)
	}); err != nil {
		return notify.Receipt{}, err
	}
	if b.doc.Omitted == nil || b.doc.Omitted.Notifications == 0 {
		return notify.All(m), nil
	}
	return notify.Receipt{Accepted: b.accepted}, nil
}

// post makes one attempt, signed afresh.
func (n *Notifier) post(ctx context.Context, body []byte) error {
	ts, sig := n.sign(body)
	hide := n.hidden
	if sig != "" {
		hide = append([]string{SignaturePrefix + sig, sig}, n.hidden...)
	}
	fail := func(he *notify.HTTPError) error {
		he.Service = "webhook"
		he.Code = notify.RedactText(he.Code, hide...)
		he.Message = notify.RedactText(he.Message, hide...)
		he.Err = notify.RedactError(he.Err, hide...)
		return he
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url, bytes.NewReader(body))
	if err == nil && (req.URL.Scheme != "http" && req.URL.Scheme != "https" || req.URL.Host == "") {
		err = errors.New("not an http:// or https:// URL")
	}
	if err != nil {
		return fail(&notify.HTTPError{Err: err, Hint: "check the url"})
	}
	for k, v := range n.headers {
		if !validHeader(k, v) {
			// net/http would refuse it on every attempt.
			return fail(&notify.HTTPError{Err: fmt.Errorf("header %q: not a valid header name and value", k), Hint: "check the headers"})
		}
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", userAgent)
	if sig != "" {
		req.Header.Set(TimestampHeader, ts)
		req.Header.Set(SignatureHeader, SignaturePrefix+sig)
	}
	resp, err := n.client.Do(req)
	if err != nil {
		// Our own caller giving up is not a reason to try again.
		return fail(&notify.HTTPError{Err: err, Retry: ctx.Err() == nil})
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, maxExcerpt))
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))

	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return nil
	}
	he := &notify.HTTPError{StatusCode: code, Code: http.StatusText(code)}
	if code >= 300 && code < 400 {
		he.Message = "not followed"
		if loc, err := resp.Location(); err == nil {
			he.Message = "to " + notify.RedactURL(loc.String()) + ", not followed"
		}
		he.Hint = "the document and its signature would go to another address: set url to the final one"
		return fail(he)
	}
	he.Message = excerpt(head)
	he.Retry = notify.RetryableStatus(code) || code == http.StatusRequestTimeout
	he.Hint = hint(code)
	if d, ok := notify.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok && he.Retry {
		he.RetryAfter = d
	}
	return fail(he)
}

// sign returns the timestamp and the hex signature of body, or "" for both
// without a secret.
func (n *Notifier) sign(body []byte) (ts, sig string) {
	if n.secret == "" {
		return "", ""
	}
	ts = strconv.FormatInt(n.Now().Unix(), 10)
	return ts, signature(n.secret, ts, body)
}

// signature is the hex HMAC-SHA256 of timestamp + "." + body keyed with
// secret: the signature header's value after SignaturePrefix.
func signature(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp + "."))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// validHeader reports whether net/http sends name and value: a token
// (RFC 9110) and a value without control characters other than tab.
func validHeader(name, value string) bool {
	for _, r := range name {
		if r > unicode.MaxASCII || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) || r == 0x7f {
			return false
		}
	}
	for _, r := range value {
		if r < ' ' && r != '\t' || r == 0x7f {
			return false
		}
	}
	return name != ""
}

// hint says what to check for a refusal.
func hint(code int) string {
	switch code {
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return "the receiver refused the document: check that it reads version " + Version + " of backlog-alert's webhook document"
	case http.StatusUnauthorized, http.StatusForbidden:
		return "check the secret and the headers the receiver expects (an API key or token)"
	case http.StatusNotFound, http.StatusGone:
		return "check the url: the receiver has no such endpoint"
	case http.StatusMethodNotAllowed:
		return "the url does not take POST"
	case http.StatusRequestEntityTooLarge:
		return "the receiver takes less than the 1 MiB a document may be"
	case http.StatusUnsupportedMediaType:
		return "the receiver does not take application/json"
	}
	return ""
}

// excerpt is the start of a response body on one line: at most maxExcerpt
// bytes, without a rune cut in half.
func excerpt(raw []byte) string {
	raw = raw[:min(len(raw), maxExcerpt)]
	for len(raw) > 0 && !utf8.Valid(raw) {
		raw = raw[:len(raw)-1]
	}
	return notify.Excerpt(raw, maxExcerpt)
}

// plainSegment is a path segment that reads as a word ("hooks", "alert");
// anything else may be a token.
var plainSegment = regexp.MustCompile(`^[a-z][a-z_-]{0,15}$`)

// hidden lists what errors must not show: the URL and its credentials
// (user info, query values, path segments that may be tokens), the secret,
// and every header value with its last word (the token of "Bearer
// <token>"), longest first so that a secret inside another goes with it.
func hidden(rawURL, secret string, headers map[string]string) []string {
	out := []string{rawURL, secret}
	if u, err := url.Parse(rawURL); err == nil {
		if u.User != nil {
			p, _ := u.User.Password()
			out = append(out, u.User.Username(), p)
		}
		for _, vs := range u.Query() {
			out = append(out, vs...)
		}
		for _, s := range strings.Split(u.Path, "/") {
			if s != "" && !plainSegment.MatchString(s) {
				out = append(out, s)
			}
		}
	}
	for _, v := range headers {
		out = append(out, v)
		if f := strings.Fields(v); len(f) > 1 {
			out = append(out, f[len(f)-1])
		}
	}
	out = slices.DeleteFunc(out, func(s string) bool { return strings.TrimSpace(s) == "" })
	slices.SortFunc(out, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	return slices.Compact(out)
}

// Preview renders what Notify would send, for a person: the request line
// with the URL's credentials hidden, the headers with the extra headers'
// values hidden and the signature described, and the document indented.
func (n *Notifier) Preview(m notify.Message) string {
	if len(m.Items) == 0 {
		return ""
	}
	b := n.build(m)
	lines := []string{"POST " + notify.RedactURL(n.url)}
	headers := []string{"Content-Type: " + contentType, "User-Agent: " + userAgent}
	for k := range n.headers {
		headers = append(headers, k+": ***")
	}
	if n.secret != "" {
		headers = append(headers,
			TimestampHeader+": <Unix seconds when sent>",
			SignatureHeader+": "+SignaturePrefix+`<hex HMAC-SHA256 of "<timestamp>.<body>" with the secret>`)
	}
	slices.Sort(headers)
	lines = append(lines, headers...)
	var doc bytes.Buffer
	if err := json.Indent(&doc, b.body, "", "  "); err != nil {
		panic(err) // our own encoding: cannot fail
	}
	return strings.Join(lines, "\n") + "\n\n" + doc.String()
}

// built is a message as a document, encoded.
type built struct {
	doc      Document
	body     []byte
	accepted []string // keys of the items in the document
}

// build lays m out as a document, within MaxBytes when it can be (see the
// package comment's "Size").
func (n *Notifier) build(m notify.Message) built {
	r := notify.Render(m)
	secs := notify.Sections(m)
	// Render words the sections of notify.Sections, in the same order.
	notes := make([][]Notification, len(secs))
	ongoing := make([][]Notification, len(secs))
	keys := make([][]string, len(secs))
	for i, s := range secs {
		sum := summary(r.Sections[i])
		for _, e := range s.Entries {
			note := notification(e, sum)
			if note.Kind == KindOngoing {
				ongoing[i] = append(ongoing[i], note)
				continue
			}
			notes[i] = append(notes[i], note)
			keys[i] = append(keys[i], e.Alert.Key())
		}
	}
	when := m.Time
	if when.IsZero() {
		when = n.Now()
	}
	lang := cmp.Or(m.Language, rules.LanguageEnglish)
	if notify.CatalogFor(lang).Language != lang {
		lang = rules.LanguageEnglish // Render fell back to English
	}
	layout := func(k int, slim bool) built {
		b := built{doc: Document{
			Version: Version, Source: Source, Time: when.UTC(), Language: lang,
			Headline: r.Headline, Tone: r.Tone, Paging: r.Paging,
			Notifications: []Notification{}, Ongoing: []Notification{},
		}}
		var om Omitted
		om.TrendBacklog = slim
		for i := range secs {
			if i >= k {
				om.Notifications += len(notes[i])
				om.Ongoing += len(ongoing[i])
				continue
			}
			b.doc.Notifications = append(b.doc.Notifications, notes[i]...)
			b.doc.Ongoing = append(b.doc.Ongoing, ongoing[i]...)
			b.accepted = append(b.accepted, keys[i]...)
		}
		if slim {
			b.doc.Notifications = dropHistory(b.doc.Notifications)
			b.doc.Ongoing = dropHistory(b.doc.Ongoing)
		}
		if om.Notifications > 0 {
			om.Text = r.More(om.Notifications)
		}
		if om != (Omitted{}) {
			b.doc.Omitted = &om
		}
		b.body = notify.EncodeJSON(b.doc)
		return b
	}
	b := layout(len(secs), false)
	if len(b.body) <= MaxBytes {
		return b
	}
	slim := hasHistory(secs)
	if slim {
		if b = layout(len(secs), true); len(b.body) <= MaxBytes {
			return b
		}
	}
	k := notify.Fit(len(secs), func(k int) bool { return len(layout(k, slim).body) <= MaxBytes })
	return layout(max(k, 1), slim)
}

// hasHistory reports whether any alert has a trend history to drop.
func hasHistory(secs []notify.Section) bool {
	for _, s := range secs {
		for _, e := range s.Entries {
			if e.Alert.Trend != nil && e.Alert.Trend.Backlog != nil {
				return true
			}
		}
	}
	return false
}

// dropHistory returns notes with trend.backlog null, leaving the caller's
// alerts alone.
func dropHistory(notes []Notification) []Notification {
	out := slices.Clone(notes)
	for i := range out {
		if t := out[i].Alert.Trend; t != nil {
			slim := *t
			slim.Backlog = nil
			out[i].Alert.Trend = &slim
		}
	}
	return out
}

func notification(e notify.Item, sum Summary) Notification {
	a := e.Alert
	if !a.Since.IsZero() {
		a.Since = a.Since.UTC()
	}
	note := Notification{Kind: KindOf(e), Fingerprint: notify.Fingerprint(a), Alert: a, Summary: sum}
	if !e.Since.IsZero() {
		note.Since = e.Since.UTC()
	}
	return note
}

func summary(s notify.Summary) Summary {
	out := Summary{Icon: s.Icon, Title: s.Title, Subject: s.Subject, Lines: slices.Clone(s.Lines), Links: []Link{}}
	if out.Lines == nil {
		out.Lines = []string{}
	}
	for _, l := range s.Links {
		out.Links = append(out.Links, Link{Text: l.Text, URL: l.URL})
	}
	return out
}
