package alikafka

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
)

// CodeGroupNotFound is the service's code for a consumer group that does not
// exist.
const CodeGroupNotFound = "BIZ_SUBSCRIPTION_NOT_FOUND"

// APIError is an error reported by the service, either as an HTTP error
// (HTTPStatus 4xx/5xx) or as an HTTP 200 reply with "Success": false or a Code
// other than 200. All fields are already redacted.
type APIError struct {
	HTTPStatus int
	// Code is the service's error code, such as "Throttling.User" or
	// "BIZ_SUBSCRIPTION_NOT_FOUND"; a numeric body code arrives as text ("400").
	Code      string
	Message   string
	RequestID string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("alikafka: %s (HTTP %d): %s", e.Code, e.HTTPStatus, e.Message)
	if e.Code == "" { // a reply that was not the service's JSON, e.g. a proxy's page
		s = fmt.Sprintf("alikafka: HTTP %d: %s", e.HTTPStatus, e.Message)
	}
	if e.RequestID != "" {
		s += " (RequestId " + e.RequestID + ")"
	}
	return Redact(s)
}

// IsGroupNotFound tells whether err says the consumer group does not exist.
func IsGroupNotFound(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.Code == CodeGroupNotFound
}

// Class says what a failed call's error means for retrying it.
type Class int

const (
	// Permanent errors are answers: retrying would get the same one (the
	// group does not exist, the credentials are wrong, the request is
	// invalid, the reply cannot be read). Unknown errors are permanent too.
	Permanent Class = iota
	// Transient errors may well not happen again: HTTP 5xx, timeouts and
	// other transport errors, ONS_SYSTEM_ERROR, ServiceUnavailable,
	// InternalError. They are retried with backoff, up to Config.Retries.
	Transient
	// Throttled means the service refused the call for its rate: Throttling,
	// Throttling.* (Throttling.User, Throttling.Api, ...),
	// ONS_SYSTEM_FLOW_CONTROL, or HTTP 429. Fetch slows the whole run down and
	// retries the call without spending its Retries.
	Throttled
)

func (c Class) String() string {
	switch c {
	case Transient:
		return "transient"
	case Throttled:
		return "throttled"
	}
	return "permanent"
}

// Classify tells how err, as returned by a Client, should be handled. It is
// the one place where error codes and statuses are interpreted for retrying;
// nil and errors of unknown types are Permanent.
func Classify(err error) Class {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.class()
	}
	var te *transportError
	if errors.As(err, &te) && !te.permanent {
		return Transient
	}
	return Permanent
}

func (e *APIError) class() Class {
	code := e.Code
	is := func(name string) bool { return code == name || strings.HasPrefix(code, name+".") }
	switch {
	case e.HTTPStatus == 429 || is("Throttling") || code == "ONS_SYSTEM_FLOW_CONTROL":
		return Throttled
	case e.HTTPStatus >= 500 || e.HTTPStatus == 408,
		code == "ONS_SYSTEM_ERROR", is("ServiceUnavailable"), is("InternalError"),
		// The SDK signs every attempt with a fresh nonce: a reused one (a
		// proxy repeating a request) is not repeated by a retry.
		code == "SignatureNonceUsed":
		return Transient
	}
	// A business reply may carry an HTTP-like number as its Code.
	if n, err := strconv.Atoi(code); err == nil && n >= 500 && n < 600 {
		return Transient
	}
	return Permanent
}

// transportError is any failure that is not the service's answer: network
// errors, timeouts, unreadable replies. Its text is redacted because the SDK's
// errors quote the whole signed URL.
type transportError struct {
	msg     string
	cause   error // never the *url.Error itself: its URL carries the credentials
	timeout bool
	// permanent marks failures a retry would repeat: a reply that cannot be
	// decoded or is too large, an SDK panic.
	permanent bool
}

func (e *transportError) Error() string { return e.msg }
func (e *transportError) Unwrap() error { return e.cause }

// Timeout reports a client-side timeout, the way net.Error does.
func (e *transportError) Timeout() bool { return e.timeout }

// maxMessage caps error messages: a proxy's HTML error page would otherwise
// end up whole in an alert.
const maxMessage = 512

