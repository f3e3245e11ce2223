// Package wecom posts alerts to a WeCom (企业微信) group robot as markdown
// messages. A robot takes at most 4096 bytes of markdown a message, so a
// message that does not fit is split into a few posts, each of whole
// sections under the repeated headline; paging messages are followed by a
// small text message that @-mentions mobiles, since WeCom's markdown cannot.
// The protocol is one POST with the key in the URL, so it is written here.
package wecom

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/rules"
)

const (
	// MaxBytes is the most markdown.content may hold, in UTF-8 bytes; WeCom
	// rejects more with errcode 40058.
	MaxBytes = 4096
	// MaxPosts is the most markdown posts one message is split into; the
	// last one ends with "…and N more" for the sections that did not fit.
	// Below 10, so that every part marker ("(1/3)") has the same width.
	MaxPosts = 3
	maxText  = 2048 // text.content, in bytes: the mention's message
)

// Limit is WeCom's rate limit for one robot: 20 messages a minute, the
// mention's text message included. Beyond it WeCom answers errcode 45009.
var Limit = notify.Limit{Events: 20, Per: time.Minute}

// Notifier posts to one robot.
type Notifier struct {
	url       string
	key       string
	atMobiles []string
	client    *http.Client
	retrier   *notify.Retrier
}

var _ notify.Notifier = (*Notifier)(nil)

// New returns a Notifier for the robot url
// (https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...); the key is the
// robot's only credential and is kept out of every error. atMobiles are
// @-mentioned when a message holds a critical alert that is firing,
// escalated or a reminder (see notify.Pages), by a text message after the
// markdown ("@all" mentions everyone). client may be nil (a client with a
// 10 s timeout is used). By default failed posts are retried with
// notify.DefaultRetry and posts are paced by notify.SharedLimiter() at
// Limit; opts change that (notify.WithRetry, notify.WithLimiter).
func New(url string, atMobiles []string, client *http.Client, opts ...notify.Option) *Notifier {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	var mobiles []string
	for _, m := range atMobiles {
		if m = strings.TrimSpace(m); m != "" {
			mobiles = append(mobiles, m)
		}
	}
	return &Notifier{url: url, key: keyOf(url), atMobiles: mobiles, client: client, retrier: notify.NewRetrier(opts...)}
}

func keyOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Query().Get("key")
}

type payload struct {
	MsgType  string    `json:"msgtype"`
	Markdown *markdown `json:"markdown,omitempty"`
	Text     *text     `json:"text,omitempty"`
}

type markdown struct {
	Content string `json:"content"`
}

type text struct {
	Content             string   `json:"content"`
	MentionedMobileList []string `json:"mentioned_mobile_list,omitempty"`
}

// post is one request of a message: its payload and the keys of the items
// it carries. An item is accepted when every post that carries it was:
// its section's post and, for a paging item, the mention.
type post struct {
	payload payload
	keys    []string
	pages   bool // a markdown post holding a paging section
	mention bool // the text message that @-mentions
}

// Notify posts m as planned (see Preview): the markdown posts in order,
// stopping at the first that fails after its retries, so that parts never
// arrive out of order; then, when a post that went through holds a paging
// section, the mention. It retries busy (-1, 45033), too fast (45009), 5xx
// and transport errors as the retry policy allows. The receipt lists the
// items of the posts that went through (a paging item also needs its
// mention); the error, when some were not, is a *notify.DeliveryError
// wrapping the last attempt's *notify.HTTPError (wrapped in turn, for a
// split message, with which part failed), and never contains the key.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) (notify.Receipt, error) {
	if len(m.Items) == 0 {
		return notify.Receipt{}, nil
	}
	posts := n.plan(m)
	ok := make([]bool, len(posts))
	parts := 0
	for _, p := range posts {
		if !p.mention {
			parts++
		}
	}
	var failed error // the first markdown post that failed
	failedPart := 0
	var mentionErr error
	paged := false
	for i, p := range posts {
		if p.mention {
			if !paged {
				continue // what it mentions was not posted
			}
			if mentionErr = n.send(ctx, p.payload); mentionErr == nil {
				ok[i] = true
			}
			continue
		}
		if failed != nil {
			continue
		}
		if failed = n.send(ctx, p.payload); failed != nil {
			failedPart = i + 1
			continue
		}
		ok[i] = true
		paged = paged || p.pages
	}
	if failed == nil && mentionErr == nil {
		return notify.All(m), nil
	}

	receipt := accepted(m, posts, ok)
	var err error
	switch {
	case failed != nil && parts == 1:
		err = failed // the message was one post: its error says it all
	case failed != nil:
		err = fmt.Errorf("wecom: part %d of %d not sent, it and the parts after it are due again next run: %w", failedPart, parts, failed)
	default:
		err = fmt.Errorf("wecom: the message was posted but the @-mention was not, its paging alerts are due again next run: %w", mentionErr)
	}
	if failed != nil && mentionErr != nil {
		err = fmt.Errorf("%w; the @-mention was not sent either", err)
	}
	return receipt, err
}

