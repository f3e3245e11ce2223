package propose

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/progress"
	"github.com/backlog-alert/backlog-alert/progress/alikafka"
)

// Options say where Discover looks and how.
type Options struct {
	// Regions are listed in order; at least one.
	Regions []string
	// Instances, when set, restricts discovery to these instance IDs (each
	// in whichever region lists it); else every running instance is read.
	Instances []string

	Credentials alikafka.Credentials
	// Endpoint sends every call elsewhere (BACKLOG_ALERT_ENDPOINT); empty
	// means the region's public endpoint.
	Endpoint string
	// QPS is the rate of every OpenAPI call Discover makes, listings
	// included; default alikafka.DefaultQPS, what a run uses.
	QPS float64

	// Sample, when positive, reads every group a second time Sample later,
	// to measure production and consumption rates.
	Sample time.Duration
	// Wait waits between the two reads; nil sleeps (ending early with ctx).
	// Tests change the service's offsets in it.
	Wait func(ctx context.Context, d time.Duration) error
	// Now is the clock rates are measured with; nil is time.Now.
	Now func() time.Time

	Logger *slog.Logger
}

// Instance is one instance GetInstanceList reported.
type Instance struct {
	Region, ID, Name string
	ServiceStatus    int
	Running          bool
	// Read says discovery read its groups: it is running and --instance
	// (Options.Instances) did not leave it out.
	Read bool
}

// Group is one consumer group as discovery saw it.
type Group struct {
	Region, Instance, Name string
	// Tags are the group's tags as GetConsumerList reported them.
	Tags map[string]string
	// Lag is the largest backlog (TotalDiff) of its reads, in messages.
	Lag int64
	// ProducedPerMinute and ConsumedPerMinute are the increase of the sum
	// of the broker offsets, and of the committed offsets, over the sample,
	// in messages a minute; zero without a sample.
	ProducedPerMinute, ConsumedPerMinute float64
	// Timestamps says the service reported a LastTimestamp for some topic
	// of the group: staleness can be judged.
	Timestamps bool
	// Committed says some partition has a committed offset above zero.
	Committed bool
	// Age is how old the newest consumed message of its most behind topic
	// with lag was at the first read; zero when there is no lag or no
	// timestamp.
	Age time.Duration
	// Sampled says the group was read twice: its rates are measured.
	Sampled bool
}

// Behind says why the group is behind now, or "": its newest consumed
// message is as old as a stale warning, or, sampled, its consumer did not
// commit while there was lag. Such a group is in trouble, not the measure
// of normal: it alerts on the first run.
func (g Group) Behind() string {
	switch {
	case g.Lag > 0 && g.Age >= StaleWarning:
		return "its newest consumed message was " + notify.Duration(int64(g.Age/time.Second)) + " old"
	case g.Sampled && g.Lag > 0 && g.ConsumedPerMinute == 0:
		return "its consumer committed nothing while sampling"
	}
	return ""
}

// Problem is something discovery could not read. Text is redacted.
type Problem struct {
	// Region alone: its instances could not be listed. With Instance: that
	// instance (not found, not running, groups not listed). With Group:
	// that group's progress.
	Region, Instance, Group string
	Text                    string
	// Refused says the service refused the credentials.
	Refused bool
}

func (p Problem) String() string {
	where := "region " + p.Region
	switch {
	case p.Group != "":
		where = fmt.Sprintf("group %s on %s (%s)", p.Group, p.Instance, p.Region)
	case p.Instance != "" && p.Region != "":
		where = fmt.Sprintf("instance %s (%s)", p.Instance, p.Region)
	case p.Instance != "":
		where = "instance " + p.Instance
	}
	return where + ": " + p.Text
}

// Discovery is what Discover learned: the input of Propose.
type Discovery struct {
	Regions []string
	// Instances are every instance listed, running or not, sorted by
	// region and ID.
	Instances []Instance
	// Restricted says only the instances Options.Instances named were read.
	Restricted bool
	// Groups are the groups read, sorted by region, instance and name.
	Groups []Group
	// Problems are what could not be read; the proposal leaves it out.
	Problems []Problem
	// Warnings are what went wrong without leaving anything out (a second
	// read that failed: that group's rates are unknown).
	Warnings []string
	// Sample is the time between the two reads; zero for one read.
	Sample time.Duration
	// Calls is every OpenAPI request sent, retries included; Throttled how
	// many the service refused for its rate.
	Calls, Throttled int
}

// ReadInstances are the instances whose groups were read.
func (d *Discovery) ReadInstances() []Instance {
	var out []Instance
	for _, in := range d.Instances {
		if in.Read {
			out = append(out, in)
		}
	}
	return out
}

