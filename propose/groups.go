package propose

import (
	"path"
	"slices"
	"strings"
)

// TestSuffixes mark a group as a test or development one by its name's end
// (compared case-insensitively): its backlog is nobody's emergency.
var TestSuffixes = []string{"-test", "_test", "-dev", "_dev"}

// ConsolePrefixes start the names the console suggests for a new group
// (compared case-insensitively). Such a group that has never committed an
// offset was created and never used.
var ConsolePrefixes = []string{"CID_", "CID-"}

// Exclusion reasons, as the proposed file's comments give them.
const (
	ReasonTestName  = "name ends in " // followed by the suffix
	ReasonNeverUsed = "console-created group that has never committed an offset"
)

// ExcludeReason says why a group should not be watched, or "" when it
// should: a test or development name (see TestSuffixes), or a
// console-created name (see ConsolePrefixes) whose progress shows no commit.
func ExcludeReason(g Group) string {
	lower := strings.ToLower(g.Name)
	for _, s := range TestSuffixes {
		if strings.HasSuffix(lower, s) {
			return ReasonTestName + s
		}
	}
	upper := strings.ToUpper(g.Name)
	for _, p := range ConsolePrefixes {
		if strings.HasPrefix(upper, p) && !g.Committed {
			return ReasonNeverUsed
		}
	}
	return ""
}

// separators end the prefix that groups names into one glob.
const separators = "-_."

// prefix is name up to and including its first separator, or "" when it
// has none.
func prefix(name string) string {
	if i := strings.IndexAny(name, separators); i >= 0 {
		return name[:i+1]
	}
	return ""
}

// escapeGlob makes s a pattern that matches only s.
func escapeGlob(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// selectGroups returns the groups and exclude_groups entries of a rule
// that, among all (every group name known on one instance), select exactly
// want. excluded (test-looking names, none of them wanted) become
// exclude_groups. Names sharing a prefix (see prefix) with at least one
// other wanted name become prefix*, when that glob selects nothing but
// wanted and excluded names; every other wanted name is listed as itself.
// The result is checked with path.Match over all, and when it would select
// anything else (it cannot, but the file must be right whatever this code
// becomes) it falls back to naming every wanted group.
func selectGroups(want, excluded, all []string) (groups, exclude []string) {
	wanted := set(want)
	ok := set(append(slices.Clone(want), excluded...))
	for _, x := range excluded {
		exclude = append(exclude, escapeGlob(x))
	}
	slices.Sort(exclude)

	byPrefix := map[string][]string{}
	for _, w := range want {
		byPrefix[prefix(w)] = append(byPrefix[prefix(w)], w)
	}
	for p, names := range byPrefix {
		glob := escapeGlob(p) + "*"
		if p == "" || len(names) < 2 || slices.ContainsFunc(all, func(a string) bool { return matches(glob, a) && !ok[a] }) {
			for _, n := range names {
				groups = append(groups, escapeGlob(n))
			}
			continue
		}
		groups = append(groups, glob)
	}
	slices.Sort(groups)

	if !selectsExactly(groups, exclude, wanted, append(slices.Clone(all), want...)) {
		groups = groups[:0]
		for _, w := range want {
			groups = append(groups, escapeGlob(w))
		}
		slices.Sort(groups)
	}
	return groups, exclude
}

// selectsExactly reports whether groups minus exclude select, among names,
// exactly those in want.
func selectsExactly(groups, exclude []string, want map[string]bool, names []string) bool {
	for _, n := range names {
		selected := slices.ContainsFunc(groups, func(g string) bool { return matches(g, n) }) &&
			!slices.ContainsFunc(exclude, func(g string) bool { return matches(g, n) })
		if selected != want[n] {
			return false
		}
	}
	return true
}

func matches(glob, name string) bool {
	ok, _ := path.Match(glob, name)
	return ok
}

func set(names []string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}
