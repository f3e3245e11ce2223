package alikafka

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/backlog-alert/backlog-alert/progress"
)

// Operation names used in Failure.Op.
const (
	OpList     = "GetConsumerList"
	OpProgress = "GetConsumerProgress"
	// OpInstances marks a failed GetInstanceList of a region (Failure.Region
	// set, Instance and Group empty).
	OpInstances = "GetInstanceList"
	// OpSelect marks a malformed glob in a Selection; nothing was called.
	OpSelect = "Select"
)

// AllInstances as Selection.Instance selects every running instance of the
// selection's region.
const AllInstances = "*"

// Selection is what one alert rule watches on one instance.
type Selection struct {
	// Instance AllInstances ("*") stands for every instance GetInstanceList
	// reports running in Region; the region is listed once a Fetch, however
	// many selections ask.
	Region, Instance string
	// Groups are names or globs (path.Match syntax: * ? [...]). A glob is
	// expanded with GetConsumerList; a plain name is read without listing.
	Groups []string
	// Exclude are globs removed from the result, named groups included.
	Exclude []string
	// NeedTimestamps says the selection judges LastTimestamp (staleness).
	// A group that no selection needing timestamps selects is read with
	// HideLastTimestamp=true, which spares the service computing them; its
	// timestamps are then unknown.
	NeedTimestamps bool
	// Tags, when set, restrict the selection to groups whose tags (as
	// GetConsumerList reports them) have every key, each value matching its
	// glob (path.Match syntax). It makes Fetch list the instance even for
	// plain names: a named group the listing has without matching tags is
	// not selected, while one the listing lacks is still read, so that its
	// absence is reported in Missing.
	Tags map[string]string
	// WantTags makes Fetch list the instance even when nothing else needs
	// it, so that its groups carry their tags (to route alerts by).
	WantTags bool
}

// GroupRef names one consumer group.
type GroupRef struct{ Region, Instance, Group string }

// Failure is one thing that went wrong in Fetch.
type Failure struct {
	// Group is empty when listing the instance failed (Op OpList), and is the
	// pattern when a pattern is malformed (Op OpSelect; "key=pattern" for a
	// tag's). Instance is empty too when listing the region's instances
	// failed (Op OpInstances).
	Region, Instance, Group string
	Op                      string
	Err                     error // already redacted
}

func (f Failure) String() string {
	return fmt.Sprintf("%s %s/%s/%s: %v", f.Op, f.Region, f.Instance, f.Group, f.Err)
}

// Stats describe how a Fetch used the API.
type Stats struct {
	// Calls is every request sent, retries included.
	Calls int
	// Throttled is how many replies were throttling.
	Throttled int
	// Retries is how many requests repeated an earlier one, after
	// throttling or a transient failure.
	Retries int
	// Failed is how many calls failed for good (after their retries); a
	// "group not found" answer is not a failure.
	Failed int
	// Elapsed is how long the Fetch took.
	Elapsed time.Duration
	// MinRate is the lowest rate, in calls per second, the run slowed down
	// to; Config.QPS when it was never throttled.
	MinRate float64
}

// Outcome is what one Fetch learned.
type Outcome struct {
	// Snapshot has the groups read successfully, sorted by region, instance
	// and group.
	Snapshot progress.Snapshot
	// Missing are explicitly named groups the service says do not exist,
	// sorted. A group found by a glob that vanishes before it is read was
	// simply deleted and is left out.
	Missing []GroupRef
	// Failures are everything else that went wrong, sorted; one failing
	// group or instance never stops the others.
	Failures []Failure
	// NotEvaluated are the groups (and listings, Op OpList or OpInstances)
	// the run had no time left for, sorted: never started, or abandoned while waiting for a
	// call slot or to retry, because ctx ended. Err says why and unwraps to
	// context.DeadlineExceeded or context.Canceled. They failed nothing and
	// are not in Failures.
	NotEvaluated []Failure
	Stats        Stats
}

// ValidatePattern reports whether p is a well-formed group glob, so that
// rules can be checked when they are loaded rather than at Fetch time.
func ValidatePattern(p string) error {
	if _, err := path.Match(p, ""); err != nil {
		return fmt.Errorf("alikafka: bad group pattern %q: %w", p, err)
	}
	return nil
}

