package slack_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	slackgo "github.com/slack-go/slack"

	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/notify/chattest"
	"github.com/backlog-alert/backlog-alert/notify/notifytest"
	"github.com/backlog-alert/backlog-alert/notify/slack"
	"github.com/backlog-alert/backlog-alert/rules"
)

// The shared fixtures of the integrations' tests.
var (
	firing = notifytest.Firing
	fast   = notifytest.FastRetry
)

var evalTime = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

func alert(group string, sev rules.Severity, lag int64) rules.Alert {
	return rules.Alert{
		Rule: "orders", Region: "cn-hangzhou", Instance: "alikafka-post-1", Group: group,
		Level: rules.LevelGroup, Condition: rules.Backlog, Severity: sev,
		Value: lag, Threshold: 10000, Lag: lag, AgeSeconds: 42 * 60, AgeKnown: true,
		Top: []rules.Contributor{{Topic: "orders", Lag: lag - 100}, {Topic: "payments", Lag: 100}},
	}
}

// sent is the part of a webhook body the tests look at. Attachments are kept
// raw too, to check that nothing but colour and blocks is sent.
type sent struct {
	Text   string `json:"text"`
	Blocks []struct {
		Type string `json:"type"`
		Text struct {
			Text string `json:"text"`
		} `json:"text"`
	} `json:"blocks"`
	Attachments []map[string]json.RawMessage `json:"attachments"`
}

type block struct {
	Type string `json:"type"`
	Text *struct {
		Text string `json:"text"`
	} `json:"text"`
}

func decode(t *testing.T, body []byte) (sent, string, []block) {
	t.Helper()
	var s sent
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Attachments) != 1 {
		t.Fatalf("want one attachment, got %d", len(s.Attachments))
	}
	for k := range s.Attachments[0] {
		if k != "color" && k != "blocks" {
			t.Errorf("attachment carries %q next to blocks", k)
		}
	}
	var color string
	var blocks []block
	json.Unmarshal(s.Attachments[0]["color"], &color)
	if err := json.Unmarshal(s.Attachments[0]["blocks"], &blocks); err != nil {
		t.Fatal(err)
	}
	return s, color, blocks
}

func sendOne(t *testing.T, m notify.Message) (chattest.Received, *slack.Notifier) {
	t.Helper()
	sink := chattest.NewServer()
	t.Cleanup(sink.Close)
	n := slack.New(sink.SlackURL("ops"), nil)
	if _, err := n.Notify(context.Background(), m); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	got := sink.Received()
	if len(got) != 1 {
		t.Fatalf("sink received %d messages, want 1", len(got))
	}
	return got[0], n
}

// lines joins a section's lines as Slack shows them.
func lines(l ...string) string { return strings.Join(l, "\n") }

// contextText is the text of a context block's elements.
func contextText(t *testing.T, body []byte) string {
	t.Helper()
	var s struct {
		Attachments []struct {
			Blocks []struct {
				Type     string `json:"type"`
				Elements []struct {
					Text string `json:"text"`
				} `json:"elements"`
			} `json:"blocks"`
		} `json:"attachments"`
	}
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatal(err)
	}
	b := s.Attachments[0].Blocks[0]
	if b.Type != "context" || len(b.Elements) != 1 {
		t.Fatalf("first attachment block = %+v, want a context block with one element", b)
	}
	return b.Elements[0].Text
}

