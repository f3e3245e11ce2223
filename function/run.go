// Package function is the one pipeline every entry point runs: load rules
// and state, expand groups, fetch progress, advance the alerts' lifecycle,
// notify, save state, report.
package function

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/backlog-alert/backlog-alert/lifecycle"
	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/notify/alertmanager"
	"github.com/backlog-alert/backlog-alert/notify/dingtalk"
	"github.com/backlog-alert/backlog-alert/notify/feishu"
	"github.com/backlog-alert/backlog-alert/notify/slack"
	"github.com/backlog-alert/backlog-alert/notify/webhook"
	"github.com/backlog-alert/backlog-alert/notify/wecom"
	"github.com/backlog-alert/backlog-alert/progress/alikafka"
	"github.com/backlog-alert/backlog-alert/rules"
	"github.com/backlog-alert/backlog-alert/state"
)

// Options configure one run. Zero values are sensible defaults.
type Options struct {
	// Rules is an already loaded rules file; when nil RulesPath is loaded.
	Rules     *rules.File
	RulesPath string
	// State is where the state document lives (--state or
	// BACKLOG_ALERT_STATE); empty means the rules file's `state:`, else the
	// default location.
	State string
	// OSSEndpoint overrides the OSS endpoint (BACKLOG_ALERT_OSS_ENDPOINT).
	OSSEndpoint string
	// Serverless is set inside Function Compute or Lambda: the default state
	// location is then /tmp, which the report warns about.
	Serverless bool
	// DryRun renders each channel's message into the report, sends nothing
	// and saves no state.
	DryRun bool
	// Now is the evaluation time; zero means the current time.
	Now time.Time
	// Credentials for the OpenAPI and OSS; nil means the SDK's default chain.
	Credentials *alikafka.Credentials
	// Endpoint sends every region's OpenAPI calls to this URL (BACKLOG_ALERT_ENDPOINT).
	Endpoint string
	// HTTPClient posts to the chat webhooks; nil means a client with a 10 s timeout.
	HTTPClient *http.Client
	// NotifyOptions tune delivery (retry policy, pacing); nil means
	// notify's defaults: retries on, webhooks paced process-wide.
	NotifyOptions []notify.Option
	Logger        *slog.Logger
	// LockWait is how long a run waits for another run holding the state's
	// lease (--lock-wait); 0 means DefaultLockWait.
	LockWait time.Duration
}

// DefaultLockWait is how long a run waits for the state's lease.
const DefaultLockWait = 10 * time.Second