// accepted is the receipt of the posts that went through: the items that
// no failed or unsent post carries, in the message's order.
func accepted(m notify.Message, posts []post, ok []bool) notify.Receipt {
	carried, missed := map[string]bool{}, map[string]bool{}
	for i, p := range posts {
		for _, k := range p.keys {
			if ok[i] {
				carried[k] = true
			} else {
				missed[k] = true
			}
		}
	}
	var r notify.Receipt
	for _, it := range m.Items {
		if k := it.Alert.Key(); carried[k] && !missed[k] {
			r.Accepted = append(r.Accepted, k)
		}
	}
	return r
}

// send delivers one payload, paced and retried.
func (n *Notifier) send(ctx context.Context, p payload) error {
	body := notify.EncodeJSON(p)
	return n.retrier.Do(ctx, notify.Target{Service: "wecom", Key: n.url, Limit: Limit}, func(ctx context.Context) error {
		return n.post(ctx, body)
	})
}

// post makes one attempt.
func (n *Notifier) post(ctx context.Context, body []byte) error {
	return notify.Robot{Service: "wecom", Client: n.client, CodeName: "errcode", Reply: notify.ErrcodeReply, Classify: classify}.
		Post(ctx, n.url, body, n.url, n.key)
}

// classify explains the error codes a group robot answers with. Unknown
// codes are not retried.
func classify(code int) (hint string, retry bool, after time.Duration) {
	switch code {
	case 93000:
		return "the webhook key is wrong or the robot was removed from its group: copy the robot's webhook URL again", false, 0
	case 40058:
		return "message over 4096 bytes", false, 0
	case 40008:
		return "the message type is not supported", false, 0
	case 44004:
		return "the message is empty", false, 0
	case 45009:
		return "over 20 messages per minute for this robot", true, 0
	case 45033, -1:
		return "WeCom is busy", true, 0
	}
	return "", false, 0
}

// Preview renders what Notify would send: each post's markdown, then the
// mention's text and who it mentions, separated by "---" lines.
func (n *Notifier) Preview(m notify.Message) string {
	if len(m.Items) == 0 {
		return ""
	}
	var parts []string
	for _, p := range n.plan(m) {
		if p.mention {
			parts = append(parts, p.payload.Text.Content+"\n\nMentions: @"+strings.Join(p.payload.Text.MentionedMobileList, " @"))
			continue
		}
		parts = append(parts, p.payload.Markdown.Content)
	}
	return strings.Join(parts, "\n\n---\n\n")
}

// plan lays m out in the channel's language (notify.Render) as markdown
// posts of at most MaxBytes each: the headline and the evaluation time,
// then as many whole sections as fit. When they do not all fit in one,
// every post repeats the headline with its part ("(1/3)"), and when they
// do not fit in MaxPosts, the last one ends with "…and N more". A section
// too large for a post on its own is cut (notify.Layout.Clip). A paging
// message ends with the mention (see mention).
func (n *Notifier) plan(m notify.Message) []post {
	r := notify.Render(m)
	secs := notify.Sections(m) // in Render's order: section i is r.Sections[i]
	total := len(r.Sections)

	// A section's budget leaves room for the widest headline and the
	// "…and N more" line, so that any section fits in a post of its own.
	reserve := len(head(r, MaxPosts, MaxPosts)) + len(sep) + len(sep+more(r, total))
	bodies := make([]string, total)
	for i, s := range r.Sections {
		bodies[i] = section(s, color(secs[i]), MaxBytes-reserve)
	}
	content := func(part, parts, from, to, rest int) string {
		out := append([]string{head(r, part, parts)}, bodies[from:to]...)
		if rest > 0 {
			out = append(out, more(r, rest))
		}
		return strings.Join(out, sep)
	}
	fits := func(s string) bool { return len(s) <= MaxBytes }

	type cut struct{ from, to, rest int }
	var cuts []cut
	if fits(content(0, 0, 0, total, 0)) {
		cuts = []cut{{0, total, 0}}
	} else {
		// Sized with the widest part marker; every marker below 10 parts
		// is as wide.
		from := 0
		for from < total && len(cuts) < MaxPosts-1 {
			k := notify.Fit(total-from, func(k int) bool { return fits(content(MaxPosts, MaxPosts, from, from+k, 0)) })
			k = max(k, 1) // cannot happen: a section fits alone
			cuts = append(cuts, cut{from, from + k, 0})
			from += k
		}
		if from < total {
			k := notify.Fit(total-from, func(k int) bool {
				return fits(content(MaxPosts, MaxPosts, from, from+k, total-from-k))
			})
			cuts = append(cuts, cut{from, from + k, total - from - k})
		}
	}

	posts := make([]post, len(cuts))
	for i, c := range cuts {
		part := i + 1
		if len(cuts) == 1 {
			part = 0
		}
		p := post{payload: payload{MsgType: "markdown", Markdown: &markdown{Content: content(part, len(cuts), c.from, c.to, c.rest)}}}
		// The last post stands for the sections it sums up.
		for _, s := range secs[c.from : c.to+c.rest] {
			p.pages = p.pages || s.Pages()
			for _, e := range s.Entries {
				if e.Kind != notify.KindOngoing {
					p.keys = append(p.keys, e.Alert.Key())
				}
			}
		}
		posts[i] = p
	}
	if mp, ok := n.mention(m, r); ok {
		posts = append(posts, mp)
	}
	return posts
}

