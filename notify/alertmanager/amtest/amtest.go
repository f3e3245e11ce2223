// Package amtest runs a local stand-in for Prometheus Alertmanager's alerts
// endpoint (POST /api/v2/alerts) on 127.0.0.1. A real client posts to it; it
// checks credentials, validates the body as Alertmanager does (go-openapi's
// schema check of PostableAlerts, then the handler's own validation of each
// alert), answers with Alertmanager's statuses and error bodies, and keeps
// the alerts the way Alertmanager's store does: by label set, merging a
// re-sent alert into the one it overlaps. Tests use it, and so can a demo.
//
// It deliberately shares no code with the notify/alertmanager client, so
// that a mistake in the client is not mirrored here.
package amtest

import (
	"bytes"
	"cmp"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// ResolveTimeout is Alertmanager's default global resolve_timeout: an alert
// posted without endsAt resolves that long after it was last received.
const ResolveTimeout = 5 * time.Minute

// Alert is an alert as Alertmanager keeps it.
type Alert struct {
	Labels       map[string]string
	Annotations  map[string]string
	StartsAt     time.Time
	EndsAt       time.Time
	GeneratorURL string
	// UpdatedAt is when it was last received.
	UpdatedAt time.Time
	// Timeout is set when the client gave no endsAt: Alertmanager set it
	// to ResolveTimeout after receipt.
	Timeout bool
}

// FiringAt reports whether the alert is active at t: its endsAt is later.
func (a Alert) FiringAt(t time.Time) bool { return a.EndsAt.After(t) }

// Post is one request to the alerts endpoint, accepted or not.
type Post struct {
	Status int    // the HTTP status answered
	Reply  string // the body answered
	Body   []byte // the request body as sent
	// Auth is the scheme of the request's Authorization header ("Bearer",
	// "Basic"), or "" without one. Credentials are not kept.
	Auth        string
	ContentType string
}

// Failure makes the server fail the way an Alertmanager (or the proxy in
// front of it) can.
type Failure struct {
	// Status is the HTTP status to answer with; 0 means 503.
	Status int
	// Body is the response body; empty gives Alertmanager's own for the
	// status.
	Body string
	// RetryAfter, when > 0, is sent as the Retry-After header (seconds).
	RetryAfter int
	// Location is sent with a 3xx status.
	Location string
	// After is how many requests are served normally before the failures
	// start.
	After int
	// Times is how many requests fail; 0 means every request until Fail
	// is called again.
	Times int
}

// Server is the stand-in. Its zero value is not usable: call NewServer.
type Server struct {
	URL string // base URL, http://127.0.0.1:<port>

	srv *httptest.Server

	mu       sync.Mutex
	now      func() time.Time
	bearer   string
	user     string
	password string
	basic    bool
	failure  *Failure
	skip     int // requests to serve before failure applies
	left     int // failures left when failure.Times > 0
	received []Post
	alerts   map[string]*Alert // by label set
}

// NewServer starts a server on 127.0.0.1 that takes any request without
// credentials, until RequireBearer or RequireBasic. Close it when done.
func NewServer() *Server {
	s := &Server{now: time.Now, alerts: map[string]*Alert{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v2/alerts", s.serve)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	return s
}

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// RequireBearer makes the server refuse requests without this bearer token
// (401), as a proxy in front of Alertmanager does.
func (s *Server) RequireBearer(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bearer, s.basic = token, false
}

// RequireBasic makes the server refuse requests without these basic auth
// credentials (401), as Alertmanager's web.config.file basic_auth_users
// does.
func (s *Server) RequireBasic(user, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user, s.password, s.basic, s.bearer = user, password, true, ""
}

// SetClock sets the server's clock: when alerts are received, the defaults
// of startsAt and endsAt, and whether a stored alert is resolved when
// another arrives. time.Now by default.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// Fail makes the server fail as f says; Fail(Failure{}) makes it work again.
func (s *Server) Fail(f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == (Failure{}) {
		s.failure = nil
		return
	}
	s.failure, s.skip, s.left = &f, f.After, f.Times
}

// Received returns every request to the alerts endpoint so far, oldest
// first, the refused ones included: len(Received()) is what a client's
// retries cost.
func (s *Server) Received() []Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.received)
}

// Alerts returns the alerts firing at t (their endsAt is later), ordered by
// labels.
func (s *Server) Alerts(t time.Time) []Alert {
	var out []Alert
	for _, a := range s.Stored() {
		if a.FiringAt(t) {
			out = append(out, a)
		}
	}
	return out
}

// Stored returns every alert kept, firing or resolved, ordered by labels.
func (s *Server) Stored() []Alert {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := slices.Sorted(maps.Keys(s.alerts))
	out := make([]Alert, len(keys))
	for i, k := range keys {
		out[i] = clone(*s.alerts[k])
	}
	return out
}

// Lookup returns the alert with exactly these labels.
func (s *Server) Lookup(labels map[string]string) (Alert, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.alerts[labelKey(labels)]
	if !ok {
		return Alert{}, false
	}
	return clone(*a), true
}

func clone(a Alert) Alert {
	a.Labels, a.Annotations = maps.Clone(a.Labels), maps.Clone(a.Annotations)
	return a
}

// maxBody bounds what the server reads.
const maxBody = 32 << 20

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		// This stand-in serves only POST (the real one also lists alerts).
		reply(w, http.StatusMethodNotAllowed, apiError(405, fmt.Sprintf("method %s is not allowed, but [POST] are", r.Method)))
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxBody))
	post := Post{Body: body, ContentType: r.Header.Get("Content-Type")}
	if scheme, _, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok {
		post.Auth = scheme
	}
	rec := &recorder{ResponseWriter: w}
	defer func() {
		post.Status, post.Reply = rec.status, rec.body.String()
		s.mu.Lock()
		s.received = append(s.received, post)
		s.mu.Unlock()
	}()
	w = rec

	if f, ok := s.failing(); ok {
		status := cmp.Or(f.Status, http.StatusServiceUnavailable)
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
		}
		if f.Location != "" {
			w.Header().Set("Location", f.Location)
		}
		text := f.Body
		if text == "" {
			text = http.StatusText(status) + "\n"
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		io.WriteString(w, text)
		return
	}
	if scheme, ok := s.authorized(r); !ok {
		// exporter-toolkit's answer for basic auth; a proxy's for a bearer.
		w.Header().Set("WWW-Authenticate", scheme)
		http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
		return
	}
	if mt, _, err := mime.ParseMediaType(post.ContentType); err != nil || mt != "application/json" {
		reply(w, http.StatusUnsupportedMediaType, apiError(415, fmt.Sprintf("unsupported media type %q, only [application/json] are allowed", post.ContentType)))
		return
	}
	alerts, status, msg := parse(body)
	if status != 0 {
		reply(w, status, msg)
		return
	}
	s.put(w, alerts)
}

