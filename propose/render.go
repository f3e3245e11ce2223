package propose

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// maxNamesInComment bounds the groups a rule's comment names.
const maxNamesInComment = 8

// render writes the proposal as a commented rules file.
func render(d *Discovery, p *Proposal, params Params) []byte {
	var b bytes.Buffer
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	comment := func(text string) { b.WriteString(commentLines("# ", text)) }

	regions := rulesRegions(p.Rules)
	when := ""
	if !params.Generated.IsZero() {
		when = " at " + params.Generated.UTC().Format("2006-01-02 15:04 UTC")
	}
	comment(fmt.Sprintf("Proposed by `backlog-alert init`%s from one look at %s: %s read, %s, %d watched by %s, %d excluded.",
		when, strings.Join(d.Regions, ", "), Plural(len(d.ReadInstances()), "instance"), Plural(len(d.Groups), "consumer group"),
		p.Watched(), Plural(len(p.Rules), "rule"), len(p.Excluded)))
	line("#")
	line("# How the numbers were chosen, per rule, from the groups it watches:")
	line("#   L = the largest backlog seen, in messages, among the groups not behind now (behind: the")
	line("#       newest consumed message %s old or more, or, sampled, nothing committed): those alert;", shortDuration(StaleWarning))
	if d.Sample > 0 {
		line("#   P = the largest production rate seen, in messages a minute (over %s);", d.Sample.Round(time.Second))
	} else {
		line("#   P = the largest production rate seen, in messages a minute (0: init ran without --sample);")
	}
	line("#   backlog.warning  = nice(max(%s, %d × L, %d × P)), nice rounding up to 1, 2 or 5 × 10^k:",
		FormatCount(MinWarning), LagFactor, RateMinutes)
	line("#                      %d times today's worst backlog, or %d minutes of the fastest production;", LagFactor, RateMinutes)
	line("#   backlog.critical = %d × warning;", CriticalFactor)
	line("#   stale %s/%s (the newest consumed message that old while there is lag) where the service", shortDuration(StaleWarning), shortDuration(StaleCritical))
	line("#   reports timestamps for some group of the rule; else stuck %s/%s (committed offsets", shortDuration(StaleWarning), shortDuration(StaleCritical))
	line("#   not moving while there is lag), which needs no timestamps.")
	line("# Not watched (exclude_groups): names ending in %s, and console-created", strings.Join(TestSuffixes, ", "))
	line("# %s groups that have never committed an offset.", strings.Join(ConsolePrefixes, "/"))
	line("# One look is not a busy day: review the thresholds before relying on them.")
	if len(d.Problems) > 0 {
		line("#")
		line("# NOT COVERED: what could not be read (run init again, or add rules by hand):")
		for _, pr := range d.Problems {
			comment("  " + pr.String())
		}
	}
	var skipped []string
	for _, in := range d.Instances {
		if !in.Running && !d.Restricted {
			skipped = append(skipped, fmt.Sprintf("%s (%s, ServiceStatus %d)", describeInstance(in), in.Region, in.ServiceStatus))
		}
	}
	if len(skipped) > 0 || len(p.Idle) > 0 {
		line("#")
	}
	if len(skipped) > 0 {
		comment("Not running, skipped: " + strings.Join(skipped, "; ") + ".")
	}
	for _, in := range p.Idle {
		comment(fmt.Sprintf("Nothing to watch on %s (%s): %s.", describeInstance(in), in.Region, idleReason(d, in)))
	}
	line("#")
	line("# The channels are placeholders: create the Slack incoming webhooks, then")
	for _, c := range p.Channels {
		line("#   export %s=https://hooks.slack.com/services/...", c.Variable)
	}
	comment("  backlog-alert validate --rules " + shellWord(params.Path))
	comment("  backlog-alert run --rules " + shellWord(params.Path) + " --dry-run")
	line("version: 1")
	if len(regions) == 1 {
		line("")
		line("defaults:")
		line("  region: %s", scalar(regions[0]))
	}
	line("")
	line("channels:")
	for _, c := range p.Channels {
		line("  %s:", c.Name)
		line("    type: slack")
		line("    webhook_url: ${%s}", c.Variable)
	}
	line("")
	line("rules:")
	for i, r := range p.Rules {
		if i > 0 {
			line("")
		}
		renderRule(&b, r, len(regions) > 1, d.Sample > 0)
	}
	return b.Bytes()
}

