package function

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Overrides are per-trigger settings a platform event may carry: a Function
// Compute timer trigger's payload, an EventBridge Scheduler input, or the
// body of a manual invocation.
type Overrides struct {
	// Rules is the rules file to use instead of the default.
	Rules string `json:"rules,omitempty"`
	// DryRun renders the messages into the report and sends nothing.
	DryRun bool `json:"dry_run,omitempty"`
}

// ParseEvent reads the overrides out of whatever the platform delivered:
//   - an empty body or JSON null: none;
//   - a Function Compute timer event {"triggerTime","triggerName","payload"},
//     whose payload string (or object) holds the overrides;
//   - an EventBridge "Scheduled Event" envelope: none (its detail is empty);
//   - any other JSON object: the overrides themselves (Scheduler input).
//
// Unknown keys are an error, never silently ignored.
func ParseEvent(body []byte) (Overrides, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || string(body) == "null" {
		return Overrides{}, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return Overrides{}, fmt.Errorf("event: not a JSON object: %w", err)
	}
	if _, ok := fields["detail-type"]; ok {
		return Overrides{}, nil
	}
	_, hasTime := fields["triggerTime"]
	_, hasName := fields["triggerName"]
	if payload, ok := fields["payload"]; ok || hasTime || hasName {
		return parsePayload(payload)
	}
	return decodeOverrides(body, "event")
}

// parsePayload reads a timer trigger's payload: a string that holds a JSON
// object (as Function Compute delivers it), or the object itself.
func parsePayload(raw json.RawMessage) (Overrides, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return Overrides{}, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		s = strings.TrimSpace(s)
		if s == "" {
			return Overrides{}, nil
		}
		raw = json.RawMessage(s)
	}
	return decodeOverrides(raw, "trigger payload")
}

func decodeOverrides(raw []byte, what string) (Overrides, error) {
	var o Overrides
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		return o, fmt.Errorf(`%s: must be a JSON object like {"rules": "/code/rules.yaml", "dry_run": true}: %w`, what, err)
	}
	if o.Rules != "" {
		p, err := allowedRulesPath(o.Rules, codeDirs(os.Getenv))
		if err != nil {
			return Overrides{}, fmt.Errorf("%s: %w", what, err)
		}
		o.Rules = p
	}
	return o, nil
}

// codeDirs are the directories an event may name a rules file in: the
// default rules file's ($BACKLOG_ALERT_RULES, else next to the executable)
// and the running executable's (/code on Function Compute, /var/task on
// Lambda). Whoever can invoke the function can choose the event, but not
// what is deployed there.
func codeDirs(getenv func(string) string) []string {
	var dirs []string
	if abs, err := filepath.Abs(PlatformRulesPath(getenv)); err == nil {
		dirs = append(dirs, filepath.Dir(abs))
	}
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		if d := filepath.Dir(exe); !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// allowedRulesPath checks an event's rules path: relative to the first of
// dirs if not absolute, it must be inside one of dirs both as written and
// with every symlink resolved. It returns the resolved path. Its errors
// name the key and the directories, never the path asked for: an event
// must not learn what exists elsewhere on the machine.
func allowedRulesPath(p string, dirs []string) (string, error) {
	refuse := func(why string) error {
		return fmt.Errorf("rules: %s; a rules file named by the event must be inside the function's code directory (%s)", why, strings.Join(dirs, " or "))
	}
	if len(dirs) == 0 {
		return "", refuse("refused")
	}
	if strings.ContainsRune(p, 0) {
		return "", refuse("refused")
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(dirs[0], p)
	}
	p = filepath.Clean(p)
	if !insideAny(p, dirs) {
		return "", refuse("refused")
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", refuse("no such file")
		}
		return "", refuse("cannot be resolved")
	}
	realDirs := make([]string, 0, len(dirs))
	for _, d := range dirs {
		if r, err := filepath.EvalSymlinks(d); err == nil {
			realDirs = append(realDirs, r)
		}
	}
	if !insideAny(real, realDirs) {
		return "", refuse("refused")
	}
	return real, nil
}

// insideAny reports whether clean path p is strictly inside one of dirs.
func insideAny(p string, dirs []string) bool {
	for _, d := range dirs {
		rel, err := filepath.Rel(filepath.Clean(d), p)
		if err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel) {
			return true
		}
	}
	return false
}

// PlatformRulesPath is the rules file on Function Compute and Lambda:
// $BACKLOG_ALERT_RULES, else rules.yaml next to the executable (/code on
// Function Compute, /var/task on Lambda), where `make package` puts it.
func PlatformRulesPath(getenv func(string) string) string {
	if p := getenv("BACKLOG_ALERT_RULES"); p != "" {
		return p
	}
	exe, err := os.Executable()
	if err != nil {
		return "rules.yaml"
	}
	return filepath.Join(filepath.Dir(exe), "rules.yaml")
}

// Apply returns opts with the overrides applied. ParseEvent has checked
// Rules (see allowedRulesPath); Overrides built otherwise are trusted.
func (o Overrides) Apply(opts Options) Options {
	if o.Rules != "" {
		opts.Rules, opts.RulesPath = nil, o.Rules
	}
	opts.DryRun = opts.DryRun || o.DryRun
	return opts
}

// ErrBlind means a run read no consumer group at all: every call failed.
// Platforms count such a run as failed, so their own monitoring sees it.
var ErrBlind = errors.New("no consumer group could be read")

// Blind returns an error wrapping ErrBlind, with the first read error, when
// the run could not read a single group; nil otherwise.
func Blind(rep *Report) error {
	// With no group read there were no alerts, so every error is a read error.
	if rep == nil || rep.Groups > 0 || len(rep.Missing) > 0 || len(rep.Errors) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrBlind, rep.Errors[0])
}

// ReadingTime is how long a run with this timeout may spend reading groups.
func ReadingTime(timeout time.Duration) time.Duration {
	now := time.Now()
	return fetchBudget(now.Add(timeout), now).Sub(now)
}

// TemplateTimeout is the timeout s.yaml and template.yaml give the function:
// what validate checks the reading time against for serverless runs.
const TemplateTimeout = 120 * time.Second

// fetchBudget returns the deadline by which fetching must stop so that
// notifying (and, later, saving state) still fits before the platform's
// deadline: a fifth of the time left, between 2 s and 15 s.
func fetchBudget(deadline time.Time, now time.Time) time.Time {
	reserve := min(max(deadline.Sub(now)/5, 2*time.Second), 15*time.Second)
	return deadline.Add(-reserve)
}
