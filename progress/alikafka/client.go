// Package alikafka reads consumer-group progress from the Alibaba Cloud
// Message Queue for Apache Kafka OpenAPI (GetConsumerList,
// GetConsumerProgress) through the official SDK and fills progress.Snapshot.
//
// Every error it returns is redacted: the SDK's own errors quote the signed
// request, AccessKeyId and SecurityToken included.
package alikafka

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/responses"
	sdkalikafka "github.com/aliyun/alibaba-cloud-sdk-go/services/alikafka"

	"github.com/backlog-alert/backlog-alert/progress"
)

// Defaults for Config.
const (
	DefaultConcurrency = 4
	DefaultTimeout     = 10 * time.Second
	// listPageSize is the GetConsumerList page size.
	listPageSize = 100
	// maxListPages bounds listing should the service ignore CurrentPage.
	maxListPages = 1000
	// sdkConnectTimeout is the SDK's own default connect timeout.
	sdkConnectTimeout = 5 * time.Second
)

// Config says how to reach the OpenAPI.
type Config struct {
	Credentials Credentials
	// Endpoint, when set, is a URL such as "http://127.0.0.1:18080" that every
	// region's calls go to (scheme and host only). Empty means
	// https://alikafka.<region>.aliyuncs.com.
	Endpoint string
	// Concurrency is the number of parallel calls in Fetch; default 4.
	Concurrency int
	// Timeout bounds each call; default 10s.
	Timeout time.Duration
}

func (cfg Config) withDefaults() Config {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	return cfg
}

// endpoint returns the scheme ("HTTP"/"HTTPS", as the SDK spells it) and
// host[:port] for region.
func (cfg Config) endpoint(region string) (scheme, host string, err error) {
	if cfg.Endpoint == "" {
		// Always explicit: without a Domain the SDK may consult its location
		// service, and sdk.NewConfig defaults to plain HTTP.
		return "HTTPS", "alikafka." + region + ".aliyuncs.com", nil
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", "", fmt.Errorf("alikafka: endpoint %q is not an http(s) URL with a host", cfg.Endpoint)
	}
	return strings.ToUpper(u.Scheme), u.Host, nil
}

// Client calls the OpenAPI for one region. Like the SDK client it wraps, it
// is NOT safe for concurrent use (the SDK writes timeouts and transport
// fields on every request): use one Client per goroutine.
type Client struct {
	sdk    *sdkalikafka.Client
	region string
	creds  Credentials // kept to scrub these exact values from errors
}

// newClientMu serialises SDK client construction: NewClientWithOptions
// lazily initialises a package-level endpoint map without a lock, which races
// when workers create their clients at the same time.
var newClientMu sync.Mutex

// NewClient creates a client for region.
func NewClient(region string, cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if region == "" {
		return nil, errors.New("alikafka: empty region")
	}
	cr := cfg.Credentials
	if cr.AccessKeyID == "" || cr.AccessKeySecret == "" {
		return nil, errors.New("alikafka: no access key in Config.Credentials")
	}
	scheme, host, err := cfg.endpoint(region)
	if err != nil {
		return nil, err
	}
	// An explicit credential, not a provider: NewClientWithProvider's chain
	// drops the STS token.
	var cred auth.Credential = credentials.NewAccessKeyCredential(cr.AccessKeyID, cr.AccessKeySecret)
	if cr.SecurityToken != "" {
		cred = credentials.NewStsTokenCredential(cr.AccessKeyID, cr.AccessKeySecret, cr.SecurityToken)
	}
	newClientMu.Lock()
	c, err := sdkalikafka.NewClientWithOptions(region, sdk.NewConfig().WithScheme(scheme).WithTimeout(cfg.Timeout), cred)
	newClientMu.Unlock()
	if err != nil {
		return nil, errors.New("alikafka: " + Redact(err.Error()))
	}
	c.Domain = host
	// Client-level timeouts: a per-request timeout would stick to the SDK
	// client and silently apply to later requests anyway.
	c.SetReadTimeout(cfg.Timeout)
	c.SetConnectTimeout(min(cfg.Timeout, sdkConnectTimeout))
	return &Client{sdk: c, region: region, creds: cr}, nil
}

// Region is the region the client calls.
func (c *Client) Region() string { return c.region }

