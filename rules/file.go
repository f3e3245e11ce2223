package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/textproto"
	"net/url"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/backlog-alert/backlog-alert/progress"
)

// File is a loaded, validated rules file.
type File struct {
	Path    string
	Version int
	// State is where the state document lives (`state:`), if the file says.
	State    string
	Defaults Defaults
	Silences []Silence
	// API tunes the OpenAPI calls; zero fields mean the client's defaults.
	API API
	// MetaNotify are the channels told when the monitor itself cannot see;
	// by default every channel some rule notifies.
	MetaNotify []string
	// Channels in file order.
	Channels []Channel
	Rules    []Rule
	// Secrets are the values that came into secret-bearing fields (webhook
	// URLs, signing secrets); callers scrub them from anything they print.
	Secrets []string
}

// Defaults are inherited by every rule and channel that does not set its
// own.
type Defaults struct {
	Region string
	Notify []string
	Timing
	// Language and Location are the channels' defaults: after loading,
	// "en" and time.UTC unless the file says otherwise.
	Language string
	Location *time.Location
	// Annotations are every rule's, unless it sets the same key; in display
	// order, without empty values.
	Annotations []Annotation
}

// baseDefaults are the defaults of a file that sets none.
func baseDefaults() Defaults {
	return Defaults{Timing: DefaultTiming, Language: LanguageEnglish, Location: time.UTC}
}

// API is how the run calls the OpenAPI.
type API struct {
	// QPS is calls per second across the run.
	QPS float64
	// Concurrency is how many calls may be in flight.
	Concurrency int
	// Timeout is per call.
	Timeout time.Duration
	// Retries is how often a call that failed transiently is tried again;
	// -1 means not set.
	Retries int
}

// Channel types.
const (
	ChannelSlack        = "slack"
	ChannelDingTalk     = "dingtalk"
	ChannelFeishu       = "feishu"
	ChannelWeCom        = "wecom"
	ChannelWebhook      = "webhook"
	ChannelAlertmanager = "alertmanager"
)

// ChannelTypes are the types a channel may have.
var ChannelTypes = []string{ChannelSlack, ChannelDingTalk, ChannelFeishu, ChannelWeCom, ChannelWebhook, ChannelAlertmanager}

// channelKeys are the keys each type takes besides type, language and
// timezone; the slack app keys are checked on their own.
var channelKeys = map[string][]string{
	ChannelSlack:        {"webhook_url", "token"},
	ChannelDingTalk:     {"webhook_url", "secret", "at_mobiles"},
	ChannelFeishu:       {"webhook_url", "secret", "at_open_ids"},
	ChannelWeCom:        {"webhook_url", "at_mobiles"},
	ChannelWebhook:      {"url", "secret", "headers"},
	ChannelAlertmanager: {"url", "bearer_token", "basic_auth", "resend"},
}

// DefaultResend is how often an Alertmanager channel is told again about
// what still fires, unless it says otherwise: the timers' interval.
const DefaultResend = 5 * time.Minute

// Languages a channel's messages can be written in.
const (
	LanguageEnglish = "en"
	LanguageChinese = "zh-CN"
)

// Languages are the accepted values of language:, the default first.
var Languages = []string{LanguageEnglish, LanguageChinese}

// Channel is where notifications go.
type Channel struct {
	Name       string
	Type       string
	WebhookURL string
	// Secret is DingTalk's optional signing secret.
	Secret string
	// AtMobiles are @-mentioned on critical alerts (DingTalk, WeCom).
	AtMobiles []string
	// AtOpenIDs are @-mentioned on critical alerts (Feishu).
	AtOpenIDs []string
	// URL is where a generic webhook posts, or Alertmanager's base URL.
	URL string
	// Headers are a generic webhook's extra request headers (secrets).
	Headers map[string]string
	// BearerToken, or BasicUser and BasicPassword, authenticate to
	// Alertmanager.
	BearerToken, BasicUser, BasicPassword string
	// Resend is how often an Alertmanager channel hears again about what
	// still fires: the run interval (Alertmanager resolves an alert whose
	// endsAt passes).
	Resend time.Duration
	// Language is one of Languages: the channel's own, else defaults'.
	Language string
	// Location is the time zone times are shown in: the channel's own, else
	// defaults', else UTC. Never nil after loading.
	Location *time.Location

	// Token is a Slack app's bot token (xoxb-…): a Slack channel sets it or
	// WebhookURL, never both. It is a secret, like WebhookURL. The fields
	// below it are set for such a channel only (see SlackApp).
	Token string
	// SlackChannel is the ID of the channel the app posts in (C0123456789).
	SlackChannel string
	// ThreadReminders puts reminders in the alert's thread; true unless the
	// file says otherwise.
	ThreadReminders bool
	// DigestAfter is how many new alerts one run may post one by one; more
	// become one digest post with the alerts threaded under it. 1 to
	// MaxDigestAfter, DefaultDigestAfter unless the file says otherwise.
	DigestAfter int
	// APIURL is the Web API's base URL, always ending in "/":
	// DefaultSlackAPIURL unless the file says otherwise.
	APIURL string
}

// SlackApp reports whether the channel posts as a Slack app (with a bot
// token) rather than through an incoming webhook.
func (c Channel) SlackApp() bool { return c.Token != "" }

// Resends reports whether the channel must hear every firing alert every
// run, not only changes: Alertmanager resolves an alert whose endsAt
// passes unless its client sends it again.
func (c Channel) Resends() bool { return c.Type == ChannelAlertmanager }

// Slack app defaults and limits.
const (
	DefaultSlackAPIURL = "https://slack.com/api/"
	DefaultDigestAfter = 10
	MaxDigestAfter     = 50
)

// slackAppKeys are the channel keys that only a Slack app channel takes.
var slackAppKeys = []string{"channel", "thread_reminders", "digest_after", "api_url"}

