package wecomtest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/notify/wecom/wecomtest"
)

type reply struct {
	Status  int
	Errcode int    `json:"errcode"`
	Errmsg  string `json:"errmsg"`
	Raw     string
	Header  http.Header
}

func post(t *testing.T, url, body string) reply {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{Status: resp.StatusCode, Raw: string(raw), Header: resp.Header}
	json.Unmarshal(raw, &r)
	return r
}

func markdown(content string) string {
	b, _ := json.Marshal(map[string]any{"msgtype": "markdown", "markdown": map[string]string{"content": content}})
	return string(b)
}

// The checks WeCom makes, answered with its codes; only what passes them
// is received.
func TestChecks(t *testing.T) {
	// 1365 Chinese characters are 4095 bytes.
	han := strings.Repeat("积", 1365)
	for _, tc := range []struct {
		name    string
		key     string // "" for the robot's
		body    string
		errcode int
		errmsg  string // its start
	}{
		{"markdown", "", markdown("### hello"), 0, "ok"},
		{"4096 bytes", "", markdown(han + "a"), 0, "ok"},
		{"4097 bytes, 1367 characters", "", markdown(han + "ab"), 40058, "markdown.content exceed max length 4096. invalid Request Parameter, hint: ["},
		{"text with mentions", "", `{"msgtype":"text","text":{"content":"hi","mentioned_mobile_list":["13800000000"]}}`, 0, "ok"},
		{"text over 2048 bytes", "", `{"msgtype":"text","text":{"content":"` + strings.Repeat("x", 2049) + `"}}`, 40058, "text.content exceed max length 2048"},
		{"unknown key", "nope", markdown("x"), 93000, "invalid webhook url, hint: ["},
		{"empty content", "", markdown(""), 44004, "Warning: wrong json format. empty content"},
		{"no msgtype", "", `{"markdown":{"content":"x"}}`, 40008, "invalid message type"},
		{"type without its object", "", `{"msgtype":"text","markdown":{"content":"x"}}`, 40008, "invalid message type"},
		{"not json", "", `{"msgtype":`, 40008, "Warning: wrong json format."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := wecomtest.NewServer()
			defer srv.Close()
			u := srv.WebhookURL("k")
			if tc.key != "" {
				u = strings.Replace(u, "key=k", "key="+tc.key, 1)
			}
			r := post(t, u, tc.body)
			if r.Status != 200 || r.Errcode != tc.errcode || !strings.HasPrefix(r.Errmsg, tc.errmsg) {
				t.Errorf("HTTP %d %s, want errcode %d %q…", r.Status, r.Raw, tc.errcode, tc.errmsg)
			}
			if tc.errcode != 0 && !strings.HasSuffix(r.Errmsg, "more info at https://open.work.weixin.qq.com/devtool/query?e="+strconv.Itoa(tc.errcode)) {
				t.Errorf("errmsg %q lacks WeCom's suffix", r.Errmsg)
			}
			if got := len(srv.Received()); got != map[bool]int{true: 1}[tc.errcode == 0] {
				t.Errorf("received %d", got)
			}
		})
	}
}

func TestReceived(t *testing.T) {
	srv := wecomtest.NewServer()
	defer srv.Close()
	u := srv.WebhookURL("k")
	post(t, u, `{"msgtype":"markdown","markdown":{"content":"# hi","mentioned_mobile_list":["1"]}}`)
	post(t, u, `{"msgtype":"text","text":{"content":"ping","mentioned_list":["wangqing"],"mentioned_mobile_list":["13800000000"]}}`)
	got := srv.Received()
	if len(got) != 2 || got[0].Key != "k" || got[0].MsgType != "markdown" || got[0].Content != "# hi" || got[0].MentionedMobileList != nil {
		t.Fatalf("received %+v", got)
	}
	if got[0].Readable() != "# hi" || got[1].Readable() != "ping\n\nMentions: @wangqing @13800000000" {
		t.Errorf("readable %q, %q", got[0].Readable(), got[1].Readable())
	}
	if srv.Attempts("k") != 2 {
		t.Errorf("attempts %d", srv.Attempts("k"))
	}
}

// Twenty messages a minute per robot; others are not affected, and a
// minute later the robot takes messages again.
func TestRateLimit(t *testing.T) {
	srv := wecomtest.NewServer()
	defer srv.Close()
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	srv.SetClock(func() time.Time { return now })
	a, b := srv.WebhookURL("a"), srv.WebhookURL("b")
	for i := range wecomtest.PerMinute {
		if r := post(t, a, markdown("x")); r.Errcode != 0 {
			t.Fatalf("message %d: %s", i+1, r.Raw)
		}
	}
	if r := post(t, a, markdown("x")); r.Errcode != 45009 || !strings.HasPrefix(r.Errmsg, "api freq out of limit") {
		t.Errorf("21st: %s", r.Raw)
	}
	if r := post(t, b, markdown("x")); r.Errcode != 0 {
		t.Errorf("other robot: %s", r.Raw)
	}
	srv.SetClock(func() time.Time { return now.Add(59 * time.Second) })
	if r := post(t, a, markdown("x")); r.Errcode != 45009 {
		t.Errorf("59s later: %s", r.Raw)
	}
	srv.SetClock(func() time.Time { return now.Add(time.Minute) })
	if r := post(t, a, markdown("x")); r.Errcode != 0 {
		t.Errorf("a minute later: %s", r.Raw)
	}
	if got := len(srv.Received()); got != 22 {
		t.Errorf("received %d, want 22", got)
	}
}

func TestFail(t *testing.T) {
	srv := wecomtest.NewServer()
	defer srv.Close()
	u := srv.WebhookURL("k")
	srv.Fail("k", wecomtest.Failure{Errcode: -1, After: 1, Times: 2})
	var codes []int
	for range 4 {
		codes = append(codes, post(t, u, markdown("x")).Errcode)
	}
	if want := []int{0, -1, -1, 0}; !slices.Equal(codes, want) {
		t.Errorf("errcodes %v, want %v", codes, want)
	}

	srv.Fail("k", wecomtest.Failure{Status: 429, Body: "slow down", RetryAfter: 7})
	r := post(t, u, markdown("x"))
	if r.Status != 429 || r.Raw != "slow down" || r.Header.Get("Retry-After") != "7" {
		t.Errorf("HTTP %d %q Retry-After %q", r.Status, r.Raw, r.Header.Get("Retry-After"))
	}
	srv.Fail("k", wecomtest.Failure{Errcode: 93000, Errmsg: "custom"})
	if r := post(t, u, markdown("x")); r.Errcode != 93000 || r.Errmsg != "custom" {
		t.Errorf("%s", r.Raw)
	}
	srv.Fail("k", wecomtest.Failure{})
	if r := post(t, u, markdown("x")); r.Errcode != 0 {
		t.Errorf("after Fail(k, Failure{}): %s", r.Raw)
	}
	if got, want := len(srv.Received()), 3; got != want || srv.Attempts("k") != 7 {
		t.Errorf("received %d, attempts %d; want %d, 7", got, srv.Attempts("k"), want)
	}
}
