// Package dingtalk posts alerts to a DingTalk custom robot as one markdown
// message, signing the request when the robot has a secret. No maintained Go
// client exists, and the protocol is one POST, so it is written here.
package dingtalk

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/backlog-alert/backlog-alert/notify"
)

const (
	maxBytes   = 20000 // DingTalk rejects larger messages (460101); applied to the whole body
	maxSection = 3000  // runes per item, so that one huge name cannot crowd out the rest
)

// Limit is DingTalk's rate limit for one robot: 20 messages a minute. A
// robot that exceeds it is muted for ten minutes (errcode 130101).
var Limit = notify.Limit{Events: 20, Per: time.Minute}

// Notifier posts to one robot.
type Notifier struct {
	// Now is the clock for the signature's timestamp; tests replace it.
	Now func() time.Time

	url       string
	secret    string
	atMobiles []string
	client    *http.Client
	retrier   *notify.Retrier
}

var _ notify.Notifier = (*Notifier)(nil)

// New returns a Notifier for the robot url
// (https://oapi.dingtalk.com/robot/send?access_token=...). secret is the
// robot's signing secret ("SEC..."), empty when the robot uses keywords or an
// IP allow-list instead. atMobiles are @-mentioned when a message holds a
// critical alert that is firing, escalated or a reminder (see notify.Pages).
// client may be nil (a client with a 10 s timeout is used). By default
// failed posts are retried with notify.DefaultRetry and posts are paced by
// notify.SharedLimiter() at Limit; opts change that (notify.WithRetry,
// notify.WithLimiter).
func New(url, secret string, atMobiles []string, client *http.Client, opts ...notify.Option) *Notifier {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	var mobiles []string
	for _, m := range atMobiles {
		if m = strings.TrimSpace(m); m != "" {
			mobiles = append(mobiles, m)
		}
	}
	// Our own copy: a redirect is not followed (the URL's access_token and
	// the signature are for DingTalk only). The 3xx comes back as a non-2xx
	// reply saying so, which is not retried.
	c := *client
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c.Transport = redirectTransport{next: next}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Notifier{Now: time.Now, url: url, secret: secret, atMobiles: mobiles, client: &c, retrier: notify.NewRetrier(opts...)}
}

// redirectTransport replaces the body of a 3xx reply, which came from
// whatever answered in DingTalk's place, with what happened: it becomes the
// error's text.
type redirectTransport struct{ next http.RoundTripper }

func (t redirectTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp.StatusCode < 300 || resp.StatusCode >= 400 {
		return resp, err
	}
	resp.Body.Close()
	msg := fmt.Sprintf("redirected to another location (HTTP %d): not followed", resp.StatusCode)
	resp.Body = io.NopCloser(strings.NewReader(msg))
	resp.ContentLength = int64(len(msg))
	resp.Header = resp.Header.Clone()
	resp.Header.Del("Content-Encoding")
	resp.Header.Set("Content-Length", strconv.Itoa(len(msg)))
	resp.Header.Set("Content-Type", "text/plain; charset=utf-8")
	return resp, nil
}

type payload struct {
	MsgType  string   `json:"msgtype"`
	Markdown markdown `json:"markdown"`
	At       at       `json:"at"`
}

type markdown struct {
	Title string `json:"title"`
	Text  string `json:"text"`
}

type at struct {
	AtMobiles []string `json:"atMobiles"`
	IsAtAll   bool     `json:"isAtAll"`
}

// Notify posts every item of m in one message, retrying busy (-1), too
// fast (410100), 5xx and transport errors as the retry policy allows, and
// errcode 130101 only if its ten-minute mute fits. The error is a
// *notify.DeliveryError (see notify.Attempts) wrapping the last attempt's
// *notify.HTTPError, and never contains the access token, the signature or
// the secret.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) (notify.Receipt, error) {
	if len(m.Items) == 0 {
		return notify.Receipt{}, nil
	}
	body := notify.EncodeJSON(n.build(m))
	if err := n.retrier.Do(ctx, notify.Target{Service: "dingtalk", Key: n.url, Limit: Limit}, func(ctx context.Context) error {
		return n.post(ctx, body)
	}); err != nil {
		return notify.Receipt{}, err
	}
	return notify.All(m), nil
}

// post makes one attempt, signed afresh.
func (n *Notifier) post(ctx context.Context, body []byte) error {
	target, sign := n.target()
	secrets := []string{n.url, n.secret, sign}
	if u, err := url.Parse(n.url); err == nil {
		secrets = append(secrets, u.Query().Get("access_token"))
	}
	return notify.Robot{Service: "dingtalk", Client: n.client, CodeName: "errcode", Reply: notify.ErrcodeReply, Classify: classify}.
		Post(ctx, target, body, secrets...)
}

// classify explains DingTalk's documented error codes. Unknown codes are
// not retried.
func classify(code int) (hint string, retry bool, after time.Duration) {
	switch {
	case code == 310000:
		return "check the robot's security settings: a keyword missing from the message, a wrong signing secret, a clock more than an hour off, or an IP not on the allow-list", false, 0
	case code == 300001 || code == 300005 || code == 400101:
		return "the access_token is wrong or the robot was removed", false, 0
	case code == 400106:
		return "the robot does not exist: check the access_token", false, 0
	case code == 400102:
		return "the robot is disabled: enable it in the group's robot settings", false, 0
	case code == 400013:
		return "the group was dissolved: point the channel at another robot", false, 0
	case code == 400105:
		return "the message type is not supported", false, 0
	case code == 40035:
		return "a required parameter is missing or the JSON is invalid", false, 0
	case code == 130101:
		// The robot is then muted for ten minutes.
		return "over 20 messages per minute for this robot", true, 10 * time.Minute
	case code == 410100 || code == -1:
		return "DingTalk is busy or the robot sends too fast", true, 0
	case code == 460101:
		return "message over 20000 bytes", false, 0
	case code >= 430101 && code <= 430104:
		return "DingTalk rejected the content", false, 0
	}
	return "", false, 0
}

