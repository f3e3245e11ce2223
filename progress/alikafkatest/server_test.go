package alikafkatest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	sdkalikafka "github.com/aliyun/alibaba-cloud-sdk-go/services/alikafka"

	"github.com/backlog-alert/backlog-alert/progress"
)

func TestMain(m *testing.M) {
	// Nothing here may leave 127.0.0.1.
	for _, k := range []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"} {
		os.Unsetenv(k)
	}
	os.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	os.Exit(m.Run())
}

var testCreds = Credentials{AccessKeyID: "LTAItestkeyid0001", AccessKeySecret: "test-secret", SecurityToken: "test-token"}

var nonce atomic.Int64

// signed returns a correctly signed GET request's parameters.
func signed(c Credentials, action string, extra map[string]string, tweak func(url.Values)) url.Values {
	p := url.Values{}
	p.Set("Action", action)
	p.Set("Version", APIVersion)
	p.Set("Format", "JSON")
	p.Set("AccessKeyId", c.AccessKeyID)
	p.Set("SignatureMethod", "HMAC-SHA1")
	p.Set("SignatureVersion", "1.0")
	p.Set("SignatureType", "")
	p.Set("SignatureNonce", fmt.Sprintf("nonce-%d", nonce.Add(1)))
	p.Set("Timestamp", time.Now().UTC().Format("2006-01-02T15:04:05Z"))
	p.Set("RegionId", "cn-hangzhou")
	if c.SecurityToken != "" {
		p.Set("SecurityToken", c.SecurityToken)
	}
	for k, v := range extra {
		p.Set(k, v)
	}
	if tweak != nil {
		tweak(p)
	}
	if p.Get("Signature") == "" {
		p.Set("Signature", Sign("GET", p, c.AccessKeySecret))
	}
	return p
}

func get(t *testing.T, s *Server, p url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(s.URL + "/?" + p.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body %q: %v", b, err)
	}
	return resp.StatusCode, m
}

