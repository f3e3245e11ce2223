// Package alikafkatest is a fake alikafka OpenAPI endpoint (API version
// 2019-09-16), in the spirit of net/http/httptest: the real
// alibaba-cloud-sdk-go client talks to it over 127.0.0.1. Tests use it, and so
// does the product's demo command, in-process.
//
// The server checks every request the way the service does (signature version
// 1.0, Version, Format, Action, AccessKeyId, SecurityToken, Timestamp window,
// SignatureNonce reuse) and serves GetInstanceList, GetConsumerList and
// GetConsumerProgress in the service's JSON shape. It computes nothing: progress is served exactly as
// given to SetGroup or SetRawProgress, except that a request with
// HideLastTimestamp=true gets -1 for every LastTimestamp, as the service does
// not compute them then.
//
// For load tests it enforces an optional rate limit (SetRateLimit), delays
// every reply (SetLatency) and counts calls (Stats). It serves thousands of
// requests a second: group names are kept sorted for GetConsumerList paging,
// and the lock is never held while a reply is encoded or delayed.
//
// Error shapes. Which shape the real service uses for which error is not fully
// documented, so clients must accept both; this fake picks:
//   - gateway errors (authentication, parameters, unknown action, injected
//     faults): HTTP 4xx/5xx with the body
//     {"RequestId","HostId","Code","Message","Recommend"};
//   - business errors (the call ran but the instance or group does not exist):
//     HTTP 200 with {"Success":false,"Code":<CodeGroupNotFound or
//     CodeInstanceNotFound>,"Message","RequestId"}.
package alikafkatest

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/backlog-alert/backlog-alert/credentials"
	"github.com/backlog-alert/backlog-alert/progress"
)

// Service constants the fake checks and serves.
const (
	APIVersion = "2019-09-16"

	ActionGetConsumerList     = "GetConsumerList"
	ActionGetConsumerProgress = "GetConsumerProgress"
	ActionGetInstanceList     = "GetInstanceList"

	// ServiceStatusRunning is GetInstanceList's ServiceStatus of a running
	// instance, the default of every instance the fake knows.
	ServiceStatusRunning = 5

	// CodeGroupNotFound is the documented code for a consumer group that does
	// not exist.
	CodeGroupNotFound = "BIZ_SUBSCRIPTION_NOT_FOUND"
	// CodeInstanceNotFound is this fake's code for an unknown instance (the
	// real spelling is unconfirmed).
	CodeInstanceNotFound = "BIZ_INSTANCE_NOT_FOUND"
	// CodeThrottled is the service's code for a call over the user's rate.
	CodeThrottled = "Throttling.User"
	// MessageThrottled is the service's message with CodeThrottled.
	MessageThrottled = "Request was denied due to user flow control."

	// maxClockSkew is how far Timestamp may be from the server's clock.
	maxClockSkew = 15 * time.Minute
	// defaultPageSize is what GetConsumerList uses without PageSize.
	defaultPageSize = 10
)

// Credentials are the only credentials the server accepts.
//
// A SecurityToken, when set, must arrive as the SecurityToken parameter.
type Credentials = credentials.Credentials

// Fault makes matching requests fail or slow down. Empty Action, Instance,
// Group and Region match anything; Group is compared with the ConsumerId
// parameter and Region with RegionId.
type Fault struct {
	Action, Instance, Group string
	Region                  string
	// HTTPStatus is the status of the error reply; 0 only adds Latency and
	// lets the request proceed. A 2xx status gets a business-error body
	// (with "Success": false).
	HTTPStatus    int
	Code, Message string
	Latency       time.Duration
	// Times is how many requests the fault applies to; 0 means forever.
	Times int
}

// Request is one request as the server received it.
type Request struct {
	Action, InstanceId, ConsumerId string
	// Params holds all query and form parameters.
	Params url.Values
	// SignatureOK tells whether Signature matched the server's calculation.
	SignatureOK bool
	// HideLastTimestamp tells whether the request asked for no timestamps
	// (HideLastTimestamp=true).
	HideLastTimestamp bool
	Time              time.Time
}

