package function

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/backlog-alert/backlog-alert/progress"
	"github.com/backlog-alert/backlog-alert/rules"
)

// maxUnroutedNamed bounds the groups an unrouted warning names.
const maxUnroutedNamed = 3

// unrouted warns, once per rule and tag value each run, of the groups a rule
// routes by tag that no route takes: their alerts go to the rule's notify
// channels, which is right for a new team only until someone adds its route.
func unrouted(f *rules.File, snap progress.Snapshot) []string {
	type key struct {
		rule  int
		value string
	}
	groups := map[key][]string{}
	var keys []key
	for i := range f.Rules {
		r := &f.Rules[i]
		if r.Routes == nil {
			continue
		}
		for gi := range snap.Groups {
			g := &snap.Groups[gi]
			if !r.Matches(g.Region, g.Instance, g.Group, g.Tags) {
				continue
			}
			if _, routed := r.Channels(g.Tags); routed {
				continue
			}
			k := key{rule: i}
			if v, ok := g.Tags[r.Routes.Tag]; ok {
				k.value = r.Routes.Tag + "=" + v
			}
			if groups[k] == nil {
				keys = append(keys, k)
			}
			groups[k] = append(groups[k], g.Group)
		}
	}
	slices.SortFunc(keys, func(a, b key) int { return cmp.Or(a.rule-b.rule, cmp.Compare(a.value, b.value)) })
	var out []string
	for _, k := range keys {
		gs := groups[k]
		named := strings.Join(gs[:min(len(gs), maxUnroutedNamed)], ", ")
		if len(gs) > maxUnroutedNamed {
			named += fmt.Sprintf(" and %d more", len(gs)-maxUnroutedNamed)
		}
		r := &f.Rules[k.rule]
		what := fmt.Sprintf("has no route for %s", k.value)
		if k.value == "" {
			what = "some groups have no tag " + r.Routes.Tag
		}
		out = append(out, fmt.Sprintf("rule %s routes by tag %s (line %d) but %s: the alerts of %d groups (%s) go to its notify channels %s",
			r.Name, r.Routes.Tag, r.Routes.Line, what, len(gs), named, strings.Join(r.Notify, ", ")))
	}
	return out
}
