package slackapitest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// answer is what a handler writes back.
type answer struct {
	status     int
	body       map[string]any // JSON body; nil with text
	text       string         // non-JSON body (5xx)
	retryAfter int            // seconds; sent when > 0
}

func errorAnswer(code string) answer {
	return answer{status: http.StatusOK, body: map[string]any{"ok": false, "error": code}}
}

func (a answer) write(w http.ResponseWriter) {
	if a.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(a.retryAfter))
	}
	if a.body == nil {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(a.status)
		_, _ = w.Write([]byte(a.text))
		return
	}
	b, err := json.Marshal(a.body)
	if err != nil {
		b = []byte(`{"ok":false,"error":"internal_error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(a.status)
	_, _ = w.Write(b)
}

// failureAnswer turns an injected failure into an answer and the error
// code to record.
func failureAnswer(f Failure) (answer, string) {
	status, code := f.Status, f.Error
	if status == 0 {
		status = http.StatusOK
		if code == "ratelimited" {
			status = http.StatusTooManyRequests
		}
	}
	switch {
	case status == http.StatusTooManyRequests:
		if code == "" {
			code = "ratelimited"
		}
		secs := int((f.RetryAfter + time.Second - 1) / time.Second)
		if secs < 1 {
			secs = 1
		}
		a := errorAnswer(code)
		a.status, a.retryAfter = status, secs
		return a, code
	case status >= 500:
		if code == "" {
			code = fmt.Sprintf("http_%d", status)
		}
		text := fmt.Sprintf("<html><body><h1>%d %s</h1></body></html>\n", status, http.StatusText(status))
		return answer{status: status, text: text}, code
	default:
		if code == "" {
			code = "internal_error"
		}
		a := errorAnswer(code)
		a.status = status
		return a, code
	}
}

// serveUnknown answers every path but the two methods, as Slack answers an
// unknown method.
func (s *Server) serveUnknown(w http.ResponseWriter, r *http.Request) {
	req, _ := readRequest(w, r)
	c := Call{
		Method:     strings.TrimPrefix(r.URL.Path, "/"),
		Channel:    req.channel,
		Text:       req.text,
		Error:      "unknown_method",
		Authorized: s.authorized(req),
	}
	s.mu.Lock()
	s.calls = append(s.calls, c)
	s.mu.Unlock()
	a := errorAnswer("unknown_method")
	a.status = http.StatusNotFound
	a.write(w)
}

func (s *Server) authorized(req request) bool {
	if req.token == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens[req.token]
}

// serveMethod serves chat.postMessage or chat.update. Only POST is served
// (405 otherwise, though Slack also takes GET): the clients under test post.
func (s *Server) serveMethod(method string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			a := errorAnswer("method_not_allowed")
			a.status = http.StatusMethodNotAllowed
			w.Header().Set("Allow", http.MethodPost)
			a.write(w)
			return
		}
		req, parseErr := readRequest(w, r)
		s.mu.Lock()
		c := Call{
			Method:         method,
			Channel:        req.channel,
			ThreadTS:       req.threadTS,
			ReplyBroadcast: req.broadcast,
			Text:           req.text,
			Blocks:         req.blocks,
			Attachments:    req.attachments,
			Authorized:     req.token != "" && s.tokens[req.token],
		}
		if method == methodUpdate {
			c.TS = req.ts
		}
		var a answer
		if q := s.fails[method]; len(q) > 0 {
			s.fails[method] = q[1:]
			a, c.Error = failureAnswer(q[0])
		} else {
			switch {
			case parseErr != "":
				a = errorAnswer(parseErr)
			case req.token == "":
				a = errorAnswer("not_authed")
			case !c.Authorized:
				a = errorAnswer("invalid_auth")
			case method == methodPost:
				a = s.post(req)
			default:
				a = s.update(req)
			}
			if ok, _ := a.body["ok"].(bool); !ok {
				c.Error, _ = a.body["error"].(string)
			} else if method == methodPost {
				c.TS, _ = a.body["ts"].(string)
			}
		}
		s.calls = append(s.calls, c)
		s.mu.Unlock()
		a.write(w)
	}
}

// checkChannel answers channel_not_found or not_in_channel, or "". The
// caller holds s.mu.
func (s *Server) checkChannel(channel string) string {
	member, ok := s.channels[channel]
	switch {
	case !ok:
		return "channel_not_found"
	case !member:
		return "not_in_channel"
	}
	return ""
}

// post handles an authorized chat.postMessage. The caller holds s.mu.
func (s *Server) post(req request) answer {
	if code := s.checkChannel(req.channel); code != "" {
		return errorAnswer(code)
	}
	if !req.hasContent() {
		return errorAnswer("no_text")
	}
	if code := checkContent(req.text, req.blocks, req.attachments); code != "" {
		return errorAnswer(code)
	}
	var parent *message
	if req.threadTS != "" {
		msgs := s.messages[req.channel]
		p, ok := msgs[req.threadTS]
		if ok && p.ThreadTS != "" {
			// A reply's ts names its thread, as in Slack.
			p, ok = msgs[p.ThreadTS]
		}
		if !ok {
			return errorAnswer("thread_not_found")
		}
		parent = p
	}
	ts, at := s.nextTS()
	m := &message{at: at, Message: Message{
		Channel:     req.channel,
		TS:          ts,
		Text:        req.text,
		Blocks:      nonEmptyArray(req.blocks),
		Attachments: nonEmptyArray(req.attachments),
	}}
	if parent != nil {
		m.ThreadTS = parent.TS
		m.Broadcast = req.broadcast
		parent.Replies++
	}
	if s.messages[req.channel] == nil {
		s.messages[req.channel] = map[string]*message{}
	}
	s.messages[req.channel][ts] = m
	return answer{status: http.StatusOK, body: map[string]any{
		"ok":      true,
		"channel": req.channel,
		"ts":      ts,
		"message": messageObject(m),
	}}
}

// update handles an authorized chat.update. The caller holds s.mu.
func (s *Server) update(req request) answer {
	if code := s.checkChannel(req.channel); code != "" {
		return errorAnswer(code)
	}
	m, ok := s.messages[req.channel][req.ts]
	if !ok {
		return errorAnswer("message_not_found")
	}
	if !req.hasContent() {
		return errorAnswer("no_text")
	}
	// As Slack documents for chat.update: fields left out keep their
	// value; an empty blocks or attachments array removes them.
	next := m.Message
	if req.hasText {
		next.Text = req.text
	}
	if req.hasBlocks {
		next.Blocks = nonEmptyArray(req.blocks)
	}
	if req.hasAttachments {
		next.Attachments = nonEmptyArray(req.attachments)
	}
	if code := checkContent(next.Text, next.Blocks, next.Attachments); code != "" {
		return errorAnswer(code)
	}
	next.Edited = true
	m.Message = next
	m.editedTS = fmt.Sprintf("%d.000000", s.now().Unix())
	return answer{status: http.StatusOK, body: map[string]any{
		"ok":      true,
		"channel": req.channel,
		"ts":      m.TS,
		"text":    m.Text,
		"message": messageObject(m),
	}}
}

// messageObject is the "message" object of a successful answer, shaped
// like what Slack returns for a bot token's message.
func messageObject(m *message) map[string]any {
	o := map[string]any{
		"type":   "message",
		"user":   botUserID,
		"bot_id": botID,
		"app_id": appID,
		"team":   teamID,
		"text":   m.Text,
		"ts":     m.TS,
	}
	if m.Blocks != "" {
		o["blocks"] = json.RawMessage(m.Blocks)
	}
	if m.Attachments != "" {
		o["attachments"] = json.RawMessage(m.Attachments)
	}
	if m.ThreadTS != "" {
		o["thread_ts"] = m.ThreadTS
		o["parent_user_id"] = botUserID
		if m.Broadcast {
			o["subtype"] = "thread_broadcast"
		}
	}
	if m.Edited {
		o["edited"] = map[string]any{"user": botUserID, "ts": m.editedTS}
	}
	return o
}
