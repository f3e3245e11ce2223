// Package feishu posts alerts to a Feishu (飞书) or Lark custom bot as one
// interactive card, signing the request when the bot has a secret. Lark is
// the same protocol on another host (open.larksuite.com instead of
// open.feishu.cn): the webhook URL decides. The protocol is one POST, so it
// is written here, as for DingTalk.
package feishu

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/backlog-alert/backlog-alert/notify"
)

const (
	service = "feishu"
	// maxBytes bounds the request body, signature included: Feishu documents
	// "请求体的数据大小不能超过 20 KB" and reads 20 KB as we do, conservatively.
	maxBytes = 20000
	// maxSection is the runes of one section's text, so that one huge
	// annotation cannot crowd out the rest.
	maxSection = 3000
	// maxElements bounds the card's elements. Feishu documents no bound for
	// this card format that we could find (its 2.0 cards take 200
	// components); 50 is a conservative guess that 20 KB rarely reaches.
	maxElements = 50
	// signLen is the length of a signature: base64 of a SHA-256 MAC.
	signLen = 44
	// minuteKey tells the per-minute window of a bot from its per-second one
	// in the Limiter.
	minuteKey = "\x00per-minute"
)

// Feishu's documented frequency limit for one custom bot: "单租户单机器人 100
// 次/分钟，5 次/秒". A bot over it answers code 11232.
var (
	PerSecond = notify.Limit{Events: 5, Per: time.Second}
	PerMinute = notify.Limit{Events: 100, Per: time.Minute}
)

// Notifier posts to one bot.
type Notifier struct {
	// Now is the clock for the signature's timestamp; tests replace it.
	Now func() time.Time

	url       string
	secret    string
	atOpenIDs []string
	client    *http.Client
	retrier   *notify.Retrier
	perSecond notify.Limit
	perMinute notify.Limit
}

var _ notify.Notifier = (*Notifier)(nil)

// openID matches what may stand in <at id=...>: an open_id ("ou_…"), a
// user_id, or "all".
var openID = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// New returns a Notifier for the bot's webhook url
// (https://open.feishu.cn/open-apis/bot/v2/hook/<token>, or on
// open.larksuite.com for Lark). secret is the bot's signing secret (签名校验),
// empty when the bot does not check signatures. atOpenIDs (open_ids such as
// "ou_…", or "all") are @-mentioned in the card when a message holds a
// critical alert that is firing, escalated or a reminder (see notify.Pages);
// blank entries and ones that are not IDs are ignored. client may be nil (a
// client with a 10 s timeout is used). By default failed posts are retried
// with notify.DefaultRetry, and posts are paced by notify.SharedLimiter()
// at PerSecond and PerMinute; opts change that (notify.WithRetry,
// notify.WithLimiter, whose Limiter then paces both windows).
func New(url, secret string, atOpenIDs []string, client *http.Client, opts ...notify.Option) *Notifier {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	var ids []string
	for _, id := range atOpenIDs {
		if id = strings.TrimSpace(id); openID.MatchString(id) {
			ids = append(ids, id)
		}
	}
	return &Notifier{
		Now: time.Now, url: url, secret: secret, atOpenIDs: ids, client: client,
		retrier: notify.NewRetrier(opts...), perSecond: PerSecond, perMinute: PerMinute,
	}
}

// The card is Feishu's "message card" JSON (a header and a list of
// elements), which custom bots send as msg_type "interactive".
type payload struct {
	Timestamp string `json:"timestamp,omitempty"`
	Sign      string `json:"sign,omitempty"`
	MsgType   string `json:"msg_type"`
	Card      card   `json:"card"`
}

type card struct {
	Config   config    `json:"config"`
	Header   header    `json:"header"`
	Elements []element `json:"elements"`
}

type config struct {
	WideScreenMode bool `json:"wide_screen_mode"`
}

type header struct {
	Title    text   `json:"title"`
	Template string `json:"template"`
}

type text struct {
	Tag     string `json:"tag"` // "plain_text" or "lark_md"
	Content string `json:"content"`
}

type element struct {
	Tag      string   `json:"tag"`                // "div", "note", "action"
	Text     *text    `json:"text,omitempty"`     // div
	Elements []text   `json:"elements,omitempty"` // note
	Actions  []button `json:"actions,omitempty"`  // action
}

type button struct {
	Tag  string `json:"tag"` // "button"
	Text text   `json:"text"`
	URL  string `json:"url"`
	Type string `json:"type"` // "primary" for the runbook, "default" for other links
}