// Rule selects consumer groups of one instance and says when they are behind.
type Rule struct {
	Name string
	// Instances are instance IDs, or AllInstances alone: every instance
	// GetInstanceList reports running in Region.
	Instances     []string
	Region        string
	Groups        []string
	ExcludeGroups []string
	// GroupTags, when set, restrict the rule to groups whose tags (as
	// GetConsumerList reports them) have every key, each value matching its
	// glob.
	GroupTags map[string]string
	// Topics restricts the rule to these topic globs; empty means every topic.
	Topics  []string
	Level   Level
	Backlog *BacklogThresholds
	Stale   *StaleThresholds
	Stuck   *StaleThresholds
	// Notify are the rule's channels; with Routes, those of the groups no
	// route takes.
	Notify []string
	Routes *Routes
	Timing
	// Annotations are defaults' merged with the rule's own (its keys
	// winning, "" dropping one), parsed, in display order (see
	// AnnotationOrder). Render them with Annotate.
	Annotations []Annotation
	// Line is where the rule starts in its file.
	Line int
}

// AllInstances as a rule's instance stands for every running instance of
// its region.
const AllInstances = "*"

// Routes send a group's alerts to channels chosen by one of its tags.
type Routes struct {
	// Tag is the tag key whose value picks the channels.
	Tag string
	// To maps a tag value to its channels.
	To map[string][]string
	// Line is where routes start in the file.
	Line int
}

// Channels returns the channels the alerts of a group with these tags go
// to, and false when the rule routes by tag and no route takes the group
// (then they go to the rule's notify channels).
func (rule *Rule) Channels(tags map[string]string) ([]string, bool) {
	if rule.Routes == nil {
		return rule.Notify, true
	}
	if v, ok := tags[rule.Routes.Tag]; ok {
		if chs, ok := rule.Routes.To[v]; ok {
			return chs, true
		}
	}
	return rule.Notify, false
}

// NeedsTags reports whether the rule must know its groups' tags: it selects
// or routes by them.
func (rule *Rule) NeedsTags() bool { return len(rule.GroupTags) > 0 || rule.Routes != nil }

// BacklogThresholds are in messages; zero means not set.
type BacklogThresholds struct {
	Warning, Critical int64
	// ResolveBelow is the value a firing backlog alert must drop below to
	// resolve (hysteresis); it defaults to the lowest threshold.
	ResolveBelow int64
}

// Lowest is the lowest threshold set and its severity.
func (b *BacklogThresholds) Lowest() (int64, Severity) {
	if b.Warning > 0 {
		return b.Warning, Warning
	}
	return b.Critical, Critical
}

// StaleThresholds are durations (the age of the newest consumed message for
// stale, the time without offset movement for stuck); zero means not set.
type StaleThresholds struct {
	Warning, Critical time.Duration
}

// Channel returns the channel with that name.
func (f *File) Channel(name string) (Channel, bool) {
	for _, c := range f.Channels {
		if c.Name == name {
			return c, true
		}
	}
	return Channel{}, false
}

// Rule returns the rule with that name.
func (f *File) Rule(name string) (*Rule, bool) {
	for i := range f.Rules {
		if f.Rules[i].Name == name {
			return &f.Rules[i], true
		}
	}
	return nil, false
}

// Load reads and validates a rules file, expanding ${NAME} from the process
// environment. The file must be a regular file (or a symlink to one) of at
// most MaxFileSize bytes: a named pipe, device, socket or directory is
// refused without blocking, and a larger file is refused after reading
// MaxFileSize+1 bytes of it.
func Load(file string) (*File, error) {
	data, msg := readFile(file)
	if msg != "" {
		return nil, Errors{{File: file, Msg: msg}}
	}
	return Parse(file, data, os.LookupEnv)
}

// readFile reads a rules file, bounded, from a regular file only. On failure
// it returns a message for the person who named the file.
func readFile(file string) ([]byte, string) {
	// Refuse what is plainly not a rules file before opening it: opening a
	// FIFO for reading blocks until a writer comes.
	if info, err := os.Stat(file); err == nil && !info.Mode().IsRegular() {
		return nil, notRegular(info.Mode())
	}
	// The path may have changed since: O_NONBLOCK makes opening a FIFO
	// return at once (it has no effect on reading a regular file, which is
	// all that is read below), and the open file is checked again.
	f, err := os.OpenFile(file, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, "cannot read rules file: " + pathErr(err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, "cannot read rules file: " + pathErr(err)
	}
	if !info.Mode().IsRegular() {
		return nil, notRegular(info.Mode())
	}
	if info.Size() > MaxFileSize {
		return nil, fmt.Sprintf("the rules file is %d bytes; the limit is %d", info.Size(), MaxFileSize)
	}
	// Bounded even so: the file may grow while it is read.
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, "cannot read rules file: " + pathErr(err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Sprintf("the rules file is over %d bytes, the limit", MaxFileSize)
	}
	return data, ""
}

// notRegular says what a path that is not a regular file is.
func notRegular(m os.FileMode) string {
	what := "not a regular file"
	switch {
	case m.IsDir():
		what = "a directory"
	case m&os.ModeNamedPipe != 0:
		what = "a named pipe"
	case m&os.ModeSocket != 0:
		what = "a socket"
	case m&os.ModeCharDevice != 0:
		what = "a character device"
	case m&os.ModeDevice != 0:
		what = "a device"
	}
	return "is " + what + ", not a rules file"
}

// pathErr drops the *os.PathError's operation and path: the path is
// already named.
func pathErr(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return err.Error()
}

// MaxFileSize bounds a rules file: a larger one is a mistake, not rules.
const MaxFileSize = 1 << 20

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// The YAML library numbers parser errors from 0 and scanner errors from 1;
// these are the parser's messages.
var yamlParserProblem = regexp.MustCompile(`^did not find expected (key|node content|'-' indicator|<document start>|',' or)`)

// Parse validates a rules document. file names it in errors; getenv supplies
// ${NAME} values. The error, if any, is Errors: one line per problem, each
// naming file, line and field.
func Parse(file string, data []byte, getenv func(string) (string, bool)) (*File, error) {
	if len(data) > MaxFileSize {
		return nil, Errors{{File: file, Msg: fmt.Sprintf("the rules file is %d bytes; the limit is %d", len(data), MaxFileSize)}}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if err.Error() == "EOF" {
			return nil, Errors{{File: file, Msg: "the rules file is empty"}}
		}
		// Turn the parser's "yaml: line N: msg" into our file:line form.
		msg := err.Error()
		e := &Error{File: file, Msg: "YAML syntax: " + msg}
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
			if yamlParserProblem.MatchString(m[2]) {
				e.Line++
			}
			e.Msg = "YAML syntax: " + m[2]
		}
		return nil, Errors{e}
	}
	var extra yaml.Node
	if dec.Decode(&extra) == nil {
		return nil, Errors{{File: file, Line: extra.Line, Msg: "only one YAML document is allowed"}}
	}
	r := &reader{file: file, getenv: getenv}
	f := r.file0(doc.Content[0])
	if len(r.errs) > 0 {
		return nil, r.errs.sorted()
	}
	f.Path = file
	f.Secrets = r.secrets
	return f, nil
}

