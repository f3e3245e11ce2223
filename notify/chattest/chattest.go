// Package chattest runs a local stand-in for Slack incoming webhooks and
// DingTalk custom robots on 127.0.0.1. Real clients post to it; it checks
// payloads against the services' documented limits, verifies DingTalk
// signatures, replies the way the services do (including their failure
// shapes) and keeps what each channel received. Tests use it, and so does the
// product's demo command, which is why this is an ordinary package.
//
// It deliberately shares no code with the notify clients, so that a mistake
// in a client is not mirrored by the sink.
package chattest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Received is one message a channel accepted.
type Received struct {
	Channel string     // the name given to SlackURL or DingTalkURL
	Kind    string     // "slack" or "dingtalk"
	Body    []byte     // the request body as sent
	Query   url.Values // the request's query (DingTalk's access_token, timestamp, sign)
}

// Failure makes a channel fail the way a real service can.
type Failure struct {
	// Status is the HTTP status to answer with; 0 means 500. For DingTalk it
	// applies only when DingTalkErrcode is 0.
	Status int
	// Body is the response body (Slack's error code such as "no_service"), or
	// DingTalk's errmsg when DingTalkErrcode is set.
	Body string
	// DingTalkErrcode, when not 0, makes a DingTalk channel answer HTTP 200
	// {"errcode": DingTalkErrcode, "errmsg": Body}, as DingTalk does.
	DingTalkErrcode int
	// RetryAfter, when > 0, is sent as the Retry-After header (seconds).
	RetryAfter int
	// Times is how many requests fail before the channel works again; 0
	// means every request until Fail is called again. It applies to
	// DingTalkErrcode too.
	Times int
}

// Server is the sink. Its zero value is not usable: call NewServer.
type Server struct {
	URL string // base URL, http://127.0.0.1:<port>

	srv *httptest.Server

	mu        sync.Mutex
	received  []Received
	slack     map[string]bool   // known Slack channels
	tokens    map[string]string // DingTalk channel -> access_token
	secrets   map[string]string // DingTalk channel -> signing secret
	failures  map[string]Failure
	remaining map[string]int // failures left when Times > 0
	attempts  map[string]int // requests per channel, rejected ones included
}

// NewServer starts a sink on 127.0.0.1. Close it when done.
func NewServer() *Server {
	s := &Server{
		slack:     map[string]bool{},
		tokens:    map[string]string{},
		secrets:   map[string]string{},
		failures:  map[string]Failure{},
		remaining: map[string]int{},
		attempts:  map[string]int{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /slack/services/{team}/{bot}/{name}", s.serveSlack)
	mux.HandleFunc("POST /dingtalk/{name}/robot/send", s.serveDingTalk)
	mux.HandleFunc("/slack/", func(w http.ResponseWriter, r *http.Request) {
		// Slack answers any other hook path this way.
		http.Error(w, "no_service", http.StatusNotFound)
	})
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	return s
}

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// SlackURL returns an incoming-webhook URL for a channel called name.
// Posting to a Slack URL that was never handed out gives 404 no_service.
func (s *Server) SlackURL(name string) string {
	s.mu.Lock()
	s.slack[name] = true
	s.mu.Unlock()
	return s.URL + "/slack/services/T000/B000/" + url.PathEscape(name)
}

// DingTalkURL returns a robot URL for a channel called name with the given
// access token. A wrong or unknown token gives errcode 300001, as DingTalk's
// "token is not exist".
func (s *Server) DingTalkURL(name, token string) string {
	s.mu.Lock()
	s.tokens[name] = token
	s.mu.Unlock()
	return s.URL + "/dingtalk/" + url.PathEscape(name) + "/robot/send?access_token=" + url.QueryEscape(token)
}

// RequireDingTalkSecret makes the channel check timestamp and sign exactly as
// DingTalk does for a robot with a signing secret.
func (s *Server) RequireDingTalkSecret(name, secret string) {
	s.mu.Lock()
	s.secrets[name] = secret
	s.mu.Unlock()
}

// Fail makes the channel called name fail as f says; Fail(name, Failure{})
// makes it work again.
func (s *Server) Fail(name string, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == (Failure{}) {
		delete(s.failures, name)
		return
	}
	s.failures[name] = f
	s.remaining[name] = f.Times
}

// Received returns the messages accepted so far, oldest first. Rejected
// requests are not included: this is what the channels would show.
func (s *Server) Received() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Received, len(s.received))
	copy(out, s.received)
	return out
}

