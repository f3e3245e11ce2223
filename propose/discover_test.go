package propose

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/progress"
	"github.com/backlog-alert/backlog-alert/progress/alikafka"
	"github.com/backlog-alert/backlog-alert/progress/alikafkatest"
)

var testCreds = alikafka.Credentials{AccessKeyID: "LTAI5tProposeTestKey", AccessKeySecret: "propose-test-access-key-secret", SecurityToken: "CAIS-propose-test-token"}

func newFake(t *testing.T) *alikafkatest.Server {
	t.Helper()
	api := alikafkatest.NewServer(testCreds)
	t.Cleanup(api.Close)
	return api
}

// offsets is a group of one topic with two partitions sharing broker and
// consumer offsets evenly.
func offsets(region, instance, name string, broker, consumer int64, ts int64) progress.Group {
	g := progress.Group{Region: region, Instance: instance, Group: name, TotalDiff: broker - consumer, LastTimestamp: ts}
	t := progress.Topic{Topic: "events", TotalDiff: broker - consumer, LastTimestamp: ts}
	for p := range 2 {
		t.Partitions = append(t.Partitions, progress.Partition{Partition: p, BrokerOffset: broker / 2, ConsumerOffset: consumer / 2, LastTimestamp: ts})
	}
	g.Topics = []progress.Topic{t}
	return g
}

// fakeClock is the time Discover measures rates with; Wait advances it.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

// --sample: the production rate is the growth of the broker offsets between
// the two reads over the time between them, and it can decide the warning.
func TestDiscoverSampleRateDecidesWarning(t *testing.T) {
	api := newFake(t)
	ts := time.Now().Add(-time.Minute).UnixMilli()
	api.SetGroup(offsets("cn-hangzhou", "i-a", "orders-api", 1_000_000, 999_000, ts))
	api.SetGroup(offsets("cn-hangzhou", "i-a", "billing", 5_000, 5_000, ts))
	clock := &fakeClock{time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)}
	var waited time.Duration
	d, err := Discover(context.Background(), Options{
		Regions: []string{"cn-hangzhou"}, Credentials: testCreds, Endpoint: api.URL,
		Sample: 2 * time.Minute, Now: clock.Now,
		Wait: func(_ context.Context, d time.Duration) error {
			waited = d
			clock.now = clock.now.Add(d)
			// Over the two minutes orders-api gets 240,000 messages and
			// consumes 200,000: 120,000 and 100,000 a minute.
			api.SetGroup(offsets("cn-hangzhou", "i-a", "orders-api", 1_240_000, 1_199_000, ts))
			return nil
		},
	})
	if err != nil || len(d.Problems) > 0 || len(d.Warnings) > 0 {
		t.Fatalf("err %v, problems %v, warnings %v", err, d.Problems, d.Warnings)
	}
	if waited != 2*time.Minute || d.Sample != 2*time.Minute {
		t.Errorf("waited %s, sample %s", waited, d.Sample)
	}
	i := slices.IndexFunc(d.Groups, func(g Group) bool { return g.Name == "orders-api" })
	g := d.Groups[i]
	if g.ProducedPerMinute != 120_000 || g.ConsumedPerMinute != 100_000 || g.Lag != 41_000 || !g.Timestamps || !g.Committed {
		t.Errorf("orders-api: %+v", g)
	}

	p, err := Propose(d, Params{})
	if err != nil {
		t.Fatal(err)
	}
	r := p.Rules[0]
	// 10 × L = 410,000 would make 500k; 5 × P = 600,000 makes 1M.
	if r.MaxLag != 41_000 || r.MaxRate != 120_000 || r.Warning != 1_000_000 || r.Critical != 5_000_000 {
		t.Errorf("L %d, P %g: warning %d, critical %d; want 1M, 5M", r.MaxLag, r.MaxRate, r.Warning, r.Critical)
	}
	if r.Warning != WarningFor(r.MaxLag, r.MaxRate) || r.Warning == WarningFor(r.MaxLag, 0) {
		t.Errorf("the production rate did not decide the warning: %d", r.Warning)
	}
	for _, want := range []string{
		"P = the largest production rate seen, in messages a minute (over 2m0s)",
		"# Seen: L = 41,000 (orders-api), P = 120,000/min (orders-api); consumed up to 100,000/min\n  #   (orders-api).",
		"# Backlog warning nice(max(10k, 410,000, 600,000)) = 1M, critical 5 × 1M = 5M.",
	} {
		if !strings.Contains(string(p.Document), want) {
			t.Errorf("the file lacks %q:\n%s", want, p.Document)
		}
	}

	// The second read lists nothing and asks for no timestamps.
	var actions []string
	for _, req := range api.Requests() {
		actions = append(actions, fmt.Sprintf("%s %s hide=%v", req.Action, req.ConsumerId, req.HideLastTimestamp))
	}
	want := []string{
		"GetInstanceList  hide=false", "GetConsumerList  hide=false",
		"GetConsumerProgress billing hide=false", "GetConsumerProgress orders-api hide=false",
		"GetConsumerProgress billing hide=true", "GetConsumerProgress orders-api hide=true",
	}
	if slices.Sort(actions); !slices.Equal(actions, slices.Sorted(slices.Values(want))) || d.Calls != len(want) {
		t.Errorf("calls (%d counted) %q, want %q", d.Calls, actions, want)
	}
}