// Notify posts every item of m in one card, retrying frequency limits
// (11232), 5xx and transport errors as the retry policy allows. Each
// attempt waits for the bot's slot under PerSecond; the message first takes
// one under PerMinute (retries of it do not take more). The error is a
// *notify.DeliveryError (see notify.Attempts) wrapping the last attempt's
// *notify.HTTPError, and never contains the webhook token, the signature or
// the secret.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) (notify.Receipt, error) {
	if len(m.Items) == 0 {
		return notify.Receipt{}, nil
	}
	p := n.build(m)
	// The Retrier paces by one Limit; the per-minute window is a second key
	// in the same Limiter, taken through the Retrier too so that a bot out
	// of slots reads like any other ("feishu: not sent: the webhook's rate
	// limit (100 messages per 1m0s) leaves no slot for …").
	minute := notify.Target{Service: service, Key: n.url + minuteKey, Limit: n.perMinute}
	if err := n.retrier.Do(ctx, minute, func(context.Context) error { return nil }); err != nil {
		return notify.Receipt{}, err
	}
	second := notify.Target{Service: service, Key: n.url, Limit: n.perSecond}
	if err := n.retrier.Do(ctx, second, func(ctx context.Context) error { return n.post(ctx, p) }); err != nil {
		return notify.Receipt{}, err
	}
	return notify.All(m), nil
}

// post makes one attempt, signed afresh.
func (n *Notifier) post(ctx context.Context, p payload) error {
	if n.secret != "" {
		p.Timestamp = strconv.FormatInt(n.Now().Unix(), 10)
		p.Sign = sign(p.Timestamp, n.secret)
	}
	return notify.Robot{Service: service, Client: n.client, CodeName: "code", Reply: parseReply, Classify: classify}.
		Post(ctx, n.url, notify.EncodeJSON(p), n.url, n.secret, p.Sign, token(n.url))
}

// parseReply reads Feishu's verdict: {"code":0,"msg":"success",...}, or
// from older deployments only {"StatusCode":0,"StatusMessage":"success"}.
func parseReply(raw []byte) (code int, msg string, ok bool) {
	var reply struct {
		Code          *int   `json:"code"`
		Msg           string `json:"msg"`
		StatusCode    *int   `json:"StatusCode"`
		StatusMessage string `json:"StatusMessage"`
	}
	if json.Unmarshal(raw, &reply) != nil {
		return 0, "", false
	}
	switch {
	case reply.Code != nil:
		return *reply.Code, reply.Msg, true
	case reply.StatusCode != nil:
		return *reply.StatusCode, reply.StatusMessage, true
	}
	return 0, "", false
}

// classify explains the codes a custom bot answers with (the bot guide
// and Feishu's server error code list). Unknown codes are not retried.
func classify(code int) (hint string, retry bool, after time.Duration) {
	switch code {
	case 19021:
		return "signature check failed: check the bot's signing secret, and this host's clock (the timestamp must be within an hour)", false, 0
	case 19022:
		return "this host's IP address is not on the bot's IP allow-list", false, 0
	case 19024:
		return "the message lacks the bot's custom keyword: add \"backlog-alert\" to the bot's keywords", false, 0
	case 19001:
		return "the webhook URL is wrong or the bot was removed: copy the webhook address again from the bot's settings", false, 0
	case 19002:
		return "the body is malformed or has no msg_type", false, 0
	case 9499:
		return "Feishu rejected the body: malformed card or over 20 KB", false, 0
	case 19036:
		return "message over Feishu's size limit", false, 0
	case 11232, 11233, 11247:
		return "frequency limit: at most 5 messages a second and 100 a minute per bot, less on the hour and half hour", true, 0
	}
	return "", false, 0
}

