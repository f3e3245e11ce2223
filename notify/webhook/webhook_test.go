package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/notify/notifytest"
	"github.com/backlog-alert/backlog-alert/notify/webhook"
	"github.com/backlog-alert/backlog-alert/notify/webhook/webhooktest"
	"github.com/backlog-alert/backlog-alert/rules"
)

// The shared fixtures of the integrations' tests.
var (
	fast = notifytest.FastRetry
)

const (
	secret = "whsec-0a1b2c3d4e5f6a7b"
	apiKey = "key-9f8e7d6c5b4a3f2e"
)

// evalTime is a fixed evaluation time.
var evalTime = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func alert(group string, sev rules.Severity, lag int64) rules.Alert {
	return rules.Alert{
		Rule: "orders", Region: "cn-hangzhou", Instance: "alikafka_post-cn-0001", Group: group,
		Level: rules.LevelGroup, Condition: rules.Backlog, Severity: sev,
		Value: lag, Threshold: 10000, Lag: lag, AgeSeconds: 3*3600 + 300, AgeKnown: true,
		Top: []rules.Contributor{{Topic: "orders", Lag: lag}},
	}
}

func item(kind rules.Kind, group string, sev rules.Severity, lag int64) notify.Item {
	return notify.Item{Kind: kind, Alert: alert(group, sev, lag)}
}

// receiver starts a receiver that wants the secret and the API key.
func receiver(t *testing.T) *webhooktest.Server {
	t.Helper()
	srv := webhooktest.NewServer(secret)
	t.Cleanup(srv.Close)
	srv.RequireHeader("X-Api-Key", apiKey)
	return srv
}

// notifier posts to srv with the secret and the API key, retrying fast and
// not pacing.
func notifier(srv *webhooktest.Server, opts ...notify.Option) *webhook.Notifier {
	opts = append([]notify.Option{notify.WithRetry(fast), notify.WithLimiter(nil)}, opts...)
	return webhook.New(srv.URL+"/hooks/backlog", secret, map[string]string{"X-Api-Key": apiKey}, nil, opts...)
}

// send posts m to a fresh receiver and returns the document it accepted,
// as sent and decoded, checking that Preview shows exactly that and that
// the receipt holds every item.
func send(t *testing.T, m notify.Message) (webhook.Document, webhooktest.Received) {
	t.Helper()
	srv := receiver(t)
	n := notifier(srv)
	rc, err := n.Notify(context.Background(), m)
	if err != nil {
		t.Fatalf("%v (receiver: %q)", err, srv.Rejected())
	}
	got := srv.Received()
	if len(got) != 1 {
		t.Fatalf("received %d", len(got))
	}
	if !slices.Equal(rc.Accepted, notify.All(m).Accepted) {
		t.Errorf("receipt %q, want every item", rc.Accepted)
	}
	checkPreview(t, n.Preview(m), got[0].Body)
	return decode(t, got[0].Body), got[0]
}

func decode(t *testing.T, body []byte) webhook.Document {
	t.Helper()
	var d webhook.Document
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// checkPreview checks that a preview is the request line, the headers
// and, after a blank line, the body sent, indented; and that it holds no
// credential.
func checkPreview(t *testing.T, preview string, body []byte) {
	t.Helper()
	head, doc, ok := strings.Cut(preview, "\n\n")
	if !ok || !strings.HasPrefix(head, "POST http://127.0.0.1:") {
		t.Fatalf("preview:\n%s", preview)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(doc)); err != nil || !bytes.Equal(compact.Bytes(), body) {
		t.Errorf("preview's document differs from the body sent (%v):\n%s\n--- sent:\n%s", err, doc, body)
	}
	if !strings.Contains(head, "\nContent-Type: application/json\n") || !strings.Contains(head, "\nX-Api-Key: ***") {
		t.Errorf("preview's headers:\n%s", head)
	}
	assertClean(t, preview)
}

// assertClean fails when text holds a credential.
func assertClean(t *testing.T, text string, more ...string) {
	t.Helper()
	for _, s := range append([]string{secret, apiKey}, more...) {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%q shows a credential %q", text, s)
		}
	}
}