func TestVerification(t *testing.T) {
	s := NewServer(testCreds)
	defer s.Close()
	s.SetGroup(progress.Group{Instance: "i1", Group: "g1"})
	okExtra := map[string]string{"InstanceId": "i1", "ConsumerId": "g1"}
	replay := signed(testCreds, ActionGetConsumerProgress, okExtra, nil)

	tests := []struct {
		name     string
		creds    Credentials
		action   string
		tweak    func(url.Values)
		status   int
		code     string
		sigValid bool
	}{
		{"ok", testCreds, ActionGetConsumerProgress, nil, 200, "", true},
		{"wrong secret", Credentials{AccessKeyID: testCreds.AccessKeyID, AccessKeySecret: "other", SecurityToken: testCreds.SecurityToken}, ActionGetConsumerProgress, nil, 400, "SignatureDoesNotMatch", false},
		{"param changed after signing", testCreds, ActionGetConsumerProgress, func(p url.Values) {
			p.Set("Signature", Sign("GET", p, testCreds.AccessKeySecret))
			p.Set("ConsumerId", "g2")
		}, 400, "SignatureDoesNotMatch", false},
		{"empty param left out of signature", testCreds, ActionGetConsumerProgress, func(p url.Values) {
			p.Del("SignatureType")
			p.Set("Signature", Sign("GET", p, testCreds.AccessKeySecret))
			p.Set("SignatureType", "")
		}, 400, "SignatureDoesNotMatch", false},
		{"version", testCreds, ActionGetConsumerProgress, func(p url.Values) { p.Set("Version", "2018-01-01") }, 400, "InvalidVersion", true},
		{"action", testCreds, "DeleteInstance", nil, 404, "InvalidAction.NotFound", true},
		{"format", testCreds, ActionGetConsumerProgress, func(p url.Values) { p.Set("Format", "XML") }, 400, "InvalidParameter", true},
		{"access key", Credentials{AccessKeyID: "LTAIunknown", AccessKeySecret: testCreds.AccessKeySecret, SecurityToken: testCreds.SecurityToken}, ActionGetConsumerProgress, nil, 404, "InvalidAccessKeyId.NotFound", true},
		{"missing token", Credentials{AccessKeyID: testCreds.AccessKeyID, AccessKeySecret: testCreds.AccessKeySecret, SecurityToken: ""}, ActionGetConsumerProgress, nil, 400, "MissingSecurityToken", true},
		{"wrong token", Credentials{AccessKeyID: testCreds.AccessKeyID, AccessKeySecret: testCreds.AccessKeySecret, SecurityToken: "other"}, ActionGetConsumerProgress, nil, 400, "InvalidSecurityToken.MismatchWithAccessKey", true},
		{"old timestamp", testCreds, ActionGetConsumerProgress, func(p url.Values) {
			p.Set("Timestamp", time.Now().UTC().Add(-16*time.Minute).Format("2006-01-02T15:04:05Z"))
		}, 400, "InvalidTimeStamp.Expired", true},
		{"future timestamp", testCreds, ActionGetConsumerProgress, func(p url.Values) {
			p.Set("Timestamp", time.Now().UTC().Add(16*time.Minute).Format("2006-01-02T15:04:05Z"))
		}, 400, "InvalidTimeStamp.Expired", true},
		{"missing nonce", testCreds, ActionGetConsumerProgress, func(p url.Values) { p.Del("SignatureNonce") }, 400, "MissingParameter", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.ResetRequests()
			status, body := get(t, s, signed(tt.creds, tt.action, okExtra, tt.tweak))
			if status != tt.status || (tt.code != "" && body["Code"] != tt.code) {
				t.Fatalf("got HTTP %d %v, want %d %s", status, body, tt.status, tt.code)
			}
			if tt.code != "" {
				for _, k := range []string{"RequestId", "HostId", "Message", "Recommend"} {
					if body[k] == nil || body[k] == "" {
						t.Errorf("error body lacks %s: %v", k, body)
					}
				}
			}
			reqs := s.Requests()
			if len(reqs) != 1 || reqs[0].SignatureOK != tt.sigValid || reqs[0].Action != tt.action {
				t.Errorf("recorded %+v, want one %s request with SignatureOK=%v", reqs, tt.action, tt.sigValid)
			}
		})
	}

	t.Run("nonce reuse", func(t *testing.T) {
		if status, body := get(t, s, replay); status != 200 {
			t.Fatalf("first use: %d %v", status, body)
		}
		if status, body := get(t, s, replay); status != 400 || body["Code"] != "SignatureNonceUsed" {
			t.Fatalf("replay: %d %v", status, body)
		}
	})
	t.Run("string to sign in message", func(t *testing.T) {
		p := signed(testCreds, ActionGetConsumerProgress, okExtra, func(p url.Values) { p.Set("Signature", "bad") })
		_, body := get(t, s, p)
		if msg, _ := body["Message"].(string); !strings.HasSuffix(msg, "server string to sign is:"+StringToSign("GET", p)) {
			t.Errorf("message %q lacks the server's string to sign", msg)
		}
	})
}

