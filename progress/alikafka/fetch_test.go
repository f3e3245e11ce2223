package alikafka_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/progress"
	"github.com/backlog-alert/backlog-alert/progress/alikafka"
	"github.com/backlog-alert/backlog-alert/progress/alikafkatest"
)

func names(out alikafka.Outcome) []string {
	var n []string
	for _, g := range out.Snapshot.Groups {
		n = append(n, g.Region+"/"+g.Instance+"/"+g.Group)
	}
	return n
}

func countActions(s *alikafkatest.Server, action string) (n int, pages []string) {
	for _, r := range s.Requests() {
		if r.Action == action {
			n++
			pages = append(pages, r.Params.Get("CurrentPage")+"/"+r.Params.Get("PageSize"))
		}
	}
	return n, pages
}

func TestFetchGlobPagesListOnce(t *testing.T) {
	s := newFake(t)
	for i := range 250 {
		s.SetGroup(group("cn-hangzhou", "i1", fmt.Sprintf("app-%03d", i), int64(i)))
	}
	s.SetGroup(group("cn-hangzhou", "i1", "other", 1))
	sels := []alikafka.Selection{
		{Region: "cn-hangzhou", Instance: "i1", Groups: []string{"app-1??"}, Exclude: []string{"app-15?"}},
		{Region: "cn-hangzhou", Instance: "i1", Groups: []string{"app-2*", "app-100", "other"}},
	}
	out := alikafka.Fetch(context.Background(), config(s), sels)
	if len(out.Failures) != 0 || len(out.Missing) != 0 {
		t.Fatalf("failures %v, missing %v", out.Failures, out.Missing)
	}
	n, pages := countActions(s, "GetConsumerList")
	if want := []string{"1/100", "2/100", "3/100"}; n != 3 || !reflect.DeepEqual(pages, want) {
		t.Errorf("list calls %v, want %v (instance listed once, all pages)", pages, want)
	}
	// app-100..199 minus app-150..159 (90), app-200..249 (50), other; app-100 only once.
	got := names(out)
	if len(got) != 141 || !slices.IsSorted(got) {
		t.Fatalf("%d groups (sorted %v), want 141", len(got), slices.IsSorted(got))
	}
	for _, absent := range []string{"cn-hangzhou/i1/app-155", "cn-hangzhou/i1/app-099"} {
		if slices.Contains(got, absent) {
			t.Errorf("%s must not be read", absent)
		}
	}
	if n, _ := countActions(s, "GetConsumerProgress"); n != 141 {
		t.Errorf("%d progress calls, want 141 (deduplicated)", n)
	}
	if g := out.Snapshot.Groups[len(got)-1]; g.Group != "other" || g.TotalDiff != 1 || g.Region != "cn-hangzhou" {
		t.Errorf("last group %+v", g)
	}
}

