package chattest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func post(t *testing.T, u, body string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)), resp.Header
}

func blocksJSON(n int, text string) string {
	var bs []string
	for range n {
		bs = append(bs, fmt.Sprintf(`{"type":"section","text":{"type":"mrkdwn","text":%q}}`, text))
	}
	return "[" + strings.Join(bs, ",") + "]"
}

func TestSlackValidation(t *testing.T) {
	s := NewServer()
	defer s.Close()
	hook := s.SlackURL("ops")
	for _, tc := range []struct {
		name, body string
		status     int
		reply      string
	}{
		{"text only", `{"text":"hi"}`, 200, "ok"},
		{"blocks and colour", `{"text":"hi","blocks":[{"type":"header","text":{"type":"plain_text","text":"H"}}],
			"attachments":[{"color":"#E01E5A","blocks":` + blocksJSON(49, "x") + `}]}`, 200, "ok"},
		{"not json", `{"text":`, 400, "invalid_payload"},
		{"nothing to show", `{"username":"x"}`, 400, "no_text"},
		{"51 blocks", `{"blocks":` + blocksJSON(51, "x") + `}`, 400, "invalid_blocks"},
		{"51 blocks over attachments", `{"blocks":` + blocksJSON(1, "x") + `,"attachments":[{"blocks":` + blocksJSON(50, "x") + `}]}`, 400, "invalid_blocks"},
		{"section 3001", `{"blocks":` + blocksJSON(1, strings.Repeat("é", 3001)) + `}`, 400, "invalid_blocks"},
		{"section 3000", `{"blocks":` + blocksJSON(1, strings.Repeat("é", 3000)) + `}`, 200, "ok"},
		{"header 151", `{"blocks":[{"type":"header","text":{"type":"plain_text","text":"` + strings.Repeat("h", 151) + `"}}]}`, 400, "invalid_blocks"},
		{"header mrkdwn", `{"blocks":[{"type":"header","text":{"type":"mrkdwn","text":"h"}}]}`, 400, "invalid_blocks"},
		{"legacy field next to blocks", `{"attachments":[{"color":"#fff","text":"legacy","blocks":` + blocksJSON(1, "x") + `}]}`, 400, "invalid_attachments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, reply, _ := post(t, hook, tc.body)
			if status != tc.status || reply != tc.reply {
				t.Errorf("got %d %q, want %d %q", status, reply, tc.status, tc.reply)
			}
		})
	}
	if n := len(s.Received()); n != 3 {
		t.Errorf("received %d messages, want the 3 valid ones", n)
	}
	if status, reply, _ := post(t, s.URL+"/slack/services/T000/B000/unknown", `{"text":"x"}`); status != 404 || reply != "no_service" {
		t.Errorf("unknown hook: %d %q", status, reply)
	}
}

func TestSlackFailureAndReadable(t *testing.T) {
	s := NewServer()
	defer s.Close()
	hook := s.SlackURL("ops")
	s.Fail("ops", Failure{Status: 429, Body: "rate_limited", RetryAfter: 7, Times: 2})
	for range 2 {
		status, reply, h := post(t, hook, `{"text":"x"}`)
		if status != 429 || reply != "rate_limited" || h.Get("Retry-After") != "7" {
			t.Errorf("got %d %q Retry-After %q", status, reply, h.Get("Retry-After"))
		}
	}
	body := `{"text":"fallback","blocks":[{"type":"header","text":{"type":"plain_text","text":"Head"}}],
		"attachments":[{"color":"#E01E5A","blocks":[{"type":"context","elements":[{"type":"mrkdwn","text":"ctx"}]},
		{"type":"section","text":{"type":"mrkdwn","text":"*bold* line"}}]}]}`
	if status, reply, _ := post(t, hook, body); status != 200 {
		t.Fatalf("after Times failures: %d %q", status, reply)
	}
	got := s.Received()
	if len(got) != 1 || got[0].Channel != "ops" || got[0].Kind != "slack" {
		t.Fatalf("received %+v", got)
	}
	if n := s.Attempts("ops"); n != 3 {
		t.Errorf("Attempts = %d, want the 2 rejected and the 1 accepted", n)
	}
	if r := got[0].Readable(); r != "Head\n\nctx\n\n*bold* line" {
		t.Errorf("Readable = %q", r)
	}
	s.Fail("ops", Failure{Status: 500})
	s.Fail("ops", Failure{}) // cleared
	if status, _, _ := post(t, hook, `{"text":"x"}`); status != 200 {
		t.Errorf("Fail(Failure{}) did not clear: %d", status)
	}
}

