package feishutest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// stepClock is a clock that moves a second at each reading, so that a test
// sending many messages stays under the frequency limit.
func stepClock() func() time.Time {
	var secs atomic.Int64
	secs.Store(1_700_000_000)
	return func() time.Time { return time.Unix(secs.Add(1), 0) }
}

type answer struct {
	status     int
	Code       *int   `json:"code"`
	Msg        string `json:"msg"`
	StatusCode *int   `json:"StatusCode"`
	retryAfter string
	raw        string
}

func post(t *testing.T, u, body string) answer {
	t.Helper()
	resp, err := http.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), raw: string(b)}
	json.Unmarshal(b, &a)
	return a
}

func (a answer) code() int {
	if a.Code == nil {
		return -1
	}
	return *a.Code
}

// card builds an interactive message around the given elements.
func card(elements string) string {
	return `{"msg_type":"interactive","card":{"header":{"title":{"tag":"plain_text","content":"backlog-alert"},"template":"red"},"elements":[` + elements + `]}}`
}

const div = `{"tag":"div","text":{"tag":"lark_md","content":"**hi**"}}`

func TestValidation(t *testing.T) {
	s := NewServer()
	defer s.Close()
	s.Now = stepClock()
	hook := s.Hook("ops", "tok")
	for _, tc := range []struct {
		name, url, body string
		code            int
	}{
		{"text", hook, `{"msg_type":"text","content":{"text":"hello"}}`, 0},
		{"card", hook, card(div + `,{"tag":"hr"},{"tag":"note","elements":[{"tag":"plain_text","content":"n"}]},` +
			`{"tag":"action","actions":[{"tag":"button","text":{"tag":"plain_text","content":"Runbook"},"url":"https://wiki.example.com/a%20b","type":"primary"}]}`), 0},
		{"card schema 2.0", hook, `{"msg_type":"interactive","card":{"schema":"2.0","body":{"elements":[{"tag":"markdown","content":"hi"}]}}}`, 0},
		{"unknown token", s.URL + "/open-apis/bot/v2/hook/other", `{"msg_type":"text","content":{"text":"hello"}}`, CodeTokenInvalid},
		{"not json", hook, `{"msg_type":`, CodeBadRequest},
		{"no msg_type", hook, `{"content":{"text":"hello"}}`, CodeNoMsgType},
		{"unknown msg_type", hook, `{"msg_type":"markdown","content":{"text":"hello"}}`, CodeNoMsgType},
		{"empty text", hook, `{"msg_type":"text","content":{"text":""}}`, CodeBadRequest},
		{"no card", hook, `{"msg_type":"interactive","content":{"text":"hello"}}`, CodeBadRequest},
		{"card as a string", hook, `{"msg_type":"interactive","card":"{\"elements\":[]}"}`, CodeBadRequest},
		{"empty card", hook, `{"msg_type":"interactive","card":{}}`, CodeBadRequest},
		{"bad template", hook, strings.Replace(card(div), `"red"`, `"crimson"`, 1), CodeBadRequest},
		{"untitled header", hook, strings.Replace(card(div), `"content":"backlog-alert"`, `"content":""`, 1), CodeBadRequest},
		{"unknown element", hook, card(`{"tag":"blink"}`), CodeBadRequest},
		{"div without text", hook, card(`{"tag":"div"}`), CodeBadRequest},
		{"div with a bad text tag", hook, card(`{"tag":"div","text":{"tag":"mrkdwn","content":"x"}}`), CodeBadRequest},
		{"empty note", hook, card(`{"tag":"note","elements":[]}`), CodeBadRequest},
		{"button without url", hook, card(`{"tag":"action","actions":[{"tag":"button","text":{"tag":"plain_text","content":"x"}}]}`), CodeBadRequest},
		{"button with a space in its url", hook, card(`{"tag":"action","actions":[{"tag":"button","text":{"tag":"plain_text","content":"x"},"url":"https://a.example/a b"}]}`), CodeBadRequest},
		{"button to a relative url", hook, card(`{"tag":"action","actions":[{"tag":"button","text":{"tag":"plain_text","content":"x"},"url":"wiki/page"}]}`), CodeBadRequest},
		{"over 20,000 bytes", hook, `{"msg_type":"text","content":{"text":"` + strings.Repeat("x", MaxBody) + `"}}`, CodeTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(s.Received())
			a := post(t, tc.url, tc.body)
			if a.status != http.StatusOK || a.code() != tc.code {
				t.Fatalf("HTTP %d %s, want code %d", a.status, a.raw, tc.code)
			}
			if tc.code != 0 && a.Msg != messages[tc.code] && !strings.HasPrefix(a.Msg, messages[tc.code]+": ") {
				t.Errorf("msg %q, want Feishu's %q", a.Msg, messages[tc.code])
			}
			if tc.code == 0 && (a.StatusCode == nil || *a.StatusCode != 0 || a.Msg != "success") {
				t.Errorf("success reply %s", a.raw)
			}
			if accepted := len(s.Received()) - before; accepted != map[bool]int{true: 1}[tc.code == 0] {
				t.Errorf("%d messages kept", accepted)
			}
		})
	}
	if got := s.Attempts("ops"); got != 20 {
		t.Errorf("Attempts = %d, want every request to the bot (20)", got)
	}
}

