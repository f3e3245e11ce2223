// Package slackapitest runs a local fake of the Slack Web API methods
// chat.postMessage and chat.update on 127.0.0.1, in the style of
// net/http/httptest, for tests that drive the real slack-go client against
// it (slack.New(token, slack.OptionAPIURL(srv.URL+"/"))).
//
// It checks what Slack checks for these two methods: the bot token (Bearer
// header or token form field: not_authed, invalid_auth), the channel
// (channel_not_found, not_in_channel), the message content (invalid_blocks,
// invalid_attachments, too_many_attachments, no_text, msg_too_long, with
// Slack's limits of 50 blocks per message counting blocks inside
// attachments, 3,000 characters of section text, 40,000 characters of
// text), thread_ts (thread_not_found) and the updated message
// (message_not_found). It answers in Slack's shapes: HTTP 200 with
// {"ok":false,"error":...} for errors, HTTP 429 with Retry-After for
// ratelimited, a non-JSON body for 5xx, and timestamps "<seconds>.<6
// digits>" that increase strictly. Failures the fake cannot derive
// (ratelimited, cant_update_message, edit_window_closed, server errors, ...)
// are injected with FailNext.
//
// It shares no code with the notifier, so that a mistake in the client is
// not mirrored by the fake. It is safe for concurrent use and no handler
// waits.
package slackapitest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"time"
)

// Identity of the bot the fake posts as, echoed in message objects.
const (
	botUserID = "U0FAKEBOT1"
	botID     = "B0FAKEBOT1"
	appID     = "A0FAKEAPP1"
	teamID    = "T0FAKETEAM"
)

// The two methods the fake serves.
const (
	methodPost   = "chat.postMessage"
	methodUpdate = "chat.update"
)

// Server is a fake Slack Web API. Its zero value is not usable: call
// NewServer.
type Server struct {
	// URL is the base URL, http://127.0.0.1:<port>, without a trailing
	// slash. Clients use URL+"/" as their API URL.
	URL string

	srv *httptest.Server

	mu       sync.Mutex
	tokens   map[string]bool
	channels map[string]bool                // channel -> the bot is a member
	messages map[string]map[string]*message // channel -> ts -> message
	calls    []Call
	fails    map[string][]Failure // method -> queued failures
	now      func() time.Time
	lastTS   int64 // microseconds of the last ts handed out
}

// message is a stored message with its ts as a number for ordering.
type message struct {
	Message
	at       int64
	editedTS string // when it was last updated
}

// Failure is an answer FailNext makes a call give instead of its own.
type Failure struct {
	// Error is Slack's error code: "ratelimited", "message_not_found",
	// "cant_update_message", "edit_window_closed", "channel_not_found",
	// "not_in_channel", "invalid_auth", "msg_too_long", "internal_error",
	// ... Empty means "ratelimited" with Status 429 and "internal_error"
	// otherwise.
	Error string
	// RetryAfter is sent with a 429 as the Retry-After header, in whole
	// seconds rounded up and at least 1.
	RetryAfter time.Duration
	// Status is the HTTP status. 0 means 429 for "ratelimited" and 200
	// (Slack's status for ok:false answers) for anything else. A status of
	// 500 or more answers a non-JSON body, as Slack's front end does.
	Status int
}

// Call is one request the server received.
type Call struct {
	Method string // "chat.postMessage", "chat.update" or the unknown path's method name
	// Channel is the channel field as sent.
	Channel string
	// TS is the updated message's ts as sent (chat.update) or the new
	// message's ts (chat.postMessage; "" if the call failed).
	TS string
	// ThreadTS is thread_ts as sent: for a reply to a reply it is the
	// reply's ts, while Message.ThreadTS is the parent's.
	ThreadTS       string
	ReplyBroadcast bool
	Text           string
	Blocks         string // the raw blocks JSON as sent ("" if none)
	Attachments    string // the raw attachments JSON as sent ("" if none)
	Error          string // the error code answered ("" when ok; "http_<status>" for a bare 5xx)
	Authorized     bool   // whether the call carried a token the server accepts
}

