package lifecycle

import (
	"bytes"
	"container/heap"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// History is a group's or a place's samples, oldest first. In the document
// it is an array of samples; it is written and read in one go rather than a
// sample at a time, which at 10,000 groups is most of the work of encoding
// and decoding the state.
type History []Sample

// MarshalJSON writes the samples as Sample.MarshalJSON would, in one buffer.
func (h History) MarshalJSON() ([]byte, error) {
	if h == nil {
		return []byte("null"), nil
	}
	b := make([]byte, 0, 2+len(h)*48)
	b = append(b, '[')
	for i, s := range h {
		if i > 0 {
			b = append(b, ',')
		}
		b = s.appendJSON(b)
	}
	return append(b, ']'), nil
}

// UnmarshalJSON reads an array of samples into a history of exactly that
// many, with room for the next run's.
func (h *History) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if out, ok := parseHistory(b); ok {
		*h = out
		return nil
	}
	var slow []Sample // anything unusual, and errors, the standard way
	if err := json.Unmarshal(b, &slow); err != nil {
		return err
	}
	*h = slow
	return nil
}

// appendJSON appends the sample's array form to b.
func (s Sample) appendJSON(b []byte) []byte {
	b = append(b, '[')
	b = strconv.AppendInt(b, s.Time.Unix(), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, s.Lag, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, s.Broker, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, s.Consumer, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(s.Partitions), 10)
	return append(b, ']')
}

func sampleOf5(a [5]int64) Sample {
	return Sample{Time: time.Unix(a[0], 0).UTC(), Lag: a[1], Broker: a[2], Consumer: a[3], Partitions: int(a[4])}
}

// parseHistory reads `[sample, ...]` where every sample is what parseSample
// reads; ok is false for anything else, left to encoding/json.
func parseHistory(b []byte) (History, bool) {
	b = skipSpace(b)
	if len(b) == 0 || b[0] != '[' {
		return nil, false
	}
	// Every sample opens one bracket: count them to allocate once.
	n := bytes.Count(b, []byte{'['}) - 1
	h := make(History, 0, n+1)
	b = skipSpace(b[1:])
	if len(b) > 0 && b[0] == ']' {
		return h, len(skipSpace(b[1:])) == 0
	}
	for {
		s, rest, ok := parseSample(b)
		if !ok {
			return nil, false
		}
		h = append(h, s)
		rest = skipSpace(rest)
		switch {
		case len(rest) > 0 && rest[0] == ',':
			b = rest[1:]
		case len(rest) > 0 && rest[0] == ']':
			return h, len(skipSpace(rest[1:])) == 0
		default:
			return nil, false
		}
	}
}

// parseSample reads one sample, `[t,lag,broker,consumer,partitions]` with
// five integers, from the start of b (after any space) and returns the rest;
// ok is false for anything else (fewer or more elements, fractions, null...),
// which encoding/json then reads with its own rules.
func parseSample(b []byte) (s Sample, rest []byte, ok bool) {
	var a [5]int64
	b = skipSpace(b)
	if len(b) == 0 || b[0] != '[' {
		return s, nil, false
	}
	b = b[1:]
	for i := range a {
		b = skipSpace(b)
		end := 0
		if end < len(b) && b[end] == '-' {
			end++
		}
		for end < len(b) && b[end] >= '0' && b[end] <= '9' {
			end++
		}
		v, err := strconv.ParseInt(string(b[:end]), 10, 64)
		if err != nil {
			return s, nil, false
		}
		a[i] = v
		b = skipSpace(b[end:])
		want := byte(',')
		if i == len(a)-1 {
			want = ']'
		}
		if len(b) == 0 || b[0] != want {
			return s, nil, false
		}
		b = b[1:]
	}
	return sampleOf5(a), b, true
}

func skipSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}

// encode writes the document as json.Marshal would, byte for byte, but
// without its copies: into one buffer sized after the last document, with
// the alerts and the groups written one at a time.
func (s *State) encode() ([]byte, error) {
	alerts, groups := s.Alerts, s.Groups
	s.Alerts, s.Groups = nil, nil
	head, err := json.Marshal(s)
	s.Alerts, s.Groups = alerts, groups
	if err != nil {
		return nil, err
	}
	const tail = `"alerts":null,"groups":null}`
	if !bytes.HasSuffix(head, []byte(tail)) {
		return json.Marshal(s) // fields moved or added after them: the plain way
	}
	size := s.size + s.size/8
	if size == 0 {
		// No document yet: a low guess, grown as needed.
		size = 256*len(alerts) + 256*len(groups)
	}
	buf := bytes.NewBuffer(make([]byte, 0, max(size, 64<<10)))
	buf.Write(head[:len(head)-len(tail)])
	buf.WriteString(`"alerts":`)
	if err := encodeMap(buf, alerts); err != nil {
		return nil, err
	}
	buf.WriteString(`,"groups":`)
	if err := encodeMap(buf, groups); err != nil {
		return nil, err
	}
	buf.WriteByte('}')
	s.size = buf.Len()
	return buf.Bytes(), nil
}

