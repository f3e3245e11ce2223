// Package alikafka reads consumer-group progress from the Alibaba Cloud
// Message Queue for Apache Kafka OpenAPI (GetConsumerList,
// GetConsumerProgress) through the official SDK and fills progress.Snapshot.
//
// Fetch is built for thousands of groups a run: every call of a run draws
// from one token bucket (Config.QPS) shared by Config.Concurrency workers,
// throttling slows the whole run down and recovers gradually, transient
// failures are retried with backoff, and what the run's deadline leaves
// unread is reported as not evaluated rather than failed (see Fetch). Replies
// are bounded (MaxReplyBytes) and checked: implausible figures are repaired
// and reported in progress.Group.Anomalies (see sanitize.go).
//
// Every error it returns is redacted: the SDK's own errors quote the signed
// request, AccessKeyId and SecurityToken included.
package alikafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/responses"
	sdkalikafka "github.com/aliyun/alibaba-cloud-sdk-go/services/alikafka"

	"github.com/backlog-alert/backlog-alert/progress"
)

// Defaults for Config, and the constants behind them.
const (
	// DefaultQPS is the default rate of calls for a whole Fetch. The
	// documented limit is 100 calls/s per main account, region and API,
	// shared by every RAM user of the account: half of it leaves the rest to
	// them, and reads 12,000 groups in a four-minute run.
	DefaultQPS = 50.0
	// DefaultTimeout bounds each call (connecting, sending, reading the
	// reply). A healthy call takes well under a second; a call that has not
	// answered in five is better retried than waited for.
	DefaultTimeout = 5 * time.Second
	// DefaultRetries is how many times a call that failed transiently is
	// tried again, beyond its first attempt.
	DefaultRetries = 3

	// The default Concurrency is QPS × LatencyBudget, rounded up and kept
	// between MinConcurrency and MaxConcurrency. By Little's law a run paced
	// at QPS calls a second that take L seconds each has QPS × L calls in
	// flight on average, so QPS × LatencyBudget workers keep the limiter, not
	// the latency, as what bounds the run for calls of up to 500 ms, twice a
	// typical OpenAPI round trip. Workers beyond that only wait for the
	// limiter, which costs one goroutine, one idle SDK client and one
	// connection each; 64 bounds the connections one run opens.
	LatencyBudget  = 500 * time.Millisecond
	MinConcurrency = 4
	MaxConcurrency = 64

	// RetryBaseDelay and RetryMaxDelay shape the backoff before a retry:
	// RetryBaseDelay × 2^(n-1) before the n-th retry, at most RetryMaxDelay,
	// of which a random half is waited (so workers do not retry in step).
	RetryBaseDelay = 200 * time.Millisecond
	RetryMaxDelay  = 5 * time.Second

	// MaxReplyBytes bounds a reply: a larger one is an error, read no
	// further. A group with 10,000 partitions is about 1 MiB.
	MaxReplyBytes = 8 << 20

	// listPageSize is the GetConsumerList page size.
	listPageSize = 100
	// maxListPages bounds listing should the service ignore CurrentPage.
	maxListPages = 1000
	// sdkConnectTimeout is the SDK's own default connect timeout.
	sdkConnectTimeout = 5 * time.Second
)

// DefaultConcurrency is the Concurrency Config uses for a given QPS:
// ceil(qps × LatencyBudget), between MinConcurrency and MaxConcurrency.
func DefaultConcurrency(qps float64) int {
	n := math.Ceil(qps * LatencyBudget.Seconds())
	if !(n >= MinConcurrency) { // also NaN
		return MinConcurrency
	}
	return int(min(n, MaxConcurrency))
}

