// Package lifecycle carries alerts across runs: pending, firing, reminders,
// resolution, stuck consumers, vanished groups, silences and trends. It is
// pure: Step is a function of (rules, snapshot, prior state, now), and the
// state it returns is a plain document that a store keeps between runs.
package lifecycle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/backlog-alert/backlog-alert/rules"
)

// SchemaVersion is the version of the state document this program writes.
// A document with a higher version is refused rather than overwritten.
const SchemaVersion = 1

// Format marks a document as backlog-alert's state, so that another program's
// JSON at the state's location is refused rather than overwritten.
const Format = "backlog-alert/state"

// HistoryLen bounds the history of samples of a group that has an alert
// (pending, firing, or resolved and still owed to a channel).
const HistoryLen = 24

// QuietHistoryLen bounds the history of a group without an alert: most
// groups, most of the time. It is what a group's first alert needs to show
// the same rates and estimate as with a full history (rates over up to
// maxRateBack runs back, and the last four lags to tell a steady rise or
// fall), and one more; the history grows to HistoryLen while the group
// alerts. Keeping HistoryLen samples of every quiet group would make the
// state document and each run's memory several times larger.
const QuietHistoryLen = maxRateBack + 1

// PlaceHistoryLen bounds the history of a topic or partition, kept only while
// it has an alert.
const PlaceHistoryLen = 12

// State is everything that spans runs.
type State struct {
	Format  string    `json:"format"`
	Version int       `json:"version"`
	Saved   time.Time `json:"saved"`
	// Alerts by rules.Alert.Key().
	Alerts map[string]*AlertState `json:"alerts"`
	// Groups by groupKey.
	Groups map[string]*GroupState `json:"groups"`

	// size is the length of the document last decoded or encoded: the next
	// encoding starts with room for about as much.
	size int
	// compacted is what EncodeWithin dropped to fit the document in its
	// bound; nil when nothing was.
	compacted *Compaction
}

// AlertState is one alert's life so far.
type AlertState struct {
	// Alert holds the identity and the latest values.
	Alert rules.Alert `json:"alert"`
	// ActiveSince is when the condition was first seen holding.
	ActiveSince time.Time `json:"active_since"`
	// FiringSince is when it fired; zero while pending.
	FiringSince time.Time `json:"firing_since,omitzero"`
	// ResolvedAt is set once the condition stopped holding; the state is
	// kept until every channel has heard.
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
	// Channels records what each channel was last told.
	Channels map[string]*Delivery `json:"channels,omitempty"`
}

// Delivery is what one channel last accepted about an alert.
type Delivery struct {
	Kind     rules.Kind     `json:"kind"`
	Severity rules.Severity `json:"severity"`
	At       time.Time      `json:"at"`
	// Thread is the channel's living message about the alert's section
	// (Slack app mode): updated as the alert changes, replied to in its
	// thread.
	Thread *Thread `json:"thread,omitempty"`
}

// Thread is a message in a chat: the channel and its ts, and the thread its
// replies go to when that is not the message itself (a digest post).
type Thread struct {
	Channel string `json:"channel"`
	TS      string `json:"ts"`
	Root    string `json:"root,omitempty"`
}

// knowsFiring reports whether the channel was last told the alert fires.
func (d *Delivery) knowsFiring() bool {
	return d != nil && d.Kind != rules.KindResolved && d.Kind != rules.KindMissing
}

// GroupState is what is remembered of one consumer group.
type GroupState struct {
	Region   string    `json:"region"`
	Instance string    `json:"instance"`
	Group    string    `json:"group"`
	LastSeen time.Time `json:"last_seen"`
	// GoneSince is set while the group is no longer read (deleted, or no
	// longer selected by any rule).
	GoneSince time.Time `json:"gone_since,omitzero"`
	History   History   `json:"history,omitempty"`
	// Places hold, by placeKey, the history of each topic or partition of
	// the group that has an alert (pending, firing, or resolved and still
	// owed to a channel): the trend of a topic- or partition-level alert is
	// its own. A place is forgotten as soon as it has no alert.
	Places map[string]History `json:"places,omitempty"`
	// Offsets remember, per place a stuck rule watches, the committed
	// offset and since when it has not moved.
	Offsets Marks `json:"offsets,omitempty"`
}

// Sample is one run's view of a group, topic or partition: its lag and
// summed offsets.
type Sample struct {
	Time       time.Time
	Lag        int64
	Broker     int64
	Consumer   int64
	Partitions int
}

// MarshalJSON writes a sample as a compact array, [time (Unix seconds),
// lag, broker, consumer, partitions]: state documents hold many of them.
func (s Sample) MarshalJSON() ([]byte, error) {
	return s.appendJSON(make([]byte, 0, 64)), nil
}

func (s *Sample) UnmarshalJSON(b []byte) error {
	if v, rest, ok := parseSample(b); ok && len(skipSpace(rest)) == 0 {
		*s = v
		return nil
	}
	var a [5]int64 // anything unusual, and errors, the standard way
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	*s = sampleOf5(a)
	return nil
}

// Mark is a committed offset and when it last moved.
type Mark struct {
	Committed int64     `json:"committed"`
	Since     time.Time `json:"since"`
	// First means Since is when monitoring of the place began, not when
	// the offset was seen moving: it may have stood still long before.
	// Marks written before this field existed count as exact.
	First bool `json:"first,omitempty"`
	// seen is set, within Step, for a place observed in the run.
	seen bool
}