// Stats count what the server received since it started or since the last
// ResetRequests.
type Stats struct {
	// Calls is every request, whatever its reply.
	Calls int
	// Throttled is how many requests the rate limit (SetRateLimit) refused.
	Throttled int
}

// Server is a running fake endpoint. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL, such as "http://127.0.0.1:41234".
	URL string

	hs        *httptest.Server
	creds     Credentials
	done      chan struct{} // closed by Close to end injected latency early
	closeOnce sync.Once

	mu          sync.Mutex
	instances   map[string]*instance
	faults      []*faultState
	requests    []Request
	nonces      map[string]time.Time
	seq         int
	inFlight    int
	maxInFlight int
	limiter     *rate.Limiter // nil: no limit
	latency     time.Duration
	stats       Stats
}

type instance struct {
	region string // "" accepts any RegionId
	meta   InstanceMeta
	groups map[string]groupEntry
	// groupMeta holds each group's Remark and tags for GetConsumerList; it
	// outlives SetGroup replacing the group's progress.
	groupMeta map[string]groupMeta
	// sorted caches the group names in order for GetConsumerList; nil when
	// a group was added or removed since.
	sorted []string
}

// names returns the instance's group names, sorted; s.mu must be held. The
// slice is shared: callers must not modify it.
func (in *instance) names() []string {
	if in.sorted == nil {
		in.sorted = slices.Sorted(maps.Keys(in.groups))
	}
	return in.sorted
}

// set adds or replaces a group; s.mu must be held.
func (in *instance) set(name string, e groupEntry) {
	if _, ok := in.groups[name]; !ok {
		in.sorted = nil
	}
	in.groups[name] = e
}

type groupMeta struct {
	remark string
	tags   map[string]string
}

// InstanceMeta is what GetInstanceList tells of an instance.
type InstanceMeta struct {
	Name string
	// ServiceStatus is served as given; 0 means ServiceStatusRunning.
	ServiceStatus int
	Tags          map[string]string
}

type groupEntry struct {
	group progress.Group
	raw   *string // served verbatim when set
}

type faultState struct {
	Fault
	left int // requests left; negative = forever
}

// NewServer starts a server that accepts only creds.
func NewServer(creds Credentials) *Server {
	s := &Server{
		creds:     creds,
		done:      make(chan struct{}),
		instances: map[string]*instance{},
		nonces:    map[string]time.Time{},
	}
	s.hs = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	s.URL = s.hs.URL
	return s
}

// Close shuts the server down, cutting injected latency short.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.hs.Close()
	})
}

// AddInstance makes an instance known even without groups. A non-empty
// region binds the instance to that RegionId, as in the real service.
func (s *Server) AddInstance(region, instanceID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.instance(instanceID, region)
}

// SetInstanceMeta makes an instance known, as AddInstance does, and sets
// what GetInstanceList answers for it. GetInstanceList lists only instances
// bound to a region, those of the request's RegionId, sorted by ID.
func (s *Server) SetInstanceMeta(region, instanceID string, m InstanceMeta) {
	m.Tags = maps.Clone(m.Tags)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.instance(instanceID, region).meta = m
}

// SetGroupMeta sets the Remark and tags GetConsumerList answers for a group,
// adding the group (with no progress) if the instance does not have it yet.
// Tags given to SetGroup in progress.Group.Tags are also the group's tags.
func (s *Server) SetGroupMeta(instanceID, group, remark string, tags map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.instance(instanceID, "")
	if _, ok := in.groups[group]; !ok {
		in.set(group, groupEntry{group: progress.Group{Instance: instanceID, Group: group}})
	}
	in.groupMeta[group] = groupMeta{remark: remark, tags: maps.Clone(tags)}
}