// Attempts returns how many requests the channel called name has had, the
// rejected ones (injected failures, bad signatures, invalid payloads)
// included: what a client's retries cost the service.
func (s *Server) Attempts(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts[name]
}

func (s *Server) count(name string) {
	s.mu.Lock()
	s.attempts[name]++
	s.mu.Unlock()
}

// failure returns the injected failure for name, if one applies to this
// request, and counts it.
func (s *Server) failure(name string) (Failure, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.failures[name]
	if !ok {
		return Failure{}, false
	}
	if f.Times > 0 {
		s.remaining[name]--
		if s.remaining[name] <= 0 {
			delete(s.failures, name)
		}
	}
	return f, true
}

func (s *Server) record(r Received) {
	s.mu.Lock()
	s.received = append(s.received, r)
	s.mu.Unlock()
}

// maxBody bounds what the sink reads; both services reject far less.
const maxBody = 1 << 20

func readBody(r *http.Request) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r.Body, maxBody))
}

func (s *Server) serveSlack(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	s.count(name)
	s.mu.Lock()
	known := s.slack[name]
	s.mu.Unlock()
	if !known {
		http.Error(w, "no_service", http.StatusNotFound)
		return
	}
	if f, ok := s.failure(name); ok {
		writeFailure(w, f)
		return
	}
	body, err := readBody(r)
	if err != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	if code := checkSlack(body); code != "" {
		http.Error(w, code, http.StatusBadRequest)
		return
	}
	s.record(Received{Channel: name, Kind: "slack", Body: body, Query: r.URL.Query()})
	io.WriteString(w, "ok")
}

// writeFailure answers with an injected HTTP failure (500 unless given).
func writeFailure(w http.ResponseWriter, f Failure) {
	status := f.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
	}
	w.WriteHeader(status)
	io.WriteString(w, f.Body)
}

func (s *Server) serveDingTalk(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	s.count(name)
	q := r.URL.Query()
	s.mu.Lock()
	token, known := s.tokens[name]
	secret := s.secrets[name]
	s.mu.Unlock()

	reply := func(code int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"errcode":`+strconv.Itoa(code)+`,"errmsg":`+strconv.Quote(msg)+`}`)
	}
	if !known || q.Get("access_token") != token {
		reply(300001, "token is not exist")
		return
	}
	if secret != "" {
		if msg := checkSign(q, secret, time.Now()); msg != "" {
			reply(310000, msg)
			return
		}
	}
	if f, ok := s.failure(name); ok {
		if f.DingTalkErrcode != 0 {
			reply(f.DingTalkErrcode, f.Body)
			return
		}
		writeFailure(w, f)
		return
	}
	body, err := readBody(r)
	if err != nil {
		reply(40035, "missing parameter json")
		return
	}
	if code, msg := checkDingTalk(body); code != 0 {
		reply(code, msg)
		return
	}
	s.record(Received{Channel: name, Kind: "dingtalk", Body: body, Query: q})
	reply(0, "ok")
}

// checkSign verifies DingTalk's signature: timestamp in Unix milliseconds
// within an hour of now, and sign = base64(HMAC-SHA256(secret,
// timestamp+"\n"+secret)) after the query has been decoded once. A client
// that encodes twice therefore fails here, as it does with DingTalk.
func checkSign(q url.Values, secret string, now time.Time) string {
	ts, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
	if err != nil {
		return "invalid timestamp"
	}
	if d := now.Sub(time.UnixMilli(ts)); d > time.Hour || d < -time.Hour {
		return "invalid timestamp"
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(q.Get("timestamp") + "\n" + secret))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(q.Get("sign")), []byte(want)) {
		return "sign not match"
	}
	return ""
}

// Readable renders a received message as plain text for a terminal: for
// Slack the header, section and context texts (mrkdwn kept) separated by
// blank lines; for DingTalk the title, the markdown text and who is
// @-mentioned.
func (r Received) Readable() string {
	switch r.Kind {
	case "slack":
		return readableSlack(r.Body)
	case "dingtalk":
		return readableDingTalk(r.Body)
	}
	return string(r.Body)
}

func joinNonEmpty(parts []string, sep string) string {
	var keep []string
	for _, p := range parts {
		if p != "" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, sep)
}
