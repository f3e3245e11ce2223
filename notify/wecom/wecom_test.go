package wecom_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/notify/notifytest"
	"github.com/backlog-alert/backlog-alert/notify/wecom"
	"github.com/backlog-alert/backlog-alert/notify/wecom/wecomtest"
	"github.com/backlog-alert/backlog-alert/rules"
)

// The shared fixtures of the integrations' tests.
var (
	alert  = notifytest.BacklogAlert
	item   = notifytest.Item
	firing = notifytest.Firing
	fast   = notifytest.FastRetry
)

const (
	key    = "693a91f6-7f9c-4bc4-97a0-0ec2sifa5aaa"
	mobile = "13800000000"
)

// evalTime is a fixed evaluation time, for tests that check times.
var evalTime = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

// robot starts a fake WeCom with one robot and a Notifier for it that
// mentions mobiles, does not pace and retries fast; opts come after.
func robot(t *testing.T, mobiles []string, opts ...notify.Option) (*wecom.Notifier, *wecomtest.Server) {
	t.Helper()
	srv := wecomtest.NewServer()
	t.Cleanup(srv.Close)
	opts = append([]notify.Option{notify.WithLimiter(nil), notify.WithRetry(fast)}, opts...)
	return wecom.New(srv.WebhookURL(key), mobiles, nil, opts...), srv
}

// send posts m and returns what arrived, checking that it was accepted
// whole and that Preview shows exactly what was sent.
func send(t *testing.T, n *wecom.Notifier, srv *wecomtest.Server, m notify.Message) []wecomtest.Received {
	t.Helper()
	r, err := n.Notify(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	if want := notify.All(m); !slices.Equal(r.Accepted, want.Accepted) {
		t.Errorf("receipt %q, want every item %q", r.Accepted, want.Accepted)
	}
	got := srv.Received()
	if p := n.Preview(m); p != readable(got) {
		t.Errorf("Preview differs from what was sent:\n%s\n--- sent:\n%s", p, readable(got))
	}
	return got
}

// readable is what a sequence of posts shows, as Preview writes it.
func readable(rs []wecomtest.Received) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.Readable()
	}
	return strings.Join(parts, "\n\n---\n\n")
}

// assertClean fails when err's text holds the key or the webhook URL.
func assertClean(t *testing.T, err error) {
	t.Helper()
	if strings.Contains(err.Error(), key) || strings.Contains(err.Error(), "key="+key[:8]) {
		t.Errorf("error contains the key: %v", err)
	}
}

// jsonKeys returns the keys of a JSON object, sorted.
func jsonKeys(t *testing.T, raw []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return slices.Sorted(maps.Keys(m))
}

