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
