package alikafka_test

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

// manyGroups fills instance i1 with n groups g0000.. of 12 partitions each.
func manyGroups(s *alikafkatest.Server, n int) {
	for i := range n {
		g := progress.Group{Region: "cn-hangzhou", Instance: "i1", Group: fmt.Sprintf("g%04d", i), TotalDiff: 12, LastTimestamp: 1700000000000}
		tp := progress.Topic{Topic: "orders", TotalDiff: 12, LastTimestamp: 1700000000000}
		for p := range 12 {
			tp.Partitions = append(tp.Partitions, progress.Partition{Partition: p, BrokerOffset: 1000 + int64(p), ConsumerOffset: 999 + int64(p), LastTimestamp: 1700000000000})
		}
		g.Topics = []progress.Topic{tp}
		s.SetGroup(g)
	}
}

var allOfI1 = []alikafka.Selection{{Region: "cn-hangzhou", Instance: "i1", Groups: []string{"*"}, NeedTimestamps: true}}

func TestDefaults(t *testing.T) {
	for _, tt := range []struct {
		qps  float64
		want int
	}{{0, 4}, {1, 4}, {10, 5}, {50, 25}, {100, 50}, {1000, 64}} {
		if got := alikafka.DefaultConcurrency(tt.qps); got != tt.want {
			t.Errorf("DefaultConcurrency(%v) = %d, want %d", tt.qps, got, tt.want)
		}
	}
	if alikafka.DefaultQPS != 50 || alikafka.DefaultTimeout != 5*time.Second || alikafka.DefaultRetries != 3 {
		t.Error("defaults changed: update the README and this test")
	}
}

// The run reaches its lower bound, groups/QPS, and never goes faster.
func TestFetchPacing(t *testing.T) {
	s := newFake(t)
	manyGroups(s, 200)
	s.SetLatency(40 * time.Millisecond)
	cfg := config(s)
	cfg.QPS = 100
	start := time.Now()
	out := alikafka.Fetch(context.Background(), cfg, allOfI1)
	elapsed := time.Since(start)
	t.Logf("200 groups + 2 list pages at QPS 100, 40ms latency: %v, stats %+v, server max in flight %d", elapsed, out.Stats, s.MaxInFlight())
	if len(out.Snapshot.Groups) != 200 || len(out.Failures) != 0 || len(out.NotEvaluated) != 0 {
		t.Fatalf("%d groups, failures %v, not evaluated %d", len(out.Snapshot.Groups), out.Failures, len(out.NotEvaluated))
	}
	if out.Stats.Calls != 202 || out.Stats.Retries != 0 || out.Stats.Throttled != 0 || out.Stats.MinRate != 100 {
		t.Errorf("stats %+v, want 202 calls and nothing else", out.Stats)
	}
	// 202 calls at 100/s, evenly spaced from the first: at least 2.01s.
	// How close it gets to that bound is a speed goal, measured by
	// `make bench` rather than asserted here.
	if elapsed < 2*time.Second {
		t.Errorf("took %v: faster than 100 calls/s", elapsed)
	}
	// Never faster than the rate: at most 101 calls start in any second.
	// Arrivals are not starts: a busy machine delays some requests on their
	// way and they arrive bunched with later ones, so up to half a second
	// of that is allowed. An unpaced run (50 workers, 40ms calls) sends all
	// 202 in about 200ms.
	var times []time.Time
	for _, r := range s.Requests() {
		times = append(times, r.Time)
	}
	for i := range times {
		j := i
		for j < len(times) && times[j].Sub(times[i]) < time.Second {
			j++
		}
		if j-i > 151 {
			t.Fatalf("%d requests within one second from request %d", j-i, i)
		}
	}
}

