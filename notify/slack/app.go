package slack

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/rules"
)

// AppLimit is Slack's limit for posting to one channel: about one message
// a second. Every Web API call of a channel (posts, updates, replies) is
// paced at it.
var AppLimit = notify.Limit{Events: 1, Per: time.Second}

// AppConfig is how an App channel behaves.
type AppConfig struct {
	// ThreadReminders puts reminders in the alert's thread; false posts
	// them as a new message, which the alert then lives in.
	ThreadReminders bool
	// DigestAfter is how many new messages one run may post: beyond it,
	// one digest message is posted and the sections go in its thread.
	DigestAfter int
}

// App keeps one living message per section in a channel, through a bot
// token and the Web API (chat.postMessage, chat.update): posted once,
// updated in place as it escalates, downgrades and resolves, with the
// changes and reminders in its thread.
type App struct {
	api     *slackgo.Client
	channel string
	key     string // the Limiter's key: the API and the channel
	cfg     AppConfig
	retrier *notify.Retrier
	token   string // only to scrub it from transport errors
}

var _ notify.Notifier = (*App)(nil)

// NewApp returns an App posting to channel (an ID) with a bot token, through
// the Web API at apiURL (rules.DefaultSlackAPIURL when empty; tests point it at a
// local fake). client may be nil (a 10 s timeout). Calls are retried with
// notify.DefaultRetry and paced per channel by notify.SharedLimiter() at
// AppLimit; opts change that.
func NewApp(token, channel, apiURL string, client *http.Client, cfg AppConfig, opts ...notify.Option) *App {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	if apiURL == "" {
		apiURL = rules.DefaultSlackAPIURL
	}
	if !strings.HasSuffix(apiURL, "/") {
		apiURL += "/"
	}
	if cfg.DigestAfter <= 0 {
		cfg.DigestAfter = rules.DefaultDigestAfter
	}
	return &App{
		api:     slackgo.New(token, slackgo.OptionAPIURL(apiURL), slackgo.OptionHTTPClient(client)),
		channel: channel,
		key:     apiURL + " " + channel,
		cfg:     cfg,
		retrier: notify.NewRetrier(opts...),
		token:   token,
	}
}

// action is what a section's living message needs in this run.
type action int

const (
	post   action = iota // a new message (or a reply under the digest)
	update               // the message shows the state now; its thread hears the change
	remind               // a reply in the thread
)

func (a action) String() string {
	return [...]string{"post", "update", "reply"}[a]
}

// step is one section's part of a run.
type step struct {
	section   notify.Section
	msg       *slackgo.WebhookMessage // the section as a message of its own
	action    action
	thread    *notify.Thread
	broadcast bool // the reply goes to the channel too: escalated to critical
}

// plan decides each section's action, and whether there are too many new
// messages for one run (digest).
func (a *App) plan(m notify.Message) (steps []step, digest bool) {
	posts := 0
	for _, s := range notify.Sections(m) {
		st := step{section: s, msg: living(sectionMessage(m, s)), thread: threadOf(s)}
		switch {
		case st.thread == nil:
			st.action = post
		case s.Kind == rules.KindReminder && !s.Partly && a.cfg.ThreadReminders:
			st.action = remind
		case s.Kind == rules.KindReminder && !s.Partly:
			st.action = post // reminders as new messages: the alert moves there
		default:
			st.action = update
			st.broadcast = s.Pages() && (s.Kind == rules.KindEscalated || s.Kind == rules.KindFiring)
		}
		if st.action == post {
			posts++
		}
		steps = append(steps, st)
	}
	return steps, posts > a.cfg.DigestAfter
}

// sectionMessage is the part of m about one section: its items, and the
// ongoing alerts beside them.
func sectionMessage(m notify.Message, s notify.Section) notify.Message {
	sub := notify.Message{Time: m.Time, Language: m.Language, Location: m.Location}
	for _, e := range s.Entries {
		if e.Kind == notify.KindOngoing {
			e.Kind = ""
			sub.Ongoing = append(sub.Ongoing, e)
		} else {
			sub.Items = append(sub.Items, e)
		}
	}
	return sub
}