func TestConsumerListPaging(t *testing.T) {
	s := NewServer(Credentials{AccessKeyID: "LTAIkey", AccessKeySecret: "sk"})
	defer s.Close()
	c := Credentials{AccessKeyID: "LTAIkey", AccessKeySecret: "sk"}
	for i := range 25 {
		s.SetGroup(progress.Group{Region: "cn-hangzhou", Instance: "i1", Group: fmt.Sprintf("g%02d", i)})
	}
	tests := []struct {
		page, size string
		total      int
		first      string
		n          int
	}{
		{"", "", 25, "g00", 10}, // default page size 10
		{"1", "10", 25, "g00", 10},
		{"3", "10", 25, "g20", 5},
		{"4", "10", 25, "", 0},
		{"2", "20", 25, "g20", 5},
	}
	for _, tt := range tests {
		t.Run(tt.page+"/"+tt.size, func(t *testing.T) {
			extra := map[string]string{"InstanceId": "i1"}
			if tt.page != "" {
				extra["CurrentPage"], extra["PageSize"] = tt.page, tt.size
			}
			status, body := get(t, s, signed(c, ActionGetConsumerList, extra, nil))
			if status != 200 || body["Success"] != true || body["Code"] != float64(200) {
				t.Fatalf("HTTP %d %v", status, body)
			}
			if body["Total"] != float64(tt.total) {
				t.Errorf("Total = %v, want %d", body["Total"], tt.total)
			}
			vos := body["ConsumerList"].(map[string]any)["ConsumerVO"].([]any)
			if len(vos) != tt.n {
				t.Fatalf("%d groups, want %d", len(vos), tt.n)
			}
			if tt.n > 0 {
				vo := vos[0].(map[string]any)
				if vo["ConsumerId"] != tt.first || vo["InstanceId"] != "i1" || vo["RegionId"] != "cn-hangzhou" {
					t.Errorf("first group %v, want %s", vo, tt.first)
				}
			}
		})
	}
	t.Run("bad page", func(t *testing.T) {
		if status, body := get(t, s, signed(c, ActionGetConsumerList, map[string]string{"InstanceId": "i1", "PageSize": "0"}, nil)); status != 400 {
			t.Errorf("HTTP %d %v", status, body)
		}
	})
	t.Run("instance bound to region", func(t *testing.T) {
		status, body := get(t, s, signed(c, ActionGetConsumerList, map[string]string{"InstanceId": "i1", "RegionId": "cn-beijing"}, nil))
		if status != 200 || body["Success"] != false || body["Code"] != CodeInstanceNotFound {
			t.Errorf("HTTP %d %v", status, body)
		}
	})
}

func TestConsumerProgressShapes(t *testing.T) {
	c := Credentials{AccessKeyID: "LTAIkey", AccessKeySecret: "sk"}
	s := NewServer(c)
	defer s.Close()
	s.SetGroup(progress.Group{Instance: "i1", Group: "g1", TotalDiff: 7, LastTimestamp: -1, Topics: []progress.Topic{
		{Topic: "t1", TotalDiff: 7, LastTimestamp: 5, Partitions: []progress.Partition{{Partition: 0, BrokerOffset: 10, ConsumerOffset: 3, LastTimestamp: 5}}},
	}})
	s.SetRawProgress("i1", "raw", `{"verbatim":true}`)

	status, body := get(t, s, signed(c, ActionGetConsumerProgress, map[string]string{"InstanceId": "i1", "ConsumerId": "g1"}, nil))
	if status != 200 || body["Success"] != true {
		t.Fatalf("HTTP %d %v", status, body)
	}
	cp := body["ConsumerProgress"].(map[string]any)
	if cp["TotalDiff"] != float64(7) || cp["LastTimestamp"] != float64(-1) {
		t.Errorf("served %v, want TotalDiff 7 and LastTimestamp -1 as given", cp)
	}
	// Every list nested twice under the same key.
	topic := cp["TopicList"].(map[string]any)["TopicList"].([]any)[0].(map[string]any)
	part := topic["OffsetList"].(map[string]any)["OffsetList"].([]any)[0].(map[string]any)
	if topic["Topic"] != "t1" || part["BrokerOffset"] != float64(10) || part["ConsumerOffset"] != float64(3) {
		t.Errorf("topic %v", topic)
	}
	if _, ok := cp["RebalanceInfoList"].(map[string]any)["RebalanceInfoList"].([]any); !ok {
		t.Errorf("RebalanceInfoList not nested: %v", cp["RebalanceInfoList"])
	}

	resp, err := http.Get(s.URL + "/?" + signed(c, ActionGetConsumerProgress, map[string]string{"InstanceId": "i1", "ConsumerId": "raw"}, nil).Encode())
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(raw) != `{"verbatim":true}` {
		t.Errorf("raw body %q", raw)
	}

	for _, tt := range []struct{ instance, group, code string }{
		{"i1", "nope", CodeGroupNotFound},
		{"i9", "g1", CodeInstanceNotFound},
	} {
		status, body := get(t, s, signed(c, ActionGetConsumerProgress, map[string]string{"InstanceId": tt.instance, "ConsumerId": tt.group}, nil))
		if status != 200 || body["Success"] != false || body["Code"] != tt.code {
			t.Errorf("%s/%s: HTTP %d %v, want 200 Success:false %s", tt.instance, tt.group, status, body, tt.code)
		}
	}
	s.RemoveGroup("i1", "g1")
	if _, body := get(t, s, signed(c, ActionGetConsumerProgress, map[string]string{"InstanceId": "i1", "ConsumerId": "g1"}, nil)); body["Code"] != CodeGroupNotFound {
		t.Errorf("removed group: %v", body)
	}
}

