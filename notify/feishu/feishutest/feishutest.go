// Package feishutest runs a local stand-in for Feishu (and Lark) custom bots
// on 127.0.0.1. Real clients post to it; it checks what Feishu checks (the
// webhook token, the signature of a bot with a signing secret, a bot's
// custom keywords, the 20 KB body limit, the message type and the basics of
// a card's schema, and each bot's frequency limit of 5 messages a second
// and 100 a minute), answers the way Feishu does ({"code":…,"msg":…} with
// Feishu's codes), lets a test inject failures, and keeps what each bot
// accepted.
//
// It deliberately shares no code with notify/feishu, so that a mistake in
// the client is not mirrored by the fake.
package feishutest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"
)

// Feishu's limits for one custom bot (自定义机器人使用指南).
const (
	MaxBody   = 20000 // "请求体的数据大小不能超过 20 KB", read as 20,000 bytes
	PerSecond = 5     // "单租户单机器人 100 次/分钟，5 次/秒"
	PerMinute = 100
	// signWindow is how far a signature's timestamp may be from now.
	signWindow = time.Hour
)

// Feishu's codes and messages, as its bots answer them.
const (
	CodeOK             = 0
	CodeBadRequest     = 9499  // malformed body ("Bad Request")
	CodeTokenInvalid   = 19001 // unknown webhook token
	CodeNoMsgType      = 19002 // no or bad msg_type
	CodeSignMismatch   = 19021 // bad signature or timestamp over an hour off
	CodeIPNotAllowed   = 19022 // caller not on the IP allow-list (inject with Fail)
	CodeKeywordMissing = 19024 // no custom keyword in the message
	CodeTooLarge       = 19036 // message over the size limit
	CodeFrequency      = 11232 // frequency limit
)

var messages = map[int]string{
	CodeBadRequest:     "Bad Request",
	CodeTokenInvalid:   "param invalid: incoming webhook access token invalid",
	CodeNoMsgType:      "incorrect input format or can't find msg_type",
	CodeSignMismatch:   "sign match fail or timestamp is not within one hour from current time",
	CodeIPNotAllowed:   "Ip Not Allowed",
	CodeKeywordMissing: "Key Words Not Found",
	// Feishu's own words, whatever the documented 20 KB says.
	CodeTooLarge:  "The message exceeds the size limit of 30KB",
	CodeFrequency: "frequency limited psm[lark.oapi.app_platform_runtime]appID[1500]",
}

// Received is one message a bot accepted.
type Received struct {
	Bot  string    // the name given to Hook
	Body []byte    // the request body as sent
	At   time.Time // when it arrived, by the server's clock
}

// Failure makes a bot fail the way Feishu can.
type Failure struct {
	// Code, when not 0, makes the bot answer {"code":Code,"msg":Msg,"data":{}}
	// with HTTP Status (200 when 0), as Feishu does; Msg defaults to
	// Feishu's own words for the code.
	Code int
	Msg  string
	// Status, with Code 0, is the HTTP status to answer with (500 when 0),
	// and Body the response body.
	Status int
	Body   string
	// RetryAfter, when > 0, is sent as the Retry-After header (seconds).
	RetryAfter int
	// Times is how many requests fail before the bot works again; 0 means
	// every request until Fail is called again.
	Times int
}

type bot struct {
	name     string
	secret   string
	keywords []string
	sends    []time.Time // requests that counted against the frequency limit, ascending
}

// Server is the fake. Its zero value is not usable: call NewServer.
type Server struct {
	URL string // base URL, http://127.0.0.1:<port>
	// Now is the clock for signatures and frequency limits; a test may
	// replace it before the first request.
	Now func() time.Time

	srv *httptest.Server

	mu        sync.Mutex
	bots      map[string]*bot   // by token
	tokens    map[string]string // name -> token
	received  []Received
	failures  map[string]Failure
	remaining map[string]int
	attempts  map[string]int
}

// NewServer starts a fake on 127.0.0.1. Close it when done.
func NewServer() *Server {
	s := &Server{
		Now:       time.Now,
		bots:      map[string]*bot{},
		tokens:    map[string]string{},
		failures:  map[string]Failure{},
		remaining: map[string]int{},
		attempts:  map[string]int{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /open-apis/bot/v2/hook/{token}", s.serve)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	return s
}

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// Hook returns the webhook URL of a bot called name with the given token,
// as Feishu shows it (…/open-apis/bot/v2/hook/<token>). Posting with a
// token never handed out gives code 19001.
func (s *Server) Hook(name, token string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.tokens[name]; ok {
		delete(s.bots, old)
	}
	s.tokens[name] = token
	s.bots[token] = &bot{name: name}
	return s.URL + "/open-apis/bot/v2/hook/" + token
}

// RequireSecret turns on signature verification (签名校验) for the bot
// called name: a request must carry timestamp (seconds, a string, within an
// hour of now) and sign = base64(HMAC-SHA256 keyed by timestamp+"\n"+secret,
// of nothing), else code 19021.
func (s *Server) RequireSecret(name, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.bot(name); b != nil {
		b.secret = secret
	}
}

// RequireKeyword turns on custom keywords (自定义关键词) for the bot called
// name: a message none of whose texts holds one of them gets code 19024.
func (s *Server) RequireKeyword(name string, keywords ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.bot(name); b != nil {
		b.keywords = keywords
	}
}

func (s *Server) bot(name string) *bot {
	if t, ok := s.tokens[name]; ok {
		return s.bots[t]
	}
	return nil
}

// Fail makes the bot called name fail as f says, after the token and
// signature checks; Fail(name, Failure{}) makes it work again.
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

// Received returns the messages accepted so far, oldest first: what the
// groups would show.
func (s *Server) Received() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.received...)
}