// Run performs one run. Its error is non-nil only when the run could not
// start (invalid rules, no credentials, a state it must not overwrite): see
// ExitCode. Everything that went wrong after that, per group or per channel,
// is in the report and hides nothing else.
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
			// The monitor is blind until the file is fixed: say so on the
			// channels the broken file still names, if it names any.
			return tellRulesInvalid(ctx, opts, now, log, err), &SetupError{Err: err}
		}
	}
	creds, err := credentials(opts.Credentials)
	if err != nil {
		return nil, &SetupError{Err: err}
	}
	scrub, log := scrubbing(creds, file, log)

	rep := &Report{Rules: file.Path, Time: now.UTC(), DryRun: opts.DryRun, Alerts: []lifecycle.Alert{}, Notifications: []Notification{}, Errors: []string{}}
	store, err := openStore(opts, file, creds)
	if err != nil {
		return nil, &SetupError{Err: err}
	}
	rep.State = store.String()
	lease, held := takeLease(ctx, opts, store, now, rep, log)
	if !held {
		return rep, nil // another run is doing the work
	}
	defer lease.release()
	stored, err := loadState(ctx, store, rep, log)
	if err != nil {
		return nil, &SetupError{Err: err}
	}

	out := fetch(ctx, opts, creds, file, now)
	rep.Groups = len(out.Snapshot.Groups)
	for _, m := range out.Missing {
		// Named in the rules, unknown to the service: a typo or a deleted
		// group, which the run cannot read. (A group a glob selected and
		// no longer finds is gone, not missing.)
		rep.Missing = append(rep.Missing, lifecycle.GroupRef(m))
		rep.Errors = append(rep.Errors, fmt.Sprintf("consumer group %s is named in the rules but does not exist on %s (%s)", m.Group, m.Instance, m.Region))
		log.Error("consumer group not found", "region", m.Region, "instance", m.Instance, "group", m.Group)
	}
	rep.API = apiStats(out.Stats)
	// Replies the service should not have sent (negative offsets, absurd
	// timestamps, duplicates) were repaired, not trusted: say so.
	var anomalies []string
	for _, g := range out.Snapshot.Groups {
		for _, a := range g.Anomalies {
			anomalies = append(anomalies, fmt.Sprintf("%s group %s: %s", g.Instance, g.Group, a))
		}
	}
	if len(anomalies) > maxAnomalies {
		anomalies = append(anomalies[:maxAnomalies], fmt.Sprintf("…and %d more anomalies in the service's replies", len(anomalies)-maxAnomalies))
	}
	rep.Warnings = append(rep.Warnings, anomalies...)
	for _, w := range unrouted(file, out.Snapshot) {
		rep.Warnings = append(rep.Warnings, w)
		log.Warn("no route for a tag value", "detail", w)
	}
	for _, f := range out.Failures {
		rep.Errors = append(rep.Errors, scrub.string(fmt.Sprintf("%s %s: %v", f.Op, where(f), f.Err)))
		log.Error("cannot read consumer progress", "op", f.Op, "region", f.Region, "instance", f.Instance, "group", f.Group, "error", scrub.string(f.Err.Error()))
	}
	for _, f := range out.NotEvaluated {
		rep.NotEvaluated = append(rep.NotEvaluated, NotEvaluated{Region: f.Region, Instance: f.Instance, Group: f.Group, Op: f.Op, Reason: scrub.string(f.Err.Error())})
	}
	if n := len(out.NotEvaluated); n > 0 {
		rep.Errors = append(rep.Errors, fmt.Sprintf("%d consumer groups or listings not evaluated: %s (see not_evaluated)", n, scrub.string(out.NotEvaluated[0].Err.Error())))
		log.Error("not evaluated for lack of time", "count", n, "first", where(out.NotEvaluated[0]), "reason", scrub.string(out.NotEvaluated[0].Err.Error()))
	}

	blind := blindSpots(out, scrub)
	for _, b := range blind {
		log.Error("backlog-alert cannot see an instance", "region", b.Region, "instance", b.Instance, "reason", b.Reason)
	}
	// Decoded only now, so that the decoded state is not held through the
	// fetch: at 10,000 groups that keeps the peak memory down.
	prior, canSave := stored.decode(ctx, store, now, rep, log)
	step := lifecycle.Step(prior, lifecycle.Input{File: file, Snapshot: out.Snapshot, Unread: unread(out), Now: now, Blind: blind})
	rep.UnknownAge = step.UnknownAge
	rep.Gone = step.Gone
	for _, g := range step.Gone {
		log.Warn("consumer group gone", "region", g.Region, "instance", g.Instance, "group", g.Group, "reason", g.Reason)
	}
	// Nothing is sent that the state cannot record: it would be sent again
	// every run.
	var unsaved error
	if !opts.DryRun && len(step.Outbox) > 0 {
		unsaved = recordable(ctx, lease, store, step.State, now, canSave)
	}
	if unsaved != nil {
		rep.Notifications = holdBack(ctx, file, store, &step, unsaved, now, opts, log, scrub, rep)
	} else {
		// With several channels, what each accepted is saved as it happens, so
		// that a crash part way repeats at most the message that was in flight.
		checkpoint := func() {}
		if canSave && !opts.DryRun && len(step.Outbox) > 1 {
			checkpoint = func() {
				if err := lease.save(ctx, store, step.State, now); err != nil {
					log.Warn("cannot save state after a channel's delivery; saving again at the end", "error", scrub.string(err.Error()))
				}
			}
		}
		rep.Notifications = deliver(ctx, file, &step, now, opts, log, scrub, checkpoint)
	}
	rep.Alerts = append(rep.Alerts, step.Alerts...)
	for _, a := range rep.Alerts {
		log.Info("alert", "rule", a.Rule, "instance", a.Instance, "group", a.Group, "topic", a.Topic, "condition", a.Condition,
			"severity", a.Severity, "state", a.State, "value", a.Value, "threshold", a.Threshold, "notified", a.Notified, "silenced", a.Silenced)
	}
	for _, n := range rep.Notifications {
		if n.Error != "" {
			rep.Errors = append(rep.Errors, fmt.Sprintf("channel %s: %s", n.Channel, n.Error))
		}
	}

	// State is saved even when some notifications failed: what failed is
	// due again, and is sent, on the next run.
	if canSave && !opts.DryRun && unsaved == nil {
		saveState(ctx, lease, store, step.State, now, rep, log, scrub)
	}
	log.Info("run complete", "groups", rep.Groups, "alerts", len(rep.Alerts), "errors", len(rep.Errors))
	return rep, nil
}

