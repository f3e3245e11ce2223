// Package function is the one pipeline every entry point runs: load rules,
// expand groups, fetch progress, evaluate, notify, report.
package function

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/notify/dingtalk"
	"github.com/backlog-alert/backlog-alert/notify/slack"
	"github.com/backlog-alert/backlog-alert/progress/alikafka"
	"github.com/backlog-alert/backlog-alert/rules"
)

// Options configure one run. Zero values are sensible defaults.
type Options struct {
	// Rules is an already loaded rules file; when nil RulesPath is loaded.
	Rules     *rules.File
	RulesPath string
	// DryRun renders each channel's message into the report and sends nothing.
	DryRun bool
	// Now is the evaluation time; zero means the current time.
	Now time.Time
	// Credentials for the OpenAPI; nil means the SDK's default chain.
	Credentials *alikafka.Credentials
	// Endpoint sends every region's OpenAPI calls to this URL (BACKLOG_ALERT_ENDPOINT).
	Endpoint string
	// HTTPClient posts to the chat webhooks; nil means a client with a 10 s timeout.
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// Run performs one run. Its error is non-nil only when the run could not
// start (invalid rules, no credentials): see ExitCode. Everything that went
// wrong after that, per group or per channel, is in the report and hides
// nothing else.
func Run(ctx context.Context, opts Options) (*Report, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	file := opts.Rules
	if file == nil {
		var err error
		if file, err = rules.Load(opts.RulesPath); err != nil {
			return nil, &SetupError{Err: err}
		}
	}
	creds, err := credentials(opts.Credentials)
	if err != nil {
		return nil, &SetupError{Err: err}
	}
	scrub := newScrubber(append([]string{creds.AccessKeySecret, creds.SecurityToken}, file.Secrets...)...)
	log = slog.New(scrub.handler(log.Handler()))

	rep := &Report{Rules: file.Path, Time: now.UTC(), DryRun: opts.DryRun, Alerts: []rules.Alert{}, Notifications: []Notification{}, Errors: []string{}}

	// Stop starting OpenAPI calls early enough that notifying still fits
	// before the platform's deadline.
	// A call in flight cannot be cancelled (the SDK takes no context), so its
	// timeout must fit the budget too.
	cfg := alikafka.Config{Credentials: creds, Endpoint: opts.Endpoint}
	fetchCtx := ctx
	if deadline, ok := ctx.Deadline(); ok {
		stop := fetchBudget(deadline, time.Now())
		cfg.Timeout = min(alikafka.DefaultTimeout, max(time.Until(stop), time.Second))
		var cancel context.CancelFunc
		fetchCtx, cancel = context.WithDeadline(ctx, stop)
		defer cancel()
	}
	out := alikafka.Fetch(fetchCtx, cfg, selections(file))
	rep.Groups = len(out.Snapshot.Groups)
	for _, m := range out.Missing {
		rep.Missing = append(rep.Missing, GroupRef(m))
		log.Warn("consumer group not found", "region", m.Region, "instance", m.Instance, "group", m.Group)
	}
	for _, f := range out.Failures {
		where := f.Instance
		if f.Group != "" {
			where += " group " + f.Group
		}
		msg := scrub.string(fmt.Sprintf("%s %s: %v", f.Op, where, f.Err))
		rep.Errors = append(rep.Errors, msg)
		log.Error("cannot read consumer progress", "op", f.Op, "region", f.Region, "instance", f.Instance, "group", f.Group, "error", scrub.string(f.Err.Error()))
	}

	res := rules.Evaluate(file.Rules, out.Snapshot, now)
	rep.Alerts = append(rep.Alerts, res.Alerts...)
	rep.UnknownAge = res.UnknownAge
	for _, r := range file.Rules {
		if res.Matched[r.Name] == 0 {
			log.Warn("rule watches no group this run", "rule", r.Name, "instance", r.Instance)
		}
	}
	for _, a := range res.Alerts {
		log.Info("alert", "rule", a.Rule, "instance", a.Instance, "group", a.Group, "topic", a.Topic, "condition", a.Condition, "severity", a.Severity, "value", a.Value, "threshold", a.Threshold)
	}

	rep.Notifications = deliver(ctx, file, route(file, res.Alerts, now), opts, log, scrub)
	for _, n := range rep.Notifications {
		if n.Error != "" {
			rep.Errors = append(rep.Errors, fmt.Sprintf("channel %s: %s", n.Channel, n.Error))
		}
	}
	log.Info("run complete", "groups", rep.Groups, "alerts", len(rep.Alerts), "errors", len(rep.Errors))
	return rep, nil
}

func credentials(given *alikafka.Credentials) (alikafka.Credentials, error) {
	if given != nil {
		return *given, nil
	}
	c, err := alikafka.DefaultCredentials()
	if err != nil {
		return c, fmt.Errorf("no Alibaba Cloud credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET (and ALIBABA_CLOUD_SECURITY_TOKEN for STS), or use a RAM role: %w", err)
	}
	return c, nil
}

// selections turns rules into what to read: one selection per rule.
func selections(f *rules.File) []alikafka.Selection {
	out := make([]alikafka.Selection, len(f.Rules))
	for i, r := range f.Rules {
		out[i] = alikafka.Selection{Region: r.Region, Instance: r.Instance, Groups: r.Groups, Exclude: r.ExcludeGroups}
	}
	return out
}

// route groups alerts by channel: one message per channel holding every
// alert of every rule that notifies it, in channel order.
func route(f *rules.File, alerts []rules.Alert, now time.Time) []outgoing {
	byRule := map[string][]string{}
	for _, r := range f.Rules {
		byRule[r.Name] = r.Notify
	}
	perChannel := map[string][]rules.Alert{}
	for _, a := range alerts {
		for _, ch := range byRule[a.Rule] {
			perChannel[ch] = append(perChannel[ch], a)
		}
	}
	var out []outgoing
	for _, ch := range f.Channels {
		if as := perChannel[ch.Name]; len(as) > 0 {
			out = append(out, outgoing{channel: ch, msg: notify.Message{Alerts: as, Time: now}})
		}
	}
	return out
}

type outgoing struct {
	channel rules.Channel
	msg     notify.Message
}

// deliver sends every channel's message concurrently; one channel failing
// does not stop the others.
func deliver(ctx context.Context, f *rules.File, msgs []outgoing, opts Options, log *slog.Logger, scrub *scrubber) []Notification {
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	results := make([]Notification, len(msgs))
	var wg sync.WaitGroup
	for i, m := range msgs {
		n := newNotifier(m.channel, client)
		results[i] = Notification{Channel: m.channel.Name, Type: m.channel.Type, Alerts: len(m.msg.Alerts)}
		if opts.DryRun {
			results[i].Preview = scrub.string(n.Preview(m.msg))
			continue
		}
		wg.Go(func() {
			if err := n.Notify(ctx, m.msg); err != nil {
				results[i].Error = scrub.string(err.Error())
				log.Error("notification failed", "channel", m.channel.Name, "type", m.channel.Type, "error", results[i].Error)
				return
			}
			results[i].Sent = true
			log.Info("notification sent", "channel", m.channel.Name, "type", m.channel.Type, "alerts", len(m.msg.Alerts))
		})
	}
	wg.Wait()
	return results
}

func newNotifier(ch rules.Channel, client *http.Client) notify.Notifier {
	if ch.Type == rules.ChannelDingTalk {
		return dingtalk.New(ch.WebhookURL, ch.Secret, ch.AtMobiles, client)
	}
	return slack.New(ch.WebhookURL, client)
}

// SetupError means the run could not start: bad rules, usage or credentials.
type SetupError struct{ Err error }

func (e *SetupError) Error() string { return e.Err.Error() }
func (e *SetupError) Unwrap() error { return e.Err }

// Exit codes, shared by every entry point.
const (
	ExitOK     = 0 // the run completed, with or without alerts
	ExitErrors = 1 // it completed, but a group could not be read or a channel notified
	ExitSetup  = 2 // invalid rules, usage or credentials
)

// ExitCode maps a run's outcome to the process exit code.
func ExitCode(rep *Report, err error) int {
	var se *SetupError
	switch {
	case errors.As(err, &se):
		return ExitSetup
	case err != nil || rep == nil || len(rep.Errors) > 0:
		return ExitErrors
	}
	return ExitOK
}
