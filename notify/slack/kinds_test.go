package slack_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/rules"
)

func item(kind rules.Kind, group string, sev rules.Severity, lag int64) notify.Item {
	return notify.Item{Kind: kind, Alert: alert(group, sev, lag)}
}

const (
	red   = "#E01E5A"
	amber = "#ECB22E"
	green = "#2EB67D"
	grey  = "#9E9E9E"
)

// since returns it as having started firing d before evalTime.
func since(it notify.Item, d time.Duration) notify.Item {
	it.Since = evalTime.Add(-d)
	return it
}

// Each kind has its own emoji, title and condition line; the header and
// colour follow.
func TestKinds(t *testing.T) {
	where := "Instance alikafka-post-1 · region cn-hangzhou · rule orders"
	for _, tc := range []struct {
		name    string
		item    notify.Item
		section string // the whole section
		header  string
		color   string
	}{
		{"firing critical", item(rules.KindFiring, "g", rules.Critical, 20000), lines(
			":red_circle: *CRITICAL* · *g*",
			"Backlog CRITICAL: 20,000 messages (threshold 10,000)",
			"Newest consumed message: 42m old",
			"Top topics: orders 19,900 · payments 100",
			where),
			":rotating_light: 1 consumer group behind (1 critical)", red},
		{"firing warning", item(rules.KindFiring, "g", rules.Warning, 20000), lines(
			":large_orange_circle: *WARNING* · *g*",
			"Backlog WARNING: 20,000 messages (threshold 10,000)",
			"Newest consumed message: 42m old",
			"Top topics: orders 19,900 · payments 100",
			where),
			":warning: 1 consumer group behind", amber},
		{"escalated", item(rules.KindEscalated, "g", rules.Critical, 20000), lines(
			":arrow_double_up: *Escalated to CRITICAL* · *g*",
			"Backlog CRITICAL (up from WARNING): 20,000 messages (threshold 10,000)",
			"Newest consumed message: 42m old",
			"Top topics: orders 19,900 · payments 100",
			where),
			":rotating_light: 1 escalated (1 critical)", red},
		{"downgraded", item(rules.KindDowngraded, "g", rules.Warning, 20000), lines(
			":arrow_double_down: *Downgraded to WARNING* · *g*",
			"Backlog WARNING (down from CRITICAL): 20,000 messages (threshold 10,000)",
			"Newest consumed message: 42m old",
			"Top topics: orders 19,900 · payments 100",
			where),
			":warning: 1 downgraded", amber},
		{"reminder", item(rules.KindReminder, "g", rules.Critical, 20000), lines(
			":repeat: *Reminder: still firing (CRITICAL)* · *g*",
			"Backlog still CRITICAL: 20,000 messages (threshold 10,000)",
			"Newest consumed message: 42m old",
			"Top topics: orders 19,900 · payments 100",
			where),
			":rotating_light: 1 still firing (1 critical)", red},
		{"reminder since", since(item(rules.KindReminder, "g", rules.Warning, 20000), 72*time.Minute), lines(
			":repeat: *Reminder: still firing (WARNING)* · *g*",
			"Backlog WARNING for 1h 12m: 20,000 messages (threshold 10,000)",
			"Newest consumed message: 42m old",
			"Top topics: orders 19,900 · payments 100",
			where),
			":warning: 1 still firing", amber},
		{"resolved", item(rules.KindResolved, "g", rules.Critical, 120), lines(
			":white_check_mark: *Resolved* · *g*",
			"Backlog resolved: now 120 messages (threshold 10,000)",
			where), // no top topics once resolved
			":white_check_mark: 1 resolved", green},
		{"resolved since", since(item(rules.KindResolved, "g", rules.Critical, 120), 72*time.Minute), lines(
			":white_check_mark: *Resolved* · *g*",
			"Backlog resolved after 1h 12m: now 120 messages (threshold 10,000)",
			where),
			":white_check_mark: 1 resolved", green},
		{"missing", item(rules.KindMissing, "g", rules.Critical, 20000), lines(
			":ghost: *Consumer group gone* · *g*",
			"Deleted or no longer watched",
			"It was alerting: CRITICAL Backlog (20,000 messages)",
			where),
			":ghost: 1 group gone", grey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := notify.Message{Items: []notify.Item{tc.item}, Time: evalTime}
			got, n := sendOne(t, m)
			s, color, blocks := decode(t, got.Body)
			if s.Text != tc.header || s.Blocks[0].Text.Text != tc.header {
				t.Errorf("header = %q, want %q", s.Text, tc.header)
			}
			if color != tc.color {
				t.Errorf("colour = %q, want %q", color, tc.color)
			}
			if len(blocks) != 2 {
				t.Fatalf("%d attachment blocks, want the context and one section", len(blocks))
			}
			if sec := blocks[1].Text.Text; sec != tc.section {
				t.Errorf("section:\n%s\nwant:\n%s", sec, tc.section)
			}
			if p := n.Preview(m); p != got.Readable() {
				t.Errorf("Preview differs from what was sent:\n%s\n--- sent:\n%s", p, got.Readable())
			}
			if !strings.Contains(got.Readable(), tc.section) {
				t.Errorf("Readable lacks the section:\n%s", got.Readable())
			}
		})
	}
}

