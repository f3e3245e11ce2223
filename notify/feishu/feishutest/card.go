package feishutest

import (
	"encoding/json"
	"net/url"
	"strings"
)

// The message types a custom bot sends (自定义机器人使用指南). Only text
// and interactive are checked in depth; the others need an image_key or a
// chat ID, which a fake cannot verify.
var msgTypes = map[string]bool{"text": true, "post": true, "image": true, "share_chat": true, "interactive": true}

// templates are the header colours Feishu knows.
var templates = map[string]bool{
	"": true, "blue": true, "wathet": true, "turquoise": true, "green": true, "yellow": true, "orange": true,
	"red": true, "carmine": true, "violet": true, "purple": true, "indigo": true, "grey": true, "default": true,
}

type textObj struct {
	Tag     string `json:"tag"`
	Content string `json:"content"`
}

type buttonObj struct {
	Tag      string   `json:"tag"`
	Text     *textObj `json:"text"`
	URL      string   `json:"url"`
	MultiURL *struct {
		URL string `json:"url"`
	} `json:"multi_url"`
	Type string `json:"type"`
}

type elementObj struct {
	Tag      string            `json:"tag"`
	Text     *textObj          `json:"text"`     // div
	Fields   []json.RawMessage `json:"fields"`   // div
	Content  string            `json:"content"`  // markdown
	Elements []textObj         `json:"elements"` // note
	Actions  []buttonObj       `json:"actions"`  // action
}

type cardObj struct {
	Schema string `json:"schema"`
	Header *struct {
		Title    *textObj `json:"title"`
		Template string   `json:"template"`
	} `json:"header"`
	Elements []elementObj `json:"elements"`
	Body     *struct {
		Elements []elementObj `json:"elements"`
	} `json:"body"`
}

// elements are the card's elements: body.elements in schema 2.0, elements
// before it.
func (c cardObj) elements() []elementObj {
	if c.Schema == "2.0" && c.Body != nil {
		return c.Body.Elements
	}
	return c.Elements
}

// checkMessage returns the code and detail Feishu would refuse a message
// with, or CodeOK.
func checkMessage(msgType string, content, card json.RawMessage) (int, string) {
	switch {
	case msgType == "":
		return CodeNoMsgType, ""
	case !msgTypes[msgType]:
		return CodeNoMsgType, "unknown msg_type " + msgType
	case msgType == "text":
		var c struct {
			Text string `json:"text"`
		}
		if json.Unmarshal(content, &c) != nil || c.Text == "" {
			return CodeBadRequest, "text content is empty"
		}
	case msgType == "interactive":
		if len(card) == 0 || string(card) == "null" {
			return CodeBadRequest, "card is missing"
		}
		var c cardObj
		if err := json.Unmarshal(card, &c); err != nil {
			return CodeBadRequest, "card is not an object"
		}
		if why := checkCard(c); why != "" {
			return CodeBadRequest, why
		}
	}
	return CodeOK, ""
}

func checkCard(c cardObj) string {
	if c.Header == nil && len(c.elements()) == 0 {
		return "card is empty"
	}
	if h := c.Header; h != nil {
		if !validText(h.Title) {
			return "header title must be plain_text or lark_md with content"
		}
		if !templates[h.Template] {
			return "unknown header template " + h.Template
		}
	}
	for _, e := range c.elements() {
		if why := checkElement(e); why != "" {
			return why
		}
	}
	return ""
}

func validText(t *textObj) bool {
	return t != nil && (t.Tag == "plain_text" || t.Tag == "lark_md") && t.Content != ""
}

func checkElement(e elementObj) string {
	switch e.Tag {
	case "div":
		if !validText(e.Text) && len(e.Fields) == 0 {
			return "div needs a text or fields"
		}
	case "markdown":
		if e.Content == "" {
			return "markdown needs content"
		}
	case "hr", "img", "column_set":
	case "note":
		if len(e.Elements) == 0 {
			return "note needs elements"
		}
		for _, t := range e.Elements {
			if !validText(&t) && t.Tag != "img" {
				return "note elements must be texts or images"
			}
		}
	case "action":
		if len(e.Actions) == 0 {
			return "action needs actions"
		}
		for _, b := range e.Actions {
			if why := checkButton(b); why != "" {
				return why
			}
		}
	default:
		return "unknown element tag " + e.Tag
	}
	return ""
}

func checkButton(b buttonObj) string {
	if b.Tag != "button" || !validText(b.Text) {
		return "a button needs tag button and a text"
	}
	switch b.Type {
	case "", "default", "primary", "danger":
	default:
		return "unknown button type " + b.Type
	}
	target := b.URL
	if b.MultiURL != nil {
		target = b.MultiURL.URL
	}
	// Feishu refuses a message whose link is not a valid URL.
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(target, " \t\n") {
		return "button url is not a valid http(s) URL"
	}
	return ""
}

// hasKeyword reports whether any text of the message holds a keyword: the
// text parameters only (titles, contents), not URLs.
func hasKeyword(body []byte, keywords []string) bool {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return false
	}
	var texts []string
	var walk func(v any, key string)
	walk = func(v any, key string) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				walk(x, k)
			}
		case []any:
			for _, x := range v {
				walk(x, key)
			}
		case string:
			switch key {
			case "text", "content", "title":
				texts = append(texts, v)
			}
		}
	}
	walk(v, "")
	for _, t := range texts {
		for _, k := range keywords {
			if strings.Contains(t, k) {
				return true
			}
		}
	}
	return false
}

// Readable renders a received card as plain text for a terminal: the
// header's title, then each element (notes and texts as written, buttons
// as [text](url), dividers as ---), separated by blank lines. A text
// message is its text.
func (r Received) Readable() string {
	var env struct {
		MsgType string `json:"msg_type"`
		Content struct {
			Text string `json:"text"`
		} `json:"content"`
		Card cardObj `json:"card"`
	}
	if json.Unmarshal(r.Body, &env) != nil {
		return string(r.Body)
	}
	if env.MsgType == "text" {
		return env.Content.Text
	}
	var parts []string
	if h := env.Card.Header; h != nil && h.Title != nil {
		parts = append(parts, h.Title.Content)
	}
	for _, e := range env.Card.elements() {
		switch e.Tag {
		case "div":
			if e.Text != nil {
				parts = append(parts, e.Text.Content)
			}
		case "markdown":
			parts = append(parts, e.Content)
		case "note":
			var texts []string
			for _, t := range e.Elements {
				texts = append(texts, t.Content)
			}
			parts = append(parts, strings.Join(texts, " "))
		case "action":
			var links []string
			for _, b := range e.Actions {
				u := b.URL
				if b.MultiURL != nil {
					u = b.MultiURL.URL
				}
				links = append(links, "["+b.Text.Content+"]("+u+")")
			}
			parts = append(parts, strings.Join(links, " · "))
		case "hr":
			parts = append(parts, "---")
		}
	}
	return strings.Join(parts, "\n\n")
}
