package rules

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"

	"go.yaml.in/yaml/v3"
)

// AnnotationData is what an annotation template can use.
type AnnotationData struct {
	Rule, Region, Instance, Group string
	// Topic and Partition are "" when the alert is not at that level.
	Topic, Partition string
}

// annotationFields names AnnotationData's fields for error messages.
const annotationFields = "Rule, Region, Instance, Group, Topic, Partition"

// Annotation is one of a rule's annotations: a key and its parsed template.
type Annotation struct {
	Key string
	// Text is the template's source, after ${NAME} expansion.
	Text string
	// Line is where the value is in the rules file.
	Line int
	tmpl *template.Template
}

// Limits on annotations.
const (
	// MaxAnnotations bounds a rule's annotations, its own and defaults'.
	MaxAnnotations = 20
	// MaxAnnotationBytes bounds one value's template text.
	MaxAnnotationBytes = 1000
	// MaxAnnotationRendered bounds what one value renders to.
	MaxAnnotationRendered = 4096
)

// annotationFirst are the keys shown first, in this order; the others follow
// alphabetically.
var annotationFirst = []string{"summary", "description", "owner", "runbook_url"}

// AnnotationOrder returns keys sorted in display order: summary,
// description, owner, runbook_url, then the others alphabetically.
func AnnotationOrder(keys []string) []string {
	out := slices.Clone(keys)
	slices.SortStableFunc(out, compareAnnotationKeys)
	return out
}

func compareAnnotationKeys(a, b string) int {
	ra, rb := annotationRank(a), annotationRank(b)
	if ra != rb {
		return ra - rb
	}
	return strings.Compare(a, b)
}

func annotationRank(key string) int {
	if i := slices.Index(annotationFirst, key); i >= 0 {
		return i
	}
	return len(annotationFirst)
}

// Render executes the annotation for d. It cannot fail for a loaded rule;
// if it does, the result is the template's source text.
func (a Annotation) Render(d AnnotationData) string {
	if a.tmpl == nil {
		return a.Text
	}
	s, err := execute(a.tmpl, d)
	if err != nil {
		return a.Text
	}
	return s
}

// Annotate renders the rule's annotations for an alert's place; nil when
// the rule has none. Keys whose value renders empty are left out.
func (rule *Rule) Annotate(a Alert) map[string]string {
	if len(rule.Annotations) == 0 {
		return nil
	}
	d := AnnotationData{Rule: a.Rule, Region: a.Region, Instance: a.Instance, Group: a.Group, Topic: a.Topic}
	if a.Partition != nil {
		d.Partition = strconv.Itoa(*a.Partition)
	}
	var out map[string]string
	for _, an := range rule.Annotations {
		if v := an.Render(d); v != "" {
			if out == nil {
				out = make(map[string]string, len(rule.Annotations))
			}
			out[an.Key] = v
		}
	}
	return out
}

var errRenderedTooLong = errors.New("too long")

// capped is a writer that refuses to grow past MaxAnnotationRendered.
type capped struct{ b []byte }

func (c *capped) Write(p []byte) (int, error) {
	if len(c.b)+len(p) > MaxAnnotationRendered {
		return 0, errRenderedTooLong
	}
	c.b = append(c.b, p...)
	return len(p), nil
}

func execute(t *template.Template, d AnnotationData) (string, error) {
	var w capped
	if err := t.Execute(&w, d); err != nil {
		return "", err
	}
	return string(w.b), nil
}

var annotationKey = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// annotations reads an annotations mapping. Each value is parsed and
// executed once against sample; keys set to "" are returned with a nil
// template, so that they can drop an inherited key. The result is in file
// order. at is the annotations: key, where a problem with the whole is told.
func (r *reader) annotations(at, n *yaml.Node, field string, sample AnnotationData) []Annotation {
	keys, values := r.pairs(n, field)
	if len(keys) > MaxAnnotations {
		r.fail(at, field, "at most %d annotations, not %d", MaxAnnotations, len(keys))
		return nil
	}
	out := make([]Annotation, 0, len(keys))
	for i, k := range keys {
		f := join(field, k.Value)
		if k.Kind != yaml.ScalarNode || !annotationKey.MatchString(k.Value) {
			r.fail(k, f, "annotation keys are lower-case letters, digits and '_', starting with a letter")
			continue
		}
		v := values[i]
		if isNull(v) {
			r.fail(v, f, "must be a string (write \"\" to drop an inherited annotation)")
			continue
		}
		text, ok := r.str(v, f)
		if !ok {
			continue
		}
		a := Annotation{Key: k.Value, Text: text, Line: v.Line}
		if text != "" {
			if a.tmpl, ok = r.template(v, f, k.Value, text, sample); !ok {
				continue
			}
		}
		out = append(out, a)
	}
	return out
}

