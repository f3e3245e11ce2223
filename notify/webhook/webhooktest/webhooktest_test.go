package webhooktest_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/notify/webhook/webhooktest"
)

const secret = "whsec-0123456789abcdef"

// sample is a valid version 1 document, written by hand rather than by
// the notifier.
const sample = `{
  "version": "1", "source": "backlog-alert", "time": "2026-11-21T12:00:00Z", "language": "en",
  "headline": "1 escalated (1 critical)", "tone": "critical", "paging": true,
  "notifications": [{
    "kind": "escalated", "fingerprint": "0123456789abcdef", "since": "2026-11-21T11:00:00Z",
    "alert": {"rule": "orders", "region": "cn-hangzhou", "instance": "alikafka-1", "group": "billing",
      "topic": "billing-events", "partition": 3, "level": "partition", "condition": "stuck", "severity": "critical",
      "value": 2520, "threshold": 1800, "lag": 18000, "age_seconds": 2820, "age_known": true,
      "top": [{"topic": "billing-events", "partition": 3, "lag": 18000}],
      "trend": {"backlog": [17000, 18000], "rates_known": true, "consume_per_min": 0, "produce_per_min": 120.5, "rate_seconds": 300, "growth_per_min": 120.5},
      "since": "2026-11-21T11:18:00Z", "at_least": true, "annotations": {"owner": "payments"}},
    "summary": {"icon": "escalated", "title": "Escalated to CRITICAL", "subject": "billing / billing-events [p3]",
      "lines": ["Stuck CRITICAL (up from WARNING): ..."], "links": [{"text": "Runbook", "url": "https://wiki.example.com/rb"}]}
  }],
  "ongoing": [{
    "kind": "ongoing", "fingerprint": "fedcba9876543210",
    "alert": {"rule": "backlog-alert", "region": "", "instance": "rules.yaml", "group": "", "level": "group",
      "condition": "blind", "severity": "critical", "value": 0, "threshold": 0, "lag": 0, "age_seconds": 0, "age_known": false,
      "cause": {"kind": "rules", "error": "line 3: unknown key"}},
    "summary": {"icon": "critical", "title": "CRITICAL", "subject": "backlog-alert cannot see rules.yaml", "lines": [], "links": []}
  }],
  "omitted": {"trend_backlog": true, "notifications": 2, "ongoing": 0, "text": "…and 2 more"},
  "future_field": {"receivers": "ignore it"}
}`

// edit returns sample changed by change, applied to its decoded form.
func edit(t *testing.T, change func(doc map[string]any)) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(sample), &doc); err != nil {
		t.Fatal(err)
	}
	change(doc)
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func note(doc map[string]any, list string) map[string]any {
	return doc[list].([]any)[0].(map[string]any)
}

