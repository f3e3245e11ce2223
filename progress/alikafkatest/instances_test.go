package alikafkatest

import (
	"reflect"
	"testing"

	sdkalikafka "github.com/aliyun/alibaba-cloud-sdk-go/services/alikafka"

	"github.com/backlog-alert/backlog-alert/progress"
)

// GetInstanceList and the tags and remarks of GetConsumerList are served in
// a shape the SDK's own response structs decode.
func TestRealSDKDecodesInstanceListAndGroupMeta(t *testing.T) {
	s := NewServer(testCreds)
	defer s.Close()
	s.SetInstanceMeta("cn-hangzhou", "i2", InstanceMeta{Name: "stopped", ServiceStatus: 10, Tags: map[string]string{"team": "b", "env": "prod"}})
	s.SetInstanceMeta("cn-hangzhou", "i1", InstanceMeta{Name: "main"})
	s.AddInstance("cn-beijing", "ib")
	s.AddInstance("", "unbound")
	s.SetGroup(progress.Group{Region: "cn-hangzhou", Instance: "i1", Group: "g1", Tags: map[string]string{"team": "a"}})
	s.SetGroupMeta("i1", "g2", "a remark", map[string]string{"z": "1", "a": "2"})
	s.SetGroup(progress.Group{Region: "cn-hangzhou", Instance: "i1", Group: "g2"}) // nil Tags keeps the meta

	client := sdkClient(t, s)

	resp, err := client.GetInstanceList(sdkalikafka.CreateGetInstanceListRequest())
	if err != nil {
		t.Fatal(err)
	}
	type inst struct {
		ID, Name, Region string
		Status           int
		Tags             []sdkalikafka.TagVO
	}
	var got []inst
	for _, vo := range resp.InstanceList.InstanceVO {
		got = append(got, inst{vo.InstanceId, vo.Name, vo.RegionId, vo.ServiceStatus, vo.Tags.TagVO})
	}
	want := []inst{
		{"i1", "main", "cn-hangzhou", ServiceStatusRunning, []sdkalikafka.TagVO{}},
		{"i2", "stopped", "cn-hangzhou", 10, []sdkalikafka.TagVO{{Key: "env", Value: "prod"}, {Key: "team", Value: "b"}}},
	}
	if !resp.Success || resp.Code != 200 || !reflect.DeepEqual(got, want) {
		t.Errorf("instances %+v, want %+v", got, want)
	}

	lreq := sdkalikafka.CreateGetConsumerListRequest()
	lreq.InstanceId = "i1"
	lresp, err := client.GetConsumerList(lreq)
	if err != nil {
		t.Fatal(err)
	}
	vos := lresp.ConsumerList.ConsumerVO
	if len(vos) != 2 ||
		!reflect.DeepEqual(vos[0].Tags.TagVO, []sdkalikafka.TagVO{{Key: "team", Value: "a"}}) || vos[0].Remark != "" ||
		!reflect.DeepEqual(vos[1].Tags.TagVO, []sdkalikafka.TagVO{{Key: "a", Value: "2"}, {Key: "z", Value: "1"}}) || vos[1].Remark != "a remark" {
		t.Errorf("consumer list %+v", vos)
	}
	for _, r := range s.Requests() {
		if !r.SignatureOK {
			t.Errorf("request %s not correctly signed", r.Action)
		}
	}
}
