package feishu_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/notify/feishu"
	"github.com/backlog-alert/backlog-alert/notify/feishu/feishutest"
	"github.com/backlog-alert/backlog-alert/notify/notifytest"
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
	token  = "5e3d587e-d78e-4a07-bd07-265f269f86fd"
	secret = "nIMtb7r3N9pkXyXdtAbx6e"
	openID = "ou_7d8a6e6df7621556ce0d21922b676706"
)

// evalTime is a fixed evaluation time, for tests that check times.
var evalTime = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

type text struct {
	Tag     string `json:"tag"`
	Content string `json:"content"`
}

type element struct {
	Tag      string `json:"tag"`
	Text     *text  `json:"text"`
	Elements []text `json:"elements"`
	Actions  []struct {
		Tag  string `json:"tag"`
		Text text   `json:"text"`
		URL  string `json:"url"`
		Type string `json:"type"`
	} `json:"actions"`
}

type body struct {
	Timestamp *string `json:"timestamp"`
	Sign      *string `json:"sign"`
	MsgType   string  `json:"msg_type"`
	Card      struct {
		Config struct {
			WideScreenMode bool `json:"wide_screen_mode"`
		} `json:"config"`
		Header struct {
			Title    text   `json:"title"`
			Template string `json:"template"`
		} `json:"header"`
		Elements []element `json:"elements"`
	} `json:"card"`
}

func decode(t *testing.T, r feishutest.Received) body {
	t.Helper()
	var b body
	if err := json.Unmarshal(r.Body, &b); err != nil {
		t.Fatal(err)
	}
	return b
}

// tags lists the card's element tags in order.
func (b body) tags() []string {
	var out []string
	for _, e := range b.Card.Elements {
		out = append(out, e.Tag)
	}
	return out
}

// sections returns the lark_md of the section divs: those that start
// with a bold heading.
func (b body) sections() []string {
	var out []string
	for _, e := range b.Card.Elements {
		if e.Tag == "div" && e.Text != nil && strings.HasPrefix(e.Text.Content, "**") {
			out = append(out, e.Text.Content)
		}
	}
	return out
}

// notes returns the texts of the note elements.
func (b body) notes() []string {
	var out []string
	for _, e := range b.Card.Elements {
		if e.Tag == "note" {
			for _, t := range e.Elements {
				out = append(out, t.Content)
			}
		}
	}
	return out
}

// mentions returns the div that @-mentions, or "".
func (b body) mentions() string {
	for _, e := range b.Card.Elements {
		if e.Tag == "div" && e.Text != nil && strings.HasPrefix(e.Text.Content, "<at ") {
			return e.Text.Content
		}
	}
	return ""
}

// send posts m to a fresh fake bot with openID to mention and returns what
// arrived, checking that Preview shows exactly that.
func send(t *testing.T, m notify.Message) (feishutest.Received, body) {
	t.Helper()
	sink := feishutest.NewServer()
	t.Cleanup(sink.Close)
	n := feishu.New(sink.Hook("ops", token), "", []string{openID}, nil, notify.WithLimiter(nil))
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

// assertClean fails when err's text holds any credential.
func assertClean(t *testing.T, err error, more ...string) {
	t.Helper()
	for _, s := range append([]string{token, secret}, more...) {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error contains a credential %q: %v", s, err)
		}
	}
}

