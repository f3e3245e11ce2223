package rules

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

var channelEnv = env(map[string]string{
	"FEISHU_URL":  "https://open.feishu.cn/open-apis/bot/v2/hook/sekrit-feishu-token",
	"FEISHU_SEC":  "sekrit-feishu-secret",
	"WECOM_URL":   "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=sekrit-wecom-key",
	"WECOM_NOKEY": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?x=sekrit",
	"HOOK_URL":    "https://ops.example.com/hooks/sekrit-path",
	"HOOK_SEC":    "sekrit-hook-secret",
	"API_KEY":     "sekrit-api-key",
	"AM_TOKEN":    "sekrit-am-token",
	"AM_PASSWORD": "sekrit-am-password",
})

// channelDoc has the channel "c" on line 6, its body from line 7.
func channelDoc(body string) string {
	return "version: 1\n" +
		"defaults: {region: cn-hangzhou, notify: [c]}\n" +
		"rules:\n" +
		"  - {name: r, instance: i, groups: [g], backlog: {warning: 10}}\n" +
		"channels:\n" +
		"  c:\n" +
		body
}

func TestChannelTypes(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		check      func(Channel) bool
		secrets    []string
	}{
		{"feishu", "    type: feishu\n    webhook_url: ${FEISHU_URL}\n    secret: ${FEISHU_SEC}\n    at_open_ids: [ou_1, ou_2]\n",
			func(c Channel) bool {
				return c.WebhookURL == channelEnvValue("FEISHU_URL") && c.Secret == "sekrit-feishu-secret" && slices.Equal(c.AtOpenIDs, []string{"ou_1", "ou_2"})
			},
			[]string{"sekrit-feishu-token", "sekrit-feishu-secret"}},
		{"wecom", "    type: wecom\n    webhook_url: ${WECOM_URL}\n    at_mobiles: [\"13800000000\"]\n    language: zh-CN\n",
			func(c Channel) bool {
				return c.WebhookURL == channelEnvValue("WECOM_URL") && slices.Equal(c.AtMobiles, []string{"13800000000"}) && c.Language == LanguageChinese
			},
			[]string{"sekrit-wecom-key"}},
		{"webhook", "    type: webhook\n    url: ${HOOK_URL}\n    secret: ${HOOK_SEC}\n    headers: {X-Api-Key: \"${API_KEY}\", X-Team: payments}\n",
			func(c Channel) bool {
				return c.URL == channelEnvValue("HOOK_URL") && c.Secret == "sekrit-hook-secret" && c.Headers["X-Api-Key"] == "sekrit-api-key" && c.Headers["X-Team"] == "payments"
			},
			[]string{"sekrit-path", "sekrit-hook-secret", "sekrit-api-key"}},
		{"alertmanager with a bearer token", "    type: alertmanager\n    url: http://am:9093\n    bearer_token: ${AM_TOKEN}\n",
			func(c Channel) bool {
				return c.URL == "http://am:9093" && c.BearerToken == "sekrit-am-token" && c.Resend == DefaultResend
			},
			[]string{"sekrit-am-token"}},
		{"alertmanager with basic auth", "    type: alertmanager\n    url: https://am.example.com/\n    basic_auth: {username: bot, password: \"${AM_PASSWORD}\"}\n    resend: 10m\n",
			func(c Channel) bool {
				return c.BasicUser == "bot" && c.BasicPassword == "sekrit-am-password" && c.Resend == 10*time.Minute
			},
			[]string{"sekrit-am-password"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse("rules.yaml", []byte(channelDoc(tc.body)), channelEnv)
			if err != nil {
				t.Fatal(err)
			}
			if c := f.Channels[0]; !tc.check(c) {
				t.Errorf("channel = %+v", c)
			}
			for _, secret := range tc.secrets {
				if !slices.ContainsFunc(f.Secrets, func(s string) bool { return strings.Contains(s, secret) }) {
					t.Errorf("%q is not among the secrets to scrub", secret)
				}
			}
		})
	}
}

func channelEnvValue(k string) string { v, _ := channelEnv(k); return v }

func TestChannelTypeErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"unknown type", "    type: teams\n    webhook_url: ${HOOK_URL}\n",
			`rules.yaml:7: channels.c.type: unknown channel type "teams" (slack, dingtalk, feishu, wecom, webhook, alertmanager)`},
		{"feishu without its URL", "    type: feishu\n", "rules.yaml:7: channels.c.webhook_url: missing"},
		{"a key of another type", "    type: feishu\n    webhook_url: ${FEISHU_URL}\n    at_mobiles: [\"1\"]\n",
			"rules.yaml:9: channels.c.at_mobiles: unknown key (expected one of: type, language, timezone, webhook_url, secret, at_open_ids)"},
		{"WeCom URL without its key", "    type: wecom\n    webhook_url: ${WECOM_NOKEY}\n",
			"rules.yaml:8: channels.c.webhook_url: a WeCom robot URL must include key"},
		{"webhook without url", "    type: webhook\n    secret: ${HOOK_SEC}\n", "rules.yaml:7: channels.c.url: missing"},
		{"webhook header name", "    type: webhook\n    url: ${HOOK_URL}\n    headers: {\"Bad Header\": x}\n",
			`rules.yaml:9: channels.c.headers.Bad Header: is not a valid header name`},
		{"webhook header we set", "    type: webhook\n    url: ${HOOK_URL}\n    headers: {content-type: text/plain}\n",
			"rules.yaml:9: channels.c.headers.content-type: is set by backlog-alert itself"},
		{"alertmanager with both auths", "    type: alertmanager\n    url: http://am:9093\n    bearer_token: ${AM_TOKEN}\n    basic_auth: {username: u, password: p}\n",
			"rules.yaml:7: channels.c: set bearer_token or basic_auth, not both"},
		{"alertmanager API path", "    type: alertmanager\n    url: http://am:9093/api/v2/alerts\n",
			"rules.yaml:8: channels.c.url: is Alertmanager's base URL, such as http://alertmanager:9093 (without /api/v2/alerts or a query)"},
		{"alertmanager basic auth without password", "    type: alertmanager\n    url: http://am:9093\n    basic_auth: {username: u}\n",
			"rules.yaml:9: channels.c.basic_auth.password: missing"},
		{"alertmanager resend", "    type: alertmanager\n    url: http://am:9093\n    resend: often\n",
			`rules.yaml:9: channels.c.resend: "often" is not a positive duration (use e.g. 90s, 10m, 1h30m, 2d)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("rules.yaml", []byte(channelDoc(tc.body)), channelEnv)
			var errs Errors
			if !errors.As(err, &errs) || err.Error() != tc.want {
				t.Fatalf("error:\n%v\nwant:\n%s", err, tc.want)
			}
			if strings.Contains(err.Error(), "sekrit") {
				t.Errorf("a secret in the error: %v", err)
			}
		})
	}
}