func TestLayout(t *testing.T) {
	for _, tc := range []struct {
		name     string
		alerts   []rules.Alert
		text     string
		color    string
		sections []string // the whole text of each section, in order
	}{{
		name:   "warning only",
		alerts: []rules.Alert{alert("billing", rules.Warning, 12345)},
		text:   ":warning: 1 consumer group behind",
		color:  "#ECB22E",
		sections: []string{lines(
			":large_orange_circle: *WARNING* · *billing*",
			"Backlog WARNING: 12,345 messages (threshold 10,000)",
			"Newest consumed message: 42m old",
			"Top topics: orders 12,245 · payments 100",
			"Instance alikafka-post-1 · region cn-hangzhou · rule orders",
		)},
	}, {
		name: "critical first, red",
		alerts: []rules.Alert{
			alert("billing", rules.Warning, 50000),
			alert("orders<&>", rules.Critical, 20000),
			alert("audit", rules.Warning, 15000),
		},
		text:  ":rotating_light: 3 consumer groups behind (1 critical)",
		color: "#E01E5A",
		sections: []string{
			lines(
				":red_circle: *CRITICAL* · *orders&lt;&amp;&gt;*", // escaped for mrkdwn
				"Backlog CRITICAL: 20,000 messages (threshold 10,000)",
				"Newest consumed message: 42m old",
				"Top topics: orders 19,900 · payments 100",
				"Instance alikafka-post-1 · region cn-hangzhou · rule orders",
			),
			// Then by lag, largest first.
			lines(
				":large_orange_circle: *WARNING* · *billing*",
				"Backlog WARNING: 50,000 messages (threshold 10,000)",
				"Newest consumed message: 42m old",
				"Top topics: orders 49,900 · payments 100",
				"Instance alikafka-post-1 · region cn-hangzhou · rule orders",
			),
			lines(
				":large_orange_circle: *WARNING* · *audit*",
				"Backlog WARNING: 15,000 messages (threshold 10,000)",
				"Newest consumed message: 42m old",
				"Top topics: orders 14,900 · payments 100",
				"Instance alikafka-post-1 · region cn-hangzhou · rule orders",
			),
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			m := notify.Message{Items: firing(tc.alerts...), Time: evalTime}
			got, n := sendOne(t, m)
			s, color, blocks := decode(t, got.Body)
			if s.Text != tc.text {
				t.Errorf("fallback text = %q, want %q", s.Text, tc.text)
			}
			if len(s.Blocks) != 1 || s.Blocks[0].Type != "header" || s.Blocks[0].Text.Text != tc.text {
				t.Errorf("top-level blocks = %+v, want the header %q", s.Blocks, tc.text)
			}
			if color != tc.color {
				t.Errorf("colour = %q, want %q", color, tc.color)
			}
			if blocks[0].Type != "context" {
				t.Errorf("first attachment block is %q, want context", blocks[0].Type)
			}
			if c := contextText(t, got.Body); c != "evaluated 2025-03-01 10:00 UTC · backlog-alert" {
				t.Errorf("context = %q, want the evaluation time in UTC", c)
			}
			secs := blocks[1:]
			if len(secs) != len(tc.sections) {
				t.Fatalf("%d sections, want %d", len(secs), len(tc.sections))
			}
			for i, want := range tc.sections {
				if secs[i].Type != "section" || secs[i].Text.Text != want {
					t.Errorf("section %d (%s):\n%s\nwant:\n%s", i, secs[i].Type, secs[i].Text.Text, want)
				}
			}
			if p := n.Preview(m); p != got.Readable() {
				t.Errorf("Preview differs from what was sent:\n%s\n--- sent:\n%s", p, got.Readable())
			}
		})
	}
}

func TestLimits(t *testing.T) {
	var many []rules.Alert
	for i := range 60 {
		sev := rules.Warning
		if i%10 == 0 {
			sev = rules.Critical
		}
		many = append(many, alert(fmt.Sprintf("group-%02d", i), sev, int64(20000+i)))
	}
	long := alert(strings.Repeat("g", 4000), rules.Critical, 20000)

	for _, tc := range []struct {
		name   string
		alerts []rules.Alert
		check  func(t *testing.T, blocks []block)
	}{{
		name:   "60 alerts",
		alerts: many,
		check: func(t *testing.T, blocks []block) {
			if total := 1 + len(blocks); total > 50 {
				t.Errorf("%d blocks, Slack allows 50", total)
			}
			last := blocks[len(blocks)-1].Text.Text
			shown := len(blocks) - 2 // context and the last section
			if want := fmt.Sprintf("…and %d more", 60-shown); last != want {
				t.Errorf("last section = %q, want %q", last, want)
			}
			// The six critical groups come first, largest lag first, and
			// are all shown; one section per group.
			for i := range 6 {
				want := fmt.Sprintf(":red_circle: *CRITICAL* · *group-%02d*\nBacklog CRITICAL: %s messages (threshold 10,000)\n", 50-10*i, notify.Count(int64(20050-10*i)))
				if !strings.HasPrefix(blocks[1+i].Text.Text, want) {
					t.Errorf("section %d = %q, want it to start with %q", i, blocks[1+i].Text.Text, want)
				}
			}
			if next := blocks[7].Text.Text; !strings.HasPrefix(next, ":large_orange_circle: *WARNING* · *group-59*\n") {
				t.Errorf("section 6 = %q, want the largest warning", next)
			}
		},
	}, {
		name:   "3000+ character section",
		alerts: []rules.Alert{long},
		check: func(t *testing.T, blocks []block) {
			text := blocks[1].Text.Text
			if n := utf8.RuneCountInString(text); n > 3000 || !strings.HasSuffix(text, "…") {
				t.Errorf("section is %d characters, ends %q", n, text[len(text)-10:])
			}
			if !strings.HasPrefix(text, ":red_circle: *CRITICAL* · *ggg") {
				t.Errorf("section starts %q", text[:40])
			}
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			// The sink rejects what Slack would reject, so success is part
			// of the check.
			got, _ := sendOne(t, notify.Message{Items: firing(tc.alerts...), Time: evalTime})
			_, _, blocks := decode(t, got.Body)
			tc.check(t, blocks)
		})
	}
}

