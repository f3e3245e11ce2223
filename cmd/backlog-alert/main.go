// Command backlog-alert watches the consumer groups of Alibaba Cloud Message
// Queue for Apache Kafka and tells a team's chat channel when one falls
// behind.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/backlog-alert/backlog-alert/function"
	"github.com/backlog-alert/backlog-alert/function/awslambda"
	"github.com/backlog-alert/backlog-alert/function/fc"
	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/rules"
)

const usage = `backlog-alert: alerts when Alibaba Cloud Kafka consumer groups fall behind.

Usage:
  backlog-alert run      [--rules FILE] [--state LOC] [--now TIME] [--timeout D] [--lock-wait D] [--dry-run] [--json]
                                                               one run: read, evaluate, notify, save state
  backlog-alert validate [--rules FILE]                        check a rules file and show what it watches
  backlog-alert init     --region R [--instance ID] [--out FILE] [--sample D] [--by-tag KEY] [--force]
                                                               discover instances and groups; write a proposed rules file
  backlog-alert state show [--state LOC] [--rules FILE]        print the stored alerts and their ages
  backlog-alert explain  [--rules FILE] [--state LOC] [--now TIME] [--json] GROUP[@INSTANCE]
                                                               why a group is or is not alerting, and what comes next
  backlog-alert demo     [--json]                              run the example rules against a local fake
  backlog-alert serve                                          Function Compute custom runtime (POST /invoke)
  backlog-alert version

With AWS_LAMBDA_RUNTIME_API set (on AWS Lambda), the binary serves Lambda
invocations whatever its arguments.

The rules file is --rules, else $BACKLOG_ALERT_RULES, else ./rules.yaml.
State (alerts across runs) is --state, else $BACKLOG_ALERT_STATE, else the rules
file's state:, else $XDG_STATE_HOME/backlog-alert/state.json: a path, file://...,
or oss://bucket/key[?region=...] ($BACKLOG_ALERT_OSS_ENDPOINT overrides OSS's endpoint).
Credentials come from ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET
and ALIBABA_CLOUD_SECURITY_TOKEN (or the SDK's default chain: profile, RAM role).
BACKLOG_ALERT_ENDPOINT (a URL) sends every OpenAPI call to another endpoint.

Exit codes: 0 completed, 1 completed with errors, 2 invalid rules, usage or credentials.
`

// deliveryOptions tune notification retries and pacing; nil is notify's
// defaults. Tests shorten the waits.
var deliveryOptions []notify.Option

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" {
		if err := refuseSDKDebug(os.Getenv); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(function.ExitSetup)
		}
		awslambda.Start(platformOptions(os.Getenv), os.Stderr)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run is main without the process: tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return function.ExitSetup
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "run", "serve", "demo", "state", "explain", "init":
		if err := refuseSDKDebug(getenv); err != nil {
			fmt.Fprintln(stderr, err)
			return function.ExitSetup
		}
	}
	switch cmd {
	case "run":
		return runCmd(ctx, args, stdout, stderr, getenv)
	case "validate":
		return validateCmd(args, stdout, stderr, getenv)
	case "init":
		return initCmd(ctx, args, stdout, stderr, getenv)
	case "demo":
		return demoCmd(ctx, args, stdout, stderr)
	case "serve":
		return serveCmd(ctx, args, stdout, stderr, getenv)
	case "state":
		return stateCmd(ctx, args, stdout, stderr, getenv)
	case "explain":
		return explainCmd(ctx, args, stdout, stderr, getenv)
	case "version", "--version":
		fmt.Fprintln(stdout, "backlog-alert", version)
		return function.ExitOK
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return function.ExitOK
	}
	fmt.Fprintf(stderr, "backlog-alert: unknown command %q\n\n%s", cmd, usage)
	return function.ExitSetup
}

// refuseSDKDebug refuses to start when DEBUG names "sdk": the Alibaba Cloud
// SDK would then print every signed request (AccessKey ID, STS token,
// signature) and every reply to stdout, past any scrubbing of ours, and
// into the JSON report's stream.
func refuseSDKDebug(getenv func(string) string) error {
	for part := range strings.SplitSeq(getenv("DEBUG"), ",") {
		if part == "sdk" {
			return fmt.Errorf("backlog-alert: DEBUG=%s would make the Alibaba Cloud SDK print signed requests and their credentials; unset DEBUG (BACKLOG_ALERT_LOG_LEVEL=debug shows the run's own details, without secrets)", getenv("DEBUG"))
		}
	}
	return nil
}