// rawKeys returns the keys of a JSON object.
func rawKeys(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// alertKeys are the JSON names of every field of rules.Alert.
func alertKeys() []string {
	var keys []string
	ty := reflect.TypeFor[rules.Alert]()
	for i := range ty.NumField() {
		name, _, _ := strings.Cut(ty.Field(i).Tag.Get("json"), ",")
		keys = append(keys, name)
	}
	slices.Sort(keys)
	return keys
}

// fullAlert sets every field of rules.Alert.
func fullAlert() rules.Alert {
	p := 3
	a := alert("billing", rules.Critical, 18000)
	a.Level, a.Topic, a.Partition = rules.LevelPartition, "billing-events", &p
	a.Condition, a.Value, a.Threshold = rules.Stuck, 42*60, 30*60
	a.Top = []rules.Contributor{{Topic: "billing-events", Partition: &p, Lag: 18000}}
	a.Trend = &rules.Trend{Backlog: []int64{17000, 17600, 18000}, RatesKnown: true, ConsumePerMin: 0.5,
		ProducePerMin: 120, RateSeconds: 300, GrowthPerMin: 119.5, DrainMinutes: 0}
	a.Detail = "detail"
	a.Cause = &rules.BlindCause{Kind: rules.BlindUnreadable, Unreadable: 3, Groups: 4, Error: "Throttling"}
	a.Since, a.AtLeast = evalTime.Add(-42*time.Minute), true
	a.Annotations = map[string]string{"owner": "payments team", "runbook_url": "https://wiki.example.com/runbooks/kafka-lag#billing", "tier": "1"}
	a.Tags = map[string]string{"team": "payments"}
	return a
}

func TestDocumentShape(t *testing.T) {
	full := fullAlert()
	ongoing := alert("billing", rules.Warning, 18000)
	ongoing.Level, ongoing.Topic, ongoing.Partition = full.Level, full.Topic, full.Partition
	elsewhere := alert("other", rules.Warning, 20000)
	m := notify.Message{
		Time:    evalTime,
		Items:   []notify.Item{{Kind: rules.KindReminder, Alert: full, Since: evalTime.Add(-90 * time.Minute)}},
		Ongoing: []notify.Item{{Alert: ongoing}, {Alert: elsewhere}},
	}
	d, got := send(t, m)

	var raw struct {
		Top           json.RawMessage
		Notifications []json.RawMessage `json:"notifications"`
		Ongoing       []json.RawMessage `json:"ongoing"`
	}
	if err := json.Unmarshal(got.Body, &raw); err != nil {
		t.Fatal(err)
	}
	top := rawKeys(t, got.Body)
	if want := []string{"headline", "language", "notifications", "ongoing", "paging", "source", "time", "tone", "version"}; !slices.Equal(top, want) {
		t.Errorf("document keys %q, want %q", top, want)
	}
	if len(raw.Notifications) != 1 || len(raw.Ongoing) != 1 {
		t.Fatalf("%d notifications, %d ongoing; want 1 and 1 (the ongoing alert elsewhere has no place here)", len(raw.Notifications), len(raw.Ongoing))
	}
	if keys, want := rawKeys(t, raw.Notifications[0]), []string{"alert", "fingerprint", "kind", "since", "summary"}; !slices.Equal(keys, want) {
		t.Errorf("notification keys %q, want %q", keys, want)
	}
	// Every field of rules.Alert, exactly as the JSON report writes it.
	var note struct {
		Alert   json.RawMessage `json:"alert"`
		Summary json.RawMessage `json:"summary"`
	}
	if err := json.Unmarshal(raw.Notifications[0], &note); err != nil {
		t.Fatal(err)
	}
	if keys := rawKeys(t, note.Alert); !slices.Equal(keys, alertKeys()) {
		t.Errorf("alert keys %q, want every field of rules.Alert %q", keys, alertKeys())
	}
	report, _ := json.Marshal(full)
	var sent, want any
	json.Unmarshal(note.Alert, &sent)
	json.Unmarshal(report, &want)
	if !reflect.DeepEqual(sent, want) {
		t.Errorf("alert:\n%s\nwant as the report has it:\n%s", note.Alert, report)
	}
	if keys, want := rawKeys(t, note.Summary), []string{"icon", "lines", "links", "subject", "title"}; !slices.Equal(keys, want) {
		t.Errorf("summary keys %q, want %q", keys, want)
	}

	r := notify.Render(m)
	if d.Version != "1" || d.Source != "backlog-alert" || !d.Time.Equal(evalTime) || d.Language != "en" ||
		d.Headline != r.Headline || d.Tone != r.Tone || d.Paging != r.Paging || !d.Paging || d.Omitted != nil {
		t.Errorf("document %+v", d)
	}
	if !strings.Contains(string(got.Body), `"time":"2026-11-21T12:00:00Z"`) || !strings.Contains(string(got.Body), `"since":"2026-11-21T10:30:00Z"`) {
		t.Errorf("times are not RFC 3339 UTC:\n%s", got.Body)
	}
	n := d.Notifications[0]
	s := r.Sections[0]
	wantSum := webhook.Summary{Icon: s.Icon, Title: s.Title, Subject: s.Subject, Lines: s.Lines,
		Links: []webhook.Link{{Text: "Runbook", URL: "https://wiki.example.com/runbooks/kafka-lag#billing"}}}
	if n.Kind != webhook.KindReminder || n.Fingerprint != notify.Fingerprint(full) || !n.Since.Equal(m.Items[0].Since) ||
		!reflect.DeepEqual(n.Summary, wantSum) {
		t.Errorf("notification %+v\nwant summary %+v", n, wantSum)
	}
	o := d.Ongoing[0]
	if o.Kind != webhook.KindOngoing || o.Fingerprint != notify.Fingerprint(ongoing) || !o.Since.IsZero() || !reflect.DeepEqual(o.Summary, wantSum) {
		t.Errorf("ongoing %+v", o)
	}
	if strings.Contains(string(got.Body), `"since":"0001`) {
		t.Error("an unknown since is written as the zero time")
	}
	if got.Header.Get("Content-Type") != "application/json" || got.Header.Get("User-Agent") != "backlog-alert" || got.Path != "/hooks/backlog" {
		t.Errorf("headers %v, path %q", got.Header, got.Path)
	}
}

// Each kind is named, and worded by notify.Render: blindness is an alert
// condition, whatever its kind.
func TestKinds(t *testing.T) {
	blind := rules.Alert{Rule: "backlog-alert", Region: "cn-hangzhou", Instance: "alikafka_post-cn-0001", Level: rules.LevelGroup,
		Condition: rules.Blind, Severity: rules.Critical, Detail: "InvalidAccessKeyId.NotFound",
		Cause: &rules.BlindCause{Kind: rules.BlindCredentials, Code: "InvalidAccessKeyId.NotFound"}}
	gone := item(rules.KindMissing, "g", rules.Critical, 20000)
	gone.Alert.Detail = rules.GoneDeleted
	for _, tc := range []struct {
		name     string
		item     notify.Item
		kind     webhook.Kind
		headline string
		tone     notify.Tone
		paging   bool
	}{
		{"firing", item(rules.KindFiring, "g", rules.Critical, 20000), "firing", "1 consumer group behind (1 critical)", notify.ToneCritical, true},
		{"no kind is firing", item("", "g", rules.Warning, 20000), "firing", "1 consumer group behind", notify.ToneWarning, false},
		{"escalated", item(rules.KindEscalated, "g", rules.Critical, 20000), "escalated", "1 escalated (1 critical)", notify.ToneCritical, true},
		{"downgraded", item(rules.KindDowngraded, "g", rules.Warning, 20000), "downgraded", "1 downgraded", notify.ToneWarning, false},
		{"reminder", item(rules.KindReminder, "g", rules.Warning, 20000), "reminder", "1 still firing", notify.ToneWarning, false},
		{"resolved", item(rules.KindResolved, "g", rules.Critical, 10), "resolved", "1 resolved", notify.ToneResolved, false},
		{"missing is gone", gone, "gone", "1 group gone", notify.ToneGone, false},
		{"blind firing", notify.Item{Kind: rules.KindFiring, Alert: blind}, "firing", "backlog-alert cannot see alikafka_post-cn-0001", notify.ToneCritical, true},
		{"blind reminder", notify.Item{Kind: rules.KindReminder, Alert: blind}, "reminder", "backlog-alert cannot see alikafka_post-cn-0001", notify.ToneCritical, true},
		{"blind resolved", notify.Item{Kind: rules.KindResolved, Alert: blind}, "resolved", "1 resolved", notify.ToneResolved, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := notify.Message{Items: []notify.Item{tc.item}, Time: evalTime}
			d, _ := send(t, m) // the receiver validated it against the schema
			if len(d.Notifications) != 1 {
				t.Fatalf("%d notifications", len(d.Notifications))
			}
			n := d.Notifications[0]
			if n.Kind != tc.kind || webhook.KindOf(tc.item) != tc.kind || n.Alert.Condition != tc.item.Alert.Condition || n.Alert.Detail != tc.item.Alert.Detail {
				t.Errorf("kind %q, condition %q, detail %q", n.Kind, n.Alert.Condition, n.Alert.Detail)
			}
			if d.Headline != tc.headline || d.Tone != tc.tone || d.Paging != tc.paging {
				t.Errorf("headline %q, tone %q, paging %v; want %q, %q, %v", d.Headline, d.Tone, d.Paging, tc.headline, tc.tone, tc.paging)
			}
			s := notify.Render(m).Sections[0]
			if n.Summary.Title != s.Title || n.Summary.Icon != s.Icon || !slices.Equal(n.Summary.Lines, s.Lines) || len(s.Lines) == 0 {
				t.Errorf("summary %+v, want %+v", n.Summary, s)
			}
		})
	}
}