func TestFetchThrottlingSlowsTheRun(t *testing.T) {
	s := newFake(t)
	manyGroups(s, 60)
	s.SetRateLimit(25)
	cfg := config(s)
	cfg.QPS = 50
	out := alikafka.Fetch(context.Background(), cfg, allOfI1)
	st := s.Stats()
	t.Logf("60 groups at QPS 50 against a limit of 25: stats %+v, server %+v", out.Stats, st)
	if len(out.Snapshot.Groups) != 60 || len(out.Failures) != 0 || len(out.NotEvaluated) != 0 {
		t.Fatalf("%d groups, failures %v, not evaluated %v", len(out.Snapshot.Groups), out.Failures, out.NotEvaluated)
	}
	if out.Stats.Throttled == 0 || out.Stats.MinRate >= 50 || out.Stats.MinRate < 1 || out.Stats.Failed != 0 {
		t.Errorf("stats %+v: want throttling seen, the rate lowered, no failures", out.Stats)
	}
	if out.Stats.Calls != st.Calls || out.Stats.Throttled != st.Throttled || out.Stats.Calls != 61+out.Stats.Retries {
		t.Errorf("client counted %+v, server %+v", out.Stats, st)
	}
	// The rate is not cut once per throttled reply: replies to calls sent
	// before a cut do not cut again.
	if out.Stats.MinRate < 50*0.7*0.7*0.7*0.7 {
		t.Errorf("rate fell to %.2f: cut too often", out.Stats.MinRate)
	}
}

func TestFetchRetries(t *testing.T) {
	type want struct {
		ok, missing, failed    bool
		calls, retries, thrott int
		code                   string
	}
	tests := []struct {
		name   string
		faults []alikafkatest.Fault
		raw    string // served for the group when set
		cfg    func(*alikafka.Config)
		want   want
	}{
		{name: "5xx twice", faults: []alikafkatest.Fault{{HTTPStatus: 500, Code: "InternalError", Times: 2}},
			want: want{ok: true, calls: 3, retries: 2}},
		{name: "ServiceUnavailable twice", faults: []alikafkatest.Fault{{HTTPStatus: 503, Code: "ServiceUnavailable", Times: 2}},
			want: want{ok: true, calls: 3, retries: 2}},
		{name: "ONS_SYSTEM_ERROR business reply", faults: []alikafkatest.Fault{{HTTPStatus: 200, Code: "ONS_SYSTEM_ERROR", Times: 1}},
			want: want{ok: true, calls: 2, retries: 1}},
		{name: "timeout", faults: []alikafkatest.Fault{{Latency: 2 * time.Second, Times: 1}},
			cfg:  func(c *alikafka.Config) { c.Timeout = 150 * time.Millisecond },
			want: want{ok: true, calls: 2, retries: 1}},
		{name: "throttled does not spend retries", faults: []alikafkatest.Fault{{HTTPStatus: 400, Code: "Throttling.User", Times: 3}},
			cfg:  func(c *alikafka.Config) { c.Retries = -1 },
			want: want{ok: true, calls: 4, retries: 3, thrott: 3}},
		{name: "HTTP 429", faults: []alikafkatest.Fault{{HTTPStatus: 429, Code: "TooManyRequests", Times: 1}},
			want: want{ok: true, calls: 2, retries: 1, thrott: 1}},
		{name: "flow control business reply", faults: []alikafkatest.Fault{{HTTPStatus: 200, Code: "ONS_SYSTEM_FLOW_CONTROL", Times: 1}},
			want: want{ok: true, calls: 2, retries: 1, thrott: 1}},
		{name: "retries exhausted", faults: []alikafkatest.Fault{{HTTPStatus: 503, Code: "ServiceUnavailable"}},
			cfg:  func(c *alikafka.Config) { c.Retries = 2 },
			want: want{failed: true, calls: 3, retries: 2, code: "ServiceUnavailable"}},
		{name: "no retries", faults: []alikafkatest.Fault{{HTTPStatus: 500, Code: "InternalError"}},
			cfg:  func(c *alikafka.Config) { c.Retries = -1 },
			want: want{failed: true, calls: 1, code: "InternalError"}},
		{name: "signature", cfg: func(c *alikafka.Config) { c.Credentials.AccessKeySecret = "WrongSecretValue" },
			want: want{failed: true, calls: 1, code: "SignatureDoesNotMatch"}},
		{name: "unknown key", cfg: func(c *alikafka.Config) { c.Credentials.AccessKeyID = "LTAIunknownKeyId" },
			want: want{failed: true, calls: 1, code: "InvalidAccessKeyId.NotFound"}},
		{name: "forbidden", faults: []alikafkatest.Fault{{HTTPStatus: 403, Code: "Forbidden.RAM"}},
			want: want{failed: true, calls: 1, code: "Forbidden.RAM"}},
		{name: "expired token", faults: []alikafkatest.Fault{{HTTPStatus: 400, Code: "InvalidSecurityToken.Expired"}},
			want: want{failed: true, calls: 1, code: "InvalidSecurityToken.Expired"}},
		{name: "not found", raw: `{"Success":false,"Code":"BIZ_SUBSCRIPTION_NOT_FOUND","Message":"gone"}`,
			want: want{missing: true, calls: 1}},
		{name: "undecodable reply", raw: `{"Code":200,"Success":true,"ConsumerProgress":{"TopicList":5}}`,
			want: want{failed: true, calls: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newFake(t)
			s.SetGroup(group("cn-hangzhou", "i1", "g1", 5))
			if tt.raw != "" {
				s.SetRawProgress("i1", "g1", tt.raw)
			}
			for _, f := range tt.faults {
				f.Action = alikafkatest.ActionGetConsumerProgress
				s.Inject(f)
			}
			cfg := config(s)
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			out := alikafka.Fetch(context.Background(), cfg, []alikafka.Selection{{Region: "cn-hangzhou", Instance: "i1", Groups: []string{"g1"}}})
			st := out.Stats
			if n := len(s.Requests()); n != tt.want.calls || st.Calls != n || st.Retries != tt.want.retries || st.Throttled != tt.want.thrott {
				t.Errorf("%d requests, stats %+v; want %d calls, %d retries, %d throttled", n, st, tt.want.calls, tt.want.retries, tt.want.thrott)
			}
			if got := len(out.Snapshot.Groups) == 1; got != tt.want.ok {
				t.Errorf("read = %v", got)
			}
			if got := len(out.Missing) == 1; got != tt.want.missing {
				t.Errorf("missing = %v", out.Missing)
			}
			if len(out.NotEvaluated) != 0 {
				t.Errorf("not evaluated %v", out.NotEvaluated)
			}
			if !tt.want.failed {
				if len(out.Failures) != 0 || st.Failed != 0 {
					t.Errorf("failures %v, stats %+v", out.Failures, st)
				}
				return
			}
			if len(out.Failures) != 1 || st.Failed != 1 {
				t.Fatalf("failures %v, stats %+v; want one", out.Failures, st)
			}
			var ae *alikafka.APIError
			if tt.want.code != "" && (!errors.As(out.Failures[0].Err, &ae) || ae.Code != tt.want.code) {
				t.Errorf("failure %v, want %s", out.Failures[0], tt.want.code)
			}
			assertNoSecrets(t, out.Failures[0].Err.Error(), cfg.Credentials)
		})
	}
}

