package notify

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/rules"
)

// Every language a channel may choose has a catalogue, and every catalogue
// fills every field: a phrase added to English and forgotten in Chinese
// fails here, not in a chat at 3 a.m.
func TestEveryCatalogueIsComplete(t *testing.T) {
	for _, lang := range rules.Languages {
		c, ok := catalogs[lang]
		if !ok {
			t.Errorf("no catalogue for %q", lang)
			continue
		}
		if c.Language != lang {
			t.Errorf("catalogue for %q says it is %q", lang, c.Language)
		}
		en, v := reflect.ValueOf(*English), reflect.ValueOf(*c)
		for i := range v.NumField() {
			name, f, ef := v.Type().Field(i).Name, v.Field(i), en.Field(i)
			switch f.Kind() {
			case reflect.String:
				if f.String() == "" {
					t.Errorf("%s: %s is empty", lang, name)
				}
				// The same arguments, each used: "%!" marks a wrong verb,
				// a missing or an extra argument.
				args := sampleArgs(ef.String())
				if got := fmt.Sprintf(f.String(), args...); strings.Contains(got, "%!") {
					t.Errorf("%s: %s = %q does not take the arguments of %q: %s", lang, name, f.String(), ef.String(), got)
				}
			case reflect.Func:
				if f.IsNil() {
					t.Errorf("%s: %s is not set", lang, name)
				}
			case reflect.Map:
				if !sameKeys(f, ef) {
					t.Errorf("%s: %s has keys %v, English has %v", lang, name, f.MapKeys(), ef.MapKeys())
				}
				for _, k := range f.MapKeys() {
					value, english := f.MapIndex(k).String(), ef.MapIndex(k).String()
					if value == "" {
						t.Errorf("%s: %s[%v] is empty", lang, name, k)
					}
					if got := fmt.Sprintf(value, sampleArgs(english)...); strings.Contains(got, "%!") {
						t.Errorf("%s: %s[%v] = %q does not take the arguments of %q: %s", lang, name, k, value, english, got)
					}
				}
			case reflect.Array:
				for j := range f.Len() {
					if f.Index(j).String() == "" {
						t.Errorf("%s: %s[%d] is empty", lang, name, j)
					}
				}
			}
		}
	}
	if CatalogFor("tlh") != English || CatalogFor("") != English {
		t.Error("an unknown or empty language must fall back to English")
	}
}

func sameKeys(a, b reflect.Value) bool {
	if a.Len() != b.Len() {
		return false
	}
	for _, k := range b.MapKeys() {
		if !a.MapIndex(k).IsValid() {
			return false
		}
	}
	return true
}

var verb = regexp.MustCompile(`%(\[\d+\])?[sd]`)

// sampleArgs gives a format string's arguments: a number for %d, a word
// for %s.
func sampleArgs(format string) []any {
	var args []any
	for _, m := range verb.FindAllString(strings.ReplaceAll(format, "%%", ""), -1) {
		if strings.HasSuffix(m, "d") {
			args = append(args, 3)
		} else {
			args = append(args, "x")
		}
	}
	return args
}