// signature computes Feishu's signature as its bot guide documents it.
func signature(ts int64, secret string) string {
	mac := hmac.New(sha256.New, []byte(fmt.Sprintf("%d\n%s", ts, secret)))
	mac.Write(nil)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// The card: the headline in a header coloured by tone, the About line as a
// note, one lark_md div per section with its links as buttons, and the
// mentions last.
func TestCard(t *testing.T) {
	a := alert("billing", rules.Critical, 20000)
	a.Annotations = map[string]string{
		"summary":       "billing is behind: invoices go out *late*",
		"owner":         "payments_team",
		"runbook_url":   "https://wiki.example.com/runbooks/Kafka lag (billing)",
		"dashboard_url": "https://grafana.example.com/d/kafka",
		"wiki_url":      "intranet/kafka", // not a web URL: stays in the text
	}
	m := notify.Message{Time: evalTime, Items: firing(a, alert("orders-eu", rules.Warning, 30000))}
	_, b := send(t, m)

	if b.MsgType != "interactive" || !b.Card.Config.WideScreenMode || b.Timestamp != nil || b.Sign != nil {
		t.Errorf("msg_type %q, wide screen %v, timestamp %v, sign %v", b.MsgType, b.Card.Config.WideScreenMode, b.Timestamp, b.Sign)
	}
	if h := b.Card.Header; h.Title != (text{"plain_text", "🚨 2 consumer groups behind (1 critical)"}) || h.Template != "red" {
		t.Errorf("header %+v", h)
	}
	if got, want := strings.Join(b.tags(), " "), "note div action div div"; got != want {
		t.Errorf("elements %q, want %q", got, want)
	}
	if notes := b.notes(); len(notes) != 1 || notes[0] != "evaluated 2025-03-01 10:00 UTC · backlog-alert" {
		t.Errorf("notes %q", notes)
	}
	secs := b.sections()
	if len(secs) != 2 {
		t.Fatalf("%d sections", len(secs))
	}
	want := "**🔴 CRITICAL · billing**\n" +
		"billing is behind: invoices go out &#42;late&#42;\n" +
		"Backlog CRITICAL: 20,000 messages (threshold 10,000)\n" +
		"Newest consumed message: 3h 5m old\n" +
		"Top topics: orders 20,000\n" +
		"Instance alikafka-post-1 · region cn-shanghai · rule orders\n" +
		"Owner: payments_team\n" +
		"wiki: intranet/kafka"
	if secs[0] != want {
		t.Errorf("section:\n%s\nwant:\n%s", secs[0], want)
	}
	if !strings.HasPrefix(secs[1], "**🟠 WARNING · orders-eu**\nBacklog WARNING: 30,000 messages") {
		t.Errorf("second section:\n%s", secs[1])
	}
	action := b.Card.Elements[2]
	if len(action.Actions) != 2 {
		t.Fatalf("buttons %+v", action.Actions)
	}
	runbook, dash := action.Actions[0], action.Actions[1]
	if runbook.Tag != "button" || runbook.Text != (text{"plain_text", "Runbook"}) || runbook.Type != "primary" ||
		runbook.URL != "https://wiki.example.com/runbooks/Kafka%20lag%20(billing)" {
		t.Errorf("runbook button %+v", runbook)
	}
	if dash.Text.Content != "dashboard" || dash.Type != "default" || dash.URL != "https://grafana.example.com/d/kafka" {
		t.Errorf("dashboard button %+v", dash)
	}
	if b.mentions() != "<at id="+openID+"></at>" {
		t.Errorf("mentions %q", b.mentions())
	}
}

// The header's colour and icon follow the message's tone.
func TestTone(t *testing.T) {
	for _, tc := range []struct {
		name     string
		items    []notify.Item
		template string
		title    string
	}{
		{"critical", []notify.Item{item(rules.KindFiring, "g", rules.Critical, 20000)}, "red", "🚨 1 consumer group behind (1 critical)"},
		{"warning", []notify.Item{item(rules.KindFiring, "g", rules.Warning, 20000)}, "orange", "⚠️ 1 consumer group behind"},
		{"downgraded", []notify.Item{item(rules.KindDowngraded, "g", rules.Warning, 20000)}, "orange", "⚠️ 1 downgraded"},
		{"resolved", []notify.Item{item(rules.KindResolved, "g", rules.Critical, 10)}, "green", "✅ 1 resolved"},
		{"gone", []notify.Item{item(rules.KindMissing, "g", rules.Warning, 20000)}, "grey", "👻 1 group gone"},
		{"gone and resolved", []notify.Item{item(rules.KindMissing, "a", rules.Warning, 1), item(rules.KindResolved, "b", rules.Warning, 1)}, "grey", "👻 1 group gone, 1 resolved"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, b := send(t, notify.Message{Time: evalTime, Items: tc.items})
			if h := b.Card.Header; h.Template != tc.template || h.Title.Content != tc.title {
				t.Errorf("template %q, title %q; want %q, %q", h.Template, h.Title.Content, tc.template, tc.title)
			}
			if got := len(b.sections()); got != len(tc.items) {
				t.Errorf("%d sections, want %d", got, len(tc.items))
			}
		})
	}
}