func sign(secret string, ts int64) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d\n%s", ts, secret)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestDingTalk(t *testing.T) {
	s := NewServer()
	defer s.Close()
	hook := s.DingTalkURL("ops", "tok")
	s.RequireDingTalkSecret("ops", "SECret")
	now := time.Now().UnixMilli()
	signed := func(ts int64, sig string) string {
		return hook + "&timestamp=" + strconv.FormatInt(ts, 10) + "&sign=" + url.QueryEscape(sig)
	}
	md := func(title, text string) string {
		b, _ := json.Marshal(map[string]any{"msgtype": "markdown", "markdown": map[string]string{"title": title, "text": text},
			"at": map[string]any{"atMobiles": []string{"138"}, "isAtAll": false}})
		return string(b)
	}
	good := md("T", "body @138")
	for _, tc := range []struct {
		name, url, body string
		errcode         int
	}{
		{"signed", signed(now, sign("SECret", now)), good, 0},
		{"wrong secret", signed(now, sign("SECother", now)), good, 310000},
		{"encoded twice", hook + "&timestamp=" + strconv.FormatInt(now, 10) + "&sign=" + url.QueryEscape(url.QueryEscape(sign("SECret", now))), good, 310000},
		{"stale timestamp", signed(now-2*3600*1000, sign("SECret", now-2*3600*1000)), good, 310000},
		{"unsigned", hook, good, 310000},
		{"wrong token", strings.Replace(signed(now, sign("SECret", now)), "access_token=tok", "access_token=nope", 1), good, 300001},
		{"no title", signed(now, sign("SECret", now)), md("", "x"), 40035},
		{"not json", signed(now, sign("SECret", now)), "{", 40035},
		{"too big", signed(now, sign("SECret", now)), md("T", strings.Repeat("x", 20000)), 460101},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, reply, _ := post(t, tc.url, tc.body)
			var r struct {
				Errcode int    `json:"errcode"`
				Errmsg  string `json:"errmsg"`
			}
			if err := json.Unmarshal([]byte(reply), &r); err != nil || status != 200 {
				t.Fatalf("reply %d %q", status, reply)
			}
			if r.Errcode != tc.errcode || (r.Errcode == 0) != (r.Errmsg == "ok") {
				t.Errorf("errcode %d %q, want %d", r.Errcode, r.Errmsg, tc.errcode)
			}
		})
	}
	got := s.Received()
	if len(got) != 1 || got[0].Kind != "dingtalk" || got[0].Query.Get("access_token") != "tok" {
		t.Fatalf("received %+v", got)
	}
	if r := got[0].Readable(); r != "T\n\nbody @138\n\nMentions: @138" {
		t.Errorf("Readable = %q", r)
	}

	s.Fail("ops", Failure{DingTalkErrcode: 130101, Body: "send too fast", Times: 1})
	_, reply, _ := post(t, signed(now, sign("SECret", now)), good)
	if !strings.Contains(reply, `"errcode":130101`) {
		t.Errorf("injected errcode: %s", reply)
	}
	if _, reply, _ := post(t, signed(now, sign("SECret", now)), good); !strings.Contains(reply, `"errcode":0`) {
		t.Errorf("after Times failures: %s", reply)
	}
	// Every request counts, whatever it was answered.
	if n := s.Attempts("ops"); n != 11 {
		t.Errorf("Attempts = %d, want 11", n)
	}
}
