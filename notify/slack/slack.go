// Package slack posts alerts to a Slack incoming webhook with Block Kit,
// through slack-go.
package slack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/backlog-alert/backlog-alert/notify"
)

// Slack's documented limits and colours.
const (
	maxBlocks     = 50        // per message, attachments included
	maxSection    = 3000      // characters of a section's text
	maxHeader     = 150       // characters of a header
	colorCritical = "#E01E5A" // red
	colorWarning  = "#ECB22E" // amber
	colorResolved = "#2EB67D" // green
	colorGone     = "#9E9E9E" // grey
)

// Limit is Slack's rate limit for one incoming webhook: about one message
// per second.
var Limit = notify.Limit{Events: 1, Per: time.Second}

// Notifier posts to one incoming webhook.
type Notifier struct {
	url     string
	client  *http.Client
	retrier *notify.Retrier
}

var _ notify.Notifier = (*Notifier)(nil)

// New returns a Notifier for the webhook url. client may be nil (a client
// with a 10 s timeout is used); New keeps its own copy, wrapping the
// transport to read error bodies. By default failed posts are retried with
// notify.DefaultRetry and posts are paced by notify.SharedLimiter() at
// Limit; opts change that (notify.WithRetry, notify.WithLimiter).
func New(url string, client *http.Client, opts ...notify.Option) *Notifier {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	c := *client
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c.Transport = &captureTransport{next: next}
	// A redirect is not followed: the webhook's URL is its secret, and the
	// message is for Slack only. The 3xx comes back as a non-2xx reply,
	// which classify reports and which is not retried.
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Notifier{url: url, client: &c, retrier: notify.NewRetrier(opts...)}
}

// Notify posts every item of m in one message, retrying 429s (after their
// Retry-After), 5xx and transport errors as the retry policy allows. The
// error is a *notify.DeliveryError (see notify.Attempts) wrapping the last
// attempt's *notify.HTTPError (which wraps *slackgo.RateLimitedError on 429
// with Retry-After), and never contains the webhook's path.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) (notify.Receipt, error) {
	if len(m.Items) == 0 {
		return notify.Receipt{}, nil
	}
	msg := compose(m)
	if err := n.retrier.Do(ctx, notify.Target{Service: "slack", Key: n.url, Limit: Limit}, func(ctx context.Context) error {
		return n.post(ctx, msg)
	}); err != nil {
		return notify.Receipt{}, err
	}
	return notify.All(m), nil
}

// post makes one attempt.
func (n *Notifier) post(ctx context.Context, msg *slackgo.WebhookMessage) error {
	var c captured
	err := slackgo.PostWebhookCustomHTTPContext(context.WithValue(ctx, captureKey{}, &c), n.url, n.client, msg)
	if err == nil {
		return nil
	}
	return n.classify(ctx, err, c)
}

// classify turns slack-go's error into a *notify.HTTPError carrying the body
// Slack sent, which slack-go throws away but which is the only place Slack
// says what is wrong ("no_service", "invalid_payload").
func (n *Notifier) classify(ctx context.Context, err error, c captured) error {
	// The webhook's path is its secret, and an error page may echo it (or
	// parts of it): redact the URL, the path and each of its segments.
	secrets := []string{n.url}
	if u, perr := url.Parse(n.url); perr == nil {
		secrets = append(secrets, u.Path)
		for seg := range strings.SplitSeq(u.Path, "/") {
			if seg != "services" {
				secrets = append(secrets, seg)
			}
		}
	}
	he := &notify.HTTPError{Service: "slack", Code: notify.RedactText(notify.Excerpt(c.body, 200), secrets...)}
	if rl, ok := errors.AsType[*slackgo.RateLimitedError](err); ok {
		he.StatusCode = http.StatusTooManyRequests
		he.RetryAfter = rl.RetryAfter
		he.Retry = true
		he.Err = rl
		return he
	}
	if sc, ok := errors.AsType[slackgo.StatusCodeError](err); ok {
		he.StatusCode = sc.Code
		he.Retry = notify.RetryableStatus(sc.Code)
		he.Err = sc
		if sc.Code >= 300 && sc.Code < 400 {
			he.Message = fmt.Sprintf("redirected to another location (HTTP %d): not followed", sc.Code)
		}
		return he
	}
	// Transport errors quote the URL, whose path is the secret.
	he.Err = notify.RedactError(err, secrets...)
	if c.status != 0 {
		// A response arrived but slack-go could not read it: a 429 whose
		// Retry-After is an HTTP date rather than seconds, for one.
		he.StatusCode = c.status
		he.Retry = notify.RetryableStatus(c.status)
		if d, ok := notify.ParseRetryAfter(c.retryAfter, time.Now()); ok && c.status == http.StatusTooManyRequests {
			he.RetryAfter = d
		}
		return he
	}
	he.Code = ""
	// Our own caller giving up is not a reason to try again; a timeout or a
	// refused connection is.
	he.Retry = ctx.Err() == nil
	return he
}

// Preview renders what Notify would send as plain text: the header, then the
// texts of the context and section blocks (mrkdwn kept), separated by blank
// lines.
func (n *Notifier) Preview(m notify.Message) string {
	if len(m.Items) == 0 {
		return ""
	}
	return readable(compose(m))
}

