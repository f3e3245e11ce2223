package rules

import (
	"fmt"
	"math"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// reader walks a parsed YAML tree and collects every problem with the file,
// line and field it belongs to. Walking the node tree by hand (rather than
// decoding into structs) is what lets each error name its line and field,
// and lets unknown keys be refused instead of silently ignored.
type reader struct {
	file   string
	getenv func(string) (string, bool)
	errs   Errors
	// secrets collects the values expanded into secret-bearing fields, so
	// callers can scrub them from anything they print.
	secrets []string
}

func (r *reader) fail(n *yaml.Node, field, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	r.errs = append(r.errs, &Error{File: r.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// mapping checks that n is a mapping whose keys are all known, and returns
// its values by key. An unknown or repeated key is an error at its own line.
func (r *reader) mapping(n *yaml.Node, field string, known ...string) map[string]*yaml.Node {
	if n.Kind != yaml.MappingNode {
		r.fail(n, field, "must be a mapping, not %s", kindName(n))
		return nil
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name := join(field, k.Value)
		switch {
		case k.Kind != yaml.ScalarNode:
			r.fail(k, field, "keys must be plain names")
		case !contains(known, k.Value):
			r.fail(k, name, "unknown key (expected one of: %s)", strings.Join(known, ", "))
		case out[k.Value] != nil:
			r.fail(k, name, "repeated key")
		default:
			out[k.Value] = v
		}
	}
	return out
}

// pairs returns a mapping's keys and values in file order, for maps whose
// keys are user-chosen names (channels).
func (r *reader) pairs(n *yaml.Node, field string) (keys []*yaml.Node, values []*yaml.Node) {
	if n.Kind != yaml.MappingNode {
		r.fail(n, field, "must be a mapping of names, not %s", kindName(n))
		return nil, nil
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if seen[k.Value] {
			r.fail(k, join(field, k.Value), "repeated name")
			continue
		}
		seen[k.Value] = true
		keys = append(keys, k)
		values = append(values, n.Content[i+1])
	}
	return keys, values
}

var envRef = regexp.MustCompile(`\$\{([^}]*)\}`)
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// str reads a string scalar and expands ${NAME} from the environment. An
// unset variable is an error that names the variable, never a value.
func (r *reader) str(n *yaml.Node, field string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		r.fail(n, field, "must be a string, not %s", kindName(n))
		return "", false
	}
	ok := true
	out := envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
		name := ref[2 : len(ref)-1]
		if !envName.MatchString(name) {
			r.fail(n, field, "%q is not a valid environment variable reference", ref)
			ok = false
			return ""
		}
		v, set := r.getenv(name)
		if !set {
			r.fail(n, field, "environment variable %s is not set", name)
			ok = false
		}
		return v
	})
	return out, ok
}

// secret reads a string like str and remembers its value as a secret.
func (r *reader) secret(n *yaml.Node, field string) (string, bool) {
	v, ok := r.str(n, field)
	if ok && v != "" {
		r.secrets = append(r.secrets, v)
	}
	return v, ok
}

func (r *reader) strList(n *yaml.Node, field string) []string {
	if n.Kind != yaml.SequenceNode {
		r.fail(n, field, "must be a list of strings, not %s", kindName(n))
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for i, item := range n.Content {
		if s, ok := r.str(item, fmt.Sprintf("%s[%d]", field, i)); ok {
			out = append(out, s)
		}
	}
	return out
}

// globs reads a list of path.Match patterns and rejects malformed ones.
func (r *reader) globs(n *yaml.Node, field string) []string {
	if n.Kind != yaml.SequenceNode {
		r.fail(n, field, "must be a list of strings, not %s", kindName(n))
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for i, item := range n.Content {
		if g, ok := r.glob(item, fmt.Sprintf("%s[%d]", field, i)); ok {
			out = append(out, g)
		}
	}
	return out
}

// glob reads one path.Match pattern.
func (r *reader) glob(n *yaml.Node, field string) (string, bool) {
	g, ok := r.str(n, field)
	switch {
	case !ok:
	case g == "":
		r.fail(n, field, "must not be empty")
	default:
		if _, err := path.Match(g, ""); err != nil {
			r.fail(n, field, "malformed glob %q", g)
			return "", false
		}
		return g, true
	}
	return "", false
}

func (r *reader) positiveInt(n *yaml.Node, field string) (int64, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		r.fail(n, field, "must be a whole number of messages, not %s", kindName(n))
		return 0, false
	}
	v, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
	if err != nil || v <= 0 {
		r.fail(n, field, "must be a positive whole number, not %s", n.Value)
		return 0, false
	}
	return v, true
}

// messages reads a count of messages: a whole number (10000, 2_000_000) or
// one with a suffix, k for thousands, M for millions, G for billions (10k,
// 1.5M), that comes to a whole number.
func (r *reader) messages(n *yaml.Node, field string) (int64, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
		return r.positiveInt(n, field)
	}
	if v, ok := parseCount(n.Value); ok && n.Kind == yaml.ScalarNode && (n.Tag == "!!str" || n.Tag == "!!float") {
		return v, true
	}
	r.fail(n, field, "must be a positive whole number of messages such as 10000, 2_000_000, 10k or 1.5M, not %s", oneLine(n.Value))
	return 0, false
}

// parseCount reads "10k", "1.5M", "2G" or "1e6" as a positive whole number.
func parseCount(s string) (int64, bool) {
	s = strings.ReplaceAll(strings.TrimSpace(s), "_", "")
	scale := 1.0
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		scale = 1e3
	case strings.HasSuffix(s, "M"):
		scale = 1e6
	case strings.HasSuffix(s, "G"):
		scale = 1e9
	}
	if scale > 1 {
		s = s[:len(s)-1]
	}
	f, err := strconv.ParseFloat(s, 64)
	v := f * scale
	if err != nil || !(v >= 1) || v > math.MaxInt64/2 || v != math.Trunc(v) {
		return 0, false
	}
	return int64(v), true
}