// encodeMap writes m as encoding/json does, keys in order, an entry at a
// time.
func encodeMap[V any](buf *bytes.Buffer, m map[string]V) error {
	if m == nil {
		buf.WriteString("null")
		return nil
	}
	buf.WriteByte('{')
	enc := json.NewEncoder(buf) // writes each value and a newline
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := enc.Encode(k); err != nil {
			return err
		}
		buf.Truncate(buf.Len() - 1)
		buf.WriteByte(':')
		if err := enc.Encode(m[k]); err != nil {
			return err
		}
		buf.Truncate(buf.Len() - 1)
	}
	buf.WriteByte('}')
	return nil
}

// Marks are a group's marks by place (markKey), sorted by place: a slice
// rather than a map, since most groups have one or a few and a map costs
// several times more. In the document they are an object by place, as a map
// would be.
type Marks []PlaceMark

// PlaceMark is the mark of one place.
type PlaceMark struct {
	Place string
	Mark
}

func (ms Marks) find(place string) (int, bool) {
	return slices.BinarySearchFunc(ms, place, func(pm PlaceMark, place string) int { return strings.Compare(pm.Place, place) })
}

// Get returns the place's mark, nil if it has none. The pointer is good
// until the next Add.
func (ms Marks) Get(place string) *Mark {
	if i, ok := ms.find(place); ok {
		return &ms[i].Mark
	}
	return nil
}

// Add sets the place's mark and returns it, good until the next Add.
func (ms *Marks) Add(place string, m Mark) *Mark {
	i, ok := ms.find(place)
	if !ok {
		*ms = slices.Insert(*ms, i, PlaceMark{Place: place})
	}
	(*ms)[i].Mark = m
	return &(*ms)[i].Mark
}

// keepSeen drops the marks not seen in this run and clears the flag of the
// others.
func (ms *Marks) keepSeen() {
	kept := (*ms)[:0]
	for _, pm := range *ms {
		if pm.seen {
			pm.seen = false
			kept = append(kept, pm)
		}
	}
	clear((*ms)[len(kept):])
	if len(kept) == 0 {
		kept = nil
	}
	*ms = kept
}

// MarshalJSON writes the marks as an object by place, keys in order, as
// encoding/json writes a map.
func (ms Marks) MarshalJSON() ([]byte, error) {
	if ms == nil {
		return []byte("null"), nil
	}
	b := make([]byte, 0, 2+len(ms)*96)
	b = append(b, '{')
	for i, pm := range ms {
		if i > 0 {
			b = append(b, ',')
		}
		k, err := json.Marshal(pm.Place)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(pm.Mark)
		if err != nil {
			return nil, err
		}
		b = append(append(append(b, k...), ':'), v...)
	}
	return append(b, '}'), nil
}

// UnmarshalJSON reads an object by place. A place whose mark is null has
// none, as with a map (a nil mark counted as no mark).
func (ms *Marks) UnmarshalJSON(b []byte) error {
	var m map[string]*Mark
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	if m == nil {
		return nil
	}
	out := make(Marks, 0, len(m))
	for place, mark := range m {
		if mark != nil {
			out = append(out, PlaceMark{Place: place, Mark: *mark})
		}
	}
	slices.SortFunc(out, func(a, b PlaceMark) int { return strings.Compare(a.Place, b.Place) })
	*ms = out
	return nil
}

// maxShared bounds the distinct strings share remembers.
const maxShared = 4096

// share makes the strings the decoded groups repeat share memory: a region
// and an instance are the same for many groups, a group's name is the end
// of its key, and marks' places repeat from group to group. At 10,000 groups
// that is about a megabyte less for the rest of the run.
func (s *State) share() {
	seen := map[string]string{}
	intern := func(v string) string {
		if w, ok := seen[v]; ok {
			return w
		}
		if len(seen) < maxShared {
			seen[v] = v
		}
		return v
	}
	for k, g := range s.Groups {
		g.Region, g.Instance = intern(g.Region), intern(g.Instance)
		if n := len(k) - len(g.Group); n > 0 && k[n-1] == '/' && k[n:] == g.Group {
			g.Group = k[len(k)-len(g.Group):]
		}
		for i := range g.Offsets {
			g.Offsets[i].Place = intern(g.Offsets[i].Place)
		}
	}
}

