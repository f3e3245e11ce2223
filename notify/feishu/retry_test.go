package feishu_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/notify/feishu"
	"github.com/backlog-alert/backlog-alert/notify/feishu/feishutest"
	"github.com/backlog-alert/backlog-alert/rules"
)

func TestRetry(t *testing.T) {
	m := notify.Message{Items: firing(alert("g", rules.Critical, 20000)), Time: time.Now()}
	for _, tc := range []struct {
		name     string
		fail     feishutest.Failure
		secret   string // the Notifier's; the bot wants secret
		keyword  string // the bot's custom keyword, if any
		hook     string // the URL to post to, when not the bot's
		attempts int
		err      string // "" for success; else a substring
		retry    bool
		sent     bool // on success: whether the fake kept the message (not when a failure stands in for the reply)
	}{
		{name: "frequency limited then ok", fail: feishutest.Failure{Code: 11232, Times: 1}, attempts: 2, sent: true},
		{name: "frequency limited twice then ok", fail: feishutest.Failure{Code: 11232, Times: 2}, attempts: 3, sent: true},
		{name: "502 then ok", fail: feishutest.Failure{Status: 502, Body: "<html>bad gateway</html>", Times: 1}, attempts: 2, sent: true},
		{name: "429 then ok", fail: feishutest.Failure{Status: 429, Times: 1}, attempts: 2, sent: true},
		{name: "frequency limited forever", fail: feishutest.Failure{Code: 11232}, attempts: 4, retry: true,
			err: "feishu: code 11232: frequency limited psm[lark.oapi.app_platform_runtime]appID[1500] (frequency limit: at most 5 messages a second and 100 a minute per bot, less on the hour and half hour); gave up after 4 attempts"},
		{name: "503 forever", fail: feishutest.Failure{Status: 503, Body: "unavailable"}, attempts: 4, retry: true,
			err: "feishu: HTTP 503 unavailable; gave up after 4 attempts"},
		{name: "sign mismatch", secret: "SECwrongwrongwrong", attempts: 1,
			err: "feishu: code 19021: sign match fail or timestamp is not within one hour from current time (signature check failed: check the bot's signing secret, and this host's clock"},
		{name: "keyword missing", keyword: "deploy", attempts: 1,
			err: "feishu: code 19024: Key Words Not Found (the message lacks the bot's custom keyword"},
		{name: "IP not allowed", fail: feishutest.Failure{Code: 19022}, attempts: 1,
			err: "feishu: code 19022: Ip Not Allowed (this host's IP address is not on the bot's IP allow-list)"},
		{name: "bad request over HTTP 400", fail: feishutest.Failure{Code: 9499, Status: 400}, attempts: 1,
			err: "feishu: HTTP 400 code 9499: Bad Request (Feishu rejected the body: malformed card or over 20 KB)"},
		{name: "too large", fail: feishutest.Failure{Code: 19036}, attempts: 1,
			err: "feishu: code 19036: The message exceeds the size limit of 30KB (message over Feishu's size limit)"},
		{name: "no msg_type", fail: feishutest.Failure{Code: 19002}, attempts: 1,
			err: "code 19002: incorrect input format or can't find msg_type (the body is malformed or has no msg_type)"},
		{name: "unknown code", fail: feishutest.Failure{Code: 99991, Msg: "new"}, attempts: 1, err: "feishu: code 99991: new"},
		{name: "400 without a code", fail: feishutest.Failure{Status: 400, Body: "bad request"}, attempts: 1, err: "feishu: HTTP 400 bad request"},
		{name: "not json", fail: feishutest.Failure{Status: 200, Body: "<html>proxy login</html>"}, attempts: 1,
			err: "feishu: unexpected reply: <html>proxy login</html>"},
		{name: "legacy failure reply", fail: feishutest.Failure{Status: 200, Body: `{"StatusCode":9499,"StatusMessage":"Bad Request"}`}, attempts: 1,
			err: "feishu: code 9499: Bad Request (Feishu rejected the body"},
		{name: "legacy success reply", fail: feishutest.Failure{Status: 200, Body: `{"Extra":null,"StatusCode":0,"StatusMessage":"success"}`}, attempts: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sink := feishutest.NewServer()
			defer sink.Close()
			hook := sink.Hook("ops", token)
			sink.RequireSecret("ops", secret)
			if tc.keyword != "" {
				sink.RequireKeyword("ops", tc.keyword)
			}
			if tc.fail != (feishutest.Failure{}) {
				sink.Fail("ops", tc.fail)
			}
			sec := secret
			if tc.secret != "" {
				sec = tc.secret
			}
			_, err := feishu.New(hook, sec, nil, nil, notify.WithRetry(fast), notify.WithLimiter(notify.NewLimiter())).Notify(context.Background(), m)
			if got := sink.Attempts("ops"); got != tc.attempts {
				t.Errorf("fake saw %d attempts, want %d", got, tc.attempts)
			}
			if tc.err == "" {
				if err != nil || (len(sink.Received()) == 1) != tc.sent {
					t.Fatalf("err = %v, received %d; want delivered", err, len(sink.Received()))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v\nwant %q", err, tc.err)
			}
			if tc.attempts == 1 && strings.Contains(err.Error(), "attempt") {
				t.Errorf("a permanent error on the first attempt should read as itself: %v", err)
			}
			if notify.Attempts(err) != tc.attempts || notify.Retryable(err) != tc.retry {
				t.Errorf("Attempts = %d, Retryable = %v; want %d, %v", notify.Attempts(err), notify.Retryable(err), tc.attempts, tc.retry)
			}
			if _, ok := errors.AsType[*notify.HTTPError](err); !ok {
				t.Errorf("no *notify.HTTPError in %v", err)
			}
			assertClean(t, err, tc.secret)
		})
	}
}

// A Retry-After on a 429 is honoured, and held for the bot's other
// messages: longer than a retry may wait, the message gives up at once.
func TestRetryAfter(t *testing.T) {
	sink := feishutest.NewServer()
	defer sink.Close()
	hook := sink.Hook("ops", token)
	sink.Fail("ops", feishutest.Failure{Status: 429, Body: "too many requests", RetryAfter: 120})
	lim := notify.NewLimiter()
	m := notify.Message{Items: firing(alert("g", rules.Critical, 20000))}
	_, err := feishu.New(hook, "", nil, nil, notify.WithRetry(fast), notify.WithLimiter(lim)).Notify(context.Background(), m)
	if err == nil || !strings.HasSuffix(err.Error(), "; gave up after 1 attempt: the service asked to wait 2m0s, longer than the 1m0s a retry may wait") ||
		!notify.Retryable(err) {
		t.Fatalf("err = %v", err)
	}
	sink.Fail("ops", feishutest.Failure{})
	_, err = feishu.New(hook, "", nil, nil, notify.WithRetry(fast), notify.WithLimiter(lim)).Notify(context.Background(), m)
	if err == nil || !strings.HasPrefix(err.Error(), "feishu: not sent: the webhook asked for a pause (HTTP 429) that ends in ") || sink.Attempts("ops") != 1 {
		t.Errorf("err = %v (%d attempts)", err, sink.Attempts("ops"))
	}
	assertClean(t, err)
}
