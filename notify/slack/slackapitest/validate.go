package slackapitest

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// Slack's documented limits (chat.postMessage, Block Kit reference).
const (
	maxText        = 40000 // characters of a message's text
	maxBlocks      = 50    // per message, blocks inside attachments included
	maxAttachments = 100
	maxSection     = 3000 // characters of a section's text
	maxField       = 2000 // characters of a section field
	maxFields      = 10   // fields of a section
	maxHeader      = 150  // characters of a header
	maxMarkdown    = 12000
	maxContext     = 10 // elements of a context block
	maxBlockID     = 255
)

// blockTypes are the block types Slack accepts (those slack-go decodes, so
// that the echoed message object decodes too).
var blockTypes = map[string]bool{
	"actions": true, "alert": true, "auth_provider": true, "call": true,
	"card": true, "carousel": true, "container": true, "context": true,
	"context_actions": true, "data_table": true, "data_visualization": true,
	"divider": true, "file": true, "header": true, "image": true,
	"input": true, "layout": true, "markdown": true, "plan": true,
	"rich_text": true, "section": true, "table": true, "task_card": true,
	"video": true,
}

type textObject struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type block struct {
	Type     string            `json:"type"`
	BlockID  string            `json:"block_id"`
	Text     json.RawMessage   `json:"text"`
	Fields   []json.RawMessage `json:"fields"`
	Elements []json.RawMessage `json:"elements"`
}

// nonEmptyArray returns raw unless it is empty, null or an empty JSON
// array. Malformed JSON is returned as is, for checkContent to refuse.
func nonEmptyArray(raw string) string {
	if strings.TrimSpace(raw) == "" {
		return ""
	}
	var a []json.RawMessage
	if err := json.Unmarshal([]byte(raw), &a); err != nil {
		return raw
	}
	if len(a) == 0 {
		return ""
	}
	return raw
}

// checkContent returns the error code Slack answers for a message with
// this text, blocks and attachments (raw JSON arrays, "" for none), or ""
// when Slack accepts it. It does not check for no_text.
func checkContent(text, blocks, attachments string) string {
	var all []json.RawMessage
	if strings.TrimSpace(blocks) != "" {
		bs, ok := parseArray(blocks)
		if !ok {
			return "invalid_blocks"
		}
		all = append(all, bs...)
	}
	if strings.TrimSpace(attachments) != "" {
		as, ok := parseArray(attachments)
		if !ok {
			return "invalid_attachments"
		}
		if len(as) > maxAttachments {
			return "too_many_attachments"
		}
		for _, a := range as {
			var fields map[string]json.RawMessage
			if err := json.Unmarshal(a, &fields); err != nil || fields == nil {
				return "invalid_attachments"
			}
			raw := bytes.TrimSpace(fields["blocks"])
			if len(raw) == 0 || string(raw) == "null" {
				continue
			}
			bs, ok := parseArray(string(raw))
			if !ok {
				return "invalid_attachments"
			}
			all = append(all, bs...)
		}
	}
	if len(all) > maxBlocks {
		return "invalid_blocks"
	}
	ids := map[string]bool{}
	for _, raw := range all {
		var b block
		if err := json.Unmarshal(raw, &b); err != nil || !validBlock(b) {
			return "invalid_blocks"
		}
		if b.BlockID != "" {
			if ids[b.BlockID] {
				return "invalid_blocks" // block_id must be unique in a message
			}
			ids[b.BlockID] = true
		}
	}
	if utf8.RuneCountInString(text) > maxText {
		return "msg_too_long"
	}
	return ""
}

// parseArray parses a JSON array; null counts as empty.
func parseArray(raw string) ([]json.RawMessage, bool) {
	var a []json.RawMessage
	if err := json.Unmarshal([]byte(raw), &a); err != nil {
		return nil, false
	}
	return a, true
}

func validBlock(b block) bool {
	if !blockTypes[b.Type] || utf8.RuneCountInString(b.BlockID) > maxBlockID {
		return false
	}
	n := utf8.RuneCountInString
	switch b.Type {
	case "section":
		if len(b.Text) == 0 && len(b.Fields) == 0 {
			return false
		}
		if len(b.Text) > 0 {
			t, ok := parseText(b.Text)
			if !ok || !textType(t.Type) || t.Text == "" || n(t.Text) > maxSection {
				return false
			}
		}
		if len(b.Fields) > maxFields {
			return false
		}
		for _, raw := range b.Fields {
			t, ok := parseText(raw)
			if !ok || !textType(t.Type) || t.Text == "" || n(t.Text) > maxField {
				return false
			}
		}
	case "header":
		t, ok := parseText(b.Text)
		if !ok || t.Type != "plain_text" || t.Text == "" || n(t.Text) > maxHeader {
			return false
		}
	case "context":
		if len(b.Elements) == 0 || len(b.Elements) > maxContext {
			return false
		}
	case "markdown":
		var s string
		if err := json.Unmarshal(b.Text, &s); err != nil || s == "" || n(s) > maxMarkdown {
			return false
		}
	}
	return true
}

func parseText(raw json.RawMessage) (textObject, bool) {
	var t textObject
	if len(raw) == 0 || json.Unmarshal(raw, &t) != nil {
		return t, false
	}
	return t, true
}

func textType(t string) bool { return t == "plain_text" || t == "mrkdwn" }
