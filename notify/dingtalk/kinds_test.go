package dingtalk_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/notify/chattest"
	"github.com/backlog-alert/backlog-alert/notify/dingtalk"
	"github.com/backlog-alert/backlog-alert/rules"
)

func item(kind rules.Kind, group string, sev rules.Severity, lag int64) notify.Item {
	return notify.Item{Kind: kind, Alert: alert(group, sev, lag)}
}

const mobile = "13800000000"

// send posts m to a fresh sink with one mobile to mention and returns what
// arrived, checking that Preview shows exactly that.
func send(t *testing.T, m notify.Message) (chattest.Received, body) {
	t.Helper()
	sink := chattest.NewServer()
	t.Cleanup(sink.Close)
	n := dingtalk.New(sink.DingTalkURL("ops", token), "", []string{mobile}, nil)
	if _, err := n.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := sink.Received()
	if len(got) != 1 {
		t.Fatalf("received %d", len(got))
	}
	if p := n.Preview(m); p != got[0].Readable() {
		t.Errorf("Preview differs from what was sent:\n%s\n--- sent:\n%s", p, got[0].Readable())
	}
	return got[0], decode(t, got[0])
}

// evalTime is a fixed evaluation time, for tests that check times.
var evalTime = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

// since returns it as having started firing d before evalTime.
func since(it notify.Item, d time.Duration) notify.Item {
	it.Since = evalTime.Add(-d)
	return it
}

// section is a section's markdown: its heading, a blank line, its lines as
// a list.
func section(heading string, lines ...string) string {
	return heading + "\n\n- " + strings.Join(lines, "\n- ")
}

// hasSection reports whether text holds sec as a whole block (between blank
// lines or at the end).
func hasSection(text, sec string) bool {
	return strings.Contains(text+"\n\n", "\n\n"+sec+"\n\n")
}

