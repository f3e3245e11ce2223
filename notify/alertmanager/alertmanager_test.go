package alertmanager_test

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/notify/alertmanager"
	"github.com/backlog-alert/backlog-alert/notify/alertmanager/amtest"
	"github.com/backlog-alert/backlog-alert/notify/notifytest"
	"github.com/backlog-alert/backlog-alert/rules"
)

// The shared fixtures of the integrations' tests.
var (
	fast = notifytest.FastRetry
)

const (
	token    = "am-bearer-0a1b2c3d4e5f"
	user     = "backlog"
	password = "am-pass-9z8y7x6w"
)

func newNotifier(s *amtest.Server, auth alertmanager.Auth) *alertmanager.Notifier {
	return alertmanager.New(s.URL, auth, 5*time.Minute, nil, notify.WithRetry(fast), notify.WithLimiter(nil))
}

func alert(group string, cond rules.Condition, sev rules.Severity) rules.Alert {
	return rules.Alert{
		Rule: "orders", Region: "cn-shanghai", Instance: "alikafka-post-1", Group: group,
		Level: rules.LevelGroup, Condition: cond, Severity: sev,
		Value: 50000, Threshold: 10000, Lag: 50000, AgeSeconds: 3*3600 + 300, AgeKnown: true,
		Top: []rules.Contributor{{Topic: "orders", Lag: 50000}},
	}
}

func item(kind rules.Kind, a rules.Alert, since time.Time) notify.Item {
	return notify.Item{Kind: kind, Alert: a, Since: since}
}

// sent is a postable alert as it went over the wire.
type sent struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
}

func decode(t *testing.T, p amtest.Post) []sent {
	t.Helper()
	var out []sent
	if err := json.Unmarshal(p.Body, &out); err != nil {
		t.Fatalf("body %s: %v", p.Body, err)
	}
	return out
}

// labelsOf are the labels Alertmanager identifies an alert by.
func labelsOf(a rules.Alert, cond, sev string) map[string]string {
	l := map[string]string{
		"alertname": "BacklogAlert" + strings.ToUpper(cond[:1]) + cond[1:],
		"rule":      a.Rule, "region": a.Region, "instance": a.Instance, "group": a.Group,
		"condition": cond, "severity": sev,
	}
	if a.Group == "" {
		delete(l, "group")
	}
	for k, v := range a.Tags {
		l["tag_"+k] = v
	}
	return l
}

