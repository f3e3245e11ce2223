// Package wecomtest runs a local stand-in for WeCom (企业微信) group robots
// on 127.0.0.1. A real client posts to it; it checks what WeCom checks (the
// key, the message type, the content's size in UTF-8 bytes, a robot's 20
// messages a minute), answers as WeCom does (HTTP 200 with errcode and
// errmsg, or an injected failure) and keeps the messages each robot
// accepted.
//
// It shares no code with notify/wecom, so that a mistake in the client is
// not mirrored here.
package wecomtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Limits WeCom documents for group robots.
const (
	MaxMarkdownBytes = 4096 // markdown.content
	MaxTextBytes     = 2048 // text.content
	PerMinute        = 20   // messages per robot per minute
)

// Received is one message a robot accepted.
type Received struct {
	Key     string // the robot's key
	MsgType string // "markdown" or "text"
	Content string
	// MentionedList and MentionedMobileList are a text message's mentions;
	// WeCom ignores them on markdown, and so are they here.
	MentionedList       []string
	MentionedMobileList []string
	Body                []byte // the request body as sent
}

// Readable renders a received message for a terminal: a markdown message's
// content; a text message's content, then who it mentions.
func (r Received) Readable() string {
	if r.MsgType != "text" {
		return r.Content
	}
	var who []string
	for _, u := range r.MentionedList {
		who = append(who, "@"+u)
	}
	for _, m := range r.MentionedMobileList {
		who = append(who, "@"+m)
	}
	if len(who) == 0 {
		return r.Content
	}
	return r.Content + "\n\nMentions: " + strings.Join(who, " ")
}

// Failure makes a robot fail the way WeCom can.
type Failure struct {
	// Errcode, when not 0, makes the robot answer HTTP 200 {"errcode":
	// Errcode, "errmsg": Errmsg}; an empty Errmsg is WeCom's own for the
	// code, with its hint, from-ip and more-info suffix.
	Errcode int
	Errmsg  string
	// Status is the HTTP status to answer with when Errcode is 0 (0 means
	// 500), with Body as the body and RetryAfter, when > 0, as the
	// Retry-After header in seconds.
	Status     int
	Body       string
	RetryAfter int
	// After is how many requests go through normally before the failure
	// applies ("the second post fails": After 1).
	After int
	// Times is how many requests fail before the robot works again; 0
	// means every request until Fail is called again.
	Times int
}

// Server is the stand-in. Its zero value is not usable: call NewServer.
type Server struct {
	URL string // base URL, http://127.0.0.1:<port>

	srv *httptest.Server

	mu       sync.Mutex
	now      func() time.Time
	robots   map[string]*robot
	attempts map[string]int // by key, unknown keys included
	received []Received
	hints    int
}

type robot struct {
	sent    []time.Time // accepted messages, for the rate limit
	failure *Failure
	skip    int // requests left before failure applies
	left    int // failures left when failure.Times > 0
}

// NewServer starts a server on 127.0.0.1. Close it when done.
func NewServer() *Server {
	s := &Server{now: time.Now, robots: map[string]*robot{}, attempts: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /cgi-bin/webhook/send", s.serve)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	return s
}

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// SetClock replaces the clock of the rate limit (time.Now by default), so
// that a test can send more than PerMinute messages "within a minute" on
// any machine, or let a minute pass.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	s.now = now
	s.mu.Unlock()
}

// WebhookURL makes a robot with the given key and returns its webhook URL.
// A key that was never handed out gets errcode 93000, as WeCom's "invalid
// webhook url".
func (s *Server) WebhookURL(key string) string {
	s.mu.Lock()
	if s.robots[key] == nil {
		s.robots[key] = &robot{}
	}
	s.mu.Unlock()
	return s.URL + "/cgi-bin/webhook/send?key=" + url.QueryEscape(key)
}

// Fail makes the robot with key fail as f says; Fail(key, Failure{}) makes
// it work again.
func (s *Server) Fail(key string, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.robots[key]
	if r == nil {
		r = &robot{}
		s.robots[key] = r
	}
	if f == (Failure{}) {
		r.failure = nil
		return
	}
	r.failure, r.skip, r.left = &f, f.After, f.Times
}

// Received returns the messages accepted so far, oldest first. Rejected
// requests are not included: this is what the groups would show.
func (s *Server) Received() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Received, len(s.received))
	copy(out, s.received)
	return out
}

