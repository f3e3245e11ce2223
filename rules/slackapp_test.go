package rules

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The tokens all contain "sekrit", which no error may.
const (
	botTok  = "xoxb-1234567890-0987654321-sekritBotToken"
	userTok = "xoxp-1234567890-0987654321-sekritUserToken"
)

var appEnv = env(map[string]string{
	"SLACK_BOT_TOKEN":      botTok,
	"SLACK_USER_TOKEN":     userTok,
	"NOT_A_TOKEN":          "sekrit-garbage-value",
	"TOKEN_WITH_NEWLINE":   botTok + "\n",
	"EMPTY":                "",
	"SLACK_WEBHOOK_URL":    "https://hooks.slack.com/services/T0/B0/sekrit-slack-path",
	"DINGTALK_WEBHOOK_URL": "https://oapi.dingtalk.com/robot/send?access_token=sekrit-token",
})

// appBody is a valid app channel's body: the token on line 8, the channel on
// line 9.
const appBody = "    token: ${SLACK_BOT_TOKEN}\n    channel: C0123456789\n"

// appDoc has the Slack channel's body from line 8 (its type is on line 7)
// and, after it, a DingTalk channel whose extra lines follow its
// webhook_url.
func appDoc(slack, dingtalk string) string {
	return "version: 1\n" +
		"defaults:\n" +
		"  region: cn-hangzhou\n" +
		"  notify: [payments-slack]\n" +
		"channels:\n" +
		"  payments-slack:\n" +
		"    type: slack\n" +
		slack +
		"  ops:\n" +
		"    type: dingtalk\n" +
		"    webhook_url: ${DINGTALK_WEBHOOK_URL}\n" +
		dingtalk +
		"rules:\n" +
		"  - {name: r, instance: i, groups: [g], backlog: {warning: 10}}\n"
}

// appFields are a Channel's Slack app settings.
type appFields struct {
	Token, SlackChannel string
	ThreadReminders     bool
	DigestAfter         int
	APIURL              string
}

func TestSlackAppChannel(t *testing.T) {
	tests := []struct {
		name, body string
		want       appFields
	}{
		{"defaults", appBody,
			appFields{Token: botTok, SlackChannel: "C0123456789", ThreadReminders: true, DigestAfter: 10, APIURL: "https://slack.com/api/"}},
		{"literal token, private channel", "    token: xoxb-1-2-sekritLiteral\n    channel: G0123ABCD9\n",
			appFields{Token: "xoxb-1-2-sekritLiteral", SlackChannel: "G0123ABCD9", ThreadReminders: true, DigestAfter: 10, APIURL: "https://slack.com/api/"}},
		{"everything set", appBody + "    thread_reminders: false\n    digest_after: 50\n    api_url: http://127.0.0.1:8080/fake/api\n",
			appFields{Token: botTok, SlackChannel: "C0123456789", ThreadReminders: false, DigestAfter: 50, APIURL: "http://127.0.0.1:8080/fake/api/"}},
		{"host only api_url, digest of one", "    token: ${SLACK_BOT_TOKEN}\n    channel: D0123456789\n    thread_reminders: true\n    digest_after: 1\n    api_url: https://slack.example\n",
			appFields{Token: botTok, SlackChannel: "D0123456789", ThreadReminders: true, DigestAfter: 1, APIURL: "https://slack.example/"}},
		{"api_url with its slash is kept", appBody + "    api_url: https://slack.com/api/\n",
			appFields{Token: botTok, SlackChannel: "C0123456789", ThreadReminders: true, DigestAfter: 10, APIURL: "https://slack.com/api/"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse("rules.yaml", []byte(appDoc(tc.body, "")), appEnv)
			if err != nil {
				t.Fatal(err)
			}
			c, _ := f.Channel("payments-slack")
			got := appFields{Token: c.Token, SlackChannel: c.SlackChannel, ThreadReminders: c.ThreadReminders, DigestAfter: c.DigestAfter, APIURL: c.APIURL}
			if got != tc.want {
				t.Errorf("channel = %+v\nwant      %+v", got, tc.want)
			}
			if !c.SlackApp() || c.Type != ChannelSlack || c.WebhookURL != "" {
				t.Errorf("SlackApp() = %v, type %q, webhook %q", c.SlackApp(), c.Type, c.WebhookURL)
			}
			if !slices.Contains(f.Secrets, tc.want.Token) {
				t.Errorf("the token is not among the file's %d secrets", len(f.Secrets))
			}
			ops, _ := f.Channel("ops")
			if ops.SlackApp() || ops.Token != "" || ops.SlackChannel != "" || ops.DigestAfter != 0 || ops.APIURL != "" || ops.ThreadReminders {
				t.Errorf("the dingtalk channel has app settings: %+v", ops)
			}
		})
	}
}

