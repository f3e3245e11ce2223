// Package credentials holds an Alibaba Cloud AccessKey, shared by the
// alikafka client and the OSS state store, so one role serves both. Every
// way of printing it masks the secret and the token, so a stray log line
// cannot leak them.
package credentials

import (
	"fmt"
	"log/slog"
)

// Credentials are an AccessKey pair, with an STS token for temporary
// credentials.
type Credentials struct {
	AccessKeyID, AccessKeySecret string
	// SecurityToken is set for STS credentials (RAM roles, Function Compute).
	SecurityToken string
}

// String shows only whether each part is set, plus the first characters of
// a long-enough key ID, which tell a permanent key ("LTAI") from an STS one
// ("STS.").
func (c Credentials) String() string {
	return fmt.Sprintf("Credentials{AccessKeyID: %s, AccessKeySecret: %s, SecurityToken: %s}",
		maskID(c.AccessKeyID), setOrEmpty(c.AccessKeySecret), setOrEmpty(c.SecurityToken))
}

// Format makes every fmt verb, %#v and %+v included, print String.
func (c Credentials) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// LogValue keeps slog handlers from printing the fields.
func (c Credentials) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalJSON masks the fields as String does: credentials have no business
// in a JSON document, but a config dump or debug endpoint might try.
func (c Credentials) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, `{"AccessKeyID":%q,"AccessKeySecret":%q,"SecurityToken":%q}`,
		maskID(c.AccessKeyID), setOrEmpty(c.AccessKeySecret), setOrEmpty(c.SecurityToken)), nil
}

func maskID(id string) string {
	switch {
	case id == "":
		return "<empty>"
	case len(id) >= 12:
		return id[:4] + "****"
	default:
		return "****"
	}
}

func setOrEmpty(s string) string {
	if s == "" {
		return "<empty>"
	}
	return "<redacted>"
}
