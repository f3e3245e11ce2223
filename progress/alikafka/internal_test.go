package alikafka

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"no secrets here", "no secrets here"},
		{
			`Post "https://alikafka.cn-hangzhou.aliyuncs.com/?AccessKeyId=LTAI5tABC&Action=GetConsumerProgress&SecurityToken=CAIS%2Bab%2Fc%3D%3D&Signature=Zm9v%2Bbg%3D%3D&SignatureMethod=HMAC-SHA1&SignatureNonce=n1": dial tcp 127.0.0.1:1: connect: connection refused`,
			`Post "https://alikafka.cn-hangzhou.aliyuncs.com/?AccessKeyId=***&Action=GetConsumerProgress&SecurityToken=***&Signature=***&SignatureMethod=HMAC-SHA1&SignatureNonce=n1": dial tcp 127.0.0.1:1: connect: connection refused`,
		},
		{ // The SDK's StringToSign: the canonical query encoded once more.
			`server string to sign is:POST&%2F&AccessKeyId%3DLTAI5tABC%26Action%3DGetConsumerProgress%26SecurityToken%3DCAIS%252Bab%252Fc%253D%253D%26SignatureMethod%3DHMAC-SHA1`,
			`server string to sign is:POST&%2F&AccessKeyId%3D***%26Action%3DGetConsumerProgress%26SecurityToken%3D***%26SignatureMethod%3DHMAC-SHA1`,
		},
		{"AccessKeyId%253DLTAI5tABC%2526Action", "AccessKeyId%253D***%2526Action"},
		{
			`{"AccessKeyId": "LTAI5tABC", "AccessKeySecret":"s3cr3t", "SecurityToken":"CAIS+x/y==", "Expiration":"2099"}`,
			`{"AccessKeyId": "***", "AccessKeySecret":"***", "SecurityToken":"***", "Expiration":"2099"}`,
		},
		{`msg: "{\"accessKeyId\":\"LTAI5tABC\"}"`, `msg: "{\"accessKeyId\":\"***\"}"`},
		{"<AccessKeyId>LTAI5tABC</AccessKeyId>", "<AccessKeyId>***</AccessKeyId>"},
		{"SecurityToken: CAISxyz\nnext line", "SecurityToken: ***\nnext line"},
		{"signature=abc;SIGNATURE=def", "signature=***;SIGNATURE=***"},
		// Similar names are not secrets; empty values stay empty.
		{"SignatureNonce=abc&SignatureType=&SignatureVersion=1.0&Signature=", "SignatureNonce=abc&SignatureType=&SignatureVersion=1.0&Signature="},
		{"Specified signature is not matched", "Specified signature is not matched"},
		{"AccessKeyId=LTAI", "AccessKeyId=***"},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

func TestClientRedactsKnownValues(t *testing.T) {
	c := &Client{creds: Credentials{AccessKeyID: "LTAI5tKnownKey", AccessKeySecret: "known/secret+", SecurityToken: "known+token/"}}
	in := "a LTAI5tKnownKey b known/secret+ c known%2Fsecret%2B d known%252Btoken%252F e"
	want := "a *** b *** c *** d *** e"
	if got := c.redact(in); got != want {
		t.Errorf("redact = %q, want %q", got, want)
	}
}

func TestDecodeTolerant(t *testing.T) {
	tests := []struct {
		name, body string
		topics     []string
		partitions int
		diff       int64
	}{
		{"service shape", `{"Code":200,"Success":true,"ConsumerProgress":{"TotalDiff":3,"TopicList":{"TopicList":[{"Topic":"a","OffsetList":{"OffsetList":[{"Partition":0},{"Partition":1}]}},{"Topic":"b"}]}}}`, []string{"a", "b"}, 2, 3},
		{"wrapped, single objects", `{"GetConsumerProgressResponse":{"Code":"200","Success":true,"ConsumerProgress":{"TotalDiff":"3","TopicList":{"TopicList":{"Topic":"a","OffsetList":{"OffsetList":{"Partition":"0"}}}}}}}`, []string{"a"}, 1, 3},
		{"flat lists", `{"Code":200,"ConsumerProgress":{"TotalDiff":1.0e0,"TopicList":[{"Topic":"a","OffsetList":[{"Partition":0}]}]}}`, []string{"a"}, 1, 1},
		{"empty lists", `{"Code":200,"Success":true,"ConsumerProgress":{"TopicList":{"TopicList":[]},"RebalanceInfoList":{}}}`, nil, 0, 0},
		{"null and empty object", `{"Code":200,"Success":true,"ConsumerProgress":{"TotalDiff":null,"TopicList":{}}}`, nil, 0, 0},
		{"bare topic object", `{"Code":200,"Success":true,"ConsumerProgress":{"TopicList":{"Topic":"a","TotalDiff":2}}}`, []string{"a"}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b progressBody
			if err := decodeBody([]byte(tt.body), &b); err != nil {
				t.Fatal(err)
			}
			if err := b.check(200); err != nil {
				t.Fatal(err)
			}
			var topics []string
			for _, tp := range b.ConsumerProgress.TopicList {
				topics = append(topics, string(tp.Topic))
			}
			if !reflect.DeepEqual(topics, tt.topics) || int64(b.ConsumerProgress.TotalDiff) != tt.diff {
				t.Errorf("topics %v diff %d", topics, b.ConsumerProgress.TotalDiff)
			}
			if len(topics) > 0 && len(b.ConsumerProgress.TopicList[0].OffsetList) != tt.partitions {
				t.Errorf("%d partitions, want %d", len(b.ConsumerProgress.TopicList[0].OffsetList), tt.partitions)
			}
		})
	}
	for _, bad := range []string{`[1]`, `{"Code":200,"ConsumerProgress":{"TotalDiff":"x"}}`, `{"Code":200,"ConsumerProgress":{"TopicList":5}}`, `not json`} {
		var b progressBody
		if err := decodeBody([]byte(bad), &b); err == nil {
			t.Errorf("decodeBody(%s): no error", bad)
		}
	}
	var l listBody
	if err := decodeBody([]byte(`{"Total":"1","ConsumerList":{"ConsumerVO":{"ConsumerId":"g1"}},"Code":200}`), &l); err != nil || len(l.ConsumerList) != 1 || l.ConsumerList[0].ConsumerID != "g1" || l.Total != 1 {
		t.Errorf("list %+v, %v", l, err)
	}
}

