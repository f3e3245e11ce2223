package state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/retry"
)

// OSS request settings.
const (
	ossConnectTimeout   = 5 * time.Second
	ossReadWriteTimeout = 15 * time.Second
	// ossMaxAttempts bounds the SDK's retries (5xx, 401, 408, 429, connection
	// resets): a run has a deadline and other work to do.
	ossMaxAttempts = 2
	ossMaxKeyLen   = 1023
	contentType    = "application/json"
	maxMessage     = 512
)

// ossStore keeps the document in one OSS object.
type ossStore struct {
	bucket, key, region string
	endpoint            string // the override, for String; "" for the default
	creds               Credentials
	client              *oss.Client
}

var regionRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*[a-z0-9]$`)

func openOSS(location string, opts Options) (Store, error) {
	safe := safeLocation(location)
	u, err := url.Parse(location)
	if err != nil {
		return nil, fmt.Errorf("state: location %q: not a valid oss://bucket/key URL", safe)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("state: location %q: "+format, append([]any{safe}, args...)...)
	}
	switch {
	case u.Opaque != "":
		return nil, bad("want oss://bucket/key")
	case u.User != nil:
		return nil, bad("credentials do not belong in the location: they come from the Alibaba Cloud credential chain")
	case u.Port() != "":
		return nil, bad("a bucket name has no port: set the endpoint with BACKLOG_ALERT_OSS_ENDPOINT")
	case u.Host == "":
		return nil, bad("no bucket: want oss://bucket/key")
	case !oss.IsValidBucketName(&u.Host):
		return nil, bad("invalid bucket name %q (3 to 63 lowercase letters, digits and hyphens)", u.Host)
	case u.Fragment != "":
		return nil, bad("an oss:// location takes no #fragment")
	}
	key := strings.TrimPrefix(u.Path, "/")
	switch {
	case key == "":
		return nil, bad("no object key: want oss://%s/path/state.json", u.Host)
	case strings.HasSuffix(key, "/"):
		return nil, bad("the key names a directory: name the object, e.g. oss://%s/%sstate.json", u.Host, key)
	case len(key)+max(len(".corrupt-"+TimestampFormat+"-99"), len(lockSuffix+takeoverSuffix)+maxETagInKey) > ossMaxKeyLen:
		return nil, bad("object key too long")
	}
	q := u.Query()
	region := opts.Region
	for name, values := range q {
		if name != "region" {
			return nil, bad("unknown query parameter(s) %s: only region is allowed", queryNames(q))
		}
		if len(values) != 1 {
			return nil, bad("region given %d times", len(values))
		}
		region = values[0]
	}
	if u.ForceQuery && len(q) == 0 {
		return nil, bad("empty query: write ?region=<region id> or nothing")
	}
	switch {
	case region == "":
		return nil, bad("no region: add ?region=<region id, e.g. cn-hangzhou> or set the default region")
	case strings.HasPrefix(region, "oss-"):
		return nil, bad("region %q looks like an endpoint: write the region id, e.g. %s", region, strings.TrimPrefix(region, "oss-"))
	case !regionRE.MatchString(region):
		return nil, bad("invalid region %q", region)
	}

	s := &ossStore{bucket: u.Host, key: key, region: region, creds: opts.Credentials}

	cfg := oss.LoadDefaultConfig().
		WithCredentialsProvider(credentials.NewStaticCredentialsProvider(
			opts.Credentials.AccessKeyID, opts.Credentials.AccessKeySecret, opts.Credentials.SecurityToken)).
		WithRegion(region).
		// The SDK's debug log prints request headers: the Authorization
		// header and the STS token. OSS_SDK_LOG_LEVEL must not turn it on.
		WithLogLevel(oss.LogOff).
		WithRetryMaxAttempts(ossMaxAttempts).
		WithRetryer(retry.NewStandard(func(o *retry.RetryOptions) {
			o.MaxAttempts = ossMaxAttempts
			o.BaseDelay = 200 * time.Millisecond
			o.MaxBackoff = 2 * time.Second
		})).
		WithConnectTimeout(ossConnectTimeout).
		WithReadWriteTimeout(ossReadWriteTimeout).
		WithProxyFromEnvironment(true).
		WithUserAgent("backlog-alert")
	if opts.HTTPClient != nil {
		cfg = cfg.WithHttpClient(opts.HTTPClient)
	}
	if opts.OSSEndpoint != "" {
		ep, err := url.Parse(opts.OSSEndpoint)
		if err != nil || (ep.Scheme != "http" && ep.Scheme != "https") || ep.Host == "" || ep.User != nil ||
			(ep.Path != "" && ep.Path != "/") || ep.RawQuery != "" || ep.Fragment != "" {
			return nil, fmt.Errorf("state: OSS endpoint %q: want a URL such as http://127.0.0.1:9000 or https://oss-cn-hangzhou-internal.aliyuncs.com", safeLocation(opts.OSSEndpoint))
		}
		s.endpoint = ep.Scheme + "://" + ep.Host
		cfg = cfg.WithEndpoint(s.endpoint)
		if ep.Scheme == "http" {
			cfg = cfg.WithDisableSSL(true)
		}
		// OSS itself only answers virtual-hosted requests
		// (bucket.oss-....aliyuncs.com); fakes, proxies and IPs get the
		// bucket in the path.
		if !strings.HasSuffix(strings.ToLower(ep.Hostname()), ".aliyuncs.com") {
			cfg = cfg.WithUsePathStyle(true)
		}
	}
	s.client = oss.NewClient(cfg)
	return s, nil
}

func (s *ossStore) String() string {
	if s.endpoint != "" {
		return fmt.Sprintf("oss://%s/%s (%s, endpoint %s)", s.bucket, s.key, s.region, s.endpoint)
	}
	return fmt.Sprintf("oss://%s/%s (%s)", s.bucket, s.key, s.region)
}

func (s *ossStore) Ephemeral() bool { return false }

func (s *ossStore) ready(ctx context.Context, op string) error {
	if s.creds.AccessKeyID == "" || s.creds.AccessKeySecret == "" {
		return fmt.Errorf("state: %s: %s: %w", s, op, ErrNoCredentials)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("state: %s: %s: %w", s, op, err)
	}
	return nil
}

func (s *ossStore) Load(ctx context.Context) ([]byte, error) {
	if err := s.ready(ctx, "GetObject"); err != nil {
		return nil, err
	}
	res, err := s.client.GetObject(ctx, &oss.GetObjectRequest{Bucket: &s.bucket, Key: &s.key})
	if err != nil {
		if serviceCode(err) == "NoSuchKey" {
			return nil, fmt.Errorf("state: %s: %w", s, ErrNotFound)
		}
		return nil, s.wrap("GetObject", err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, MaxDocumentSize+1))
	if err != nil {
		return nil, s.wrap("GetObject", fmt.Errorf("reading the body: %w", err))
	}
	if len(data) > MaxDocumentSize {
		return nil, fmt.Errorf("state: %s: larger than %d bytes: not a state document", s, MaxDocumentSize)
	}
	if res.ContentLength >= 0 && int64(len(data)) != res.ContentLength {
		return nil, fmt.Errorf("state: %s: GetObject: got %d bytes of %d", s, len(data), res.ContentLength)
	}
	return data, nil
}

// Save writes the object with one PutObject: OSS replaces an object
// atomically, and the SDK checks the CRC-64 OSS computes of what it received.
func (s *ossStore) Save(ctx context.Context, data []byte) error {
	if err := s.ready(ctx, "PutObject"); err != nil {
		return err
	}
	if len(data) > MaxDocumentSize {
		return fmt.Errorf("state: %s: document of %d bytes is larger than %d", s, len(data), MaxDocumentSize)
	}
	_, err := s.client.PutObject(ctx, &oss.PutObjectRequest{
		Bucket:        &s.bucket,
		Key:           &s.key,
		ContentType:   oss.Ptr(contentType),
		ContentLength: oss.Ptr(int64(len(data))),
		Body:          bytes.NewReader(data),
	})
	if err != nil {
		return s.wrap("PutObject", err)
	}
	return nil
}

// SetAside copies the object to "<key>.corrupt-<timestamp>" without
// overwriting an existing copy ("-1", "-2"... then). The object itself stays
// until the next Save replaces it, which needs no oss:DeleteObject permission.
func (s *ossStore) SetAside(ctx context.Context, now time.Time) (string, error) {
	if err := s.ready(ctx, "CopyObject"); err != nil {
		return "", err
	}
	base := s.key + ".corrupt-" + now.UTC().Format(TimestampFormat)
	for i := 0; i < 100; i++ {
		dst := base
		if i > 0 {
			dst = fmt.Sprintf("%s-%d", base, i)
		}
		_, err := s.client.CopyObject(ctx, &oss.CopyObjectRequest{
			Bucket:          &s.bucket,
			Key:             &dst,
			SourceKey:       &s.key,
			ForbidOverwrite: oss.Ptr("true"),
		})
		switch serviceCode(err) {
		case "":
			if err == nil {
				return fmt.Sprintf("oss://%s/%s", s.bucket, dst), nil
			}
		case "FileAlreadyExists":
			continue
		case "NoSuchKey":
			return "", fmt.Errorf("state: %s: set aside: %w", s, ErrNotFound)
		}
		return "", s.wrap("CopyObject", err)
	}
	return "", fmt.Errorf("state: %s: set aside: oss://%s/%s and 99 numbered variants already exist", s, s.bucket, base)
}

// OSSError is a failed OSS request. Its fields and text are redacted: no
// AccessKey ID or secret, STS token, Authorization header or signature.
type OSSError struct {
	Location   string // the store's String()
	Op         string // "GetObject", "PutObject", "CopyObject", "HeadObject", "DeleteObject"
	StatusCode int    // the HTTP status; 0 when there was no answer
	Code       string // OSS's error code, e.g. "AccessDenied"; "" without one
	Message    string
	RequestID  string
	cause      error // a context error or the transport's inner error, never an SDK error
}

func (e *OSSError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "state: %s: %s: ", e.Location, e.Op)
	switch {
	case e.StatusCode != 0 && e.Code != "":
		fmt.Fprintf(&b, "%s (HTTP %d)", e.Code, e.StatusCode)
	case e.StatusCode != 0:
		fmt.Fprintf(&b, "HTTP %d", e.StatusCode)
	}
	if e.Message != "" {
		if e.StatusCode != 0 {
			b.WriteString(": ")
		}
		b.WriteString(e.Message)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " (RequestId %s)", e.RequestID)
	}
	return b.String()
}

// Unwrap gives context.Canceled or context.DeadlineExceeded, or the network
// error under a failed request; never the SDK's error, whose text is not
// redacted.
func (e *OSSError) Unwrap() error { return e.cause }

// Temporary reports an error worth retrying in a later run: a 5xx or
// throttling answer, or no answer at all.
func (e *OSSError) Temporary() bool {
	return e.StatusCode == 0 || e.StatusCode >= 500 || e.StatusCode == 429 || e.StatusCode == 408
}

func serviceCode(err error) string {
	var se *oss.ServiceError
	if errors.As(err, &se) {
		return se.Code
	}
	return ""
}

func (s *ossStore) wrap(op string, err error) error {
	e := &OSSError{Location: s.String(), Op: op}
	var se *oss.ServiceError
	var ue *url.Error
	switch {
	case errors.As(err, &se):
		e.StatusCode = se.StatusCode
		e.Code = s.redact(se.Code)
		e.Message = s.redact(se.Message)
		e.RequestID = s.redact(se.RequestID)
	case errors.As(err, &ue):
		// Name the endpoint, not the request URL.
		e.Message = s.redact(fmt.Sprintf("%s %s: %v", ue.Op, endpointOf(ue.URL), ue.Err))
		e.cause = ue.Err
	default:
		msg := err.Error()
		var oe *oss.OperationError
		if errors.As(err, &oe) && oe.Unwrap() != nil {
			msg = oe.Unwrap().Error()
		}
		e.Message = s.redact(msg)
	}
	for _, ce := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, ce) {
			e.cause = ce
		}
	}
	return e
}

// endpointOf keeps a URL's scheme and host.
func endpointOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "the endpoint"
	}
	return u.Scheme + "://" + u.Host
}

// redact removes every form of this store's credentials, then truncates.
func (s *ossStore) redact(text string) string {
	text = Redact(text, s.creds.AccessKeyID, s.creds.AccessKeySecret, s.creds.SecurityToken)
	if len(text) > maxMessage {
		text = text[:maxMessage] + "…"
	}
	return text
}

const redacted = "***"

// redactRE matches the places OSS requests carry credentials: the
// Authorization header (V4 "OSS4-HMAC-SHA256 Credential=...,Signature=..."
// and V1 "OSS <id>:<signature>"), and the query or header forms of the STS
// token, signature and credential.
var redactRE = []*regexp.Regexp{
	regexp.MustCompile(`(?i)(authorization"?\s*[:=]\s*"?)[^"\r\n]*`),
	regexp.MustCompile(`(?i)(OSS4-HMAC-SHA256\s+)[^"\s]*(?:\s*,\s*[A-Za-z]+=[^,"\s]*)*`),
	regexp.MustCompile(`(\bOSS\s+)[A-Za-z0-9._-]+:[A-Za-z0-9+/=%]+`),
	regexp.MustCompile(`(?i)((?:x-oss-security-token|security-?token|x-oss-signature|x-oss-credential|signature|ossaccesskeyid|accesskeyid|accesskeysecret|access_key_secret|access_key_id)"?\s*[:=]\s*"?)[^&\s",;<]*`),
	regexp.MustCompile(`(?i)(<(?:OSSAccessKeyId|AccessKeyId|SecurityToken|StringToSign|StringToSignBytes|CanonicalRequest|SignatureProvided)>)[^<]*`),
}

// Redact removes OSS credentials from text: signatures, Authorization values,
// STS tokens in their header, query and XML forms, and every non-empty value
// in secrets, also URL-encoded. Values shorter than 8 bytes are left alone:
// replacing them would mangle ordinary text, and no real key is that short.
func Redact(text string, secrets ...string) string {
	for _, v := range secrets {
		if len(v) < 8 {
			continue
		}
		once := url.QueryEscape(v)
		for _, form := range []string{url.QueryEscape(once), once, url.PathEscape(v), v} {
			text = strings.ReplaceAll(text, form, redacted)
		}
	}
	for _, re := range redactRE {
		text = re.ReplaceAllString(text, "${1}"+redacted)
	}
	return text
}