// instance returns (creating) an instance; s.mu must be held.
func (s *Server) instance(id, region string) *instance {
	in := s.instances[id]
	if in == nil {
		in = &instance{groups: map[string]groupEntry{}, groupMeta: map[string]groupMeta{}}
		s.instances[id] = in
	}
	if region != "" {
		in.region = region
	}
	return in
}

// SetGroup adds or replaces group g.Group of instance g.Instance (binding the
// instance to g.Region when that is set). TotalDiff and LastTimestamp are
// served as given. A non-nil g.Tags replaces the group's tags in
// GetConsumerList (see SetGroupMeta).
func (s *Server) SetGroup(g progress.Group) {
	g = cloneGroup(g) // the caller may keep mutating its slices
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.instance(g.Instance, g.Region)
	in.set(g.Group, groupEntry{group: g})
	if g.Tags != nil {
		m := in.groupMeta[g.Group]
		m.tags = maps.Clone(g.Tags)
		in.groupMeta[g.Group] = m
	}
}

// RemoveGroup deletes a group; the instance stays known.
func (s *Server) RemoveGroup(instanceID, group string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if in := s.instances[instanceID]; in != nil {
		if _, ok := in.groups[group]; ok {
			delete(in.groups, group)
			delete(in.groupMeta, group)
			in.sorted = nil
		}
	}
}

// SetRawProgress makes GetConsumerProgress for the group answer HTTP 200
// with body verbatim; the group is also listed by GetConsumerList.
func (s *Server) SetRawProgress(instanceID, group, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.instance(instanceID, "").set(group, groupEntry{
		group: progress.Group{Instance: instanceID, Group: group},
		raw:   &body,
	})
}

// SetRateLimit makes the server refuse requests over qps a second, as the
// service does: HTTP 400 with Code Throttling.User in the gateway's error
// body. The limit is a token bucket holding max(1, qps/5) requests (200 ms of
// traffic), so a client pacing evenly at qps is never refused while a burst
// over it is. Correctly signed requests count, refused ones included. qps <= 0
// removes the limit.
func (s *Server) SetRateLimit(qps float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !(qps > 0) {
		s.limiter = nil
		return
	}
	s.limiter = rate.NewLimiter(rate.Limit(qps), max(1, int(qps/5)))
}

// SetLatency delays every reply by d, errors included, on top of any fault's
// latency. Zero removes it.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// Stats returns the counters since the start or the last ResetRequests.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Inject adds a fault. Faults are tried in the order they were added.
func (s *Server) Inject(f Fault) {
	left := f.Times
	if left == 0 {
		left = -1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultState{Fault: f, left: left})
}

// Requests returns a copy of every request received so far, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		r.Params = cloneValues(r.Params)
		out[i] = r
	}
	return out
}

// ResetRequests forgets recorded requests and resets MaxInFlight and Stats.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
	s.maxInFlight = s.inFlight
	s.stats = Stats{}
}

// MaxInFlight is the largest number of requests served at the same time
// since the start or the last ResetRequests: it lets tests check a client's
// concurrency limit.
func (s *Server) MaxInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxInFlight
}

