// Package lifecycle carries alerts across runs: pending, firing, reminders,
// resolution, stuck consumers, vanished groups, silences and trends. It is
// pure: Step is a function of (rules, snapshot, prior state, now), and the
// state it returns is a plain document that a store keeps between runs.
package lifecycle

import (
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

// HistoryLen bounds each group's history of samples.
const HistoryLen = 24

// PlaceHistoryLen bounds the history of a topic or partition, kept only while
// it has an alert.
const PlaceHistoryLen = 12

// State is everything that spans runs.
type State struct {
	Version int       `json:"version"`
	Saved   time.Time `json:"saved"`
	// Alerts by rules.Alert.Key().
	Alerts map[string]*AlertState `json:"alerts"`
	// Groups by groupKey.
	Groups map[string]*GroupState `json:"groups"`
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
	History   []Sample  `json:"history,omitempty"`
	// Places hold, by placeKey, the history of each topic or partition of
	// the group that has an alert (pending, firing, or resolved and still
	// owed to a channel): the trend of a topic- or partition-level alert is
	// its own. A place is forgotten as soon as it has no alert.
	Places map[string][]Sample `json:"places,omitempty"`
	// Offsets remember, per place a stuck rule watches, the committed
	// offset and since when it has not moved.
	Offsets map[string]*Mark `json:"offsets,omitempty"`
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

// MarshalJSON writes a sample as a compact array: state documents hold
// HistoryLen of them for every watched group.
func (s Sample) MarshalJSON() ([]byte, error) {
	return json.Marshal([5]int64{s.Time.Unix(), s.Lag, s.Broker, s.Consumer, int64(s.Partitions)})
}

func (s *Sample) UnmarshalJSON(b []byte) error {
	var a [5]int64
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	*s = Sample{Time: time.Unix(a[0], 0).UTC(), Lag: a[1], Broker: a[2], Consumer: a[3], Partitions: int(a[4])}
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
}

// New returns an empty state.
func New() *State {
	return &State{Version: SchemaVersion, Alerts: map[string]*AlertState{}, Groups: map[string]*GroupState{}}
}

// ErrNewerVersion means the document was written by a newer backlog-alert.
var ErrNewerVersion = errors.New("state written by a newer version of backlog-alert")

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
	return s, nil
}

// CheckNewer reports, without decoding the whole document, whether it was
// written by a newer schema (an error wrapping ErrNewerVersion); anything
// else, corrupt documents included, is left to Decode.
func CheckNewer(data []byte) error {
	if err := checkVersion(data); errors.Is(err, ErrNewerVersion) {
		return err
	}
	return nil
}

func checkVersion(data []byte) error {
	var head struct {
		Version *int `json:"version"`
	}
	// Decoding into a struct with one field skips the rest cheaply.
	if err := json.Unmarshal(data, &head); err != nil {
		return fmt.Errorf("state is not valid JSON: %w", err)
	}
	switch {
	case head.Version == nil:
		return errors.New("state has no version")
	case *head.Version > SchemaVersion:
		return fmt.Errorf("%w (schema %d; this program reads up to %d): upgrade backlog-alert", ErrNewerVersion, *head.Version, SchemaVersion)
	case *head.Version < 1:
		return fmt.Errorf("state has an invalid version %d", *head.Version)
	}
	return nil
}

// Encode writes the state document. Trends are left out: they are
// recomputed from the groups' and places' history every run, and a copy per
// alert would double the document at scale.
func (s *State) Encode(now time.Time) ([]byte, error) {
	s.Version, s.Saved = SchemaVersion, now.UTC()
	for _, a := range s.Alerts {
		a.Alert.Trend = nil
	}
	return json.Marshal(s)
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

// prunePlaces forgets the history of every place that no longer has an
// alert in the state.
func (s *State) prunePlaces() {
	keep := map[string]bool{}
	for _, as := range s.Alerts {
		if pk := placeKey(as.Alert); pk != "" {
			keep[groupKey(as.Alert.Region, as.Alert.Instance, as.Alert.Group)+"\x00"+pk] = true
		}
	}
	for gk, gs := range s.Groups {
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