func alertOf(doc map[string]any) map[string]any {
	return note(doc, "notifications")["alert"].(map[string]any)
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(map[string]any)
		want   string // "" when valid
	}{
		{"sample", func(map[string]any) {}, ""},
		{"nothing omitted", func(d map[string]any) { delete(d, "omitted") }, ""},
		{"history left out", func(d map[string]any) { alertOf(d)["trend"].(map[string]any)["backlog"] = nil }, ""},
		{"version 2", func(d map[string]any) { d["version"] = "2" }, `version: "2", want "1"`},
		{"version as a number", func(d map[string]any) { d["version"] = 1 }, `version: 1, want "1"`},
		{"no headline", func(d map[string]any) { delete(d, "headline") }, "headline: missing"},
		{"bad time", func(d map[string]any) { d["time"] = "yesterday" }, `time: "yesterday", want an RFC 3339 time`},
		{"bad tone", func(d map[string]any) { d["tone"] = "red" }, `tone: "red", want one of`},
		{"no notifications", func(d map[string]any) { d["notifications"] = []any{} }, "notifications: empty"},
		{"ongoing null", func(d map[string]any) { d["ongoing"] = nil }, "ongoing: missing"},
		{"kind missing", func(d map[string]any) { note(d, "notifications")["kind"] = "missing" }, `notifications[0].kind: "missing", want one of`},
		{"kind blind", func(d map[string]any) { note(d, "notifications")["kind"] = "blind" }, `notifications[0].kind: "blind"`},
		{"ongoing in notifications", func(d map[string]any) { note(d, "notifications")["kind"] = "ongoing" }, `notifications[0].kind: "ongoing"`},
		{"firing in ongoing", func(d map[string]any) { note(d, "ongoing")["kind"] = "firing" }, `ongoing[0].kind: "firing", want one of ["ongoing"]`},
		{"short fingerprint", func(d map[string]any) { note(d, "notifications")["fingerprint"] = "abc" }, "notifications[0].fingerprint: \"abc\", want 16 lower-case hex digits"},
		{"fingerprint twice", func(d map[string]any) { note(d, "ongoing")["fingerprint"] = "0123456789abcdef" }, "ongoing[0].fingerprint: 0123456789abcdef again, already at notifications[0]"},
		{"no alert", func(d map[string]any) { delete(note(d, "notifications"), "alert") }, "notifications[0].alert: missing"},
		{"no rule", func(d map[string]any) { delete(alertOf(d), "rule") }, "notifications[0].alert.rule: missing"},
		{"empty group", func(d map[string]any) { alertOf(d)["group"] = "" }, "notifications[0].alert.group: empty"},
		{"bad severity", func(d map[string]any) { alertOf(d)["severity"] = "info" }, `alert.severity: "info"`},
		{"bad condition", func(d map[string]any) { alertOf(d)["condition"] = "slow" }, `alert.condition: "slow"`},
		{"fractional lag", func(d map[string]any) { alertOf(d)["lag"] = 1.5 }, "alert.lag: 1.5, want a whole number"},
		{"lag as text", func(d map[string]any) { alertOf(d)["lag"] = "1" }, `alert.lag: "1", want a whole number`},
		{"partition level without partition", func(d map[string]any) { delete(alertOf(d), "partition") }, "alert.partition: missing"},
		{"topic level without topic", func(d map[string]any) { a := alertOf(d); a["level"] = "topic"; delete(a, "topic") }, "alert.topic: missing"},
		{"trend without backlog", func(d map[string]any) { delete(alertOf(d)["trend"].(map[string]any), "backlog") }, "alert.trend.backlog: missing"},
		{"bad cause", func(d map[string]any) {
			note(d, "ongoing")["alert"].(map[string]any)["cause"] = map[string]any{"kind": "bad"}
		}, `ongoing[0].alert.cause.kind: "bad"`},
		{"annotation not text", func(d map[string]any) { alertOf(d)["annotations"] = map[string]any{"n": 1} }, "alert.annotations.n: 1, want a string"},
		{"bad icon", func(d map[string]any) { note(d, "notifications")["summary"].(map[string]any)["icon"] = ":fire:" }, `summary.icon: ":fire:"`},
		{"lines null", func(d map[string]any) { note(d, "notifications")["summary"].(map[string]any)["lines"] = nil }, "summary.lines: missing"},
		{"link without url", func(d map[string]any) {
			note(d, "notifications")["summary"].(map[string]any)["links"] = []any{map[string]any{"text": "x"}}
		}, "summary.links[0].url: missing"},
		{"omitted without text", func(d map[string]any) { delete(d["omitted"].(map[string]any), "text") }, "omitted.text: missing"},
		{"omitted negative", func(d map[string]any) { d["omitted"].(map[string]any)["ongoing"] = -1 }, "omitted.ongoing: -1, want 0 or more"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := webhooktest.Validate(edit(t, tc.change))
			if tc.want == "" {
				if err != nil {
					t.Errorf("Validate = %v, want valid", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
	for _, bad := range []string{"", "[]", "{", sample + "{}"} {
		if webhooktest.Validate([]byte(bad)) == nil {
			t.Errorf("Validate(%q) = nil", bad)
		}
	}
}

// The schema knows every icon the integrations draw.
func TestEveryIconIsValid(t *testing.T) {
	for _, icon := range notify.Icons {
		body := edit(t, func(d map[string]any) { note(d, "notifications")["summary"].(map[string]any)["icon"] = string(icon) })
		if err := webhooktest.Validate(body); err != nil {
			t.Errorf("%s: %v", icon, err)
		}
	}
}

// sign returns headers signing body at ts.
func sign(secret string, ts int64, body []byte) http.Header {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts, 10) + "."))
	mac.Write(body)
	h := http.Header{}
	h.Set("X-Backlog-Alert-Timestamp", strconv.FormatInt(ts, 10))
	h.Set("X-Backlog-Alert-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	return h
}

func TestVerify(t *testing.T) {
	now := time.Unix(1795262400, 0)
	body := []byte(sample)
	good := sign(secret, now.Unix(), body)
	with := func(k, v string) http.Header {
		h := good.Clone()
		h.Set(k, v)
		return h
	}
	for _, tc := range []struct {
		name   string
		header http.Header
		now    time.Time
		maxAge time.Duration
		want   error
	}{
		{"good", good, now, time.Minute, nil},
		{"upper-case hex", with("X-Backlog-Alert-Signature", "sha256="+strings.ToUpper(strings.TrimPrefix(good.Get("X-Backlog-Alert-Signature"), "sha256="))), now, time.Minute, nil},
		{"within the default age", good, now.Add(299 * time.Second), 0, nil},
		{"past the default age", good, now.Add(301 * time.Second), 0, webhooktest.ErrStale},
		{"past maxAge", good, now.Add(61 * time.Second), time.Minute, webhooktest.ErrStale},
		{"ahead by more than maxAge", good, now.Add(-61 * time.Second), time.Minute, webhooktest.ErrStale},
		{"no signature", with("X-Backlog-Alert-Signature", ""), now, 0, webhooktest.ErrUnsigned},
		{"no timestamp", with("X-Backlog-Alert-Timestamp", ""), now, 0, webhooktest.ErrUnsigned},
		{"milliseconds", with("X-Backlog-Alert-Timestamp", strconv.FormatInt(now.UnixMilli(), 10)), now, 0, webhooktest.ErrStale},
		{"timestamp not a number", with("X-Backlog-Alert-Timestamp", "now"), now, 0, webhooktest.ErrBadTimestamp},
		{"no prefix", with("X-Backlog-Alert-Signature", strings.TrimPrefix(good.Get("X-Backlog-Alert-Signature"), "sha256=")), now, 0, webhooktest.ErrBadSignature},
		{"not hex", with("X-Backlog-Alert-Signature", "sha256=zz"), now, 0, webhooktest.ErrBadSignature},
		{"other secret", sign("whsec-other-0000000", now.Unix(), body), now, 0, webhooktest.ErrBadSignature},
		{"timestamp moved", with("X-Backlog-Alert-Timestamp", strconv.FormatInt(now.Unix()-1, 10)), now, 0, webhooktest.ErrBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := webhooktest.Verify(secret, tc.header, body, tc.now, tc.maxAge)
			if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Errorf("Verify = %v, want %v", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("error shows the secret: %v", err)
			}
		})
	}
}

// post sends body to srv with the headers given.
func post(t *testing.T, srv *webhooktest.Server, method string, body []byte, h http.Header) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+"/hook", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)), resp.Header
}