// apiError is an error reply: gateway shape unless status is 2xx.
type apiError struct {
	status        int
	code, message string
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.inFlight++
	s.maxInFlight = max(s.maxInFlight, s.inFlight)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()

	if err := r.ParseForm(); err != nil {
		s.writeError(w, "", apiError{http.StatusBadRequest, "InvalidParameter", "cannot parse parameters: " + err.Error()})
		return
	}
	params := cloneValues(r.Form) // query and form parameters together
	sig := params.Get("Signature")
	rec := Request{
		Action:            params.Get("Action"),
		InstanceId:        params.Get("InstanceId"),
		ConsumerId:        params.Get("ConsumerId"),
		Params:            params,
		SignatureOK:       sig != "" && hmac.Equal([]byte(sig), []byte(Sign(r.Method, params, s.creds.AccessKeySecret))),
		HideLastTimestamp: params.Get("HideLastTimestamp") == "true",
		Time:              time.Now(),
	}
	region := params.Get("RegionId")

	e := s.authenticate(r.Method, rec)
	s.mu.Lock()
	s.stats.Calls++
	if e == nil && s.limiter != nil && !s.limiter.AllowN(rec.Time, 1) {
		s.stats.Throttled++
		e = &apiError{http.StatusBadRequest, CodeThrottled, MessageThrottled}
	}
	latency := s.latency
	s.mu.Unlock()
	if latency > 0 {
		s.sleep(r.Context(), latency)
	}
	if e != nil {
		s.writeError(w, region, *e)
		return
	}
	if s.applyFaults(r.Context(), w, rec, region) {
		return
	}
	switch rec.Action {
	case ActionGetConsumerList:
		s.consumerList(w, params)
	case ActionGetConsumerProgress:
		s.consumerProgress(w, params)
	case ActionGetInstanceList:
		s.instanceList(w, params)
	}
}

// authenticate records the request and runs the service's checks in a
// plausible order: protocol first, then identity, then replay protection
// (a nonce is only spent by a correctly signed request).
func (s *Server) authenticate(method string, rec Request) *apiError {
	p := rec.Params
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, rec)

	for _, k := range []string{"Action", "Version", "AccessKeyId", "Signature", "SignatureMethod", "SignatureNonce", "Timestamp"} {
		if p.Get(k) == "" {
			return &apiError{http.StatusBadRequest, "MissingParameter", fmt.Sprintf("The input parameter %q that is mandatory for processing this request is not supplied.", k)}
		}
	}
	if v := p.Get("Version"); v != APIVersion {
		return &apiError{http.StatusBadRequest, "InvalidVersion", fmt.Sprintf("Specified parameter Version %q is not valid.", v)}
	}
	if a := p.Get("Action"); a != ActionGetConsumerList && a != ActionGetConsumerProgress && a != ActionGetInstanceList {
		return &apiError{http.StatusNotFound, "InvalidAction.NotFound", fmt.Sprintf("Specified api %q is not found, please check your url and method.", a)}
	}
	if f := p.Get("Format"); f != "JSON" {
		return &apiError{http.StatusBadRequest, "InvalidParameter", fmt.Sprintf("Format %q is not supported by this fake, only JSON.", f)}
	}
	if p.Get("AccessKeyId") != s.creds.AccessKeyID {
		return &apiError{http.StatusNotFound, "InvalidAccessKeyId.NotFound", "Specified access key is not found."}
	}
	if p.Get("SignatureMethod") != "HMAC-SHA1" || p.Get("SignatureVersion") != "1.0" {
		return &apiError{http.StatusBadRequest, "InvalidParameter", "Only SignatureMethod HMAC-SHA1 with SignatureVersion 1.0 is supported."}
	}
	ts, err := time.Parse("2006-01-02T15:04:05Z", p.Get("Timestamp"))
	if err != nil {
		return &apiError{http.StatusBadRequest, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted."}
	}
	if d := rec.Time.Sub(ts); d > maxClockSkew || d < -maxClockSkew {
		return &apiError{http.StatusBadRequest, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired."}
	}
	if want := s.creds.SecurityToken; want != "" {
		switch got := p.Get("SecurityToken"); {
		case got == "":
			return &apiError{http.StatusBadRequest, "MissingSecurityToken", "SecurityToken is mandatory for this access key."}
		case got != want:
			return &apiError{http.StatusBadRequest, "InvalidSecurityToken.MismatchWithAccessKey", "Specified SecurityToken mismatch with the AccessKey."}
		}
	}
	if !rec.SignatureOK {
		return &apiError{http.StatusBadRequest, "SignatureDoesNotMatch",
			"Specified signature is not matched with our calculation. server string to sign is:" + StringToSign(method, p)}
	}
	nonce := p.Get("SignatureNonce")
	if _, used := s.nonces[nonce]; used {
		return &apiError{http.StatusBadRequest, "SignatureNonceUsed", "Specified signature nonce was used already."}
	}
	s.nonces[nonce] = rec.Time
	if len(s.nonces)%1024 == 0 {
		// Nonces older than the timestamp window cannot be replayed anyway;
		// forgetting them keeps a long-running demo server small.
		for n, t := range s.nonces {
			if rec.Time.Sub(t) > 2*maxClockSkew {
				delete(s.nonces, n)
			}
		}
	}
	return nil
}

// applyFaults sleeps for and consumes matching faults; it reports whether it
// wrote an error reply.
func (s *Server) applyFaults(ctx context.Context, w http.ResponseWriter, rec Request, region string) bool {
	var latency time.Duration
	var reply *faultState
	s.mu.Lock()
	for _, f := range s.faults {
		if f.left == 0 || !match(f.Action, rec.Action) || !match(f.Instance, rec.InstanceId) || !match(f.Group, rec.ConsumerId) || !match(f.Region, region) {
			continue
		}
		if f.left > 0 {
			f.left--
		}
		latency += f.Latency
		if f.HTTPStatus != 0 {
			reply = f
			break
		}
	}
	var e apiError
	if reply != nil {
		e = apiError{reply.HTTPStatus, reply.Code, reply.Message}
	}
	s.mu.Unlock()

	if latency > 0 {
		s.sleep(ctx, latency)
	}
	if reply == nil {
		return false
	}
	if e.code == "" {
		e.code = "InjectedFault"
	}
	if e.message == "" {
		e.message = "fault injected by alikafkatest"
	}
	s.writeError(w, region, e)
	return true
}

// sleep waits d, or less if the request or the server ends first.
func (s *Server) sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	case <-s.done:
	}
}

