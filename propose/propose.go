// Package propose is `backlog-alert init`: it discovers the instances and
// consumer groups of some regions (Discover, the only part that calls the
// OpenAPI) and turns what it saw into a commented rules file (Propose, a
// pure function of the Discovery).
//
// A proposal watches every group once, except test-looking ones (see
// ExcludeReason), with thresholds from what was observed (see WarningFor,
// CriticalFor) and placeholder Slack channels. Propose checks its own
// output: the file must load, and its rules must select exactly the groups
// meant, each by one rule.
package propose

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/backlog-alert/backlog-alert/rules"
)

// Params shape a proposal.
type Params struct {
	// ByTag, when set, proposes one rule per value of this group tag and,
	// per instance, one rule for its groups without the tag.
	ByTag string
	// Path is where the file will be, for the commands its header
	// suggests; empty is rules.yaml.
	Path string
	// Generated is when discovery ran, for the header; zero leaves it out.
	Generated time.Time
}

// Rule is one proposed rule, with what its thresholds come from.
type Rule struct {
	Name   string
	Region string
	// Instances are IDs, or rules.AllInstances alone.
	Instances     []string
	Groups        []string
	ExcludeGroups []string
	// GroupTags is {ByTag: value glob} for a rule per tag value.
	GroupTags map[string]string
	// Warning and Critical are the backlog thresholds, in messages.
	Warning, Critical int64
	// Stale says the thresholds are on staleness (the service has
	// timestamps for some of the rule's groups); else on stuck offsets.
	Stale  bool
	Notify string

	// Watched are the groups the rule selects now; Excluded the
	// test-looking ones its exclude_groups leave out.
	Watched  []Group
	Excluded []Exclusion
	// Behind are the watched groups behind now (Group.Behind), and why.
	Behind []Exclusion
	// MaxLag (L) and MaxRate (P, messages a minute) are the largest seen
	// among Watched, in the groups named (with their instance when the rule
	// spans instances). L leaves out the groups Behind now: their backlog
	// is trouble, not the measure of normal.
	MaxLag                         int64
	MaxLagGroup                    string
	MaxRate, MaxConsumed           float64
	MaxRateGroup, MaxConsumedGroup string

	about    string // what the rule covers, for its comment
	tagValue string // the value of a rule per tag value
}

// Exclusion is a group left out, and why.
type Exclusion struct {
	Group  Group
	Reason string
}

// Channel is a placeholder Slack channel.
type Channel struct {
	Name string
	// Variable is the environment variable its webhook URL comes from.
	Variable string
}

// Proposal is a proposed rules file.
type Proposal struct {
	Rules    []Rule
	Channels []Channel
	// Excluded are every test-looking group, sorted.
	Excluded []Exclusion
	// Idle are the instances read that have nothing to watch.
	Idle []Instance
	// Document is the rules file.
	Document []byte
}

// Watched is how many groups the proposal watches.
func (p *Proposal) Watched() int {
	n := 0
	for _, r := range p.Rules {
		n += len(r.Watched)
	}
	return n
}

// Variables are the environment variables the file's channels need.
func (p *Proposal) Variables() []string {
	var out []string
	for _, c := range p.Channels {
		out = append(out, c.Variable)
	}
	return out
}

// ErrNothingToWatch says discovery found no group to propose a rule for.
var ErrNothingToWatch = errors.New("no consumer group to watch was found")

// Default channel of rules that no tag value routes.
const (
	TeamChannel  = "team-slack"
	TeamVariable = "SLACK_WEBHOOK_URL"
)

// Propose turns a Discovery into a rules file. It fails with
// ErrNothingToWatch when no group is left to watch, and with another error
// only if its own output does not load or does not select exactly the
// groups meant (a bug, never a file written).
func Propose(d *Discovery, params Params) (*Proposal, error) {
	if params.Path == "" {
		params.Path = "rules.yaml"
	}
	w := newWorld(d)
	p := &Proposal{}
	for _, g := range d.Groups {
		if r := ExcludeReason(g); r != "" {
			p.Excluded = append(p.Excluded, Exclusion{g, r})
		}
	}
	if params.ByTag == "" {
		p.Rules = w.perInstance()
	} else {
		p.Rules = w.perTagValue(params.ByTag)
	}
	for _, in := range d.ReadInstances() {
		if !slices.ContainsFunc(p.Rules, func(r Rule) bool {
			return slices.ContainsFunc(r.Watched, func(g Group) bool { return g.Region == in.Region && g.Instance == in.ID })
		}) {
			p.Idle = append(p.Idle, in)
		}
	}
	if len(p.Rules) == 0 {
		return p, ErrNothingToWatch
	}
	uniqueNames(p.Rules)
	for i := range p.Rules {
		thresholds(&p.Rules[i])
	}
	p.Channels = assignChannels(p.Rules)
	p.Document = render(d, p, params)
	if err := verify(p.Document, d); err != nil {
		return p, err
	}
	return p, nil
}