var (
	labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	rfc3339   = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$`)
)

// What goes over the wire is Alertmanager's PostableAlerts: a JSON array
// of objects with non-empty labels, annotations, RFC 3339 startsAt and
// endsAt, and nothing else (no fingerprint: Alertmanager has its own).
func TestSchema(t *testing.T) {
	s := amtest.NewServer()
	defer s.Close()
	now := time.Now()
	p := 3
	part := alert("billing", rules.Backlog, rules.Critical)
	part.Topic, part.Partition, part.Level = "payments", &p, rules.LevelPartition
	m := notify.Message{Time: now, Items: []notify.Item{
		item(rules.KindFiring, alert("orders", rules.Backlog, rules.Critical), now.Add(-time.Minute)),
		item(rules.KindResolved, alert("audit", rules.Stale, rules.Warning), now.Add(-time.Hour)),
		item(rules.KindFiring, part, time.Time{}),
	}, Ongoing: []notify.Item{item("", alert("search", rules.Stuck, rules.Warning), now.Add(-2*time.Hour))}}
	receipt, err := newNotifier(s, alertmanager.Auth{}).Notify(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	if want := notify.All(m).Accepted; !slices.Equal(receipt.Accepted, want) {
		t.Errorf("receipt %v, want %v (the items, not the ongoing alert)", receipt.Accepted, want)
	}
	posts := s.Received()
	if len(posts) != 1 || posts[0].Status != 200 || posts[0].ContentType != "application/json" {
		t.Fatalf("posts: %+v", posts)
	}
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal(posts[0].Body, &raw); err != nil {
		t.Fatalf("not a JSON array of objects: %v", err)
	}
	if len(raw) != 4 {
		t.Fatalf("%d alerts posted, want 4 (3 items, 1 ongoing)", len(raw))
	}
	for i, a := range raw {
		if keys := slices.Sorted(maps.Keys(a)); !slices.Equal(keys, []string{"annotations", "endsAt", "labels", "startsAt"}) {
			t.Errorf("alert %d has fields %v", i, keys)
		}
		var labels, ann map[string]string
		if json.Unmarshal(a["labels"], &labels) != nil || len(labels) == 0 || json.Unmarshal(a["annotations"], &ann) != nil {
			t.Errorf("alert %d: labels %s, annotations %s", i, a["labels"], a["annotations"])
		}
		for k, v := range labels {
			if !labelName.MatchString(k) || v == "" {
				t.Errorf("alert %d: label %q=%q", i, k, v)
			}
		}
		for k := range ann {
			if !labelName.MatchString(k) {
				t.Errorf("alert %d: annotation %q", i, k)
			}
		}
		if _, ok := labels["fingerprint"]; ok {
			t.Errorf("alert %d: fingerprint is a label", i)
		}
		for _, f := range []string{"startsAt", "endsAt"} {
			var v string
			if json.Unmarshal(a[f], &v) != nil || !rfc3339.MatchString(v) {
				t.Errorf("alert %d: %s = %s", i, f, a[f])
			}
		}
	}
	// Alertmanager accepted them all as valid.
	if got := len(s.Stored()); got != 4 {
		t.Errorf("Alertmanager stored %d alerts, want 4", got)
	}
	// The partition's labels name it; an item with no Since starts now.
	want := labelsOf(part, "backlog", "critical")
	want["topic"], want["partition"] = "payments", "3"
	a, ok := s.Lookup(want)
	if !ok {
		t.Fatalf("no alert labelled %v in %+v", want, s.Stored())
	}
	if !a.StartsAt.Equal(now.UTC()) {
		t.Errorf("startsAt %v, want now %v", a.StartsAt, now)
	}
}

// Labels identify the alert; annotations word it in the message's language.
func TestLabelsAndAnnotations(t *testing.T) {
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	annotated := alert("orders", rules.Backlog, rules.Critical)
	annotated.Annotations = map[string]string{
		"summary":     "orders are not being processed",
		"owner":       "payments team",
		"runbook_url": "https://wiki.example.com/kafka-lag",
		"dashboard":   "orders board",
	}
	tagged := alert("payments", rules.Backlog, rules.Warning)
	tagged.Tags = map[string]string{"team": "payments", "cost-center": "42"}
	blind := rules.Alert{Rule: "backlog-alert", Region: "cn-shanghai", Instance: "alikafka-post-9", Level: rules.LevelGroup,
		Condition: rules.Blind, Severity: rules.Critical, Detail: "the service refused the credentials",
		Cause: &rules.BlindCause{Kind: rules.BlindCredentials, Code: "InvalidAccessKeyId.NotFound"}}
	for _, tc := range []struct {
		name     string
		it       notify.Item
		language string
		labels   map[string]string
		ann      map[string]string // exact values
		desc     []string          // substrings of the description
	}{
		{
			name:   "annotated",
			it:     item(rules.KindFiring, annotated, now),
			labels: labelsOf(annotated, "backlog", "critical"),
			ann: map[string]string{
				"summary": "orders are not being processed", "owner": "payments team",
				"runbook_url": "https://wiki.example.com/kafka-lag", "dashboard": "orders board",
			},
			desc: []string{"Backlog CRITICAL: 50,000 messages (threshold 10,000)", "Instance alikafka-post-1 · region cn-shanghai · rule orders",
				"Owner: payments team"},
		},
		{
			name:   "no summary annotation",
			it:     item(rules.KindFiring, alert("audit", rules.Stale, rules.Warning), now),
			labels: labelsOf(alert("audit", rules.Stale, rules.Warning), "stale", "warning"),
			ann:    map[string]string{"summary": "WARNING · audit"},
			desc:   []string{"Stale WARNING: newest consumed message is 13h 53m old (threshold 2h 46m)"},
		},
		{
			name: "tagged",
			it:   item(rules.KindFiring, tagged, now),
			labels: func() map[string]string {
				l := labelsOf(alert("payments", rules.Backlog, rules.Warning), "backlog", "warning")
				l["tag_team"], l["tag_cost_center"] = "payments", "42" // a label name has no '-'
				return l
			}(),
		},
		{
			name:   "stuck",
			it:     item(rules.KindFiring, alert("search", rules.Stuck, rules.Warning), now),
			labels: labelsOf(alert("search", rules.Stuck, rules.Warning), "stuck", "warning"),
		},
		{
			name:   "blind",
			it:     item(rules.KindFiring, blind, now),
			labels: labelsOf(blind, "blind", "critical"),
			desc:   []string{"alikafka-post-9"},
		},
		{
			name:     "chinese",
			it:       item(rules.KindFiring, alert("orders", rules.Backlog, rules.Critical), now),
			language: rules.LanguageChinese,
			labels:   labelsOf(alert("orders", rules.Backlog, rules.Critical), "backlog", "critical"),
			ann:      map[string]string{"summary": "严重 · orders"},
			desc:     []string{"消息堆积（严重）", "实例"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := amtest.NewServer()
			defer s.Close()
			m := notify.Message{Time: now, Items: []notify.Item{tc.it}, Language: tc.language}
			if _, err := newNotifier(s, alertmanager.Auth{}).Notify(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			got := decode(t, s.Received()[0])
			if len(got) != 1 {
				t.Fatalf("%d alerts posted", len(got))
			}
			if !maps.Equal(got[0].Labels, tc.labels) {
				t.Errorf("labels\n got %v\nwant %v", got[0].Labels, tc.labels)
			}
			ann := got[0].Annotations
			for k, v := range tc.ann {
				if ann[k] != v {
					t.Errorf("annotation %s = %q, want %q", k, ann[k], v)
				}
			}
			if ann["summary"] == "" || ann["description"] == "" {
				t.Errorf("summary %q, description %q", ann["summary"], ann["description"])
			}
			for _, d := range tc.desc {
				if !strings.Contains(ann["description"], d) {
					t.Errorf("description lacks %q:\n%s", d, ann["description"])
				}
			}
			if s := tc.it.Alert.Annotations["summary"]; s != "" && strings.Contains(ann["description"], s) {
				t.Errorf("the summary is repeated in the description:\n%s", ann["description"])
			}
		})
	}
}

// Preview is what Notify posts, and holds no secret.
func TestPreview(t *testing.T) {
	now := time.Now()
	m := notify.Message{Time: now, Items: []notify.Item{item(rules.KindFiring, alert("orders", rules.Backlog, rules.Critical), now)},
		Ongoing: []notify.Item{item("", alert("audit", rules.Stale, rules.Warning), now.Add(-time.Hour))}}
	for _, auth := range []alertmanager.Auth{{BearerToken: token}, {Username: user, Password: password}} {
		s := amtest.NewServer()
		if auth.BearerToken != "" {
			s.RequireBearer(token)
		} else {
			s.RequireBasic(user, password)
		}
		n := newNotifier(s, auth)
		preview := n.Preview(m)
		if _, err := n.Notify(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		s.Close()
		head, body, ok := strings.Cut(preview, "\n")
		if !ok || head != "POST "+s.URL+"/api/v2/alerts"+map[bool]string{true: " (Authorization: Bearer ***)", false: " (basic auth as backlog)"}[auth.BearerToken != ""] {
			t.Errorf("preview starts %q", head)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, []byte(body)); err != nil {
			t.Fatalf("preview body is not JSON: %v\n%s", err, body)
		}
		if sentBody := s.Received()[0].Body; !bytes.Equal(compact.Bytes(), sentBody) {
			t.Errorf("preview shows\n%s\nNotify sent\n%s", compact.Bytes(), sentBody)
		}
		if strings.Contains(preview, token) || strings.Contains(preview, password) {
			t.Errorf("preview holds a secret:\n%s", preview)
		}
	}
	if got := alertmanager.New("http://am:9093", alertmanager.Auth{}, 0, nil).Preview(notify.Message{Time: now}); got != "" {
		t.Errorf("empty message previews as %q", got)
	}
}