func sign(ts, secret string) string {
	mac := hmac.New(sha256.New, []byte(ts+"\n"+secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestSignature(t *testing.T) {
	s := NewServer()
	defer s.Close()
	hook := s.Hook("ops", "tok")
	s.RequireSecret("ops", "SECRET")
	now := time.Unix(1_700_000_000, 0)
	s.Now = func() time.Time { return now }
	ts := strconv.FormatInt(now.Unix(), 10)
	old := strconv.FormatInt(now.Add(-61*time.Minute).Unix(), 10)
	msg := `"msg_type":"text","content":{"text":"hello"}`
	for _, tc := range []struct {
		name, fields string
		code         int
	}{
		{"valid", `"timestamp":"` + ts + `","sign":"` + sign(ts, "SECRET") + `",`, 0},
		{"59 minutes ahead", `"timestamp":"` + strconv.FormatInt(now.Add(59*time.Minute).Unix(), 10) + `","sign":"` + sign(strconv.FormatInt(now.Add(59*time.Minute).Unix(), 10), "SECRET") + `",`, 0},
		{"unsigned", ``, CodeSignMismatch},
		{"wrong secret", `"timestamp":"` + ts + `","sign":"` + sign(ts, "OTHER") + `",`, CodeSignMismatch},
		{"over an hour old", `"timestamp":"` + old + `","sign":"` + sign(old, "SECRET") + `",`, CodeSignMismatch},
		{"milliseconds", `"timestamp":"` + ts + `000","sign":"` + sign(ts+"000", "SECRET") + `",`, CodeSignMismatch},
		{"timestamp as a number", `"timestamp":` + ts + `,"sign":"` + sign(ts, "SECRET") + `",`, CodeBadRequest},
		{"DingTalk's signature", `"timestamp":"` + ts + `","sign":"` + dingTalkSign(ts, "SECRET") + `",`, CodeSignMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if a := post(t, hook, "{"+tc.fields+msg+"}"); a.code() != tc.code {
				t.Errorf("%s, want code %d", a.raw, tc.code)
			}
		})
	}
}

// dingTalkSign keys the MAC with the secret and signs timestamp+"\n"+secret:
// the mistake of a client that treats Feishu like DingTalk.
func dingTalkSign(ts, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "\n" + secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestKeyword(t *testing.T) {
	s := NewServer()
	defer s.Close()
	s.Now = stepClock()
	hook := s.Hook("ops", "tok")
	s.RequireKeyword("ops", "backlog-alert", "告警")
	for _, tc := range []struct {
		name, body string
		code       int
	}{
		{"in the header", card(div), 0},
		{"in a note", `{"msg_type":"interactive","card":{"elements":[{"tag":"note","elements":[{"tag":"plain_text","content":"evaluated · backlog-alert"}]}]}}`, 0},
		{"the other keyword", `{"msg_type":"text","content":{"text":"消费告警"}}`, 0},
		{"missing", `{"msg_type":"text","content":{"text":"hello"}}`, CodeKeywordMissing},
		{"only in a URL", `{"msg_type":"interactive","card":{"elements":[` + div + `,{"tag":"action","actions":[{"tag":"button","text":{"tag":"plain_text","content":"x"},"url":"https://backlog-alert.example"}]}]}}`, CodeKeywordMissing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if a := post(t, hook, tc.body); a.code() != tc.code {
				t.Errorf("%s, want code %d", a.raw, tc.code)
			}
		})
	}
}

// Five messages a second and a hundred a minute per bot; other bots are
// not affected.
func TestFrequency(t *testing.T) {
	s := NewServer()
	defer s.Close()
	hook := s.Hook("ops", "tok")
	other := s.Hook("other", "tok2")
	now := time.Unix(1_700_000_000, 0)
	s.Now = func() time.Time { return now }
	text := `{"msg_type":"text","content":{"text":"hello"}}`
	for i := range PerSecond {
		if a := post(t, hook, text); a.code() != 0 {
			t.Fatalf("message %d: %s", i+1, a.raw)
		}
	}
	if a := post(t, hook, text); a.code() != CodeFrequency || a.Msg != messages[CodeFrequency] {
		t.Errorf("6th in a second: %s", a.raw)
	}
	if a := post(t, other, text); a.code() != 0 {
		t.Errorf("another bot: %s", a.raw)
	}
	// Five a second for the rest of the minute: 100 in all.
	sent := PerSecond
	for sent < PerMinute {
		now = now.Add(time.Second)
		for range PerSecond {
			if a := post(t, hook, text); a.code() != 0 {
				t.Fatalf("message %d: %s", sent+1, a.raw)
			}
			sent++
		}
	}
	now = now.Add(time.Second)
	if a := post(t, hook, text); a.code() != CodeFrequency {
		t.Errorf("101st in a minute: %s", a.raw)
	}
	now = now.Add(time.Minute)
	if a := post(t, hook, text); a.code() != 0 {
		t.Errorf("a minute later: %s", a.raw)
	}
}

func TestFail(t *testing.T) {
	s := NewServer()
	defer s.Close()
	s.Now = stepClock()
	hook := s.Hook("ops", "tok")
	text := `{"msg_type":"text","content":{"text":"hello"}}`

	s.Fail("ops", Failure{Code: CodeFrequency, Times: 2})
	for i := range 2 {
		if a := post(t, hook, text); a.status != 200 || a.code() != CodeFrequency || a.Msg != messages[CodeFrequency] {
			t.Errorf("request %d: HTTP %d %s", i+1, a.status, a.raw)
		}
	}
	if a := post(t, hook, text); a.code() != 0 {
		t.Errorf("after Times: %s", a.raw)
	}

	s.Fail("ops", Failure{Code: CodeBadRequest, Status: 400, Msg: "Bad Request: broken"})
	if a := post(t, hook, text); a.status != 400 || a.code() != CodeBadRequest || a.Msg != "Bad Request: broken" {
		t.Errorf("HTTP %d %s", a.status, a.raw)
	}
	s.Fail("ops", Failure{Status: 429, Body: "slow down", RetryAfter: 3})
	if a := post(t, hook, text); a.status != 429 || a.raw != "slow down" || a.retryAfter != "3" {
		t.Errorf("HTTP %d %q, Retry-After %q", a.status, a.raw, a.retryAfter)
	}
	s.Fail("ops", Failure{Body: "oops"})
	if a := post(t, hook, text); a.status != 500 || a.raw != "oops" {
		t.Errorf("HTTP %d %q", a.status, a.raw)
	}
	s.Fail("ops", Failure{})
	if a := post(t, hook, text); a.code() != 0 || len(s.Received()) != 2 || s.Attempts("ops") != 7 {
		t.Errorf("%s; %d received, %d attempts", a.raw, len(s.Received()), s.Attempts("ops"))
	}
}

func TestReadable(t *testing.T) {
	s := NewServer()
	defer s.Close()
	hook := s.Hook("ops", "tok")
	body := `{"msg_type":"interactive","card":{"header":{"title":{"tag":"plain_text","content":"🚨 1 behind"},"template":"red"},"elements":[` +
		`{"tag":"note","elements":[{"tag":"plain_text","content":"evaluated"},{"tag":"plain_text","content":"now"}]},` +
		`{"tag":"div","text":{"tag":"lark_md","content":"**🔴 CRITICAL · g**\nline"}},` +
		`{"tag":"action","actions":[{"tag":"button","text":{"tag":"plain_text","content":"Runbook"},"url":"https://wiki.example.com/r"},` +
		`{"tag":"button","text":{"tag":"plain_text","content":"dash"},"url":"https://grafana.example.com/d"}]},` +
		`{"tag":"hr"},{"tag":"div","text":{"tag":"lark_md","content":"<at id=ou_1></at>"}}]}}`
	if a := post(t, hook, body); a.code() != 0 {
		t.Fatal(a.raw)
	}
	want := "🚨 1 behind\n\nevaluated now\n\n**🔴 CRITICAL · g**\nline\n\n[Runbook](https://wiki.example.com/r) · [dash](https://grafana.example.com/d)\n\n---\n\n<at id=ou_1></at>"
	if got := s.Received()[0].Readable(); got != want {
		t.Errorf("Readable:\n%s\nwant:\n%s", got, want)
	}
	if r := s.Received()[0]; r.Bot != "ops" || r.At.IsZero() {
		t.Errorf("received %+v", r)
	}
}
