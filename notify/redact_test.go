package notify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://hooks.slack.com/services/T0001/B0001/XXXXyyyyZZZZ", "https://hooks.slack.com/services/***"},
		{"https://oapi.dingtalk.com/robot/send?access_token=abc123", "https://oapi.dingtalk.com/robot/send?access_token=***"},
		{"https://oapi.dingtalk.com/robot/send?access_token=abc&timestamp=1700000000000&sign=a%2Bb%3D",
			"https://oapi.dingtalk.com/robot/send?access_token=***&timestamp=***&sign=***"},
		{"http://127.0.0.1:8080/slack/services/T000/B000/ops", "http://127.0.0.1:8080/slack/services/***"},
		{"https://user:pass@example.com/hook#frag", "https://example.com/hook"},
		{"https://example.com/x/verylongsecretlowercasetoken", "https://example.com/x/***"},
		{"https://example.com/?justatoken", "https://example.com/?***"},
		{"https://example.com", "https://example.com"},
		// Feishu/Lark bots keep their token in the path, WeCom robots their key in the query.
		{"https://open.feishu.cn/open-apis/bot/v2/hook/0f7a1c2e-3b4d-4e5f", "https://open.feishu.cn/open-apis/bot/***"},
		{"https://open.larksuite.com/open-apis/bot/v2/hook/abc", "https://open.larksuite.com/open-apis/bot/***"},
		{"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***"},
		{"not a url", "***"},
		{"hooks.slack.com/services/T/B/X", "***"},
	} {
		if got := RedactURL(tc.in); got != tc.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRedactError(t *testing.T) {
	if RedactError(nil) != nil {
		t.Fatal("RedactError(nil) != nil")
	}
	plain := errors.New("nothing secret")
	if RedactError(plain, "secret-value") != plain {
		t.Error("an error without secrets should come back as is")
	}

	// A real transport error: it quotes the whole URL.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	hook := "http://" + addr + "/robot/send?access_token=tok-SECRET-1&sign=s%2Bg"
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, hook, nil)
	_, err = (&http.Client{Timeout: 2 * time.Second}).Do(req)
	if err == nil {
		t.Fatal("expected a transport error")
	}
	wrapped := fmt.Errorf("posting: %w", err)
	red := RedactError(wrapped, "SEC-signing-secret")
	msg := red.Error()
	for _, bad := range []string{"tok-SECRET-1", "s%2Bg"} {
		if strings.Contains(msg, bad) {
			t.Errorf("redacted error %q contains %q", msg, bad)
		}
	}
	if !strings.Contains(msg, addr) || !strings.Contains(msg, "access_token=***") {
		t.Errorf("redacted error lost the host or key: %q", msg)
	}
	if _, ok := errors.AsType[*url.Error](red); !ok {
		t.Error("errors.As no longer finds *url.Error")
	}

	// Explicit secrets, also URL-escaped, anywhere in the text.
	red = RedactError(errors.New("bad sign a+b/c= (a%2Bb%2Fc%3D) for SECxyz"), "a+b/c=", "SECxyz", "ab")
	if got := red.Error(); got != "bad sign *** (***) for ***" {
		t.Errorf("got %q", got)
	}
}

func TestRedactSlackTokens(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		secrets  []string
		want     string
	}{
		{"bot token", "slack: invalid_auth for xoxb-1234567890-0987654321-AbCdEfGh", nil, "slack: invalid_auth for xoxb-***"},
		{"user token", "Authorization: Bearer xoxp-1-2-3-abcdef\n", nil, "Authorization: Bearer xoxp-***\n"},
		{"every kind", "xoxa-2-a xoxo-b xoxs-c xoxr-d xoxb-e xoxp-f", nil, "xoxa-*** xoxo-*** xoxs-*** xoxr-*** xoxb-*** xoxp-***"},
		{"quoted and punctuated", `token "xoxb-12-ab", then (xoxp-9).`, nil, `token "xoxb-***", then (xoxp-***).`},
		{"in a URL path a word would keep", `Post "https://slack.example/api/xoxb-abc": EOF`, nil, `Post "https://slack.example/api/xoxb-***": EOF`},
		{"in a URL query", "Post https://slack.com/api/chat.postMessage?token=xoxb-1-2 failed", nil, "Post https://slack.com/api/***?token=*** failed"},
		{"a known secret containing a token goes whole", "t=abc-xoxb-1-2", []string{"abc-xoxb-1-2"}, "t=***"},
		{"a known token", "bad xoxb-1-2-zz", []string{"xoxb-1-2-zz"}, "bad ***"},
		{"the prefix alone", "use the app's bot token, xoxb-…", nil, "use the app's bot token, xoxb-…"},
		{"not a Slack kind", "xoxz-abc and xapp", nil, "xoxz-abc and xapp"},
		{"nothing", "slack: HTTP 404 channel_not_found", nil, "slack: HTTP 404 channel_not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := RedactText(tc.in, tc.secrets...); got != tc.want {
				t.Errorf("RedactText(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}

	base := &HTTPError{Service: "slack", Err: errors.New("token xoxb-111-222-SeCrEt rejected")}
	red := RedactError(fmt.Errorf("posting: %w", base))
	if got, want := red.Error(), "posting: slack: request failed: token xoxb-*** rejected"; got != want {
		t.Errorf("RedactError = %q, want %q", got, want)
	}
	if he, ok := errors.AsType[*HTTPError](red); !ok || he != base {
		t.Error("errors.As no longer finds the *HTTPError")
	}
}

func TestHTTPError(t *testing.T) {
	for _, tc := range []struct {
		name  string
		err   error
		text  string
		retry bool
	}{
		{"slack 404", &HTTPError{Service: "slack", StatusCode: 404, Code: "no_service"}, "slack: HTTP 404 no_service", false},
		{"no body", &HTTPError{Service: "slack", StatusCode: 502, Retry: true}, "slack: HTTP 502 Bad Gateway", true},
		{"rate limited", &HTTPError{Service: "slack", StatusCode: 429, Code: "rate_limited", RetryAfter: time.Second, Retry: true},
			"slack: HTTP 429 rate_limited (retry after 1s)", true},
		{"dingtalk", &HTTPError{Service: "dingtalk", StatusCode: 200, Code: "errcode 310000", Message: "sign not match", Hint: "check"},
			"dingtalk: errcode 310000: sign not match (check)", false},
		{"transport", fmt.Errorf("run: %w", &HTTPError{Service: "slack", Err: errors.New("dial tcp: refused"), Retry: true}),
			"run: slack: request failed: dial tcp: refused", true},
		{"foreign retryable", fmt.Errorf("x: %w", retryableErr{}), "x: r", true},
		{"plain", errors.New("p"), "p", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.text {
				t.Errorf("Error() = %q, want %q", got, tc.text)
			}
			if got := Retryable(tc.err); got != tc.retry {
				t.Errorf("Retryable = %v, want %v", got, tc.retry)
			}
		})
	}
	for code, want := range map[int]bool{400: false, 403: false, 404: false, 429: true, 500: true, 503: true} {
		if RetryableStatus(code) != want {
			t.Errorf("RetryableStatus(%d) != %v", code, want)
		}
	}
}

type retryableErr struct{}

func (retryableErr) Error() string   { return "r" }
func (retryableErr) Retryable() bool { return true }