// Each kind has its own emoji, title and condition line; @-mentions only
// for critical items that are firing, escalated or a reminder.
func TestKinds(t *testing.T) {
	const (
		age   = "Newest consumed message: 3h 5m old"
		top   = "Top topics: orders 20,000"
		where = "Instance alikafka-post-1 · region cn-shanghai · rule orders"
	)
	for _, tc := range []struct {
		name    string
		item    notify.Item
		section string // the item's section
		title   string // the message title (DingTalk's notification)
		head    string // the message's first line
		mention bool
	}{
		{"firing critical", item(rules.KindFiring, "g", rules.Critical, 20000),
			section("#### 🔴 CRITICAL · g", "Backlog CRITICAL: 20,000 messages (threshold 10,000)", age, top, where),
			"backlog-alert: 1 consumer group behind (1 critical)", "### 🚨 1 consumer group behind (1 critical)", true},
		{"firing warning", item(rules.KindFiring, "g", rules.Warning, 20000),
			section("#### 🟠 WARNING · g", "Backlog WARNING: 20,000 messages (threshold 10,000)", age, top, where),
			"backlog-alert: 1 consumer group behind", "### ⚠️ 1 consumer group behind", false},
		{"escalated", item(rules.KindEscalated, "g", rules.Critical, 20000),
			section("#### ⏫ Escalated to CRITICAL · g", "Backlog CRITICAL (up from WARNING): 20,000 messages (threshold 10,000)", age, top, where),
			"backlog-alert: 1 escalated (1 critical)", "### 🚨 1 escalated (1 critical)", true},
		{"downgraded", item(rules.KindDowngraded, "g", rules.Warning, 20000),
			section("#### ⏬ Downgraded to WARNING · g", "Backlog WARNING (down from CRITICAL): 20,000 messages (threshold 10,000)", age, top, where),
			"backlog-alert: 1 downgraded", "### ⚠️ 1 downgraded", false},
		{"reminder critical", item(rules.KindReminder, "g", rules.Critical, 20000),
			section("#### 🔁 Reminder: still firing (CRITICAL) · g", "Backlog still CRITICAL: 20,000 messages (threshold 10,000)", age, top, where),
			"backlog-alert: 1 still firing (1 critical)", "### 🚨 1 still firing (1 critical)", true},
		{"reminder warning since", since(item(rules.KindReminder, "g", rules.Warning, 20000), 72*time.Minute),
			section("#### 🔁 Reminder: still firing (WARNING) · g", "Backlog WARNING for 1h 12m: 20,000 messages (threshold 10,000)", age, top, where),
			"backlog-alert: 1 still firing", "### ⚠️ 1 still firing", false},
		{"resolved critical", item(rules.KindResolved, "g", rules.Critical, 120),
			section("#### ✅ Resolved · g", "Backlog resolved: now 120 messages (threshold 10,000)", where),
			"backlog-alert: 1 resolved", "### ✅ 1 resolved", false},
		{"resolved since", since(item(rules.KindResolved, "g", rules.Critical, 120), 72*time.Minute),
			section("#### ✅ Resolved · g", "Backlog resolved after 1h 12m: now 120 messages (threshold 10,000)", where),
			"backlog-alert: 1 resolved", "### ✅ 1 resolved", false},
		{"missing critical", item(rules.KindMissing, "g", rules.Critical, 20000),
			section("#### 👻 Consumer group gone · g", "Deleted or no longer watched", "It was alerting: CRITICAL Backlog (20,000 messages)", where),
			"backlog-alert: 1 group gone", "### 👻 1 group gone", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, b := send(t, notify.Message{Items: []notify.Item{tc.item}, Time: evalTime})
			text := b.Markdown.Text
			head := tc.head + "\n\nevaluated 2025-03-01 10:00 UTC · backlog-alert\n\n"
			if b.Markdown.Title != tc.title || !strings.HasPrefix(text, head) {
				t.Errorf("title %q, text:\n%s\nwant title %q and to start with %q", b.Markdown.Title, text, tc.title, head)
			}
			if !hasSection(text, tc.section) || strings.Count(text, "#### ") != 1 {
				t.Errorf("text:\n%s\nwant the one section:\n%s", text, tc.section)
			}
			mentioned := slices.Equal(b.At.AtMobiles, []string{mobile})
			if mentioned != tc.mention || strings.Contains(text, "@"+mobile) != tc.mention || (!tc.mention && len(b.At.AtMobiles) != 0) {
				t.Errorf("atMobiles %q, @ in text %v; want mention %v", b.At.AtMobiles, strings.Contains(text, "@"+mobile), tc.mention)
			}
			if !strings.Contains(r.Readable(), tc.section) {
				t.Errorf("Readable lacks the section:\n%s", r.Readable())
			}
		})
	}
}

func TestMentionsPerMix(t *testing.T) {
	for _, tc := range []struct {
		name    string
		items   []notify.Item
		mention bool
	}{
		{"critical resolved, warning firing", []notify.Item{item(rules.KindResolved, "a", rules.Critical, 1), item(rules.KindFiring, "b", rules.Warning, 20000)}, false},
		{"critical missing, downgraded", []notify.Item{item(rules.KindMissing, "a", rules.Critical, 20000), item(rules.KindDowngraded, "b", rules.Warning, 20000)}, false},
		{"critical reminder among resolved", []notify.Item{item(rules.KindResolved, "a", rules.Critical, 1), item(rules.KindReminder, "b", rules.Critical, 20000)}, true},
		{"escalated among missing", []notify.Item{item(rules.KindMissing, "a", rules.Warning, 1), item(rules.KindEscalated, "b", rules.Critical, 20000)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, b := send(t, notify.Message{Items: tc.items, Time: time.Now()})
			if got := len(b.At.AtMobiles) > 0; got != tc.mention || strings.Contains(b.Markdown.Text, "@"+mobile) != tc.mention {
				t.Errorf("mentioned %v (%q), want %v", got, b.At.AtMobiles, tc.mention)
			}
		})
	}
}