// Every call is paced at the default rate, across regions and phases: the
// fake refuses calls over that rate as the service does over its limit, and
// refuses none. Calls are counted as the service saw them.
func TestDiscoverPacedAcrossPhases(t *testing.T) {
	api := newFake(t)
	api.SetRateLimit(alikafka.DefaultQPS)
	groups := 0
	for _, in := range []struct {
		region, id string
		n          int
	}{{"cn-hangzhou", "i-a", 20}, {"cn-hangzhou", "i-b", 20}, {"cn-shanghai", "i-c", 5}} {
		for k := range in.n {
			api.SetGroup(offsets(in.region, in.id, fmt.Sprintf("g-%02d", k), 100, 90, -1))
			groups++
		}
	}
	clock := &fakeClock{time.Now()}
	d, err := Discover(context.Background(), Options{
		Regions: []string{"cn-hangzhou", "cn-shanghai"}, Credentials: testCreds, Endpoint: api.URL,
		Sample: time.Minute, Now: clock.Now,
		// No time passes between the reads: the second starts right after
		// the first, and must still wait its turn.
		Wait: func(context.Context, time.Duration) error { clock.now = clock.now.Add(time.Minute); return nil },
	})
	if err != nil || len(d.Problems) > 0 {
		t.Fatalf("err %v, problems %v", err, d.Problems)
	}
	want := 2 + 3 + 2*groups // instance listings, group listings, two reads
	if st := api.Stats(); st.Throttled != 0 || st.Calls != want || d.Calls != want || d.Throttled != 0 {
		t.Errorf("the service saw %+v, discovery counted %d calls (%d throttled); want %d calls, none throttled", st, d.Calls, d.Throttled, want)
	}
}