func TestFetchDeadline(t *testing.T) {
	t.Run("unstarted groups are not evaluated", func(t *testing.T) {
		s := newFake(t)
		var sels []alikafka.Selection
		for i := range 40 {
			s.SetGroup(group("cn-hangzhou", "i1", fmt.Sprintf("g%02d", i), 1))
			sels = append(sels, alikafka.Selection{Region: "cn-hangzhou", Instance: "i1", Groups: []string{fmt.Sprintf("g%02d", i)}})
		}
		s.SetLatency(20 * time.Millisecond)
		cfg := config(s)
		cfg.QPS = 20
		ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
		defer cancel()
		start := time.Now()
		out := alikafka.Fetch(ctx, cfg, sels)
		elapsed := time.Since(start)
		t.Logf("%d read, %d not evaluated in %v", len(out.Snapshot.Groups), len(out.NotEvaluated), elapsed)
		if len(out.NotEvaluated) > 0 {
			t.Logf("first reason: %v", out.NotEvaluated[0])
		}
		if len(out.Failures) != 0 {
			t.Errorf("failures %v: running out of time is no failure", out.Failures)
		}
		called := map[string]bool{}
		for _, r := range s.Requests() {
			called[r.ConsumerId] = true
		}
		read := map[string]bool{}
		for _, g := range out.Snapshot.Groups {
			read[g.Group] = true
		}
		// Some were read, and the rest reported. How many were read is no
		// test of the code: a slow machine reads fewer. A fast one reads no
		// more than the rate allows, at most 13 slots in 600ms at 20/s, as
		// the pacer's burst is 1: a worker that runs late does not catch up.
		if len(read) < 1 || len(read) > 14 || len(read)+len(out.NotEvaluated) != 40 {
			t.Fatalf("%d read, %d not evaluated; want some, at most 14, and the rest", len(read), len(out.NotEvaluated))
		}
		givenUp := 0
		for _, f := range out.NotEvaluated {
			if called[f.Group] || read[f.Group] || f.Op != alikafka.OpProgress {
				t.Errorf("%v: not evaluated but called (%v) or read (%v)", f, called[f.Group], read[f.Group])
			}
			if !errors.Is(f.Err, context.DeadlineExceeded) || !strings.Contains(f.Err.Error(), "not read: the run's time budget ran out") {
				t.Errorf("reason %q", f.Err)
			}
			if strings.Contains(f.Err.Error(), "(no call slot left before the deadline in ") {
				givenUp++
			}
		}
		if len(called) != len(read) {
			t.Errorf("%d groups called, %d read: every started call should finish", len(called), len(read))
		}
		// Slots past the deadline are given up at once, not waited for: a
		// group whose slot was waited for would have been stopped by the
		// deadline, with a reason that names no slot. The ten workers ask
		// for the slots past 600ms (the 13th on) as their first 20ms calls
		// end, hundreds of milliseconds before the deadline, so some are
		// given up this way unless the machine stalls for most of the run.
		if givenUp == 0 {
			t.Errorf("no group was given up for want of a slot before the deadline; reasons: %v", out.NotEvaluated)
		}
		if !slices.IsSortedFunc(out.NotEvaluated, func(a, b alikafka.Failure) int { return strings.Compare(a.Group, b.Group) }) {
			t.Error("not evaluated unsorted")
		}
	})

	for _, tt := range []struct {
		name  string
		fault alikafkatest.Fault
		why   string
	}{
		{"abandoned while waiting to retry", alikafkatest.Fault{HTTPStatus: 503, Code: "ServiceUnavailable"}, "gave up retrying after: alikafka: ServiceUnavailable (HTTP 503)"},
		{"throttled until the deadline", alikafkatest.Fault{HTTPStatus: 400, Code: "Throttling.User"}, "gave up retrying after: alikafka: Throttling.User (HTTP 400)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newFake(t)
			s.SetGroup(group("cn-hangzhou", "i1", "g1", 1))
			s.SetGroup(group("cn-hangzhou", "i1", "g2", 1))
			tt.fault.Group = "g1"
			s.Inject(tt.fault)
			cfg := config(s)
			cfg.Retries = 10
			ctx, cancel := context.WithTimeout(context.Background(), 800*time.Millisecond)
			defer cancel()
			out := alikafka.Fetch(ctx, cfg, []alikafka.Selection{{Region: "cn-hangzhou", Instance: "i1", Groups: []string{"g1", "g2"}}})
			if len(out.Snapshot.Groups) != 1 || len(out.Failures) != 0 || len(out.NotEvaluated) != 1 {
				t.Fatalf("groups %v, failures %v, not evaluated %v", names(out), out.Failures, out.NotEvaluated)
			}
			f := out.NotEvaluated[0]
			t.Logf("reason: %v", f)
			if f.Group != "g1" || !errors.Is(f.Err, context.DeadlineExceeded) || !strings.Contains(f.Err.Error(), tt.why) {
				t.Errorf("not evaluated %v, want g1 with %q", f, tt.why)
			}
			if out.Stats.Retries == 0 || out.Stats.Failed != 0 {
				t.Errorf("stats %+v", out.Stats)
			}
		})
	}
}