func TestSlackWebhookChannelIsNoApp(t *testing.T) {
	f, err := Parse("rules.yaml", []byte(appDoc("    webhook_url: ${SLACK_WEBHOOK_URL}\n", "")), appEnv)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := f.Channel("payments-slack")
	if c.SlackApp() || c.Token != "" || c.SlackChannel != "" || c.ThreadReminders || c.DigestAfter != 0 || c.APIURL != "" {
		t.Errorf("webhook channel = %+v", c)
	}
	if c.WebhookURL == "" {
		t.Error("webhook URL lost")
	}
}

const findID = "(in Slack, open the channel's details: its ID is at the bottom)"

func TestSlackAppErrors(t *testing.T) {
	const ch = "rules.yaml:7: channels.payments-slack"
	tests := []struct {
		name, slack, dingtalk string
		want                  []string // every error line, in order
	}{
		{"both", "    webhook_url: ${SLACK_WEBHOOK_URL}\n" + appBody, "",
			[]string{ch + ": set webhook_url (incoming webhook) or token (Slack app), not both"}},
		{"neither", "", "",
			[]string{ch + ": set webhook_url (incoming webhook) or token (Slack app)"}},
		{"neither, with app settings", "    channel: C0123456789\n", "", []string{
			ch + ": set webhook_url (incoming webhook) or token (Slack app)",
			"rules.yaml:8: channels.payments-slack.channel: only a Slack app channel (one with a token) takes channel; an incoming webhook posts where it was created",
		}},
		{"channel missing", "    token: ${SLACK_BOT_TOKEN}\n", "",
			[]string{ch + ".channel: missing: the ID of the channel to post in, such as C0123456789 " + findID}},
		{"user token", "    token: ${SLACK_USER_TOKEN}\n    channel: C0123456789\n", "",
			[]string{"rules.yaml:8: channels.payments-slack.token: is a user token; use the app's bot token, xoxb-…"}},
		{"literal user token", "    token: xoxp-1-2-sekrit\n    channel: C0123456789\n", "",
			[]string{"rules.yaml:8: channels.payments-slack.token: is a user token; use the app's bot token, xoxb-…"}},
		{"garbage token", "    token: ${NOT_A_TOKEN}\n    channel: C0123456789\n", "",
			[]string{"rules.yaml:8: channels.payments-slack.token: is not a Slack bot token (xoxb-…)"}},
		{"bot token with a bad character", "    token: xoxb-12_sekrit\n    channel: C0123456789\n", "",
			[]string{"rules.yaml:8: channels.payments-slack.token: is not a Slack bot token (xoxb-…)"}},
		{"token with a line break", "    token: ${TOKEN_WITH_NEWLINE}\n    channel: C0123456789\n", "",
			[]string{"rules.yaml:8: channels.payments-slack.token: has spaces or a line break around it"}},
		{"empty after expansion", "    token: ${EMPTY}\n    channel: C0123456789\n", "",
			[]string{"rules.yaml:8: channels.payments-slack.token: is empty (the app's bot token, xoxb-…, goes here)"}},
		{"unset variable", "    token: ${SLACK_TOKEN_UNSET}\n    channel: C0123456789\n", "",
			[]string{"rules.yaml:8: channels.payments-slack.token: environment variable SLACK_TOKEN_UNSET is not set"}},
		{"token not a string", "    token: 12345\n    channel: C0123456789\n", "",
			[]string{"rules.yaml:8: channels.payments-slack.token: must be a string, not a number"}},
		{"channel name with #", "    token: ${SLACK_BOT_TOKEN}\n    channel: \"#payments\"\n", "",
			[]string{`rules.yaml:9: channels.payments-slack.channel: "#payments" is a channel name; use its ID, such as C0123456789 ` + findID}},
		{"channel name", "    token: ${SLACK_BOT_TOKEN}\n    channel: payments-alerts\n", "",
			[]string{`rules.yaml:9: channels.payments-slack.channel: "payments-alerts" is a channel name; use its ID, such as C0123456789 ` + findID}},
		{"lower-case ID", "    token: ${SLACK_BOT_TOKEN}\n    channel: c0123456789\n", "",
			[]string{`rules.yaml:9: channels.payments-slack.channel: "c0123456789": channel IDs are upper case`}},
		{"short ID", "    token: ${SLACK_BOT_TOKEN}\n    channel: C0123\n", "",
			[]string{`rules.yaml:9: channels.payments-slack.channel: "C0123" is not a Slack channel ID such as C0123456789 ` + findID}},
		{"user ID", "    token: ${SLACK_BOT_TOKEN}\n    channel: U0123456789\n", "",
			[]string{`rules.yaml:9: channels.payments-slack.channel: "U0123456789" is not a Slack channel ID such as C0123456789 ` + findID}},
		{"empty channel", "    token: ${SLACK_BOT_TOKEN}\n    channel: \"\"\n", "",
			[]string{"rules.yaml:9: channels.payments-slack.channel: must not be empty: use the channel's ID, such as C0123456789 " + findID}},
		{"token as channel", "    token: ${SLACK_BOT_TOKEN}\n    channel: ${SLACK_BOT_TOKEN}\n", "",
			[]string{"rules.yaml:9: channels.payments-slack.channel: looks like a Slack token, not a channel ID such as C0123456789"}},
		{"thread_reminders not a bool", appBody + "    thread_reminders: yes\n", "",
			[]string{"rules.yaml:10: channels.payments-slack.thread_reminders: must be true or false, not a string"}},
		{"digest_after zero", appBody + "    digest_after: 0\n", "",
			[]string{"rules.yaml:10: channels.payments-slack.digest_after: must be from 1 to 50, not 0"}},
		{"digest_after too big", appBody + "    digest_after: 51\n", "",
			[]string{"rules.yaml:10: channels.payments-slack.digest_after: must be from 1 to 50, not 51"}},
		{"digest_after not a number", appBody + "    digest_after: ten\n", "",
			[]string{"rules.yaml:10: channels.payments-slack.digest_after: must be a whole number from 1 to 50, not a string"}},
		{"api_url not absolute", appBody + "    api_url: slack.com/api\n", "",
			[]string{"rules.yaml:10: channels.payments-slack.api_url: is not an absolute http(s) URL such as https://slack.com/api/"}},
		{"api_url not http", appBody + "    api_url: ftp://slack.com/api/\n", "",
			[]string{"rules.yaml:10: channels.payments-slack.api_url: is not an absolute http(s) URL such as https://slack.com/api/"}},
		{"api_url with a query", appBody + "    api_url: https://slack.com/api/?x=1\n", "",
			[]string{"rules.yaml:10: channels.payments-slack.api_url: must not have a query or fragment: method names are appended to it"}},
		{"app settings on a webhook channel", "    webhook_url: ${SLACK_WEBHOOK_URL}\n    channel: C0123456789\n    thread_reminders: false\n    digest_after: 5\n    api_url: https://slack.com/api/\n", "", []string{
			"rules.yaml:9: channels.payments-slack.channel: only a Slack app channel (one with a token) takes channel; an incoming webhook posts where it was created",
			"rules.yaml:10: channels.payments-slack.thread_reminders: only a Slack app channel (one with a token) takes thread_reminders; an incoming webhook posts where it was created",
			"rules.yaml:11: channels.payments-slack.digest_after: only a Slack app channel (one with a token) takes digest_after; an incoming webhook posts where it was created",
			"rules.yaml:12: channels.payments-slack.api_url: only a Slack app channel (one with a token) takes api_url; an incoming webhook posts where it was created",
		}},
		{"dingtalk takes none of it", appBody, "    token: ${SLACK_BOT_TOKEN}\n    channel: C0123456789\n    thread_reminders: true\n    digest_after: 5\n    api_url: https://slack.com/api/\n", []string{
			"rules.yaml:13: channels.ops.token: is a Slack app setting; a dingtalk channel posts through its webhook_url",
			"rules.yaml:14: channels.ops.channel: is a Slack app setting; a dingtalk channel posts through its webhook_url",
			"rules.yaml:15: channels.ops.thread_reminders: is a Slack app setting; a dingtalk channel posts through its webhook_url",
			"rules.yaml:16: channels.ops.digest_after: is a Slack app setting; a dingtalk channel posts through its webhook_url",
			"rules.yaml:17: channels.ops.api_url: is a Slack app setting; a dingtalk channel posts through its webhook_url",
		}},
		{"misspelt key", appBody + "    tokn: x\n", "",
			[]string{"rules.yaml:10: channels.payments-slack.tokn: unknown key (expected one of: type, webhook_url, token, secret, at_mobiles, language, timezone, channel, thread_reminders, digest_after, api_url)"}},
		{"signing secret on an app channel", appBody + "    secret: x\n", "",
			[]string{"rules.yaml:10: channels.payments-slack.secret: only dingtalk channels take a signing secret"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("rules.yaml", []byte(appDoc(tc.slack, tc.dingtalk)), appEnv)
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("err = %v (%T), want Errors", err, err)
			}
			got := make([]string, len(es))
			for i, e := range es {
				got[i] = e.Error()
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if strings.Contains(err.Error(), "sekrit") {
				t.Errorf("an error shows a secret:\n%v", err)
			}
		})
	}
}

