package slackapitest

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// maxBody bounds what a request may send.
const maxBody = 4 << 20

// request holds the fields of a chat.postMessage or chat.update call.
type request struct {
	token     string
	channel   string
	text      string
	ts        string
	threadTS  string
	broadcast bool

	blocks      string // raw JSON as sent
	attachments string // raw JSON as sent

	hasText, hasBlocks, hasAttachments bool
}

// hasContent reports whether the call carries text, blocks or attachments.
func (r request) hasContent() bool {
	return r.text != "" || nonEmptyArray(r.blocks) != "" || nonEmptyArray(r.attachments) != ""
}

// readRequest reads the fields of r, and returns the error code Slack
// answers a body it cannot read with ("" when it can). The token comes from
// an "Authorization: Bearer" header or, in a form body, the token field;
// Slack does not read a token from a JSON body, so neither does this.
func readRequest(w http.ResponseWriter, r *http.Request) (request, string) {
	var req request
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		req.token = strings.TrimSpace(t)
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		return readJSON(r, req)
	case "application/x-www-form-urlencoded", "multipart/form-data":
		var err error
		if ct == "multipart/form-data" {
			err = r.ParseMultipartForm(maxBody)
		} else {
			err = r.ParseForm()
		}
		if err != nil {
			return req, "invalid_form_data"
		}
		readForm(r.Form, &req)
		return req, ""
	default:
		return req, "invalid_post_type"
	}
}

func readForm(f url.Values, req *request) {
	if req.token == "" {
		req.token = f.Get("token")
	}
	req.channel = f.Get("channel")
	req.ts = f.Get("ts")
	req.threadTS = f.Get("thread_ts")
	req.broadcast = f.Get("reply_broadcast") == "true" || f.Get("reply_broadcast") == "1"
	req.text, req.hasText = f.Get("text"), f.Has("text")
	req.blocks, req.hasBlocks = f.Get("blocks"), f.Has("blocks")
	req.attachments, req.hasAttachments = f.Get("attachments"), f.Has("attachments")
}

func readJSON(r *http.Request, req request) (request, string) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return req, "invalid_json"
	}
	if !json.Valid(body) {
		return req, "invalid_json"
	}
	var f map[string]json.RawMessage
	if err := json.Unmarshal(body, &f); err != nil || f == nil {
		return req, "json_not_object"
	}
	req.channel, _ = jsonString(f["channel"])
	req.ts, _ = jsonString(f["ts"])
	req.threadTS, _ = jsonString(f["thread_ts"])
	b, _ := jsonString(f["reply_broadcast"])
	req.broadcast = b == "true" || b == "1"
	req.text, req.hasText = jsonString(f["text"])
	req.blocks, req.hasBlocks = jsonArray(f["blocks"])
	req.attachments, req.hasAttachments = jsonArray(f["attachments"])
	return req, ""
}

// jsonString reads a JSON string, number or boolean as text; false when the
// field is absent or null.
func jsonString(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, true
	}
	return string(raw), true
}

// jsonArray reads a field that holds a JSON array, given either as the
// array itself or as a string containing it (as in a form body).
func jsonArray(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", false
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			return s, true
		}
	}
	return string(raw), true
}