// The markdown payload: msgtype and markdown.content only (no mentions,
// which WeCom would ignore there); the headline and each title coloured by
// what happened; every section a heading and a quote.
func TestPayload(t *testing.T) {
	const (
		about = "\n<font color=\"comment\">evaluated 2025-03-01 10:00 UTC · backlog-alert</font>\n\n"
		age   = "Newest consumed message: 3h 5m old"
		top   = "Top topics: orders 20,000"
		where = "Instance alikafka-post-1 · region cn-shanghai · rule orders"
	)
	quote := func(heading string, lines ...string) string { return heading + "\n> " + strings.Join(lines, "\n> ") }
	for _, tc := range []struct {
		name    string
		item    notify.Item
		head    string // the first line
		section string
	}{
		{"firing critical", item(rules.KindFiring, "g", rules.Critical, 20000),
			`### 🚨 <font color="warning">1 consumer group behind (1 critical)</font>`,
			quote(`#### 🔴 <font color="warning">CRITICAL</font> · g`, "Backlog CRITICAL: 20,000 messages (threshold 10,000)", age, top, where)},
		{"firing warning", item(rules.KindFiring, "g", rules.Warning, 20000),
			`### ⚠️ <font color="warning">1 consumer group behind</font>`,
			quote(`#### 🟠 <font color="warning">WARNING</font> · g`, "Backlog WARNING: 20,000 messages (threshold 10,000)", age, top, where)},
		{"escalated", item(rules.KindEscalated, "g", rules.Critical, 20000),
			`### 🚨 <font color="warning">1 escalated (1 critical)</font>`,
			quote(`#### ⏫ <font color="warning">Escalated to CRITICAL</font> · g`, "Backlog CRITICAL (up from WARNING): 20,000 messages (threshold 10,000)", age, top, where)},
		{"downgraded", item(rules.KindDowngraded, "g", rules.Warning, 20000),
			`### ⚠️ <font color="warning">1 downgraded</font>`,
			quote(`#### ⏬ <font color="warning">Downgraded to WARNING</font> · g`, "Backlog WARNING (down from CRITICAL): 20,000 messages (threshold 10,000)", age, top, where)},
		{"reminder", item(rules.KindReminder, "g", rules.Critical, 20000),
			`### 🚨 <font color="warning">1 still firing (1 critical)</font>`,
			quote(`#### 🔁 <font color="warning">Reminder: still firing (CRITICAL)</font> · g`, "Backlog still CRITICAL: 20,000 messages (threshold 10,000)", age, top, where)},
		{"resolved", item(rules.KindResolved, "g", rules.Critical, 120),
			`### ✅ <font color="info">1 resolved</font>`,
			quote(`#### ✅ <font color="info">Resolved</font> · g`, "Backlog resolved: now 120 messages (threshold 10,000)", where)},
		{"gone", item(rules.KindMissing, "g", rules.Critical, 20000),
			`### 👻 <font color="comment">1 group gone</font>`,
			quote(`#### 👻 <font color="comment">Consumer group gone</font> · g`, "Deleted or no longer watched", "It was alerting: CRITICAL Backlog (20,000 messages)", where)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, srv := robot(t, nil)
			got := send(t, n, srv, notify.Message{Items: []notify.Item{tc.item}, Time: evalTime})
			if len(got) != 1 {
				t.Fatalf("received %d posts, want 1", len(got))
			}
			r := got[0]
			if keys := jsonKeys(t, r.Body); !slices.Equal(keys, []string{"markdown", "msgtype"}) || r.MsgType != "markdown" {
				t.Errorf("payload keys %q, msgtype %q", keys, r.MsgType)
			}
			var p struct{ Markdown json.RawMessage }
			json.Unmarshal(r.Body, &p)
			if keys := jsonKeys(t, p.Markdown); !slices.Equal(keys, []string{"content"}) {
				t.Errorf("markdown keys %q, want only content", keys)
			}
			if want := tc.head + about + tc.section; r.Content != want {
				t.Errorf("content:\n%s\nwant:\n%s", r.Content, want)
			}
		})
	}
}

// Mobiles are @-mentioned only when a section pages, by a text message
// after the markdown: WeCom's markdown ignores mentioned_mobile_list.
func TestMentions(t *testing.T) {
	mobiles := []string{mobile, " 13900000000 ", ""}
	want := []string{mobile, "13900000000"}
	for _, tc := range []struct {
		name    string
		items   []notify.Item
		mention string // the text message; "" for none
	}{
		{"warning only", []notify.Item{item(rules.KindFiring, "a", rules.Warning, 20000), item(rules.KindFiring, "b", rules.Warning, 30000)}, ""},
		{"one critical", []notify.Item{item(rules.KindFiring, "a", rules.Warning, 20000), item(rules.KindFiring, "b", rules.Critical, 30000)},
			"🚨 2 consumer groups behind (1 critical)"},
		{"critical resolved, warning firing", []notify.Item{item(rules.KindResolved, "a", rules.Critical, 1), item(rules.KindFiring, "b", rules.Warning, 20000)}, ""},
		{"critical gone, downgraded", []notify.Item{item(rules.KindMissing, "a", rules.Critical, 20000), item(rules.KindDowngraded, "b", rules.Warning, 20000)}, ""},
		{"critical reminder among resolved", []notify.Item{item(rules.KindResolved, "a", rules.Warning, 1), item(rules.KindReminder, "b", rules.Critical, 20000)},
			"🚨 1 still firing, 1 resolved (1 critical)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, srv := robot(t, mobiles)
			got := send(t, n, srv, notify.Message{Items: tc.items, Time: evalTime})
			if tc.mention == "" {
				if len(got) != 1 || got[0].MsgType != "markdown" {
					t.Fatalf("received %d posts, want the markdown alone", len(got))
				}
				return
			}
			if len(got) != 2 || got[0].MsgType != "markdown" || got[1].MsgType != "text" {
				t.Fatalf("received %d posts, want the markdown then a text", len(got))
			}
			if strings.Contains(string(got[0].Body), "mentioned") || strings.Contains(got[0].Content, mobile) {
				t.Errorf("the markdown mentions: %s", got[0].Body)
			}
			m := got[1]
			if m.Content != tc.mention || !slices.Equal(m.MentionedMobileList, want) || len(m.MentionedList) != 0 {
				t.Errorf("text %q mentioning %q / %q, want %q mentioning %q", m.Content, m.MentionedMobileList, m.MentionedList, tc.mention, want)
			}
		})
	}

	t.Run("no mobiles", func(t *testing.T) {
		n, srv := robot(t, nil)
		if got := send(t, n, srv, notify.Message{Items: firing(alert("a", rules.Critical, 20000)), Time: evalTime}); len(got) != 1 {
			t.Errorf("received %d posts, want the markdown alone", len(got))
		}
	})
}