// Config says how to reach the OpenAPI and how hard to use it.
type Config struct {
	Credentials Credentials
	// Endpoint, when set, is a URL such as "http://127.0.0.1:18080" that every
	// region's calls go to (scheme and host only). Empty means
	// https://alikafka.<region>.aliyuncs.com.
	Endpoint string
	// QPS is the rate of calls across a whole Fetch, every region, instance,
	// GetConsumerList page and retry included; default DefaultQPS. Fetch
	// lowers it for the rest of the run when the service throttles, and
	// raises it back gradually. It must be finite; other values, zero and
	// negative ones take the default.
	QPS float64
	// Concurrency is the number of workers in Fetch, each with its own SDK
	// client; default DefaultConcurrency(QPS).
	Concurrency int
	// Timeout bounds each call; default DefaultTimeout.
	Timeout time.Duration
	// Retries is how many times Fetch retries a call that failed transiently
	// (0 takes DefaultRetries; negative means never). Throttled calls are
	// retried without spending it, for as long as ctx's deadline allows; a
	// ctx without a deadline gives a call 10 throttled attempts more before
	// it fails, so that a run cannot wait forever.
	Retries int
	// Now is the run's evaluation time, which every sanity check of a
	// reply's timestamps is relative to (see toGroup): a replay with --now
	// must judge them as the live run did. Zero means the time of each call.
	// Pacing and deadlines always use the wall clock.
	Now time.Time

	// callsEnd, set by Fetch from its context's deadline, cuts every call
	// still in flight then: the SDK takes no context of its own.
	callsEnd time.Time
}

func (cfg Config) withDefaults() Config {
	if !(cfg.QPS > 0) || math.IsInf(cfg.QPS, 1) {
		cfg.QPS = DefaultQPS
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency(cfg.QPS)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	switch {
	case cfg.Retries == 0:
		cfg.Retries = DefaultRetries
	case cfg.Retries < 0:
		cfg.Retries = 0
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
	sdk       *sdkalikafka.Client
	region    string
	creds     Credentials // kept to scrub these exact values from errors
	transport *http.Transport
	now       time.Time // Config.Now
}

// CloseIdleConnections closes the client's kept-alive connections; Fetch
// calls it when done, so that a long-running process does not keep one
// connection per worker of every past run.
func (c *Client) CloseIdleConnections() { c.transport.CloseIdleConnections() }

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
	connect := min(cfg.Timeout, sdkConnectTimeout)
	c.SetReadTimeout(cfg.Timeout)
	c.SetConnectTimeout(connect)
	// Our own transport, so that a reply's size is bounded before the SDK
	// reads it whole. The SDK only configures an *http.Transport, so this one
	// carries what it would have set: the connect timeout and proxies from
	// the environment (HTTPS_PROXY, NO_PROXY).
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: connect,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        4,
		IdleConnTimeout:     90 * time.Second,
	}
	// The SDK builds its own http.Client, unexported and with no way to set
	// CheckRedirect, so redirects are stopped here: the client never sees
	// a Location to follow, and the signed request (AccessKeyId, Signature,
	// SecurityToken in its query) goes nowhere else.
	var rt http.RoundTripper = &limitedTransport{base: tr, limit: MaxReplyBytes}
	if !cfg.callsEnd.IsZero() {
		rt = deadlineTransport{base: rt, deadline: cfg.callsEnd}
	}
	c.SetTransport(noRedirectTransport{rt})
	return &Client{sdk: c, region: region, creds: cr, transport: tr, now: cfg.Now}, nil
}

// noRedirectTransport turns a 3xx reply into a reply the http.Client does
// not follow: same status, no Location, and a body saying what happened,
// which the SDK reports as a server error (an *APIError with that status,
// which is not retried).
type noRedirectTransport struct{ base http.RoundTripper }

func (t noRedirectTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil || resp.StatusCode < 300 || resp.StatusCode >= 400 {
		return resp, err
	}
	resp.Body.Close() // unread: whatever it says came from elsewhere
	msg := fmt.Sprintf("redirected to another location (HTTP %d): not followed", resp.StatusCode)
	h := resp.Header.Clone()
	h.Del("Location")
	h.Del("Content-Encoding")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(msg)))
	return &http.Response{
		Status:        resp.Status,
		StatusCode:    resp.StatusCode,
		Proto:         resp.Proto,
		ProtoMajor:    resp.ProtoMajor,
		ProtoMinor:    resp.ProtoMinor,
		Header:        h,
		Body:          io.NopCloser(strings.NewReader(msg)),
		ContentLength: int64(len(msg)),
		Request:       req,
		TLS:           resp.TLS,
	}, nil
}

// deadlineTransport ends every request, its reply's body included, at the
// deadline, whatever the SDK's own timeouts.
type deadlineTransport struct {
	base     http.RoundTripper
	deadline time.Time
}