// A call the service never answers is cut at the deadline, whatever the
// per-call timeout: the SDK takes no context, the transport does.
func TestFetchCutsACallInFlightAtTheDeadline(t *testing.T) {
	s := newFake(t)
	s.SetGroup(group("cn-hangzhou", "i1", "hangs", 1))
	s.SetGroup(group("cn-hangzhou", "i1", "answers", 1))
	s.Inject(alikafkatest.Fault{Group: "hangs", Latency: time.Hour})
	cfg := config(s)
	cfg.Timeout = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	out := alikafka.Fetch(ctx, cfg, []alikafka.Selection{{Region: "cn-hangzhou", Instance: "i1", Groups: []string{"hangs", "answers"}}})
	// An hour-long call ended: the bound is far from anything load causes.
	if elapsed := time.Since(start); elapsed > time.Minute {
		t.Fatalf("Fetch took %v", elapsed)
	}
	if len(out.Snapshot.Groups) != 1 || out.Snapshot.Groups[0].Group != "answers" {
		t.Errorf("read %v, want the group that answers", names(out))
	}
	lost := append(slices.Clone(out.Failures), out.NotEvaluated...)
	if len(lost) != 1 || lost[0].Group != "hangs" {
		t.Fatalf("failures %v, not evaluated %v", out.Failures, out.NotEvaluated)
	}
}