// A channel in Chinese and Beijing time gets Chinese words and UTC+8 times.
func TestChinese(t *testing.T) {
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	backlog := alert("billing", rules.Critical, 20000)
	backlog.Annotations = map[string]string{"owner": "支付组", "runbook_url": "https://wiki.example.com/runbooks/kafka-lag"}
	resolved := item(rules.KindResolved, "orders", rules.Warning, 120)
	resolved.Since = evalTime.Add(-72 * time.Minute)
	m := notify.Message{Time: evalTime, Language: rules.LanguageChinese, Location: shanghai,
		Items: []notify.Item{resolved, {Kind: rules.KindFiring, Alert: backlog}}}

	n, srv := robot(t, []string{mobile})
	got := send(t, n, srv, m)
	if len(got) != 2 {
		t.Fatalf("received %d posts, want the markdown and the mention", len(got))
	}
	want := `### 🚨 <font color="warning">1 个新告警，1 个已恢复（1 个严重）</font>` + "\n" +
		`<font color="comment">检测时间 2025-03-01 18:00（UTC+8） · backlog-alert</font>` + "\n\n" +
		`#### 🔴 <font color="warning">严重</font> · billing` + "\n" +
		"> 消息堆积（严重）：2万条（阈值 1万）\n" +
		"> 最新已消费的消息：3小时5分钟前产生\n" +
		"> 堆积最多的 Topic：orders 2万\n" +
		"> 实例 alikafka-post-1 · 地域 cn-shanghai · 规则 orders\n" +
		"> 负责人：支付组\n" +
		"[处理手册](https://wiki.example.com/runbooks/kafka-lag)\n\n" +
		`#### ✅ <font color="info">已恢复</font> · orders` + "\n" +
		"> 消息堆积（持续1小时12分钟后已恢复）：当前 120条（阈值 1万）\n" +
		"> 实例 alikafka-post-1 · 地域 cn-shanghai · 规则 orders"
	if got[0].Content != want {
		t.Errorf("content:\n%s\nwant:\n%s", got[0].Content, want)
	}
	if want := "🚨 1 个新告警，1 个已恢复（1 个严重）"; got[1].Content != want {
		t.Errorf("mention %q, want %q", got[1].Content, want)
	}
}