func TestFetchSelections(t *testing.T) {
	s := newFake(t)
	s.AddInstance("cn-beijing", "ib")
	for _, g := range []progress.Group{
		group("cn-hangzhou", "i1", "orders", 5),
		group("cn-hangzhou", "i1", "orders-replay", 6),
		group("cn-hangzhou", "i1", "billing", 7),
		group("cn-hangzhou", "i2", "orders", 8),
		group("cn-beijing", "ib", "orders", 9),
	} {
		s.SetGroup(g)
	}
	// Listed by GetConsumerList but gone by the time it is read.
	s.SetRawProgress("i1", "orders-vanished", `{"Success":false,"Code":"BIZ_SUBSCRIPTION_NOT_FOUND","Message":"gone"}`)

	tests := []struct {
		name     string
		sels     []alikafka.Selection
		groups   []string
		missing  []alikafka.GroupRef
		failures []string // Op region/instance/group
		lists    int
	}{
		{
			name:   "plain names need no listing",
			sels:   []alikafka.Selection{{Region: "cn-hangzhou", Instance: "i1", Groups: []string{"orders", "billing"}}},
			groups: []string{"cn-hangzhou/i1/billing", "cn-hangzhou/i1/orders"},
		},
		{
			name:   "exclude applies to named groups and globs",
			sels:   []alikafka.Selection{{Region: "cn-hangzhou", Instance: "i1", Groups: []string{"*", "billing"}, Exclude: []string{"b*", "*-replay"}}},
			groups: []string{"cn-hangzhou/i1/orders"},
			lists:  1,
		},
		{
			name: "regions and instances sorted",
			sels: []alikafka.Selection{
				{Region: "cn-hangzhou", Instance: "i2", Groups: []string{"orders"}},
				{Region: "cn-hangzhou", Instance: "i1", Groups: []string{"orders"}},
				{Region: "cn-beijing", Instance: "ib", Groups: []string{"ord*"}},
			},
			groups: []string{"cn-beijing/ib/orders", "cn-hangzhou/i1/orders", "cn-hangzhou/i2/orders"},
			lists:  1,
		},
		{
			name: "explicit missing group; vanished globbed group is dropped",
			sels: []alikafka.Selection{
				{Region: "cn-hangzhou", Instance: "i1", Groups: []string{"orders*", "nope", "orders-vanished2"}},
				{Region: "cn-hangzhou", Instance: "i2", Groups: []string{"ghost"}},
			},
			groups: []string{"cn-hangzhou/i1/orders", "cn-hangzhou/i1/orders-replay"},
			missing: []alikafka.GroupRef{
				{Region: "cn-hangzhou", Instance: "i1", Group: "nope"},
				{Region: "cn-hangzhou", Instance: "i1", Group: "orders-vanished2"},
				{Region: "cn-hangzhou", Instance: "i2", Group: "ghost"},
			},
			lists: 1,
		},
		{
			name:    "named and globbed: named wins, so a vanished group is Missing",
			sels:    []alikafka.Selection{{Region: "cn-hangzhou", Instance: "i1", Groups: []string{"orders-v*", "orders-vanished"}}},
			missing: []alikafka.GroupRef{{Region: "cn-hangzhou", Instance: "i1", Group: "orders-vanished"}},
			lists:   1,
		},
		{
			name: "unknown instance: listing fails, named group fails, others go on",
			sels: []alikafka.Selection{
				{Region: "cn-hangzhou", Instance: "nosuch", Groups: []string{"*", "orders"}},
				{Region: "cn-hangzhou", Instance: "i1", Groups: []string{"billing"}},
			},
			groups:   []string{"cn-hangzhou/i1/billing"},
			failures: []string{"GetConsumerList cn-hangzhou/nosuch/", "GetConsumerProgress cn-hangzhou/nosuch/orders"},
			lists:    1,
		},
		{
			name:     "instance in another region",
			sels:     []alikafka.Selection{{Region: "cn-hangzhou", Instance: "ib", Groups: []string{"orders"}}},
			failures: []string{"GetConsumerProgress cn-hangzhou/ib/orders"},
		},
		{
			name:     "bad pattern",
			sels:     []alikafka.Selection{{Region: "cn-hangzhou", Instance: "i1", Groups: []string{"orders", "[a-"}}},
			groups:   []string{"cn-hangzhou/i1/orders"},
			failures: []string{"Select cn-hangzhou/i1/[a-"},
			lists:    1,
		},
		{
			name:     "bad region",
			sels:     []alikafka.Selection{{Region: "no such/region", Instance: "i1", Groups: []string{"orders"}}},
			failures: []string{"GetConsumerProgress no such/region/i1/orders"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.ResetRequests()
			out := alikafka.Fetch(context.Background(), config(s), tt.sels)
			if got := names(out); !reflect.DeepEqual(got, tt.groups) {
				t.Errorf("groups %v, want %v", got, tt.groups)
			}
			if !reflect.DeepEqual(out.Missing, tt.missing) {
				t.Errorf("missing %v, want %v", out.Missing, tt.missing)
			}
			var failures []string
			for _, f := range out.Failures {
				failures = append(failures, f.Op+" "+f.Region+"/"+f.Instance+"/"+f.Group)
				if f.Err == nil {
					t.Errorf("failure without error: %v", f)
				}
				assertNoSecrets(t, f.Err.Error())
			}
			if !reflect.DeepEqual(failures, tt.failures) {
				t.Errorf("failures %v, want %v (%v)", failures, tt.failures, out.Failures)
			}
			if n, _ := countActions(s, "GetConsumerList"); n != tt.lists {
				t.Errorf("%d list calls, want %d", n, tt.lists)
			}
		})
	}
}