func TestServer(t *testing.T) {
	srv := webhooktest.NewServer(secret)
	defer srv.Close()
	srv.RequireHeader("x-api-key", "key-1")
	now := time.Now()
	body := []byte(sample)
	signed := func(body []byte, at time.Time, extra ...string) http.Header {
		h := sign(secret, at.Unix(), body)
		h.Set("Content-Type", "application/json")
		h.Set("X-Api-Key", "key-1")
		for i := 0; i+1 < len(extra); i += 2 {
			h.Set(extra[i], extra[i+1])
		}
		return h
	}
	big := bytes.Repeat([]byte(" "), webhooktest.MaxBody+1)
	for _, tc := range []struct {
		name   string
		method string
		body   []byte
		header http.Header
		status int
		reply  string // prefix
	}{
		{"GET", http.MethodGet, nil, nil, 405, "method GET not allowed"},
		{"unsigned", http.MethodPost, body, http.Header{"Content-Type": {"application/json"}}, 401, "invalid signature: not signed"},
		{"stale", http.MethodPost, body, signed(body, now.Add(-10*time.Minute)), 401, "invalid signature: timestamp too far from now"},
		{"altered", http.MethodPost, append(body, ' '), signed(body, now), 401, "invalid signature: signature does not match"},
		{"no api key", http.MethodPost, body, signed(body, now, "X-Api-Key", "key-2"), 401, "missing or wrong X-Api-Key"},
		{"over 1 MiB", http.MethodPost, big, signed(big, now), 413, "document over 1 MiB"},
		{"not JSON", http.MethodPost, body, signed(body, now, "Content-Type", "text/plain"), 415, "Content-Type must be application/json"},
		{"invalid", http.MethodPost, []byte(`{"version":"2"}`), signed([]byte(`{"version":"2"}`), now), 400, `invalid document: version: "2", want "1"`},
		{"good", http.MethodPost, body, signed(body, now, "Content-Type", "application/json; charset=utf-8"), 200, `{"ok":true}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, reply, _ := post(t, srv, tc.method, tc.body, tc.header)
			if status != tc.status || !strings.HasPrefix(reply, tc.reply) {
				t.Errorf("%d %q, want %d %q…", status, reply, tc.status, tc.reply)
			}
		})
	}
	got := srv.Received()
	if len(got) != 1 || !bytes.Equal(got[0].Body, body) || got[0].Path != "/hook" || got[0].Header.Get("X-Api-Key") != "key-1" {
		t.Errorf("received %+v", got)
	}
	if srv.Attempts() != 9 || len(srv.Rejected()) != 8 {
		t.Errorf("%d attempts, rejected %q", srv.Attempts(), srv.Rejected())
	}

	// Injected failures come after the checks, for Times requests.
	srv.Fail(webhooktest.Failure{Status: 307, Location: "http://127.0.0.1:1/elsewhere", RetryAfter: "3", Body: "moved", Times: 2})
	if status, _, _ := post(t, srv, http.MethodPost, body, http.Header{"Content-Type": {"application/json"}}); status != 401 {
		t.Errorf("unsigned request with a failure injected: %d, want 401", status)
	}
	for range 2 {
		status, reply, h := post(t, srv, http.MethodPost, body, signed(body, now))
		if status != 307 || reply != "moved" || h.Get("Location") != "http://127.0.0.1:1/elsewhere" || h.Get("Retry-After") != "3" {
			t.Errorf("%d %q %v", status, reply, h)
		}
	}
	if status, _, _ := post(t, srv, http.MethodPost, body, signed(body, now)); status != 200 {
		t.Errorf("after Times failures: %d, want 200", status)
	}
	srv.Fail(webhooktest.Failure{Body: "down"})
	for range 2 {
		if status, reply, _ := post(t, srv, http.MethodPost, body, signed(body, now)); status != 500 || reply != "down" {
			t.Errorf("%d %q, want 500 down until Fail(Failure{})", status, reply)
		}
	}
	srv.Fail(webhooktest.Failure{})
	if status, _, _ := post(t, srv, http.MethodPost, body, signed(body, now)); status != 200 || len(srv.Received()) != 3 {
		t.Errorf("%d, %d received", status, len(srv.Received()))
	}

	// Its clock and tolerance can be moved.
	srv.SetNow(func() time.Time { return now.Add(time.Hour) })
	if status, _, _ := post(t, srv, http.MethodPost, body, signed(body, now)); status != 401 {
		t.Errorf("an hour later: %d, want 401", status)
	}
	srv.SetMaxAge(2 * time.Hour)
	if status, _, _ := post(t, srv, http.MethodPost, body, signed(body, now)); status != 200 {
		t.Errorf("within a two-hour tolerance: %d, want 200", status)
	}
}

func TestUnsignedServer(t *testing.T) {
	srv := webhooktest.NewServer("")
	defer srv.Close()
	if status, reply, _ := post(t, srv, http.MethodPost, []byte(sample), http.Header{"Content-Type": {"application/json"}}); status != 200 {
		t.Errorf("%d %q", status, reply)
	}
}