func TestFaults(t *testing.T) {
	c := Credentials{AccessKeyID: "LTAIkey", AccessKeySecret: "sk"}
	s := NewServer(c)
	defer s.Close()
	s.SetGroup(progress.Group{Instance: "i1", Group: "g1"})
	s.SetGroup(progress.Group{Instance: "i1", Group: "g2"})
	s.Inject(Fault{Action: ActionGetConsumerProgress, Group: "g1", HTTPStatus: 400, Code: "Throttling.User", Times: 2})
	s.Inject(Fault{Group: "g2", HTTPStatus: 200, Code: "ONS_SYSTEM_ERROR"})
	s.Inject(Fault{Action: ActionGetConsumerList, Latency: 50 * time.Millisecond, Times: 1})

	req := func(group string) (int, map[string]any) {
		return get(t, s, signed(c, ActionGetConsumerProgress, map[string]string{"InstanceId": "i1", "ConsumerId": group}, nil))
	}
	for i := range 2 {
		if status, body := req("g1"); status != 400 || body["Code"] != "Throttling.User" {
			t.Fatalf("g1 call %d: %d %v", i, status, body)
		}
	}
	if status, body := req("g1"); status != 200 || body["Success"] != true {
		t.Fatalf("g1 after Times ran out: %d %v", status, body)
	}
	if status, body := req("g2"); status != 200 || body["Success"] != false || body["Code"] != "ONS_SYSTEM_ERROR" {
		t.Fatalf("g2: %d %v", status, body)
	}
	start := time.Now()
	if status, _ := get(t, s, signed(c, ActionGetConsumerList, map[string]string{"InstanceId": "i1"}, nil)); status != 200 {
		t.Fatalf("list: %d", status)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("latency fault: call took %v", d)
	}
}

// The fake serves GetConsumerProgress in a shape the SDK's own structs
// decode, just like the real service's replies.
func TestRealSDKDecodesServedShape(t *testing.T) {
	s := NewServer(testCreds)
	defer s.Close()
	s.SetGroup(progress.Group{Instance: "i1", Group: "g1", TotalDiff: 3, LastTimestamp: 1700000000000, Topics: []progress.Topic{
		{Topic: "t1", TotalDiff: 3, Partitions: []progress.Partition{{Partition: 0, BrokerOffset: 5, ConsumerOffset: 2}, {Partition: 1}}},
	}})
	for i := range 3 {
		s.SetGroup(progress.Group{Instance: "i1", Group: "list" + strconv.Itoa(i)})
	}
	client := sdkClient(t, s)

	req := sdkalikafka.CreateGetConsumerProgressRequest()
	req.InstanceId, req.ConsumerId = "i1", "g1"
	resp, err := client.GetConsumerProgress(req)
	if err != nil {
		t.Fatal(err)
	}
	cp := resp.ConsumerProgress
	if !resp.Success || resp.Code != 200 || cp.TotalDiff != 3 || cp.LastTimestamp != 1700000000000 ||
		len(cp.TopicList.TopicListItem) != 1 || len(cp.TopicList.TopicListItem[0].OffsetList.OffsetListItem) != 2 ||
		cp.TopicList.TopicListItem[0].OffsetList.OffsetListItem[0].BrokerOffset != 5 {
		t.Errorf("SDK decoded %+v", resp)
	}

	lreq := sdkalikafka.CreateGetConsumerListRequest()
	lreq.InstanceId = "i1"
	lresp, err := client.GetConsumerList(lreq)
	if err != nil {
		t.Fatal(err)
	}
	if lresp.Total != 4 || len(lresp.ConsumerList.ConsumerVO) != 4 || lresp.ConsumerList.ConsumerVO[0].ConsumerId != "g1" {
		t.Errorf("SDK decoded %+v", lresp)
	}
	reqs := s.Requests()
	if len(reqs) != 2 || !reqs[0].SignatureOK || reqs[0].Params.Get("SecurityToken") != testCreds.SecurityToken {
		t.Errorf("requests %+v", reqs)
	}
}