// template parses and tries one annotation value.
func (r *reader) template(n *yaml.Node, field, key, text string, sample AnnotationData) (*template.Template, bool) {
	if len(text) > MaxAnnotationBytes {
		r.fail(n, field, "at most %d bytes of template text, not %d", MaxAnnotationBytes, len(text))
		return nil, false
	}
	t, err := template.New(key).Option("missingkey=error").Parse(text)
	if err != nil {
		r.fail(n, field, "template: %s", templateError(err))
		return nil, false
	}
	if len(t.Templates()) > 1 || !simpleTemplate(t.Tree.Root) {
		r.fail(n, field, "template: range, define, block and template are not supported in annotations")
		return nil, false
	}
	out, err := execute(t, sample)
	switch {
	case errors.Is(err, errRenderedTooLong):
		r.fail(n, field, "template: renders to more than %d bytes", MaxAnnotationRendered)
		return nil, false
	case err != nil:
		r.fail(n, field, "template: %s", templateError(err))
		return nil, false
	}
	if key == "url" || strings.HasSuffix(key, "_url") {
		if u, err := url.Parse(out); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			r.fail(n, field, "%q is not an absolute http(s) URL", shorten(out, 100))
			return nil, false
		}
	}
	return t, true
}

// simpleTemplate reports whether a template uses only text, actions, if and
// with: no loops or nested templates, so that it renders in bounded time.
func simpleTemplate(n parse.Node) bool {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return true
		}
		for _, c := range n.Nodes {
			if !simpleTemplate(c) {
				return false
			}
		}
		return true
	case *parse.IfNode:
		return simpleTemplate(n.List) && simpleTemplate(n.ElseList)
	case *parse.WithNode:
		return simpleTemplate(n.List) && simpleTemplate(n.ElseList)
	case *parse.TextNode, *parse.ActionNode, *parse.CommentNode:
		return true
	}
	return false
}

var (
	templateParseError = regexp.MustCompile(`^template: [^:]*:(\d+): `)
	templateExecError  = regexp.MustCompile(`^template: [^:]*:(\d+):\d+: executing "[^"]*" at <(.*?)>: `)
	unknownField       = regexp.MustCompile(`^can't evaluate field (\w+) in type rules\.AnnotationData$`)
	fieldOfType        = regexp.MustCompile(`^can't evaluate field (\w+) in type (\w+)$`)
)

// templateError shortens text/template's errors to what a rules author needs.
func templateError(err error) string {
	msg := err.Error()
	line, at := "", ""
	if m := templateExecError.FindStringSubmatch(msg); m != nil {
		line, at = m[1], m[2]
		msg = msg[len(m[0]):]
	} else if m := templateParseError.FindStringSubmatch(msg); m != nil {
		line = m[1]
		msg = msg[len(m[0]):]
	}
	if m := unknownField.FindStringSubmatch(msg); m != nil {
		msg = fmt.Sprintf("can't evaluate field %s (fields: %s)", m[1], annotationFields)
	} else {
		if m := fieldOfType.FindStringSubmatch(msg); m != nil {
			msg = fmt.Sprintf("can't evaluate field %s of a %s", m[1], m[2])
		}
		msg = strings.ReplaceAll(msg, "rules.AnnotationData", "the alert's fields")
		if at != "" {
			msg = "in {{ " + at + " }}: " + msg
		}
	}
	if line != "" && line != "1" {
		msg += " (template line " + line + ")"
	}
	return msg
}

// keyNode is the node of key in mapping n, for errors about its value as a
// whole; n itself if there is none.
func keyNode(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i]
		}
	}
	return n
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// mergeAnnotations is base overlaid with own (own's keys winning, "" dropping
// the key), without the empty ones, in display order.
func mergeAnnotations(base, own []Annotation) []Annotation {
	var out []Annotation
	for _, a := range base {
		if !slices.ContainsFunc(own, func(o Annotation) bool { return o.Key == a.Key }) && a.Text != "" {
			out = append(out, a)
		}
	}
	for _, a := range own {
		if a.Text != "" {
			out = append(out, a)
		}
	}
	slices.SortStableFunc(out, func(a, b Annotation) int { return compareAnnotationKeys(a.Key, b.Key) })
	return out
}