func (t deadlineTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithDeadline(req.Context(), t.deadline)
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = cancelOnClose{resp.Body, cancel}
	return resp, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// errReplyTooLarge ends reading a reply over MaxReplyBytes.
var errReplyTooLarge = errors.New("reply too large")

// limitedTransport refuses replies over limit bytes: by their Content-Length
// at once, else while they are read.
type limitedTransport struct {
	base  *http.Transport
	limit int64
}

func (t *limitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > t.limit {
		resp.Body.Close()
		return nil, errReplyTooLarge
	}
	resp.Body = &limitedBody{rc: resp.Body, left: t.limit}
	return resp, nil
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// At the limit: anything more is too much, the end is fine.
		var one [1]byte
		if n, err := b.rc.Read(one[:]); n > 0 {
			return 0, errReplyTooLarge
		} else {
			return 0, err
		}
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// Region is the region the client calls.
func (c *Client) Region() string { return c.region }

// ListGroups returns the names of all consumer groups of an instance, reading
// every page of GetConsumerList, sorted. It makes one attempt per page, with
// no pacing: Fetch adds those.
func (c *Client) ListGroups(instance string) ([]string, error) {
	infos, err := c.listGroups(context.Background(), instance, once)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(infos))
	for i, g := range infos {
		names[i] = g.Name
	}
	return names, nil
}

// GroupInfo is one consumer group as GetConsumerList describes it.
type GroupInfo struct {
	Name, Remark string
	// Tags are the group's tags; nil when it has none.
	Tags map[string]string
}

// ListGroupInfo is ListGroups with each group's remark and tags.
func (c *Client) ListGroupInfo(instance string) ([]GroupInfo, error) {
	return c.listGroups(context.Background(), instance, once)
}

// ServiceStatusRunning is GetInstanceList's ServiceStatus of a running
// instance.
const ServiceStatusRunning = 5

// Instance is one instance as GetInstanceList describes it.
type Instance struct {
	ID, Name string
	// ServiceStatus is the service's code; Running says it is
	// ServiceStatusRunning, the only status whose groups can be read.
	ServiceStatus int
	Running       bool
	// Tags are the instance's tags; nil when it has none.
	Tags map[string]string
}

// Instances lists the instances of the client's region with
// GetInstanceList (which has no paging), sorted by ID, in one attempt.
func (c *Client) Instances() ([]Instance, error) {
	return c.instances(context.Background(), once)
}

func (c *Client) instances(ctx context.Context, do caller) ([]Instance, error) {
	var body instanceListBody
	err := do(ctx, func() error {
		req := sdkalikafka.CreateGetInstanceListRequest()
		body = instanceListBody{}
		return c.call(req, &body)
	})
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []Instance
	for _, vo := range body.InstanceList {
		id := string(vo.InstanceID)
		if id == "" || seen[id] {
			continue
		}
		if r := string(vo.RegionID); r != "" && r != c.region {
			continue // not this region's: its groups could not be read here
		}
		seen[id] = true
		st := int(min(max(int64(vo.ServiceStatus), math.MinInt32), math.MaxInt32))
		out = append(out, Instance{ID: id, Name: string(vo.Name), ServiceStatus: st, Running: st == ServiceStatusRunning, Tags: tagMap(vo.Tags)})
	}
	slices.SortFunc(out, func(a, b Instance) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// ProgressOption changes how Progress reads a group.
type ProgressOption func(*progressOptions)

type progressOptions struct{ hideTimestamps bool }

// HideLastTimestamp asks the service not to compute LastTimestamp, which is
// expensive for it: the request carries HideLastTimestamp=true (a parameter
// the SDK's struct lacks; it is sent and signed as a query parameter), and
// the reply's timestamps are unknown (-1 or 0).
func HideLastTimestamp() ProgressOption {
	return func(o *progressOptions) { o.hideTimestamps = true }
}

// Progress reads one group with GetConsumerProgress, in one attempt. A group
// that does not exist gives an *APIError with Code CodeGroupNotFound (see
// IsGroupNotFound). The reply is checked and repaired where it is implausible
// (see Group.Anomalies); topics are sorted by name and partitions by number.
func (c *Client) Progress(instance, group string, opts ...ProgressOption) (progress.Group, error) {
	var o progressOptions
	for _, opt := range opts {
		opt(&o)
	}
	return c.progress(context.Background(), instance, group, o, once)
}

// caller makes one logical call out of attempts: once, or paced and retried
// by a Fetch's runner. attempt is a single request.
type caller func(ctx context.Context, attempt func() error) error

func once(_ context.Context, attempt func() error) error { return attempt() }

func (c *Client) listGroups(ctx context.Context, instance string, do caller) ([]GroupInfo, error) {
	if instance == "" {
		return nil, errors.New("alikafka: empty instance ID")
	}
	seen := map[string]GroupInfo{}
	for page := 1; page <= maxListPages; page++ {
		var body listBody
		err := do(ctx, func() error {
			req := sdkalikafka.CreateGetConsumerListRequest()
			req.InstanceId = instance
			req.CurrentPage = requests.NewInteger(page)
			req.PageSize = requests.NewInteger(listPageSize)
			body = listBody{}
			return c.call(req, &body)
		})
		if err != nil {
			return nil, err
		}
		added := 0
		for _, vo := range body.ConsumerList {
			if name := string(vo.ConsumerID); name != "" {
				if _, dup := seen[name]; !dup {
					seen[name] = GroupInfo{Name: name, Remark: string(vo.Remark), Tags: tagMap(vo.Tags)}
					added++
				}
			}
		}
		// Stop at the last page. "No new names" also ends the loop when a
		// service version ignores CurrentPage and repeats the whole list.
		short := len(body.ConsumerList) < listPageSize
		if added == 0 || (body.Total > 0 && len(seen) >= int(min(body.Total, math.MaxInt32))) || (body.Total <= 0 && short) {
			break
		}
	}
	infos := make([]GroupInfo, 0, len(seen))
	for _, g := range seen {
		infos = append(infos, g)
	}
	slices.SortFunc(infos, func(a, b GroupInfo) int { return strings.Compare(a.Name, b.Name) })
	return infos, nil
}

func (c *Client) progress(ctx context.Context, instance, group string, o progressOptions, do caller) (progress.Group, error) {
	if instance == "" || group == "" {
		return progress.Group{}, errors.New("alikafka: empty instance ID or group")
	}
	var body progressBody
	err := do(ctx, func() error {
		req := sdkalikafka.CreateGetConsumerProgressRequest()
		req.InstanceId = instance
		req.ConsumerId = group
		if o.hideTimestamps {
			req.QueryParams["HideLastTimestamp"] = "true"
		}
		body = progressBody{}
		return c.call(req, &body)
	})
	if err != nil {
		return progress.Group{}, err
	}
	now := c.now
	if now.IsZero() {
		now = time.Now()
	}
	return toGroup(c.region, instance, group, body.ConsumerProgress, now), nil
}

// replyBody is a decoded reply that can tell whether the service reported a
// failure.
type replyBody interface{ check(status int) error }

// call performs one request and decodes the reply into body. It is the single
// path every call takes, so that later rate limiting and retries wrap one
// function; every error it returns is an *APIError or a redacted transport
// error.
func (c *Client) call(req requests.AcsRequest, body replyBody) (err error) {
	defer func() {
		// The SDK type-asserts fields of error bodies (a numeric "Code" in
		// an HTTP error panics); one odd reply must not crash a whole run.
		if r := recover(); r != nil {
			err = &transportError{msg: "alikafka: SDK panic: " + c.redact(truncate(fmt.Sprint(r))), permanent: true}
		}
	}()
	// A CommonResponse keeps the SDK from decoding the reply itself: its
	// structs cannot hold every shape the service sends (see decode.go), and
	// decoding twice would double the work of large replies.
	resp := responses.NewCommonResponse()
	if err := c.sdk.DoAction(req, resp); err != nil {
		return c.classify(err)
	}
	if err := decodeBody(resp.GetHttpContentBytes(), body); err != nil {
		return &transportError{msg: fmt.Sprintf("alikafka: cannot decode %s reply (HTTP %d): %s",
			req.GetActionName(), resp.GetHttpStatus(), c.redact(truncate(err.Error()))), permanent: true}
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
