package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/notify/webhook"
	"github.com/backlog-alert/backlog-alert/rules"
)

// Over the cap because of trend histories: they go first, and everything
// else stays.
func TestSizeDropsTrendHistoryFirst(t *testing.T) {
	var items []notify.Item
	for i := range 10 {
		a := alert(fmt.Sprintf("g%02d", i), rules.Warning, 200000)
		backlog := make([]int64, 20000)
		for j := range backlog {
			backlog[j] = int64(100000 + j)
		}
		a.Trend = &rules.Trend{Backlog: backlog, RatesKnown: true, ConsumePerMin: 10, ProducePerMin: 20, RateSeconds: 300, GrowthPerMin: 10}
		items = append(items, notify.Item{Kind: rules.KindFiring, Alert: a})
	}
	m := notify.Message{Items: items, Time: evalTime}
	d, got := send(t, m) // the receipt holds every item
	if len(got.Body) > webhook.MaxBytes {
		t.Errorf("body is %d bytes", len(got.Body))
	}
	if d.Omitted == nil || *d.Omitted != (webhook.Omitted{TrendBacklog: true}) || len(d.Notifications) != 10 {
		t.Fatalf("omitted %+v, %d notifications", d.Omitted, len(d.Notifications))
	}
	for _, n := range d.Notifications {
		if tr := n.Alert.Trend; tr == nil || tr.Backlog != nil || !tr.RatesKnown || tr.GrowthPerMin != 10 {
			t.Errorf("%s: trend %+v, want all but the history", n.Alert.Group, tr)
		}
	}
	if !strings.Contains(string(got.Body), `"backlog":null`) {
		t.Error(`no "backlog":null in the body`)
	}
	if len(items[0].Alert.Trend.Backlog) != 20000 {
		t.Error("the caller's alert lost its history")
	}
}

// Over the cap with every history gone: the least urgent places are left
// out, with their ongoing alerts; the receipt holds only what was sent, so
// the rest is due again next run.
func TestSizeLeavesPlacesOut(t *testing.T) {
	var items, ongoing []notify.Item
	for i := range 2000 {
		a := alert(fmt.Sprintf("消费组-%04d", i), rules.Warning, int64(20000+i))
		a.Annotations = map[string]string{"description": strings.Repeat("说明", 100)}
		items = append(items, notify.Item{Kind: rules.KindFiring, Alert: a})
		o := a
		o.Condition = rules.Stale
		ongoing = append(ongoing, notify.Item{Alert: o})
	}
	items[1999].Alert.Severity = rules.Critical // listed first, wherever it is
	m := notify.Message{Items: items, Ongoing: ongoing, Time: evalTime, Language: rules.LanguageChinese}

	srv := receiver(t)
	n := notifier(srv)
	rc, err := n.Notify(context.Background(), m)
	if err != nil {
		t.Fatalf("%v (receiver: %q)", err, srv.Rejected())
	}
	body := srv.Received()[0].Body
	d := decode(t, body)
	checkPreview(t, n.Preview(m), body)
	if len(body) > webhook.MaxBytes {
		t.Errorf("body is %d bytes", len(body))
	}
	om := d.Omitted
	if om == nil || om.TrendBacklog || om.Notifications == 0 || om.Text != fmt.Sprintf("……另有 %d 项未显示", om.Notifications) {
		t.Fatalf("omitted %+v", om)
	}
	if len(d.Notifications)+om.Notifications != 2000 || len(d.Ongoing)+om.Ongoing != 2000 || len(d.Ongoing) != len(d.Notifications) {
		t.Errorf("%d + %d notifications, %d + %d ongoing; want 2000 each, in step", len(d.Notifications), om.Notifications, len(d.Ongoing), om.Ongoing)
	}
	// Filling the budget: another place would not have fitted.
	one, _ := json.Marshal([]webhook.Notification{d.Notifications[1], d.Ongoing[1]})
	if len(body)+len(one) <= webhook.MaxBytes {
		t.Errorf("body is %d bytes, and another place (%d bytes) would have fitted", len(body), len(one))
	}
	if d.Notifications[0].Alert.Group != "消费组-1999" {
		t.Errorf("first notification is %s, want the critical one", d.Notifications[0].Alert.Group)
	}
	var sent []string
	places := map[string]bool{}
	for _, n := range d.Notifications {
		a := n.Alert
		sent = append(sent, a.Key())
		places[a.Group] = true
	}
	if !slices.Equal(rc.Accepted, sent) {
		t.Errorf("receipt holds %d keys, want the %d sent", len(rc.Accepted), len(sent))
	}
	for _, o := range d.Ongoing {
		if !places[o.Alert.Group] {
			t.Errorf("ongoing %s without its place's notification", o.Alert.Group)
		}
	}
}

// One notification is sent even if alone it is over the cap: the protocol
// has no limit, and the receiver may take it.
func TestSizeOneNotificationAlwaysSent(t *testing.T) {
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
	}))
	defer srv.Close()
	huge := alert("huge", rules.Critical, 20000)
	huge.Annotations = map[string]string{"description": strings.Repeat("x", 2<<20)}
	m := notify.Message{Items: []notify.Item{{Kind: rules.KindFiring, Alert: huge}, item(rules.KindFiring, "small", rules.Warning, 20000)}, Time: evalTime}
	rc, err := webhook.New(srv.URL, "", nil, nil, notify.WithLimiter(nil)).Notify(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	d := decode(t, got)
	if len(got) <= webhook.MaxBytes || len(d.Notifications) != 1 || d.Notifications[0].Alert.Group != "huge" ||
		d.Omitted == nil || d.Omitted.Notifications != 1 || !slices.Equal(rc.Accepted, []string{huge.Key()}) {
		t.Errorf("%d bytes, %d notifications, omitted %+v, receipt %d", len(got), len(d.Notifications), d.Omitted, len(rc.Accepted))
	}
}
