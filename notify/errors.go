package notify

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// HTTPError is a failed delivery, classified so that a caller can decide
// whether to try again later and a person can see what to fix.
type HTTPError struct {
	Service    string        // "slack", "dingtalk"
	StatusCode int           // HTTP status; 0 when no response arrived
	Code       string        // the service's own code: Slack's body ("no_service"), "errcode 310000"
	Message    string        // the service's explanation (DingTalk's errmsg), if any
	Hint       string        // what to check, when the code is known
	RetryAfter time.Duration // what the service asked for, if anything
	Retry      bool          // whether sending the same message later may succeed
	Err        error         // the underlying error, already redacted
}

func (e *HTTPError) Error() string {
	var b strings.Builder
	b.WriteString(e.Service + ":")
	switch e.StatusCode {
	case 0:
		b.WriteString(" request failed")
	case http.StatusOK:
		// The service refused in the body of a 200; the code says why.
	default:
		fmt.Fprintf(&b, " HTTP %d", e.StatusCode)
	}
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	} else if e.StatusCode != 0 && e.StatusCode != http.StatusOK {
		b.WriteString(" " + http.StatusText(e.StatusCode))
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	if e.Hint != "" {
		b.WriteString(" (" + e.Hint + ")")
	}
	if e.Err != nil && e.StatusCode == 0 {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *HTTPError) Unwrap() error { return e.Err }

// Retryable reports whether sending the same message later may succeed.
func (e *HTTPError) Retryable() bool { return e.Retry }

// RetryableStatus reports whether an HTTP status is worth retrying: rate
// limits and server errors are, other client errors mean the request itself
// is wrong.
func RetryableStatus(code int) bool {
	return code == http.StatusTooManyRequests || code >= 500
}

// Retryable reports whether err says that trying again later may succeed:
// a *DeliveryError's verdict, else an *HTTPError's classification, or any
// error in the chain with a Retryable() bool method (slack-go's errors have
// one).
func Retryable(err error) bool {
	if de, ok := errors.AsType[*DeliveryError](err); ok {
		return de.retry
	}
	if he, ok := errors.AsType[*HTTPError](err); ok {
		return he.Retry
	}
	if r, ok := errors.AsType[retryable](err); ok {
		return r.Retryable()
	}
	return false
}

type retryable interface {
	error
	Retryable() bool
}

// Excerpt makes a response body fit on one line of an error message: spaces
// collapsed, at most max runes.
func Excerpt(body []byte, max int) string {
	return Truncate(strings.Join(strings.Fields(string(body)), " "), max)
}