// readable is a message as plain text: the header, then the texts of the
// context and section blocks (mrkdwn kept), separated by blank lines.
func readable(msg *slackgo.WebhookMessage) string {
	var parts []string
	blocks := msg.Blocks.BlockSet
	for _, a := range msg.Attachments {
		blocks = append(blocks, a.Blocks.BlockSet...)
	}
	for _, b := range blocks {
		switch b := b.(type) {
		case *slackgo.HeaderBlock:
			parts = append(parts, b.Text.Text)
		case *slackgo.SectionBlock:
			parts = append(parts, b.Text.Text)
		case *slackgo.ContextBlock:
			var texts []string
			for _, e := range b.ContextElements.Elements {
				if t, ok := e.(*slackgo.TextBlockObject); ok {
					texts = append(texts, t.Text)
				}
			}
			parts = append(parts, strings.Join(texts, " "))
		}
	}
	return strings.Join(parts, "\n\n")
}

// compose lays m out as one card (see card), coloured by the message's
// tone. The words are notify's (notify.Render), one section block per
// section, in the channel's language; sections beyond Slack's block limit
// are counted in a last one.
func compose(m notify.Message) *slackgo.WebhookMessage {
	r := notify.Render(m)
	// The header and the context block take two blocks; when the sections
	// do not all fit, one more goes to the "…and N more" section.
	room := maxBlocks - 2
	shown := len(r.Sections)
	if shown > room {
		shown = room - 1
	}
	var texts []string
	for _, s := range r.Sections[:shown] {
		texts = append(texts, sectionText(s))
	}
	if rest := len(r.Sections) - shown; rest > 0 {
		texts = append(texts, escape(r.More(rest)))
	}
	return card(glyph[notify.HeadlineIcon(r.Tone)]+" "+r.Headline, r.Tone, r.About, texts...)
}

// card is a message: the headline as its header (and the notification's
// text), then one attachment holding only a colour bar, by tone, and the
// blocks (legacy attachment fields next to blocks are rejected): the about
// line as context, and a section block per text (mrkdwn, escaped).
func card(headline string, tone notify.Tone, about string, texts ...string) *slackgo.WebhookMessage {
	blocks := []slackgo.Block{slackgo.NewContextBlock("", mrkdwn(escape(about)))}
	for _, t := range texts {
		blocks = append(blocks, slackgo.NewSectionBlock(mrkdwn(t), nil, nil))
	}
	return &slackgo.WebhookMessage{
		Text: headline,
		Blocks: &slackgo.Blocks{BlockSet: []slackgo.Block{
			slackgo.NewHeaderBlock(slackgo.NewTextBlockObject(slackgo.PlainTextType, notify.Truncate(headline, maxHeader), true, false)),
		}},
		Attachments: []slackgo.Attachment{{Color: color(tone), Blocks: slackgo.Blocks{BlockSet: blocks}}},
	}
}

// sectionText is one section: its emoji, title and subject, its lines, and
// its links as <url|text> (the runbook) on a last line that a cut keeps.
func sectionText(s notify.Summary) string {
	head := fmt.Sprintf("%s *%s* · *%s*", glyph[s.Icon], escape(s.Title), escape(s.Subject))
	return layout.Clip(head, s.Lines, links(s.Links), maxSection)
}

// links draws links as <url|text>.
func links(ls []notify.Link) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = "<" + linkTarget(l.URL) + "|" + escape(l.Text) + ">"
	}
	return out
}

var layout = notify.Layout{Escape: escape, LineSep: "\n", LinksSep: "\n", LinkSep: " · "}

// linkTarget escapes a URL for <url|text>: the mrkdwn escapes, and "|",
// which would end the URL early.
func linkTarget(u string) string { return strings.ReplaceAll(escape(u), "|", "%7C") }

func mrkdwn(s string) *slackgo.TextBlockObject {
	return slackgo.NewTextBlockObject(slackgo.MarkdownType, s, false, false)
}

// escape applies the three escapes Slack requires in mrkdwn, so names
// containing <, > or & are shown, not parsed as links or mentions.
var escape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace

// glyph draws notify's icons as Slack shortcodes.
var glyph = map[notify.Icon]string{
	notify.IconCritical:   ":red_circle:",
	notify.IconWarning:    ":large_orange_circle:",
	notify.IconOther:      ":white_circle:",
	notify.IconEscalated:  ":arrow_double_up:",   // ⏫
	notify.IconDowngraded: ":arrow_double_down:", // ⏬
	notify.IconReminder:   ":repeat:",            // 🔁
	notify.IconResolved:   ":white_check_mark:",  // ✅
	notify.IconGone:       ":ghost:",             // 👻
	notify.IconAlarm:      ":rotating_light:",
	notify.IconCaution:    ":warning:",
}

func color(t notify.Tone) string {
	switch t {
	case notify.ToneCritical:
		return colorCritical
	case notify.ToneWarning:
		return colorWarning
	case notify.ToneResolved:
		return colorResolved
	}
	return colorGone
}

// maxCapture bounds how much of an error body is kept; Slack's are a word.
const maxCapture = 512

type captureKey struct{}

// captured is where captureTransport leaves a non-2xx reply for the call
// that made the request (passed through the request's context, so
// concurrent calls do not mix).
type captured struct {
	status     int
	body       []byte
	retryAfter string // the Retry-After header
}

// captureTransport keeps the start of a non-2xx response body, which
// slack-go reads and discards, and hands the whole body on unchanged.
type captureTransport struct {
	next http.RoundTripper
}

func (t *captureTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp.StatusCode/100 == 2 {
		return resp, err
	}
	if c, ok := req.Context().Value(captureKey{}).(*captured); ok {
		head, _ := io.ReadAll(io.LimitReader(resp.Body, maxCapture))
		c.status, c.body, c.retryAfter = resp.StatusCode, head, resp.Header.Get("Retry-After")
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	}
	return resp, nil
}