func TestErrors(t *testing.T) {
	sink := chattest.NewServer()
	defer sink.Close()
	m := notify.Message{Items: firing(alert("g", rules.Critical, 20000)), Time: evalTime}

	for _, tc := range []struct {
		name      string
		url       string
		fail      *chattest.Failure
		text      string
		status    int
		retry     bool
		rateLimit time.Duration
	}{
		{name: "400 invalid_payload", fail: &chattest.Failure{Status: 400, Body: "invalid_payload"},
			text: "slack: HTTP 400 invalid_payload", status: 400},
		{name: "404 no_service", url: sink.URL + "/slack/services/T000/B000/deleted",
			text: "slack: HTTP 404 no_service", status: 404},
		{name: "410 archived", fail: &chattest.Failure{Status: 410, Body: "channel_is_archived"},
			text: "slack: HTTP 410 channel_is_archived", status: 410},
		{name: "429 with Retry-After", fail: &chattest.Failure{Status: 429, Body: "rate_limited", RetryAfter: 3},
			text: "slack: HTTP 429 rate_limited (retry after 3s)", status: 429, retry: true, rateLimit: 3 * time.Second},
		{name: "500 html", fail: &chattest.Failure{Status: 500, Body: "<html>\n  <body>oops</body>\n</html>"},
			text: "slack: HTTP 500 <html> <body>oops</body> </html>", status: 500, retry: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hook := tc.url
			if hook == "" {
				hook = sink.SlackURL(tc.name)
			}
			if tc.fail != nil {
				sink.Fail(tc.name, *tc.fail)
			}
			// One attempt: this is about how a failure reads; retries are
			// TestRetry's.
			_, err := slack.New(hook, nil, notify.WithRetry(notify.NoRetry), notify.WithLimiter(nil)).Notify(context.Background(), m)
			if err == nil || err.Error() != tc.text {
				t.Fatalf("err = %v, want %q", err, tc.text)
			}
			if n := notify.Attempts(err); n != 1 {
				t.Errorf("Attempts = %d, want 1", n)
			}
			he, ok := errors.AsType[*notify.HTTPError](err)
			if !ok || he.StatusCode != tc.status {
				t.Errorf("HTTPError = %+v, want status %d", he, tc.status)
			}
			if notify.Retryable(err) != tc.retry {
				t.Errorf("Retryable = %v, want %v", !tc.retry, tc.retry)
			}
			rl, ok := errors.AsType[*slackgo.RateLimitedError](err)
			if ok != (tc.rateLimit > 0) || (ok && rl.RetryAfter != tc.rateLimit) {
				t.Errorf("RateLimitedError = %v (found %v), want retry after %v", rl, ok, tc.rateLimit)
			}
		})
	}
	if n := len(sink.Received()); n != 0 {
		t.Errorf("sink accepted %d messages", n)
	}
}

func TestTransportErrorHidesWebhook(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	hook := "http://" + addr + "/services/T0SECRET/B0SECRET/XyZsEcReTtOkEn"
	m := notify.Message{Items: firing(alert("g", rules.Warning, 20000))}

	_, err = slack.New(hook, nil, notify.WithRetry(fast), notify.WithLimiter(nil)).Notify(context.Background(), m)
	if err == nil {
		t.Fatal("expected an error")
	}
	if !strings.HasSuffix(err.Error(), "; gave up after 4 attempts") || notify.Attempts(err) != 4 {
		t.Errorf("error = %q (%d attempts), want it retried 4 times", err, notify.Attempts(err))
	}
	for _, secret := range []string{"T0SECRET", "B0SECRET", "XyZsEcReTtOkEn"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error contains %q: %v", secret, err)
		}
	}
	if !strings.Contains(err.Error(), addr+"/services/***") || !notify.Retryable(err) {
		t.Errorf("error = %q (retryable %v), want the redacted URL and retryable", err, notify.Retryable(err))
	}

	// A cancelled caller is not worth a retry.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := slack.New(hook, nil, notify.WithRetry(fast), notify.WithLimiter(nil)).Notify(ctx, m); err == nil || notify.Retryable(err) || strings.Contains(err.Error(), "XyZsEcReTtOkEn") {
		t.Errorf("cancelled: err = %v, retryable %v", err, notify.Retryable(err))
	}
}

func TestNothingToSend(t *testing.T) {
	sink := chattest.NewServer()
	defer sink.Close()
	n := slack.New(sink.SlackURL("ops"), nil)
	if _, err := n.Notify(context.Background(), notify.Message{Time: evalTime}); err != nil {
		t.Fatal(err)
	}
	if len(sink.Received()) != 0 || n.Preview(notify.Message{}) != "" {
		t.Error("an empty message should send and preview nothing")
	}
}

// One Notifier serves concurrent calls; each error keeps its own body.
func TestConcurrent(t *testing.T) {
	sink := chattest.NewServer()
	defer sink.Close()
	ok := slack.New(sink.SlackURL("ok"), nil, notify.WithLimiter(nil))
	gone := slack.New(sink.URL+"/slack/services/T000/B000/gone", nil, notify.WithLimiter(nil))
	m := notify.Message{Items: firing(alert("g", rules.Warning, 20000))}
	errs := make(chan error, 16)
	for i := range 16 {
		go func() {
			if i%2 == 0 {
				_, err := ok.Notify(context.Background(), m)
				errs <- err
			} else if _, err := gone.Notify(context.Background(), m); err == nil || err.Error() != "slack: HTTP 404 no_service" {
				errs <- fmt.Errorf("want 404 no_service, got %v", err)
			} else {
				errs <- nil
			}
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if n := len(sink.Received()); n != 8 {
		t.Errorf("received %d, want 8", n)
	}
}
