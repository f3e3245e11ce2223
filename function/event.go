package function

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
	return o, nil
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

// Apply returns opts with the overrides applied.
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

// fetchBudget returns the deadline by which fetching must stop so that
// notifying (and, later, saving state) still fits before the platform's
// deadline: a fifth of the time left, between 2 s and 15 s.
func fetchBudget(deadline time.Time, now time.Time) time.Time {
	reserve := min(max(deadline.Sub(now)/5, 2*time.Second), 15*time.Second)
	return deadline.Add(-reserve)
}
