package alikafka

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
)

// Credentials for the OpenAPI. Every way of printing them (String, fmt verbs,
// slog, encoding/json) masks the secret and the token, so a stray log line
// cannot leak them.
type Credentials struct {
	AccessKeyID, AccessKeySecret string
	// SecurityToken is set for STS credentials (RAM roles, Function Compute).
	SecurityToken string
}

// String shows only whether each part is set, plus the first characters of
// the key ID, which tell a permanent key ("LTAI") from an STS one ("STS.").
func (c Credentials) String() string {
	return fmt.Sprintf("alikafka.Credentials{AccessKeyID: %s, AccessKeySecret: %s, SecurityToken: %s}",
		maskID(c.AccessKeyID), setOrEmpty(c.AccessKeySecret), setOrEmpty(c.SecurityToken))
}

// Format makes every fmt verb, %#v and %+v included, print String.
func (c Credentials) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// LogValue keeps slog's JSON handler from printing the fields.
func (c Credentials) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalJSON masks the secrets: credentials have no business in a JSON
// document, but a config dump or debug endpoint might try.
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

// DefaultCredentials resolves the SDK's default credential chain: the env
// variables ALIBABA_CLOUD_ACCESS_KEY_ID, _SECRET and _SECURITY_TOKEN, OIDC,
// the CLI profile, the credentials file, the ECS RAM role (unless
// ALIBABA_CLOUD_ECS_METADATA_DISABLED=true) and ALIBABA_CLOUD_CREDENTIALS_URI.
// STS credentials expire: resolve them again for every run rather than
// keeping them.
func DefaultCredentials() (Credentials, error) {
	cc, err := credentials.NewDefaultCredentialsProvider().GetCredentials()
	if err != nil {
		// The chain concatenates every provider's error, which may quote a
		// credentials URI reply or a profile; keep only the redacted text.
		return Credentials{}, errors.New("alikafka: no credentials: " + Redact(err.Error()))
	}
	if cc.AccessKeyId == "" || cc.AccessKeySecret == "" {
		return Credentials{}, errors.New("alikafka: no credentials: the default chain returned an empty access key")
	}
	return Credentials{AccessKeyID: cc.AccessKeyId, AccessKeySecret: cc.AccessKeySecret, SecurityToken: cc.SecurityToken}, nil
}
