package wecom_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/notify/wecom"
	"github.com/backlog-alert/backlog-alert/notify/wecom/wecomtest"
	"github.com/backlog-alert/backlog-alert/rules"
)

// bulky returns n firing alerts, the first critical, listed in their
// order (lag falls with i), each section about 1,150 bytes but only some
// 500 characters: a description of 300 Chinese characters. Three fit in a
// post, four do not.
func bulky(n int) []notify.Item {
	alerts := make([]rules.Alert, n)
	for i := range alerts {
		sev := rules.Warning
		if i == 0 {
			sev = rules.Critical
		}
		alerts[i] = alert(group(i), sev, int64(900000-i*1000))
		alerts[i].Annotations = map[string]string{"description": strings.Repeat("积", 300)}
	}
	return firing(alerts...)
}

func group(i int) string { return fmt.Sprintf("消费组-%02d", i) }

// sections returns the group names of a post's sections, in order.
func sections(content string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`(?m)^#### .* · (\S+)$`).FindAllStringSubmatch(content, -1) {
		out = append(out, m[1])
	}
	return out
}

// keysOf returns the keys of the items whose group is one of groups.
func keysOf(items []notify.Item, groups []string) []string {
	var out []string
	for _, it := range items {
		if slices.Contains(groups, it.Alert.Group) {
			out = append(out, it.Alert.Key())
		}
	}
	return out
}

// A message over 4096 bytes is split into posts of whole sections, each at
// most 4096 bytes of UTF-8 (not characters: this one is under 4096
// characters in all), each under the headline and its part.
func TestSplit(t *testing.T) {
	m := notify.Message{Items: bulky(6), Time: evalTime, Language: rules.LanguageChinese}
	n, srv := robot(t, nil)
	got := send(t, n, srv, m) // the fake answers 40058 above 4096 bytes

	if len(got) != 2 {
		t.Fatalf("received %d posts, want 2", len(got))
	}
	runes := 0
	var order []string
	for i, r := range got {
		runes += utf8.RuneCountInString(r.Content)
		if len(r.Content) > wecom.MaxBytes {
			t.Errorf("post %d is %d bytes", i+1, len(r.Content))
		}
		head := fmt.Sprintf("### 🚨 <font color=\"warning\">6 个消费组消费滞后（1 个严重）</font> (%d/2)\n"+
			"<font color=\"comment\">检测时间 2025-03-01 10:00（UTC） · backlog-alert</font>\n\n#### ", i+1)
		if !strings.HasPrefix(r.Content, head) {
			t.Errorf("post %d starts:\n%s\nwant:\n%s", i+1, r.Content[:min(len(r.Content), 300)], head)
		}
		if strings.Contains(r.Content, "另有") || strings.Contains(r.Content, "…") {
			t.Errorf("post %d leaves something out:\n%s", i+1, r.Content)
		}
		// Whole sections: each ends with its rule line, not cut.
		if c := strings.Count(r.Content, "> 实例 alikafka-post-1 · 地域 cn-shanghai · 规则 orders"); c != len(sections(r.Content)) {
			t.Errorf("post %d: %d sections, %d whole", i+1, len(sections(r.Content)), c)
		}
		order = append(order, sections(r.Content)...)
	}
	if runes >= wecom.MaxBytes {
		t.Errorf("the posts hold %d characters; the test wants fewer than %d, so that only bytes call for a split", runes, wecom.MaxBytes)
	}
	var want []string
	for i := range 6 {
		want = append(want, group(i))
	}
	if !slices.Equal(order, want) {
		t.Errorf("sections %q, want each once in order %q", order, want)
	}
	// Packed: the next post's first section would not have fitted.
	first := got[0].Content
	next := got[1].Content[strings.Index(got[1].Content, "\n\n#### "):]
	if end := strings.Index(next[2:], "\n\n#### "); end >= 0 {
		next = next[:end+2]
	}
	if len(first)+len(next) <= wecom.MaxBytes {
		t.Errorf("post 1 (%d bytes) had room for the next section (%d bytes)", len(first), len(next))
	}
}

// Beyond MaxPosts, the last post sums up the rest; those items were told
// about, so the receipt holds them all, as DingTalk's does.
func TestPostCap(t *testing.T) {
	m := notify.Message{Items: bulky(20), Time: evalTime}
	n, srv := robot(t, nil)
	got := send(t, n, srv, m)
	if len(got) != wecom.MaxPosts {
		t.Fatalf("received %d posts, want %d", len(got), wecom.MaxPosts)
	}
	shown := 0
	for i, r := range got {
		shown += len(sections(r.Content))
		if len(r.Content) > wecom.MaxBytes {
			t.Errorf("post %d is %d bytes", i+1, len(r.Content))
		}
		if marker := fmt.Sprintf("</font> (%d/%d)\n", i+1, wecom.MaxPosts); !strings.Contains(r.Content, marker) {
			t.Errorf("post %d lacks %q", i+1, marker)
		}
	}
	last := got[len(got)-1].Content
	more := regexp.MustCompile(`\n\n<font color="comment">…and (\d+) more</font>$`).FindStringSubmatch(last)
	if more == nil {
		t.Fatalf("the last post does not end with \"…and N more\":\n%s", last)
	}
	if rest, _ := strconv.Atoi(more[1]); shown+rest != 20 || shown < 8 {
		t.Errorf("%d shown + %d more, want 20 in all and the posts filled", shown, rest)
	}
}