// platformOptions are the settings every Function Compute or Lambda run
// starts from.
func platformOptions(getenv func(string) string) function.Options {
	return function.Options{
		RulesPath:   function.PlatformRulesPath(getenv),
		State:       getenv("BACKLOG_ALERT_STATE"),
		OSSEndpoint: getenv("BACKLOG_ALERT_OSS_ENDPOINT"),
		Endpoint:    getenv("BACKLOG_ALERT_ENDPOINT"),
		Serverless:  true,
	}
}

func serveCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := newFlags("serve", stderr)
	if fs.Parse(args) != nil || fs.NArg() > 0 {
		return function.ExitSetup
	}
	port := fc.DefaultPort
	if p := getenv("FC_CUSTOM_LISTEN_PORT"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			fmt.Fprintf(stderr, "serve: FC_CUSTOM_LISTEN_PORT=%q is not a port\n", p)
			return function.ExitSetup
		}
		port = n
	}
	h := &fc.Handler{Base: platformOptions(getenv), Logs: stderr, Console: stdout}
	err := fc.ListenAndServe(ctx, port, h, func(addr string) {
		slog.New(slog.NewJSONHandler(stderr, nil)).Info("serving Function Compute invocations", "addr", addr, "rules", h.Base.RulesPath)
	})
	if err != nil {
		fmt.Fprintln(stderr, "serve:", err)
		return function.ExitErrors
	}
	return function.ExitOK
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// stateLocation is --state, else $BACKLOG_ALERT_STATE; empty leaves the
// choice to the rules file and the default.
func stateLocation(flagValue string, getenv func(string) string) string {
	if flagValue != "" {
		return flagValue
	}
	return getenv("BACKLOG_ALERT_STATE")
}

func rulesPath(flagValue string, getenv func(string) string) string {
	if flagValue != "" {
		return flagValue
	}
	if p := getenv("BACKLOG_ALERT_RULES"); p != "" {
		return p
	}
	return "rules.yaml"
}

// defaultTimeout is run's --timeout: under the usual five-minute cron.
const defaultTimeout = 4 * time.Minute

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := newFlags("run", stderr)
	rulesFlag := fs.String("rules", "", "rules file (default $BACKLOG_ALERT_RULES, else ./rules.yaml)")
	stateFlag := fs.String("state", "", "state location (default $BACKLOG_ALERT_STATE, else the rules file's state:, else $XDG_STATE_HOME/backlog-alert/state.json)")
	nowFlag := fs.String("now", "", "evaluate as if at this RFC 3339 time (replays and tests)")
	timeout := fs.Duration("timeout", defaultTimeout, "the run's time budget: reading stops in time to notify and save state")
	dryRun := fs.Bool("dry-run", false, "print the messages each channel would get; send nothing, save no state")
	asJSON := fs.Bool("json", false, "print the report as JSON on stdout")
	lockWait := fs.Duration("lock-wait", function.DefaultLockWait, "how long to wait for another run holding the state; then do nothing and exit 0")
	if fs.Parse(args) != nil || fs.NArg() > 0 {
		return function.ExitSetup
	}
	now, ok := parseNow("run", *nowFlag, stderr)
	if !ok {
		return function.ExitSetup
	}
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	rep, err := function.Run(ctx, function.Options{
		NotifyOptions: deliveryOptions,
		RulesPath:     rulesPath(*rulesFlag, getenv),
		State:         stateLocation(*stateFlag, getenv),
		OSSEndpoint:   getenv("BACKLOG_ALERT_OSS_ENDPOINT"),
		Now:           now,
		DryRun:        *dryRun,
		Endpoint:      getenv("BACKLOG_ALERT_ENDPOINT"),
		Logger:        newLogger(stderr, getenv),
		LockWait:      *lockWait,
	})
	return finish(rep, err, *asJSON, stdout, stderr)
}

// finish prints a run's outcome and returns its exit code.
func finish(rep *function.Report, err error, asJSON bool, stdout, stderr io.Writer) int {
	if err != nil {
		fmt.Fprintln(stderr, err)
		return function.ExitCode(rep, err)
	}
	if asJSON {
		if !writeJSON(stdout, stderr, rep) {
			return function.ExitErrors
		}
	} else {
		rep.WriteSummary(stdout)
	}
	return function.ExitCode(rep, nil)
}