// target is the URL to post to: n.url, plus timestamp and signature when the
// robot has a secret. It also returns the signature, to keep it out of errors.
func (n *Notifier) target() (target, sign string) {
	if n.secret == "" {
		return n.url, ""
	}
	ts := strconv.FormatInt(n.Now().UnixMilli(), 10)
	mac := hmac.New(sha256.New, []byte(n.secret))
	mac.Write([]byte(ts + "\n" + n.secret))
	sign = base64.StdEncoding.EncodeToString(mac.Sum(nil))
	sep := "&"
	switch {
	case !strings.Contains(n.url, "?"):
		sep = "?"
	case strings.HasSuffix(n.url, "?") || strings.HasSuffix(n.url, "&"):
		sep = ""
	}
	// Escaped exactly once: DingTalk decodes once and compares.
	return n.url + sep + "timestamp=" + ts + "&sign=" + url.QueryEscape(sign), sign
}

// Preview renders what Notify would send: the title, the markdown text and
// who is @-mentioned.
func (n *Notifier) Preview(m notify.Message) string {
	if len(m.Items) == 0 {
		return ""
	}
	p := n.build(m)
	parts := []string{p.Markdown.Title, p.Markdown.Text}
	if len(p.At.AtMobiles) > 0 {
		parts = append(parts, "Mentions: @"+strings.Join(p.At.AtMobiles, " @"))
	}
	return strings.Join(parts, "\n\n")
}

// build lays m out as markdown (DingTalk has no tables: headings, lists and
// quotes) in the channel's language (notify.Render), with as many sections
// as fit in maxBytes and a "…and N more" line for the rest. Mobiles are
// mentioned only when a section pages (critical and firing, escalated or a
// reminder), and must then also appear in the text for DingTalk to notify
// them.
func (n *Notifier) build(m notify.Message) payload {
	r := notify.Render(m)
	mobiles := []string{} // sent as [] rather than null
	if r.Paging {
		mobiles = n.atMobiles
	}
	// "backlog-alert" in the About line lets a keyword-secured robot accept it.
	head := "### " + notify.Emoji[notify.HeadlineIcon(r.Tone)] + " " + Escape(r.Headline) + "\n\n" + Escape(r.About)

	sections := make([]string, len(r.Sections))
	for i, s := range r.Sections {
		sections[i] = section(s)
	}
	render := func(k int) payload {
		parts := append([]string{head}, sections[:k]...)
		if rest := len(sections) - k; rest > 0 {
			parts = append(parts, "> "+Escape(r.More(rest)))
		}
		if len(mobiles) > 0 {
			parts = append(parts, "@"+strings.Join(mobiles, " @"))
		}
		return payload{
			MsgType:  "markdown",
			Markdown: markdown{Title: "backlog-alert: " + r.Headline, Text: strings.Join(parts, "\n\n")},
			At:       at{AtMobiles: mobiles},
		}
	}
	k := notify.Fit(len(sections), func(k int) bool { return len(notify.EncodeJSON(render(k))) <= maxBytes })
	return render(k)
}

// section is one section: a heading with its emoji, title and subject, its
// lines as a list, and its links ([Runbook](url)) on a last line that a cut
// keeps.
func section(s notify.Summary) string {
	head := fmt.Sprintf("#### %s %s · %s\n", notify.Emoji[s.Icon], Escape(s.Title), Escape(s.Subject))
	links := make([]string, len(s.Links))
	for i, l := range s.Links {
		links[i] = "[" + Escape(l.Text) + "](" + linkTarget(l.URL) + ")"
	}
	return layout.Clip(head, s.Lines, links, maxSection)
}

var layout = notify.Layout{Escape: Escape, LineSep: "\n- ", LinksSep: "\n\n", LinkSep: " · "}

// Escape keeps DingTalk's markdown from interpreting names: a group called
// __orders_v2__* would otherwise show as a bold "orders_v2", and [x](y) as a
// link. Characters markdown gives a meaning to get a backslash, as
// CommonMark escapes them; an underscore only where it could open or close
// emphasis (next to a space, punctuation or the end), so that the many
// instance IDs and group names with an underscore inside a word
// (alikafka_post-cn-…) stay as they are, and a tilde only where a pair
// could strike text through.
func Escape(s string) string {
	var b strings.Builder
	rs := []rune(s)
	// One tilde is "~25 min"; strikethrough takes a pair.
	tildes := strings.Count(s, "~")
	for i, r := range rs {
		switch {
		case strings.ContainsRune("\\*`[]<>#|", r), r == '~' && tildes > 1:
			b.WriteByte('\\')
		case r == '_' && notify.Flanking(rs, i):
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// linkTarget makes a URL safe inside (...): spaces and parentheses would end
// the link early.
var linkTarget = strings.NewReplacer(" ", "%20", "(", "%28", ")", "%29").Replace
