package dingtalk_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/notify/chattest"
	"github.com/backlog-alert/backlog-alert/notify/dingtalk"
	"github.com/backlog-alert/backlog-alert/notify/notifytest"
	"github.com/backlog-alert/backlog-alert/rules"
)

// The shared fixtures of the integrations' tests.
var (
	alert  = notifytest.BacklogAlert
	firing = notifytest.Firing
	fast   = notifytest.FastRetry
)

const (
	token  = "tok0a1b2c3d4e5f"
	secret = "SEC0123456789abcdef"
)

type body struct {
	MsgType  string `json:"msgtype"`
	Markdown struct {
		Title string `json:"title"`
		Text  string `json:"text"`
	} `json:"markdown"`
	At struct {
		AtMobiles []string `json:"atMobiles"`
		IsAtAll   bool     `json:"isAtAll"`
	} `json:"at"`
}

func decode(t *testing.T, r chattest.Received) body {
	t.Helper()
	var b body
	if err := json.Unmarshal(r.Body, &b); err != nil {
		t.Fatal(err)
	}
	return b
}

// assertClean fails when err's text holds any credential.
func assertClean(t *testing.T, err error, sign string) {
	t.Helper()
	for _, s := range []string{token, secret, sign} {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error contains a credential %q: %v", s, err)
		}
	}
}

func TestSigning(t *testing.T) {
	now := time.Now().Truncate(time.Millisecond)
	critical := notify.Message{Items: firing(alert("orders", rules.Critical, 50000)), Time: now}
	for _, tc := range []struct {
		name    string
		secret  string
		clock   time.Time
		wantErr string // "" for success
	}{
		{"signed", secret, now, ""},
		{"wrong secret", "SECwrongwrongwrong", now, "dingtalk: errcode 310000: sign not match"},
		{"clock two hours off", secret, now.Add(-2 * time.Hour), "errcode 310000: invalid timestamp"},
		{"not signed", "", now, "errcode 310000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := chattest.NewServer()
			defer sink.Close()
			sink.RequireDingTalkSecret("ops", secret)
			n := dingtalk.New(sink.DingTalkURL("ops", token), tc.secret, nil, nil)
			n.Now = func() time.Time { return tc.clock }

			_, err := n.Notify(context.Background(), critical)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if !strings.Contains(err.Error(), "keyword") || notify.Retryable(err) {
					t.Errorf("want a hint and not retryable: %v", err)
				}
				assertClean(t, err, "")
				if tc.secret != "" {
					assertClean(t, err, tc.secret)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := sink.Received()
			if len(got) != 1 {
				t.Fatalf("received %d", len(got))
			}
			q := got[0].Query
			if q.Get("timestamp") != strconv.FormatInt(tc.clock.UnixMilli(), 10) || q.Get("access_token") != token {
				t.Errorf("query = %v", q)
			}
			if p := n.Preview(critical); p != got[0].Readable() {
				t.Errorf("Preview differs from what was sent:\n%s\n--- sent:\n%s", p, got[0].Readable())
			}
		})
	}
}

func TestMentions(t *testing.T) {
	mobiles := []string{"13800000000", " 13900000000 ", ""}
	want := []string{"13800000000", "13900000000"}
	for _, tc := range []struct {
		name    string
		alerts  []rules.Alert
		mention bool
	}{
		{"warning only", []rules.Alert{alert("a", rules.Warning, 20000), alert("b", rules.Warning, 30000)}, false},
		{"one critical", []rules.Alert{alert("a", rules.Warning, 20000), alert("b", rules.Critical, 30000)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := chattest.NewServer()
			defer sink.Close()
			n := dingtalk.New(sink.DingTalkURL("ops", token), "", mobiles, nil)
			m := notify.Message{Items: firing(tc.alerts...), Time: time.Now()}
			if _, err := n.Notify(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			r := sink.Received()[0]
			b := decode(t, r)
			if b.MsgType != "markdown" || b.At.IsAtAll {
				t.Errorf("msgtype %q, isAtAll %v", b.MsgType, b.At.IsAtAll)
			}
			if tc.mention != slices.Equal(b.At.AtMobiles, want) || (!tc.mention && len(b.At.AtMobiles) != 0) {
				t.Errorf("atMobiles = %q, mention wanted: %v", b.At.AtMobiles, tc.mention)
			}
			for _, mob := range want {
				if strings.Contains(b.Markdown.Text, "@"+mob) != tc.mention {
					t.Errorf("text has @%s: %v, want %v\n%s", mob, !tc.mention, tc.mention, b.Markdown.Text)
				}
			}
			if !strings.Contains(b.Markdown.Text, "backlog-alert") || !strings.Contains(b.Markdown.Text, "3h 5m old") {
				t.Errorf("text lacks the keyword or the age:\n%s", b.Markdown.Text)
			}
			if p := n.Preview(m); p != r.Readable() {
				t.Errorf("Preview differs from what was sent:\n%s\n--- sent:\n%s", p, r.Readable())
			}
		})
	}
}

func TestErrors(t *testing.T) {
	sink := chattest.NewServer()
	defer sink.Close()
	m := notify.Message{Items: firing(alert("g", rules.Critical, 20000))}
	for _, tc := range []struct {
		name       string
		url        string // default: a valid robot URL with fail injected
		fail       chattest.Failure
		text       string
		retry      bool
		retryAfter time.Duration
	}{
		{name: "throttled", fail: chattest.Failure{DingTalkErrcode: 130101, Body: "send too fast, exceed 20 times per minute"},
			text: "dingtalk: errcode 130101: send too fast, exceed 20 times per minute (retry after 10m0s)", retry: true, retryAfter: 10 * time.Minute},
		{name: "too fast", fail: chattest.Failure{DingTalkErrcode: 410100, Body: "too fast"}, text: "errcode 410100: too fast", retry: true},
		{name: "busy", fail: chattest.Failure{DingTalkErrcode: -1, Body: "system busy"}, text: "errcode -1: system busy", retry: true},
		{name: "too long", fail: chattest.Failure{DingTalkErrcode: 460101, Body: "message too long"}, text: "errcode 460101: message too long (message over 20000 bytes)"},
		{name: "wrong token", url: sink.DingTalkURL("wrong-token", "other") + "x" + token,
			text: "errcode 300001: token is not exist (the access_token is wrong"},
		{name: "errmsg echoes the token", fail: chattest.Failure{DingTalkErrcode: 400013, Body: "robot " + token + " is disabled"},
			text: "dingtalk: errcode 400013: robot *** is disabled"},
		{name: "bad gateway", fail: chattest.Failure{Status: 502, Body: "upstream down"}, text: "dingtalk: HTTP 502 upstream down", retry: true},
		{name: "not json", fail: chattest.Failure{Status: 200, Body: "<html>proxy login</html>"}, text: "dingtalk: unexpected reply: <html>proxy login</html>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.url
			if u == "" {
				u = sink.DingTalkURL(tc.name, token)
				sink.Fail(tc.name, tc.fail)
			}
			// One attempt: this is about how a failure reads; retries are
			// TestRetry's.
			_, err := dingtalk.New(u, "", nil, nil, notify.WithRetry(notify.NoRetry), notify.WithLimiter(nil)).Notify(context.Background(), m)
			if err == nil || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("err = %v, want %q", err, tc.text)
			}
			assertClean(t, err, "")
			he, ok := errors.AsType[*notify.HTTPError](err)
			if !ok || he.Retry != tc.retry || notify.Retryable(err) != tc.retry || he.RetryAfter != tc.retryAfter {
				t.Errorf("HTTPError %+v, want retry %v after %v", he, tc.retry, tc.retryAfter)
			}
		})
	}
}

