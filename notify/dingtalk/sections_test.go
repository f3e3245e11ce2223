package dingtalk_test

import (
	"maps"
	"slices"
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

// A group's conditions are told under one heading: the worst severity in
// the title, one line per condition, worst first; the mention follows the
// paging condition.
func TestSectionMergesConditions(t *testing.T) {
	stale, backlog := billing()
	where := "Instance alikafka-post-1 · region cn-shanghai · rule orders"

	t.Run("stale critical and backlog warning", func(t *testing.T) {
		_, b := send(t, notify.Message{Time: evalTime, Items: firing(backlog, stale)})
		text := b.Markdown.Text
		want := section("#### 🔴 CRITICAL · billing",
			"Stale CRITICAL: newest consumed message is 57m old (threshold 30m)",
			"Backlog WARNING: 21,000 messages (threshold 10,000)",
			"Top topics: orders 21,000",
			where,
		)
		if n := strings.Count(text, "#### "); n != 1 || !hasSection(text, want) {
			t.Errorf("%d headings; text:\n%s\nwant the one section:\n%s", n, text, want)
		}
		if b.Markdown.Title != "backlog-alert: 1 consumer group behind (1 critical)" || !slices.Equal(b.At.AtMobiles, []string{mobile}) {
			t.Errorf("title %q, atMobiles %q", b.Markdown.Title, b.At.AtMobiles)
		}
	})

	t.Run("partly resolved", func(t *testing.T) {
		// Stale resolves, backlog still fires; nothing pages.
		other := alert("orders-eu", rules.Critical, 30000)
		_, b := send(t, notify.Message{Time: evalTime,
			Items:   []notify.Item{since(notify.Item{Kind: rules.KindResolved, Alert: stale}, 72*time.Minute)},
			Ongoing: []notify.Item{{Alert: backlog}, {Alert: other}}, // orders-eu has no news: no section
		})
		text := b.Markdown.Text
		want := section("#### ✅ Partly resolved, still WARNING · billing",
			"Backlog still WARNING: 21,000 messages (threshold 10,000)",
			"Stale resolved after 1h 12m: newest consumed message now 57m old (threshold 30m)",
			"Top topics: orders 21,000",
			where,
		)
		if n := strings.Count(text, "#### "); n != 1 || !hasSection(text, want) || !strings.HasPrefix(text, "### ⚠️ 1 partly resolved\n") {
			t.Errorf("%d headings; text:\n%s\nwant the one section:\n%s", n, text, want)
		}
		if len(b.At.AtMobiles) != 0 || strings.Contains(text, "@"+mobile) {
			t.Errorf("mentioned %q for a section that does not page", b.At.AtMobiles)
		}
	})
}

// Annotations reach the message: the summary first, the owner after the
// facts, the runbook as a [Runbook](url) link on a last line that a cut
// never removes.
func TestAnnotations(t *testing.T) {
	a := alert("billing", rules.Warning, 20000)
	a.Annotations = map[string]string{
		"summary":     "billing is behind: invoices go out *late*",
		"owner":       "payments_team",
		"runbook_url": "https://wiki.example.com/runbooks/Kafka lag (billing)",
	}
	link := "[Runbook](https://wiki.example.com/runbooks/Kafka%20lag%20%28billing%29)"

	t.Run("lines and link", func(t *testing.T) {
		_, b := send(t, notify.Message{Time: evalTime, Items: firing(a)})
		want := section("#### 🟠 WARNING · billing",
			`billing is behind: invoices go out \*late\*`,
			"Backlog WARNING: 20,000 messages (threshold 10,000)",
			"Newest consumed message: 3h 5m old",
			"Top topics: orders 20,000",
			"Instance alikafka-post-1 · region cn-shanghai · rule orders",
			"Owner: payments_team",
		) + "\n\n" + link
		if !strings.HasSuffix(b.Markdown.Text, "\n\n"+want) {
			t.Errorf("text:\n%s\nwant it to end with:\n%s", b.Markdown.Text, want)
		}
	})

	t.Run("link survives the cut", func(t *testing.T) {
		huge := a
		huge.Annotations = maps.Clone(a.Annotations)
		huge.Annotations["summary"] = strings.Repeat("billing is far behind. ", 300) // ~7,000 characters
		r, b := send(t, notify.Message{Time: evalTime, Items: firing(huge)})
		text := b.Markdown.Text
		sec := text[strings.Index(text, "#### "):]
		if n := utf8.RuneCountInString(sec); n > 3000 {
			t.Errorf("section is %d characters, want at most 3000", n)
		}
		if !strings.HasPrefix(sec, "#### 🟠 WARNING · billing\n\n- billing is far behind.") || !strings.HasSuffix(sec, "…\n\n"+link) {
			t.Errorf("section starts %q, ends %q; want the heading first and the link last, after the cut",
				sec[:40], sec[len(sec)-len(link)-10:])
		}
		if len(r.Body) > 20000 {
			t.Errorf("body is %d bytes", len(r.Body))
		}
	})
}

// A channel in Chinese and Beijing time gets Chinese words and UTC+8
// times, in the title and the markdown.
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

	r, b := send(t, m)
	if want := "backlog-alert: 1 个消费组消费滞后（1 个严重）"; b.Markdown.Title != want {
		t.Errorf("title %q, want %q", b.Markdown.Title, want)
	}
	want := "### 🚨 1 个消费组消费滞后（1 个严重）\n\n" +
		"检测时间 2025-03-01 18:00（UTC+8） · backlog-alert\n\n" +
		section("#### 🔴 严重 · billing",
			"消息堆积（严重）：2万条（阈值 1万）",
			"消费停滞（警告）：消费位点至少 30分钟未前进：从 17:30 开始监控起就没动过（阈值 15分钟）",
			"最新已消费的消息：3小时5分钟前产生",
			"堆积最多的 Topic：orders 2万",
			"实例 alikafka-post-1 · 地域 cn-shanghai · 规则 orders",
		) + "\n\n@" + mobile
	if b.Markdown.Text != want {
		t.Errorf("text:\n%s\nwant:\n%s", b.Markdown.Text, want)
	}
	if !strings.Contains(r.Readable(), "检测时间 2025-03-01 18:00（UTC+8）") {
		t.Errorf("Readable:\n%s", r.Readable())
	}
}