func (r *reader) file0(n *yaml.Node) *File {
	f := &File{}
	top := r.mapping(n, "", "version", "state", "api", "defaults", "channels", "meta_notify", "silences", "rules")
	if top == nil {
		return f
	}
	switch v := top["version"]; {
	case v == nil:
		r.fail(n, "version", "missing (write version: 1)")
	case v.Tag != "!!int" || v.Value != "1":
		r.fail(v, "version", "unsupported version %s (this program reads version 1)", oneLine(v.Value))
	default:
		f.Version = 1
	}
	if v := top["state"]; v != nil {
		f.State, _ = r.str(v, "state")
	}
	f.Defaults = baseDefaults()
	if d := top["defaults"]; !isNull(d) {
		f.Defaults = r.defaults(d)
	}
	if v := top["silences"]; !isNull(v) {
		f.Silences = r.silences(v)
	}
	f.API.Retries = -1
	if v := top["api"]; !isNull(v) {
		f.API = r.api(v)
	}
	if c := top["channels"]; isNull(c) {
		r.fail(n, "channels", "missing: define at least one channel")
	} else {
		f.Channels = r.channels(c, f.Defaults)
	}
	names := make([]string, len(f.Channels))
	for i, c := range f.Channels {
		names[i] = c.Name
	}
	r.checkNotify(top["defaults"], "defaults.notify", f.Defaults.Notify, names)
	if v := top["meta_notify"]; v != nil {
		f.MetaNotify = r.strList(v, "meta_notify")
		r.checkNotify(v, "meta_notify", f.MetaNotify, names)
	}

	rs := top["rules"]
	if isNull(rs) || rs.Kind == yaml.SequenceNode && len(rs.Content) == 0 {
		r.fail(n, "rules", "missing: define at least one rule")
		return f
	}
	if rs.Kind != yaml.SequenceNode {
		r.fail(rs, "rules", "must be a list of rules, not %s", kindName(rs))
		return f
	}
	seen := map[string]int{}
	for i, rn := range rs.Content {
		rule, ok := r.rule(rn, fmt.Sprintf("rules[%d]", i), f.Defaults, names)
		if !ok {
			continue
		}
		if prev, dup := seen[rule.Name]; dup {
			r.fail(rn, fmt.Sprintf("rules[%d].name", i), "rule name %q is already used at line %d", rule.Name, prev)
			continue
		}
		seen[rule.Name] = rn.Line
		f.Rules = append(f.Rules, rule)
	}
	if top["meta_notify"] == nil {
		f.MetaNotify = channelsInUse(f)
	}
	return f
}

// channelsInUse are the channels some rule notifies, in file order.
func channelsInUse(f *File) []string {
	var out []string
	for _, c := range f.Channels {
		for _, r := range f.Rules {
			if contains(r.Notify, c.Name) {
				out = append(out, c.Name)
				break
			}
		}
	}
	return out
}

func (r *reader) api(n *yaml.Node) API {
	a := API{Retries: -1}
	m := r.mapping(n, "api", "qps", "concurrency", "timeout", "retries")
	if m == nil {
		return a
	}
	if v := m["qps"]; v != nil {
		q, err := strconv.ParseFloat(v.Value, 64)
		if v.Kind != yaml.ScalarNode || (v.Tag != "!!int" && v.Tag != "!!float") || err != nil || q <= 0 || q > 10000 {
			r.fail(v, "api.qps", "must be a number of calls per second between 0 and 10000, not %s", oneLine(v.Value))
		}
		a.QPS = q
	}
	if v := m["concurrency"]; v != nil {
		if c, ok := r.positiveInt(v, "api.concurrency"); ok {
			if c > 256 {
				r.fail(v, "api.concurrency", "must be at most 256")
			}
			a.Concurrency = int(c)
		}
	}
	if v := m["timeout"]; v != nil {
		a.Timeout, _ = r.duration(v, "api.timeout")
	}
	if v := m["retries"]; v != nil {
		if v.Kind != yaml.ScalarNode || v.Tag != "!!int" {
			r.fail(v, "api.retries", "must be a whole number, not %s", kindName(v))
		} else if n, err := strconv.Atoi(v.Value); err != nil || n < 0 || n > 10 {
			r.fail(v, "api.retries", "must be between 0 and 10, not %s", v.Value)
		} else {
			a.Retries = n
		}
	}
	return a
}

var defaultsKeys = append([]string{"region", "notify", "language", "timezone", "annotations"}, timingKeys...)