func renderRule(b *bytes.Buffer, r Rule, withRegion, sampled bool) {
	line := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }
	comment := func(text string) { b.WriteString(commentLines("  # ", text)) }

	var names []string
	for _, g := range r.Watched[:min(len(r.Watched), maxNamesInComment)] {
		names = append(names, g.Name)
	}
	more := ""
	if n := len(r.Watched) - len(names); n > 0 {
		more = fmt.Sprintf(" and %d more", n)
	}
	comment(fmt.Sprintf("%s: %s now, %s%s.", r.about, Plural(len(r.Watched), "group"), strings.Join(names, ", "), more))
	observed := fmt.Sprintf("L = %s (%s)", thousands(r.MaxLag), cmp.Or(r.MaxLagGroup, "every group is behind now"))
	switch {
	case !sampled:
		observed += ", P = 0 (not sampled)"
	case r.MaxRateGroup == "":
		observed += ", P = 0 (nothing produced while sampling)"
	default:
		observed += fmt.Sprintf(", P = %s/min (%s)", thousands(ceil(r.MaxRate)), r.MaxRateGroup)
	}
	if r.MaxConsumedGroup != "" {
		observed += fmt.Sprintf("; consumed up to %s/min (%s)", thousands(ceil(r.MaxConsumed)), r.MaxConsumedGroup)
	}
	comment("Seen: " + observed + ".")
	if len(r.Behind) > 0 {
		var behind []string
		for _, b := range r.Behind {
			behind = append(behind, fmt.Sprintf("%s (%s messages behind: %s)", b.Group.Name, thousands(b.Group.Lag), b.Reason))
		}
		comment("Behind now, so not counted in L, and alerting on the first run: " + strings.Join(behind, "; ") + ".")
	}
	comment(fmt.Sprintf("Backlog warning nice(max(%s, %s, %s)) = %s, critical %d × %s = %s.",
		FormatCount(MinWarning), thousands(saturatingMul(r.MaxLag, LagFactor)), thousands(ceil(r.MaxRate*RateMinutes)),
		FormatCount(r.Warning), CriticalFactor, FormatCount(r.Warning), FormatCount(r.Critical)))
	if !r.Stale {
		comment("The service reports no timestamps for these groups: stuck instead of stale.")
	}
	if len(r.Excluded) > 0 {
		var ex []string
		for _, e := range r.Excluded {
			ex = append(ex, fmt.Sprintf("%s (%s)", e.Group.Name, e.Reason))
		}
		comment("Excluded: " + strings.Join(ex, "; ") + ".")
	}
	line("  - name: %s", scalar(r.Name))
	if len(r.Instances) == 1 {
		line("    instance: %s", scalar(r.Instances[0]))
	} else {
		line("    instance: %s", list(r.Instances, "    "))
	}
	if withRegion {
		line("    region: %s", scalar(r.Region))
	}
	line("    groups: %s", list(r.Groups, "    "))
	for k, v := range r.GroupTags { // one key
		line("    group_tags: {%s: %s}", scalar(k), scalar(v))
	}
	if len(r.ExcludeGroups) > 0 {
		line("    exclude_groups: %s", list(r.ExcludeGroups, "    "))
	}
	line("    backlog: {warning: %s, critical: %s}", FormatCount(r.Warning), FormatCount(r.Critical))
	kind := "stuck"
	if r.Stale {
		kind = "stale"
	}
	line("    %s: {warning: %s, critical: %s}", kind, shortDuration(StaleWarning), shortDuration(StaleCritical))
	line("    notify: [%s]", r.Notify)
}

// rulesRegions are the regions the rules watch, in order.
func rulesRegions(rs []Rule) []string {
	var out []string
	for _, r := range rs {
		if !slices.Contains(out, r.Region) {
			out = append(out, r.Region)
		}
	}
	return out
}

func describeInstance(in Instance) string {
	if in.Name == "" || in.Name == in.ID {
		return in.ID
	}
	return fmt.Sprintf("%s %q", in.ID, in.Name)
}

func idleReason(d *Discovery, in Instance) string {
	n := 0
	for _, g := range d.Groups {
		if g.Region == in.Region && g.Instance == in.ID {
			n++
		}
	}
	switch n {
	case 0:
		return "no consumer group was read"
	case 1:
		return "its only group looks like a test group"
	}
	return fmt.Sprintf("all its %d groups look like test groups", n)
}

var plain = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]*$`)

// scalar writes s as a YAML string: plain when that is unambiguous, else
// double-quoted (JSON's escapes are YAML's).
func scalar(s string) string {
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "y", "n", "null":
	default:
		if plain.MatchString(s) {
			return s
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// list writes a flow list, or a block list when it is long.
func list(items []string, indent string) string {
	quoted := make([]string, len(items))
	width := 0
	for i, s := range items {
		quoted[i] = scalar(s)
		width += len(quoted[i]) + 2
	}
	if len(items) <= maxNamesInComment && width <= 80 {
		return "[" + strings.Join(quoted, ", ") + "]"
	}
	return "\n" + indent + "  - " + strings.Join(quoted, "\n"+indent+"  - ")
}

// commentWidth is where comment lines are wrapped.
const commentWidth = 100

// commentLines writes text as comment lines, each starting with lead (the
// next ones indented two more), wrapped at spaces before commentWidth, with
// anything that would end a YAML comment early made a space.
func commentLines(lead, text string) string {
	text = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, text)
	indent := len(text) - len(strings.TrimLeft(text, " "))
	var b strings.Builder
	cur := lead + text[:indent]
	start := len(cur)
	for _, word := range strings.Fields(text) {
		if len(cur) > start && len(cur)+1+len(word) > commentWidth {
			b.WriteString(cur + "\n")
			cur = lead + strings.Repeat(" ", indent+2)
			start = len(cur)
		}
		if len(cur) > start {
			cur += " "
		}
		cur += word
	}
	b.WriteString(cur + "\n")
	return b.String()
}

// thousands writes n with thousands separators: 37,000.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		return "-" + s
	}
	return s
}

func ceil(f float64) int64 {
	if !(f > 0) {
		return 0
	}
	return int64(min(math.Ceil(f), math.MaxInt64/100))
}

// Plural is "1 rule", "2 rules".
func Plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// shortDuration writes 10m rather than time.Duration's 10m0s.
func shortDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}

// shellWord quotes a path for the suggested commands when the shell would
// split or expand it.
func shellWord(s string) string {
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("-_./+@%:,=", r)))
	}) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