// Each kind of section has its icon and title, one div per section, in the
// order notify.Sections lists them.
func TestSections(t *testing.T) {
	m := notify.Message{Time: evalTime, Items: []notify.Item{
		item(rules.KindResolved, "resolved", rules.Warning, 10),
		item(rules.KindMissing, "missing", rules.Warning, 20000),
		item(rules.KindDowngraded, "downgraded", rules.Warning, 20000),
		item(rules.KindReminder, "reminder", rules.Warning, 90000),
		item(rules.KindFiring, "firing", rules.Warning, 900000),
		item(rules.KindEscalated, "escalated", rules.Critical, 20000),
	}}
	_, b := send(t, m)
	want := []string{
		"**⏫ Escalated to CRITICAL · escalated**",
		"**🟠 WARNING · firing**",
		"**🔁 Reminder: still firing (WARNING) · reminder**",
		"**⏬ Downgraded to WARNING · downgraded**",
		"**👻 Consumer group gone · missing**",
		"**✅ Resolved · resolved**",
	}
	secs := b.sections()
	if len(secs) != len(want) {
		t.Fatalf("%d sections:\n%s", len(secs), strings.Join(secs, "\n\n"))
	}
	for i, s := range secs {
		if head, _, _ := strings.Cut(s, "\n"); head != want[i] {
			t.Errorf("section %d starts %q, want %q", i, head, want[i])
		}
	}
	if got := strings.Join(b.tags(), " "); got != "note div div div div div div div" { // the sections, then the mention (escalated pages)
		t.Errorf("elements %q", got)
	}
}

func TestSigning(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	m := notify.Message{Items: firing(alert("orders", rules.Critical, 50000)), Time: now}
	for _, tc := range []struct {
		name      string
		botSecret string // the bot's; "" for a bot without signature verification
		secret    string // the Notifier's
		clock     time.Time
		wantErr   string // "" for success
	}{
		{"signed", secret, secret, now, ""},
		{"unsigned bot", "", "", now, ""},
		{"wrong secret", secret, "SECwrongwrongwrong", now, "feishu: code 19021: sign match fail or timestamp is not within one hour from current time"},
		{"clock two hours off", secret, secret, now.Add(-2 * time.Hour), "code 19021"},
		{"not signed", secret, "", now, "code 19021"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := feishutest.NewServer()
			defer sink.Close()
			hook := sink.Hook("ops", token)
			if tc.botSecret != "" {
				sink.RequireSecret("ops", tc.botSecret)
			}
			n := feishu.New(hook, tc.secret, nil, nil, notify.WithRetry(fast), notify.WithLimiter(notify.NewLimiter()))
			n.Now = func() time.Time { return tc.clock }

			_, err := n.Notify(context.Background(), m)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if !strings.Contains(err.Error(), "(signature check failed") || notify.Retryable(err) || sink.Attempts("ops") != 1 {
					t.Errorf("want a hint, no retry, one attempt (%d): %v", sink.Attempts("ops"), err)
				}
				assertClean(t, err, tc.secret, signature(tc.clock.Unix(), tc.secret))
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := sink.Received()
			if len(got) != 1 {
				t.Fatalf("received %d", len(got))
			}
			b := decode(t, got[0])
			if tc.secret == "" {
				if b.Timestamp != nil || b.Sign != nil {
					t.Errorf("an unsigned bot got timestamp %v, sign %v", b.Timestamp, b.Sign)
				}
			} else if b.Timestamp == nil || *b.Timestamp != strconv.FormatInt(tc.clock.Unix(), 10) ||
				b.Sign == nil || *b.Sign != signature(tc.clock.Unix(), secret) {
				t.Errorf("timestamp %v, sign %v", b.Timestamp, b.Sign)
			}
			if p := n.Preview(m); p != got[0].Readable() {
				t.Errorf("Preview differs from what was sent:\n%s\n--- sent:\n%s", p, got[0].Readable())
			}
		})
	}
}