// instanceRef names an instance.
type instanceRef struct{ region, id string }

// world indexes a Discovery for building rules.
type world struct {
	d *Discovery
	// groups of each read instance, in name order.
	groups map[instanceRef][]Group
	// names are every group name known on an instance, unread ones too:
	// a glob must not cover what nobody looked at.
	names map[instanceRef][]string
	// running are the IDs of each region's running instances.
	running map[string][]string
}

func newWorld(d *Discovery) *world {
	w := &world{d: d, groups: map[instanceRef][]Group{}, names: map[instanceRef][]string{}, running: map[string][]string{}}
	for _, g := range d.Groups {
		k := instanceRef{g.Region, g.Instance}
		w.groups[k] = append(w.groups[k], g)
		w.names[k] = append(w.names[k], g.Name)
	}
	for _, p := range d.Problems {
		if p.Group != "" {
			k := instanceRef{p.Region, p.Instance}
			w.names[k] = append(w.names[k], p.Group)
		}
	}
	for _, in := range d.Instances {
		if in.Running {
			w.running[in.Region] = append(w.running[in.Region], in.ID)
		}
	}
	// Sorted whatever the Discovery's order: rules and comments list them.
	for _, ids := range w.running {
		slices.Sort(ids)
	}
	for _, gs := range w.groups {
		slices.SortFunc(gs, func(a, b Group) int { return strings.Compare(a.Name, b.Name) })
	}
	return w
}

// perInstance is one rule per read instance, watching its groups but the
// test-looking ones.
func (w *world) perInstance() []Rule {
	var out []Rule
	for _, in := range w.d.ReadInstances() {
		k := instanceRef{in.Region, in.ID}
		r, ok := w.namedRule(k, w.groups[k], describeInstance(in))
		if ok {
			r.Name = in.ID
			out = append(out, r)
		}
	}
	return out
}

// namedRule is a rule on one instance selecting the intended ones of
// groups with names and prefix globs, the test-looking ones of groups in
// exclude_groups; false when none is intended.
func (w *world) namedRule(k instanceRef, groups []Group, about string) (Rule, bool) {
	r := Rule{Region: k.region, Instances: []string{k.id}, about: about}
	var want, excluded []string
	for _, g := range groups {
		if reason := ExcludeReason(g); reason != "" {
			excluded = append(excluded, g.Name)
			r.Excluded = append(r.Excluded, Exclusion{g, reason})
		} else {
			want = append(want, g.Name)
			r.Watched = append(r.Watched, g)
		}
	}
	if len(want) == 0 {
		return r, false
	}
	r.Groups, r.ExcludeGroups = selectGroups(want, excluded, w.names[k])
	return r, true
}

// perTagValue is, per region, one rule per value of the tag key (groups:
// ["*"] with group_tags, on the instances that have such groups), and per
// instance one rule for the groups without the tag.
func (w *world) perTagValue(key string) []Rule {
	var out []Rule
	regions := 0
	for _, region := range w.d.Regions {
		if len(w.readIn(region)) > 0 {
			regions++
		}
	}
	for _, region := range w.d.Regions {
		read := w.readIn(region)
		values := map[string][]Group{} // the intended groups of each value
		for _, in := range read {
			for _, g := range w.groups[instanceRef{region, in.ID}] {
				if v := g.Tags[key]; v != "" && ExcludeReason(g) == "" {
					values[v] = append(values[v], g)
				}
			}
		}
		for _, v := range slices.Sorted(maps.Keys(values)) {
			name := key + "-" + v
			if regions > 1 {
				name += "-" + region
			}
			out = append(out, w.tagRules(region, key, v, name, values[v])...)
		}
		for _, in := range read {
			k := instanceRef{region, in.ID}
			var untagged []Group
			for _, g := range w.groups[k] {
				if g.Tags[key] == "" {
					untagged = append(untagged, g)
				}
			}
			if r, ok := w.namedRule(k, untagged, fmt.Sprintf("groups without a %s tag on %s", key, describeInstance(in))); ok {
				r.Name = in.ID + "-untagged"
				out = append(out, r)
			}
		}
	}
	return out
}