func TestChineseNumbersAndTimes(t *testing.T) {
	for in, want := range map[int64]string{
		0: "0", 9999: "9,999", 10_000: "1万", 18_000: "1.8万", 212_000: "21.2万", 1_234_567: "123.5万",
		12_345_678: "1235万", 99_999_999: "1亿", 230_000_000: "2.3亿", 1_500_000_000_000: "1.5万亿", -18_000: "-1.8万",
		math.MaxInt64: "9223372万亿",
	} {
		if got := Chinese.Count(in); got != want {
			t.Errorf("Count(%d) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[int64]string{45: "45秒", 42*60 + 5: "42分钟", 3 * 3600: "3小时", 3*3600 + 5*60: "3小时5分钟", 2*86400 + 3*3600: "2天3小时"} {
		if got := Chinese.Duration(in); got != want {
			t.Errorf("Duration(%d) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[float64]string{0: "0条/分钟", 0.01: "不到0.1条/分钟", 2.54: "2.5条/分钟", 13000: "1.3万条/分钟"} {
		if got := Chinese.Rate(in); got != want {
			t.Errorf("Rate(%v) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[float64]string{0.5: "不到1分钟", 25.4: "约25分钟", 71: "约1小时11分钟"} {
		if got := Chinese.DrainTime(in); got != want {
			t.Errorf("DrainTime(%v) = %q, want %q", in, got, want)
		}
	}
}

// latin finds words in Latin letters: in a zh-CN message every one must be
// a name (group, topic, instance, region, rule), a URL, or one of the few
// words Chinese SREs write as they are.
var latin = regexp.MustCompile(`[A-Za-z][A-Za-z0-9_.:/#-]*`)

var keptAsIs = []string{"backlog-alert", "Topic", "UTC", "AccessKey", "STS", "Token", "RAM", "deploy/ram-policy.json"}

// A zh-CN message of every kind of section holds no English phrase.
func TestChineseMessageIsFullyChinese(t *testing.T) {
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	base := rules.Alert{Rule: "orders", Region: "cn-hangzhou", Instance: "alikafka_post-cn-x", Group: "billing", Lag: 21000, AgeKnown: true, AgeSeconds: 3420,
		Trend:       &rules.Trend{Backlog: []int64{18000, 21000}, RatesKnown: true, ProducePerMin: 300, RateSeconds: 300, GrowthPerMin: 300},
		Top:         []rules.Contributor{{Topic: "billing-events", Lag: 21000}},
		Annotations: map[string]string{"owner": "payments", "runbook_url": "https://wiki/rb"}}
	with := func(f func(*rules.Alert)) rules.Alert { a := base; f(&a); return a }
	stale := with(func(a *rules.Alert) {
		a.Condition, a.Severity, a.Value, a.Threshold = rules.Stale, rules.Critical, 3420, 1800
	})
	backlog := with(func(a *rules.Alert) {
		a.Condition, a.Severity, a.Value, a.Threshold = rules.Backlog, rules.Warning, 21000, 10000
	})
	topic := with(func(a *rules.Alert) {
		a.Group, a.Topic, a.Partition = "analytics", "clicks", ptr(3)
		a.Condition, a.Severity, a.Value, a.Threshold, a.Since, a.AtLeast = rules.Stuck, rules.Warning, 1200, 900, evaluated.Add(-20*time.Minute), true
		a.Top = []rules.Contributor{{Topic: "clicks", Partition: ptr(3), Lag: 900}}
		a.Trend = &rules.Trend{Backlog: []int64{900, 900}, RatesKnown: true, RateSeconds: 300, ConsumePerMin: 10, ProducePerMin: 2, DrainMinutes: 112}
	})
	items := []Item{
		item(rules.KindEscalated, stale), item(rules.KindFiring, backlog), item(rules.KindFiring, topic),
		{Kind: rules.KindReminder, Since: evaluated.Add(-5 * time.Hour), Alert: with(func(a *rules.Alert) {
			a.Group, a.Condition, a.Severity, a.Value, a.Threshold = "r", rules.Backlog, rules.Critical, 5, 1
		})},
		item(rules.KindDowngraded, with(func(a *rules.Alert) {
			a.Group, a.Condition, a.Severity, a.Value, a.Threshold = "d", rules.Backlog, rules.Warning, 5, 1
		})),
		{Kind: rules.KindResolved, Since: evaluated.Add(-time.Hour), Alert: with(func(a *rules.Alert) { a.Group, a.Condition, a.Value, a.Lag = "ok1", rules.Stale, 20, 0 })},
		item(rules.KindResolved, with(func(a *rules.Alert) { a.Group, a.Condition, a.Value = "ok2", rules.Stale, 20 })),
		item(rules.KindResolved, with(func(a *rules.Alert) { a.Group, a.Condition, a.Value = "ok3", rules.Stuck, 20 })),
		item(rules.KindResolved, with(func(a *rules.Alert) { a.Group, a.Condition, a.Value = "ok4", rules.Backlog, 20 })),
		item(rules.KindResolved, with(func(a *rules.Alert) { a.Group, a.Condition, a.Value = "part", rules.Stale, 20 })),
		item(rules.KindMissing, with(func(a *rules.Alert) { a.Group, a.Condition, a.Detail = "gone1", rules.Backlog, rules.GoneDeleted })),
		item(rules.KindMissing, with(func(a *rules.Alert) { a.Group, a.Condition, a.Detail = "gone2", rules.Stale, rules.GoneUnmatched })),
		item(rules.KindMissing, with(func(a *rules.Alert) { a.Group, a.Condition = "gone3", rules.Stuck })),
		item(rules.KindFiring, rules.Alert{Rule: "backlog-alert", Instance: "alikafka_post-cn-y", Region: "cn-beijing", Condition: rules.Blind, Severity: rules.Critical,
			Detail: "credentials rejected (InvalidAccessKeyId.NotFound): check …", Cause: &rules.BlindCause{Kind: rules.BlindCredentials, Code: "InvalidAccessKeyId.NotFound"}}),
		item(rules.KindFiring, rules.Alert{Rule: "backlog-alert", Instance: "alikafka_post-cn-u", Region: "cn-beijing", Condition: rules.Blind, Severity: rules.Critical,
			Cause: &rules.BlindCause{Kind: rules.BlindUnreadable, Unreadable: 7, Groups: 9, Error: "ServiceUnavailable"}}),
		item(rules.KindFiring, rules.Alert{Rule: "backlog-alert", Instance: "alikafka_post-cn-l", Region: "cn-beijing", Condition: rules.Blind, Severity: rules.Critical,
			Cause: &rules.BlindCause{Kind: rules.BlindListing, Error: "ServiceUnavailable"}}),
		item(rules.KindFiring, rules.Alert{Rule: "backlog-alert", Instance: "oss://alerts/state.json", Condition: rules.Blind, Severity: rules.Critical,
			Cause: &rules.BlindCause{Kind: rules.BlindState, Held: 3, Error: "AccessDenied"}}),
		item(rules.KindResolved, rules.Alert{Rule: "backlog-alert", Instance: "rules.yaml", Condition: rules.Blind, Severity: rules.Critical,
			Cause: &rules.BlindCause{Kind: rules.BlindRules, Error: "rules.yaml:3: rules: missing"}}),
	}
	ongoing := []Item{{Alert: with(func(a *rules.Alert) {
		a.Group, a.Condition, a.Severity, a.Value, a.Threshold = "part", rules.Backlog, rules.Warning, 21000, 10000
	})}}
	for _, m := range []Message{
		{Time: evaluated, Items: items, Ongoing: ongoing, Language: rules.LanguageChinese, Location: shanghai},
		{Time: evaluated, Items: items[:3], Language: rules.LanguageChinese},                          // "N groups behind"
		{Time: evaluated, Items: items[len(items)-2 : len(items)-1], Language: rules.LanguageChinese}, // blind headline
	} {
		r := Render(m)
		text := []string{r.Headline, r.About, r.More(7)}
		for _, s := range r.Sections {
			text = append(text, s.Title, s.Subject)
			text = append(text, s.Lines...)
			for _, l := range s.Links {
				text = append(text, l.Text)
			}
		}
		// Quoted errors and codes are the service's words, kept as they are.
		names := []string{"orders", "cn-hangzhou", "cn-beijing", "payments", "https://wiki/rb", "billing-events", "billing", "analytics", "clicks",
			"InvalidAccessKeyId.NotFound", "ServiceUnavailable", "AccessDenied", "rules.yaml:3:", "rules:", "missing"}
		for _, it := range items {
			names = append(names, it.Alert.Instance, it.Alert.Group)
		}
		for _, line := range text {
			for _, w := range latin.FindAllString(line, -1) {
				if !slices.Contains(keptAsIs, w) && !slices.Contains(names, w) {
					t.Errorf("untranslated %q in %q", w, line)
				}
			}
		}
		if t.Failed() {
			t.Logf("the message:\n%s", strings.Join(text, "\n"))
			return
		}
	}
}