func TestFetchOneFailureDoesNotStopOthers(t *testing.T) {
	s := newFake(t)
	var want []string
	for i := range 10 {
		name := fmt.Sprintf("g%d", i)
		s.SetGroup(group("cn-hangzhou", "i1", name, int64(i)))
		if i != 3 && i != 6 {
			want = append(want, "cn-hangzhou/i1/"+name)
		}
	}
	s.Inject(alikafkatest.Fault{Action: "GetConsumerProgress", Group: "g3", HTTPStatus: 500, Code: "InternalError"})
	s.SetRawProgress("i1", "g6", `{"Code":200,"Success":false,"Message":"internal","RequestId":"R6"}`)

	out := alikafka.Fetch(context.Background(), config(s), []alikafka.Selection{{Region: "cn-hangzhou", Instance: "i1", Groups: []string{"g*"}}})
	if got := names(out); !reflect.DeepEqual(got, want) {
		t.Errorf("groups %v, want %v", got, want)
	}
	if len(out.Failures) != 2 {
		t.Fatalf("failures %v", out.Failures)
	}
	var ae *alikafka.APIError
	if f := out.Failures[0]; f.Group != "g3" || f.Op != alikafka.OpProgress || !errors.As(f.Err, &ae) || ae.HTTPStatus != 500 || ae.Code != "InternalError" {
		t.Errorf("failure %v", f)
	}
	if f := out.Failures[1]; f.Group != "g6" || !errors.As(f.Err, &ae) || ae.HTTPStatus != 200 || ae.RequestID != "R6" {
		t.Errorf("failure %v", f)
	}
}

func TestFetchConcurrency(t *testing.T) {
	s := newFake(t)
	var sels []alikafka.Selection
	for i := range 40 {
		region := []string{"cn-hangzhou", "cn-shanghai"}[i%2]
		s.SetGroup(group(region, "i-"+region, fmt.Sprintf("g%02d", i), int64(i)))
		sels = append(sels, alikafka.Selection{Region: region, Instance: "i-" + region, Groups: []string{fmt.Sprintf("g%02d", i)}})
	}
	s.Inject(alikafkatest.Fault{Latency: 20 * time.Millisecond})
	cfg := config(s)
	cfg.Concurrency = 4
	out := alikafka.Fetch(context.Background(), cfg, sels)
	if len(out.Snapshot.Groups) != 40 || len(out.Failures) != 0 {
		t.Fatalf("%d groups, failures %v", len(out.Snapshot.Groups), out.Failures)
	}
	// The calls overlap, four at a time and never more, as the server saw
	// them; how much faster than serial that makes a run is for `make
	// bench` to measure.
	if got := s.MaxInFlight(); got != 4 {
		t.Errorf("max in flight %d, want 4", got)
	}
	t.Logf("40 calls of 20ms on 4 workers in %v", out.Stats.Elapsed)
	for _, g := range out.Snapshot.Groups {
		if want := "i-" + g.Region; g.Instance != want || len(g.Topics) != 1 {
			t.Errorf("group %+v", g)
		}
	}
}

func TestFetchContext(t *testing.T) {
	s := newFake(t)
	var sels []alikafka.Selection
	for i := range 10 {
		s.SetGroup(group("cn-hangzhou", "i1", fmt.Sprintf("g%d", i), 1))
		sels = append(sels, alikafka.Selection{Region: "cn-hangzhou", Instance: "i1", Groups: []string{fmt.Sprintf("g%d", i)}})
	}
	sels = append(sels, alikafka.Selection{Region: "cn-hangzhou", Instance: "i1", Groups: []string{"*"}})

	t.Run("done before start", func(t *testing.T) {
		s.ResetRequests()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		out := alikafka.Fetch(ctx, config(s), sels)
		if len(out.Snapshot.Groups) != 0 || len(out.Failures) != 0 || len(out.NotEvaluated) != 11 || len(s.Requests()) != 0 {
			t.Fatalf("groups %d, failures %d, not evaluated %d, requests %d", len(out.Snapshot.Groups), len(out.Failures), len(out.NotEvaluated), len(s.Requests()))
		}
		for _, f := range out.NotEvaluated {
			if !errors.Is(f.Err, context.Canceled) || !strings.Contains(f.Err.Error(), "not read: the run was cancelled") {
				t.Errorf("not evaluated %v", f)
			}
		}
		if f := out.NotEvaluated[0]; f.Op != alikafka.OpList || f.Group != "" {
			t.Errorf("first not evaluated %v, want the listing", f)
		}
		if out.Stats.Calls != 0 || out.Stats.Failed != 0 {
			t.Errorf("stats %+v", out.Stats)
		}
	})
}