// readIn are the read instances of a region.
func (w *world) readIn(region string) []Instance {
	var out []Instance
	for _, in := range w.d.ReadInstances() {
		if in.Region == region {
			out = append(out, in)
		}
	}
	return out
}

// tagRules is the rule for the groups tagged key=value in region (watched:
// the intended ones), on the instances that have them, or "*" when that is
// every running instance of the region. Its exclude_groups name the
// test-looking groups with that tag; should such a name be an intended
// group on another of its instances, one rule per instance is proposed
// instead, where names cannot clash.
func (w *world) tagRules(region, key, value, name string, watched []Group) []Rule {
	var ids []string
	for _, g := range watched {
		if !slices.Contains(ids, g.Instance) {
			ids = append(ids, g.Instance)
		}
	}
	slices.Sort(ids)
	// build is the rule on instances (IDs, or "*" standing for ids).
	build := func(instances, ids []string, name string) Rule {
		r := Rule{Name: name, Region: region, Instances: instances, Groups: []string{"*"}, GroupTags: map[string]string{key: escapeGlob(value)}, tagValue: value}
		for _, id := range ids {
			for _, g := range w.groups[instanceRef{region, id}] {
				if g.Tags[key] != value {
					continue
				}
				if reason := ExcludeReason(g); reason != "" {
					r.Excluded = append(r.Excluded, Exclusion{g, reason})
					if x := escapeGlob(g.Name); !slices.Contains(r.ExcludeGroups, x) {
						r.ExcludeGroups = append(r.ExcludeGroups, x)
					}
				} else {
					r.Watched = append(r.Watched, g)
				}
			}
		}
		slices.Sort(r.ExcludeGroups)
		where := strings.Join(instances, ", ")
		if slices.Equal(instances, []string{rules.AllInstances}) {
			where = "every running instance of " + region
		}
		r.about = fmt.Sprintf("groups tagged %s=%s on %s", key, value, where)
		return r
	}
	instances := ids
	if !w.d.Restricted && slices.Equal(ids, w.running[region]) {
		instances = []string{rules.AllInstances}
	}
	r := build(instances, ids, name)
	if w.selectsExactly(r, func(g Group) bool { return g.Tags[key] == value && ExcludeReason(g) == "" }) {
		return []Rule{r}
	}
	var out []Rule
	for _, id := range ids {
		out = append(out, build([]string{id}, []string{id}, name+"-"+id))
	}
	return out
}

// selectsExactly reports whether r, as the rules package reads it, selects
// among the region's groups exactly those meant.
func (w *world) selectsExactly(r Rule, meant func(Group) bool) bool {
	rr := r.asRule()
	for _, g := range w.d.Groups {
		if g.Region == r.Region && rr.Matches(g.Region, g.Instance, g.Name, g.Tags) != meant(g) {
			return false
		}
	}
	return true
}

func (r Rule) asRule() *rules.Rule {
	return &rules.Rule{Name: r.Name, Region: r.Region, Instances: r.Instances, Groups: r.Groups, ExcludeGroups: r.ExcludeGroups, GroupTags: r.GroupTags}
}

// thresholds fills in L, P and the thresholds of a rule from its groups.
func thresholds(r *Rule) {
	name := func(g Group) string {
		if len(r.Instances) == 1 && r.Instances[0] != rules.AllInstances {
			return g.Name
		}
		return g.Name + " on " + g.Instance // the rule spans instances
	}
	for _, g := range r.Watched {
		if why := g.Behind(); why != "" {
			r.Behind = append(r.Behind, Exclusion{Group: g, Reason: why})
		} else if g.Lag > r.MaxLag || r.MaxLagGroup == "" {
			r.MaxLag, r.MaxLagGroup = g.Lag, name(g)
		}
		if g.ProducedPerMinute > r.MaxRate {
			r.MaxRate, r.MaxRateGroup = g.ProducedPerMinute, name(g)
		}
		if g.ConsumedPerMinute > r.MaxConsumed {
			r.MaxConsumed, r.MaxConsumedGroup = g.ConsumedPerMinute, name(g)
		}
		r.Stale = r.Stale || g.Timestamps
	}
	r.Warning = WarningFor(r.MaxLag, r.MaxRate)
	r.Critical = CriticalFor(r.Warning)
}