func TestOrderStuckAndTrend(t *testing.T) {
	stuck := alert("stuck", rules.Critical, 18000)
	stuck.Condition, stuck.Value, stuck.Threshold = rules.Stuck, 42*60, 30*60
	stuck.Trend = &rules.Trend{Backlog: []int64{30000, 24000, 18000}, RatesKnown: true, RateSeconds: 300, ConsumePerMin: 1200, ProducePerMin: 500, DrainMinutes: 200}
	m := notify.Message{Time: time.Now(), Items: []notify.Item{
		item(rules.KindResolved, "resolved", rules.Warning, 10),
		item(rules.KindMissing, "missing", rules.Warning, 20000),
		item(rules.KindDowngraded, "downgraded", rules.Warning, 20000),
		item(rules.KindReminder, "reminder", rules.Warning, 90000),
		item(rules.KindFiring, "firing-warning", rules.Warning, 900000),
		{Kind: rules.KindFiring, Alert: stuck},
		item(rules.KindEscalated, "escalated", rules.Critical, 20000),
	}}
	_, b := send(t, m)
	text := b.Markdown.Text
	var order []string
	for _, h := range regexp.MustCompile(`(?m)^#### .* · (\S+)$`).FindAllStringSubmatch(text, -1) {
		order = append(order, h[1])
	}
	if want := []string{"escalated", "stuck", "firing-warning", "reminder", "downgraded", "missing", "resolved"}; !slices.Equal(order, want) {
		t.Errorf("order = %v, want %v", order, want)
	}
	if want := "### 🚨 1 escalated, 2 firing, 1 still firing, 1 downgraded, 1 group gone, 1 resolved (2 critical)\n"; !strings.HasPrefix(text, want) {
		t.Errorf("text does not start with %q:\n%s", want, text)
	}
	// The sparkline is scaled from zero: 30,000 → 18,000 is a fall by
	// two fifths (█▇▅), not to nothing.
	if want := section("#### 🔴 CRITICAL · stuck",
		"Stuck CRITICAL: committed offsets have not moved for 42m (threshold 30m)",
		"Lag: 18,000 messages",
		"Trend: █▇▅ 30,000 → 18,000 · consuming 1,200/min · producing 500/min (last 5m) · drains in ~3h 20m",
		"Top topics: orders 18,000",
		"Instance alikafka-post-1 · region cn-shanghai · rule orders",
	); !hasSection(text, want) {
		t.Errorf("text lacks the section:\n%s\n--- text:\n%s", want, text)
	}
}

// Sparklines are multi-byte: the size limit still holds with a trend on
// every item, and the resolved items are the ones cut.
func TestSizeLimitWithTrends(t *testing.T) {
	var its []notify.Item
	backlog := make([]int64, 30)
	for i := range backlog {
		backlog[i] = int64(i * i * 1000)
	}
	for i := range 120 {
		kind := rules.KindResolved
		if i%4 == 0 {
			kind = rules.KindFiring
		}
		a := alert(fmt.Sprintf("消费组-%03d-%s", i, strings.Repeat("长", 10)), rules.Warning, int64(20000+i))
		a.Trend = &rules.Trend{Backlog: backlog, RatesKnown: true, ConsumePerMin: 100, ProducePerMin: 900, GrowthPerMin: 800}
		its = append(its, notify.Item{Kind: kind, Alert: a})
	}
	r, b := send(t, notify.Message{Items: its, Time: time.Now()})
	if len(r.Body) > 20000 {
		t.Errorf("body is %d bytes", len(r.Body))
	}
	text := b.Markdown.Text
	firing := strings.Count(text, "#### 🟠 WARNING")
	resolved := strings.Count(text, "#### ✅ Resolved")
	more := regexp.MustCompile(`…and (\d+) more`).FindStringSubmatch(text)
	if more == nil || firing != 30 || resolved == 0 || resolved >= 90 {
		t.Fatalf("%d firing and %d resolved shown, more %v", firing, resolved, more)
	}
	if rest, _ := strconv.Atoi(more[1]); firing+resolved+rest != len(its) {
		t.Errorf("%d + %d shown + %d more, want %d", firing, resolved, rest, len(its))
	}
	if !strings.Contains(text, "Trend: ") || !strings.Contains(text, "█ ") {
		t.Error("no trend shown")
	}
}
