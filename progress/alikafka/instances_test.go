package alikafka_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/backlog-alert/backlog-alert/progress/alikafka"
	"github.com/backlog-alert/backlog-alert/progress/alikafkatest"
)

func TestClientInstancesAndGroupInfo(t *testing.T) {
	s := newFake(t)
	s.SetInstanceMeta("cn-hangzhou", "i1", alikafkatest.InstanceMeta{Name: "main", Tags: map[string]string{"env": "prod"}})
	s.SetInstanceMeta("cn-hangzhou", "i0", alikafkatest.InstanceMeta{Name: "old", ServiceStatus: 10})
	s.AddInstance("cn-beijing", "ib")
	s.SetGroup(group("cn-hangzhou", "i1", "g1", 1))
	s.SetGroupMeta("i1", "g1", "first", map[string]string{"team": "a"})
	c := newClient(t, "cn-hangzhou", config(s))
	insts, err := c.Instances()
	if err != nil {
		t.Fatal(err)
	}
	want := []alikafka.Instance{
		{ID: "i0", Name: "old", ServiceStatus: 10},
		{ID: "i1", Name: "main", ServiceStatus: 5, Running: true, Tags: map[string]string{"env": "prod"}},
	}
	if !reflect.DeepEqual(insts, want) {
		t.Errorf("Instances %+v, want %+v", insts, want)
	}
	infos, err := c.ListGroupInfo("i1")
	if err != nil {
		t.Fatal(err)
	}
	if w := []alikafka.GroupInfo{{Name: "g1", Remark: "first", Tags: map[string]string{"team": "a"}}}; !reflect.DeepEqual(infos, w) {
		t.Errorf("ListGroupInfo %+v, want %+v", infos, w)
	}
}

func TestFetchAllInstances(t *testing.T) {
	s := newFake(t)
	s.SetInstanceMeta("cn-hangzhou", "h-stopped", alikafkatest.InstanceMeta{ServiceStatus: 10})
	for _, g := range []struct{ region, inst, name string }{
		{"cn-hangzhou", "h1", "orders"}, {"cn-hangzhou", "h1", "billing"}, {"cn-hangzhou", "h2", "orders"},
		{"cn-hangzhou", "h-stopped", "orders"}, {"cn-beijing", "b1", "orders"}, {"cn-shanghai", "s1", "orders"},
	} {
		s.SetGroup(group(g.region, g.inst, g.name, 1))
	}
	sels := []alikafka.Selection{
		{Region: "cn-hangzhou", Instance: "*", Groups: []string{"orders"}},
		{Region: "cn-hangzhou", Instance: "*", Groups: []string{"bill*"}},
		{Region: "cn-beijing", Instance: "*", Groups: []string{"*"}},
	}
	out := alikafka.Fetch(context.Background(), config(s), sels)
	if len(out.Failures)+len(out.Missing)+len(out.NotEvaluated) != 0 {
		t.Fatalf("failures %v, missing %v, not evaluated %v", out.Failures, out.Missing, out.NotEvaluated)
	}
	want := []string{"cn-beijing/b1/orders", "cn-hangzhou/h1/billing", "cn-hangzhou/h1/orders", "cn-hangzhou/h2/orders"}
	if got := names(out); !reflect.DeepEqual(got, want) {
		t.Errorf("read %v, want %v", got, want)
	}
	regions := map[string]int{}
	for _, r := range s.Requests() {
		if r.Action == alikafkatest.ActionGetInstanceList {
			regions[r.Params.Get("RegionId")]++
		}
		if r.InstanceId == "h-stopped" {
			t.Errorf("stopped instance called: %s", r.Action)
		}
	}
	if w := map[string]int{"cn-hangzhou": 1, "cn-beijing": 1}; !reflect.DeepEqual(regions, w) {
		t.Errorf("GetInstanceList per region %v, want %v", regions, w)
	}
}