// A message of every kind at once: each notification keeps its own kind,
// most urgent first.
func TestEveryKindInOneDocument(t *testing.T) {
	m := notify.Message{Time: evalTime, Items: []notify.Item{
		item(rules.KindResolved, "resolved", rules.Warning, 10),
		item(rules.KindMissing, "missing", rules.Warning, 20000),
		item(rules.KindDowngraded, "downgraded", rules.Warning, 20000),
		item(rules.KindReminder, "reminder", rules.Warning, 90000),
		item(rules.KindFiring, "firing", rules.Warning, 900000),
		item(rules.KindEscalated, "escalated", rules.Critical, 20000),
	}}
	d, _ := send(t, m)
	var kinds []webhook.Kind
	for _, n := range d.Notifications {
		if string(n.Kind) != n.Alert.Group && !(n.Kind == webhook.KindGone && n.Alert.Group == "missing") {
			t.Errorf("group %q has kind %q", n.Alert.Group, n.Kind)
		}
		kinds = append(kinds, n.Kind)
	}
	if want := []webhook.Kind{"escalated", "firing", "reminder", "downgraded", "gone", "resolved"}; !slices.Equal(kinds, want) {
		t.Errorf("kinds %q, want %q", kinds, want)
	}
	if want := "1 escalated, 1 firing, 1 still firing, 1 downgraded, 1 group gone, 1 resolved (1 critical)"; d.Headline != want {
		t.Errorf("headline %q, want %q", d.Headline, want)
	}
}

