package dingtalk_test

import (
	"strings"
	"testing"

	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/notify/dingtalk"
	"github.com/backlog-alert/backlog-alert/rules"
)

func TestEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// Underscores that could open or close emphasis, and what markdown
		// gives a meaning to, get a backslash.
		{`__orders_v2__*`, `\_\_orders_v2\_\_\*`},
		{`_x_`, `\_x\_`},
		{`trailing_`, `trailing\_`},
		{`x_.y`, `x\_.y`},
		// Inside a word they stay, as in instance IDs and most group names.
		{`alikafka_post-cn-x`, `alikafka_post-cn-x`},
		{`snake_case_name_2`, `snake_case_name_2`},
		{`a [x](y)`, `a \[x\](y)`},
		{"`code`", "\\`code\\`"},
		{`<b>#1 | a\b`, `\<b\>\#1 \| a\\b`},
		// One tilde is an estimate; a pair could strike through.
		{`~25 min`, `~25 min`},
		{`~~x~~`, `\~\~x\~\~`},
		{`drains in ~3h 20m`, `drains in ~3h 20m`},
		// Chinese text, underscores between Chinese letters included.
		{`消息堆积（严重）：2万条（阈值 1万）`, `消息堆积（严重）：2万条（阈值 1万）`},
		{`消费组_订单`, `消费组_订单`},
		{``, ``},
	} {
		if got := dingtalk.Escape(tc.in); got != tc.want {
			t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// A group whose name is markdown reaches the channel escaped, wherever the
// name is shown, so DingTalk shows it as it is rather than a bold
// "orders_v2"; a name with an underscore inside a word is left alone.
func TestEscapedGroupName(t *testing.T) {
	const name = `__orders_v2__*`
	firingAlert := alert(name, rules.Critical, 20000)
	firingAlert.Instance = "alikafka_post-cn-x"
	firingAlert.Top = []rules.Contributor{{Topic: "__events__", Lag: 20000}}
	gone := alert(name, rules.Warning, 20000)
	gone.Rule = "finance"

	r, b := send(t, notify.Message{Time: evalTime, Items: []notify.Item{
		{Kind: rules.KindFiring, Alert: firingAlert},
		{Kind: rules.KindMissing, Alert: gone},
	}})
	text := b.Markdown.Text
	for _, want := range []string{
		section(`#### 🔴 CRITICAL · \_\_orders_v2\_\_\*`,
			"Backlog CRITICAL: 20,000 messages (threshold 10,000)",
			"Newest consumed message: 3h 5m old",
			`Top topics: \_\_events\_\_ 20,000`,
			"Instance alikafka_post-cn-x · region cn-shanghai · rule orders",
		),
		section(`#### 👻 Consumer group gone · \_\_orders_v2\_\_\*`,
			"Deleted or no longer watched",
			"It was alerting: WARNING Backlog (20,000 messages)",
			"Instance alikafka-post-1 · region cn-shanghai · rule finance",
		),
	} {
		if !hasSection(text, want) {
			t.Errorf("text lacks the section:\n%s\n--- text:\n%s", want, text)
		}
	}
	// Unescaped, the name would be bold-able: it is nowhere.
	for _, raw := range []string{"__orders", "orders_v2__", "__events__"} {
		if strings.Contains(text, raw) || strings.Contains(r.Readable(), raw) {
			t.Errorf("%q appears unescaped:\n%s", raw, text)
		}
	}
	if b.Markdown.Title != "backlog-alert: 1 firing, 1 group gone (1 critical)" {
		t.Errorf("title %q", b.Markdown.Title)
	}
}