// ListGroups returns the names of all consumer groups of an instance, reading
// every page of GetConsumerList, sorted.
func (c *Client) ListGroups(instance string) ([]string, error) {
	if instance == "" {
		return nil, errors.New("alikafka: empty instance ID")
	}
	seen := map[string]bool{}
	for page := 1; page <= maxListPages; page++ {
		req := sdkalikafka.CreateGetConsumerListRequest()
		req.InstanceId = instance
		req.CurrentPage = requests.NewInteger(page)
		req.PageSize = requests.NewInteger(listPageSize)
		var body listBody
		if err := c.call(req, sdkalikafka.CreateGetConsumerListResponse(), &body); err != nil {
			return nil, err
		}
		added := 0
		for _, vo := range body.ConsumerList {
			if name := string(vo.ConsumerID); name != "" && !seen[name] {
				seen[name] = true
				added++
			}
		}
		// Stop at the last page. "No new names" also ends the loop when a
		// service version ignores CurrentPage and repeats the whole list.
		short := len(body.ConsumerList) < listPageSize
		if added == 0 || (body.Total > 0 && len(seen) >= int(body.Total)) || (body.Total <= 0 && short) {
			break
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}

// Progress reads one group with GetConsumerProgress. A group that does not
// exist gives an *APIError with Code CodeGroupNotFound (see IsGroupNotFound).
// Topics are sorted by name and partitions by number.
func (c *Client) Progress(instance, group string) (progress.Group, error) {
	if instance == "" || group == "" {
		return progress.Group{}, errors.New("alikafka: empty instance ID or group")
	}
	req := sdkalikafka.CreateGetConsumerProgressRequest()
	req.InstanceId = instance
	req.ConsumerId = group
	var body progressBody
	if err := c.call(req, sdkalikafka.CreateGetConsumerProgressResponse(), &body); err != nil {
		return progress.Group{}, err
	}
	cp := body.ConsumerProgress
	g := progress.Group{
		Region:        c.region,
		Instance:      instance,
		Group:         group,
		TotalDiff:     int64(cp.TotalDiff),
		LastTimestamp: int64(cp.LastTimestamp),
		Topics:        make([]progress.Topic, 0, len(cp.TopicList)),
	}
	for _, t := range cp.TopicList {
		pt := progress.Topic{
			Topic:         string(t.Topic),
			TotalDiff:     int64(t.TotalDiff),
			LastTimestamp: int64(t.LastTimestamp),
			Partitions:    make([]progress.Partition, 0, len(t.OffsetList)),
		}
		for _, o := range t.OffsetList {
			pt.Partitions = append(pt.Partitions, progress.Partition{
				Partition:      int(o.Partition),
				BrokerOffset:   int64(o.BrokerOffset),
				ConsumerOffset: int64(o.ConsumerOffset),
				LastTimestamp:  int64(o.LastTimestamp),
			})
		}
		slices.SortFunc(pt.Partitions, func(a, b progress.Partition) int { return a.Partition - b.Partition })
		g.Topics = append(g.Topics, pt)
	}
	slices.SortFunc(g.Topics, func(a, b progress.Topic) int { return strings.Compare(a.Topic, b.Topic) })
	return g, nil
}

// replyBody is a decoded reply that can tell whether the service reported a
// failure.
type replyBody interface{ check(status int) error }

// call performs one request and decodes the reply into body. It is the single
// path every call takes, so that later rate limiting and retries wrap one
// function; every error it returns is an *APIError or a redacted transport
// error.
func (c *Client) call(req requests.AcsRequest, resp responses.AcsResponse, body replyBody) (err error) {
	defer func() {
		// The SDK type-asserts fields of error bodies (a numeric "Code" in
		// an HTTP error panics); one odd reply must not crash a whole run.
		if r := recover(); r != nil {
			err = &transportError{msg: "alikafka: SDK panic: " + c.redact(truncate(fmt.Sprint(r)))}
		}
	}()
	if err := c.sdk.DoAction(req, resp); err != nil && !isJSONUnmarshalError(err) {
		// SDK.JsonUnmarshalError only means the SDK's structs could not hold
		// the reply; decodeBody below reads it from the raw bytes.
		return c.classify(err)
	}
	if err := decodeBody(resp.GetHttpContentBytes(), body); err != nil {
		return &transportError{msg: fmt.Sprintf("alikafka: cannot decode %s reply (HTTP %d): %s",
			req.GetActionName(), resp.GetHttpStatus(), c.redact(truncate(err.Error())))}
	}
	if err := body.check(resp.GetHttpStatus()); err != nil {
		var ae *APIError
		if errors.As(err, &ae) {
			ae.Code, ae.Message, ae.RequestID = c.redact(ae.Code), c.redact(ae.Message), c.redact(ae.RequestID)
		}
		return err
	}
	return nil
}

func isJSONUnmarshalError(err error) bool {
	var ce *sdkerrors.ClientError
	return errors.As(err, &ce) && ce.ErrorCode() == sdkerrors.JsonUnmarshalErrorCode
}
