package alikafka

import (
	"errors"

	sdkcredentials "github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"

	"github.com/backlog-alert/backlog-alert/credentials"
)

// Credentials for the OpenAPI (and the OSS state store: one role serves both).
type Credentials = credentials.Credentials

// DefaultCredentials resolves the SDK's default credential chain: the env
// variables ALIBABA_CLOUD_ACCESS_KEY_ID, _SECRET and _SECURITY_TOKEN, OIDC,
// the CLI profile, the credentials file, the ECS RAM role (unless
// ALIBABA_CLOUD_ECS_METADATA_DISABLED=true) and ALIBABA_CLOUD_CREDENTIALS_URI.
// STS credentials expire: resolve them again for every run rather than
// keeping them.
func DefaultCredentials() (Credentials, error) {
	cc, err := sdkcredentials.NewDefaultCredentialsProvider().GetCredentials()
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