func TestFetchHideLastTimestamp(t *testing.T) {
	s := newFake(t)
	for _, g := range []string{"audit", "orders", "orders-eu", "billing"} {
		s.SetGroup(group("cn-hangzhou", "i1", g, 3))
	}
	s.SetGroup(group("cn-hangzhou", "i2", "orders", 3))
	sels := []alikafka.Selection{
		{Region: "cn-hangzhou", Instance: "i1", Groups: []string{"orders*"}, NeedTimestamps: true},
		{Region: "cn-hangzhou", Instance: "i1", Groups: []string{"*"}, Exclude: []string{"billing"}},
		{Region: "cn-hangzhou", Instance: "i1", Groups: []string{"billing"}, NeedTimestamps: true},
		{Region: "cn-hangzhou", Instance: "i2", Groups: []string{"orders"}},
	}
	out := alikafka.Fetch(context.Background(), config(s), sels)
	if len(out.Snapshot.Groups) != 5 || len(out.Failures) != 0 {
		t.Fatalf("groups %v, failures %v", names(out), out.Failures)
	}
	hidden := map[string]bool{}
	for _, r := range s.Requests() {
		if r.Action != alikafkatest.ActionGetConsumerProgress {
			if _, ok := r.Params["HideLastTimestamp"]; ok {
				t.Errorf("%s carries HideLastTimestamp", r.Action)
			}
			continue
		}
		if !r.SignatureOK {
			t.Errorf("request for %s not signed correctly", r.ConsumerId)
		}
		v, ok := r.Params["HideLastTimestamp"]
		hidden[r.InstanceId+"/"+r.ConsumerId] = r.HideLastTimestamp
		if ok != r.HideLastTimestamp || (ok && v[0] != "true") {
			t.Errorf("%s: HideLastTimestamp=%v", r.ConsumerId, v)
		}
	}
	want := map[string]bool{"i1/audit": true, "i1/orders": false, "i1/orders-eu": false, "i1/billing": false, "i2/orders": true}
	if fmt.Sprint(hidden) != fmt.Sprint(want) {
		t.Errorf("hidden %v, want %v", hidden, want)
	}
	for _, g := range out.Snapshot.Groups {
		ts := []int64{g.LastTimestamp, g.Topics[0].LastTimestamp, g.Topics[0].Partitions[0].LastTimestamp}
		for _, v := range ts {
			if hide := want[g.Instance+"/"+g.Group]; (v == -1) != hide {
				t.Errorf("%s/%s: timestamps %v, hidden %v", g.Instance, g.Group, ts, hide)
				break
			}
		}
	}
}