func TestMentions(t *testing.T) {
	ids := []string{openID, " ou_second ", "", "not an id>"}
	want := "<at id=" + openID + "></at> <at id=ou_second></at>"
	for _, tc := range []struct {
		name    string
		items   []notify.Item
		mention bool
	}{
		{"warning only", firing(alert("a", rules.Warning, 20000), alert("b", rules.Warning, 30000)), false},
		{"one critical", firing(alert("a", rules.Warning, 20000), alert("b", rules.Critical, 30000)), true},
		{"critical resolved, warning firing", []notify.Item{item(rules.KindResolved, "a", rules.Critical, 1), item(rules.KindFiring, "b", rules.Warning, 20000)}, false},
		{"critical gone, downgraded", []notify.Item{item(rules.KindMissing, "a", rules.Critical, 20000), item(rules.KindDowngraded, "b", rules.Warning, 20000)}, false},
		{"critical reminder among resolved", []notify.Item{item(rules.KindResolved, "a", rules.Critical, 1), item(rules.KindReminder, "b", rules.Critical, 20000)}, true},
		{"escalated among gone", []notify.Item{item(rules.KindMissing, "a", rules.Warning, 1), item(rules.KindEscalated, "b", rules.Critical, 20000)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := feishutest.NewServer()
			defer sink.Close()
			n := feishu.New(sink.Hook("ops", token), "", ids, nil, notify.WithLimiter(nil))
			m := notify.Message{Items: tc.items, Time: evalTime}
			if _, err := n.Notify(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			r := sink.Received()[0]
			b := decode(t, r)
			if got := b.mentions(); (got == want) != tc.mention || (!tc.mention && got != "") {
				t.Errorf("mentions %q, want them: %v", got, tc.mention)
			}
			if strings.Contains(string(r.Body), "<at ") != tc.mention {
				t.Errorf("an <at> tag where none belongs, or none where one does:\n%s", r.Body)
			}
			if p := n.Preview(m); p != r.Readable() {
				t.Errorf("Preview differs from what was sent:\n%s\n--- sent:\n%s", p, r.Readable())
			}
		})
	}
}

// A channel in Chinese and Beijing time gets Chinese words and UTC+8
// times, in the header, the note, the sections and the buttons.
func TestChinese(t *testing.T) {
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	backlog := alert("billing", rules.Critical, 20000)
	backlog.Annotations = map[string]string{"runbook_url": "https://wiki.example.com/kafka"}
	stuck := alert("billing", rules.Warning, 20000)
	// Not moving since monitoring began, at 09:30 UTC: 17:30 in Beijing.
	stuck.Condition, stuck.Value, stuck.Threshold = rules.Stuck, 30*60, 15*60
	stuck.Since, stuck.AtLeast = evalTime.Add(-30*time.Minute), true
	m := notify.Message{Time: evalTime, Language: rules.LanguageChinese, Location: shanghai, Items: firing(stuck, backlog)}

	r, b := send(t, m)
	if got, want := b.Card.Header.Title.Content, "🚨 1 个消费组消费滞后（1 个严重）"; got != want {
		t.Errorf("title %q, want %q", got, want)
	}
	if notes := b.notes(); len(notes) != 1 || notes[0] != "检测时间 2025-03-01 18:00（UTC+8） · backlog-alert" {
		t.Errorf("notes %q", notes)
	}
	want := "**🔴 严重 · billing**\n" +
		"消息堆积（严重）：2万条（阈值 1万）\n" +
		"消费停滞（警告）：消费位点至少 30分钟未前进：从 17:30 开始监控起就没动过（阈值 15分钟）\n" +
		"最新已消费的消息：3小时5分钟前产生\n" +
		"堆积最多的 Topic：orders 2万\n" +
		"实例 alikafka-post-1 · 地域 cn-shanghai · 规则 orders"
	if secs := b.sections(); len(secs) != 1 || secs[0] != want {
		t.Errorf("sections:\n%s\nwant:\n%s", strings.Join(secs, "\n\n"), want)
	}
	if btn := b.Card.Elements[2].Actions; len(btn) != 1 || btn[0].Text.Content != "处理手册" || btn[0].Type != "primary" {
		t.Errorf("buttons %+v", btn)
	}
	if !strings.Contains(r.Readable(), "[处理手册](https://wiki.example.com/kafka)") || b.mentions() != "<at id="+openID+"></at>" {
		t.Errorf("Readable:\n%s", r.Readable())
	}
}

func TestSizeLimit(t *testing.T) {
	// Long multi-byte names make each section several hundred bytes, so a
	// few hundred alerts are far over Feishu's 20 KB.
	var alerts []rules.Alert
	for i := range 400 {
		a := alert(fmt.Sprintf("消费组-%03d-%s", i, strings.Repeat("长", 60)), rules.Warning, int64(20000+i))
		a.Top = []rules.Contributor{
			{Topic: strings.Repeat("主题", 30) + "-a", Lag: 100}, {Topic: strings.Repeat("主题", 30) + "-b", Lag: 50},
		}
		a.Annotations = map[string]string{"runbook_url": "https://wiki.example.com/kafka/" + strconv.Itoa(i)}
		alerts = append(alerts, a)
	}
	alerts[399].Severity = rules.Critical // sorted first, whatever its position
	m := notify.Message{Items: firing(alerts...), Time: time.Now()}

	// A signed bot's body carries the signature too: it must still fit.
	for _, sec := range []string{"", secret} {
		t.Run(fmt.Sprintf("signed %v", sec != ""), func(t *testing.T) {
			sink := feishutest.NewServer()
			defer sink.Close()
			hook := sink.Hook("ops", token)
			if sec != "" {
				sink.RequireSecret("ops", sec)
			}
			n := feishu.New(hook, sec, []string{openID}, nil, notify.WithLimiter(nil))
			if _, err := n.Notify(context.Background(), m); err != nil {
				t.Fatal(err) // the fake answers 19036 above 20,000 bytes
			}
			r := sink.Received()[0]
			if len(r.Body) > 20000 {
				t.Errorf("body is %d bytes", len(r.Body))
			}
			b := decode(t, r)
			shown := len(b.sections())
			notes := b.notes()
			more := regexp.MustCompile(`^…and (\d+) more$`).FindStringSubmatch(notes[len(notes)-1])
			if more == nil {
				t.Fatalf("no \"…and N more\" note: %q", notes)
			}
			if rest, _ := strconv.Atoi(more[1]); shown+rest != 400 || shown < 10 {
				t.Errorf("%d shown + %d more, want 400 in all and a useful number shown", shown, rest)
			}
			if !strings.HasPrefix(b.sections()[0], "**🔴 CRITICAL · 消费组-399") || b.mentions() == "" {
				t.Error("the critical alert or its mention was cut")
			}
			if tags := b.tags(); tags[len(tags)-2] != "note" || tags[len(tags)-1] != "div" {
				t.Errorf("want the more note, then the mentions, last: %q", tags)
			}
			// Filling the budget: one more section would not have fitted.
			if len(r.Body) < 20000-1500 {
				t.Errorf("body is only %d bytes; the truncation wastes room", len(r.Body))
			}
			if p := n.Preview(m); p != r.Readable() {
				t.Error("Preview differs from what was sent")
			}
		})
	}
}

// Many small sections: the card keeps to 50 elements, the rest summed up.
func TestElementLimit(t *testing.T) {
	var its []notify.Item
	for i := range 80 {
		a := alert(fmt.Sprintf("g%02d", i), rules.Warning, int64(20000+i))
		a.Top = nil
		a.Annotations = map[string]string{"runbook_url": "https://w.example/" + strconv.Itoa(i)}
		its = append(its, notify.Item{Kind: rules.KindFiring, Alert: a})
	}
	r, b := send(t, notify.Message{Time: evalTime, Items: its})
	if len(b.Card.Elements) > 50 || len(r.Body) > 20000 {
		t.Errorf("%d elements, %d bytes", len(b.Card.Elements), len(r.Body))
	}
	notes := b.notes()
	shown := len(b.sections())
	if want := fmt.Sprintf("…and %d more", 80-shown); notes[len(notes)-1] != want || shown < 20 {
		t.Errorf("%d shown, last note %q", shown, notes[len(notes)-1])
	}
}

// One section cannot crowd out the rest: it is cut at 3,000 characters,
// its buttons kept.
func TestHugeSection(t *testing.T) {
	a := alert("billing", rules.Warning, 20000)
	a.Annotations = map[string]string{
		"summary":     strings.Repeat("billing is far behind. ", 300), // ~7,000 characters
		"runbook_url": "https://wiki.example.com/kafka",
	}
	r, b := send(t, notify.Message{Time: evalTime, Items: firing(a, alert("other", rules.Warning, 10000))})
	secs := b.sections()
	if len(secs) != 2 {
		t.Fatalf("%d sections", len(secs))
	}
	if n := len([]rune(secs[0])); n > 3000 || !strings.HasSuffix(secs[0], "…") {
		t.Errorf("section is %d characters, ends %q", n, secs[0][len(secs[0])-10:])
	}
	if !strings.Contains(r.Readable(), "[Runbook](https://wiki.example.com/kafka)") {
		t.Error("the runbook button was lost")
	}
}

func TestNothingToSend(t *testing.T) {
	sink := feishutest.NewServer()
	defer sink.Close()
	n := feishu.New(sink.Hook("ops", token), "", nil, nil)
	if _, err := n.Notify(context.Background(), notify.Message{}); err != nil || sink.Attempts("ops") != 0 || n.Preview(notify.Message{}) != "" {
		t.Errorf("an empty message should send and preview nothing (err %v)", err)
	}
}

func TestReceipt(t *testing.T) {
	sink := feishutest.NewServer()
	defer sink.Close()
	m := notify.Message{Items: firing(alert("a", rules.Warning, 20000), alert("b", rules.Critical, 20000))}
	n := feishu.New(sink.Hook("ops", token), "", nil, nil, notify.WithRetry(notify.NoRetry), notify.WithLimiter(nil))
	rc, err := n.Notify(context.Background(), m)
	if err != nil || len(rc.Accepted) != 2 || rc.Accepted[0] != m.Items[0].Alert.Key() {
		t.Errorf("receipt %+v, err %v", rc, err)
	}
	sink.Fail("ops", feishutest.Failure{Code: 19024})
	if rc, err := n.Notify(context.Background(), m); err == nil || len(rc.Accepted) != 0 {
		t.Errorf("a refused message: receipt %+v, err %v", rc, err)
	}
}

func TestTransportErrorHidesCredentials(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	n := feishu.New("http://"+addr+"/open-apis/bot/v2/hook/"+token, secret, nil, nil, notify.WithRetry(fast), notify.WithLimiter(nil))
	fixed := time.Now()
	n.Now = func() time.Time { return fixed }
	_, err = n.Notify(context.Background(), notify.Message{Items: firing(alert("g", rules.Critical, 20000))})
	if err == nil || !notify.Retryable(err) || notify.Attempts(err) != 4 {
		t.Fatalf("err = %v, want a retryable transport error after 4 attempts", err)
	}
	if !strings.Contains(err.Error(), "/open-apis/bot/***") || !strings.HasSuffix(err.Error(), "; gave up after 4 attempts") {
		t.Errorf("error = %v", err)
	}
	assertClean(t, err, signature(fixed.Unix(), secret))
}

// Feishu's message may echo what it was sent; it is redacted too.
func TestErrorEchoIsRedacted(t *testing.T) {
	sink := feishutest.NewServer()
	defer sink.Close()
	hook := sink.Hook("ops", token)
	sink.Fail("ops", feishutest.Failure{Code: 19001, Msg: "token " + token + " invalid, see " + hook})
	_, err := feishu.New(hook, secret, nil, nil, notify.WithLimiter(nil)).Notify(context.Background(), notify.Message{Items: firing(alert("g", rules.Critical, 20000))})
	if err == nil || !strings.HasPrefix(err.Error(), "feishu: code 19001: token *** invalid, see http://127.0.0.1:") {
		t.Fatalf("err = %v", err)
	}
	assertClean(t, err)
	if he, ok := errors.AsType[*notify.HTTPError](err); !ok || he.Retry {
		t.Errorf("HTTPError %+v", he)
	}
}