// classify turns any error from an SDK call into *APIError or a redacted
// *transportError. It is the one place SDK errors are interpreted, so retry and
// rate-limit logic can rely on these two types alone.
func (c *Client) classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, errReplyTooLarge) {
		return &transportError{msg: fmt.Sprintf("alikafka: the reply is larger than %d MiB; not read", MaxReplyBytes>>20), cause: errReplyTooLarge, permanent: true}
	}
	var se *sdkerrors.ServerError
	if errors.As(err, &se) {
		return &APIError{
			HTTPStatus: se.HttpStatus(),
			Code:       c.redact(se.ErrorCode()),
			Message:    c.redact(truncate(se.Message())),
			RequestID:  c.redact(se.RequestId()),
		}
	}
	te := &transportError{msg: "alikafka: " + c.redact(truncate(err.Error()))}
	var ue *url.Error
	if errors.As(err, &ue) {
		te.cause, te.timeout = ue.Err, ue.Timeout()
		// Name the endpoint, not the signed URL: shorter, and nothing to redact.
		te.msg = fmt.Sprintf("alikafka: %s %s: %s", ue.Op, endpointOf(ue.URL), c.redact(truncate(ue.Err.Error())))
	} else if ce, ok := err.(*sdkerrors.ClientError); ok {
		// With AutoRetry the SDK wraps transport errors in a ClientError,
		// which has no Unwrap.
		if errors.As(ce.OriginError(), &ue) {
			te.cause, te.timeout = ue.Err, ue.Timeout()
		}
		te.timeout = te.timeout || ce.ErrorCode() == sdkerrors.TimeoutErrorCode
	}
	return te
}

// redact applies Redact and, as a second line of defence, removes this
// client's own key ID, secret and token wherever they appear (also
// URL-encoded, once or twice), whatever text surrounds them.
func (c *Client) redact(s string) string {
	s = Redact(s)
	for _, v := range []string{c.creds.AccessKeySecret, c.creds.SecurityToken, c.creds.AccessKeyID} {
		if len(v) < 8 { // too short to replace without mangling ordinary text
			continue
		}
		once := url.QueryEscape(v)
		for _, form := range []string{url.QueryEscape(once), once, v} {
			s = strings.ReplaceAll(s, form, redacted)
		}
	}
	return s
}

// endpointOf keeps a URL's scheme and host.
func endpointOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "the endpoint"
	}
	return u.Scheme + "://" + u.Host
}

func truncate(s string) string {
	if len(s) <= maxMessage {
		return s
	}
	return s[:maxMessage] + "…"
}

const redacted = "***"

// secretKeys are the names whose values Redact removes, lower case.
var secretKeys = []string{"accesskeyid", "accesskeysecret", "securitytoken", "signature"}

// Redact removes the values of AccessKeyId, AccessKeySecret, SecurityToken and
// Signature from s, wherever the SDK or the service may have put them: query
// strings (k=v&), URL-encoded query strings inside the SDK's StringToSign
// (k%3Dv%26, and %253D once more encoded), JSON ("k":"v", also escaped inside
// a quoted string), XML (<k>v</k>) and header-like text (k: v). Key names
// match case-insensitively; the key and separator stay so the text remains
// readable.
func Redact(s string) string {
	lower := asciiLower(s)
	var b strings.Builder
	done := 0 // s[:done] has been copied or replaced
	for i := 0; i < len(s); {
		start, end, ok := secretValueAt(s, lower, i)
		if !ok {
			i++
			continue
		}
		b.WriteString(s[done:start])
		b.WriteString(redacted)
		done, i = end, end
	}
	if done == 0 {
		return s
	}
	b.WriteString(s[done:])
	return b.String()
}

// secretValueAt reports whether a secret key starts at i and, if so, the
// bounds of its non-empty value.
func secretValueAt(s, lower string, i int) (start, end int, ok bool) {
	for _, k := range secretKeys {
		if !strings.HasPrefix(lower[i:], k) {
			continue
		}
		j := i + len(k)
		j = skipAny(lower, j, `\"`, `"`)
		j = skipSpaces(lower, j)
		sep := false
		for _, p := range []string{"%253d", "%3d", "=", ":", ">"} {
			if strings.HasPrefix(lower[j:], p) {
				j, sep = j+len(p), true
				break
			}
		}
		if !sep {
			continue
		}
		j = skipSpaces(lower, j)
		j = skipAny(lower, j, `\"`, `"`)
		end := j
		for end < len(s) && !valueEnds(lower[end:]) {
			end++
		}
		if end > j {
			return j, end, true
		}
	}
	return 0, 0, false
}

// valueEnds tells whether a secret value ends at the start of rest.
func valueEnds(rest string) bool {
	switch rest[0] {
	case '&', '"', '\'', '\\', '<', ',', ';', ')', '}', ']', ' ', '\t', '\r', '\n':
		return true
	}
	// Encoded "&" and '"', once (StringToSign) or twice encoded. None of the
	// redacted values contains these characters, so cutting there is safe.
	for _, p := range []string{"%26", "%22", "%2526", "%2522"} {
		if strings.HasPrefix(rest, p) {
			return true
		}
	}
	return false
}

func skipAny(s string, i int, prefixes ...string) int {
	for _, p := range prefixes {
		if strings.HasPrefix(s[i:], p) {
			return i + len(p)
		}
	}
	return i
}

func skipSpaces(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// asciiLower lowers ASCII letters only, so byte offsets stay valid for s.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