// failing returns the injected failure, if one applies to this request.
func (s *Server) failing() (Failure, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failure == nil {
		return Failure{}, false
	}
	if s.skip > 0 {
		s.skip--
		return Failure{}, false
	}
	f := *s.failure
	if f.Times > 0 {
		if s.left--; s.left <= 0 {
			s.failure = nil
		}
	}
	return f, true
}

// authorized checks the credentials; when they fail, it returns the
// WWW-Authenticate challenge.
func (s *Server) authorized(r *http.Request) (string, bool) {
	s.mu.Lock()
	bearer, basic, user, password := s.bearer, s.basic, s.user, s.password
	s.mu.Unlock()
	eq := func(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
	switch {
	case basic:
		u, p, ok := r.BasicAuth()
		return "Basic", ok && eq(u, user) && eq(p, password)
	case bearer != "":
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		return "Bearer", ok && eq(got, bearer)
	}
	return "", true
}

// postable is PostableAlert as go-openapi decodes it: times and the URL
// are checked by format after decoding.
type postable struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     *string           `json:"startsAt"`
	EndsAt       *string           `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
}

// parse decodes and schema-checks the body as go-openapi does, answering
// 400 for what does not decode and 422 for what breaks the schema, with
// go-openapi's {"code", "message"} body; status 0 means valid.
func parse(body []byte) ([]Alert, int, string) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, http.StatusUnprocessableEntity, apiError(602, "alerts in body is required")
	}
	parseErr := func(err error) ([]Alert, int, string) {
		return nil, http.StatusBadRequest, apiError(400, fmt.Sprintf("parsing alerts body from %q failed, because %v", "", err))
	}
	var raw []postable
	if err := json.Unmarshal(body, &raw); err != nil {
		return parseErr(err)
	}
	out := make([]Alert, len(raw))
	for i, p := range raw {
		if p.Labels == nil {
			return nil, http.StatusUnprocessableEntity, apiError(602, fmt.Sprintf("%d.labels in body is required", i))
		}
		a := Alert{Labels: p.Labels, Annotations: p.Annotations, GeneratorURL: p.GeneratorURL}
		for _, t := range []struct {
			v   *string
			dst *time.Time
		}{{p.StartsAt, &a.StartsAt}, {p.EndsAt, &a.EndsAt}} {
			if t.v == nil {
				continue
			}
			v, err := time.Parse(time.RFC3339Nano, *t.v)
			if err != nil {
				return parseErr(fmt.Errorf("parsing time %q as RFC 3339: %v", *t.v, err))
			}
			*t.dst = v
		}
		if p.GeneratorURL != "" {
			if _, err := url.Parse(p.GeneratorURL); err != nil {
				return nil, http.StatusUnprocessableEntity, apiError(601, fmt.Sprintf("%d.generatorURL in body must be of type uri: %q", i, p.GeneratorURL))
			}
		}
		out[i] = a
	}
	return out, 0, ""
}

// put is Alertmanager's postAlertsHandler: it fills in missing times,
// drops empty labels, validates each alert, stores the valid ones and
// answers 400 with the errors of the others, as a JSON string.
func (s *Server) put(w http.ResponseWriter, alerts []Alert) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var errs []string
	for _, a := range alerts {
		a.UpdatedAt = now
		if a.StartsAt.IsZero() {
			a.StartsAt = now
			if !a.EndsAt.IsZero() {
				a.StartsAt = a.EndsAt
			}
		}
		if a.EndsAt.IsZero() {
			a.Timeout, a.EndsAt = true, now.Add(ResolveTimeout)
		}
		for k, v := range a.Labels {
			if v == "" {
				delete(a.Labels, k)
			}
		}
		if err := validate(a); err != "" {
			errs = append(errs, err)
			continue
		}
		s.store(a, now)
	}
	if len(errs) > 0 {
		msg, _ := json.Marshal(strings.Join(errs, "; "))
		reply(w, http.StatusBadRequest, string(msg)+"\n")
		return
	}
	w.WriteHeader(http.StatusOK)
}

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// validate is Alertmanager's Alert.Validate with classic label names.
func validate(a Alert) string {
	switch {
	case a.StartsAt.IsZero():
		return "start time missing"
	case !a.EndsAt.IsZero() && a.EndsAt.Before(a.StartsAt):
		return "start time must be before end time"
	case len(a.Labels) == 0:
		return "at least one label pair required"
	}
	if err := validateSet(a.Labels); err != "" {
		return "invalid label set: " + err
	}
	if err := validateSet(a.Annotations); err != "" {
		return "invalid annotations: " + err
	}
	return ""
}

func validateSet(set map[string]string) string {
	for _, k := range slices.Sorted(maps.Keys(set)) {
		if !labelName.MatchString(k) {
			return fmt.Sprintf("invalid name %q", k)
		}
		if !utf8.ValidString(set[k]) {
			return fmt.Sprintf("invalid value %q", set[k])
		}
	}
	return ""
}

// store is Alertmanager's in-memory Put: an alert whose active interval
// overlaps the stored one's is merged into it, any other replaces it.
func (s *Server) store(a Alert, now time.Time) {
	key := labelKey(a.Labels)
	if old, ok := s.alerts[key]; ok {
		if (a.EndsAt.After(old.StartsAt) && a.EndsAt.Before(old.EndsAt)) ||
			(a.StartsAt.After(old.StartsAt) && a.StartsAt.Before(old.EndsAt)) {
			a = merge(*old, a, now)
		}
	}
	s.alerts[key] = &a
}

// merge is Alertmanager's Alert.Merge: the younger alert's annotations,
// the earliest start, and the end that rules.
func merge(a, o Alert, now time.Time) Alert {
	if o.UpdatedAt.Before(a.UpdatedAt) {
		a, o = o, a
	}
	res := o
	if a.StartsAt.Before(o.StartsAt) {
		res.StartsAt = a.StartsAt
	}
	resolved := func(x Alert) bool { return !x.EndsAt.After(now) }
	if resolved(o) {
		// The latest explicit resolved timestamp wins if both are resolved.
		if resolved(a) && a.EndsAt.After(o.EndsAt) {
			res.EndsAt = a.EndsAt
		}
	} else if a.EndsAt.After(o.EndsAt) && !a.Timeout {
		// A non-timeout timestamp always rules if it is the latest.
		res.EndsAt = a.EndsAt
	}
	return res
}

// labelKey identifies a label set, as Alertmanager's fingerprint does.
func labelKey(labels map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		b.WriteString(k + "\xff" + labels[k] + "\xff")
	}
	return b.String()
}

// apiError is go-openapi's error body.
func apiError(code int, msg string) string {
	b, _ := json.Marshal(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{code, msg})
	return string(b)
}

func reply(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// recorder keeps what was answered, for Received.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body.Write(p)
	return r.ResponseWriter.Write(p)
}
