package alikafka

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The service's replies are decoded here rather than by the SDK, because the
// SDK's structs cannot hold every shape the service is documented to send: the
// API reference's sample wraps the body in {"GetConsumerProgressResponse": ...}
// and sends a one-element list as a bare object, which makes the SDK fail with
// SDK.JsonUnmarshalError; business errors may carry a text Code. So every list
// accepts an array or a single object, with or without its doubled key, every
// number accepts a string, and the wrapper is optional.

// header holds the fields every reply has.
type header struct {
	Code      flexString `json:"Code"`
	Success   flexBool   `json:"Success"`
	Message   flexString `json:"Message"`
	RequestID flexString `json:"RequestId"`
}

// check turns a reply that says it failed ("Success": false, or a Code other
// than 200, which includes a missing Code) into an *APIError.
func (h header) check(status int) error {
	if (!h.Success.set || h.Success.v) && h.Code == "200" {
		return nil
	}
	code := string(h.Code)
	if code == "" {
		code = "Unknown"
	}
	msg := string(h.Message)
	if msg == "" {
		msg = "the service reported a failure without a message"
	}
	return &APIError{HTTPStatus: status, Code: code, Message: truncate(msg), RequestID: string(h.RequestID)}
}

type progressBody struct {
	header
	ConsumerProgress progressJSON `json:"ConsumerProgress"`
}

type progressJSON struct {
	TotalDiff     flexInt           `json:"TotalDiff"`
	LastTimestamp flexInt           `json:"LastTimestamp"`
	TopicList     nested[topicJSON] `json:"TopicList"`
}

type topicJSON struct {
	Topic         flexString         `json:"Topic"`
	TotalDiff     flexInt            `json:"TotalDiff"`
	LastTimestamp flexInt            `json:"LastTimestamp"`
	OffsetList    nested[offsetJSON] `json:"OffsetList"`
}

func (topicJSON) listKey() string { return "TopicList" }

// offsetJSON tells absent numbers from zeros: a partition without its number
// or offsets is reported, not silently read as partition 0 at offset 0.
type offsetJSON struct {
	Partition      optInt  `json:"Partition"`
	BrokerOffset   optInt  `json:"BrokerOffset"`
	ConsumerOffset optInt  `json:"ConsumerOffset"`
	LastTimestamp  flexInt `json:"LastTimestamp"`
}

func (offsetJSON) listKey() string { return "OffsetList" }

type listBody struct {
	header
	Total        flexInt              `json:"Total"`
	ConsumerList nested[consumerJSON] `json:"ConsumerList"`
}

type consumerJSON struct {
	ConsumerID flexString      `json:"ConsumerId"`
	Remark     flexString      `json:"Remark"`
	Tags       nested[tagJSON] `json:"Tags"`
}

type tagJSON struct {
	Key   flexString `json:"Key"`
	Value flexString `json:"Value"`
}

func (tagJSON) listKey() string { return "TagVO" }

// tagMap turns a tag list into a map, nil when it is empty; of a key given
// twice the last value wins.
func tagMap(tags []tagJSON) map[string]string {
	var m map[string]string
	for _, t := range tags {
		if t.Key == "" {
			continue
		}
		if m == nil {
			m = map[string]string{}
		}
		m[string(t.Key)] = string(t.Value)
	}
	return m
}

type instanceListBody struct {
	header
	InstanceList nested[instanceJSON] `json:"InstanceList"`
}

type instanceJSON struct {
	InstanceID    flexString      `json:"InstanceId"`
	Name          flexString      `json:"Name"`
	ServiceStatus flexInt         `json:"ServiceStatus"`
	RegionID      flexString      `json:"RegionId"`
	Tags          nested[tagJSON] `json:"Tags"`
}

func (instanceJSON) listKey() string { return "InstanceVO" }

func (consumerJSON) listKey() string { return "ConsumerVO" }

