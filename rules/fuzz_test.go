package rules

import (
	"os"
	"strings"
	"testing"
)

// FuzzParse feeds the loader arbitrary documents: it must never panic, and
// every failure must be Errors whose lines name the file.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile("example.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(example), lifecycleDoc, validHead, "", "---", "[]", "version: 1\n", "a: &a [*a, *a]\nb: *a\n",
		"version: 1\nrules: [{name: r, instance: i, groups: ['[']}]\n",
		"version: 1\nsilences: [{matchers: {group: g}, starts: 2026-11-21T09:00:00Z, ends: 2026-11-21T08:00:00Z}]\n",
		"version: 1\napi: {qps: 1e400, retries: -1}\n", strings.Repeat("[", 500), "version: 1\ndefaults: {active_hours: {from: '25:00', to: '09:00', tz: '../../etc'}}\n",
		"version: 1\ndefaults: {region: cn-hangzhou, notify: [c], language: zh-CN, timezone: Asia/Shanghai, annotations: {owner: '@oncall', runbook_url: 'https://wiki.example/{{ .Group }}'}}\n" +
			"channels: {c: {type: slack, webhook_url: '${SLACK_WEBHOOK_URL}', language: en, timezone: Europe/Berlin}}\n" +
			"rules: [{name: r, instance: i, groups: [g], backlog: {warning: 1}, annotations: {summary: '{{ .Group }}/{{ .Topic }}[{{ .Partition }}]', owner: ''}}]\n",
		"version: 1\ndefaults: {language: zh, timezone: Local, annotations: {Bad-Key: x, n: 1, l: [], u_url: '{{ .Owner }}'}}\n" +
			"rules: [{annotations: {s: '{{ range 9 }}{{ end }}', t: '{{ .Group', d: '{{ printf \"%999999d\" 1 }}'}}]\n",
		"version: 1\ndefaults: {region: cn-hangzhou, notify: [app]}\n" +
			"channels: {app: {type: slack, token: xoxb-1-2-abc, channel: C0123456789, thread_reminders: false, digest_after: 50, api_url: 'http://127.0.0.1:1/api'}}\n" +
			"rules: [{name: r, instance: i, groups: [g], backlog: {warning: 1}}]\n",
		"version: 1\nchannels: {a: {type: slack, webhook_url: 'https://x.example/', token: xoxp-1-2, channel: '#general', digest_after: 0, api_url: '?'},\n" +
			"  d: {type: dingtalk, webhook_url: 'https://d.example/?access_token=t', token: '', thread_reminders: yes, channel: c0123456789}}\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		file, err := Parse("fuzz.yaml", []byte(doc), testEnv)
		if err == nil {
			if file == nil || len(file.Rules) == 0 || len(file.Channels) == 0 {
				t.Fatalf("accepted a file without rules or channels: %+v", file)
			}
			return
		}
		es, ok := err.(Errors)
		if !ok || len(es) == 0 {
			t.Fatalf("error %T %v is not Errors", err, err)
		}
		for _, e := range es {
			if !strings.HasPrefix(e.Error(), "fuzz.yaml") || strings.Contains(e.Error(), "\n") {
				t.Fatalf("bad error line %q", e.Error())
			}
		}
	})
}

func TestAPIAndMetaNotify(t *testing.T) {
	rule := "  - name: r\n    instance: i\n    groups: [g]\n    backlog: {warning: 10}\n"
	f, err := Parse("r.yaml", []byte(strings.Replace(validHead, "rules:\n", "api: {qps: 2.5, concurrency: 8, timeout: 3s, retries: 0}\nrules:\n", 1)+rule), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if f.API.QPS != 2.5 || f.API.Concurrency != 8 || f.API.Timeout.Seconds() != 3 || f.API.Retries != 0 {
		t.Errorf("api = %+v", f.API)
	}
	if len(f.MetaNotify) != 1 || f.MetaNotify[0] != "team-slack" {
		t.Errorf("meta_notify defaults to the channels in use, got %v", f.MetaNotify)
	}
	f, err = Parse("r.yaml", []byte(validHead+rule), testEnv)
	if err != nil || f.API.Retries != -1 || f.API.QPS != 0 {
		t.Errorf("unset api = %+v, %v", f.API, err)
	}
	for doc, want := range map[string]string{
		strings.Replace(validHead, "rules:\n", "api: {qps: fast}\nrules:\n", 1) + rule:     "r.yaml:9: api.qps: must be a number",
		strings.Replace(validHead, "rules:\n", "api: {retries: 50}\nrules:\n", 1) + rule:   "r.yaml:9: api.retries: must be between 0 and 10",
		strings.Replace(validHead, "rules:\n", "meta_notify: [pager]\nrules:\n", 1) + rule: `r.yaml:9: meta_notify[0]: unknown channel "pager"`,
		strings.Replace(validHead, "rules:\n", "api: {burst: 5}\nrules:\n", 1) + rule:      "r.yaml:9: api.burst: unknown key",
		strings.Repeat("# padding\n", MaxFileSize/10+1):                                    "the limit is",
	} {
		if _, err := Parse("r.yaml", []byte(doc), testEnv); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
}
