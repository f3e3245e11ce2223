package slackapitest_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/backlog-alert/backlog-alert/notify/slack/slackapitest"
)

const (
	token   = "xoxb-1-test"
	channel = "C0APP00001"
)

// setup starts a server with one token and one channel, and a real
// slack-go client for it.
func setup(t *testing.T) (*slackapitest.Server, *slack.Client) {
	t.Helper()
	srv := slackapitest.NewServer(token)
	t.Cleanup(srv.Close)
	srv.AddChannel(channel)
	return srv, slack.New(token, slack.OptionAPIURL(srv.URL+"/"))
}

func section(text string) slack.Block {
	return slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, text, false, false), nil, nil)
}

func sections(n int) []slack.Block {
	bs := make([]slack.Block, n)
	for i := range bs {
		bs[i] = section(fmt.Sprintf("block %d", i))
	}
	return bs
}

// slackErr returns Slack's error code from a slack-go error, or "".
func slackErr(err error) string {
	var e slack.SlackErrorResponse
	if errors.As(err, &e) {
		return e.Err
	}
	return ""
}

// postForm sends a raw form request, for what slack-go cannot send.
func postForm(t *testing.T, srv *slackapitest.Server, method string, v url.Values) (int, http.Header, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(srv.URL+"/"+method, v)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, resp)
}

func decode(t *testing.T, resp *http.Response) (int, http.Header, map[string]any) {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("body %q: %v", b, err)
	}
	return resp.StatusCode, resp.Header, body
}

func TestPostUpdateReply(t *testing.T) {
	srv, api := setup(t)

	ch, ts, err := api.PostMessage(channel, slack.MsgOptionText("lag 1200", false), slack.MsgOptionBlocks(section("*lag* 1200")))
	if err != nil {
		t.Fatal(err)
	}
	if ch != channel || ts == "" {
		t.Fatalf("post = %q %q", ch, ts)
	}
	_, uts, text, err := api.UpdateMessage(channel, ts, slack.MsgOptionText("lag 0", false), slack.MsgOptionBlocks(section("*lag* 0")))
	if err != nil {
		t.Fatal(err)
	}
	if uts != ts || text != "lag 0" {
		t.Fatalf("update = %q %q, want %q %q", uts, text, ts, "lag 0")
	}
	_, rts, msg, err := api.PostMessageWithResponse(channel, slack.MsgOptionText("resolved", false), slack.MsgOptionTS(ts), slack.MsgOptionBroadcast())
	if err != nil {
		t.Fatal(err)
	}
	if msg.ThreadTimestamp != ts || msg.Timestamp != rts || msg.Text != "resolved" {
		t.Fatalf("reply message = %+v", msg)
	}
	if rts <= ts {
		t.Fatalf("reply ts %q not after parent %q", rts, ts)
	}

	msgs := srv.Messages(channel)
	if len(msgs) != 2 {
		t.Fatalf("Messages = %+v", msgs)
	}
	parent, reply := msgs[0], msgs[1]
	if parent.TS != ts || parent.Text != "lag 0" || !strings.Contains(parent.Blocks, "*lag* 0") || !parent.Edited || parent.Replies != 1 || parent.ThreadTS != "" {
		t.Errorf("parent = %+v", parent)
	}
	if reply.TS != rts || reply.ThreadTS != ts || !reply.Broadcast || reply.Edited || reply.Text != "resolved" {
		t.Errorf("reply = %+v", reply)
	}
	if m, ok := srv.Message(channel, rts); !ok || m != reply {
		t.Errorf("Message(%q) = %+v, %v", rts, m, ok)
	}

	calls := srv.Calls()
	want := []struct{ method, ts, thread string }{
		{"chat.postMessage", ts, ""},
		{"chat.update", ts, ""},
		{"chat.postMessage", rts, ts},
	}
	if len(calls) != len(want) {
		t.Fatalf("Calls = %+v", calls)
	}
	for i, w := range want {
		c := calls[i]
		if c.Method != w.method || c.TS != w.ts || c.ThreadTS != w.thread || c.Error != "" || !c.Authorized || c.Channel != channel {
			t.Errorf("call %d = %+v, want %+v", i, c, w)
		}
	}
	if !calls[2].ReplyBroadcast || calls[0].Blocks == "" || calls[0].Text != "lag 1200" {
		t.Errorf("calls = %+v", calls)
	}
}

