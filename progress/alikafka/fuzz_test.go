package alikafka

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// fuzzNow is a fixed clock, so that a failing input replays.
var fuzzNow = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

// progressSeeds are nasty shapes: every list shape the decoder accepts,
// numbers as text and floats, out-of-range and missing values, duplicates,
// nesting, and things that are not replies at all.
var progressSeeds = []string{
	`{"Code":200,"Success":true,"ConsumerProgress":{"TotalDiff":3,"LastTimestamp":1700000000000,"TopicList":{"TopicList":[{"Topic":"a","TotalDiff":3,"OffsetList":{"OffsetList":[{"Partition":0,"BrokerOffset":5,"ConsumerOffset":2,"LastTimestamp":1700000000000}]}}]}}}`,
	`{"GetConsumerProgressResponse":{"Code":"200","Success":"true","ConsumerProgress":{"TotalDiff":"3","TopicList":{"TopicList":{"Topic":"a","OffsetList":{"OffsetList":{"Partition":"0","BrokerOffset":"9","ConsumerOffset":"-1"}}}}}}}`,
	`{"Code":200,"ConsumerProgress":{"TotalDiff":1.0e0,"TopicList":[{"Topic":"a","OffsetList":[{"Partition":0}]}]}}`,
	`{"Code":200,"ConsumerProgress":{"TotalDiff":9.223372036854775807e18,"TopicList":[{"Topic":"a","OffsetList":[{"Partition":1e9,"BrokerOffset":-9223372036854775808,"ConsumerOffset":9223372036854775807}]}]}}`,
	`{"Code":200,"ConsumerProgress":{"TotalDiff":-5,"LastTimestamp":99999999999999999,"TopicList":[{"Topic":"a","TotalDiff":-1,"LastTimestamp":1},{"Topic":"a","TotalDiff":7,"OffsetList":[{"Partition":3},{"Partition":3},{"Partition":-1},{"Partition":2147483648}]}]}}`,
	`{"Code":200,"ConsumerProgress":{"TopicList":{"TopicList":[{"Topic":null,"OffsetList":null},{"Topic":"","OffsetList":{}},{"Topic":1,"OffsetList":{"OffsetList":[]}}]}}}`,
	`{"Code":200,"ConsumerProgress":{"TopicList":{"TopicList":{"TopicList":[]}}}}`,
	`{"Code":200,"ConsumerProgress":{"TopicList":{"Topic":"bare","TotalDiff":2}}}`,
	`{"Code":200,"ConsumerProgress":{"TopicList":[[[[[[[[[[]]]]]]]]]]}}`,
	`{"Code":200,"ConsumerProgress":{"TopicList":[{"Topic":"\u00ff\ud800x","OffsetList":[{"Partition":"0","BrokerOffset":" 12 ","ConsumerOffset":"","LastTimestamp":"1.5e12"}]}]}}`,
	`{"Success":false,"Code":"BIZ_SUBSCRIPTION_NOT_FOUND","Message":"gone"}`,
	`{"RequestId":"R","HostId":"h","Code":"Throttling.User","Message":"Request was denied due to user flow control.","Recommend":"x"}`,
	`{"A":1,"B":2}`,
	`{"XResponse":[]}`,
	`[]`, `null`, `""`, `{}`, ``, `{"Code":200,"ConsumerProgress":null}`,
	`{"Code":200,"ConsumerProgress":{"TopicList":{"TopicList":[{"OffsetList":{"OffsetList":[{"Partition":0,"BrokerOffset":1},{"Partition":0,"BrokerOffset":2}],"Extra":1}}]}}}`,
	strings.Repeat(`{"a":`, 300) + `1` + strings.Repeat(`}`, 300),
}

var listSeeds = []string{
	`{"Code":200,"Success":true,"Total":2,"CurrentPage":1,"PageSize":100,"ConsumerList":{"ConsumerVO":[{"ConsumerId":"g1"},{"ConsumerId":"g2"}]}}`,
	`{"GetConsumerListResponse":{"Code":"200","Total":"1","ConsumerList":{"ConsumerVO":{"ConsumerId":"g1"}}}}`,
	`{"Code":200,"Total":-1,"ConsumerList":[{"ConsumerId":null},{"ConsumerId":12},{"ConsumerId":""}]}`,
	`{"Code":200,"Total":1e300,"ConsumerList":{}}`,
	`{"Code":200,"ConsumerList":{"ConsumerVO":[{"ConsumerId":["x"]}]}}`,
	`[]`, `null`, `{}`,
}

func FuzzDecodeProgress(f *testing.F) {
	sample, err := os.ReadFile("testdata/api-reference-sample.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sample)
	var wrapper map[string]json.RawMessage
	if err := json.Unmarshal(sample, &wrapper); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(wrapper["GetConsumerProgressResponse"]))
	for _, s := range progressSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var body progressBody
		if err := decodeBody(b, &body); err != nil {
			return
		}
		if err := body.check(200); err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
		}
		g := toGroup("cn-hangzhou", "i1", "g1", body.ConsumerProgress, fuzzNow)
		checkSane(t, g.TotalDiff, g.LastTimestamp)
		for i, tp := range g.Topics {
			checkSane(t, tp.TotalDiff, tp.LastTimestamp)
			if i > 0 && tp.Topic <= g.Topics[i-1].Topic {
				t.Fatalf("topics not sorted and unique: %q after %q", tp.Topic, g.Topics[i-1].Topic)
			}
			var lag int64
			for j, p := range tp.Partitions {
				if p.Partition < 0 || p.BrokerOffset < 0 || p.ConsumerOffset < 0 {
					t.Fatalf("partition %+v", p)
				}
				if j > 0 && p.Partition <= tp.Partitions[j-1].Partition {
					t.Fatalf("partitions not sorted and unique: %+v", tp.Partitions)
				}
				checkSane(t, p.Lag(), p.LastTimestamp)
				lag = addSat(lag, p.Lag())
			}
			if tp.TotalDiff < lag {
				t.Fatalf("topic %q TotalDiff %d below its partitions' lag %d", tp.Topic, tp.TotalDiff, lag)
			}
		}
		if len(g.Anomalies) > maxAnomalies+1 {
			t.Fatalf("%d anomalies", len(g.Anomalies))
		}
		for _, a := range g.Anomalies {
			if len(a) > 600 || !utf8.ValidString(a) {
				t.Fatalf("anomaly %q", a)
			}
		}
	})
}

func checkSane(t *testing.T, diff, ts int64) {
	t.Helper()
	if diff < 0 {
		t.Fatalf("negative total %d", diff)
	}
	if ts > 0 && (ts < minPlausibleMillis || ts > fuzzNow.Add(maxFutureSkew).UnixMilli()) {
		t.Fatalf("implausible timestamp %d kept", ts)
	}
}

func FuzzDecodeList(f *testing.F) {
	for _, s := range listSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var body listBody
		if err := decodeBody(b, &body); err != nil {
			return
		}
		_ = body.check(200)
		if len(body.ConsumerList) > len(b) {
			t.Fatalf("%d entries from %d bytes", len(body.ConsumerList), len(b))
		}
	})
}
