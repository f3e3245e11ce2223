package alikafkatest

import (
	"maps"
	"slices"

	"github.com/backlog-alert/backlog-alert/progress"
)

// The service's JSON shapes. Every list is nested twice under the same key
// ("TopicList": {"TopicList": [...]}), as the real service sends it; slices are
// always non-nil so that empty lists are [] rather than null.

type okHeader struct {
	Code      int    `json:"Code"`
	Success   bool   `json:"Success"`
	Message   string `json:"Message"`
	RequestID string `json:"RequestId"`
}

type gatewayError struct {
	RequestID string `json:"RequestId"`
	HostID    string `json:"HostId"`
	Code      string `json:"Code"`
	Message   string `json:"Message"`
	Recommend string `json:"Recommend"`
}

type businessError struct {
	Success   bool   `json:"Success"`
	Code      string `json:"Code"`
	Message   string `json:"Message"`
	RequestID string `json:"RequestId"`
}

type consumerListBody struct {
	okHeader
	Total        int          `json:"Total"`
	CurrentPage  int          `json:"CurrentPage"`
	PageSize     int          `json:"PageSize"`
	ConsumerList consumerList `json:"ConsumerList"`
}

type consumerList struct {
	ConsumerVO []consumerVO `json:"ConsumerVO"`
}

type consumerVO struct {
	ConsumerID                string  `json:"ConsumerId"`
	InstanceID                string  `json:"InstanceId"`
	RegionID                  string  `json:"RegionId"`
	Remark                    string  `json:"Remark"`
	AutomaticallyCreatedGroup bool    `json:"AutomaticallyCreatedGroup"`
	Tags                      tagList `json:"Tags"`
}

type tagList struct {
	TagVO []tagVO `json:"TagVO"`
}

type tagVO struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// toTags renders tags sorted by key; never nil.
func toTags(tags map[string]string) tagList {
	vos := make([]tagVO, 0, len(tags))
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		vos = append(vos, tagVO{Key: k, Value: tags[k]})
	}
	return tagList{TagVO: vos}
}

type instanceListBody struct {
	okHeader
	InstanceList instanceList `json:"InstanceList"`
}

type instanceList struct {
	InstanceVO []instanceVO `json:"InstanceVO"`
}

// instanceVO is the part of the service's InstanceVO the fake knows.
type instanceVO struct {
	InstanceID     string  `json:"InstanceId"`
	Name           string  `json:"Name"`
	ServiceStatus  int     `json:"ServiceStatus"`
	RegionID       string  `json:"RegionId"`
	UsedGroupCount int     `json:"UsedGroupCount"`
	Tags           tagList `json:"Tags"`
}

type progressBody struct {
	okHeader
	ConsumerProgress consumerProgress `json:"ConsumerProgress"`
}

type consumerProgress struct {
	TotalDiff         int64             `json:"TotalDiff"`
	LastTimestamp     int64             `json:"LastTimestamp"`
	TopicList         topicList         `json:"TopicList"`
	RebalanceInfoList rebalanceInfoList `json:"RebalanceInfoList"`
}

type topicList struct {
	TopicList []topic `json:"TopicList"`
}

type topic struct {
	Topic         string     `json:"Topic"`
	TotalDiff     int64      `json:"TotalDiff"`
	LastTimestamp int64      `json:"LastTimestamp"`
	OffsetList    offsetList `json:"OffsetList"`
}

type offsetList struct {
	OffsetList []offset `json:"OffsetList"`
}

type offset struct {
	Partition      int   `json:"Partition"`
	BrokerOffset   int64 `json:"BrokerOffset"`
	ConsumerOffset int64 `json:"ConsumerOffset"`
	LastTimestamp  int64 `json:"LastTimestamp"`
}

type rebalanceInfoList struct {
	RebalanceInfoList []struct{} `json:"RebalanceInfoList"`
}

// toJSON renders a group; hide replaces every LastTimestamp with -1, as the
// service answers a request with HideLastTimestamp=true.
func toJSON(g progress.Group, hide bool) consumerProgress {
	ts := func(v int64) int64 {
		if hide {
			return -1
		}
		return v
	}
	cp := consumerProgress{
		TotalDiff:         g.TotalDiff,
		LastTimestamp:     ts(g.LastTimestamp),
		TopicList:         topicList{TopicList: make([]topic, 0, len(g.Topics))},
		RebalanceInfoList: rebalanceInfoList{RebalanceInfoList: []struct{}{}},
	}
	for _, t := range g.Topics {
		jt := topic{Topic: t.Topic, TotalDiff: t.TotalDiff, LastTimestamp: ts(t.LastTimestamp), OffsetList: offsetList{OffsetList: make([]offset, 0, len(t.Partitions))}}
		for _, p := range t.Partitions {
			jt.OffsetList.OffsetList = append(jt.OffsetList.OffsetList, offset{
				Partition: p.Partition, BrokerOffset: p.BrokerOffset, ConsumerOffset: p.ConsumerOffset, LastTimestamp: ts(p.LastTimestamp),
			})
		}
		cp.TopicList.TopicList = append(cp.TopicList.TopicList, jt)
	}
	return cp
}