// Names and annotations cannot turn into markup: no mention, no colour, no
// bold, no link of their own.
func TestEscapedText(t *testing.T) {
	a := alert("<@zhangsan>", rules.Critical, 20000)
	a.Annotations = map[string]string{
		"summary": "**late** <font color=\"info\">fine</font> [x](https://evil.example.com) `code`\n# heading",
	}
	n, srv := robot(t, nil)
	got := send(t, n, srv, notify.Message{Items: firing(a), Time: evalTime})
	c := got[0].Content
	for _, bad := range []string{"<@", "**", `<font color="info">`, "](https://evil", "`", "\n# heading"} {
		if strings.Contains(c, bad) {
			t.Errorf("content holds %q:\n%s", bad, c)
		}
	}
	// What a person reads is unchanged but for the backtick.
	if shown := strings.ReplaceAll(c, "\u200b", ""); !strings.Contains(shown, "> **late** <font color=\"info\">fine</font> [x](https://evil.example.com) ˋcodeˋ # heading\n") ||
		!strings.Contains(shown, "#### 🔴 <font color=\"warning\">CRITICAL</font> · <@zhangsan>\n") {
		t.Errorf("content:\n%s", shown)
	}
}

func TestEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"<@userid>", "<\u200b@userid>"},
		{`<font color="info">x</font>`, "<\u200bfont color=\"info\">x<\u200b/font>"},
		{"**bold**", "*\u200b*\u200bbold*\u200b*\u200b"},
		{"[x](y)", "[x]\u200b(y)"},
		{"[x] (y)", "[x] (y)"},
		{"`code`", "ˋcodeˋ"},
		{"a\nb\r\nc", "a b c"},
		{"alikafka_post-cn-x __orders_v2__", "alikafka_post-cn-x __orders_v2__"},
		{"消息堆积（严重）：2万条", "消息堆积（严重）：2万条"},
		{"", ""},
	} {
		if got := wecom.Escape(tc.in); got != tc.want {
			t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestTransportErrorHidesKey(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	n := wecom.New("http://"+addr+"/cgi-bin/webhook/send?key="+key, nil, nil, notify.WithRetry(fast), notify.WithLimiter(nil))
	_, err = n.Notify(context.Background(), notify.Message{Items: firing(alert("g", rules.Critical, 20000))})
	if err == nil || !notify.Retryable(err) || notify.Attempts(err) != 4 {
		t.Fatalf("err = %v, want a retryable transport error after 4 attempts", err)
	}
	if !strings.Contains(err.Error(), "/cgi-bin/webhook/send?key=***") || !strings.HasSuffix(err.Error(), "; gave up after 4 attempts") {
		t.Errorf("error = %v", err)
	}
	assertClean(t, err)
}

func TestNothingToSend(t *testing.T) {
	n, srv := robot(t, []string{mobile})
	r, err := n.Notify(context.Background(), notify.Message{})
	if err != nil || len(r.Accepted) != 0 || srv.Attempts(key) != 0 || n.Preview(notify.Message{}) != "" {
		t.Errorf("an empty message should send and preview nothing (err %v, %d attempts)", err, srv.Attempts(key))
	}
}

// ExampleNotifier shows a paging message as the group reads it.
func ExampleNotifier() {
	srv := wecomtest.NewServer()
	defer srv.Close()
	n := wecom.New(srv.WebhookURL("demo-key"), []string{"13800000000"}, nil)
	_, err := n.Notify(context.Background(), notify.Message{
		Time: time.Date(2025, 3, 1, 18, 0, 0, 0, time.UTC),
		Items: []notify.Item{{Kind: rules.KindEscalated, Alert: rules.Alert{
			Rule: "orders", Region: "cn-hangzhou", Instance: "alikafka-1", Group: "order-consumer",
			Condition: rules.Backlog, Severity: rules.Critical, Value: 123456, Threshold: 100000, Lag: 123456,
		}}},
	})
	fmt.Println("err:", err)
	for _, r := range srv.Received() {
		fmt.Printf("--- %s\n%s\n", r.MsgType, r.Readable())
	}
	// Output:
	// err: <nil>
	// --- markdown
	// ### 🚨 <font color="warning">1 escalated (1 critical)</font>
	// <font color="comment">evaluated 2025-03-01 18:00 UTC · backlog-alert</font>
	//
	// #### ⏫ <font color="warning">Escalated to CRITICAL</font> · order-consumer
	// > Backlog CRITICAL (up from WARNING): 123,456 messages (threshold 100,000)
	// > Newest consumed message: age unknown
	// > Instance alikafka-1 · region cn-hangzhou · rule orders
	// --- text
	// 🚨 1 escalated (1 critical)
	//
	// Mentions: @13800000000
}