func (r *reader) defaults(n *yaml.Node) Defaults {
	d := baseDefaults()
	m := r.mapping(n, "defaults", defaultsKeys...)
	if m == nil {
		return d
	}
	d.Timing = r.timing(m, "defaults", DefaultTiming)
	if v := m["region"]; v != nil {
		d.Region, _ = r.region(v, "defaults.region")
	}
	if v := m["notify"]; v != nil {
		d.Notify = r.strList(v, "defaults.notify")
	}
	if v := m["language"]; v != nil {
		if l, ok := r.language(v, "defaults.language"); ok {
			d.Language = l
		}
	}
	if v := m["timezone"]; v != nil {
		if loc, ok := r.timezone(v, "defaults.timezone"); ok {
			d.Location = loc
		}
	}
	if v := m["annotations"]; !isNull(v) {
		sample := AnnotationData{Rule: "sample-rule", Region: d.Region, Instance: "sample-instance", Group: "sample-group", Topic: "sample-topic", Partition: "0"}
		d.Annotations = mergeAnnotations(nil, r.annotations(keyNode(n, "annotations"), v, "defaults.annotations", sample))
	}
	return d
}

// language reads one of Languages; nothing else, not even a near miss, so
// that a typo does not silently fall back to English.
func (r *reader) language(n *yaml.Node, field string) (string, bool) {
	s, ok := r.str(n, field)
	if !ok {
		return "", false
	}
	if !contains(Languages, s) {
		r.fail(n, field, "unknown language %q (%s)", s, strings.Join(Languages, " or "))
		return "", false
	}
	return s, true
}

// timezone reads an IANA time zone name.
func (r *reader) timezone(n *yaml.Node, field string) (*time.Location, bool) {
	s, ok := r.str(n, field)
	if !ok {
		return nil, false
	}
	// LoadLocation takes "" for UTC and "Local" for the machine's zone,
	// which differs between a laptop and a function: neither is a name.
	loc, err := time.LoadLocation(s)
	if err != nil || s == "" || s == "Local" {
		r.fail(n, field, "unknown time zone %q (an IANA name such as Asia/Shanghai or UTC)", s)
		return nil, false
	}
	return loc, true
}

var regionID = regexp.MustCompile(`^[a-z0-9-]+$`)

// IsRegionID reports whether s has the shape of a region ID such as
// cn-hangzhou.
func IsRegionID(s string) bool { return regionID.MatchString(s) }

func (r *reader) region(n *yaml.Node, field string) (string, bool) {
	s, ok := r.str(n, field)
	if ok && !IsRegionID(s) {
		r.fail(n, field, "%q is not a region ID such as cn-hangzhou", s)
		return "", false
	}
	return s, ok
}

var channelName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

func (r *reader) channels(n *yaml.Node, d Defaults) []Channel {
	keys, values := r.pairs(n, "channels")
	var out []Channel
	for i, k := range keys {
		field := join("channels", k.Value)
		if !channelName.MatchString(k.Value) {
			r.fail(k, field, "channel names use letters, digits, '-', '_' and '.'")
			continue
		}
		// An invalid channel is still named, so that rules referring to it
		// do not add "unknown channel" errors on top of the real one.
		c := r.channel(values[i], field, d)
		c.Name = k.Value
		out = append(out, c)
	}
	if len(keys) == 0 && n.Kind == yaml.MappingNode {
		r.fail(n, "channels", "define at least one channel")
	}
	return out
}

func (r *reader) channel(n *yaml.Node, field string, d Defaults) Channel {
	c := Channel{Language: d.Language, Location: d.Location}
	if c.Language == "" {
		c.Language = LanguageEnglish
	}
	if c.Location == nil {
		c.Location = time.UTC
	}
	m := r.mapping(n, field, channelKeysOf(n)...)
	if m == nil {
		return c
	}
	if v := m["language"]; v != nil {
		if l, ok := r.language(v, field+".language"); ok {
			c.Language = l
		}
	}
	if v := m["timezone"]; v != nil {
		if loc, ok := r.timezone(v, field+".timezone"); ok {
			c.Location = loc
		}
	}
	if v := m["type"]; v == nil {
		r.fail(n, field+".type", "missing (%s)", strings.Join(ChannelTypes, ", "))
	} else if t, ok := r.str(v, field+".type"); ok {
		if !contains(ChannelTypes, t) {
			r.fail(v, field+".type", "unknown channel type %q (%s)", t, strings.Join(ChannelTypes, ", "))
		}
		c.Type = t
	}
	if _, known := channelKeys[c.Type]; known && c.Type != ChannelSlack && c.Type != ChannelDingTalk {
		r.otherChannel(n, m, field, &c)
		return c
	}
	hook, token := m["webhook_url"], m["token"]
	switch {
	case c.Type == ChannelSlack && hook != nil && token != nil:
		r.fail(n, field, "set webhook_url (incoming webhook) or token (Slack app), not both")
	case c.Type == ChannelSlack && hook == nil && token == nil:
		r.fail(n, field, "set webhook_url (incoming webhook) or token (Slack app)")
	case hook == nil && (token == nil || c.Type == ChannelDingTalk):
		// A channel of no known type that has a token is only missing its
		// type; a DingTalk robot always needs its URL.
		r.fail(n, field+".webhook_url", "missing")
	}
	if hook != nil {
		c.WebhookURL = r.webhookURL(hook, field+".webhook_url", c.Type)
	}
	if c.Type == ChannelDingTalk {
		// Read the token all the same: whatever came in is scrubbed.
		if token != nil {
			r.secret(token, field+".token")
		}
		for _, key := range append([]string{"token"}, slackAppKeys...) {
			if v := m[key]; v != nil {
				r.fail(keyNode(n, key), join(field, key), "is a Slack app setting; a dingtalk channel posts through its webhook_url")
			}
		}
	} else {
		r.slackApp(n, m, field, &c)
	}
	if v := m["secret"]; v != nil {
		if c.Type != ChannelDingTalk {
			r.fail(v, field+".secret", "only dingtalk channels take a signing secret")
		}
		c.Secret, _ = r.secret(v, field+".secret")
	}
	if v := m["at_mobiles"]; v != nil {
		if c.Type != ChannelDingTalk {
			r.fail(v, field+".at_mobiles", "only dingtalk channels @-mention mobiles")
		}
		c.AtMobiles = r.strList(v, field+".at_mobiles")
	}
	return c
}