// scrubbing returns the run's scrubber of every secret it knows, and a
// logger that passes everything through it.
func scrubbing(creds alikafka.Credentials, file *rules.File, log *slog.Logger) (*scrubber, *slog.Logger) {
	scrub := newScrubber(append([]string{creds.AccessKeySecret, creds.SecurityToken}, file.Secrets...)...)
	return scrub, slog.New(scrub.handler(log.Handler()))
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

// fetch reads every selected group within the time budget: it stops
// starting OpenAPI calls early enough that notifying and saving state still
// fit before the platform's deadline. The replies' timestamps are judged
// against now, the run's evaluation time.
func fetch(ctx context.Context, opts Options, creds alikafka.Credentials, file *rules.File, now time.Time) alikafka.Outcome {
	// A call still in flight when the budget ends is cut then.
	cfg := alikafka.Config{Credentials: creds, Endpoint: opts.Endpoint, QPS: file.API.QPS, Concurrency: file.API.Concurrency, Timeout: file.API.Timeout, Now: now}
	switch file.API.Retries {
	case -1: // not set: the client's default
	case 0:
		cfg.Retries = -1 // never
	default:
		cfg.Retries = file.API.Retries
	}
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, fetchBudget(deadline, time.Now()))
		defer cancel()
	}
	var sels []alikafka.Selection
	for _, r := range file.Rules {
		for _, instance := range r.Instances {
			// LastTimestamp is expensive for the service: ask for it only
			// where a stale threshold needs it.
			sels = append(sels, alikafka.Selection{Region: r.Region, Instance: instance, Groups: r.Groups, Exclude: r.ExcludeGroups,
				NeedTimestamps: r.Stale != nil, Tags: r.GroupTags, WantTags: r.Routes != nil})
		}
	}
	return alikafka.Fetch(ctx, cfg, sels)
}

// QPS is the rate a run of f reads at: api.qps, else the client's default.
func QPS(f *rules.File) float64 {
	if f.API.QPS > 0 {
		return f.API.QPS
	}
	return alikafka.DefaultQPS
}

// maxAnomalies bounds the report's warnings about odd replies.
const maxAnomalies = 20

func where(f alikafka.Failure) string {
	if f.Op == alikafka.OpInstances {
		return "region " + f.Region
	}
	if f.Group != "" {
		return f.Instance + " group " + f.Group
	}
	return f.Instance
}

// unread tells the lifecycle which groups this run could not see, so their
// alerts are neither resolved nor declared gone. When a region's instances
// could not be listed, every group of it the run did not read is unread.
func unread(out alikafka.Outcome) func(region, instance, group string) bool {
	groups, instances, regions := map[[3]string]bool{}, map[[2]string]bool{}, map[string]bool{}
	for _, f := range append(slices.Clone(out.Failures), out.NotEvaluated...) {
		switch f.Op {
		case alikafka.OpInstances:
			regions[f.Region] = true
		case alikafka.OpList:
			instances[[2]string{f.Region, f.Instance}] = true
		default:
			groups[[3]string{f.Region, f.Instance, f.Group}] = true
		}
	}
	read := map[[3]string]bool{}
	if len(regions) > 0 {
		for _, g := range out.Snapshot.Groups {
			read[[3]string{g.Region, g.Instance, g.Group}] = true
		}
	}
	return func(region, instance, group string) bool {
		return instances[[2]string{region, instance}] || groups[[3]string{region, instance, group}] ||
			regions[region] && !read[[3]string{region, instance, group}]
	}
}

