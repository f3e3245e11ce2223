package chattest

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// Limits the services enforce (Slack Block Kit reference, DingTalk robot
// documentation).
const (
	slackMaxBlocks      = 50
	slackMaxAttachments = 100
	slackMaxSection     = 3000
	slackMaxField       = 2000
	slackMaxFields      = 10
	slackMaxHeader      = 150
	dingTalkMaxBytes    = 20000
)

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text"`
	Fields   []slackText `json:"fields"`
	Elements []slackText `json:"elements"`
}

type slackAttachment struct {
	Color  string       `json:"color"`
	Blocks []slackBlock `json:"blocks"`
}

type slackPayload struct {
	Text        string            `json:"text"`
	Blocks      []slackBlock      `json:"blocks"`
	Attachments []slackAttachment `json:"attachments"`
}

// checkSlack returns the error code Slack would answer for body with HTTP
// 400, or "" when Slack would accept it. Blocks are counted over the message
// and its attachments together, which is at least as strict as Slack.
func checkSlack(body []byte) string {
	var p slackPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return "invalid_payload"
	}
	// Legacy attachment fields next to blocks are rejected; look at the raw
	// keys since the typed struct would drop them.
	var raw struct {
		Attachments []map[string]json.RawMessage `json:"attachments"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return "invalid_payload"
	}
	if len(raw.Attachments) > slackMaxAttachments {
		return "too_many_attachments"
	}
	blocks := len(p.Blocks)
	for i, a := range raw.Attachments {
		if _, ok := a["blocks"]; !ok {
			continue
		}
		for k := range a {
			if k != "blocks" && k != "color" {
				return "invalid_attachments"
			}
		}
		blocks += len(p.Attachments[i].Blocks)
	}
	if p.Text == "" && blocks == 0 {
		return "no_text"
	}
	if blocks > slackMaxBlocks {
		return "invalid_blocks"
	}
	all := p.Blocks
	for _, a := range p.Attachments {
		all = append(all, a.Blocks...)
	}
	for _, b := range all {
		if !validBlock(b) {
			return "invalid_blocks"
		}
	}
	return ""
}

func validBlock(b slackBlock) bool {
	n := utf8.RuneCountInString
	switch b.Type {
	case "header":
		return b.Text != nil && b.Text.Type == "plain_text" && b.Text.Text != "" && n(b.Text.Text) <= slackMaxHeader
	case "section":
		if b.Text == nil && len(b.Fields) == 0 {
			return false
		}
		if b.Text != nil && (!textType(b.Text.Type) || b.Text.Text == "" || n(b.Text.Text) > slackMaxSection) {
			return false
		}
		if len(b.Fields) > slackMaxFields {
			return false
		}
		for _, f := range b.Fields {
			if !textType(f.Type) || f.Text == "" || n(f.Text) > slackMaxField {
				return false
			}
		}
		return true
	case "context":
		return len(b.Elements) > 0 && len(b.Elements) <= 10
	case "divider":
		return true
	}
	// Other block types exist; the sink does not model them.
	return false
}

func textType(t string) bool { return t == "plain_text" || t == "mrkdwn" }

func readableSlack(body []byte) string {
	var p slackPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return string(body)
	}
	all := p.Blocks
	for _, a := range p.Attachments {
		all = append(all, a.Blocks...)
	}
	if len(all) == 0 {
		return p.Text
	}
	var parts []string
	for _, b := range all {
		switch b.Type {
		case "header", "section":
			if b.Text != nil {
				parts = append(parts, b.Text.Text)
			}
			for _, f := range b.Fields {
				parts = append(parts, f.Text)
			}
		case "context":
			var texts []string
			for _, e := range b.Elements {
				texts = append(texts, e.Text)
			}
			parts = append(parts, joinNonEmpty(texts, " "))
		case "divider":
			parts = append(parts, "---")
		}
	}
	return joinNonEmpty(parts, "\n\n")
}

type dingTalkPayload struct {
	MsgType  string `json:"msgtype"`
	Markdown *struct {
		Title string `json:"title"`
		Text  string `json:"text"`
	} `json:"markdown"`
	Text *struct {
		Content string `json:"content"`
	} `json:"text"`
	At *struct {
		AtMobiles []string `json:"atMobiles"`
		AtUserIDs []string `json:"atUserIds"`
		IsAtAll   bool     `json:"isAtAll"`
	} `json:"at"`
}

// checkDingTalk returns the errcode and errmsg DingTalk would answer, or 0.
// Only the markdown and text message types are modelled.
func checkDingTalk(body []byte) (int, string) {
	if len(body) > dingTalkMaxBytes {
		return 460101, "message too long, exceed 20000 bytes"
	}
	var p dingTalkPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return 40035, "missing parameter json"
	}
	switch p.MsgType {
	case "markdown":
		if p.Markdown == nil || p.Markdown.Title == "" || p.Markdown.Text == "" {
			return 40035, "missing parameter markdown title or text"
		}
	case "text":
		if p.Text == nil || p.Text.Content == "" {
			return 40035, "missing parameter text content"
		}
	default:
		return 40035, "missing parameter msgtype"
	}
	return 0, ""
}

func readableDingTalk(body []byte) string {
	var p dingTalkPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return string(body)
	}
	var parts []string
	switch {
	case p.Markdown != nil:
		parts = append(parts, p.Markdown.Title, p.Markdown.Text)
	case p.Text != nil:
		parts = append(parts, p.Text.Content)
	}
	if p.At != nil {
		var who []string
		if p.At.IsAtAll {
			who = append(who, "@all")
		}
		for _, m := range p.At.AtMobiles {
			who = append(who, "@"+m)
		}
		for _, u := range p.At.AtUserIDs {
			who = append(who, "@"+u)
		}
		if len(who) > 0 {
			parts = append(parts, "Mentions: "+strings.Join(who, " "))
		}
	}
	return joinNonEmpty(parts, "\n\n")
}