// Attempts returns how many requests were made with key, rejected ones
// (and those with a key never handed out) included: what a client's
// retries cost.
func (s *Server) Attempts(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts[key]
}

// errmsgs are WeCom's messages for the codes it answers here.
var errmsgs = map[int]string{
	-1:    "system busy",
	93000: "invalid webhook url",
	40008: "invalid message type",
	44004: "empty content",
	45009: "api freq out of limit",
	45033: "api concurrent out of limit",
}

type request struct {
	MsgType  string `json:"msgtype"`
	Markdown *struct {
		Content string `json:"content"`
	} `json:"markdown"`
	Text *struct {
		Content             string   `json:"content"`
		MentionedList       []string `json:"mentioned_list"`
		MentionedMobileList []string `json:"mentioned_mobile_list"`
	} `json:"text"`
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	key := r.URL.Query().Get("key")
	reply := func(code int, msg string) {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		io.WriteString(w, `{"errcode":`+strconv.Itoa(code)+`,"errmsg":`+strconv.Quote(msg)+`}`)
	}
	fail := func(code int, msg string) { reply(code, s.errmsg(code, msg)) }

	s.mu.Lock()
	s.attempts[key]++
	rb := s.robots[key]
	f := rb.injected()
	s.mu.Unlock()
	if rb == nil {
		fail(93000, "")
		return
	}
	if f != nil {
		if f.Errcode != 0 {
			if f.Errmsg != "" {
				reply(f.Errcode, f.Errmsg)
			} else {
				fail(f.Errcode, "")
			}
			return
		}
		status := f.Status
		if status == 0 {
			status = http.StatusInternalServerError
		}
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
		}
		w.WriteHeader(status)
		io.WriteString(w, f.Body)
		return
	}

	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var req request
	if err != nil || json.Unmarshal(body, &req) != nil {
		fail(40008, "Warning: wrong json format. invalid message type")
		return
	}
	got := Received{Key: key, MsgType: req.MsgType, Body: body}
	switch {
	case req.MsgType == "markdown" && req.Markdown != nil:
		got.Content = req.Markdown.Content
		if len(got.Content) > MaxMarkdownBytes {
			fail(40058, "markdown.content exceed max length 4096. invalid Request Parameter")
			return
		}
	case req.MsgType == "text" && req.Text != nil:
		got.Content = req.Text.Content
		got.MentionedList, got.MentionedMobileList = req.Text.MentionedList, req.Text.MentionedMobileList
		if len(got.Content) > MaxTextBytes {
			fail(40058, "text.content exceed max length 2048. invalid Request Parameter")
			return
		}
	default:
		fail(40008, "")
		return
	}
	if got.Content == "" {
		fail(44004, "Warning: wrong json format. empty content")
		return
	}

	s.mu.Lock()
	now := s.now()
	recent := rb.sent[:0]
	for _, t := range rb.sent {
		if now.Sub(t) < time.Minute {
			recent = append(recent, t)
		}
	}
	rb.sent = recent
	if len(rb.sent) >= PerMinute {
		s.mu.Unlock()
		fail(45009, "")
		return
	}
	rb.sent = append(rb.sent, now)
	s.received = append(s.received, got)
	s.mu.Unlock()
	reply(0, "ok")
}

// injected returns the failure that applies to this request, if any, and
// counts it. The caller holds s.mu.
func (rb *robot) injected() *Failure {
	if rb == nil || rb.failure == nil {
		return nil
	}
	if rb.skip > 0 {
		rb.skip--
		return nil
	}
	f := rb.failure
	if f.Times > 0 {
		if rb.left--; rb.left <= 0 {
			rb.failure = nil
		}
	}
	return f
}

// errmsg is WeCom's errmsg: the message (msg, else the code's own) with a
// request hint, the caller's address and where to read more.
func (s *Server) errmsg(code int, msg string) string {
	if msg == "" {
		msg = errmsgs[code]
	}
	s.mu.Lock()
	s.hints++
	hint := s.hints
	s.mu.Unlock()
	return msg + ", hint: [" + strconv.Itoa(1700000000+hint) + "], from ip: 127.0.0.1, more info at https://open.work.weixin.qq.com/devtool/query?e=" + strconv.Itoa(code)
}