// Compaction is what EncodeWithin dropped to fit the document in its bound.
type Compaction struct {
	// Before is the size the document would have had, After its size.
	Before, After int
	// Samples were dropped from Histories histories (of groups and places).
	Samples, Histories int
}

// EncodeWithin is Encode for a store that takes documents of at most max
// bytes (max <= 0: any). A larger document is compacted first: history is
// trimmed, the oldest samples first, those of groups without an alert before
// those of groups and places with one, until it fits; Compacted then says
// what went. Without any history left and still too large, the document is
// returned as it is, for the store to refuse.
func (s *State) EncodeWithin(now time.Time, max int) ([]byte, error) {
	data, err := s.Encode(now)
	if err != nil || max <= 0 || len(data) <= max {
		return data, err
	}
	c := Compaction{Before: len(data)}
	for len(data) > max {
		samples, histories := s.trim(len(data) - max)
		if samples == 0 {
			break // nothing left to trim
		}
		c.Samples += samples
		c.Histories += histories
		data = nil // the document over the bound can go before the next
		s.size = max
		if data, err = s.encode(); err != nil {
			return nil, err
		}
	}
	c.After = len(data)
	if c.Samples > 0 {
		if s.compacted != nil {
			c.Before = s.compacted.Before
			c.Samples += s.compacted.Samples
			c.Histories += s.compacted.Histories
		}
		s.compacted = &c
	}
	return data, nil
}

// Compacted says what EncodeWithin dropped from this state's history, over
// all the encodings since it was decoded; ok is false when nothing was.
func (s *State) Compacted() (c Compaction, ok bool) {
	if s.compacted == nil {
		return Compaction{}, false
	}
	return *s.compacted, true
}

// trimmed is a history trim may shorten: a group's (place "") or one of
// its places', and how many of its oldest samples go.
type trimmed struct {
	gs      *GroupState
	place   string
	h       History
	dropped int
	order   int
}

// trimHeap orders histories by their oldest sample left, then by their
// order of collection (so that the result does not depend on map order).
type trimHeap []*trimmed

func (q trimHeap) Len() int      { return len(q) }
func (q trimHeap) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q trimHeap) Less(i, j int) bool {
	a, b := q[i].h[q[i].dropped].Time, q[j].h[q[j].dropped].Time
	return a.Before(b) || a.Equal(b) && q[i].order < q[j].order
}
func (q *trimHeap) Push(x any) { *q = append(*q, x.(*trimmed)) }
func (q *trimHeap) Pop() any {
	old := *q
	t := old[len(old)-1]
	*q = old[:len(old)-1]
	return t
}

// trim drops the oldest samples, those of groups without an alert before
// those of groups and places with one, until at least need bytes of the
// document went (each sample's array at least). It returns how many samples
// went, from how many histories.
func (s *State) trim(need int) (samples, histories int) {
	alerting := map[string]bool{}
	for _, as := range s.Alerts {
		alerting[groupKey(as.Alert.Region, as.Alert.Instance, as.Alert.Group)] = true
	}
	var quiet, alert trimHeap
	for _, gk := range slices.Sorted(maps.Keys(s.Groups)) {
		gs := s.Groups[gk]
		tier := &quiet
		if alerting[gk] {
			tier = &alert
		}
		if len(gs.History) > 0 {
			*tier = append(*tier, &trimmed{gs: gs, h: gs.History, order: len(*tier)})
		}
		for _, pk := range slices.Sorted(maps.Keys(gs.Places)) {
			if h := gs.Places[pk]; len(h) > 0 {
				alert = append(alert, &trimmed{gs: gs, place: pk, h: h, order: len(alert)})
			}
		}
	}
	saved := 0
	var touched []*trimmed
	for _, tier := range []*trimHeap{&quiet, &alert} {
		heap.Init(tier)
		for saved < need && tier.Len() > 0 {
			t := (*tier)[0]
			saved += len(t.h[t.dropped].appendJSON(nil))
			if t.dropped++; t.dropped == 1 {
				touched = append(touched, t)
			}
			if t.dropped == len(t.h) {
				heap.Pop(tier)
			} else {
				heap.Fix(tier, 0)
			}
		}
	}
	for _, t := range touched {
		samples += t.dropped
		var rest History
		if t.dropped < len(t.h) {
			rest = slices.Clone(t.h[t.dropped:]) // the longer array can go
		}
		switch {
		case t.place == "":
			t.gs.History = rest
		case rest == nil:
			delete(t.gs.Places, t.place)
			if len(t.gs.Places) == 0 {
				t.gs.Places = nil
			}
		default:
			t.gs.Places[t.place] = rest
		}
	}
	return samples, len(touched)
}
