package propose

import (
	"slices"
	"testing"
)

func TestExcludeReason(t *testing.T) {
	for _, tc := range []struct {
		name      string
		committed bool
		want      string
	}{
		{"orders-test", true, "name ends in -test"},
		{"orders_TEST", true, "name ends in _test"},
		{"pay-dev", true, "name ends in -dev"},
		{"Pay_Dev", false, "name ends in _dev"},
		{"CID_x", false, ReasonNeverUsed},
		{"cid-legacy", false, ReasonNeverUsed},
		{"CID_y", true, ""},   // used: kept
		{"orders", false, ""}, // never committed, but not console-named
		{"testers", true, ""}, // "test" elsewhere than at the end
		{"orders-devices", true, ""},
		{"latest", true, ""}, // ends in "test", not "-test"
	} {
		if got := ExcludeReason(Group{Name: tc.name, Committed: tc.committed}); got != tc.want {
			t.Errorf("ExcludeReason(%q, committed %v) = %q, want %q", tc.name, tc.committed, got, tc.want)
		}
	}
}

func TestSelectGroups(t *testing.T) {
	tests := []struct {
		name                  string
		want, excluded, all   []string
		groups, excludeGroups []string
	}{
		{"a shared prefix becomes a glob",
			[]string{"orders-api", "orders-pay", "billing"}, []string{"orders-test"}, nil,
			[]string{"billing", "orders-*"}, []string{"orders-test"}},
		{"one group of a prefix stays a name",
			[]string{"orders-api", "billing_x"}, nil, nil,
			[]string{"billing_x", "orders-api"}, nil},
		{"each separator makes its prefix",
			[]string{"a.b", "a.c", "a-b", "a_b", "a_c"}, nil, nil,
			[]string{"a-b", "a.*", "a_*"}, nil},
		{"names without a separator stay names",
			[]string{"billing", "shipping"}, nil, nil,
			[]string{"billing", "shipping"}, nil},
		{"a glob that would take another's group is not used",
			[]string{"orders-api", "orders-pay"}, nil, []string{"orders-tagged"},
			[]string{"orders-api", "orders-pay"}, nil},
		{"nor one that would take a group nobody read",
			[]string{"orders-api", "orders-pay"}, []string{"orders-test"}, []string{"orders-unread"},
			[]string{"orders-api", "orders-pay"}, []string{"orders-test"}},
		{"glob characters in names are escaped",
			[]string{"we*rd-a", "we*rd-b", "[x]"}, []string{"we*rd-test"}, []string{"weird-a"},
			[]string{`\[x\]`, `we\*rd-*`}, []string{`we\*rd-test`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			all := slices.Concat(tc.want, tc.excluded, tc.all)
			groups, exclude := selectGroups(tc.want, tc.excluded, all)
			if !slices.Equal(groups, tc.groups) || !slices.Equal(exclude, tc.excludeGroups) {
				t.Errorf("groups %q, exclude %q; want %q, %q", groups, exclude, tc.groups, tc.excludeGroups)
			}
			if !selectsExactly(groups, exclude, set(tc.want), all) {
				t.Errorf("groups %q except %q do not select exactly %q among %q", groups, exclude, tc.want, all)
			}
		})
	}
}