func TestCloseEndsLatency(t *testing.T) {
	c := Credentials{AccessKeyID: "LTAIkey", AccessKeySecret: "sk"}
	s := NewServer(c)
	s.SetGroup(progress.Group{Instance: "i1", Group: "g1"})
	s.Inject(Fault{Latency: time.Hour})
	go func() {
		if resp, err := http.Get(s.URL + "/?" + signed(c, ActionGetConsumerList, map[string]string{"InstanceId": "i1"}, nil).Encode()); err == nil {
			resp.Body.Close()
		}
	}()
	for s.MaxInFlight() == 0 {
		time.Sleep(time.Millisecond)
	}
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked on injected latency")
	}
}

func TestRateLimit(t *testing.T) {
	c := Credentials{AccessKeyID: "LTAIkey", AccessKeySecret: "sk"}
	s := NewServer(c)
	defer s.Close()
	s.SetGroup(progress.Group{Instance: "i1", Group: "g1"})
	start := time.Now()
	s.SetRateLimit(20) // a bucket of 4
	req := func() (int, map[string]any) {
		return get(t, s, signed(c, ActionGetConsumerProgress, map[string]string{"InstanceId": "i1", "ConsumerId": "g1"}, nil))
	}
	ok, throttled := 0, 0
	for range 10 { // a burst: the bucket's 4, then refusals
		status, body := req()
		switch {
		case status == 200:
			ok++
		case status == 400 && body["Code"] == CodeThrottled && body["Message"] == MessageThrottled && body["RequestId"] != "" && body["HostId"] != "":
			throttled++
		default:
			t.Fatalf("HTTP %d %v", status, body)
		}
	}
	// The bucket refills at 20/s: one more for every 50ms the burst took,
	// which on a busy machine can be more than the one a fast burst gets.
	refills := int(time.Since(start)/(50*time.Millisecond)) + 1
	if ok < 4 || ok > 4+refills || throttled != 10-ok {
		t.Errorf("%d served, %d throttled; want the bucket of 4 (and %d refills at most) served", ok, throttled, refills)
	}
	if st := s.Stats(); st.Calls != 10 || st.Throttled != throttled {
		t.Errorf("stats %+v", st)
	}
	// Evenly paced at the limit: never refused.
	time.Sleep(250 * time.Millisecond)
	s.ResetRequests()
	for range 10 {
		if status, body := req(); status != 200 {
			t.Fatalf("paced request refused: %d %v", status, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st := s.Stats(); st.Calls != 10 || st.Throttled != 0 {
		t.Errorf("stats after reset %+v", st)
	}
	s.SetRateLimit(0)
	for range 20 {
		if status, _ := req(); status != 200 {
			t.Fatal("limit not removed")
		}
	}
}

func TestLatencyAndHiddenTimestamps(t *testing.T) {
	c := Credentials{AccessKeyID: "LTAIkey", AccessKeySecret: "sk"}
	s := NewServer(c)
	defer s.Close()
	s.SetGroup(progress.Group{Instance: "i1", Group: "g1", TotalDiff: 3, LastTimestamp: 1700000000000, Topics: []progress.Topic{
		{Topic: "t", TotalDiff: 3, LastTimestamp: 1700000000000, Partitions: []progress.Partition{{Partition: 0, BrokerOffset: 5, ConsumerOffset: 2, LastTimestamp: 1700000000000}}},
	}})
	s.SetLatency(60 * time.Millisecond)
	for _, tt := range []struct {
		extra map[string]string
		ts    float64
	}{
		{map[string]string{"InstanceId": "i1", "ConsumerId": "g1"}, 1700000000000},
		{map[string]string{"InstanceId": "i1", "ConsumerId": "g1", "HideLastTimestamp": "true"}, -1},
		{map[string]string{"InstanceId": "i9", "ConsumerId": "g1"}, 0}, // errors are delayed too
	} {
		s.ResetRequests()
		start := time.Now()
		status, body := get(t, s, signed(c, ActionGetConsumerProgress, tt.extra, nil))
		if d := time.Since(start); d < 60*time.Millisecond {
			t.Errorf("replied in %v despite 60ms latency", d)
		}
		if status != 200 {
			t.Fatalf("HTTP %d %v", status, body)
		}
		if tt.ts == 0 {
			continue
		}
		cp := body["ConsumerProgress"].(map[string]any)
		tp := cp["TopicList"].(map[string]any)["TopicList"].([]any)[0].(map[string]any)
		p := tp["OffsetList"].(map[string]any)["OffsetList"].([]any)[0].(map[string]any)
		if cp["LastTimestamp"] != tt.ts || tp["LastTimestamp"] != tt.ts || p["LastTimestamp"] != tt.ts || p["BrokerOffset"] != float64(5) {
			t.Errorf("served %v", cp)
		}
		if r := s.Requests()[0]; r.HideLastTimestamp != (tt.ts == -1) || !r.SignatureOK {
			t.Errorf("recorded %+v", r)
		}
	}
}

// Listing thousands of groups must not sort them per page.
func TestConsumerListManyGroups(t *testing.T) {
	c := Credentials{AccessKeyID: "LTAIkey", AccessKeySecret: "sk"}
	s := NewServer(c)
	defer s.Close()
	for i := range 10000 {
		s.SetGroup(progress.Group{Region: "cn-hangzhou", Instance: "i1", Group: fmt.Sprintf("g%05d", i)})
	}
	page := func(p, size string) []any {
		status, body := get(t, s, signed(c, ActionGetConsumerList, map[string]string{"InstanceId": "i1", "CurrentPage": p, "PageSize": size}, nil))
		if status != 200 || body["Total"] != float64(10000) {
			t.Fatalf("HTTP %d Total %v", status, body["Total"])
		}
		return body["ConsumerList"].(map[string]any)["ConsumerVO"].([]any)
	}
	start := time.Now()
	for p := 1; p <= 100; p++ {
		vos := page(strconv.Itoa(p), "100")
		if len(vos) != 100 || vos[0].(map[string]any)["ConsumerId"] != fmt.Sprintf("g%05d", (p-1)*100) {
			t.Fatalf("page %d: %d groups, first %v", p, len(vos), vos[0])
		}
	}
	t.Logf("100 pages of 10,000 groups in %v", time.Since(start))
	if vos := page("101", "100"); len(vos) != 0 {
		t.Errorf("page past the end: %d groups", len(vos))
	}
	if vos := page("9223372036854775807", "9223372036854775807"); len(vos) != 0 {
		t.Errorf("absurd page: %d groups", len(vos))
	}
	// Adding and removing groups keeps the order right.
	s.SetGroup(progress.Group{Region: "cn-hangzhou", Instance: "i1", Group: "a-first"})
	s.RemoveGroup("i1", "g00000")
	if vos := page("1", "2"); vos[0].(map[string]any)["ConsumerId"] != "a-first" || vos[1].(map[string]any)["ConsumerId"] != "g00001" {
		t.Errorf("after changes: %v", vos)
	}
}

// sdkClient is the real SDK's client, with the test's STS credentials,
// sending to s.
func sdkClient(t *testing.T, s *Server) *sdkalikafka.Client {
	t.Helper()
	u, _ := url.Parse(s.URL)
	client, err := sdkalikafka.NewClientWithOptions("cn-hangzhou", sdk.NewConfig(),
		credentials.NewStsTokenCredential(testCreds.AccessKeyID, testCreds.AccessKeySecret, testCreds.SecurityToken))
	if err != nil {
		t.Fatal(err)
	}
	client.Domain = u.Host
	return client
}