// living lays out a message of one section as its living message: the
// header says what happened to which group (it is also the notification's
// text), the colour its state, the context when it was last brought up to
// date, then the section's lines and links.
func living(m notify.Message) *slackgo.WebhookMessage {
	r := notify.Render(m)
	s := r.Sections[0]
	// The header says icon, title and subject: the section starts with
	// its lines.
	text := strings.TrimPrefix(layout.Clip("", s.Lines, links(s.Links), maxSection), "\n")
	return card(glyph[s.Icon]+" "+s.Title+" · "+s.Subject, r.Tone, r.About, text)
}

// threadOf is the section's living message: the newest any of its alerts
// is in (a condition that joined a section has none of its own).
func threadOf(s notify.Section) *notify.Thread {
	var t *notify.Thread
	for _, e := range s.Entries {
		if e.Thread != nil && (t == nil || e.Thread.TS > t.TS) {
			t = e.Thread
		}
	}
	return t
}

// Notify brings each section's living message up to date, one section
// after another, each call paced and retried. A section whose calls did
// not all succeed is left out of the receipt, so it is due again next run;
// the others are accepted with their thread. What does not fit the
// deadline is not started.
func (a *App) Notify(ctx context.Context, m notify.Message) (notify.Receipt, error) {
	if len(m.Items) == 0 {
		return notify.Receipt{}, nil
	}
	steps, digest := a.plan(m)
	receipt := notify.Receipt{Threads: map[string]notify.Thread{}}
	var digestTS string
	if digest {
		ts, err := a.call(ctx, "", a.digestMessage(m), "", false)
		if err != nil {
			return notify.Receipt{}, fmt.Errorf("slack app: the digest message was not posted, nothing was sent: %w", err)
		}
		digestTS = ts
	}
	var failed []error
	for _, st := range steps {
		if ctx.Err() != nil {
			failed = append(failed, fmt.Errorf("%s: not sent: %w", st.section.Place.Where(), ctx.Err()))
			continue
		}
		t, err := a.run(ctx, st, digestTS)
		if err != nil {
			failed = append(failed, fmt.Errorf("%s: %w", st.section.Place.Where(), err))
			continue
		}
		for _, e := range st.section.Entries {
			key := e.Alert.Key()
			receipt.Threads[key] = t
			if e.Kind != notify.KindOngoing {
				receipt.Accepted = append(receipt.Accepted, key)
			}
		}
	}
	if len(failed) > 0 {
		return receipt, fmt.Errorf("slack app: %d of %d sections not sent, due again next run: %w", len(failed), len(steps), failed[0])
	}
	return receipt, nil
}

// run carries out one section's step and returns where its message now is.
func (a *App) run(ctx context.Context, st step, digestTS string) (notify.Thread, error) {
	fresh := func() (notify.Thread, error) {
		ts, err := a.call(ctx, "", st.msg, digestTS, false)
		if err != nil {
			return notify.Thread{}, err
		}
		return notify.Thread{Channel: a.channel, TS: ts, Root: digestTS}, nil
	}
	t := st.thread
	switch st.action {
	case update:
		if _, err := a.call(ctx, t.TS, st.msg, "", false); err != nil {
			if gone(err) {
				return fresh() // the message cannot be edited: a new one says it all
			}
			return notify.Thread{}, err
		}
		fallthrough
	case remind:
		if _, err := a.call(ctx, "", st.msg, cmp.Or(t.Root, t.TS), st.broadcast); err != nil {
			if gone(err) {
				return fresh()
			}
			return notify.Thread{}, err
		}
		return *t, nil
	}
	return fresh()
}

// call makes one Web API call, paced and retried: chat.update of ts when ts
// is set, else chat.postMessage (a reply in threadTS when set). It returns
// the ts of the posted or updated message.
func (a *App) call(ctx context.Context, ts string, msg *slackgo.WebhookMessage, threadTS string, broadcast bool) (string, error) {
	opts := []slackgo.MsgOption{
		slackgo.MsgOptionText(msg.Text, false),
		slackgo.MsgOptionBlocks(msg.Blocks.BlockSet...),
		slackgo.MsgOptionAttachments(msg.Attachments...),
	}
	if threadTS != "" {
		opts = append(opts, slackgo.MsgOptionTS(threadTS))
		if broadcast {
			opts = append(opts, slackgo.MsgOptionBroadcast())
		}
	}
	var got string
	err := a.retrier.Do(ctx, notify.Target{Service: "slack", Key: a.key, Limit: AppLimit}, func(ctx context.Context) error {
		var err error
		if ts != "" {
			_, got, _, err = a.api.UpdateMessageContext(ctx, a.channel, ts, opts...)
		} else {
			_, got, err = a.api.PostMessageContext(ctx, a.channel, opts...)
		}
		return a.classify(ctx, err)
	})
	return got, err
}