func match(pattern, value string) bool { return pattern == "" || pattern == value }

func (s *Server) consumerList(w http.ResponseWriter, p url.Values) {
	region := p.Get("RegionId")
	page, err1 := intParam(p, "CurrentPage", 1)
	size, err2 := intParam(p, "PageSize", defaultPageSize)
	if err1 != nil || err2 != nil {
		s.writeError(w, region, apiError{http.StatusBadRequest, "InvalidParameter", "CurrentPage and PageSize must be positive integers."})
		return
	}
	s.mu.Lock()
	in := s.lookup(p.Get("InstanceId"), region)
	var names []string // shared with the cache: read only, and only this page
	if in != nil {
		if id := p.Get("ConsumerId"); id != "" { // the API's optional exact filter
			if _, ok := in.groups[id]; ok {
				names = []string{id}
			}
		} else {
			names = in.names()
		}
	}
	var pageNames []string
	var metas []groupMeta
	// (page-1)*size could overflow for absurd parameters: compare pages.
	pages := len(names) / size
	if len(names)%size != 0 {
		pages++
	}
	if page-1 < pages {
		start := (page - 1) * size
		pageNames = slices.Clone(names[start:min(start+size, len(names))])
		for _, n := range pageNames {
			metas = append(metas, in.groupMeta[n]) // maps are never mutated, only replaced
		}
	}
	total := len(names)
	s.mu.Unlock()
	if in == nil {
		s.writeError(w, region, instanceNotFound(p.Get("InstanceId")))
		return
	}

	vos := make([]consumerVO, 0, len(pageNames))
	for i, n := range pageNames {
		vos = append(vos, consumerVO{ConsumerID: n, InstanceID: p.Get("InstanceId"), RegionID: region, Remark: metas[i].remark, Tags: toTags(metas[i].tags)})
	}
	s.writeJSON(w, http.StatusOK, consumerListBody{
		okHeader:     s.ok(),
		Total:        total,
		CurrentPage:  page,
		PageSize:     size,
		ConsumerList: consumerList{ConsumerVO: vos},
	})
}