func TestUpdateKeepsOmittedFields(t *testing.T) {
	srv, api := setup(t)
	_, ts, err := api.PostMessage(channel, slack.MsgOptionText("a", false), slack.MsgOptionBlocks(section("a")))
	if err != nil {
		t.Fatal(err)
	}
	// Text only: blocks stay, as Slack documents.
	if _, _, _, err := api.UpdateMessage(channel, ts, slack.MsgOptionText("b", false)); err != nil {
		t.Fatal(err)
	}
	if m, _ := srv.Message(channel, ts); m.Text != "b" || !strings.Contains(m.Blocks, `"a"`) {
		t.Fatalf("after text update: %+v", m)
	}
	// An empty blocks array removes them.
	if _, _, _, err := api.UpdateMessage(channel, ts, slack.MsgOptionText("c", false), slack.MsgOptionBlocks()); err != nil {
		t.Fatal(err)
	}
	if m, _ := srv.Message(channel, ts); m.Text != "c" || m.Blocks != "" {
		t.Fatalf("after clearing blocks: %+v", m)
	}
}

func TestReplyToReplyJoinsParentThread(t *testing.T) {
	srv, api := setup(t)
	_, parent, err := api.PostMessage(channel, slack.MsgOptionText("parent", false))
	if err != nil {
		t.Fatal(err)
	}
	_, r1, err := api.PostMessage(channel, slack.MsgOptionText("r1", false), slack.MsgOptionTS(parent))
	if err != nil {
		t.Fatal(err)
	}
	_, r2, msg, err := api.PostMessageWithResponse(channel, slack.MsgOptionText("r2", false), slack.MsgOptionTS(r1))
	if err != nil {
		t.Fatal(err)
	}
	if msg.ThreadTimestamp != parent {
		t.Errorf("reply to reply: thread_ts %q, want %q", msg.ThreadTimestamp, parent)
	}
	if m, _ := srv.Message(channel, r2); m.ThreadTS != parent {
		t.Errorf("stored reply = %+v", m)
	}
	if m, _ := srv.Message(channel, parent); m.Replies != 2 {
		t.Errorf("parent replies = %d, want 2", m.Replies)
	}
	if c := srv.Calls()[2]; c.ThreadTS != r1 {
		t.Errorf("call thread_ts = %q, want as sent %q", c.ThreadTS, r1)
	}
}

