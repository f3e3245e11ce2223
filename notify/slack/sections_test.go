package slack_test

import (
	"maps"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/rules"
)

// billing returns group billing's stale CRITICAL (57m against 30m) and
// backlog WARNING (21,000 against 10,000) alerts: two conditions of one
// place.
func billing() (stale, backlog rules.Alert) {
	backlog = alert("billing", rules.Warning, 21000)
	stale = alert("billing", rules.Critical, 21000)
	stale.Condition, stale.Value, stale.Threshold, stale.AgeSeconds = rules.Stale, 57*60, 30*60, 57*60
	return stale, backlog
}

// A group's conditions are told in one section: the worst severity in the
// title, one line per condition, worst first.
func TestSectionMergesConditions(t *testing.T) {
	stale, backlog := billing()
	other := alert("orders-eu", rules.Warning, 30000)
	where := "Instance alikafka-post-1 · region cn-hangzhou · rule orders"

	for _, tc := range []struct {
		name     string
		m        notify.Message
		header   string
		color    string
		sections []string
	}{{
		name:   "stale critical and backlog warning",
		m:      notify.Message{Time: evalTime, Items: firing(backlog, stale)},
		header: ":rotating_light: 1 consumer group behind (1 critical)",
		color:  red,
		sections: []string{lines(
			":red_circle: *CRITICAL* · *billing*",
			"Stale CRITICAL: newest consumed message is 57m old (threshold 30m)",
			"Backlog WARNING: 21,000 messages (threshold 10,000)",
			// Neither "Lag:" nor "Newest consumed message:": the
			// condition lines said both.
			"Top topics: orders 20,900 · payments 100",
			where,
		)},
	}, {
		// Stale resolves while backlog still fires: the section says both;
		// an ongoing alert of a place without news (orders-eu) is left out.
		name: "partly resolved",
		m: notify.Message{Time: evalTime,
			Items:   []notify.Item{since(notify.Item{Kind: rules.KindResolved, Alert: stale}, 72*time.Minute)},
			Ongoing: []notify.Item{{Alert: backlog}, {Alert: other}},
		},
		header: ":warning: 1 partly resolved",
		color:  amber,
		sections: []string{lines(
			":white_check_mark: *Partly resolved, still WARNING* · *billing*",
			"Backlog still WARNING: 21,000 messages (threshold 10,000)",
			"Stale resolved after 1h 12m: newest consumed message now 57m old (threshold 30m)",
			"Top topics: orders 20,900 · payments 100",
			where,
		)},
	}, {
		name: "gone with two alerts",
		m: notify.Message{Time: evalTime, Items: []notify.Item{
			{Kind: rules.KindMissing, Alert: backlog}, {Kind: rules.KindMissing, Alert: stale},
		}},
		header: ":ghost: 1 group gone",
		color:  grey,
		sections: []string{lines(
			":ghost: *Consumer group gone* · *billing*",
			"Deleted or no longer watched",
			"It was alerting: CRITICAL Stale (57m), WARNING Backlog (21,000 messages)",
			where,
		)},
	}, {
		// The same group under another rule is another section.
		name: "another rule",
		m: func() notify.Message {
			finance := backlog
			finance.Rule = "finance"
			return notify.Message{Time: evalTime, Items: firing(backlog, stale, finance)}
		}(),
		header: ":rotating_light: 1 consumer group behind (1 critical)",
		color:  red,
		sections: []string{
			lines(
				":red_circle: *CRITICAL* · *billing*",
				"Stale CRITICAL: newest consumed message is 57m old (threshold 30m)",
				"Backlog WARNING: 21,000 messages (threshold 10,000)",
				"Top topics: orders 20,900 · payments 100",
				where,
			),
			lines(
				":large_orange_circle: *WARNING* · *billing*",
				"Backlog WARNING: 21,000 messages (threshold 10,000)",
				"Newest consumed message: 42m old",
				"Top topics: orders 20,900 · payments 100",
				"Instance alikafka-post-1 · region cn-hangzhou · rule finance",
			),
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, n := sendOne(t, tc.m)
			s, color, blocks := decode(t, got.Body)
			if s.Text != tc.header {
				t.Errorf("header = %q, want %q", s.Text, tc.header)
			}
			if color != tc.color {
				t.Errorf("colour = %q, want %q", color, tc.color)
			}
			if len(blocks) != 1+len(tc.sections) {
				t.Fatalf("%d section blocks, want %d:\n%s", len(blocks)-1, len(tc.sections), got.Readable())
			}
			for i, want := range tc.sections {
				if sec := blocks[1+i]; sec.Type != "section" || sec.Text.Text != want {
					t.Errorf("section %d:\n%s\nwant:\n%s", i, sec.Text.Text, want)
				}
			}
			if p := n.Preview(tc.m); p != got.Readable() {
				t.Errorf("Preview differs from what was sent:\n%s\n--- sent:\n%s", p, got.Readable())
			}
		})
	}
}

