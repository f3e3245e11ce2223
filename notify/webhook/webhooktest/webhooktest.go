// Package webhooktest runs a local receiver of backlog-alert's generic
// webhook (notify/webhook) on 127.0.0.1, in the style of net/http/httptest.
// It checks what a careful receiver checks, in this order, and answers as
// one would:
//
//   - the method: POST, else 405;
//   - the size: at most MaxBody bytes, else 413;
//   - the signature, when the server has a secret (Verify: the HMAC over
//     timestamp and raw body, and a timestamp within DefaultMaxAge of its clock, see SetMaxAge),
//     else 401 with the reason;
//   - the headers required with RequireHeader (an API key), else 401;
//   - then a failure injected with Fail, if any (any status, Retry-After,
//     Location);
//   - Content-Type application/json, else 415;
//   - the document against version 1 of the schema (Validate), else 400
//     with the first problem;
//
// and records the documents it accepts, answering 200. It shares no code
// with the notifier, so that a mistake in the client is not mirrored here;
// Verify is the reference implementation of the signature check that a
// receiver may copy. It is safe for concurrent use.
package webhooktest

import (
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// MaxBody is the largest document the server takes: the 1 MiB a
// backlog-alert document is kept within.
const MaxBody = 1 << 20

// Received is a request the server accepted.
type Received struct {
	Path   string
	Header http.Header
	Body   []byte // the document as sent
}

// Failure is an answer the server gives instead of its own, after the
// signature and required headers were checked.
type Failure struct {
	// Status is the HTTP status; 0 means 500.
	Status int
	// Body is the response body.
	Body string
	// RetryAfter, when set, is sent verbatim as Retry-After: seconds
	// ("2") or an HTTP date.
	RetryAfter string
	// Location, when set, is sent as Location (for a 3xx).
	Location string
	// Times is how many requests fail before the server works again; 0
	// means every request until Fail is called again.
	Times int
}

// Server is the receiver. Its zero value is not usable: call NewServer.
type Server struct {
	// URL is the base URL, http://127.0.0.1:<port>; every path under it
	// receives.
	URL string

	srv *httptest.Server

	mu        sync.Mutex
	secret    string
	maxAge    time.Duration
	now       func() time.Time
	required  map[string]string
	failure   *Failure
	remaining int
	received  []Received
	attempts  int
	rejected  []string
}

// NewServer starts a receiver on 127.0.0.1 that requires requests signed
// with secret, or takes them unsigned when secret is empty. Close it when
// done.
func NewServer(secret string) *Server {
	s := &Server{secret: secret, maxAge: DefaultMaxAge, now: time.Now, required: map[string]string{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// RequireHeader makes the server answer 401 to a request whose header name
// is not value.
func (s *Server) RequireHeader(name, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.required[http.CanonicalHeaderKey(name)] = value
}

// SetMaxAge sets how far a signature's timestamp may be from the server's
// clock; DefaultMaxAge unless set.
func (s *Server) SetMaxAge(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxAge = d
}

// SetNow replaces the server's clock (time.Now).
func (s *Server) SetNow(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// Fail makes the server answer as f says; Fail(Failure{}) makes it work
// again.
func (s *Server) Fail(f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == (Failure{}) {
		s.failure = nil
		return
	}
	s.failure, s.remaining = &f, f.Times
}

// Received returns the documents accepted so far, oldest first.
func (s *Server) Received() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.received...)
}

// Attempts returns how many requests the server has had, the refused and
// failed ones included: what a client's retries cost the receiver.
func (s *Server) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// Rejected returns why the server refused requests (signature, headers,
// size, schema), oldest first; injected failures are not listed.
func (s *Server) Rejected() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.rejected...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.attempts++
	secret, maxAge, now := s.secret, s.maxAge, s.now()
	required := make(map[string]string, len(s.required))
	for k, v := range s.required {
		required[k] = v
	}
	s.mu.Unlock()

	refuse := func(status int, why string) {
		s.mu.Lock()
		s.rejected = append(s.rejected, why)
		s.mu.Unlock()
		http.Error(w, why, status)
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		refuse(http.StatusMethodNotAllowed, "method "+r.Method+" not allowed: POST")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		refuse(http.StatusBadRequest, "reading the body: "+err.Error())
		return
	}
	if len(body) > MaxBody {
		refuse(http.StatusRequestEntityTooLarge, "document over 1 MiB")
		return
	}
	if secret != "" {
		if err := Verify(secret, r.Header, body, now, maxAge); err != nil {
			refuse(http.StatusUnauthorized, "invalid signature: "+err.Error())
			return
		}
	}
	for k, want := range required {
		if got := r.Header.Get(k); got != want {
			refuse(http.StatusUnauthorized, "missing or wrong "+k)
			return
		}
	}
	if f, ok := s.takeFailure(); ok {
		status := f.Status
		if status == 0 {
			status = http.StatusInternalServerError
		}
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		if f.Location != "" {
			w.Header().Set("Location", f.Location)
		}
		w.WriteHeader(status)
		io.WriteString(w, f.Body)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		refuse(http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return
	}
	if err := Validate(body); err != nil {
		refuse(http.StatusBadRequest, "invalid document: "+err.Error())
		return
	}
	s.mu.Lock()
	s.received = append(s.received, Received{Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"ok":true}`)
}

// takeFailure returns the injected failure, if one applies to this
// request, and counts it.
func (s *Server) takeFailure() (Failure, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failure == nil {
		return Failure{}, false
	}
	f := *s.failure
	if f.Times > 0 {
		if s.remaining--; s.remaining <= 0 {
			s.failure = nil
		}
	}
	return f, true
}