// Hostile replies through the real SDK and the fake: repaired, reported,
// never trusted blindly.
func TestHostileReplies(t *testing.T) {
	now := time.Now().UnixMilli()
	wrap := func(groupDiff int64, groupTS int64, topics string) string {
		return fmt.Sprintf(`{"Code":200,"Success":true,"RequestId":"R","ConsumerProgress":{"TotalDiff":%d,"LastTimestamp":%d,"TopicList":{"TopicList":[%s]}}}`, groupDiff, groupTS, topics)
	}
	topic := func(name string, diff int64, parts ...string) string {
		return fmt.Sprintf(`{"Topic":%q,"TotalDiff":%d,"LastTimestamp":1700000000000,"OffsetList":{"OffsetList":[%s]}}`, name, diff, strings.Join(parts, ","))
	}
	part := func(p int, broker, consumer, ts int64) string {
		return fmt.Sprintf(`{"Partition":%d,"BrokerOffset":%d,"ConsumerOffset":%d,"LastTimestamp":%d}`, p, broker, consumer, ts)
	}
	const ts = 1700000000000
	many := make([]string, 5000)
	for i := range many {
		many[len(many)-1-i] = part(i, 100, 99, ts) // reversed: sorted on reading
	}
	var hundredTopics []string
	for i := range 100 {
		hundredTopics = append(hundredTopics, topic(fmt.Sprintf("t%03d", i), 0, part(0, -1, 0, ts)))
	}

	tests := []struct {
		name      string
		body      string
		check     func(t *testing.T, g progress.Group)
		anomalies []string // substrings, in order
	}{
		{name: "5000 partitions, consistent", body: wrap(5000, ts, topic("t", 5000, many...)),
			check: func(t *testing.T, g progress.Group) {
				ps := g.Topics[0].Partitions
				if len(ps) != 5000 || ps[0].Partition != 0 || ps[4999].Partition != 4999 || g.TotalDiff != 5000 {
					t.Errorf("%d partitions, diff %d", len(ps), g.TotalDiff)
				}
			}},
		{name: "negative offsets", body: wrap(10, ts, topic("t", 10, part(0, -5, 0, ts), part(1, 10, -1, ts))),
			check: func(t *testing.T, g progress.Group) {
				ps := g.Topics[0].Partitions
				if ps[0].BrokerOffset != 0 || ps[1].ConsumerOffset != 0 || ps[1].Lag() != 10 || g.TotalDiff != 10 {
					t.Errorf("partitions %+v", ps)
				}
			},
			anomalies: []string{`topic "t": negative BrokerOffset for partition 0 (e.g. -5); taken as 0`, `topic "t": negative ConsumerOffset for partition 1 (e.g. -1); taken as 0`}},
		{name: "absent offsets", body: wrap(0, ts, topic("t", 0, `{"Partition":0,"ConsumerOffset":3}`, `{"Partition":1,"BrokerOffset":null}`, `{"Partition":2,"BrokerOffset":"","ConsumerOffset":""}`)),
			anomalies: []string{`no BrokerOffset for partitions 0, 1, 2; taken as 0`, `no ConsumerOffset for partitions 1, 2; taken as 0`, `ConsumerOffset ahead of BrokerOffset for partition 0`}},
		{name: "consumer ahead", body: wrap(-2, ts, topic("t", -2, part(0, 5, 7, ts), part(1, 5, 5, ts))),
			check: func(t *testing.T, g progress.Group) {
				if g.TotalDiff != 0 || g.Topics[0].TotalDiff != 0 || g.Topics[0].Partitions[0].ConsumerOffset != 7 {
					t.Errorf("group %+v", g)
				}
			},
			anomalies: []string{`topic "t": ConsumerOffset ahead of BrokerOffset for partition 0; lag counted as 0`}},
		{name: "duplicate topics merged", body: wrap(3, ts, topic("t", 1, part(0, 2, 1, ts), part(1, 5, 5, ts))+","+topic("t", 2, part(1, 9, 9, ts), part(2, 3, 1, ts))),
			check: func(t *testing.T, g progress.Group) {
				ps := g.Topics[0].Partitions
				if len(g.Topics) != 1 || len(ps) != 3 || ps[1].BrokerOffset != 5 || g.Topics[0].TotalDiff != 3 || g.TotalDiff != 3 {
					t.Errorf("topics %+v", g.Topics)
				}
			},
			anomalies: []string{`topic "t": listed 2 times; the entries were merged`, `topic "t": partition 1 listed more than once (1 extra entry); kept the first entry of each`}},
		{name: "duplicate partitions", body: wrap(1, ts, topic("t", 1, part(3, 2, 1, ts), part(3, 100, 0, ts), part(3, 7, 7, ts), part(4, 0, 0, ts), part(4, 0, 0, ts))),
			check: func(t *testing.T, g progress.Group) {
				ps := g.Topics[0].Partitions
				if len(ps) != 2 || ps[0].BrokerOffset != 2 || g.TotalDiff != 1 {
					t.Errorf("partitions %+v", ps)
				}
			},
			anomalies: []string{`partitions 3, 4 listed more than once (3 extra entries)`}},
		{name: "absurd timestamps", body: wrap(0, now+48*3600*1000, topic("t", 0, part(0, 1, 1, 1566874931), part(1, 1, 1, now+1000), part(2, 1, 1, -1), part(3, 1, 1, 0))),
			check: func(t *testing.T, g progress.Group) {
				ps := g.Topics[0].Partitions
				if g.LastTimestamp != -1 || ps[0].LastTimestamp != -1 || ps[1].LastTimestamp != now+1000 || ps[2].LastTimestamp != -1 || ps[3].LastTimestamp != 0 {
					t.Errorf("group %d, partitions %+v", g.LastTimestamp, ps)
				}
			},
			anomalies: []string{`group: implausible LastTimestamp`, `topic "t": implausible LastTimestamp for partition 0 (e.g. 1566874931); treated as unknown`}},
		{name: "totals disagree", body: wrap(100, ts, topic("a", 1, part(0, 10, 0, ts))+","+topic("b", 50)),
			check: func(t *testing.T, g progress.Group) {
				if g.Topics[0].TotalDiff != 10 || g.Topics[1].TotalDiff != 50 || g.TotalDiff != 100 {
					t.Errorf("totals %d %d %d", g.TotalDiff, g.Topics[0].TotalDiff, g.Topics[1].TotalDiff)
				}
			},
			anomalies: []string{`group: TotalDiff 100 disagrees with the sum over its topics 60; using 100`, `topic "a": TotalDiff 1 disagrees with the sum of its partitions' lag 10; using 10`}},
		{name: "group total follows repaired topics", body: wrap(1, ts, topic("a", 1, part(0, 10, 0, ts))),
			check: func(t *testing.T, g progress.Group) {
				if g.TotalDiff != 10 {
					t.Errorf("total %d", g.TotalDiff)
				}
			},
			anomalies: []string{`topic "a": TotalDiff 1 disagrees`}},
		{name: "negative totals", body: wrap(-7, ts, topic("a", -3)),
			check: func(t *testing.T, g progress.Group) {
				if g.TotalDiff != 0 || g.Topics[0].TotalDiff != 0 {
					t.Errorf("totals %d %d", g.TotalDiff, g.Topics[0].TotalDiff)
				}
			},
			anomalies: []string{`topic "a": negative TotalDiff -3; taken as 0`}},
		{name: "no partition number", body: wrap(0, ts, topic("t", 0, `{"BrokerOffset":1,"ConsumerOffset":1}`, part(-1, 1, 1, ts), part(0, 1, 1, ts))),
			check: func(t *testing.T, g progress.Group) {
				if len(g.Topics[0].Partitions) != 1 {
					t.Errorf("partitions %+v", g.Topics[0].Partitions)
				}
			},
			anomalies: []string{`topic "t": 2 offset entries without a valid Partition number; ignored`}},
		{name: "sums saturate", body: wrap(0, ts, topic("t", 0, part(0, 9223372036854775807, 0, ts), part(1, 9223372036854775807, 0, ts))),
			check: func(t *testing.T, g progress.Group) {
				if g.TotalDiff != 9223372036854775807 || g.Topics[0].TotalDiff != 9223372036854775807 {
					t.Errorf("totals %d %d", g.TotalDiff, g.Topics[0].TotalDiff)
				}
			},
			anomalies: []string{`topic "t": TotalDiff 0 disagrees with the sum of its partitions' lag 9223372036854775807; using 9223372036854775807`}},
		{name: "anomalies are capped", body: wrap(0, ts, strings.Join(hundredTopics, ",")),
			check: func(t *testing.T, g progress.Group) {
				if len(g.Anomalies) != 17 || g.Anomalies[16] != "… and 84 more anomalies" || len(g.Topics) != 100 {
					t.Errorf("%d anomalies, last %q", len(g.Anomalies), g.Anomalies[len(g.Anomalies)-1])
				}
			}},
		{name: "sound reply has none", body: wrap(1, ts, topic("t", 1, part(0, 2, 1, ts))),
			check: func(t *testing.T, g progress.Group) {
				if g.Anomalies != nil {
					t.Errorf("anomalies %q", g.Anomalies)
				}
			}},
	}
	s := newFake(t)
	c := newClient(t, "cn-hangzhou", config(s))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.SetRawProgress("i1", "g", tt.body)
			g, err := c.Progress("i1", "g")
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, g)
			}
			all := strings.Join(g.Anomalies, "\n")
			at := 0
			for _, want := range tt.anomalies {
				i := strings.Index(all[at:], want)
				if i < 0 {
					t.Errorf("anomalies lack %q (in order):\n%s", want, all)
					continue
				}
				at += i + len(want)
			}
			if tt.anomalies != nil && len(g.Anomalies) > len(tt.anomalies)+2 {
				t.Errorf("too many anomalies:\n%s", all)
			}
			// Whatever came in, what goes out is sane.
			for _, tp := range g.Topics {
				for i, p := range tp.Partitions {
					if p.BrokerOffset < 0 || p.ConsumerOffset < 0 || (i > 0 && p.Partition <= tp.Partitions[i-1].Partition) {
						t.Fatalf("partition %+v", p)
					}
				}
			}
		})
	}
}