func TestFingerprint(t *testing.T) {
	base := alert("billing", rules.Warning, 20000)
	// Another run: the same alert escalated, with other values and history.
	later := base
	later.Severity, later.Value, later.Lag, later.Threshold = rules.Critical, 90000, 90000, 50000
	later.Trend = &rules.Trend{Backlog: []int64{20000, 90000}}
	first, _ := send(t, notify.Message{Time: evalTime, Items: []notify.Item{{Kind: rules.KindFiring, Alert: base}}})
	second, _ := send(t, notify.Message{Time: evalTime.Add(time.Hour), Items: []notify.Item{{Kind: rules.KindEscalated, Alert: later}}})
	fp := first.Notifications[0].Fingerprint
	// Pinned: a receiver keeps fingerprints across releases.
	if fp != second.Notifications[0].Fingerprint || fp != "d76c4afb3c134182" {
		t.Errorf("fingerprints %s and %s, want both d76c4afb3c134182", fp, second.Notifications[0].Fingerprint)
	}

	// Each part of an alert's identity gives another fingerprint.
	p0, p1 := 0, 1
	variants := map[string]func(*rules.Alert){
		"base":        func(*rules.Alert) {},
		"rule":        func(a *rules.Alert) { a.Rule = "payments" },
		"instance":    func(a *rules.Alert) { a.Instance = "alikafka_post-cn-0002" },
		"group":       func(a *rules.Alert) { a.Group = "billing-v2" },
		"topic":       func(a *rules.Alert) { a.Level, a.Topic = rules.LevelTopic, "invoices" },
		"partition 0": func(a *rules.Alert) { a.Level, a.Topic, a.Partition = rules.LevelPartition, "invoices", &p0 },
		"partition 1": func(a *rules.Alert) { a.Level, a.Topic, a.Partition = rules.LevelPartition, "invoices", &p1 },
		"stale":       func(a *rules.Alert) { a.Condition = rules.Stale },
	}
	var items []notify.Item
	for _, change := range variants {
		a := base
		change(&a)
		items = append(items, notify.Item{Kind: rules.KindFiring, Alert: a})
	}
	d, _ := send(t, notify.Message{Time: evalTime, Items: items}) // the receiver refuses a fingerprint twice
	seen := map[string]bool{}
	for _, n := range d.Notifications {
		seen[n.Fingerprint] = true
		if n.Fingerprint != notify.Fingerprint(n.Alert) {
			t.Errorf("%s: fingerprint %s, want notify.Fingerprint's", n.Alert.Where(), n.Fingerprint)
		}
	}
	if len(seen) != len(variants) || len(d.Notifications) != len(variants) {
		t.Errorf("%d distinct fingerprints for %d alerts", len(seen), len(variants))
	}
}

