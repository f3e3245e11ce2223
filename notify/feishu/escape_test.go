package feishu_test

import (
	"testing"

	"github.com/backlog-alert/backlog-alert/notify/feishu"
)

func TestEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"orders", "orders"},
		{"alikafka_post-cn-abc_1", "alikafka_post-cn-abc_1"}, // inside words: left alone
		{"__orders_v2__*", "&#95;&#95;orders_v2&#95;&#95;&#42;"},
		{"_private", "&#95;private"},
		{"[x](https://evil.example)", "&#91;x&#93;(https://evil.example)"},
		{"<at id=all></at>", "&lt;at id=all&gt;&lt;/at&gt;"},
		{"`code`", "&#96;code&#96;"},
		{"drains in ~25 min", "drains in ~25 min"}, // one tilde strikes nothing
		{"~~gone~~", "&sim;&sim;gone&sim;&sim;"},
		{"AT&T & co", "AT&T & co"},
		{"&lt; is not <", "&amp;lt; is not &lt;"},
		{"&#42;", "&amp;#42;"},
		{"消费组_订单", "消费组_订单"},
	} {
		if got := feishu.Escape(tc.in); got != tc.want {
			t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