// What cannot be read is a Problem, redacted, and left out of the proposal;
// the rest is read.
func TestDiscoverProblems(t *testing.T) {
	api := newFake(t)
	for _, name := range []string{"a-1", "a-2", "a-3"} {
		api.SetGroup(offsets("cn-hangzhou", "i-a", name, 10, 5, -1))
	}
	api.SetGroup(offsets("cn-hangzhou", "i-b", "b-1", 10, 5, -1))
	api.SetGroup(offsets("cn-hangzhou", "i-other", "o-1", 10, 5, -1))
	api.SetInstanceMeta("cn-hangzhou", "i-stopped", alikafkatest.InstanceMeta{ServiceStatus: 10})
	api.Inject(alikafkatest.Fault{Action: alikafkatest.ActionGetConsumerList, Instance: "i-b", HTTPStatus: 403, Code: "Forbidden.RAM", Message: "User not authorized to operate on the specified resource."})
	api.Inject(alikafkatest.Fault{Action: alikafkatest.ActionGetConsumerProgress, Group: "a-2", HTTPStatus: 400, Code: "InvalidParameter", Message: "bad " + testCreds.AccessKeySecret})
	api.Inject(alikafkatest.Fault{Action: alikafkatest.ActionGetInstanceList, Region: "cn-beijing", HTTPStatus: 404, Code: "InvalidAccessKeyId.NotFound", Message: "Specified access key is not found."})

	d, err := Discover(context.Background(), Options{
		Regions: []string{"cn-hangzhou", "cn-beijing"}, Instances: []string{"i-a", "i-b", "i-stopped", "i-missing"},
		Credentials: testCreds, Endpoint: api.URL,
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range d.Problems {
		got = append(got, fmt.Sprintf("%s refused=%v", p, p.Refused))
	}
	want := []string{
		"region cn-beijing: cannot list its instances: alikafka: InvalidAccessKeyId.NotFound (HTTP 404): Specified access key is not found. (RequestId FA4E0000-0000-4000-8000-000000000002) refused=true",
		"instance i-stopped (cn-hangzhou): not running (ServiceStatus 10): its groups cannot be read refused=false",
		"instance i-missing: not found in cn-hangzhou refused=false",
		"group a-2 on i-a (cn-hangzhou): cannot read its progress: alikafka: InvalidParameter (HTTP 400): bad *** refused=false",
		"instance i-b (cn-hangzhou): cannot list its consumer groups: alikafka: Forbidden.RAM (HTTP 403): User not authorized to operate on the specified resource. refused=true",
	}
	if len(got) != len(want) {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i := range want {
		// Request IDs depend on the order of calls; compare up to them.
		if g, w := stripRequestID(got[i]), stripRequestID(want[i]); g != w {
			t.Errorf("problem %d:\n got %s\nwant %s", i, g, w)
		}
	}
	var read []string
	for _, g := range d.Groups {
		read = append(read, g.Instance+"/"+g.Name)
	}
	if !slices.Equal(read, []string{"i-a/a-1", "i-a/a-3"}) {
		t.Errorf("read %v: want only i-a's readable groups (i-other is not asked for)", read)
	}
	p, err := Propose(d, Params{})
	if err != nil {
		t.Fatal(err)
	}
	// a-2 could not be read: a-* would cover it unseen.
	if len(p.Rules) != 1 || !slices.Equal(p.Rules[0].Groups, []string{"a-1", "a-3"}) {
		t.Errorf("rules %+v", p.Rules)
	}
	if strings.Contains(string(p.Document), testCreds.AccessKeySecret) || strings.Contains(strings.Join(got, ""), testCreds.AccessKeySecret) {
		t.Error("the secret was printed")
	}
}

func stripRequestID(s string) string {
	if i := strings.Index(s, " (RequestId "); i >= 0 {
		if j := strings.Index(s[i:], ")"); j >= 0 {
			return s[:i] + s[i+j+1:]
		}
	}
	return s
}

// Ending ctx while waiting to sample stops discovery with the context's
// error.
func TestDiscoverCancelled(t *testing.T) {
	api := newFake(t)
	api.SetGroup(offsets("cn-hangzhou", "i-a", "a", 10, 5, -1))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := Discover(ctx, Options{
		Regions: []string{"cn-hangzhou"}, Credentials: testCreds, Endpoint: api.URL, Sample: time.Hour,
		Wait: func(ctx context.Context, d time.Duration) error { cancel(); return sleep(ctx, d) },
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
	if _, err := Discover(ctx, Options{}); err == nil {
		t.Error("no region: no error")
	}
}