// mention is the text message that @-mentions atMobiles when a section
// pages: WeCom's markdown ignores mentioned_mobile_list and can only
// mention by userid (<@userid>), which people rarely know; a text message
// can mention by mobile. It says the headline, so the ping reads on its
// own, and it carries the paging items: they are due again when it fails.
func (n *Notifier) mention(m notify.Message, r notify.Rendered) (post, bool) {
	if !r.Paging || len(n.atMobiles) == 0 {
		return post{}, false
	}
	p := post{mention: true, payload: payload{MsgType: "text", Text: &text{
		Content:             truncateBytes(notify.Emoji[notify.HeadlineIcon(r.Tone)]+" "+r.Headline, maxText),
		MentionedMobileList: n.atMobiles,
	}}}
	for _, it := range m.Items {
		if notify.Pages(it) {
			p.keys = append(p.keys, it.Alert.Key())
		}
	}
	return p, true
}

const sep = "\n\n"

// head is a post's first lines: the headline with its icon, coloured by
// the message's tone, the part marker when part > 0, and the evaluation
// time in grey.
func head(r notify.Rendered, part, parts int) string {
	h := "### " + notify.Emoji[notify.HeadlineIcon(r.Tone)] + " " + font(tone[r.Tone], Escape(r.Headline))
	if part > 0 {
		h += fmt.Sprintf(" (%d/%d)", part, parts)
	}
	return h + "\n" + font("comment", Escape(r.About))
}

// more is the line that stands for the sections left out.
func more(r notify.Rendered, n int) string { return font("comment", Escape(r.More(n))) }

// section is one section: a heading with its icon, its title coloured by
// severity and its subject, its lines as a quote, and its links
// ([Runbook](url)) on a last line that a cut keeps; at most max bytes.
func section(s notify.Summary, colour string, max int) string {
	head := "#### " + notify.Emoji[s.Icon] + " " + font(colour, Escape(s.Title)) + " · " + Escape(s.Subject)
	links := make([]string, len(s.Links))
	for i, l := range s.Links {
		links[i] = "[" + Escape(l.Text) + "](" + linkTarget(l.URL) + ")"
	}
	// Clip counts runes and WeCom bytes: the most runes whose bytes fit.
	k := notify.Fit(max, func(k int) bool { return len(layout.Clip(head, s.Lines, links, k)) <= max })
	return layout.Clip(head, s.Lines, links, k)
}

var layout = notify.Layout{Escape: Escape, LineSep: "\n> ", LinksSep: "\n", LinkSep: " · "}

// WeCom's markdown has three colours: info (green), comment (grey) and
// warning (orange-red).
func font(colour, s string) string { return `<font color="` + colour + `">` + s + `</font>` }

// tone colours a headline.
var tone = map[notify.Tone]string{
	notify.ToneCritical: "warning",
	notify.ToneWarning:  "warning",
	notify.ToneResolved: "info",
	notify.ToneGone:     "comment",
}

// color colours a section's title, whose words are its severity and what
// happened: orange-red while something fires, green once all is resolved,
// grey for a group gone.
func color(s notify.Section) string {
	switch {
	case s.Partly:
		return "warning"
	case s.Kind == rules.KindResolved:
		return "info"
	case s.Kind == rules.KindMissing:
		return "comment"
	}
	return "warning"
}

// Escape keeps WeCom's markdown from interpreting names and annotations.
// Whether WeCom honours backslash escapes is not documented, so the
// constructs of its markdown are broken with an invisible zero-width space
// instead: after "<" (a <font> tag, a <@userid> mention), after each "*"
// (bold), between "]" and "(" (a link). A backtick, which would open code,
// becomes "ˋ", and a line break a space, so that text never starts a line
// (a heading, a quote).
func Escape(s string) string { return escaper.Replace(s) }

var escaper = strings.NewReplacer(
	"<", "<\u200b",
	"*", "*\u200b",
	"](", "]\u200b(",
	"`", "ˋ",
	"\r\n", " ",
	"\n", " ",
	"\r", " ",
)

// linkTarget makes a URL safe inside (...): spaces and parentheses would end
// the link early.
var linkTarget = strings.NewReplacer(" ", "%20", "(", "%28", ")", "%29").Replace

// truncateBytes cuts s to at most max bytes at a rune boundary, ending with
// "…" when cut.
func truncateBytes(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