// TestSlackTokenNeverInErrors breaks files that carry a token in every way
// the token can be read, and elsewhere: no error shows any of it.
func TestSlackTokenNeverInErrors(t *testing.T) {
	brokenRule := func(doc string) string { return strings.Replace(doc, "warning: 10", "warning: lots", 1) }
	docs := map[string]string{
		"valid token, broken rule":     brokenRule(appDoc(appBody, "")),
		"literal token, broken rule":   brokenRule(appDoc("    token: "+botTok+"\n    channel: C0123456789\n", "")),
		"user token":                   appDoc("    token: "+userTok+"\n    channel: C0123456789\n", ""),
		"garbage token":                appDoc("    token: ${NOT_A_TOKEN}\n    channel: C0123456789\n", ""),
		"token with a line break":      appDoc("    token: ${TOKEN_WITH_NEWLINE}\n    channel: C0123456789\n", ""),
		"both":                         appDoc("    webhook_url: ${SLACK_WEBHOOK_URL}\n"+appBody, ""),
		"token in dingtalk":            appDoc(appBody, "    token: ${SLACK_BOT_TOKEN}\n"),
		"token as channel":             appDoc("    token: ${SLACK_BOT_TOKEN}\n    channel: "+botTok+"\n", ""),
		"token as api_url":             appDoc(appBody+"    api_url: ${SLACK_BOT_TOKEN}\n", ""),
		"token under a misspelt key":   appDoc(appBody+"    bot_token: "+botTok+"\n", ""),
		"token and broken everything":  appDoc("    token: ${SLACK_BOT_TOKEN}\n    channel: general\n    digest_after: 0\n    thread_reminders: 2\n", "    channel: x\n"),
		"user token on a webhook type": strings.Replace(appDoc("    token: "+userTok+"\n", ""), "type: slack", "type: teams", 1),
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("rules.yaml", []byte(doc), appEnv)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, leak := range []string{"sekrit", "1234567890"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error shows %q:\n%v", leak, err)
				}
			}
		})
	}
}