// deliver sends every channel's message concurrently and records what each
// channel accepted; one channel failing does not stop the others.
// checkpoint, called after each channel's record (with the state locked
// against the other channels' records), saves what is known so far.
func deliver(ctx context.Context, f *rules.File, step *lifecycle.Outcome, now time.Time, opts Options, log *slog.Logger, scrub *scrubber, checkpoint func()) []Notification {
	client := httpClient(opts)
	results := make([]Notification, len(step.Outbox))
	var wg sync.WaitGroup
	var mu sync.Mutex // guards step while deliveries are recorded
	for i, box := range step.Outbox {
		ch, _ := f.Channel(box.Channel)
		n := newNotifier(ch, client, opts.NotifyOptions)
		msg := notify.Message{Time: now, Items: notifyItems(box.Items), Ongoing: notifyItems(box.Ongoing), Language: ch.Language, Location: ch.Location}
		results[i] = Notification{Channel: ch.Name, Type: ch.Type, Alerts: len(box.Items), Ongoing: len(box.Ongoing), Kinds: kinds(box.Items)}
		if opts.DryRun {
			results[i].Preview = scrub.string(n.Preview(msg))
			continue
		}
		wg.Go(func() {
			receipt, err := n.Notify(ctx, msg)
			accepted := acceptedItems(box.Items, receipt)
			mu.Lock()
			step.State.Delivered(ch.Name, accepted, now, threads(receipt))
			step.MarkNotified(accepted)
			if len(accepted) > 0 {
				checkpoint()
			}
			mu.Unlock()
			results[i].Accepted = len(accepted)
			if err != nil {
				results[i].Error = scrub.string(err.Error())
				log.Error("notification failed; what was not accepted is due again next run", "channel", ch.Name, "type", ch.Type,
					"accepted", len(accepted), "of", len(box.Items), "error", results[i].Error)
				return
			}
			results[i].Sent = true
			log.Info("notification sent", "channel", ch.Name, "type", ch.Type, "alerts", len(box.Items))
		})
	}
	wg.Wait()
	return results
}

// httpClient posts to the chat channels.
func httpClient(opts Options) *http.Client {
	if opts.HTTPClient != nil {
		return opts.HTTPClient
	}
	return &http.Client{Timeout: 10 * time.Second}
}

func notifyItems(items []lifecycle.Item) []notify.Item {
	out := make([]notify.Item, len(items))
	for i, it := range items {
		out[i] = notify.Item{Kind: it.Kind, Alert: it.Alert, Since: it.Since}
		if t := it.Thread; t != nil {
			out[i].Thread = &notify.Thread{Channel: t.Channel, TS: t.TS, Root: t.Root}
		}
	}
	return out
}

// acceptedItems are the items the receipt says the channel accepted.
func acceptedItems(items []lifecycle.Item, r notify.Receipt) []lifecycle.Item {
	keys := map[string]bool{}
	for _, k := range r.Accepted {
		keys[k] = true
	}
	var out []lifecycle.Item
	for _, it := range items {
		if keys[it.Alert.Key()] {
			out = append(out, it)
		}
	}
	return out
}

// threads are the receipt's living messages as the state keeps them.
func threads(r notify.Receipt) map[string]lifecycle.Thread {
	if len(r.Threads) == 0 {
		return nil
	}
	out := make(map[string]lifecycle.Thread, len(r.Threads))
	for k, t := range r.Threads {
		out[k] = lifecycle.Thread(t)
	}
	return out
}