func TestChinese(t *testing.T) {
	shanghai := time.FixedZone("CST", 8*3600)
	m := notify.Message{Time: evalTime, Language: rules.LanguageChinese, Location: shanghai, Items: []notify.Item{
		item(rules.KindFiring, "billing", rules.Critical, 20000),
		item(rules.KindResolved, "orders", rules.Warning, 10),
	}}
	d, _ := send(t, m)
	if d.Language != "zh-CN" || d.Headline != "1 个新告警，1 个已恢复（1 个严重）" || !d.Time.Equal(evalTime) || d.Time.Location() != time.UTC {
		t.Errorf("language %q, headline %q, time %v", d.Language, d.Headline, d.Time)
	}
	n := d.Notifications[0]
	if n.Summary.Title != "严重" || !slices.Contains(n.Summary.Lines, "消息堆积（严重）：2万条（阈值 1万）") {
		t.Errorf("summary %+v", n.Summary)
	}
	if r := d.Notifications[1].Summary; r.Title != "已恢复" {
		t.Errorf("resolved summary %+v", r)
	}
	// The machine-readable parts stay as they are.
	if n.Kind != webhook.KindFiring || n.Alert.Severity != rules.Critical {
		t.Errorf("notification %+v", n)
	}
	// An unknown language is worded, and named, as English.
	m.Language = "fr"
	if d, _ := send(t, m); d.Language != "en" || d.Headline != "1 firing, 1 resolved (1 critical)" {
		t.Errorf("language %q, headline %q", d.Language, d.Headline)
	}
}

func TestNothingToSend(t *testing.T) {
	srv := receiver(t)
	n := notifier(srv)
	m := notify.Message{Ongoing: []notify.Item{item("", "g", rules.Warning, 20000)}}
	rc, err := n.Notify(context.Background(), m)
	if err != nil || len(rc.Accepted) != 0 || srv.Attempts() != 0 || n.Preview(m) != "" {
		t.Errorf("a message without items should send and preview nothing (err %v, %d requests)", err, srv.Attempts())
	}
}