func TestFetchTags(t *testing.T) {
	tagged := map[string]map[string]string{
		"a-prod":   {"team": "payments", "env": "prod"},
		"a-stage":  {"team": "payments", "env": "staging"},
		"b-prod":   {"team": "search", "env": "prod-eu"},
		"untagged": nil,
		"team":     {"team": "payments"},
	}
	tests := []struct {
		name   string
		sel    alikafka.Selection
		want   []string
		listed bool
	}{
		{"exact", alikafka.Selection{Groups: []string{"*"}, Tags: map[string]string{"team": "payments", "env": "prod"}}, []string{"a-prod"}, true},
		{"glob value", alikafka.Selection{Groups: []string{"*"}, Tags: map[string]string{"env": "prod*"}}, []string{"a-prod", "b-prod"}, true},
		{"one key", alikafka.Selection{Groups: []string{"*"}, Tags: map[string]string{"team": "pay*"}}, []string{"a-prod", "a-stage", "team"}, true},
		{"every key must match", alikafka.Selection{Groups: []string{"*"}, Tags: map[string]string{"team": "payments", "env": "*"}}, []string{"a-prod", "a-stage"}, true},
		{"no match", alikafka.Selection{Groups: []string{"*"}, Tags: map[string]string{"owner": "*"}}, nil, true},
		{"plain names are listed", alikafka.Selection{Groups: []string{"a-prod", "b-prod", "untagged"}, Tags: map[string]string{"env": "prod"}}, []string{"a-prod"}, true},
		{"with exclude", alikafka.Selection{Groups: []string{"a-*"}, Exclude: []string{"*stage"}, Tags: map[string]string{"team": "*"}}, []string{"a-prod"}, true},
		{"no tags, plain name", alikafka.Selection{Groups: []string{"untagged"}}, []string{"untagged"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newFake(t)
			for name, tags := range tagged {
				g := group("cn-hangzhou", "i1", name, 1)
				g.Tags = tags
				s.SetGroup(g)
			}
			tc.sel.Region, tc.sel.Instance = "cn-hangzhou", "i1"
			out := alikafka.Fetch(context.Background(), config(s), []alikafka.Selection{tc.sel})
			if len(out.Failures)+len(out.Missing) != 0 {
				t.Fatalf("failures %v, missing %v", out.Failures, out.Missing)
			}
			var got []string
			for _, g := range out.Snapshot.Groups {
				got = append(got, g.Group)
				if tc.listed && !reflect.DeepEqual(g.Tags, tagged[g.Group]) {
					t.Errorf("%s has tags %v, want %v", g.Group, g.Tags, tagged[g.Group])
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("read %v, want %v", got, tc.want)
			}
			if n, _ := countActions(s, "GetConsumerList"); (n > 0) != tc.listed {
				t.Errorf("%d GetConsumerList calls, listed %v", n, tc.listed)
			}
		})
	}
}

func TestFetchInstanceListFailure(t *testing.T) {
	s := newFake(t)
	s.SetGroup(group("cn-hangzhou", "h1", "orders", 1))
	s.SetGroup(group("cn-hangzhou", "h2", "orders", 1))
	s.SetGroup(group("cn-beijing", "b1", "orders", 1))
	s.Inject(alikafkatest.Fault{Action: alikafkatest.ActionGetInstanceList, Region: "cn-hangzhou", HTTPStatus: 403, Code: "Forbidden.RAM"})
	out := alikafka.Fetch(context.Background(), config(s), []alikafka.Selection{
		{Region: "cn-hangzhou", Instance: "*", Groups: []string{"orders"}},
		{Region: "cn-hangzhou", Instance: "h2", Groups: []string{"orders"}},
		{Region: "cn-beijing", Instance: "*", Groups: []string{"orders"}},
	})
	if len(out.Failures) != 1 {
		t.Fatalf("failures %v, want one", out.Failures)
	}
	if f := out.Failures[0]; f.Op != alikafka.OpInstances || f.Region != "cn-hangzhou" || f.Instance != "" || f.Group != "" || f.Err == nil {
		t.Errorf("failure %+v", f)
	}
	if want := []string{"cn-beijing/b1/orders", "cn-hangzhou/h2/orders"}; !reflect.DeepEqual(names(out), want) {
		t.Errorf("read %v, want %v", names(out), want)
	}
	if len(out.Missing)+len(out.NotEvaluated) != 0 {
		t.Errorf("missing %v, not evaluated %v", out.Missing, out.NotEvaluated)
	}
}
