// Package progress holds the consumer-group progress model: what one run
// learned about each watched group. It is plain data with no dependencies, so
// evaluation can be tested without any client; progress/alikafka fills it from
// the alikafka OpenAPI and progress/alikafkatest serves it to that client.
package progress

import "path"

// Snapshot is everything one run read, sorted by region, instance and group.
type Snapshot struct {
	Groups []Group `json:"groups"`
}

// Group is the result of one GetConsumerProgress call.
type Group struct {
	Region   string `json:"region"`
	Instance string `json:"instance"`
	Group    string `json:"group"`
	// Tags are the group's tags as GetConsumerList reported them, when the
	// run listed the group's instance; nil otherwise.
	Tags map[string]string `json:"tags,omitempty"`
	// TotalDiff is the group's backlog over all its topics, in messages.
	TotalDiff int64 `json:"total_diff"`
	// LastTimestamp is when the newest consumed message was produced, in Unix
	// milliseconds; zero or negative means the service does not know.
	LastTimestamp int64   `json:"last_timestamp"`
	Topics        []Topic `json:"topics"`
	// Anomalies describe what was wrong with the service's reply and how it
	// was repaired (negative offsets taken as 0, implausible timestamps
	// treated as unknown, duplicates collapsed, totals that disagree with
	// their parts), one short sentence each, so a report can show why a
	// figure may not be what the service said. Nil when the reply was sound.
	Anomalies []string `json:"anomalies,omitempty"`
}

// Topic is one subscribed topic of a group.
type Topic struct {
	Topic         string      `json:"topic"`
	TotalDiff     int64       `json:"total_diff"`
	LastTimestamp int64       `json:"last_timestamp"`
	Partitions    []Partition `json:"partitions"`
}

// Partition is one partition of a topic as the group sees it.
type Partition struct {
	Partition      int   `json:"partition"`
	BrokerOffset   int64 `json:"broker_offset"`
	ConsumerOffset int64 `json:"consumer_offset"`
	LastTimestamp  int64 `json:"last_timestamp"`
}

// Lag is the partition's backlog in messages, never negative: a consumer
// offset ahead of the broker's (seen during leader changes) is no backlog.
func (p Partition) Lag() int64 {
	if d := p.BrokerOffset - p.ConsumerOffset; d > 0 {
		return d
	}
	return 0
}

// TagsMatch reports whether tags has every key of want, each value matching
// its glob (path.Match syntax): how a selection by group tags is judged,
// when groups are listed and when rules are evaluated alike.
func TagsMatch(want, tags map[string]string) bool {
	for k, glob := range want {
		v, ok := tags[k]
		if !ok {
			return false
		}
		if m, _ := path.Match(glob, v); !m {
			return false
		}
	}
	return true
}