func TestSizeLimit(t *testing.T) {
	// Long multi-byte names make each alert several hundred bytes, so a
	// few hundred alerts are far over DingTalk's 20000 bytes.
	var alerts []rules.Alert
	for i := range 400 {
		a := alert(fmt.Sprintf("消费组-%03d-%s", i, strings.Repeat("长", 60)), rules.Warning, int64(20000+i))
		a.Top = []rules.Contributor{
			{Topic: strings.Repeat("主题", 30) + "-a", Lag: 100}, {Topic: strings.Repeat("主题", 30) + "-b", Lag: 50},
		}
		alerts = append(alerts, a)
	}
	alerts[399].Severity = rules.Critical // sorted first, whatever its position

	sink := chattest.NewServer()
	defer sink.Close()
	n := dingtalk.New(sink.DingTalkURL("ops", token), "", []string{"13800000000"}, nil)
	m := notify.Message{Items: firing(alerts...), Time: time.Now()}
	if _, err := n.Notify(context.Background(), m); err != nil {
		t.Fatal(err) // the sink answers 460101 above 20000 bytes
	}
	r := sink.Received()[0]
	if len(r.Body) > 20000 {
		t.Errorf("body is %d bytes", len(r.Body))
	}
	text := decode(t, r).Markdown.Text
	shown := strings.Count(text, "#### ")
	more := regexp.MustCompile(`…and (\d+) more`).FindStringSubmatch(text)
	if more == nil {
		t.Fatalf("no \"…and N more\" in:\n%s", text)
	}
	if rest, _ := strconv.Atoi(more[1]); shown+rest != 400 || shown < 10 {
		t.Errorf("%d shown + %d more, want 400 in all and a useful number shown", shown, rest)
	}
	if !strings.Contains(text, "CRITICAL · 消费组-399") || !strings.Contains(text, "@13800000000") {
		t.Error("the critical alert or its mention was cut")
	}
	// Filling the budget: one more alert would not have fitted.
	if len(r.Body) < 20000-1500 {
		t.Errorf("body is only %d bytes; the truncation wastes room", len(r.Body))
	}
	if p := n.Preview(m); p != r.Readable() {
		t.Error("Preview differs from what was sent")
	}
}

func TestTransportErrorHidesCredentials(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	n := dingtalk.New("http://"+addr+"/robot/send?access_token="+token, secret, nil, nil, notify.WithRetry(fast), notify.WithLimiter(nil))
	fixed := time.Now()
	n.Now = func() time.Time { return fixed }
	_, err = n.Notify(context.Background(), notify.Message{Items: firing(alert("g", rules.Critical, 20000))})
	if err == nil || !notify.Retryable(err) {
		t.Fatalf("err = %v, want a retryable transport error", err)
	}
	if !strings.Contains(err.Error(), "access_token=***&timestamp=***&sign=***") || !strings.HasSuffix(err.Error(), "; gave up after 4 attempts") {
		t.Errorf("error = %v", err)
	}
	// The signature for this clock, computed as DingTalk documents it.
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d\n%s", fixed.UnixMilli(), secret)
	sign := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	assertClean(t, err, sign)
	assertClean(t, err, url.QueryEscape(sign))
	if strings.Contains(err.Error(), strconv.FormatInt(fixed.UnixMilli(), 10)) {
		t.Errorf("error contains the timestamp: %v", err)
	}
}

func TestNothingToSend(t *testing.T) {
	sink := chattest.NewServer()
	defer sink.Close()
	n := dingtalk.New(sink.DingTalkURL("ops", token), "", nil, nil)
	if _, err := n.Notify(context.Background(), notify.Message{}); err != nil || len(sink.Received()) != 0 || n.Preview(notify.Message{}) != "" {
		t.Errorf("an empty message should send and preview nothing (err %v)", err)
	}
}