func kinds(items []lifecycle.Item) map[rules.Kind]int {
	out := map[rules.Kind]int{}
	for _, it := range items {
		out[it.Kind]++
	}
	return out
}

func newNotifier(ch rules.Channel, client *http.Client, opts []notify.Option) notify.Notifier {
	switch ch.Type {
	case rules.ChannelDingTalk:
		return dingtalk.New(ch.WebhookURL, ch.Secret, ch.AtMobiles, client, opts...)
	case rules.ChannelFeishu:
		return feishu.New(ch.WebhookURL, ch.Secret, ch.AtOpenIDs, client, opts...)
	case rules.ChannelWeCom:
		return wecom.New(ch.WebhookURL, ch.AtMobiles, client, opts...)
	case rules.ChannelWebhook:
		return webhook.New(ch.URL, ch.Secret, ch.Headers, client, opts...)
	case rules.ChannelAlertmanager:
		auth := alertmanager.Auth{BearerToken: ch.BearerToken, Username: ch.BasicUser, Password: ch.BasicPassword}
		return alertmanager.New(ch.URL, auth, ch.Resend, client, opts...)
	}
	if ch.SlackApp() {
		return slack.NewApp(ch.Token, ch.SlackChannel, ch.APIURL, client,
			slack.AppConfig{ThreadReminders: ch.ThreadReminders, DigestAfter: ch.DigestAfter}, opts...)
	}
	return slack.New(ch.WebhookURL, client, opts...)
}

// openStore picks the state location: --state or BACKLOG_ALERT_STATE, else
// the rules file's `state:`, else the default for where the run happens.
func openStore(opts Options, file *rules.File, creds alikafka.Credentials) (state.Store, error) {
	loc := opts.State
	if loc == "" {
		loc = file.State
	}
	if loc == "" {
		var err error
		if loc, err = state.DefaultLocation(opts.Serverless, os.Getenv); err != nil {
			return nil, err
		}
	}
	return state.Open(loc, state.Options{
		Credentials: state.Credentials(creds),
		Region:      file.Defaults.Region,
		OSSEndpoint: opts.OSSEndpoint,
		Serverless:  opts.Serverless,
	})
}

// storedState is the prior state document as read, not yet decoded.
type storedState struct {
	data    []byte // nil: start from empty state
	canSave bool
}

// loadState reads the prior state. Nothing there yet is an empty state. A
// store that cannot be read is reported and the run goes on from empty
// state without saving, so a passing outage does not wipe the real state.
// Only a document from a newer version, or another program's JSON, stops
// the run, before any API call: overwriting it would lose what it holds.
func loadState(ctx context.Context, store state.Store, rep *Report, log *slog.Logger) (storedState, error) {
	if store.Ephemeral() {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("state is kept in %s, which is lost when the instance is recycled: alerts may repeat and resolutions be missed; set BACKLOG_ALERT_STATE to an oss:// location or a NAS mount", store))
	}
	data, err := store.Load(ctx)
	switch {
	case errors.Is(err, state.ErrNotFound):
		return storedState{canSave: true}, nil
	case err != nil:
		msg := fmt.Sprintf("cannot read state from %s, continuing from empty state, sending nothing due and saving nothing: %v", store, err)
		rep.Errors = append(rep.Errors, msg)
		log.Error("cannot read state", "error", msg)
		return storedState{}, nil
	}
	if err := lifecycle.CheckOwned(data); err != nil {
		if errors.Is(err, lifecycle.ErrForeign) {
			return storedState{}, fmt.Errorf("%s holds JSON that is %w: refusing to overwrite it; point --state or BACKLOG_ALERT_STATE elsewhere", store, err)
		}
		return storedState{}, fmt.Errorf("%s: %w", store, err)
	}
	return storedState{data: data, canSave: true}, nil
}

