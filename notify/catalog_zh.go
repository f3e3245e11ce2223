package notify

import (
	"fmt"
	"strconv"
	"time"

	"github.com/backlog-alert/backlog-alert/rules"
)

// Chinese is the zh-CN catalogue: written as an on-call engineer in Beijing
// or Hangzhou would say it, counting in 万 and 亿, with Alibaba Cloud's own
// words (消费组, 地域, 实例, Topic).
var Chinese = &Catalog{
	Language: rules.LanguageChinese,
	Count:    chineseCount,
	Messages: func(n int64) string { return chineseCount(n) + "条" },
	Duration: chineseTime.duration,
	Rate: func(perMin float64) string {
		return rate(perMin, chineseCount, "条/分钟", "不到0.1条/分钟")
	},
	DrainTime: func(minutes float64) string {
		return drainTime(minutes, chineseTime.duration, "不到1分钟", "约%d分钟", "约%s")
	},
	Stamp: func(t time.Time) string {
		return t.Format("2006-01-02 15:04") + "（" + ZoneLabel(t) + "）"
	},
	Clock: func(t, now time.Time) string {
		if sameDay(t, now) {
			return t.Format("15:04")
		}
		return fmt.Sprintf("%d月%d日 %s", t.Month(), t.Day(), t.Format("15:04"))
	},
	Subject: func(a rules.Alert) string {
		if a.Partition == nil {
			return a.Where()
		}
		a.Partition, a.Topic = nil, a.Topic+" 分区"+strconv.Itoa(*a.Partition)
		return a.Where()
	},
	Partition: func(p int) string { return "分区" + strconv.Itoa(p) },
	Severity:  map[rules.Severity]string{rules.Critical: "严重", rules.Warning: "警告"},
	Condition: map[rules.Condition]string{rules.Backlog: "消息堆积", rules.Stale: "消费延迟", rules.Stuck: "消费停滞", rules.Blind: "监控盲区"},
	Gone: map[string]string{
		rules.GoneDeleted:   "已删除：服务端已查不到这个消费组",
		rules.GoneUnmatched: "已不在告警规则的监控范围内",
		"":                  "已删除或不再监控",
	},
	Plural: func(n int, _, many string) string { return fmt.Sprintf(many, n) },

	HeadBlindOne:   "backlog-alert 无法监控 %s",
	HeadBlindState: "backlog-alert 无法保存状态：%s",
	HeadBlindMany:  "backlog-alert 无法监控 %d 个实例",
	HeadBehind:     [2]string{"%d 个消费组消费滞后", "%d 个消费组消费滞后"},
	HeadKinds: map[rules.Kind]string{
		rules.KindEscalated:  "%d 个升级",
		rules.KindFiring:     "%d 个新告警",
		rules.KindReminder:   "%d 个持续告警",
		rules.KindDowngraded: "%d 个降级",
		rules.KindResolved:   "%d 个已恢复",
	},
	HeadPartly:     "%d 个部分恢复",
	HeadGone:       [2]string{"%d 个消费组已消失", "%d 个消费组已消失"},
	HeadCritical:   "（%d 个严重）",
	ListSeparator:  "，",
	About:          "检测时间 %s",
	More:           "……另有 %d 项未显示",
	DigestNote:     "%d 个消费组：每个消费组的详情见本消息下的回复，并会随状态更新",
	RunbookLink:    "处理手册",
	OwnerLine:      "负责人：%s",
	AnnotationLine: "%s：%s",

	TitleFiring:     "%s",
	TitleEscalated:  "升级为%s",
	TitleDowngraded: "降级为%s",
	TitleReminder:   "提醒：仍在告警（%s）",
	TitleResolved:   "已恢复",
	TitlePartly:     "部分恢复，仍为%s",
	TitleGone:       "消费组已消失",

	ConditionLine:    "%s（%s）：%s",
	StatusFiring:     "%s",
	StatusEscalated:  "%s，由%s升级",
	StatusDowngraded: "%s，由%s降级",
	StatusReminder:   "%s，已持续%s",
	StatusStill:      "仍为%s",
	StatusResolved:   "已恢复",
	StatusResolvedIn: "持续%s后已恢复",

	BacklogNow:       "%s（阈值 %s）",
	BacklogResolved:  "当前 %s（阈值 %s）",
	StaleNow:         "最新已消费的消息产生于 %s前（阈值 %s）",
	StaleResolved:    "现在最新已消费的消息产生于 %s前（阈值 %s）",
	StuckNow:         "消费位点已 %s未前进（阈值 %s）",
	StuckAtLeast:     "消费位点至少 %s未前进：从 %s 开始监控起就没动过（阈值 %s）",
	StuckResolved:    "消费位点已恢复前进",
	CaughtUp:         "已追平，无堆积",
	LagLine:          "堆积：%s",
	AgeLine:          "最新已消费的消息：%s前产生",
	AgeUnknown:       "最新已消费的消息：产生时间未知",
	LastKnown:        "消失前的告警：%s",
	LastKnownAlert:   "%[2]s（%[1]s，%[3]s）",
	WhereLine:        "实例 %s · 地域 %s · 规则 %s",
	WhereRules:       "实例 %s · 地域 %s · 规则 %s",
	TopTopics:        "堆积最多的 Topic：%s",
	TopPartitions:    "堆积最多的分区：%s",
	TopSeparator:     "，",
	TrendLabel:       "趋势：%s",
	TrendSeparator:   "，",
	TrendSpark:       "%s %s → %s",
	TrendConsuming:   "消费 %s",
	TrendNotConsumed: "未在消费",
	TrendProducing:   "生产 %s",
	TrendOver:        "%s（最近 %s）",
	TrendDrains:      "预计%s后消化完",
	TrendGrowing:     "堆积增速 %s",

	BlindFiring:        "backlog-alert 无法监控 %s：%s",
	BlindMeaning:       "恢复之前，没有告警并不代表没有问题。",
	BlindStateMeaning:  "状态恢复可写之前不会发出任何告警，没有告警不代表没有问题。",
	BlindResolved:      "backlog-alert 已恢复对 %s 的监控",
	BlindWas:           "原因：%s",
	BlindRegion:        "地域 %s",
	BlindEveryInstance: "%s 地域的全部实例",
	BlindCauses: map[string]string{
		rules.BlindCredentials: "凭证被拒绝（%s）：请检查 AccessKey 或 STS Token，以及 RAM 权限策略（deploy/ram-policy.json）",
		rules.BlindListing:     "无法列出该实例的消费组：%s",
		rules.BlindInstances:   "无法列出该地域的实例（GetInstanceList）：%s",
		rules.BlindUnreadable:  "%[2]d 个消费组中有 %[1]d 个读取失败：%[3]s",
		rules.BlindRules:       "规则文件无效：%s",
		rules.BlindState:       "%d 条通知暂缓发出：状态无法记录，发出后每次运行都会重复发送（%s）",
	},
}

// chineseCount counts as Chinese does, in 万 (10⁴) and 亿 (10⁸): "9,999",
// "1.8万", "123.5万", "2.3亿", "1.5万亿".
func chineseCount(n int64) string { return chinese.count(n) }