// Discover lists the instances of every region (GetInstanceList, one call
// each), then lists the groups of each running instance and reads every
// group's progress with alikafka.Fetch, and with Options.Sample reads them
// again to measure rates. Every call, its own and Fetch's, is paced at
// Options.QPS: Discover's own calls and each Fetch take turns on one token
// bucket, so no two calls are closer than 1/QPS even where one phase hands
// over to the next.
//
// What could not be read is in Problems, redacted; the error is only for
// unusable options or ctx ending, and then the Discovery holds what was
// learned so far.
func Discover(ctx context.Context, opts Options) (*Discovery, error) {
	if len(opts.Regions) == 0 {
		return nil, errors.New("no region to discover")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now, wait := opts.Now, opts.Wait
	if now == nil {
		now = time.Now
	}
	if wait == nil {
		wait = sleep
	}
	qps := opts.QPS
	if !(qps > 0) {
		qps = alikafka.DefaultQPS
	}
	cfg := alikafka.Config{Credentials: opts.Credentials, Endpoint: opts.Endpoint, QPS: qps}
	turn := rate.NewLimiter(rate.Limit(qps), 1)
	scrub := scrubber(opts.Credentials)
	d := &Discovery{Regions: slices.Clone(opts.Regions), Restricted: len(opts.Instances) > 0}

	for _, region := range opts.Regions {
		if err := turn.Wait(ctx); err != nil {
			return d, err
		}
		insts, called, err := listInstances(region, cfg)
		if called {
			d.Calls++
		}
		if err != nil {
			d.Problems = append(d.Problems, Problem{Region: region, Text: "cannot list its instances: " + scrub(err.Error()), Refused: refused(err)})
			continue
		}
		log.Info("instances listed", "region", region, "instances", len(insts))
		for _, in := range insts {
			read := in.Running && (!d.Restricted || slices.Contains(opts.Instances, in.ID))
			d.Instances = append(d.Instances, Instance{Region: region, ID: in.ID, Name: in.Name, ServiceStatus: in.ServiceStatus, Running: in.Running, Read: read})
		}
	}
	slices.SortFunc(d.Instances, func(a, b Instance) int { return cmp.Or(cmp.Compare(a.Region, b.Region), cmp.Compare(a.ID, b.ID)) })
	for _, id := range opts.Instances {
		i := slices.IndexFunc(d.Instances, func(in Instance) bool { return in.ID == id })
		switch {
		case i < 0:
			d.Problems = append(d.Problems, Problem{Instance: id, Text: "not found in " + strings.Join(listedRegions(d), ", ")})
		case !d.Instances[i].Running:
			in := d.Instances[i]
			d.Problems = append(d.Problems, Problem{Region: in.Region, Instance: id, Text: fmt.Sprintf("not running (ServiceStatus %d): its groups cannot be read", in.ServiceStatus)})
		}
	}

	var sels []alikafka.Selection
	for _, in := range d.ReadInstances() {
		// Timestamps are asked for: whether the service has them decides
		// between stale and stuck thresholds.
		sels = append(sels, alikafka.Selection{Region: in.Region, Instance: in.ID, Groups: []string{"*"}, NeedTimestamps: true})
	}
	if len(sels) == 0 {
		return d, nil
	}
	log.Info("reading consumer groups", "instances", len(sels), "qps", qps)
	if err := turn.Wait(ctx); err != nil {
		return d, err
	}
	first := now()
	out := alikafka.Fetch(ctx, cfg, sels)
	_ = turn.Wait(ctx) // Fetch's last call was just now: the next phase waits its turn
	d.Calls += out.Stats.Calls
	d.Throttled += out.Stats.Throttled
	if err := ctx.Err(); err != nil {
		return d, err
	}
	for _, f := range out.Failures {
		d.Problems = append(d.Problems, failureProblem(f, scrub))
	}
	for _, f := range out.NotEvaluated {
		d.Problems = append(d.Problems, failureProblem(f, scrub))
	}
	firstRead := map[groupKey]progress.Group{}
	for _, g := range out.Snapshot.Groups {
		firstRead[keyOf(g)] = g
		d.Groups = append(d.Groups, Group{
			Region: g.Region, Instance: g.Instance, Name: g.Group, Tags: g.Tags,
			Lag: g.TotalDiff, Timestamps: hasTimestamps(g), Committed: committed(g), Age: age(g, first),
		})
	}
	if opts.Sample <= 0 || len(d.Groups) == 0 {
		return d, nil
	}

	log.Info("waiting to read the groups again and measure their rates", "sample", opts.Sample)
	if err := wait(ctx, opts.Sample); err != nil {
		return d, err
	}
	if err := turn.Wait(ctx); err != nil {
		return d, err
	}
	// Both reads go in the same order at the same pace, so each group's two
	// reads are about as far apart as the two starts.
	elapsed := now().Sub(first)
	again := alikafka.Fetch(ctx, cfg, rereadSelections(d.Groups))
	d.Calls += again.Stats.Calls
	d.Throttled += again.Stats.Throttled
	if err := ctx.Err(); err != nil {
		return d, err
	}
	if elapsed <= 0 {
		d.Warnings = append(d.Warnings, "the clock did not advance between the two reads: no rates measured")
		return d, nil
	}
	d.Sample = elapsed
	for _, f := range slices.Concat(again.Failures, again.NotEvaluated) {
		d.Warnings = append(d.Warnings, failureProblem(f, scrub).String()+" (second read: its rates are unknown)")
	}
	second := map[groupKey]progress.Group{}
	for _, g := range again.Snapshot.Groups {
		second[keyOf(g)] = g
	}
	for i := range d.Groups {
		g := &d.Groups[i]
		k := groupKey{g.Region, g.Instance, g.Name}
		later, ok := second[k]
		if !ok {
			continue
		}
		produced, consumed := growth(firstRead[k], later)
		g.ProducedPerMinute = float64(produced) / elapsed.Minutes()
		g.ConsumedPerMinute = float64(consumed) / elapsed.Minutes()
		g.Lag = max(g.Lag, later.TotalDiff)
		g.Committed = g.Committed || committed(later)
		g.Sampled = true
	}
	return d, nil
}

// listInstances is one GetInstanceList call for region; called says
// whether a request went out (a client that cannot be built sends none).
func listInstances(region string, cfg alikafka.Config) (insts []alikafka.Instance, called bool, err error) {
	c, err := alikafka.NewClient(region, cfg)
	if err != nil {
		return nil, false, err
	}
	defer c.CloseIdleConnections()
	insts, err = c.Instances()
	return insts, true, err
}

// rereadSelections name every group read, per instance: the second read
// lists nothing and asks for no timestamps.
func rereadSelections(groups []Group) []alikafka.Selection {
	var sels []alikafka.Selection
	for _, g := range groups {
		if n := len(sels); n > 0 && sels[n-1].Region == g.Region && sels[n-1].Instance == g.Instance {
			sels[n-1].Groups = append(sels[n-1].Groups, escapeGlob(g.Name))
			continue
		}
		sels = append(sels, alikafka.Selection{Region: g.Region, Instance: g.Instance, Groups: []string{escapeGlob(g.Name)}})
	}
	return sels
}

type groupKey struct{ region, instance, group string }

func keyOf(g progress.Group) groupKey { return groupKey{g.Region, g.Instance, g.Group} }

// growth is how far the broker offsets and the committed offsets moved
// between two reads, over the partitions both have; an offset that went
// back (a topic recreated) counts as no growth.
func growth(before, after progress.Group) (produced, consumed int64) {
	type part struct {
		topic string
		p     int
	}
	old := map[part]progress.Partition{}
	for _, t := range before.Topics {
		for _, p := range t.Partitions {
			old[part{t.Topic, p.Partition}] = p
		}
	}
	for _, t := range after.Topics {
		for _, p := range t.Partitions {
			if o, ok := old[part{t.Topic, p.Partition}]; ok {
				produced += max(p.BrokerOffset-o.BrokerOffset, 0)
				consumed += max(p.ConsumerOffset-o.ConsumerOffset, 0)
			}
		}
	}
	return produced, consumed
}

// age is how old the newest consumed message of g's most behind topic with
// lag was at now.
func age(g progress.Group, now time.Time) time.Duration {
	var oldest time.Duration
	for _, t := range g.Topics {
		if t.TotalDiff > 0 && t.LastTimestamp > 0 {
			oldest = max(oldest, now.Sub(time.UnixMilli(t.LastTimestamp)))
		}
	}
	return oldest
}

func hasTimestamps(g progress.Group) bool {
	return slices.ContainsFunc(g.Topics, func(t progress.Topic) bool { return t.LastTimestamp > 0 })
}

func committed(g progress.Group) bool {
	for _, t := range g.Topics {
		if slices.ContainsFunc(t.Partitions, func(p progress.Partition) bool { return p.ConsumerOffset > 0 }) {
			return true
		}
	}
	return false
}

func failureProblem(f alikafka.Failure, scrub func(string) string) Problem {
	what := "cannot read its progress: "
	switch f.Op {
	case alikafka.OpList:
		what = "cannot list its consumer groups: "
	case alikafka.OpInstances:
		what = "cannot list its instances: "
	}
	return Problem{Region: f.Region, Instance: f.Instance, Group: f.Group, Text: what + scrub(f.Err.Error()), Refused: refused(f.Err)}
}

// listedRegions are the regions whose instances were listed.
func listedRegions(d *Discovery) []string {
	var out []string
	for _, r := range d.Regions {
		if !slices.ContainsFunc(d.Problems, func(p Problem) bool { return p.Region == r && p.Instance == "" }) {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return []string{"no region (none could be listed)"}
	}
	return out
}

// refused reports whether the service refused the credentials or their
// permissions: nothing else will work until they are fixed.
func refused(err error) bool {
	var ae *alikafka.APIError
	if !errors.As(err, &ae) {
		return false
	}
	for _, p := range []string{"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidSecurityToken", "MissingSecurityToken", "Forbidden", "NoPermission"} {
		if strings.HasPrefix(ae.Code, p) {
			return true
		}
	}
	return false
}

// scrubber removes the credentials from text: alikafka's errors are already
// redacted, and this makes sure of it.
func scrubber(c alikafka.Credentials) func(string) string {
	return func(s string) string {
		s = alikafka.Redact(s)
		for _, secret := range []string{c.AccessKeySecret, c.SecurityToken} {
			if len(secret) >= 8 {
				s = strings.ReplaceAll(s, secret, "***")
			}
		}
		return s
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