// Annotations reach the message: the summary first, owner and free keys
// after the facts, URLs as <url|text> links on the last line, all escaped
// for mrkdwn.
func TestAnnotations(t *testing.T) {
	a := alert("billing", rules.Critical, 20000)
	a.Annotations = map[string]string{
		"summary":       "billing is behind: invoices go out late",
		"owner":         "payments <team> & co",
		"runbook_url":   "https://wiki.example.com/run?group=billing&step=<2>",
		"dashboard_url": "https://grafana.example.com/d/kafka?var-group=billing",
		"tier":          "gold",
	}
	links := "<https://wiki.example.com/run?group=billing&amp;step=&lt;2&gt;|Runbook> · <https://grafana.example.com/d/kafka?var-group=billing|dashboard>"

	t.Run("lines and links", func(t *testing.T) {
		m := notify.Message{Time: evalTime, Items: firing(a)}
		got, n := sendOne(t, m)
		_, _, blocks := decode(t, got.Body)
		want := lines(
			":red_circle: *CRITICAL* · *billing*",
			"billing is behind: invoices go out late",
			"Backlog CRITICAL: 20,000 messages (threshold 10,000)",
			"Newest consumed message: 42m old",
			"Top topics: orders 19,900 · payments 100",
			"Instance alikafka-post-1 · region cn-hangzhou · rule orders",
			"Owner: payments &lt;team&gt; &amp; co",
			"tier: gold",
			links,
		)
		if len(blocks) != 2 || blocks[1].Text.Text != want {
			t.Errorf("section:\n%s\nwant:\n%s", got.Readable(), want)
		}
		if p := n.Preview(m); p != got.Readable() {
			t.Errorf("Preview differs from what was sent:\n%s\n--- sent:\n%s", p, got.Readable())
		}
	})

	t.Run("a bar in a URL does not end it", func(t *testing.T) {
		piped := a
		piped.Annotations = map[string]string{"runbook_url": "https://grafana.example.com/d?var=a|b"}
		got, _ := sendOne(t, notify.Message{Time: evalTime, Items: firing(piped)})
		if !strings.Contains(got.Readable(), "<https://grafana.example.com/d?var=a%7Cb|Runbook>") {
			t.Errorf("link:\n%s", got.Readable())
		}
	})

	t.Run("a link too long for the section is left out, the section is kept", func(t *testing.T) {
		long := a
		long.Annotations = map[string]string{"runbook_url": "https://wiki.example.com/" + strings.Repeat("x", 3100)}
		got, _ := sendOne(t, notify.Message{Time: evalTime, Items: firing(long)})
		text := got.Readable()
		if strings.Contains(text, "Runbook") || !strings.Contains(text, "Backlog CRITICAL: 20,000 messages (threshold 10,000)") {
			t.Errorf("section:\n%.400s", text)
		}
	})

	t.Run("links survive the cut", func(t *testing.T) {
		huge := a
		huge.Annotations = maps.Clone(a.Annotations)
		// About 6,000 characters; the sink, as Slack, rejects a section
		// over 3,000.
		huge.Annotations["summary"] = strings.Repeat("billing & co are far behind. ", 200)
		got, _ := sendOne(t, notify.Message{Time: evalTime, Items: firing(huge)})
		_, _, blocks := decode(t, got.Body)
		text := blocks[1].Text.Text
		if n := utf8.RuneCountInString(text); n > 3000 {
			t.Errorf("section is %d characters, Slack allows 3000", n)
		}
		if !strings.HasPrefix(text, ":red_circle: *CRITICAL* · *billing*\nbilling &amp; co are far behind.") ||
			!strings.HasSuffix(text, "…\n"+links) {
			t.Errorf("section starts %q and ends %q; want the title first and the links last, after the cut",
				text[:60], text[len(text)-len(links)-10:])
		}
	})
}

// A channel in Chinese and Beijing time gets Chinese words and UTC+8
// times, in the fallback text, the header, the context and the sections.
func TestChinese(t *testing.T) {
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	backlog := alert("billing", rules.Critical, 20000)
	stuck := alert("billing", rules.Warning, 20000)
	// Not moving since monitoring began, at 09:30 UTC: 17:30 in Beijing.
	stuck.Condition, stuck.Value, stuck.Threshold = rules.Stuck, 30*60, 15*60
	stuck.Since, stuck.AtLeast = evalTime.Add(-30*time.Minute), true
	m := notify.Message{Time: evalTime, Language: rules.LanguageChinese, Location: shanghai, Items: firing(stuck, backlog)}

	got, n := sendOne(t, m)
	s, color, blocks := decode(t, got.Body)
	header := ":rotating_light: 1 个消费组消费滞后（1 个严重）"
	if s.Text != header || s.Blocks[0].Text.Text != header {
		t.Errorf("text %q, header %+v; want %q", s.Text, s.Blocks, header)
	}
	if color != red {
		t.Errorf("colour = %q", color)
	}
	if c := contextText(t, got.Body); c != "检测时间 2025-03-01 18:00（UTC+8） · backlog-alert" {
		t.Errorf("context = %q, want the evaluation time in UTC+8", c)
	}
	want := lines(
		":red_circle: *严重* · *billing*",
		"消息堆积（严重）：2万条（阈值 1万）",
		"消费停滞（警告）：消费位点至少 30分钟未前进：从 17:30 开始监控起就没动过（阈值 15分钟）",
		"最新已消费的消息：42分钟前产生",
		"堆积最多的 Topic：orders 2万，payments 100",
		"实例 alikafka-post-1 · 地域 cn-hangzhou · 规则 orders",
	)
	if len(blocks) != 2 || blocks[1].Text.Text != want {
		t.Errorf("sections:\n%s\nwant:\n%s", got.Readable(), want)
	}
	if p := n.Preview(m); p != got.Readable() {
		t.Errorf("Preview differs from what was sent:\n%s\n--- sent:\n%s", p, got.Readable())
	}
}