// channelKeysOf are the keys a channel may have: those of its type (any
// type's while the type is unknown). Slack and DingTalk channels share
// theirs, so that a key of the other gets a message saying why.
func channelKeysOf(n *yaml.Node) []string {
	typ := ""
	for i := 0; n.Kind == yaml.MappingNode && i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "type" {
			typ = n.Content[i+1].Value
		}
	}
	switch {
	case typ == ChannelSlack || typ == ChannelDingTalk:
		return append([]string{"type", "webhook_url", "token", "secret", "at_mobiles", "language", "timezone"}, slackAppKeys...)
	case channelKeys[typ] != nil:
		return append([]string{"type", "language", "timezone"}, channelKeys[typ]...)
	}
	keys := []string{"type", "language", "timezone"}
	for _, t := range ChannelTypes {
		for _, k := range channelKeys[t] {
			if !contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	return append(keys, slackAppKeys...)
}

// otherChannel reads a Feishu, WeCom, generic webhook or Alertmanager
// channel (the loader refused the keys its type does not take).
func (r *reader) otherChannel(n *yaml.Node, m map[string]*yaml.Node, field string, c *Channel) {
	required := func(key string) *yaml.Node {
		v := m[key]
		if v == nil {
			r.fail(n, join(field, key), "missing")
		}
		return v
	}
	if v := m["secret"]; v != nil {
		c.Secret, _ = r.secret(v, field+".secret")
	}
	switch c.Type {
	case ChannelFeishu, ChannelWeCom:
		if v := required("webhook_url"); v != nil {
			c.WebhookURL = r.webhookURL(v, field+".webhook_url", c.Type)
		}
		if v := m["at_open_ids"]; v != nil {
			c.AtOpenIDs = r.strList(v, field+".at_open_ids")
		}
		if v := m["at_mobiles"]; v != nil {
			c.AtMobiles = r.strList(v, field+".at_mobiles")
		}
	case ChannelWebhook:
		if v := required("url"); v != nil {
			c.URL = r.webhookURL(v, field+".url", c.Type)
		}
		if v := m["headers"]; v != nil {
			c.Headers = r.headers(v, field+".headers")
		}
	case ChannelAlertmanager:
		if v := required("url"); v != nil {
			c.URL = r.webhookURL(v, field+".url", c.Type)
		}
		bearer, basic := m["bearer_token"], m["basic_auth"]
		if bearer != nil && basic != nil {
			r.fail(n, field, "set bearer_token or basic_auth, not both")
		}
		if bearer != nil {
			c.BearerToken, _ = r.secret(bearer, field+".bearer_token")
		}
		if basic != nil {
			c.BasicUser, c.BasicPassword = r.basicAuth(basic, field+".basic_auth")
		}
		c.Resend = DefaultResend
		if v := m["resend"]; v != nil {
			if d, ok := r.duration(v, field+".resend"); ok {
				c.Resend = d
			}
		}
	}
}

var headerName = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+.^_|~-]+$`)

// headers reads a webhook's extra request headers. Their values often
// carry an API key: they are secrets.
func (r *reader) headers(n *yaml.Node, field string) map[string]string {
	keys, values := r.pairs(n, field)
	out := map[string]string{}
	for i, k := range keys {
		f := join(field, k.Value)
		switch {
		case !headerName.MatchString(k.Value):
			r.fail(k, f, "is not a valid header name")
		case textproto.CanonicalMIMEHeaderKey(k.Value) == "Content-Type" || strings.HasPrefix(textproto.CanonicalMIMEHeaderKey(k.Value), "X-Backlog-Alert-"):
			r.fail(k, f, "is set by backlog-alert itself")
		default:
			if v, ok := r.secret(values[i], f); ok {
				out[k.Value] = v
			}
		}
	}
	return out
}

// basicAuth reads Alertmanager's basic_auth: {username, password}.
func (r *reader) basicAuth(n *yaml.Node, field string) (user, password string) {
	m := r.mapping(n, field, "username", "password")
	if m == nil {
		return "", ""
	}
	if v := m["username"]; v == nil {
		r.fail(n, field+".username", "missing")
	} else {
		user, _ = r.str(v, field+".username")
	}
	if v := m["password"]; v == nil {
		r.fail(n, field+".password", "missing")
	} else {
		password, _ = r.secret(v, field+".password")
	}
	return user, password
}

// webhookURL reads an incoming webhook or robot URL. The URL is the
// credential: no error repeats it.
func (r *reader) webhookURL(v *yaml.Node, field, typ string) string {
	u, ok := r.secret(v, field)
	if !ok {
		return ""
	}
	if pu, err := url.Parse(u); err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" {
		r.fail(v, field, "is not an http(s) URL")
	} else if typ == ChannelDingTalk && pu.Query().Get("access_token") == "" {
		r.fail(v, field, "a DingTalk robot URL must include access_token")
	} else if typ == ChannelWeCom && pu.Query().Get("key") == "" {
		r.fail(v, field, "a WeCom robot URL must include key")
	} else if typ == ChannelAlertmanager && (pu.RawQuery != "" || strings.Contains(pu.Path, "/api/")) {
		r.fail(v, field, "is Alertmanager's base URL, such as http://alertmanager:9093 (without /api/v2/alerts or a query)")
	}
	return u
}

// slackApp reads a Slack channel's app settings: the bot token and what
// goes with it. Without a token, the settings that need one are errors.
func (r *reader) slackApp(n *yaml.Node, m map[string]*yaml.Node, field string, c *Channel) {
	tv := m["token"]
	if tv == nil {
		for _, key := range slackAppKeys {
			if v := m[key]; v != nil {
				r.fail(keyNode(n, key), join(field, key), "only a Slack app channel (one with a token) takes %s; an incoming webhook posts where it was created", key)
			}
		}
		return
	}
	c.Token = r.botToken(tv, field+".token")
	c.ThreadReminders = true
	c.DigestAfter = DefaultDigestAfter
	c.APIURL = DefaultSlackAPIURL
	if v := m["channel"]; v == nil {
		r.fail(n, field+".channel", "missing: the ID of the channel to post in, such as C0123456789 (%s)", findChannelID)
	} else {
		c.SlackChannel = r.slackChannelID(v, field+".channel")
	}
	if v := m["thread_reminders"]; v != nil {
		if b, ok := r.boolean(v, field+".thread_reminders"); ok {
			c.ThreadReminders = b
		}
	}
	if v := m["digest_after"]; v != nil {
		if d, ok := r.intBetween(v, field+".digest_after", 1, MaxDigestAfter); ok {
			c.DigestAfter = d
		}
	}
	if v := m["api_url"]; v != nil {
		if u, ok := r.apiURL(v, field+".api_url"); ok {
			c.APIURL = u
		}
	}
}

var (
	botToken      = regexp.MustCompile(`^xoxb-[0-9A-Za-z-]+$`)
	slackToken    = regexp.MustCompile(`^xox[a-z]-`)
	slackChanID   = regexp.MustCompile(`^[CGD][A-Z0-9]{8,}$`)
	findChannelID = "in Slack, open the channel's details: its ID is at the bottom"
)

// botToken reads a Slack bot token. It is a secret: no message repeats any
// of it.
func (r *reader) botToken(n *yaml.Node, field string) string {
	t, ok := r.secret(n, field)
	switch {
	case !ok:
	case t == "":
		r.fail(n, field, "is empty (the app's bot token, xoxb-…, goes here)")
	case botToken.MatchString(t):
		return t
	case botToken.MatchString(strings.TrimSpace(t)):
		r.fail(n, field, "has spaces or a line break around it")
	case strings.HasPrefix(t, "xoxp-"):
		r.fail(n, field, "is a user token; use the app's bot token, xoxb-…")
	default:
		r.fail(n, field, "is not a Slack bot token (xoxb-…)")
	}
	return ""
}

// slackChannelID reads the ID of a Slack channel. Names are not resolved:
// that would take the channels:read scope and a call to Slack at load time.
func (r *reader) slackChannelID(n *yaml.Node, field string) string {
	s, ok := r.str(n, field)
	switch {
	case !ok:
	case s == "":
		r.fail(n, field, "must not be empty: use the channel's ID, such as C0123456789 (%s)", findChannelID)
	case slackChanID.MatchString(s):
		return s
	case slackToken.MatchString(s):
		// A token in the wrong place: say so without repeating it.
		r.fail(n, field, "looks like a Slack token, not a channel ID such as C0123456789")
	case slackChanID.MatchString(strings.ToUpper(s)):
		r.fail(n, field, "%q: channel IDs are upper case", s)
	case strings.HasPrefix(s, "#") || !strings.ContainsFunc(s, unicode.IsUpper):
		r.fail(n, field, "%q is a channel name; use its ID, such as C0123456789 (%s)", s, findChannelID)
	default:
		r.fail(n, field, "%q is not a Slack channel ID such as C0123456789 (%s)", s, findChannelID)
	}
	return ""
}

// apiURL reads the base URL of Slack's Web API and makes it end in "/".
func (r *reader) apiURL(n *yaml.Node, field string) (string, bool) {
	s, ok := r.str(n, field)
	if !ok {
		return "", false
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		r.fail(n, field, "is not an absolute http(s) URL such as %s", DefaultSlackAPIURL)
		return "", false
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		r.fail(n, field, "must not have a query or fragment: method names are appended to it")
		return "", false
	}
	if !strings.HasSuffix(s, "/") {
		s += "/"
	}
	return s, true
}

func (r *reader) checkNotify(n *yaml.Node, field string, list, channels []string) {
	for i, name := range list {
		if !contains(channels, name) {
			at := n
			if n != nil && n.Kind == yaml.MappingNode {
				at = nil
				for j := 0; j+1 < len(n.Content); j += 2 {
					if n.Content[j].Value == "notify" && i < len(n.Content[j+1].Content) {
						at = n.Content[j+1].Content[i]
					}
				}
			}
			r.fail(at, fmt.Sprintf("%s[%d]", field, i), "unknown channel %q (defined: %v)", name, channels)
		}
	}
}

var ruleKeys = append([]string{"name", "instance", "region", "groups", "exclude_groups", "group_tags", "routes", "topics", "level", "backlog", "stale", "stuck", "notify", "annotations"}, timingKeys...)

func (r *reader) rule(n *yaml.Node, field string, d Defaults, channels []string) (Rule, bool) {
	rule := Rule{Line: n.Line, Level: LevelGroup}
	m := r.mapping(n, field, ruleKeys...)
	if m == nil {
		return rule, false
	}
	before := len(r.errs)
	required := func(key string) *yaml.Node {
		v := m[key]
		if isNull(v) {
			r.fail(n, join(field, key), "missing")
			return nil
		}
		return v
	}
	if v := required("name"); v != nil {
		rule.Name, _ = r.str(v, field+".name")
		if rule.Name == "" {
			r.fail(v, field+".name", "must not be empty")
		}
	}
	if v := required("instance"); v != nil {
		rule.Instances = r.instances(v, field+".instance")
	}
	rule.Region = d.Region
	if v := m["region"]; v != nil {
		rule.Region, _ = r.region(v, field+".region")
	} else if d.Region == "" {
		r.fail(n, field+".region", "missing (set it here or in defaults)")
	}
	if v := required("groups"); v != nil {
		rule.Groups = r.globs(v, field+".groups")
		if len(v.Content) == 0 && v.Kind == yaml.SequenceNode {
			r.fail(v, field+".groups", "name at least one group or glob")
		}
	}
	if v := m["exclude_groups"]; v != nil {
		rule.ExcludeGroups = r.globs(v, field+".exclude_groups")
	}
	if v := m["group_tags"]; v != nil {
		rule.GroupTags = r.groupTags(v, field+".group_tags")
	}
	if v := m["topics"]; v != nil {
		rule.Topics = r.globs(v, field+".topics")
	}
	if v := m["level"]; v != nil {
		if s, ok := r.str(v, field+".level"); ok {
			switch l := Level(s); l {
			case LevelGroup, LevelTopic, LevelPartition:
				rule.Level = l
			default:
				r.fail(v, field+".level", "unknown level %q (group, topic or partition)", s)
			}
		}
	}
	if v := m["backlog"]; v != nil {
		rule.Backlog = r.backlog(v, field+".backlog")
	}
	if v := m["stale"]; v != nil {
		rule.Stale = r.stale(v, field+".stale")
	}
	if v := m["stuck"]; v != nil {
		rule.Stuck = r.stale(v, field+".stuck")
	}
	if m["backlog"] == nil && m["stale"] == nil && m["stuck"] == nil {
		r.fail(n, field, "set at least one of backlog, stale, stuck")
	}
	rule.Timing = r.timing(m, field, d.Timing)
	rule.Notify = d.Notify
	if v := m["notify"]; v != nil {
		rule.Notify = r.strList(v, field+".notify")
		r.checkNotify(n, field+".notify", rule.Notify, channels)
	} else if len(d.Notify) == 0 {
		r.fail(n, field+".notify", "missing (set it here or in defaults)")
	}
	if v := m["routes"]; v != nil {
		rule.Routes = r.routes(v, field+".routes", channels)
	}
	rule.Annotations = d.Annotations
	if v := m["annotations"]; !isNull(v) {
		sample := AnnotationData{Rule: rule.Name, Region: rule.Region, Instance: "sample-instance", Group: "sample-group", Topic: "sample-topic", Partition: "0"}
		at := keyNode(n, "annotations")
		rule.Annotations = mergeAnnotations(d.Annotations, r.annotations(at, v, field+".annotations", sample))
		if len(rule.Annotations) > MaxAnnotations {
			r.fail(at, field+".annotations", "at most %d annotations, not %d with those from defaults", MaxAnnotations, len(rule.Annotations))
		}
	}
	return rule, len(r.errs) == before
}

func (r *reader) backlog(n *yaml.Node, field string) *BacklogThresholds {
	t := &BacklogThresholds{}
	m := r.mapping(n, field, "warning", "critical", "resolve_below")
	if m == nil {
		return t
	}
	if v := m["warning"]; v != nil {
		t.Warning, _ = r.messages(v, field+".warning")
	}
	if v := m["critical"]; v != nil {
		t.Critical, _ = r.messages(v, field+".critical")
	}
	r.checkOrder(n, field, m, t.Warning == 0 && t.Critical == 0, t.Warning != 0 && t.Critical != 0 && t.Critical <= t.Warning)
	lowest, _ := t.Lowest()
	t.ResolveBelow = lowest
	if v := m["resolve_below"]; v != nil {
		if rb, ok := r.messages(v, field+".resolve_below"); ok {
			if lowest > 0 && rb > lowest {
				r.fail(v, field+".resolve_below", "must not be above the lowest threshold (%d)", lowest)
			}
			t.ResolveBelow = rb
		}
	}
	return t
}

func (r *reader) stale(n *yaml.Node, field string) *StaleThresholds {
	t := &StaleThresholds{}
	m := r.mapping(n, field, "warning", "critical")
	if m == nil {
		return t
	}
	if v := m["warning"]; v != nil {
		t.Warning, _ = r.duration(v, field+".warning")
	}
	if v := m["critical"]; v != nil {
		t.Critical, _ = r.duration(v, field+".critical")
	}
	r.checkOrder(n, field, m, t.Warning == 0 && t.Critical == 0, t.Warning != 0 && t.Critical != 0 && t.Critical <= t.Warning)
	return t
}

func (r *reader) checkOrder(n *yaml.Node, field string, m map[string]*yaml.Node, none, inverted bool) {
	switch {
	case none && m["warning"] == nil && m["critical"] == nil:
		r.fail(n, field, "set warning, critical or both")
	case inverted:
		r.fail(m["critical"], field+".critical", "must be above warning")
	}
}

// Matches reports whether the rule watches this group: same region, one of
// its instances (any, for AllInstances), a groups glob matches and no
// exclude_groups glob does, and its tags match group_tags.
// It allocates nothing: a run asks it of every rule for every group.
func (rule *Rule) Matches(region, instance, group string, tags map[string]string) bool {
	return rule.Region == region && rule.OnInstance(instance) &&
		matchAny(rule.Groups, group) && !matchAny(rule.ExcludeGroups, group) && progress.TagsMatch(rule.GroupTags, tags)
}

// Why says why the rule does not watch this group, or "" when it does, in
// the terms of Matches.
func (rule *Rule) Why(region, instance, group string, tags map[string]string) string {
	if rule.Matches(region, instance, group, tags) {
		return ""
	}
	switch {
	case rule.Region != region:
		return "watches region " + rule.Region + ", not " + region
	case !rule.OnInstance(instance):
		return "watches instance " + strings.Join(rule.Instances, ", ") + ", not " + instance
	case !matchAny(rule.Groups, group):
		return fmt.Sprintf("no groups entry matches %s (groups: %s)", group, strings.Join(rule.Groups, ", "))
	}
	for _, g := range rule.ExcludeGroups {
		if ok, _ := path.Match(g, group); ok {
			return fmt.Sprintf("excluded by exclude_groups %q", g)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(rule.GroupTags)) {
		want := rule.GroupTags[k]
		v, ok := tags[k]
		if !ok {
			return fmt.Sprintf("group_tags wants %s=%s; the group has no tag %s", k, want, k)
		}
		if m, _ := path.Match(want, v); !m {
			return fmt.Sprintf("group_tags wants %s=%s; the group's %s is %q", k, want, k, v)
		}
	}
	return ""
}

// OnInstance reports whether the rule watches groups of this instance.
func (rule *Rule) OnInstance(instance string) bool {
	return slices.Contains(rule.Instances, AllInstances) || slices.Contains(rule.Instances, instance)
}

// watchesTopic reports whether the rule's topics filter lets topic through.
func (rule *Rule) watchesTopic(topic string) bool {
	return len(rule.Topics) == 0 || matchAny(rule.Topics, topic)
}

// IsGlob reports whether a group or topic name in the rules is a pattern
// rather than a name.
func IsGlob(s string) bool { return strings.ContainsAny(s, `*?[\`) }

func matchAny(globs []string, s string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, s); ok {
			return true
		}
	}
	return false
}

// cosmetic reports whether a field only changes how messages look.
func cosmetic(field string, channels []Channel) bool {
	switch {
	case field == "defaults.annotations" || strings.HasPrefix(field, "defaults.annotations."),
		field == "defaults.language" || field == "defaults.timezone":
		return true
	}
	for _, c := range channels {
		if field == "channels."+c.Name+".language" || field == "channels."+c.Name+".timezone" {
			return true
		}
	}
	return false
}

// LoadMeta reads only what the monitor needs to say that a rules file is
// broken: its channels, meta_notify, defaults and state, ignoring the rest.
// It is for when Load fails; it fails when those parts are broken too.
func LoadMeta(file string) (*File, error) {
	data, msg := readFile(file)
	if msg != "" {
		return nil, fmt.Errorf("%s: %s", file, msg)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: not a YAML mapping", file)
	}
	top := map[string]*yaml.Node{}
	for i := 0; i+1 < len(doc.Content[0].Content); i += 2 {
		top[doc.Content[0].Content[i].Value] = doc.Content[0].Content[i+1]
	}
	r := &reader{file: file, getenv: os.LookupEnv}
	f := &File{Path: file, Defaults: baseDefaults()}
	if v := top["state"]; v != nil {
		f.State, _ = r.str(v, "state")
	}
	if v := top["defaults"]; !isNull(v) {
		f.Defaults = r.defaults(v)
		f.Defaults.Annotations = nil // meta alerts carry none
	}
	if v := top["channels"]; !isNull(v) {
		f.Channels = r.channels(v, f.Defaults)
	}
	// A broken annotation, language or time zone does not stop the monitor
	// from saying that the file is broken: English and UTC will do.
	r.errs = slices.DeleteFunc(r.errs, func(e *Error) bool { return cosmetic(e.Field, f.Channels) })
	for _, c := range f.Channels {
		f.MetaNotify = append(f.MetaNotify, c.Name)
	}
	if v := top["meta_notify"]; v != nil {
		f.MetaNotify = r.strList(v, "meta_notify")
	}
	if len(r.errs) > 0 || len(f.MetaNotify) == 0 {
		return nil, fmt.Errorf("%s: no usable channels", file)
	}
	for _, name := range f.MetaNotify {
		if _, ok := f.Channel(name); !ok {
			return nil, fmt.Errorf("%s: meta_notify names an unknown channel", file)
		}
	}
	f.Secrets = r.secrets
	return f, nil
}

// instances reads a rule's instance: one ID, a list of IDs, or "*" alone.
func (r *reader) instances(n *yaml.Node, field string) []string {
	var ids []string
	if n.Kind == yaml.SequenceNode {
		ids = r.strList(n, field)
		if len(n.Content) == 0 {
			r.fail(n, field, "name at least one instance, or \"*\" for every instance of the region")
		}
	} else if s, ok := r.str(n, field); ok {
		ids = []string{s}
	}
	for i, id := range ids {
		switch {
		case id == "":
			r.fail(n, field, "must not be empty")
		case id == AllInstances && len(ids) > 1:
			r.fail(n, field, "\"*\" (every instance of the region) stands alone, not in a list")
		case id != AllInstances && IsGlob(id):
			r.fail(n, field, "%q: an instance is an ID or \"*\", not a pattern", id)
		case slices.Contains(ids[:i], id):
			r.fail(n, field, "instance %s listed twice", id)
		default:
			continue
		}
		return nil
	}
	return ids
}

// groupTags reads group_tags: tag keys to value globs.
func (r *reader) groupTags(n *yaml.Node, field string) map[string]string {
	keys, values := r.pairs(n, field)
	if n.Kind == yaml.MappingNode && len(keys) == 0 {
		r.fail(n, field, "name at least one tag, such as {team: payments}")
	}
	out := make(map[string]string, len(keys))
	for i, k := range keys {
		if v, ok := r.glob(values[i], join(field, k.Value)); ok {
			out[k.Value] = v
		}
	}
	return out
}

// routes reads routes: {tag: KEY, to: {VALUE: [channels]}}.
func (r *reader) routes(n *yaml.Node, field string, channels []string) *Routes {
	m := r.mapping(n, field, "tag", "to")
	if m == nil {
		return nil
	}
	rt := &Routes{To: map[string][]string{}, Line: n.Line}
	if v := m["tag"]; isNull(v) {
		r.fail(n, field+".tag", "missing: the tag key whose value picks the channels, such as team")
	} else if rt.Tag, _ = r.str(v, field+".tag"); rt.Tag == "" && v.Tag == "!!str" {
		r.fail(v, field+".tag", "must not be empty")
	}
	v := m["to"]
	if isNull(v) {
		r.fail(n, field+".to", "missing: tag values and their channels, such as {payments: [payments-slack]}")
		return rt
	}
	keys, values := r.pairs(v, field+".to")
	for i, k := range keys {
		f := join(field+".to", k.Value)
		chs := r.strList(values[i], f)
		if values[i].Kind == yaml.SequenceNode && len(chs) == 0 {
			r.fail(values[i], f, "name at least one channel")
		}
		for j, name := range chs {
			if !contains(channels, name) {
				r.fail(values[i].Content[j], fmt.Sprintf("%s[%d]", f, j), "unknown channel %q (defined: %v)", name, channels)
			}
		}
		rt.To[k.Value] = chs
	}
	return rt
}