func isGlob(s string) bool { return strings.ContainsAny(s, `*?[\`) }

type instanceRef struct{ Region, Instance string }

// target is one group to read.
type target struct {
	// named: some selection names it, so its absence is Missing.
	named bool
	// timestamps: some selection with NeedTimestamps selects it.
	timestamps bool
}

// Fetch expands every selection, listing each region's instances
// (GetInstanceList, for Instance AllInstances) and each instance's groups
// (GetConsumerList, for globs and Tags) at most once even if many selections
// ask, dedups groups across selections, and reads their progress. A group of
// a listed instance carries its tags into the Snapshot.
//
// All calls share one rate, cfg.QPS, on cfg.Concurrency workers, each with its
// own Client per region. Throttling lowers the rate for the rest of the run
// (it recovers gradually) and the throttled call is retried; transient
// failures are retried up to cfg.Retries times with backoff; permanent ones
// are not. Every wait ends when ctx does: what was not read by then is in
// NotEvaluated. A call in flight at ctx's deadline is cut then, and no call
// starts with less than MinCallTime left.
func Fetch(ctx context.Context, cfg Config, sels []Selection) Outcome {
	start := time.Now()
	cfg = cfg.withDefaults()
	cfg.callsEnd, _ = ctx.Deadline()
	rn := newRunner(cfg, start)
	var out Outcome
	workers := make([]*worker, cfg.Concurrency)
	for i := range workers {
		workers[i] = &worker{cfg: cfg, clients: map[string]*Client{}, errs: map[string]error{}}
	}
	defer func() {
		for _, w := range workers {
			for _, c := range w.clients {
				c.CloseIdleConnections()
			}
		}
	}()
	record := func(ref GroupRef, op string, err error) {
		f := Failure{Region: ref.Region, Instance: ref.Instance, Group: ref.Group, Op: op, Err: err}
		var nr *notReadError
		if errors.As(err, &nr) {
			out.NotEvaluated = append(out.NotEvaluated, f)
		} else {
			out.Failures = append(out.Failures, f)
		}
	}

	// 0. Check patterns, and list the instances of every region some
	// selection asks all instances of, once.
	var regions []string
	for _, s := range sels {
		for _, p := range append(slices.Clone(s.Groups), s.Exclude...) {
			if !isGlob(p) {
				continue
			}
			if err := ValidatePattern(p); err != nil {
				out.Failures = append(out.Failures, Failure{Region: s.Region, Instance: s.Instance, Group: p, Op: OpSelect, Err: err})
			}
		}
		for _, k := range slices.Sorted(maps.Keys(s.Tags)) {
			if err := ValidatePattern(s.Tags[k]); err != nil {
				out.Failures = append(out.Failures, Failure{Region: s.Region, Instance: s.Instance, Group: k + "=" + s.Tags[k], Op: OpSelect,
					Err: fmt.Errorf("alikafka: bad pattern for tag %q: %w", k, err)})
			}
		}
		if s.Instance == AllInstances && !slices.Contains(regions, s.Region) {
			regions = append(regions, s.Region)
		}
	}
	type instListing struct {
		insts []Instance
		err   error
	}
	instancesOf := map[string][]Instance{}
	for i, l := range run(ctx, workers, regions, func(w *worker, region string) instListing {
		c, err := w.client(region)
		if err != nil {
			return instListing{err: err}
		}
		insts, err := c.instances(ctx, rn.do)
		return instListing{insts, err}
	}, func() instListing { return instListing{err: rn.notRead(ctx, nil, nil)} }) {
		instancesOf[regions[i]] = l.insts
		if l.err != nil {
			record(GroupRef{Region: regions[i]}, OpInstances, l.err)
		}
	}
	expanded := make([]Selection, 0, len(sels))
	for _, s := range sels {
		if s.Instance != AllInstances {
			expanded = append(expanded, s)
			continue
		}
		for _, in := range instancesOf[s.Region] {
			if in.Running {
				e := s
				e.Instance = in.ID
				expanded = append(expanded, e)
			}
		}
	}
	sels = expanded

	// 1. List every instance some selection globs or selects by tag, once.
	var toList []instanceRef
	for _, s := range sels {
		ref := instanceRef{s.Region, s.Instance}
		if (len(s.Tags) > 0 || s.WantTags || slices.ContainsFunc(s.Groups, isGlob)) && !slices.Contains(toList, ref) {
			toList = append(toList, ref)
		}
	}
	type listing struct {
		groups []GroupInfo
		err    error
	}
	listed := map[instanceRef]listing{}
	for i, l := range run(ctx, workers, toList, func(w *worker, r instanceRef) listing {
		c, err := w.client(r.Region)
		if err != nil {
			return listing{err: err}
		}
		groups, err := c.listGroups(ctx, r.Instance, rn.do)
		return listing{groups, err}
	}, func() listing { return listing{err: rn.notRead(ctx, nil, nil)} }) {
		listed[toList[i]] = l
		if l.err != nil {
			record(GroupRef{Region: toList[i].Region, Instance: toList[i].Instance}, OpList, l.err)
		}
	}

	// The tags of every listed group, for the Snapshot.
	tagsOf := map[GroupRef]map[string]string{}
	for ref, l := range listed {
		for _, g := range l.groups {
			if g.Tags != nil {
				tagsOf[GroupRef{ref.Region, ref.Instance, g.Name}] = g.Tags
			}
		}
	}

	// 2. Expand and dedup.
	targets := map[GroupRef]target{}
	for _, s := range sels {
		l := listed[instanceRef{s.Region, s.Instance}]
		add := func(name string, named bool) {
			if matchAny(s.Exclude, name) {
				return
			}
			ref := GroupRef{s.Region, s.Instance, name}
			t := targets[ref]
			targets[ref] = target{named: t.named || named, timestamps: t.timestamps || s.NeedTimestamps}
		}
		for _, g := range s.Groups {
			if !isGlob(g) {
				if len(s.Tags) == 0 {
					add(g, true)
					continue
				}
				if l.err != nil {
					continue // the listing's failure is reported
				}
				i, found := slices.BinarySearchFunc(l.groups, g, func(gi GroupInfo, name string) int { return strings.Compare(gi.Name, name) })
				if !found || progress.TagsMatch(s.Tags, l.groups[i].Tags) {
					add(g, true)
				}
				continue
			}
			for _, gi := range l.groups {
				if ok, _ := path.Match(g, gi.Name); ok && progress.TagsMatch(s.Tags, gi.Tags) {
					add(gi.Name, false)
				}
			}
		}
	}
	refs := make([]GroupRef, 0, len(targets))
	for r := range targets {
		refs = append(refs, r)
	}
	slices.SortFunc(refs, compareRefs)

	// 3. Read progress.
	type read struct {
		g   progress.Group
		err error
	}
	for i, r := range run(ctx, workers, refs, func(w *worker, ref GroupRef) read {
		c, err := w.client(ref.Region)
		if err != nil {
			return read{err: err}
		}
		g, err := c.progress(ctx, ref.Instance, ref.Group, progressOptions{hideTimestamps: !targets[ref].timestamps}, rn.do)
		return read{g, err}
	}, func() read { return read{err: rn.notRead(ctx, nil, nil)} }) {
		ref := refs[i]
		switch {
		case r.err == nil:
			r.g.Tags = maps.Clone(tagsOf[ref])
			out.Snapshot.Groups = append(out.Snapshot.Groups, r.g)
		case IsGroupNotFound(r.err):
			if targets[ref].named {
				out.Missing = append(out.Missing, ref)
			}
		default:
			record(ref, OpProgress, r.err)
		}
	}

	// refs were sorted, so Snapshot and Missing already are.
	for _, fs := range [][]Failure{out.Failures, out.NotEvaluated} {
		slices.SortStableFunc(fs, func(a, b Failure) int {
			return cmp.Or(compareRefs(GroupRef{a.Region, a.Instance, a.Group}, GroupRef{b.Region, b.Instance, b.Group}), strings.Compare(a.Op, b.Op))
		})
	}
	out.Stats = Stats{
		Calls:     int(rn.calls.Load()),
		Throttled: int(rn.throttled.Load()),
		Retries:   int(rn.retries.Load()),
		Failed:    int(rn.failed.Load()),
		Elapsed:   time.Since(start),
		MinRate:   rn.pacer.minRate(),
	}
	return out
}

func compareRefs(a, b GroupRef) int {
	return cmp.Or(strings.Compare(a.Region, b.Region), strings.Compare(a.Instance, b.Instance), strings.Compare(a.Group, b.Group))
}

func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// worker owns one Client per region: SDK clients must not be shared between
// goroutines, and each worker is one goroutine at a time.
type worker struct {
	cfg     Config
	clients map[string]*Client
	errs    map[string]error
}

func (w *worker) client(region string) (*Client, error) {
	if c, ok := w.clients[region]; ok {
		return c, nil
	}
	if err, ok := w.errs[region]; ok {
		return nil, err
	}
	c, err := NewClient(region, w.cfg)
	if err != nil {
		w.errs[region] = err
		return nil, err
	}
	w.clients[region] = c
	return c, nil
}

// run calls do for every job on len(workers) goroutines, worker i always
// using workers[i], and returns the results in job order. Jobs not started
// when ctx is done get cancelled() instead.
func run[J, R any](ctx context.Context, workers []*worker, jobs []J, do func(*worker, J) R, cancelled func() R) []R {
	results := make([]R, len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	for _, w := range workers[:min(len(workers), len(jobs))] {
		wg.Go(func() {
			for i := range next {
				if ctx.Err() != nil {
					results[i] = cancelled()
					continue
				}
				results[i] = do(w, jobs[i])
			}
		})
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	return results
}