// decode turns the document into the prior state. A corrupt document is set
// aside and the run goes on from empty state.
func (s storedState) decode(ctx context.Context, store state.Store, now time.Time, rep *Report, log *slog.Logger) (*lifecycle.State, bool) {
	if s.data == nil {
		return lifecycle.New(), s.canSave
	}
	prior, err := lifecycle.Decode(s.data)
	if err == nil {
		return prior, true
	}
	where, asideErr := store.SetAside(ctx, now)
	if asideErr != nil {
		where = "could not be set aside: " + asideErr.Error()
	}
	msg := fmt.Sprintf("state in %s is corrupt (%v); kept aside as %s, continuing from empty state", store, err, where)
	rep.Warnings = append(rep.Warnings, msg)
	log.Warn("corrupt state set aside", "error", msg)
	return lifecycle.New(), asideErr == nil
}

// lease is a run's hold on the state: one writer at a time, so that
// overlapping runs neither send the same notification twice nor lose each
// other's record. A dry run, which saves nothing, holds none.
type lease struct {
	held state.Lease // nil: no lease (a dry run)
	log  *slog.Logger
}

// takeLease takes the state's lease before the state is read. When another
// live run holds it, this run does nothing: the report says who holds it
// (the other run is doing the work), and held is false. A stale lease (its
// holder died) is taken over, with a warning.
func takeLease(ctx context.Context, opts Options, store state.Store, now time.Time, rep *Report, log *slog.Logger) (*lease, bool) {
	l := &lease{log: log}
	if opts.DryRun {
		return l, true
	}
	until, ok := ctx.Deadline()
	if !ok {
		until = time.Now().Add(time.Hour) // a run without a deadline: a generous lease
	}
	host, _ := os.Hostname()
	owner := fmt.Sprintf("backlog-alert on %s (pid %d, run at %s)", host, os.Getpid(), now.UTC().Format(time.RFC3339))
	held, err := store.Lock(ctx, owner, cmp.Or(opts.LockWait, DefaultLockWait), until)
	switch {
	case errors.Is(err, state.ErrLocked):
		rep.Skipped = err.Error() + ": this run sends nothing and leaves the state to it"
		log.Warn("another run holds the state; nothing to do", "state", store.String(), "holder", err.Error())
		return l, false
	case errors.Is(err, errors.ErrUnsupported):
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s cannot be locked on this platform: keep one run at a time yourself", store))
		return l, true
	case err != nil:
		// Without a lease the run may still notify, but must not save: a
		// save could overwrite a concurrent run's record.
		msg := fmt.Sprintf("cannot take the state's lease in %s: %v", store, err)
		rep.Errors = append(rep.Errors, msg)
		log.Error("cannot take the state's lease", "error", msg)
		return &lease{log: log, held: lostLease{err}}, true
	}
	if took := held.TookOver(); took != "" {
		rep.Warnings = append(rep.Warnings, "took over the state's lease from "+took)
		log.Warn("took over a stale lease", "from", took)
	}
	l.held = held
	return l, true
}

// save writes the state while the lease is still ours.
func (l *lease) save(ctx context.Context, store state.Store, st *lifecycle.State, now time.Time) error {
	if l.held != nil {
		if err := l.held.Held(context.WithoutCancel(ctx)); err != nil {
			return fmt.Errorf("not saved: the state's lease is no longer this run's: %w", err)
		}
	}
	return save(ctx, store, st, now)
}

// release gives the lease up, even after the run's deadline.
func (l *lease) release() {
	if l.held == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), saveBudget)
	defer cancel()
	if err := l.held.Release(ctx); err != nil {
		l.log.Warn("cannot release the state's lease; it expires by itself", "error", err)
	}
}

// lostLease stands for a lease that could not be taken: nothing is saved.
type lostLease struct{ err error }

func (l lostLease) Held(context.Context) error    { return l.err }
func (l lostLease) Release(context.Context) error { return nil }
func (l lostLease) TookOver() string              { return "" }

// saveBudget is how long saving the state may take once the run's work is
// done: on a context of its own, so that a run whose deadline passed while
// it was delivering still records what the channels accepted.
const saveBudget = 10 * time.Second