// Attempts returns how many requests the bot called name has had, the
// rejected ones included: what a client's retries cost.
func (s *Server) Attempts(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts[name]
}

func reply(w http.ResponseWriter, status, code int, msg string) {
	body := map[string]any{"code": code, "msg": msg, "data": map[string]any{}}
	if code == CodeOK {
		// Kept by Feishu "for compatibility with existing logic".
		body["StatusCode"], body["StatusMessage"] = 0, msg
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

func fail(w http.ResponseWriter, code int, detail string) {
	msg := messages[code]
	if detail != "" {
		msg += ": " + detail
	}
	reply(w, http.StatusOK, code, msg)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	now := s.Now()
	s.mu.Lock()
	b := s.bots[r.PathValue("token")]
	var name, secret string
	var keywords []string
	if b != nil {
		name, secret, keywords = b.name, b.secret, b.keywords
		s.attempts[name]++
	}
	s.mu.Unlock()
	if b == nil {
		fail(w, CodeTokenInvalid, "")
		return
	}

	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		fail(w, CodeBadRequest, "")
		return
	}
	if len(body) > MaxBody {
		fail(w, CodeTooLarge, "")
		return
	}
	var env struct {
		Timestamp *string         `json:"timestamp"`
		Sign      string          `json:"sign"`
		MsgType   string          `json:"msg_type"`
		Content   json.RawMessage `json:"content"`
		Card      json.RawMessage `json:"card"`
	}
	if json.Unmarshal(body, &env) != nil {
		fail(w, CodeBadRequest, "")
		return
	}
	if secret != "" && !validSign(env.Timestamp, env.Sign, secret, now) {
		fail(w, CodeSignMismatch, "")
		return
	}
	if !s.admit(name, now) {
		fail(w, CodeFrequency, "")
		return
	}
	if f, ok := s.failure(name); ok {
		writeFailure(w, f)
		return
	}
	if code, detail := checkMessage(env.MsgType, env.Content, env.Card); code != CodeOK {
		fail(w, code, detail)
		return
	}
	if len(keywords) > 0 && !hasKeyword(body, keywords) {
		fail(w, CodeKeywordMissing, "")
		return
	}
	s.mu.Lock()
	s.received = append(s.received, Received{Bot: name, Body: body, At: now})
	s.mu.Unlock()
	reply(w, http.StatusOK, CodeOK, "success")
}

// validSign checks Feishu's signature: timestamp in seconds, as a string,
// within an hour of now, and sign as the bot guide computes it.
func validSign(timestamp *string, sign, secret string, now time.Time) bool {
	if timestamp == nil {
		return false
	}
	ts, err := strconv.ParseInt(*timestamp, 10, 64)
	if err != nil {
		return false
	}
	if d := now.Sub(time.Unix(ts, 0)); d > signWindow || d < -signWindow {
		return false
	}
	mac := hmac.New(sha256.New, []byte(*timestamp+"\n"+secret))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	return hmac.Equal([]byte(sign), []byte(want))
}

// admit counts a request against the bot's frequency limit: no more than
// PerSecond in any second and PerMinute in any minute; a request over it is
// refused and does not count.
func (s *Server) admit(name string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bot(name)
	if b == nil {
		return false
	}
	drop := 0
	for drop < len(b.sends) && !b.sends[drop].After(now.Add(-time.Minute)) {
		drop++
	}
	b.sends = b.sends[drop:]
	lastSecond := 0
	for _, t := range b.sends {
		if t.After(now.Add(-time.Second)) {
			lastSecond++
		}
	}
	if lastSecond >= PerSecond || len(b.sends) >= PerMinute {
		return false
	}
	b.sends = append(b.sends, now)
	return true
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

func writeFailure(w http.ResponseWriter, f Failure) {
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
	}
	if f.Code != 0 {
		msg := f.Msg
		if msg == "" {
			msg = messages[f.Code]
		}
		status := f.Status
		if status == 0 {
			status = http.StatusOK
		}
		reply(w, status, f.Code, msg)
		return
	}
	status := f.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	w.WriteHeader(status)
	io.WriteString(w, f.Body)
}