func TestErrors(t *testing.T) {
	tooLong := strings.Repeat("x", 40001)
	tests := []struct {
		name string
		call func(api *slack.Client, apiURL, ts string) error
		want string
	}{
		{"unknown channel", func(api *slack.Client, _, _ string) error {
			_, _, err := api.PostMessage("C0NOPE0001", slack.MsgOptionText("hi", false))
			return err
		}, "channel_not_found"},
		{"empty channel", func(api *slack.Client, _, _ string) error {
			_, _, err := api.PostMessage("", slack.MsgOptionText("hi", false))
			return err
		}, "channel_not_found"},
		{"bot not in channel", func(api *slack.Client, _, _ string) error {
			_, _, err := api.PostMessage("C0OUTSIDE1", slack.MsgOptionText("hi", false))
			return err
		}, "not_in_channel"},
		{"update in channel bot left", func(api *slack.Client, _, ts string) error {
			_, _, _, err := api.UpdateMessage("C0OUTSIDE1", ts, slack.MsgOptionText("hi", false))
			return err
		}, "not_in_channel"},
		{"no text", func(api *slack.Client, _, _ string) error {
			_, _, err := api.PostMessage(channel)
			return err
		}, "no_text"},
		{"only empty blocks", func(api *slack.Client, _, _ string) error {
			_, _, err := api.PostMessage(channel, slack.MsgOptionBlocks())
			return err
		}, "no_text"},
		{"update without content", func(api *slack.Client, _, ts string) error {
			_, _, _, err := api.UpdateMessage(channel, ts)
			return err
		}, "no_text"},
		{"text too long", func(api *slack.Client, _, _ string) error {
			_, _, err := api.PostMessage(channel, slack.MsgOptionText(tooLong, false))
			return err
		}, "msg_too_long"},
		{"update text too long", func(api *slack.Client, _, ts string) error {
			_, _, _, err := api.UpdateMessage(channel, ts, slack.MsgOptionText(tooLong, false))
			return err
		}, "msg_too_long"},
		{"51 blocks", func(api *slack.Client, _, _ string) error {
			_, _, err := api.PostMessage(channel, slack.MsgOptionText("t", false), slack.MsgOptionBlocks(sections(51)...))
			return err
		}, "invalid_blocks"},
		{"51 blocks with attachments", func(api *slack.Client, _, _ string) error {
			_, _, err := api.PostMessage(channel, slack.MsgOptionText("t", false),
				slack.MsgOptionBlocks(sections(30)...),
				slack.MsgOptionAttachments(slack.Attachment{Color: "#E01E5A", Blocks: slack.Blocks{BlockSet: sections(21)}}))
			return err
		}, "invalid_blocks"},
		{"section over 3000", func(api *slack.Client, _, _ string) error {
			_, _, err := api.PostMessage(channel, slack.MsgOptionText("t", false), slack.MsgOptionBlocks(section(strings.Repeat("é", 3001))))
			return err
		}, "invalid_blocks"},
		{"section over 3000 in attachment", func(api *slack.Client, _, _ string) error {
			_, _, err := api.PostMessage(channel, slack.MsgOptionAttachments(slack.Attachment{Blocks: slack.Blocks{BlockSet: []slack.Block{section(strings.Repeat("x", 3001))}}}))
			return err
		}, "invalid_blocks"},
		{"header over 150", func(api *slack.Client, _, _ string) error {
			h := slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, strings.Repeat("h", 151), false, false))
			_, _, err := api.PostMessage(channel, slack.MsgOptionText("t", false), slack.MsgOptionBlocks(h))
			return err
		}, "invalid_blocks"},
		{"101 attachments", func(api *slack.Client, _, _ string) error {
			as := make([]slack.Attachment, 101)
			for i := range as {
				as[i] = slack.Attachment{Text: "a"}
			}
			_, _, err := api.PostMessage(channel, slack.MsgOptionAttachments(as...))
			return err
		}, "too_many_attachments"},
		{"unknown thread", func(api *slack.Client, _, _ string) error {
			_, _, err := api.PostMessage(channel, slack.MsgOptionText("t", false), slack.MsgOptionTS("1.000001"))
			return err
		}, "thread_not_found"},
		{"update unknown ts", func(api *slack.Client, _, _ string) error {
			_, _, _, err := api.UpdateMessage(channel, "1.000001", slack.MsgOptionText("t", false))
			return err
		}, "message_not_found"},
		{"update unknown channel", func(api *slack.Client, _, ts string) error {
			_, _, _, err := api.UpdateMessage("C0NOPE0001", ts, slack.MsgOptionText("t", false))
			return err
		}, "channel_not_found"},
		{"bad token", func(_ *slack.Client, apiURL, _ string) error {
			bad := slack.New("xoxb-2-wrong", slack.OptionAPIURL(apiURL))
			_, _, err := bad.PostMessage(channel, slack.MsgOptionText("t", false))
			return err
		}, "invalid_auth"},
		{"no token", func(_ *slack.Client, apiURL, _ string) error {
			none := slack.New("", slack.OptionAPIURL(apiURL))
			_, _, err := none.PostMessage(channel, slack.MsgOptionText("t", false))
			return err
		}, "not_authed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, api := setup(t)
			_, ts, err := api.PostMessage(channel, slack.MsgOptionText("seed", false))
			if err != nil {
				t.Fatal(err)
			}
			srv.AddChannelNotIn("C0OUTSIDE1")
			before := srv.Messages(channel)

			err = tt.call(api, srv.URL+"/", ts)
			if got := slackErr(err); got != tt.want {
				t.Fatalf("error = %v (code %q), want %q", err, got, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("err.Error() = %q, want %q", err.Error(), tt.want)
			}
			calls := srv.Calls()
			if last := calls[len(calls)-1]; last.Error != tt.want {
				t.Errorf("recorded error = %q, want %q", last.Error, tt.want)
			}
			if after := srv.Messages(channel); len(after) != len(before) || after[0] != before[0] {
				t.Errorf("messages changed: %+v -> %+v", before, after)
			}
		})
	}
}

func TestLimitsAccepted(t *testing.T) {
	srv, api := setup(t)
	_, _, err := api.PostMessage(channel, slack.MsgOptionText(strings.Repeat("x", 40000), false),
		slack.MsgOptionBlocks(append(sections(49), section(strings.Repeat("é", 3000)))...))
	if err != nil {
		t.Fatalf("40,000 characters and 50 blocks: %v", err)
	}
	_, _, err = api.PostMessage(channel, slack.MsgOptionText("t", false),
		slack.MsgOptionBlocks(sections(25)...),
		slack.MsgOptionAttachments(slack.Attachment{Color: "#2EB67D", Blocks: slack.Blocks{BlockSet: sections(25)}}))
	if err != nil {
		t.Fatalf("25+25 blocks: %v", err)
	}
	if n := len(srv.Messages(channel)); n != 2 {
		t.Fatalf("%d messages", n)
	}
}

