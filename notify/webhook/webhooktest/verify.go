package webhooktest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers that carry the signature.
const (
	TimestampHeader = "X-Backlog-Alert-Timestamp"
	SignatureHeader = "X-Backlog-Alert-Signature"
)

// DefaultMaxAge is how far a timestamp may be from the receiver's clock,
// either way, when Verify is given no maxAge.
const DefaultMaxAge = 5 * time.Minute

// Why Verify refuses a request; its errors wrap one of these.
var (
	ErrUnsigned     = errors.New("not signed")
	ErrBadTimestamp = errors.New("malformed timestamp")
	ErrStale        = errors.New("timestamp too far from now")
	ErrBadSignature = errors.New("signature does not match")
)

// Verify checks the signature of a backlog-alert webhook request: header
// holds X-Backlog-Alert-Timestamp (Unix seconds) and
// X-Backlog-Alert-Signature ("sha256=" and the hex HMAC-SHA256 keyed with
// secret of the timestamp as sent, ".", and body), and the timestamp is
// within maxAge of now either way (DefaultMaxAge when maxAge <= 0), so that
// a request captured earlier cannot be replayed. body must be the raw
// request body, read before any parsing. It returns nil for a request
// signed with secret, else an error wrapping ErrUnsigned, ErrBadTimestamp,
// ErrStale or ErrBadSignature. The comparison takes constant time.
//
// It uses only the standard library: a receiver written in Go may copy it.
func Verify(secret string, header http.Header, body []byte, now time.Time, maxAge time.Duration) error {
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	ts, sig := header.Get(TimestampHeader), header.Get(SignatureHeader)
	if ts == "" || sig == "" {
		return fmt.Errorf("%w: want headers %s and %s", ErrUnsigned, TimestampHeader, SignatureHeader)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sec <= 0 {
		return fmt.Errorf("%w: %s must be Unix seconds", ErrBadTimestamp, TimestampHeader)
	}
	if age := now.Sub(time.Unix(sec, 0)); age > maxAge || age < -maxAge {
		return fmt.Errorf("%w: signed at %s, %s from now, more than %s", ErrStale,
			time.Unix(sec, 0).UTC().Format(time.RFC3339), age.Round(time.Second), maxAge)
	}
	hexSig, ok := strings.CutPrefix(sig, "sha256=")
	got, err := hex.DecodeString(hexSig)
	if !ok || err != nil {
		return fmt.Errorf("%w: %s must be sha256=<hex>", ErrBadSignature, SignatureHeader)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return ErrBadSignature
	}
	return nil
}