// parseNow reads a --now flag: zero when not given, false (said on stderr)
// when not an RFC 3339 time.
func parseNow(cmd, value string, stderr io.Writer) (time.Time, bool) {
	if value == "" {
		return time.Time{}, true
	}
	now, err := time.Parse(time.RFC3339, value)
	if err != nil {
		fmt.Fprintf(stderr, "%s: --now %q is not an RFC 3339 time such as 2026-11-21T09:00:00+08:00\n", cmd, value)
		return time.Time{}, false
	}
	return now, true
}

// writeJSON prints v as indented JSON; false (said on stderr) when it cannot.
func writeJSON(stdout, stderr io.Writer, v any) bool {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintln(stderr, err)
		return false
	}
	return true
}

func validateCmd(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := newFlags("validate", stderr)
	rulesFlag := fs.String("rules", "", "rules file (default $BACKLOG_ALERT_RULES, else ./rules.yaml)")
	if fs.Parse(args) != nil || fs.NArg() > 0 {
		return function.ExitSetup
	}
	f, err := rules.Load(rulesPath(*rulesFlag, getenv))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return function.ExitSetup
	}
	describe(stdout, f)
	return function.ExitOK
}

// describe prints what a rules file watches, without any secret.
func describe(w io.Writer, f *rules.File) {
	fmt.Fprintf(w, "%s is valid: %d rules, %d channels\n", f.Path, len(f.Rules), len(f.Channels))
	for _, r := range f.Rules {
		instances := "instance " + strings.Join(r.Instances, ", ")
		if r.OnInstance(rules.AllInstances) {
			instances = "every running instance"
		}
		fmt.Fprintf(w, "\nrule %s (line %d)\n  %s in %s\n  groups   %v", r.Name, r.Line, instances, r.Region, r.Groups)
		if len(r.ExcludeGroups) > 0 {
			fmt.Fprintf(w, " except %v", r.ExcludeGroups)
		}
		if len(r.GroupTags) > 0 {
			fmt.Fprintf(w, " tagged %s", tagList(r.GroupTags))
		}
		if len(r.Topics) > 0 {
			fmt.Fprintf(w, ", topics %v", r.Topics)
		}
		fmt.Fprintf(w, "\n  level    %s\n", r.Level)
		if b := r.Backlog; b != nil {
			fmt.Fprintf(w, "  backlog  %s\n", thresholds(b.Warning, b.Critical, func(v int64) string { return fmt.Sprintf("%d messages", v) }))
		}
		if s := r.Stale; s != nil {
			fmt.Fprintf(w, "  stale    %s (only while there is lag)\n", thresholds(s.Warning, s.Critical, func(v time.Duration) string { return v.String() }))
		}
		fmt.Fprintf(w, "  notify   %v\n", r.Notify)
		if rt := r.Routes; rt != nil {
			for _, v := range slices.Sorted(maps.Keys(rt.To)) {
				fmt.Fprintf(w, "  route    %s=%s to %v\n", rt.Tag, v, rt.To[v])
			}
			fmt.Fprintf(w, "  route    any other %s to %v\n", rt.Tag, r.Notify)
		}
		if len(r.Annotations) > 0 {
			keys := make([]string, len(r.Annotations))
			for i, a := range r.Annotations {
				keys[i] = a.Key
			}
			fmt.Fprintf(w, "  annotations %s\n", strings.Join(keys, ", "))
		}
	}
	fmt.Fprintln(w)
	for _, c := range f.Channels {
		fmt.Fprintf(w, "channel %s: %s", c.Name, c.Type)
		if c.SlackApp() {
			fmt.Fprint(w, slackApp(c))
		} else if u, err := url.Parse(cmp.Or(c.WebhookURL, c.URL)); err == nil && u.Host != "" {
			fmt.Fprint(w, " to "+u.Host) // the host only: the rest may be the credential
		}
		if c.Secret != "" {
			fmt.Fprint(w, ", signed")
		}
		switch {
		case c.BearerToken != "":
			fmt.Fprint(w, ", bearer token")
		case c.BasicUser != "":
			fmt.Fprintf(w, ", basic auth as %s", c.BasicUser)
		}
		if len(c.Headers) > 0 {
			fmt.Fprintf(w, ", %d extra headers", len(c.Headers))
		}
		if len(c.AtMobiles) > 0 {
			fmt.Fprintf(w, ", @-mentions %d mobiles on critical", len(c.AtMobiles))
		}
		if len(c.AtOpenIDs) > 0 {
			fmt.Fprintf(w, ", @-mentions %d users on critical", len(c.AtOpenIDs))
		}
		if c.Resends() {
			fmt.Fprintf(w, ", firing alerts sent again every %s", c.Resend)
		}
		fmt.Fprintf(w, ", language %s, time zone %s\n", c.Language, c.Location)
	}
	describeReading(w, f)
}

