package lifecycle

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/rules"
)

// codecState is a state with a bit of everything a document holds.
func codecState() *State {
	s := New()
	part := 3
	s.Alerts["k<1>"] = &AlertState{
		Alert: rules.Alert{Rule: "orders", Region: "cn-hangzhou", Instance: "i", Group: "a&b", Topic: "t", Partition: &part, Level: rules.LevelPartition,
			Condition: rules.Backlog, Severity: rules.Critical, Value: 9, Top: []rules.Contributor{{Topic: "t", Lag: 9}}, Annotations: map[string]string{"x": "<y>"}},
		ActiveSince: t0, FiringSince: t0.Add(time.Minute),
		Channels: map[string]*Delivery{"slack": {Kind: rules.KindFiring, Severity: rules.Critical, At: t0, Thread: &Thread{Channel: "C1", TS: "1.2"}}},
	}
	for i := range 30 {
		g := &GroupState{Region: "cn-hangzhou", Instance: "i", Group: fmt.Sprintf("g-%02d", i), LastSeen: t0}
		for j := range i % 7 {
			g.History = append(g.History, Sample{Time: t0.Add(time.Duration(j) * 5 * time.Minute), Lag: int64(-j * 1000), Broker: 1 << 40, Consumer: int64(j), Partitions: 12})
		}
		if i%5 == 0 {
			g.Places = map[string]History{"t\x003": {{Time: t0, Lag: 1, Broker: 2, Consumer: 1, Partitions: 1}}, "u": nil}
			g.Offsets.Add("orders\x00\x00stuck", Mark{Committed: 7, Since: t0, First: true})
			g.Offsets.Add("orders\x00\x00<b>", Mark{Committed: 8, Since: t0})
			g.GoneSince = t0
		}
		s.Groups[fmt.Sprintf("cn-hangzhou/i/g-%02d", i)] = g
	}
	s.Groups["cn-hangzhou/i/<html>&"] = &GroupState{Region: "cn-hangzhou", Instance: "i", Group: "<html>&", History: History{}}
	return s
}

// The document is what encoding/json writes, byte for byte, and reads back
// as it was.
func TestEncodeIsJSONMarshal(t *testing.T) {
	for name, s := range map[string]*State{"empty": New(), "full": codecState(), "nil groups": {Alerts: map[string]*AlertState{}}} {
		data, err := s.Encode(t0)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, want) {
			t.Errorf("%s: Encode =\n%s\nwant\n%s", name, data, want)
		}
		if s.Groups == nil {
			continue
		}
		back, err := Decode(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		again, _ := back.Encode(t0)
		if !bytes.Equal(again, data) {
			t.Errorf("%s: decoded and encoded again:\n%s\nwant\n%s", name, again, data)
		}
	}
}

// Samples in any form encoding/json reads, read as it reads them.
func TestHistoryUnmarshal(t *testing.T) {
	for _, doc := range []string{
		`[[1,2,3,4,5]]`,
		`[ [ 1 , -2 ,3,4, 5 ] ,[6,7,8,9,10] ]`,
		`[]`,
		` [ ] `,
		`[[1,2,3]]`,          // fewer elements: zeros
		`[[1,2,3,4,5,6]]`,    // more: ignored
		`[[1,2,null,4,5]]`,   // null element: zero
		`[[1,2,3,4,5],null]`, // null sample: zero
		`[[9223372036854775807,-9223372036854775808,0,0,0]]`,
	} {
		var got History
		if err := json.Unmarshal([]byte(doc), &got); err != nil {
			t.Errorf("%s: %v", doc, err)
			continue
		}
		var want []Sample // one sample at a time, through Sample.UnmarshalJSON
		if err := json.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) || len(got) > 0 && !reflect.DeepEqual([]Sample(got), want) {
			t.Errorf("%s: got %v, want %v", doc, got, want)
		}
	}
	for _, bad := range []string{`[[1,2,3,4,1.5]]`, `[[1,2,3,4,1e3]]`, `[[1,2,3,4,99999999999999999999]]`, `[["1",2,3,4,5]]`, `{}`, `[1]`} {
		var h History
		if err := json.Unmarshal([]byte(bad), &h); err == nil {
			t.Errorf("%s: accepted as %v", bad, h)
		}
	}
	var h History
	if err := json.Unmarshal([]byte(`[[1,2,3,4,5],[6,7,8,9,10]]`), &h); err != nil || cap(h) != 3 {
		t.Errorf("history of 2 has cap %d (%v), want 3: room for the next run's sample", cap(h), err)
	}
}