func TestMalformedJSONFields(t *testing.T) {
	srv, _ := setup(t)
	tests := []struct {
		name   string
		fields url.Values
		want   string
	}{
		{"blocks not JSON", url.Values{"blocks": {`[{"type":"section"`}}, "invalid_blocks"},
		{"blocks not an array", url.Values{"blocks": {`{"type":"divider"}`}}, "invalid_blocks"},
		{"unknown block type", url.Values{"blocks": {`[{"type":"sparkle"}]`}}, "invalid_blocks"},
		{"duplicate block_id", url.Values{"blocks": {`[{"type":"divider","block_id":"a"},{"type":"divider","block_id":"a"}]`}}, "invalid_blocks"},
		{"attachments not JSON", url.Values{"text": {"t"}, "attachments": {`[{"color":`}}, "invalid_attachments"},
		{"attachment not an object", url.Values{"text": {"t"}, "attachments": {`["red"]`}}, "invalid_attachments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := url.Values{"token": {token}, "channel": {channel}}
			for k, vs := range tt.fields {
				v[k] = vs
			}
			status, _, body := postForm(t, srv, "chat.postMessage", v)
			if status != http.StatusOK || body["ok"] != false || body["error"] != tt.want {
				t.Fatalf("answer %d %v, want 200 %q", status, body, tt.want)
			}
		})
	}
}

func TestRateLimited(t *testing.T) {
	tests := []struct {
		retry time.Duration
		want  time.Duration
	}{
		{3 * time.Second, 3 * time.Second},
		{1500 * time.Millisecond, 2 * time.Second},
		{0, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.retry.String(), func(t *testing.T) {
			srv, api := setup(t)
			srv.FailNext("chat.postMessage", slackapitest.Failure{Error: "ratelimited", RetryAfter: tt.retry})
			_, _, err := api.PostMessage(channel, slack.MsgOptionText("t", false))
			var rl *slack.RateLimitedError
			if !errors.As(err, &rl) || rl.RetryAfter != tt.want {
				t.Fatalf("error = %#v, want *slack.RateLimitedError{%v}", err, tt.want)
			}
			if len(srv.Messages(channel)) != 0 {
				t.Error("a rate-limited post was stored")
			}
			c := srv.Calls()[0]
			if c.Error != "ratelimited" || c.TS != "" {
				t.Errorf("call = %+v", c)
			}
		})
	}

	// The wire format: 429, Retry-After in seconds, Slack's JSON body.
	srv, _ := setup(t)
	srv.FailNext("chat.update", slackapitest.Failure{Error: "ratelimited", RetryAfter: 7 * time.Second})
	status, h, body := postForm(t, srv, "chat.update", url.Values{"token": {token}, "channel": {channel}, "ts": {"1.000001"}, "text": {"t"}})
	if status != http.StatusTooManyRequests || h.Get("Retry-After") != "7" || body["ok"] != false || body["error"] != "ratelimited" {
		t.Fatalf("answer %d Retry-After %q %v", status, h.Get("Retry-After"), body)
	}
}

func TestFailNextQueue(t *testing.T) {
	srv, api := setup(t)
	srv.FailNext("chat.update", slackapitest.Failure{Error: "cant_update_message"})
	srv.FailNext("chat.update", slackapitest.Failure{Error: "edit_window_closed"})
	srv.FailNext("chat.update", slackapitest.Failure{Status: http.StatusServiceUnavailable})

	// Queued failures are per method: posts are unaffected.
	_, ts, err := api.PostMessage(channel, slack.MsgOptionText("v1", false))
	if err != nil {
		t.Fatal(err)
	}
	update := func() error {
		_, _, _, err := api.UpdateMessage(channel, ts, slack.MsgOptionText("v2", false))
		return err
	}
	for _, want := range []string{"cant_update_message", "edit_window_closed"} {
		if err := update(); slackErr(err) != want {
			t.Fatalf("update error = %v, want %q", err, want)
		}
	}
	var sce slack.StatusCodeError
	if err := update(); !errors.As(err, &sce) || sce.Code != http.StatusServiceUnavailable {
		t.Fatalf("update error = %#v, want StatusCodeError 503", err)
	}
	if m, _ := srv.Message(channel, ts); m.Text != "v1" || m.Edited {
		t.Fatalf("a failed update changed the message: %+v", m)
	}
	if err := update(); err != nil {
		t.Fatalf("after the queue: %v", err)
	}
	if m, _ := srv.Message(channel, ts); m.Text != "v2" || !m.Edited {
		t.Fatalf("message = %+v", m)
	}
	var got []string
	for _, c := range srv.Calls() {
		got = append(got, c.Method+":"+c.Error)
	}
	want := "chat.postMessage: chat.update:cant_update_message chat.update:edit_window_closed chat.update:http_503 chat.update:"
	if strings.Join(got, " ") != want {
		t.Errorf("calls = %q, want %q", strings.Join(got, " "), want)
	}
}