// uniqueNames makes rule names unique, numbering repeats.
func uniqueNames(rs []Rule) {
	taken := map[string]bool{}
	for i := range rs {
		name := rs[i].Name
		for n := 2; taken[name]; n++ {
			name = fmt.Sprintf("%s-%d", rs[i].Name, n)
		}
		taken[name] = true
		rs[i].Name = name
	}
}

// assignChannels gives each rule its channel: a rule per tag value the
// value's own (<value>-slack, from <VALUE>_SLACK_WEBHOOK_URL), any other
// team-slack (from SLACK_WEBHOOK_URL).
func assignChannels(rs []Rule) []Channel {
	var out []Channel
	taken := map[string]bool{} // channel names and variables
	if slices.ContainsFunc(rs, func(r Rule) bool { return r.tagValue == "" }) {
		out = append(out, Channel{Name: TeamChannel, Variable: TeamVariable})
		taken[TeamChannel], taken[TeamVariable] = true, true
	}
	byValue := map[string]string{}
	for _, r := range rs {
		if v := r.tagValue; v != "" && byValue[v] == "" {
			base, vbase := channelBase(v), variableBase(v)
			name, variable := base+"-slack", vbase+"_SLACK_WEBHOOK_URL"
			for n := 2; taken[name] || taken[variable]; n++ { // values that differ only in punctuation or case
				name, variable = fmt.Sprintf("%s-%d-slack", base, n), fmt.Sprintf("%s_%d_SLACK_WEBHOOK_URL", vbase, n)
			}
			taken[name], taken[variable] = true, true
			byValue[v] = name
			out = append(out, Channel{Name: name, Variable: variable})
		}
	}
	for i := range rs {
		rs[i].Notify = cmp.Or(byValue[rs[i].tagValue], TeamChannel)
	}
	return out
}

// channelBase makes a tag value a channel name: letters, digits, '-', '_'
// and '.', starting with a letter or digit.
func channelBase(v string) string {
	s := strings.Map(func(r rune) rune {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("-_.", r)) {
			return r
		}
		return '-'
	}, v)
	s = strings.TrimLeft(s, "-_.")
	if s == "" {
		return "tag"
	}
	return s
}

// variableBase makes a tag value the start of an environment variable
// name: upper case, every other character '_' (none at the ends), TAG when
// nothing is left, and TAG_ before a leading digit.
func variableBase(v string) string {
	s := strings.Map(func(r rune) rune {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return unicode.ToUpper(r)
		}
		return '_'
	}, v)
	s = strings.Trim(s, "_")
	switch {
	case s == "":
		return "TAG"
	case unicode.IsDigit(rune(s[0])):
		return "TAG_" + s // a variable name cannot start with a digit
	}
	return s
}

// verify loads the document as validate would (every variable set to a
// placeholder URL) and checks that its rules select every intended group
// exactly once and no test-looking one.
func verify(doc []byte, d *Discovery) error {
	f, err := rules.Parse("the proposed rules", doc, func(string) (string, bool) {
		return "https://hooks.slack.com/services/T00000000/B00000000/placeholder", true
	})
	if err != nil {
		return fmt.Errorf("propose: the proposed file does not load (a bug in init): %w", err)
	}
	for _, g := range d.Groups {
		n := 0
		for i := range f.Rules {
			if f.Rules[i].Matches(g.Region, g.Instance, g.Name, g.Tags) {
				n++
			}
		}
		want := 1
		if ExcludeReason(g) != "" {
			want = 0
		}
		if n != want {
			return fmt.Errorf("propose: the proposed rules select group %s on %s (%s) %d times, not %d (a bug in init)", g.Name, g.Instance, g.Region, n, want)
		}
	}
	return nil
}