// When the second post fails, the receipt holds the items of the first
// only: the rest is due again next run, and the third post is not sent,
// so that parts never arrive out of order. The first post paged, so the
// mention still goes.
func TestPartialReceipt(t *testing.T) {
	items := bulky(9)
	m := notify.Message{Items: items, Time: evalTime}

	t.Run("second post fails", func(t *testing.T) {
		n, srv := robot(t, []string{mobile}, notify.WithRetry(notify.NoRetry))
		srv.Fail(key, wecomtest.Failure{Errcode: -1, After: 1, Times: 1})
		r, err := n.Notify(context.Background(), m)
		got := srv.Received()
		if len(got) != 2 || got[1].MsgType != "text" || srv.Attempts(key) != 3 {
			t.Fatalf("received %d, %d attempts; want post 1 and the mention, 3 attempts", len(got), srv.Attempts(key))
		}
		first := sections(got[0].Content)
		if want := keysOf(items, first); len(first) != 3 || !slices.Equal(r.Accepted, want) {
			t.Errorf("receipt %q, want the items of post 1 %q", r.Accepted, want)
		}
		want := "wecom: part 2 of 3 not sent, it and the parts after it are due again next run: wecom: errcode -1: system busy, hint: ["
		if err == nil || !strings.HasPrefix(err.Error(), want) || !notify.Retryable(err) || notify.Attempts(err) != 1 {
			t.Errorf("err = %v\nwant %q…, retryable, 1 attempt", err, want)
		}
		assertClean(t, err)
	})

	t.Run("and the mention fails too", func(t *testing.T) {
		n, srv := robot(t, []string{mobile})
		srv.Fail(key, wecomtest.Failure{Errcode: -1, After: 1})
		r, err := n.Notify(context.Background(), m)
		if got := srv.Received(); len(got) != 1 || srv.Attempts(key) != 1+4+4 {
			t.Fatalf("received %d, %d attempts; want post 1, then 4 attempts each for post 2 and the mention", len(got), srv.Attempts(key))
		}
		// The critical group was posted but nobody was paged: it is due again.
		if want := keysOf(items, []string{group(1), group(2)}); !slices.Equal(r.Accepted, want) {
			t.Errorf("receipt %q, want %q", r.Accepted, want)
		}
		if err == nil || !strings.HasPrefix(err.Error(), "wecom: part 2 of 3 not sent") ||
			!strings.HasSuffix(err.Error(), "; gave up after 4 attempts; the @-mention was not sent either") {
			t.Errorf("err = %v", err)
		}
	})

	t.Run("first post fails", func(t *testing.T) {
		n, srv := robot(t, []string{mobile}, notify.WithRetry(notify.NoRetry))
		srv.Fail(key, wecomtest.Failure{Errcode: 45033, Times: 1})
		r, err := n.Notify(context.Background(), m)
		if len(r.Accepted) != 0 || len(srv.Received()) != 0 || srv.Attempts(key) != 1 {
			t.Errorf("receipt %q, received %d, %d attempts; want nothing after one attempt", r.Accepted, len(srv.Received()), srv.Attempts(key))
		}
		if err == nil || !strings.HasPrefix(err.Error(), "wecom: part 1 of 3 not sent") {
			t.Errorf("err = %v", err)
		}
	})
}

// The mention carries the paging items: when it fails they are due again,
// with their sections, while the rest of the message is accepted.
func TestMentionFails(t *testing.T) {
	items := firing(alert("a", rules.Critical, 30000), alert("b", rules.Warning, 20000))
	n, srv := robot(t, []string{mobile})
	srv.Fail(key, wecomtest.Failure{Errcode: 45033, After: 1})
	r, err := n.Notify(context.Background(), notify.Message{Items: items, Time: evalTime})
	if got := srv.Received(); len(got) != 1 || got[0].MsgType != "markdown" || srv.Attempts(key) != 5 {
		t.Fatalf("received %d, %d attempts; want the markdown, then 4 attempts at the mention", len(got), srv.Attempts(key))
	}
	if want := []string{items[1].Alert.Key()}; !slices.Equal(r.Accepted, want) {
		t.Errorf("receipt %q, want only the warning %q", r.Accepted, want)
	}
	want := "wecom: the message was posted but the @-mention was not, its paging alerts are due again next run: wecom: errcode 45033: api concurrent out of limit"
	if err == nil || !strings.HasPrefix(err.Error(), want) || !notify.Retryable(err) {
		t.Errorf("err = %v\nwant %q…", err, want)
	}
}