// sign is Feishu's signature: HMAC-SHA256 of nothing, keyed by
// timestamp+"\n"+secret, in base64.
func sign(timestamp, secret string) string {
	mac := hmac.New(sha256.New, []byte(timestamp+"\n"+secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// token is the secret part of a webhook URL: its last path segment.
func token(hook string) string {
	u, err := url.Parse(hook)
	if err != nil {
		return ""
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	return segs[len(segs)-1]
}

// Preview renders what Notify would send: the card's title, then each
// element (notes and texts as written, buttons as [text](url)), separated by
// blank lines.
func (n *Notifier) Preview(m notify.Message) string {
	if len(m.Items) == 0 {
		return ""
	}
	p := n.build(m)
	parts := []string{p.Card.Header.Title.Content}
	for _, el := range p.Card.Elements {
		switch el.Tag {
		case "div":
			parts = append(parts, el.Text.Content)
		case "note":
			var texts []string
			for _, t := range el.Elements {
				texts = append(texts, t.Content)
			}
			parts = append(parts, strings.Join(texts, " "))
		case "action":
			var links []string
			for _, b := range el.Actions {
				links = append(links, "["+b.Text.Content+"]("+b.URL+")")
			}
			parts = append(parts, strings.Join(links, " · "))
		}
	}
	return strings.Join(parts, "\n\n")
}

// template colours the card's header by the message's tone.
var template = map[notify.Tone]string{
	notify.ToneCritical: "red",
	notify.ToneWarning:  "orange",
	notify.ToneResolved: "green",
	notify.ToneGone:     "grey",
}

// build lays m out as a card in the channel's language (notify.Render): the
// headline in the header, coloured by tone; the About line as a note; one
// lark_md div per section, with its links as buttons; as many sections as
// fit in maxBytes (the signature's fields counted when the bot signs) and
// maxElements, and a "…and N more" note for the rest; and the mentions,
// only when a section pages. The signature is left to post.
func (n *Notifier) build(m notify.Message) payload {
	r := notify.Render(m)
	runbook := notify.CatalogFor(m.Language).RunbookLink
	// "backlog-alert" in the About line lets a keyword-secured bot accept it.
	head := []element{note(r.About)}
	sections := make([][]element, len(r.Sections))
	for i, s := range r.Sections {
		sections[i] = section(s, runbook)
	}
	var tail []element
	if r.Paging && len(n.atOpenIDs) > 0 {
		var at []string
		for _, id := range n.atOpenIDs {
			at = append(at, "<at id="+id+"></at>")
		}
		tail = append(tail, element{Tag: "div", Text: &text{Tag: "lark_md", Content: strings.Join(at, " ")}})
	}
	render := func(k int) payload {
		elements := append([]element(nil), head...)
		for _, s := range sections[:k] {
			elements = append(elements, s...)
		}
		if rest := len(sections) - k; rest > 0 {
			elements = append(elements, note(r.More(rest)))
		}
		elements = append(elements, tail...)
		return payload{
			MsgType: "interactive",
			Card: card{
				Config:   config{WideScreenMode: true},
				Header:   header{Title: text{Tag: "plain_text", Content: notify.Emoji[notify.HeadlineIcon(r.Tone)] + " " + r.Headline}, Template: template[r.Tone]},
				Elements: elements,
			},
		}
	}
	k := notify.Fit(len(sections), func(k int) bool {
		p := render(k)
		if n.secret != "" {
			// The signature's fields, at their size: a timestamp in
			// seconds has ten digits until 2286.
			p.Timestamp, p.Sign = "0000000000", strings.Repeat("x", signLen)
		}
		return len(notify.EncodeJSON(p)) <= maxBytes && len(p.Card.Elements) <= maxElements
	})
	return render(k)
}

func note(s string) element {
	return element{Tag: "note", Elements: []text{{Tag: "plain_text", Content: s}}}
}

// section is one section: a div with its emoji, title and subject in bold
// and its lines, then its web links as buttons, the runbook (the link named
// runbook, in the message's language) first as the primary one. A link
// Feishu would not take as a button URL stays in the text, on a last line
// that a cut keeps.
func section(s notify.Summary, runbook string) []element {
	head := "**" + notify.Emoji[s.Icon] + " " + Escape(s.Title) + " · " + Escape(s.Subject) + "**"
	var buttons []button
	var inText []string
	for _, l := range s.Links {
		u, ok := webURL(l.URL)
		if !ok {
			inText = append(inText, Escape(l.Text+": "+l.URL))
			continue
		}
		b := button{Tag: "button", Text: text{Tag: "plain_text", Content: cmp.Or(l.Text, l.URL)}, URL: u, Type: "default"}
		if l.Text == runbook {
			b.Type = "primary"
			buttons = append([]button{b}, buttons...)
			continue
		}
		buttons = append(buttons, b)
	}
	out := []element{{Tag: "div", Text: &text{Tag: "lark_md", Content: layout.Clip(head, s.Lines, inText, maxSection)}}}
	if len(buttons) > 0 {
		out = append(out, element{Tag: "action", Actions: buttons})
	}
	return out
}

// webURL returns u as a button URL, spaces escaped, if it is an absolute
// http(s) URL.
func webURL(raw string) (string, bool) {
	raw = strings.ReplaceAll(strings.TrimSpace(raw), " ", "%20")
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", false
	}
	return raw, true
}

var layout = notify.Layout{Escape: Escape, LineSep: "\n", LinksSep: "\n", LinkSep: "\n"}

// entity matches what lark_md would read as an HTML entity ("&lt;").
var entity = regexp.MustCompile(`^&(#[0-9]+|#[xX][0-9A-Fa-f]+|[A-Za-z][A-Za-z0-9]*);`)

// Escape keeps lark_md from interpreting names: a group called
// __orders_v2__* would otherwise show as a bold "orders_v2", [x](y) as a link
// and <at id=all> as a mention of everyone. Characters lark_md gives a
// meaning to are written as the HTML entities Feishu's markdown decodes: <
// and > always, *, `, [ and ] always, an underscore only where it could open
// or close emphasis (next to a space, punctuation or the end) so that the
// many IDs and group names with one inside a word stay readable, a tilde
// only where a pair could strike text through, and & only where it would
// start an entity.
func Escape(s string) string {
	var b strings.Builder
	rs := []rune(s)
	// One tilde is "~25 min"; strikethrough takes a pair.
	tildes := strings.Count(s, "~")
	for i, r := range rs {
		switch {
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '*':
			b.WriteString("&#42;")
		case r == '`':
			b.WriteString("&#96;")
		case r == '[':
			b.WriteString("&#91;")
		case r == ']':
			b.WriteString("&#93;")
		case r == '~' && tildes > 1:
			b.WriteString("&sim;")
		case r == '&' && entity.MatchString(string(rs[i:min(i+12, len(rs))])):
			b.WriteString("&amp;")
		case r == '_' && notify.Flanking(rs, i):
			b.WriteString("&#95;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