// Marks are written and read as the map of marks by place they replace.
func TestMarksAsMap(t *testing.T) {
	var ms Marks
	asMap := map[string]*Mark{}
	for _, place := range []string{"r\x00\x00\x00t\x001", "r\x00\x00\x00t\x0010", "r\x00\x00\x00t\x002", "<&>", ""} {
		m := Mark{Committed: int64(len(place)), Since: t0, First: len(place)%2 == 0}
		ms.Add(place, m)
		asMap[place] = &m
	}
	ms.Add("<&>", Mark{Committed: 99, Since: t0}) // replaces
	asMap["<&>"] = &Mark{Committed: 99, Since: t0}
	got, err := json.Marshal(ms)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(asMap)
	if !bytes.Equal(got, want) {
		t.Errorf("Marks = %s\nwant %s", got, want)
	}
	var back Marks
	if err := json.Unmarshal([]byte(`{"b":{"committed":2,"since":"2026-11-20T10:00:00Z"},"gone":null,"a":{"committed":1,"since":"2026-11-20T10:00:00Z","first":true}}`), &back); err != nil {
		t.Fatal(err)
	}
	if len(back) != 2 || back.Get("a") == nil || !back.Get("a").First || back.Get("b").Committed != 2 || back.Get("gone") != nil {
		t.Errorf("decoded %+v", back)
	}
	back.Get("b").seen = true
	back.keepSeen()
	if len(back) != 1 || back.Get("b") == nil || back.Get("b").seen {
		t.Errorf("after keepSeen: %+v", back)
	}
	back.keepSeen()
	if back != nil {
		t.Errorf("nothing seen: %+v, want nil", back)
	}
}

// A document over the bound loses history, the oldest samples first and
// those of groups without an alert first, until it fits.
func TestEncodeWithinCompacts(t *testing.T) {
	build := func() *State {
		s := New()
		for i := range 20 {
			g := &GroupState{Region: "r", Instance: "i", Group: fmt.Sprintf("g%02d", i), LastSeen: t0}
			n := QuietHistoryLen
			if i < 2 {
				n = HistoryLen // alerting
				s.Alerts[fmt.Sprint(i)] = &AlertState{Alert: rules.Alert{Rule: "x", Region: "r", Instance: "i", Group: g.Group, Condition: rules.Backlog}}
				g.Places = map[string]History{"t": {{Time: t0.Add(-3 * time.Hour), Lag: 1, Partitions: 1}}} // the oldest sample of all
			}
			for j := range n {
				g.History = append(g.History, Sample{Time: t0.Add(time.Duration(j-n) * 5 * time.Minute), Lag: 1000, Broker: 5000, Consumer: 4000, Partitions: 12})
			}
			s.Groups["r/i/"+g.Group] = g
		}
		return s
	}
	full, _ := build().Encode(t0)

	// A little too large: only the quiet groups' oldest samples go.
	s := build()
	data, err := s.EncodeWithin(t0, len(full)-100)
	if err != nil || len(data) > len(full)-100 {
		t.Fatalf("%d bytes (%v), want at most %d", len(data), err, len(full)-100)
	}
	c, ok := s.Compacted()
	if !ok || c.Before != len(full) || c.After != len(data) || c.Samples == 0 || c.Samples > 18 {
		t.Errorf("compaction %+v, %v", c, ok)
	}
	for k, g := range s.Groups {
		switch {
		case k < "r/i/g02" && len(g.History) != HistoryLen:
			t.Errorf("%s: alerting group lost history (%d left) while quiet ones had some", k, len(g.History))
		case k >= "r/i/g02" && (len(g.History) < QuietHistoryLen-1 || g.History[len(g.History)-1].Time != t0.Add(-5*time.Minute)):
			t.Errorf("%s: %v: not the oldest samples, or too many", k, g.History)
		}
	}
	back, err := Decode(data)
	if err != nil || len(back.Groups) != 20 {
		t.Fatalf("the compacted document does not decode: %v", err)
	}
	// It fits now: nothing more goes, and what went is still told.
	if again, _ := s.EncodeWithin(t0, len(full)-100); !bytes.Equal(again, data) {
		t.Error("a second encoding compacted again")
	}
	if c2, _ := s.Compacted(); c2 != c {
		t.Errorf("compaction now %+v, want %+v", c2, c)
	}

	// Much too large: every quiet history goes, then the alerting groups'
	// and places' oldest samples.
	s = build()
	var quiet int
	for _, g := range s.Groups[`r/i/g05`].History {
		quiet += len(g.appendJSON(nil)) + 1
	}
	bound := len(full) - 18*quiet - 200
	data, _ = s.EncodeWithin(t0, bound)
	if len(data) > bound {
		t.Fatalf("%d bytes, want at most %d", len(data), bound)
	}
	for k, g := range s.Groups {
		if k >= "r/i/g02" && g.History != nil {
			t.Errorf("%s: quiet group kept %v", k, g.History)
		}
	}
	if a := s.Groups["r/i/g00"]; len(a.History) == HistoryLen && a.Places != nil {
		t.Errorf("alerting groups lost nothing: %d samples, places %v", len(a.History), a.Places)
	}
	if a := s.Groups["r/i/g00"]; a.Places != nil {
		t.Errorf("the place's sample, the oldest of all, is still there: %v", a.Places)
	}

	// Beyond what history can give: returned as it is, for the store to
	// refuse.
	s = build()
	data, _ = s.EncodeWithin(t0, 100)
	if len(data) <= 100 {
		t.Fatalf("%d bytes", len(data))
	}
	for k, g := range s.Groups {
		if g.History != nil || g.Places != nil {
			t.Errorf("%s kept history", k)
		}
	}
	// No bound, or within it: as Encode.
	s = build()
	if data, _ := s.EncodeWithin(t0, 0); !bytes.Equal(data, full) {
		t.Error("no bound: not Encode")
	}
	if _, ok := s.Compacted(); ok {
		t.Error("compacted without a bound")
	}
}