// tagList writes tags as k=v, sorted.
func tagList(tags map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		parts = append(parts, k+"="+tags[k])
	}
	return strings.Join(parts, ", ")
}

// describeReading says how long reading takes at api.qps — one call per
// named group, one listing per instance a glob or a tag selects from (and
// per region whose every instance is watched), and one call per group a glob
// selects — and warns when the named groups alone do not fit in a run's
// default time.
func describeReading(w io.Writer, f *rules.File) {
	named := map[string]bool{}
	listed := map[string]bool{}
	everyInstance := map[string]bool{}
	for _, r := range f.Rules {
		for _, instance := range r.Instances {
			if instance == rules.AllInstances {
				everyInstance[r.Region] = true // how many is known only then
				continue
			}
			for _, g := range r.Groups {
				if rules.IsGlob(g) || r.NeedsTags() {
					listed[r.Region+"/"+instance] = true
				}
				if !rules.IsGlob(g) {
					named[r.Region+"/"+instance+"/"+g] = true
				}
			}
		}
	}
	calls, qps := len(named)+len(listed)+len(everyInstance), function.QPS(f)
	seconds := time.Duration(float64(calls) / qps * float64(time.Second)).Round(time.Second)
	fmt.Fprintf(w, "\nreading: %d calls at api.qps %g/s take %s", calls, qps, seconds)
	if len(listed) > 0 || len(everyInstance) > 0 {
		fmt.Fprintf(w, ", plus %s per group the globs select", time.Duration(float64(time.Second)/qps))
	}
	if len(everyInstance) > 0 {
		fmt.Fprintf(w, "; every running instance of %s adds its listing and its groups", strings.Join(slices.Sorted(maps.Keys(everyInstance)), ", "))
	}
	fmt.Fprintln(w)
	const remedy = "raise api.qps (the account's limit is 100 calls/s per region and API, shared by every RAM user), or split the rules across functions"
	switch cron, serverless := function.ReadingTime(defaultTimeout), function.ReadingTime(function.TemplateTimeout); {
	case seconds > cron:
		fmt.Fprintf(w, "warning: that is more than the %s a run with --timeout %s has for reading: groups would go unread; %s\n", cron, defaultTimeout, remedy)
	case seconds > serverless:
		fmt.Fprintf(w, "warning: that is more than the %s a function deployed with s.yaml or template.yaml (timeout %.0f s) has for reading: groups would go unread there; "+
			"raise the function's timeout (below the 5-minute timer), %s\n", serverless, function.TemplateTimeout.Seconds(), remedy)
	}
}

// slackApp describes a Slack app channel: the token's kind, never any of
// its value, and only what differs from the defaults.
func slackApp(c rules.Channel) string {
	token := "(redacted)"
	if strings.HasPrefix(c.Token, "xoxb-") {
		token = "xoxb-…(redacted)"
	}
	s := fmt.Sprintf(" app, channel %s, token %s", c.SlackChannel, token)
	if !c.ThreadReminders {
		s += ", reminders not threaded"
	}
	if c.DigestAfter != rules.DefaultDigestAfter {
		s += fmt.Sprintf(", digest above %d new alerts", c.DigestAfter)
	}
	if c.APIURL != rules.DefaultSlackAPIURL {
		host := "(unparsable)"
		if u, err := url.Parse(c.APIURL); err == nil {
			host = u.Host
		}
		s += ", api " + host
	}
	return s
}

func thresholds[T comparable](warning, critical T, format func(T) string) string {
	var zero T
	switch {
	case warning == zero:
		return "critical at " + format(critical)
	case critical == zero:
		return "warning at " + format(warning)
	}
	return "warning at " + format(warning) + ", critical at " + format(critical)
}

// newLogger logs text on a terminal and JSON where a platform collects logs.
func newLogger(w io.Writer, getenv func(string) string) *slog.Logger {
	format := getenv("BACKLOG_ALERT_LOG_FORMAT")
	if format == "" && (getenv("FC_FUNCTION_NAME") != "" || getenv("AWS_LAMBDA_FUNCTION_NAME") != "") {
		format = "json"
	}
	level := slog.LevelInfo
	if err := level.UnmarshalText([]byte(getenv("BACKLOG_ALERT_LOG_LEVEL"))); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