// classify turns the Web API's answer into a *notify.HTTPError that says
// whether to retry and what to fix.
func (a *App) classify(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	he := &notify.HTTPError{Service: "slack"}
	if rl, ok := errors.AsType[*slackgo.RateLimitedError](err); ok {
		he.StatusCode, he.Code, he.RetryAfter, he.Retry, he.Err = http.StatusTooManyRequests, "ratelimited", rl.RetryAfter, true, rl
		return he
	}
	if se, ok := errors.AsType[slackgo.SlackErrorResponse](err); ok {
		he.StatusCode, he.Code = http.StatusOK, se.Err
		he.Hint, he.Retry = appHint(se.Err)
		return he
	}
	if sc, ok := errors.AsType[slackgo.StatusCodeError](err); ok {
		he.StatusCode, he.Retry, he.Err = sc.Code, notify.RetryableStatus(sc.Code), sc
		return he
	}
	he.Err = notify.RedactError(err, a.token)
	he.Retry = ctx.Err() == nil
	return he
}

// appHint explains the Web API's error codes that a person can fix, and
// which are worth retrying.
func appHint(code string) (hint string, retry bool) {
	if slices.Contains(messageGone, code) {
		return "the message can no longer be edited or replied to: a new one is posted", false
	}
	switch code {
	case "invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive":
		return "the bot token is wrong or revoked: reinstall the app and update the token", false
	case "missing_scope":
		return "the app needs the chat:write scope", false
	case "channel_not_found":
		return "check the channel ID, and that the app was added to the channel", false
	case "not_in_channel":
		return "invite the app to the channel (/invite @your-app)", false
	case "is_archived":
		return "the channel is archived: point the channel at another", false
	case "msg_too_long", "invalid_blocks", "invalid_attachments", "no_text":
		return "Slack refused the message's content", false

	case "internal_error", "fatal_error", "service_unavailable", "request_timeout":
		return "", true
	}
	return "", false
}

// gone reports whether the message can no longer be edited or replied to:
// deleted, too old for the workspace's edit window, or not ours.
func gone(err error) bool {
	he, ok := errors.AsType[*notify.HTTPError](err)
	return ok && slices.Contains(messageGone, he.Code)
}

// messageGone are the Web API's answers for a message that can no longer be
// edited or replied to.
var messageGone = []string{"message_not_found", "cant_update_message", "edit_window_closed", "thread_not_found"}

// digestMessage is the one message a run posts when it has more new
// sections than DigestAfter: the headline, and a note that each is in its
// thread.
func (a *App) digestMessage(m notify.Message) *slackgo.WebhookMessage {
	r := notify.Render(m)
	return card(glyph[notify.HeadlineIcon(r.Tone)]+" "+r.Headline, r.Tone, r.About, escape(r.Digest()))
}

// Preview renders, for a person, the calls Notify would make and what each
// would show.
func (a *App) Preview(m notify.Message) string {
	if len(m.Items) == 0 {
		return ""
	}
	steps, digest := a.plan(m)
	var parts []string
	if digest {
		parts = append(parts, fmt.Sprintf("chat.postMessage %s (digest: new sections go in its thread)\n%s", a.channel, readable(a.digestMessage(m))))
	}
	for _, st := range steps {
		var calls []string
		switch st.action {
		case post:
			calls = []string{"chat.postMessage " + a.channel}
			if digest {
				calls = []string{"chat.postMessage " + a.channel + " in the digest's thread"}
			}
		case update:
			calls = []string{"chat.update " + a.channel + " ts=" + st.thread.TS, "chat.postMessage " + a.channel + " thread_ts=" + cmp.Or(st.thread.Root, st.thread.TS)}
			if st.broadcast {
				calls[1] += " reply_broadcast"
			}
		case remind:
			calls = []string{"chat.postMessage " + a.channel + " thread_ts=" + cmp.Or(st.thread.Root, st.thread.TS)}
		}
		parts = append(parts, strings.Join(calls, " + ")+"\n"+readable(st.msg))
	}
	return strings.Join(parts, "\n\n")
}