func TestEndpoint(t *testing.T) {
	tests := []struct {
		endpoint, scheme, host string
	}{
		{"", "HTTPS", "alikafka.cn-hangzhou.aliyuncs.com"},
		{"http://127.0.0.1:18080", "HTTP", "127.0.0.1:18080"},
		{"https://kafka.example.test/ignored/path?x=1", "HTTPS", "kafka.example.test"},
	}
	for _, tt := range tests {
		cfg := Config{Credentials: Credentials{AccessKeyID: "id", AccessKeySecret: "sk"}, Endpoint: tt.endpoint}
		c, err := NewClient("cn-hangzhou", cfg)
		if err != nil {
			t.Fatal(err)
		}
		// What the SDK will actually use, not just what we computed.
		if c.sdk.Domain != tt.host || c.sdk.GetConfig().Scheme != tt.scheme {
			t.Errorf("%q: SDK client uses %s://%s, want %s://%s", tt.endpoint, c.sdk.GetConfig().Scheme, c.sdk.Domain, tt.scheme, tt.host)
		}
		if c.sdk.GetReadTimeout() != DefaultTimeout || c.sdk.GetConnectTimeout() != sdkConnectTimeout {
			t.Errorf("timeouts %v/%v", c.sdk.GetReadTimeout(), c.sdk.GetConnectTimeout())
		}
	}
}

// run must never hand one worker (and so one SDK client) to two goroutines
// at once, must use all workers, and must return results in job order.
func TestRunWorkerExclusive(t *testing.T) {
	workers := make([]*worker, 4)
	for i := range workers {
		workers[i] = &worker{}
	}
	var mu sync.Mutex
	busy := map[*worker]bool{}
	used := map[*worker]bool{}
	var inFlight, peak atomic.Int32
	// The first jobs wait for one another, so that all workers are seen
	// busy at once however the goroutines are scheduled; a run that used
	// fewer would keep them waiting, and fail after a minute.
	allBusy := make(chan struct{})
	var once sync.Once
	giveUp, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	jobs := make([]int, 40)
	for i := range jobs {
		jobs[i] = i
	}
	res := run(context.Background(), workers, jobs, func(w *worker, j int) int {
		mu.Lock()
		if busy[w] {
			t.Errorf("worker %p used by two goroutines", w)
		}
		busy[w], used[w] = true, true
		mu.Unlock()
		n := inFlight.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		if n == int32(len(workers)) {
			once.Do(func() { close(allBusy) })
		}
		if j < len(workers) {
			select {
			case <-allBusy:
			case <-giveUp.Done():
				t.Errorf("job %d: %d workers never busy at once", j, len(workers))
			}
		}
		time.Sleep(2 * time.Millisecond)
		inFlight.Add(-1)
		mu.Lock()
		busy[w] = false
		mu.Unlock()
		return j * 2
	}, func() int { return -1 })
	for i, r := range res {
		if r != i*2 {
			t.Fatalf("result %d = %d", i, r)
		}
	}
	if len(used) != 4 || peak.Load() != 4 {
		t.Errorf("%d workers used, peak %d; want 4 and 4", len(used), peak.Load())
	}
	if got := run(context.Background(), workers, []int{}, func(*worker, int) int { return 0 }, func() int { return 0 }); len(got) != 0 {
		t.Errorf("no jobs: %v", got)
	}
}

func TestCredentialsNeverPrinted(t *testing.T) {
	c := Credentials{AccessKeyID: "LTAI5tPrintCheck", AccessKeySecret: "PrintSecret", SecurityToken: "PrintToken"}
	js, _ := json.Marshal(c)
	jsp, _ := json.Marshal(&struct{ C Credentials }{c})
	for _, s := range []string{c.String(), fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%s", &c), fmt.Sprintf("%v", []Credentials{c}), string(js), string(jsp), c.LogValue().String()} {
		for _, secret := range []string{"PrintSecret", "PrintToken", "LTAI5tPrintCheck"} {
			if strings.Contains(s, secret) {
				t.Errorf("%q leaks %s", s, secret)
			}
		}
		if !strings.Contains(s, "LTAI****") {
			t.Errorf("%q should show the key ID's kind", s)
		}
	}
}
