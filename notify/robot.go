package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Robot is the one protocol of the chat robots we post to (DingTalk, WeCom,
// Feishu): a JSON POST answered with a code in the body, 0 for accepted.
// Each integration says how to read its reply and what its codes mean;
// the request, the status, Retry-After and redaction are done here, once.
type Robot struct {
	Service string // "dingtalk", "wecom", "feishu"
	Client  *http.Client
	// CodeName names the code in errors: "errcode 310000", "code 19021".
	CodeName string
	// Reply reads the verdict from a reply body; ok is false when the body
	// is not a reply of this robot.
	Reply func(raw []byte) (code int, msg string, ok bool)
	// Classify explains a code: what to check, whether a later attempt may
	// succeed, and how long the robot wants us to wait.
	Classify func(code int) (hint string, retry bool, after time.Duration)
}

// maxReply bounds how much of a reply is read: robots answer a few words.
const maxReply = 64 << 10

// Post makes one attempt. Its error is a *HTTPError with every secret (the
// URL, its token or key, the signing secret, a signature) redacted.
func (r Robot) Post(ctx context.Context, url string, body []byte, secrets ...string) error {
	fail := func(he *HTTPError) error {
		he.Service = r.Service
		he.Message = RedactText(he.Message, secrets...)
		he.Code = RedactText(he.Code, secrets...)
		he.Err = RedactError(he.Err, secrets...)
		return he
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fail(&HTTPError{Err: err})
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := r.Client.Do(req)
	if err != nil {
		// Our own caller giving up is not a reason to try again.
		return fail(&HTTPError{Err: err, Retry: ctx.Err() == nil})
	}
	defer resp.Body.Close()
	raw, readErr := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	code, msg, coded := r.Reply(raw)
	he := &HTTPError{StatusCode: resp.StatusCode}
	switch {
	case resp.StatusCode != http.StatusOK:
		he.Code, he.Retry = Excerpt(raw, 200), RetryableStatus(resp.StatusCode)
		if d, ok := ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			he.RetryAfter = d
		}
		if !coded || code == 0 {
			return fail(he)
		}
	case readErr != nil:
		return fail(&HTTPError{Err: readErr, Retry: ctx.Err() == nil})
	case !coded:
		// The robots answer 200 whatever happened: without a verdict in
		// the body, nothing says it was accepted.
		he.Code, he.Message = "unexpected reply", Excerpt(raw, 200)
		return fail(he)
	case code == 0:
		return nil
	}
	he.Code, he.Message = r.CodeName+" "+strconv.Itoa(code), msg
	hint, retry, after := r.Classify(code)
	he.Hint, he.Retry, he.RetryAfter = hint, he.Retry || retry, max(he.RetryAfter, after)
	return fail(he)
}

// EncodeJSON marshals without HTML escaping, which would turn "<" into six
// bytes and make size checks pessimistic for no reason.
func EncodeJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // our payloads are strings, numbers, slices and maps
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// Emoji draws the icons as Unicode emoji, which the robots' markdown and
// cards show as they are.
var Emoji = map[Icon]string{
	IconCritical:   "🔴",
	IconWarning:    "🟠",
	IconOther:      "⚪",
	IconEscalated:  "⏫",
	IconDowngraded: "⏬",
	IconReminder:   "🔁",
	IconResolved:   "✅",
	IconGone:       "👻",
	IconAlarm:      "🚨",
	IconCaution:    "⚠️",
}

// ErrcodeReply reads the verdict DingTalk's and WeCom's robots answer with:
// {"errcode":0,"errmsg":"ok"}.
func ErrcodeReply(raw []byte) (code int, msg string, ok bool) {
	var r struct {
		Errcode *int   `json:"errcode"`
		Errmsg  string `json:"errmsg"`
	}
	if json.Unmarshal(raw, &r) != nil || r.Errcode == nil {
		return 0, "", false
	}
	return *r.Errcode, r.Errmsg, true
}