// save encodes and writes the state.
func save(ctx context.Context, store state.Store, st *lifecycle.State, now time.Time) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveBudget)
	defer cancel()
	// Over the size a store takes, the oldest history goes (saveState
	// reports it): a state that grew too large is still saved.
	data, err := st.EncodeWithin(now, state.MaxDocumentSize)
	if err == nil {
		err = store.Save(ctx, data)
	}
	return err
}

// saveState writes the new state while the lease is ours; a failure is an
// error of the run.
func saveState(ctx context.Context, lease *lease, store state.Store, st *lifecycle.State, now time.Time, rep *Report, log *slog.Logger, scrub *scrubber) {
	if err := lease.save(ctx, store, st, now); err != nil {
		msg := scrub.string(fmt.Sprintf("saving state to %s: %v", store, err))
		rep.Errors = append(rep.Errors, msg)
		log.Error("cannot save state", "error", msg)
		return
	}
	forgetHeld(store)
	if c, ok := st.Compacted(); ok {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("state in %s would have been %d bytes, over the %d a state document may hold: the %d oldest samples of history (of %d groups and places, those without an alert first) were dropped to save it in %d bytes",
			store, c.Before, state.MaxDocumentSize, c.Samples, c.Histories, c.After))
		log.Warn("state compacted to fit: oldest history dropped", "bytes_before", c.Before, "bytes_after", c.After, "samples", c.Samples, "histories", c.Histories)
	}
}

// tellRulesInvalid runs the monitor's own alerts alone when the rules file
// cannot be loaded: the broken file's channels and state, if still usable,
// hear "cannot see: the rules file is invalid" (once, with reminders), and
// its resolution once the file is fixed. Nothing else in the state moves.
func tellRulesInvalid(ctx context.Context, opts Options, now time.Time, log *slog.Logger, loadErr error) *Report {
	file, err := rules.LoadMeta(opts.RulesPath)
	if err != nil || opts.DryRun {
		return nil
	}
	creds, _ := credentials(opts.Credentials) // only an OSS state needs them
	scrub, log := scrubbing(creds, file, log)
	rep := &Report{Rules: file.Path, Time: now.UTC(), Alerts: []lifecycle.Alert{}, Errors: []string{scrub.string(loadErr.Error())}}
	store, err := openStore(opts, file, creds)
	if err != nil {
		return nil
	}
	rep.State = store.String()
	lease, held := takeLease(ctx, opts, store, now, rep, log)
	if !held {
		return rep
	}
	defer lease.release()
	stored, err := loadState(ctx, store, rep, log)
	if err != nil {
		return nil
	}
	prior, canSave := stored.decode(ctx, store, now, rep, log)
	first, _, _ := strings.Cut(loadErr.Error(), "\n")
	step := lifecycle.Step(prior, lifecycle.Input{File: file, Now: now, MetaOnly: true,
		Blind: []lifecycle.BlindSpot{blindSpot("", opts.RulesPath, rules.BlindCause{Kind: rules.BlindRules, Error: first}, scrub)}})
	rep.Notifications = deliver(ctx, file, &step, now, opts, log, scrub, func() {})
	rep.Alerts = append(rep.Alerts, step.Alerts...)
	if canSave {
		saveState(ctx, lease, store, step.State, now, rep, log, scrub)
	}
	return rep
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

// ReadState opens the state the run with these options would use and reads
// it, for `state show`. file may be nil when there is no rules file.
func ReadState(ctx context.Context, opts Options, file *rules.File) (*lifecycle.State, string, error) {
	if file == nil {
		file = &rules.File{}
	}
	var creds alikafka.Credentials
	if opts.Credentials != nil {
		creds = *opts.Credentials
	} else if c, err := alikafka.DefaultCredentials(); err == nil {
		creds = c // only OSS needs them
	}
	store, err := openStore(opts, file, creds)
	if err != nil {
		return nil, "", err
	}
	data, err := store.Load(ctx)
	if errors.Is(err, state.ErrNotFound) {
		return lifecycle.New(), store.String(), nil
	}
	if err != nil {
		return nil, store.String(), err
	}
	st, err := lifecycle.Decode(data)
	return st, store.String(), err
}