func TestBadReplyBodies(t *testing.T) {
	s := newFake(t)
	huge := `{"Code":200,"Success":true,"Message":"` + strings.Repeat("x", alikafka.MaxReplyBytes) + `"}`
	s.SetRawProgress("i1", "huge", huge)
	s.SetRawProgress("i1", "deep", strings.Repeat(`{"a":`, 20000)+"1"+strings.Repeat("}", 20000))
	s.SetRawProgress("i1", "deep-list", `{"Code":200,"ConsumerProgress":{"TopicList":`+strings.Repeat("[", 20000)+strings.Repeat("]", 20000)+`}}`)
	for _, tt := range []struct{ group, want string }{
		{"huge", "larger than 8 MiB"},
		{"deep", "cannot decode"},
		{"deep-list", "cannot decode"},
	} {
		t.Run(tt.group, func(t *testing.T) {
			s.ResetRequests()
			out := alikafka.Fetch(context.Background(), config(s), []alikafka.Selection{{Region: "cn-hangzhou", Instance: "i1", Groups: []string{tt.group}}})
			if len(out.Failures) != 1 || !strings.Contains(out.Failures[0].Err.Error(), tt.want) {
				t.Fatalf("failures %v, want %q", out.Failures, tt.want)
			}
			if out.Stats.Calls != 1 {
				t.Errorf("%d calls: a bad reply is not retried", out.Stats.Calls)
			}
		})
	}
}

// BenchmarkFetch reads 2,000 and 10,000 groups of 12 partitions from the
// fake as fast as it serves them (QPS 10,000, 64 workers).
func BenchmarkFetch(b *testing.B) {
	for _, n := range []int{2000, 10000} {
		b.Run(fmt.Sprintf("groups=%d", n), func(b *testing.B) {
			s := alikafkatest.NewServer(fakeCreds(testCreds))
			defer s.Close()
			manyGroups(s, n)
			cfg := alikafka.Config{Credentials: testCreds, Endpoint: s.URL, QPS: 10000, Concurrency: 64}
			b.ResetTimer()
			for range b.N {
				s.ResetRequests()
				out := alikafka.Fetch(context.Background(), cfg, allOfI1)
				if len(out.Snapshot.Groups) != n || len(out.Failures) != 0 {
					b.Fatalf("%d groups, failures %v", len(out.Snapshot.Groups), out.Failures)
				}
				b.ReportMetric(float64(out.Stats.Calls)/out.Stats.Elapsed.Seconds(), "calls/s")
			}
		})
	}
}