// decodeBody unmarshals a reply into v, unwrapping a single top-level
// "<Action>Response" object when present. Its work is bounded: a reply over
// MaxReplyBytes is refused, and encoding/json refuses nesting deeper than
// 10,000 levels; every list and number type here decodes in linear time.
func decodeBody(body []byte, v any) error {
	if len(body) > MaxReplyBytes {
		return fmt.Errorf("reply of %d bytes is over the %d MiB limit", len(body), MaxReplyBytes>>20)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return err
	}
	if len(top) == 1 {
		for k, inner := range top {
			if strings.HasSuffix(k, "Response") && startsWith(inner, '{') {
				body = inner
			}
		}
	}
	return json.Unmarshal(body, v)
}

// keyed is an item type that knows the key its list is nested under.
type keyed interface{ listKey() string }

// nested decodes one of the service's lists: {"Key": [...]} as the service
// sends it, {"Key": {...}} for a single item as in the API reference, a bare
// array, a bare item, {} or null.
type nested[T keyed] []T

func (n *nested[T]) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if startsWith(b, '{') {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(b, &fields); err != nil {
			return err
		}
		var zero T
		if inner, ok := fields[zero.listKey()]; ok && len(fields) == 1 {
			b = bytes.TrimSpace(inner)
		} else if len(fields) == 0 {
			*n = nil
			return nil
		}
	}
	switch {
	case len(b) == 0 || string(b) == "null":
		*n = nil
	case b[0] == '[':
		var items []T
		if err := json.Unmarshal(b, &items); err != nil {
			return err
		}
		*n = items
	case b[0] == '{':
		var item T
		if err := json.Unmarshal(b, &item); err != nil {
			return err
		}
		*n = nested[T]{item}
	default:
		return fmt.Errorf("expected a list, got %.20s", b)
	}
	return nil
}

func startsWith(b []byte, c byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == c
}

// flexInt accepts a JSON number, a number in a string, or null (as 0).
type flexInt int64

func (n *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		*n = 0
		return nil
	}
	if unq, err := strconv.Unquote(s); err == nil {
		s = strings.TrimSpace(unq)
		if s == "" {
			*n = 0
			return nil
		}
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		*n = flexInt(v)
		return nil
	}
	// Some encoders print large integers as floats (1.566874931671e+12).
	// float64(math.MaxInt64) is 2^63, which does not fit: >= excludes it.
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) >= math.MaxInt64 {
		return fmt.Errorf("not an integer: %.30s", s)
	}
	*n = flexInt(f)
	return nil
}

// optInt is a flexInt that remembers whether it was present (null counts as
// absent).
type optInt struct {
	v   int64
	set bool
}

func (o *optInt) UnmarshalJSON(b []byte) error {
	t := string(bytes.TrimSpace(b))
	if unq, err := strconv.Unquote(t); t == "null" || (err == nil && strings.TrimSpace(unq) == "") {
		*o = optInt{}
		return nil
	}
	var n flexInt
	if err := n.UnmarshalJSON(b); err != nil {
		return err
	}
	*o = optInt{v: int64(n), set: true}
	return nil
}

// flexString accepts a string, a number or a boolean (kept as written), or
// null.
type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if startsWith(b, '"') {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString(v)
		return nil
	}
	if string(b) == "null" {
		*s = ""
		return nil
	}
	if startsWith(b, '{') || startsWith(b, '[') {
		return fmt.Errorf("expected a string, got %.20s", b)
	}
	*s = flexString(b)
	return nil
}

// flexBool accepts true/false, also in a string, and remembers whether the
// field was present at all.
type flexBool struct{ set, v bool }

func (f *flexBool) UnmarshalJSON(b []byte) error {
	s := strings.Trim(strings.TrimSpace(string(b)), `"`)
	if s == "null" {
		*f = flexBool{}
		return nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("not a boolean: %.20s", s)
	}
	*f = flexBool{set: true, v: v}
	return nil
}
