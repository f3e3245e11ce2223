// Package alikafkatest is a fake alikafka OpenAPI endpoint (API version
// 2019-09-16), in the spirit of net/http/httptest: the real
// alibaba-cloud-sdk-go client talks to it over 127.0.0.1. Tests use it, and so
// does the product's demo command, in-process.
//
// The server checks every request the way the service does (signature version
// 1.0, Version, Format, Action, AccessKeyId, SecurityToken, Timestamp window,
// SignatureNonce reuse) and serves GetConsumerList and GetConsumerProgress in
// the service's JSON shape. It computes nothing: progress is served exactly as
// given to SetGroup or SetRawProgress.
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

	"github.com/backlog-alert/backlog-alert/progress"
)

// Service constants the fake checks and serves.
const (
	APIVersion = "2019-09-16"

	ActionGetConsumerList     = "GetConsumerList"
	ActionGetConsumerProgress = "GetConsumerProgress"

	// CodeGroupNotFound is the documented code for a consumer group that does
	// not exist.
	CodeGroupNotFound = "BIZ_SUBSCRIPTION_NOT_FOUND"
	// CodeInstanceNotFound is this fake's code for an unknown instance (the
	// real spelling is unconfirmed).
	CodeInstanceNotFound = "BIZ_INSTANCE_NOT_FOUND"

	// maxClockSkew is how far Timestamp may be from the server's clock.
	maxClockSkew = 15 * time.Minute
	// defaultPageSize is what GetConsumerList uses without PageSize.
	defaultPageSize = 10
)

// Credentials are the only credentials the server accepts.
type Credentials struct {
	AccessKeyID, AccessKeySecret string
	// SecurityToken, when set, must arrive as the SecurityToken parameter.
	SecurityToken string
}

// Fault makes matching requests fail or slow down. Empty Action, Instance and
// Group match anything; Group is compared with the ConsumerId parameter.
type Fault struct {
	Action, Instance, Group string
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
	Time        time.Time
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
}

type instance struct {
	region string // "" accepts any RegionId
	groups map[string]groupEntry
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

// instance returns (creating) an instance; s.mu must be held.
func (s *Server) instance(id, region string) *instance {
	in := s.instances[id]
	if in == nil {
		in = &instance{groups: map[string]groupEntry{}}
		s.instances[id] = in
	}
	if region != "" {
		in.region = region
	}
	return in
}

// SetGroup adds or replaces group g.Group of instance g.Instance (binding the
// instance to g.Region when that is set). TotalDiff and LastTimestamp are
// served as given.
func (s *Server) SetGroup(g progress.Group) {
	g = cloneGroup(g) // the caller may keep mutating its slices
	s.mu.Lock()
	defer s.mu.Unlock()
	s.instance(g.Instance, g.Region).groups[g.Group] = groupEntry{group: g}
}

// RemoveGroup deletes a group; the instance stays known.
func (s *Server) RemoveGroup(instanceID, group string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if in := s.instances[instanceID]; in != nil {
		delete(in.groups, group)
	}
}

// SetRawProgress makes GetConsumerProgress for the group answer HTTP 200
// with body verbatim; the group is also listed by GetConsumerList.
func (s *Server) SetRawProgress(instanceID, group, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.instance(instanceID, "").groups[group] = groupEntry{
		group: progress.Group{Instance: instanceID, Group: group},
		raw:   &body,
	}
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

// ResetRequests forgets recorded requests and resets MaxInFlight.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
	s.maxInFlight = s.inFlight
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
		Action:      params.Get("Action"),
		InstanceId:  params.Get("InstanceId"),
		ConsumerId:  params.Get("ConsumerId"),
		Params:      params,
		SignatureOK: sig != "" && hmac.Equal([]byte(sig), []byte(Sign(r.Method, params, s.creds.AccessKeySecret))),
		Time:        time.Now(),
	}
	region := params.Get("RegionId")

	if e := s.authenticate(r.Method, rec); e != nil {
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
	if a := p.Get("Action"); a != ActionGetConsumerList && a != ActionGetConsumerProgress {
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
		if f.left == 0 || !match(f.Action, rec.Action) || !match(f.Instance, rec.InstanceId) || !match(f.Group, rec.ConsumerId) {
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
		t := time.NewTimer(latency)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		case <-s.done:
		}
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
	var names []string
	if in != nil {
		names = slices.Sorted(maps.Keys(in.groups))
	}
	s.mu.Unlock()
	if in == nil {
		s.writeError(w, region, instanceNotFound(p.Get("InstanceId")))
		return
	}
	if id := p.Get("ConsumerId"); id != "" { // the API's optional exact filter
		names = slices.DeleteFunc(names, func(n string) bool { return n != id })
	}

	vos := []consumerVO{}
	if start := (page - 1) * size; start < len(names) {
		for _, n := range names[start:min(start+size, len(names))] {
			vos = append(vos, consumerVO{ConsumerID: n, InstanceID: p.Get("InstanceId"), RegionID: region, Tags: tagList{TagVO: []struct{}{}}})
		}
	}
	s.writeJSON(w, http.StatusOK, consumerListBody{
		okHeader:     s.ok(),
		Total:        len(names),
		CurrentPage:  page,
		PageSize:     size,
		ConsumerList: consumerList{ConsumerVO: vos},
	})
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
		s.writeJSON(w, http.StatusOK, progressBody{okHeader: s.ok(), ConsumerProgress: toJSON(e.group)})
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
	g.Topics = slices.Clone(g.Topics)
	for i := range g.Topics {
		g.Topics[i].Partitions = slices.Clone(g.Topics[i].Partitions)
	}
	return g
}