func TestLoadMetaSlackApp(t *testing.T) {
	t.Setenv("SLACK_BOT_TOKEN", botTok)
	t.Setenv("DINGTALK_WEBHOOK_URL", "https://ding.example/robot/send?access_token=t")
	write := func(doc string) string {
		p := filepath.Join(t.TempDir(), "rules.yaml")
		if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The rule is broken: Load fails, LoadMeta is what remains.
	p := write(strings.Replace(appDoc(appBody+"    digest_after: 3\n", ""), "warning: 10", "warning: lots", 1))
	if _, err := Load(p); err == nil {
		t.Fatal("Load accepted the broken file")
	}
	f, err := LoadMeta(p)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := f.Channel("payments-slack")
	if !ok || !c.SlackApp() || c.Token != botTok || c.SlackChannel != "C0123456789" || !c.ThreadReminders || c.DigestAfter != 3 || c.APIURL != DefaultSlackAPIURL {
		t.Errorf("channel = %+v", c)
	}
	if !slices.Contains(f.Secrets, botTok) {
		t.Error("the token is not among LoadMeta's secrets")
	}
	if !slices.Equal(f.MetaNotify, []string{"payments-slack", "ops"}) {
		t.Errorf("meta_notify = %v", f.MetaNotify)
	}

	// An app channel that cannot post is no use for meta alerts either.
	p = write(strings.Replace(appDoc("    token: "+userTok+"\n    channel: C0123456789\n", ""), "warning: 10", "warning: lots", 1))
	if _, err := LoadMeta(p); err == nil || strings.Contains(err.Error(), "sekrit") {
		t.Errorf("LoadMeta with a user token: %v", err)
	}
}