func TestColourPerMix(t *testing.T) {
	for _, tc := range []struct {
		name  string
		items []notify.Item
		color string
	}{
		{"critical firing among resolved", []notify.Item{item(rules.KindResolved, "a", rules.Warning, 1), item(rules.KindFiring, "b", rules.Critical, 20000)}, red},
		{"critical reminder", []notify.Item{item(rules.KindReminder, "b", rules.Critical, 20000), item(rules.KindMissing, "c", rules.Warning, 1)}, red},
		{"warning firing", []notify.Item{item(rules.KindFiring, "b", rules.Warning, 20000), item(rules.KindResolved, "a", rules.Critical, 1)}, amber},
		{"downgraded only", []notify.Item{item(rules.KindDowngraded, "b", rules.Warning, 20000)}, amber},
		{"only resolved", []notify.Item{item(rules.KindResolved, "a", rules.Critical, 1), item(rules.KindResolved, "b", rules.Warning, 2)}, green},
		{"only missing", []notify.Item{item(rules.KindMissing, "a", rules.Critical, 20000)}, grey},
		{"missing and resolved", []notify.Item{item(rules.KindMissing, "a", rules.Critical, 20000), item(rules.KindResolved, "b", rules.Warning, 2)}, grey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := sendOne(t, notify.Message{Items: tc.items, Time: evalTime})
			if _, color, _ := decode(t, got.Body); color != tc.color {
				t.Errorf("colour = %q, want %q", color, tc.color)
			}
		})
	}
}

func TestOrderAndMixedHeadline(t *testing.T) {
	m := notify.Message{Time: evalTime, Items: []notify.Item{
		item(rules.KindResolved, "resolved", rules.Warning, 10),
		item(rules.KindMissing, "missing", rules.Warning, 20000),
		item(rules.KindDowngraded, "downgraded", rules.Warning, 20000),
		item(rules.KindReminder, "reminder", rules.Warning, 90000),
		item(rules.KindFiring, "firing-warning", rules.Warning, 900000),
		item(rules.KindFiring, "firing-critical", rules.Critical, 20000),
		item(rules.KindEscalated, "escalated", rules.Critical, 20000),
	}}
	got, n := sendOne(t, m)
	s, _, blocks := decode(t, got.Body)
	if want := ":rotating_light: 1 escalated, 2 firing, 1 still firing, 1 downgraded, 1 group gone, 1 resolved (2 critical)"; s.Text != want {
		t.Errorf("header = %q, want %q", s.Text, want)
	}
	want := []string{"escalated", "firing-critical", "firing-warning", "reminder", "downgraded", "missing", "resolved"}
	if len(blocks) != 1+len(want) {
		t.Fatalf("%d blocks", len(blocks))
	}
	for i, g := range want {
		if sec := blocks[1+i].Text.Text; !strings.Contains(strings.SplitN(sec, "\n", 2)[0], "*"+g+"*") {
			t.Errorf("section %d = %q, want group %s", i, sec, g)
		}
	}
	if p := n.Preview(m); p != got.Readable() {
		t.Errorf("Preview differs from what was sent:\n%s\n--- sent:\n%s", p, got.Readable())
	}
}

func TestStuckAndTrend(t *testing.T) {
	a := alert("orders-eu", rules.Critical, 12345)
	a.Condition, a.Value, a.Threshold = rules.Stuck, 42*60, 30*60
	// Scaled from zero, 8,000 → 12,345 is a mild rise (▆▇█), not a cliff.
	a.Trend = &rules.Trend{Backlog: []int64{8000, 10000, 12345}, RatesKnown: true, RateSeconds: 300, ProducePerMin: 300, GrowthPerMin: 300}
	m := notify.Message{Time: evalTime, Items: []notify.Item{{Kind: rules.KindFiring, Alert: a}}}
	got, n := sendOne(t, m)
	_, _, blocks := decode(t, got.Body)
	want := lines(
		":red_circle: *CRITICAL* · *orders-eu*",
		"Stuck CRITICAL: committed offsets have not moved for 42m (threshold 30m)",
		"Lag: 12,345 messages",
		"Trend: ▆▇█ 8,000 → 12,345 · not consuming · producing 300/min (last 5m) · growing by 300/min",
		"Top topics: orders 12,245 · payments 100",
		"Instance alikafka-post-1 · region cn-hangzhou · rule orders",
	)
	if len(blocks) != 2 || blocks[1].Text.Text != want {
		t.Errorf("sections:\n%s\nwant:\n%s", got.Readable(), want)
	}
	if p := n.Preview(m); p != got.Readable() {
		t.Errorf("Preview differs from what was sent:\n%s\n--- sent:\n%s", p, got.Readable())
	}
}

// Over the block limit, what is cut is the least urgent: resolved last.
func TestLimitsMixed(t *testing.T) {
	var its []notify.Item
	for i := range 40 {
		its = append(its, item(rules.KindResolved, fmt.Sprintf("resolved-%02d", i), rules.Warning, 5))
	}
	for i := range 15 {
		its = append(its, item(rules.KindFiring, fmt.Sprintf("firing-%02d", i), rules.Warning, 20000))
	}
	its = append(its, item(rules.KindEscalated, "escalated", rules.Critical, 20000))
	got, _ := sendOne(t, notify.Message{Items: its, Time: evalTime})
	_, color, blocks := decode(t, got.Body)
	if 1+len(blocks) > 50 {
		t.Errorf("%d blocks", 1+len(blocks))
	}
	if color != red || !strings.HasPrefix(blocks[1].Text.Text, ":arrow_double_up:") {
		t.Errorf("colour %s, first section %q", color, blocks[1].Text.Text)
	}
	shown := len(blocks) - 2
	if last := blocks[len(blocks)-1].Text.Text; last != fmt.Sprintf("…and %d more", len(its)-shown) {
		t.Errorf("last section = %q", last)
	}
	if !strings.HasPrefix(blocks[len(blocks)-2].Text.Text, ":white_check_mark: *Resolved*") {
		t.Errorf("the last shown section is not a resolved one: %q", blocks[len(blocks)-2].Text.Text)
	}
}