// New returns an empty state.
func New() *State {
	return &State{Format: Format, Version: SchemaVersion, Alerts: map[string]*AlertState{}, Groups: map[string]*GroupState{}}
}

// ErrNewerVersion means the document was written by a newer backlog-alert.
var ErrNewerVersion = errors.New("state written by a newer version of backlog-alert")

// ErrForeign means the document is JSON, but not backlog-alert's state.
var ErrForeign = errors.New("not a backlog-alert state document")

// Decode reads a state document. A document that is not a valid state is
// an error the caller sets aside; one from a newer schema wraps
// ErrNewerVersion and must not be overwritten.
func Decode(data []byte) (*State, error) {
	if err := checkVersion(data); err != nil {
		return nil, err
	}
	s := New()
	if err := json.Unmarshal(data, s); err != nil {
		return nil, fmt.Errorf("state is not a valid document: %w", err)
	}
	s.size = len(data)
	if s.Alerts == nil {
		s.Alerts = map[string]*AlertState{}
	}
	if s.Groups == nil {
		s.Groups = map[string]*GroupState{}
	}
	for k, a := range s.Alerts {
		if a == nil {
			delete(s.Alerts, k)
		}
	}
	for k, g := range s.Groups {
		if g == nil {
			delete(s.Groups, k)
		}
	}
	s.share()
	return s, nil
}

// CheckOwned returns an error, to be refused rather than overwritten, when
// the document is not this program's to replace: written by a newer schema
// (wrapping ErrNewerVersion) or by another program (wrapping ErrForeign).
// Anything else, corrupt documents included, is left to Decode.
func CheckOwned(data []byte) error {
	if err := checkVersion(data); errors.Is(err, ErrNewerVersion) || errors.Is(err, ErrForeign) {
		return err
	}
	return nil
}

// present notes that a key is there without keeping a copy of its value.
type present bool

func (p *present) UnmarshalJSON([]byte) error { *p = true; return nil }

func checkVersion(data []byte) error {
	if trimmed := bytes.TrimLeft(data, " \t\r\n"); len(trimmed) > 0 && trimmed[0] != '{' && json.Valid(data) {
		return fmt.Errorf("%w (not a JSON object)", ErrForeign)
	}
	var head struct {
		Format         *string `json:"format"`
		Version        *int    `json:"version"`
		Alerts, Groups present
	}
	// Decoding into a struct of a few fields skips the rest cheaply.
	if err := json.Unmarshal(data, &head); err != nil {
		return fmt.Errorf("state is not valid JSON: %w", err)
	}
	switch {
	case head.Format != nil && *head.Format != Format:
		return fmt.Errorf("%w (its \"format\" is not %q)", ErrForeign, Format)
	case head.Version != nil && *head.Version > SchemaVersion:
		return fmt.Errorf("%w (schema %d; this program reads up to %d): upgrade backlog-alert", ErrNewerVersion, *head.Version, SchemaVersion)
	case head.Format == nil && (head.Version == nil || !bool(head.Alerts) || !bool(head.Groups)):
		// Documents written before the format mark have all three.
		return fmt.Errorf("%w (no \"format\": %q)", ErrForeign, Format)
	case head.Version == nil:
		return errors.New("state has no version")
	case *head.Version < 1:
		return fmt.Errorf("state has an invalid version %d", *head.Version)
	}
	return nil
}

// Encode writes the state document. Trends are left out: they are
// recomputed from the groups' and places' history every run, and a copy per
// alert would double the document at scale.
func (s *State) Encode(now time.Time) ([]byte, error) {
	s.Format, s.Version, s.Saved = Format, SchemaVersion, now.UTC()
	for _, a := range s.Alerts {
		a.Alert.Trend = nil
	}
	return s.encode()
}

func groupKey(region, instance, group string) string {
	return region + "/" + instance + "/" + group
}

// placeKey names the topic or partition an alert is about within its group,
// whatever the rule: every rule sees the same offsets there. Group-level
// alerts have no place (""): they use the group's history.
func placeKey(a rules.Alert) string {
	if a.Level == rules.LevelGroup || a.Level == "" || a.Topic == "" {
		return ""
	}
	if a.Partition == nil {
		return a.Topic
	}
	return a.Topic + "\x00" + strconv.Itoa(*a.Partition)
}

// prune forgets the history of every place that no longer has an alert in
// the state, and all but the last QuietHistoryLen samples of every group
// without one.
func (s *State) prune() {
	keep := map[string]bool{}     // places with an alert
	alerting := map[string]bool{} // groups with an alert
	for _, as := range s.Alerts {
		gk := groupKey(as.Alert.Region, as.Alert.Instance, as.Alert.Group)
		alerting[gk] = true
		if pk := placeKey(as.Alert); pk != "" {
			keep[gk+"\x00"+pk] = true
		}
	}
	for gk, gs := range s.Groups {
		if n := len(gs.History); n > QuietHistoryLen && !alerting[gk] {
			// In place: the next run appends to the same array.
			gs.History = gs.History[:copy(gs.History, gs.History[n-QuietHistoryLen:])]
		}
		for pk := range gs.Places {
			if !keep[gk+"\x00"+pk] {
				delete(gs.Places, pk)
			}
		}
		if len(gs.Places) == 0 {
			gs.Places = nil
		}
	}
}