func TestFailNextServerErrorBody(t *testing.T) {
	srv, _ := setup(t)
	srv.FailNext("chat.postMessage", slackapitest.Failure{Error: "internal_error", Status: 500})
	resp, err := http.PostForm(srv.URL+"/chat.postMessage", url.Values{"token": {token}, "channel": {channel}, "text": {"t"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 500 || json.Valid(b) {
		t.Fatalf("answer %d %q, want 500 with a non-JSON body", resp.StatusCode, b)
	}
	if c := srv.Calls()[0]; c.Error != "internal_error" {
		t.Errorf("call = %+v", c)
	}
}

func TestAuth(t *testing.T) {
	srv, _ := setup(t)
	body := `{"channel":"` + channel + `","text":"json","blocks":[{"type":"divider"}]}`
	tests := []struct {
		name        string
		contentType string
		auth        string
		body        string
		want        string // "" for ok
	}{
		{"form token", "application/x-www-form-urlencoded", "", "token=" + token + "&channel=" + channel + "&text=t", ""},
		{"form bearer", "application/x-www-form-urlencoded", "Bearer " + token, "channel=" + channel + "&text=t", ""},
		{"form bad token", "application/x-www-form-urlencoded", "", "token=xoxb-9-bad&channel=" + channel + "&text=t", "invalid_auth"},
		{"form no token", "application/x-www-form-urlencoded", "", "channel=" + channel + "&text=t", "not_authed"},
		{"json bearer", "application/json; charset=utf-8", "Bearer " + token, body, ""},
		{"json bad bearer", "application/json", "Bearer xoxb-9-bad", body, "invalid_auth"},
		{"json token in body is not read", "application/json", "", `{"token":"` + token + `","channel":"` + channel + `","text":"t"}`, "not_authed"},
		{"json malformed", "application/json", "Bearer " + token, `{"channel":`, "invalid_json"},
		{"json not object", "application/json", "Bearer " + token, `["x"]`, "json_not_object"},
		{"other content type", "text/csv", "Bearer " + token, "a,b", "invalid_post_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/chat.postMessage", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", tt.contentType)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			status, _, got := decode(t, resp)
			if status != http.StatusOK {
				t.Fatalf("status %d", status)
			}
			if tt.want == "" {
				if got["ok"] != true || got["ts"] == "" {
					t.Fatalf("answer %v, want ok", got)
				}
			} else if got["ok"] != false || got["error"] != tt.want {
				t.Fatalf("answer %v, want %q", got, tt.want)
			}
			calls := srv.Calls()
			c := calls[len(calls)-1]
			if wantAuth := tt.want == "" || tt.want == "invalid_json" || tt.want == "json_not_object" || tt.want == "invalid_post_type"; c.Authorized != wantAuth {
				t.Errorf("Authorized = %v, want %v", c.Authorized, wantAuth)
			}
		})
	}
	msgs := srv.Messages(channel)
	if len(msgs) != 3 || msgs[2].Blocks != `[{"type":"divider"}]` || msgs[2].Text != "json" {
		t.Fatalf("messages = %+v", msgs)
	}
}

func TestForget(t *testing.T) {
	srv, api := setup(t)
	_, parent, err := api.PostMessage(channel, slack.MsgOptionText("parent", false))
	if err != nil {
		t.Fatal(err)
	}
	_, reply, err := api.PostMessage(channel, slack.MsgOptionText("reply", false), slack.MsgOptionTS(parent))
	if err != nil {
		t.Fatal(err)
	}

	srv.Forget(channel, parent)
	if _, ok := srv.Message(channel, parent); ok {
		t.Fatal("forgotten message still there")
	}
	if msgs := srv.Messages(channel); len(msgs) != 1 || msgs[0].TS != reply {
		t.Fatalf("messages = %+v", msgs)
	}
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"reply to forgotten parent", func() error {
			_, _, err := api.PostMessage(channel, slack.MsgOptionText("late", false), slack.MsgOptionTS(parent))
			return err
		}, "thread_not_found"},
		{"reply via a reply of forgotten parent", func() error {
			_, _, err := api.PostMessage(channel, slack.MsgOptionText("late", false), slack.MsgOptionTS(reply))
			return err
		}, "thread_not_found"},
		{"update forgotten", func() error {
			_, _, _, err := api.UpdateMessage(channel, parent, slack.MsgOptionText("x", false))
			return err
		}, "message_not_found"},
	}
	for _, tt := range tests {
		if err := tt.call(); slackErr(err) != tt.want {
			t.Errorf("%s: error = %v, want %q", tt.name, err, tt.want)
		}
	}

	// Forgetting a reply lowers its parent's count.
	_, p2, _ := api.PostMessage(channel, slack.MsgOptionText("p2", false))
	_, r2, _ := api.PostMessage(channel, slack.MsgOptionText("r2", false), slack.MsgOptionTS(p2))
	srv.Forget(channel, r2)
	if m, _ := srv.Message(channel, p2); m.Replies != 0 {
		t.Errorf("replies after forgetting the reply = %d", m.Replies)
	}
}