// Message is a message as it is now.
type Message struct {
	Channel     string
	TS          string
	ThreadTS    string // the parent's ts for a reply; empty for a top-level message
	Text        string
	Blocks      string // raw blocks JSON ("" if none)
	Attachments string // raw attachments JSON ("" if none)
	Edited      bool   // updated at least once
	Broadcast   bool   // a reply also sent to the channel (reply_broadcast)
	Replies     int    // for a parent: its replies, not counting forgotten ones
}

// NewServer starts a fake on 127.0.0.1 that accepts the given bot tokens.
// Close it when done.
func NewServer(tokens ...string) *Server {
	s := &Server{
		tokens:   map[string]bool{},
		channels: map[string]bool{},
		messages: map[string]map[string]*message{},
		fails:    map[string][]Failure{},
		now:      time.Now,
	}
	for _, t := range tokens {
		s.tokens[t] = true
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/"+methodPost, s.serveMethod(methodPost))
	mux.HandleFunc("/"+methodUpdate, s.serveMethod(methodUpdate))
	mux.HandleFunc("/", s.serveUnknown)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	return s
}

// Close shuts the server down, blocking until outstanding requests end.
func (s *Server) Close() { s.srv.Close() }

// AddChannel makes a channel exist with the bot as a member.
func (s *Server) AddChannel(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.channels[id] = true
}

// AddChannelNotIn makes a channel exist without the bot as a member: posts
// and updates in it answer not_in_channel.
func (s *Server) AddChannelNotIn(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.channels[id] = false
}

// Calls returns every call received so far, in the order they were
// handled.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Messages returns the channel's messages as they are now (after updates,
// without forgotten ones), top-level and replies together, in ts order.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	ms := make([]*message, 0, len(s.messages[channel]))
	for _, m := range s.messages[channel] {
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].at < ms[j].at })
	out := make([]Message, len(ms))
	for i, m := range ms {
		out[i] = m.Message
	}
	return out
}

// Message returns one message as it is now; false if it was never posted
// or was forgotten.
func (s *Server) Message(channel, ts string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.messages[channel][ts]
	if !ok {
		return Message{}, false
	}
	return m.Message, true
}

// FailNext makes the next call of method ("chat.postMessage" or
// "chat.update") answer f instead of what it would have answered, before
// any check (authentication included) and without changing any message.
// Failures queue: each FailNext fails one more call, in order.
func (s *Server) FailNext(method string, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fails[method] = append(s.fails[method], f)
}

// Forget deletes a message, as if someone had deleted it in Slack: later
// chat.update of it answers message_not_found and replies with its ts as
// thread_ts answer thread_not_found. Its replies stay. Forgetting a reply
// lowers its parent's reply count.
//
// Real Slack does not fail such a reply: it posts it as a top-level message
// whose answer lacks message.thread_ts (slack-go issue #1571). The fake
// answers thread_not_found instead so that tests see the orphaned reply.
func (s *Server) Forget(channel, ts string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.messages[channel][ts]
	if !ok {
		return
	}
	delete(s.messages[channel], ts)
	if m.ThreadTS != "" {
		if p, ok := s.messages[channel][m.ThreadTS]; ok && p.Replies > 0 {
			p.Replies--
		}
	}
}

// SetNow sets the clock whose seconds new ts values take (default
// time.Now; nil restores it).
func (s *Server) SetNow(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now == nil {
		now = time.Now
	}
	s.now = now
}

// nextTS hands out a ts: the clock's seconds, with a counter in the
// microseconds so that ts increase strictly even within one second or when
// the clock goes back. The caller holds s.mu.
func (s *Server) nextTS() (string, int64) {
	at := s.now().Unix() * 1e6
	if at <= s.lastTS {
		at = s.lastTS + 1
	}
	s.lastTS = at
	return fmt.Sprintf("%d.%06d", at/1e6, at%1e6), at
}