// boolean reads true or false.
func (r *reader) boolean(n *yaml.Node, field string) (bool, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		if b, err := strconv.ParseBool(strings.ToLower(n.Value)); err == nil {
			return b, true
		}
	}
	r.fail(n, field, "must be true or false, not %s", kindName(n))
	return false, false
}

// intBetween reads a whole number from lo to hi.
func (r *reader) intBetween(n *yaml.Node, field string, lo, hi int) (int, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		r.fail(n, field, "must be a whole number from %d to %d, not %s", lo, hi, kindName(n))
		return 0, false
	}
	v, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
	if err != nil || v < int64(lo) || v > int64(hi) {
		r.fail(n, field, "must be from %d to %d, not %s", lo, hi, oneLine(n.Value))
		return 0, false
	}
	return int(v), true
}

func (r *reader) duration(n *yaml.Node, field string) (time.Duration, bool) {
	s, ok := r.str(n, field)
	if !ok {
		return 0, false
	}
	d, err := parseDuration(s)
	if err != nil {
		r.fail(n, field, "%v", err)
		return 0, false
	}
	return d, true
}

// parseDuration accepts Go durations ("90s", "10m", "1h30m") and whole days
// ("2d"), which people write for long thresholds.
func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n > 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration (use e.g. 90s, 10m, 1h30m, 2d)", s)
	}
	return d, nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	switch n.Tag {
	case "!!str":
		return "a string"
	case "!!int":
		return "a number"
	case "!!float":
		return "a decimal number"
	case "!!bool":
		return "true/false"
	case "!!null":
		return "nothing"
	}
	return n.Tag
}

// oneLine quotes s if it would break the one-line error form (a newline, a
// control character).
func oneLine(s string) string {
	if strings.ContainsFunc(s, func(c rune) bool { return !unicode.IsPrint(c) }) {
		return strconv.Quote(s)
	}
	return s
}

// join names key inside field.
func join(field, key string) string {
	key = oneLine(key)
	if field == "" {
		return key
	}
	return field + "." + key
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Error is one problem in a rules file.
type Error struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	if e.Field != "" {
		b.WriteString(": " + e.Field)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

// Errors is every problem found in a rules file, in line order; its text is
// one line per problem.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

func (es Errors) sorted() Errors {
	sort.SliceStable(es, func(i, j int) bool { return es[i].Line < es[j].Line })
	return es
}