func TestConcurrentPosts(t *testing.T) {
	srv, api := setup(t)
	clock := time.Unix(1700000000, 0)
	srv.SetNow(func() time.Time { return clock })

	const n = 40
	var wg sync.WaitGroup
	tss := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, tss[i], errs[i] = api.PostMessage(channel, slack.MsgOptionText(strconv.Itoa(i), false))
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, ts := range tss {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if seen[ts] {
			t.Fatalf("ts %q handed out twice", ts)
		}
		seen[ts] = true
		if !strings.HasPrefix(ts, "1700000000.") || len(ts) != len("1700000000.000000") {
			t.Errorf("ts %q", ts)
		}
	}
	msgs := srv.Messages(channel)
	if len(msgs) != n {
		t.Fatalf("%d messages", len(msgs))
	}
	for i := 1; i < n; i++ {
		if !(msgs[i-1].TS < msgs[i].TS) {
			t.Fatalf("ts not increasing: %q then %q", msgs[i-1].TS, msgs[i].TS)
		}
	}
	// Calls are in handling order, so their ts increase too.
	calls := srv.Calls()
	for i := 1; i < len(calls); i++ {
		if !(calls[i-1].TS < calls[i].TS) {
			t.Fatalf("call ts not increasing: %q then %q", calls[i-1].TS, calls[i].TS)
		}
	}
}

func TestTimestamps(t *testing.T) {
	srv, api := setup(t)
	now := time.Unix(1700000000, 999_000_000)
	srv.SetNow(func() time.Time { return now })
	post := func() string {
		t.Helper()
		_, ts, err := api.PostMessage(channel, slack.MsgOptionText("t", false))
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	if ts := post(); ts != "1700000000.000000" {
		t.Errorf("first ts = %q", ts)
	}
	if ts := post(); ts != "1700000000.000001" {
		t.Errorf("same second ts = %q", ts)
	}
	now = now.Add(time.Second)
	if ts := post(); ts != "1700000001.000000" {
		t.Errorf("next second ts = %q", ts)
	}
	now = now.Add(-time.Hour) // a clock going back still gives increasing ts
	if ts := post(); ts != "1700000001.000001" {
		t.Errorf("clock back ts = %q", ts)
	}
}

func TestUnknownMethod(t *testing.T) {
	srv, api := setup(t)
	_, _, err := api.DeleteMessage(channel, "1.000001")
	var sce slack.StatusCodeError
	if !errors.As(err, &sce) || sce.Code != http.StatusNotFound {
		t.Fatalf("error = %#v, want StatusCodeError 404", err)
	}
	status, _, body := postForm(t, srv, "chat.delete", url.Values{"token": {token}})
	if status != http.StatusNotFound || body["ok"] != false || body["error"] != "unknown_method" {
		t.Fatalf("answer %d %v", status, body)
	}
	if c := srv.Calls()[0]; c.Method != "chat.delete" || c.Error != "unknown_method" {
		t.Errorf("call = %+v", c)
	}
}