func (s *Server) instanceList(w http.ResponseWriter, p url.Values) {
	region := p.Get("RegionId")
	if region == "" {
		s.writeError(w, region, apiError{http.StatusBadRequest, "MissingParameter", "RegionId is mandatory."})
		return
	}
	s.mu.Lock()
	vos := []instanceVO{}
	for _, id := range slices.Sorted(maps.Keys(s.instances)) {
		in := s.instances[id]
		if in.region != region {
			continue
		}
		status := in.meta.ServiceStatus
		if status == 0 {
			status = ServiceStatusRunning
		}
		vos = append(vos, instanceVO{
			InstanceID: id, Name: in.meta.Name, ServiceStatus: status, RegionID: region,
			Tags: toTags(in.meta.Tags), UsedGroupCount: len(in.groups),
		})
	}
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, instanceListBody{okHeader: s.ok(), InstanceList: instanceList{InstanceVO: vos}})
}

func (s *Server) consumerProgress(w http.ResponseWriter, p url.Values) {
	region, instanceID, group := p.Get("RegionId"), p.Get("InstanceId"), p.Get("ConsumerId")
	if instanceID == "" || group == "" {
		s.writeError(w, region, apiError{http.StatusBadRequest, "MissingParameter", "InstanceId and ConsumerId are mandatory."})
		return
	}
	s.mu.Lock()
	in := s.lookup(instanceID, region)
	var e groupEntry
	var found bool
	if in != nil {
		e, found = in.groups[group]
	}
	s.mu.Unlock()
	switch {
	case in == nil:
		s.writeError(w, region, instanceNotFound(instanceID))
	case !found:
		s.writeError(w, region, apiError{http.StatusOK, CodeGroupNotFound, fmt.Sprintf("The consumer group %q does not exist.", group)})
	case e.raw != nil:
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		_, _ = w.Write([]byte(*e.raw))
	default:
		s.writeJSON(w, http.StatusOK, progressBody{okHeader: s.ok(), ConsumerProgress: toJSON(e.group, p.Get("HideLastTimestamp") == "true")})
	}
}

// lookup finds an instance the request may see; s.mu must be held.
func (s *Server) lookup(id, region string) *instance {
	in := s.instances[id]
	if in == nil || (in.region != "" && in.region != region) {
		return nil
	}
	return in
}

func instanceNotFound(id string) apiError {
	return apiError{http.StatusOK, CodeInstanceNotFound, fmt.Sprintf("The instance %q does not exist in this region.", id)}
}

func intParam(p url.Values, key string, def int) (int, error) {
	v := p.Get(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err == nil && n < 1 {
		err = fmt.Errorf("%s must be positive", key)
	}
	return n, err
}

func (s *Server) requestID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return fmt.Sprintf("FA4E0000-0000-4000-8000-%012X", s.seq)
}

func (s *Server) ok() okHeader {
	return okHeader{Code: 200, Success: true, Message: "operation success.", RequestID: s.requestID()}
}

func (s *Server) writeError(w http.ResponseWriter, region string, e apiError) {
	id := s.requestID()
	if e.status >= 200 && e.status < 300 {
		s.writeJSON(w, e.status, businessError{Success: false, Code: e.code, Message: e.message, RequestID: id})
		return
	}
	host := "alikafka.aliyuncs.com"
	if region != "" {
		host = "alikafka." + region + ".aliyuncs.com"
	}
	s.writeJSON(w, e.status, gatewayError{
		RequestID: id,
		HostID:    host,
		Code:      e.code,
		Message:   e.message,
		Recommend: "https://api.aliyun.com/troubleshoot?q=" + url.QueryEscape(e.code) + "&product=alikafka",
	})
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // only our own types get here
		panic(err)
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

func cloneGroup(g progress.Group) progress.Group {
	g.Tags = maps.Clone(g.Tags)
	g.Topics = slices.Clone(g.Topics)
	for i := range g.Topics {
		g.Topics[i].Partitions = slices.Clone(g.Topics[i].Partitions)
	}
	return g
}
