package webhooktest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/notify/webhook"
	"github.com/backlog-alert/backlog-alert/notify/webhook/webhooktest"
	"github.com/backlog-alert/backlog-alert/rules"
)

// A receiver checks the signature over the raw body before it parses
// anything, then acts on each notification by kind and fingerprint.
func ExampleVerify() {
	const secret = "whsec-example-0123"
	receiver := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "cannot read", http.StatusBadRequest)
			return
		}
		if err := webhooktest.Verify(secret, r.Header, body, time.Now(), 5*time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var doc webhook.Document
		if err := json.Unmarshal(body, &doc); err != nil || doc.Version != "1" {
			http.Error(w, "unsupported document", http.StatusBadRequest)
			return
		}
		for _, n := range doc.Notifications {
			switch {
			case n.Alert.Condition == rules.Blind:
				fmt.Println("monitor blind:", n.Kind, n.Alert.Instance)
			case n.Kind == webhook.KindResolved || n.Kind == webhook.KindGone:
				fmt.Println("resolve", n.Fingerprint, n.Summary.Subject)
			default:
				fmt.Println("trigger", n.Fingerprint, n.Alert.Severity, n.Summary.Subject)
			}
		}
	})
	srv := httptest.NewServer(receiver)
	defer srv.Close()

	n := webhook.New(srv.URL, secret, nil, nil)
	_, err := n.Notify(context.Background(), notify.Message{Time: time.Now(), Items: []notify.Item{
		{Kind: rules.KindEscalated, Alert: rules.Alert{Rule: "orders", Region: "cn-hangzhou", Instance: "alikafka-1",
			Group: "billing", Level: rules.LevelGroup, Condition: rules.Backlog, Severity: rules.Critical,
			Value: 123456, Threshold: 100000, Lag: 123456}},
		{Kind: rules.KindResolved, Alert: rules.Alert{Rule: "orders", Region: "cn-hangzhou", Instance: "alikafka-1",
			Group: "orders", Level: rules.LevelGroup, Condition: rules.Backlog, Severity: rules.Warning,
			Value: 12, Threshold: 10000, Lag: 12}},
		{Kind: rules.KindFiring, Alert: rules.Alert{Rule: "backlog-alert", Region: "cn-hangzhou", Instance: "alikafka-2",
			Level: rules.LevelGroup, Condition: rules.Blind, Severity: rules.Critical, Detail: "credentials refused"}},
	}})
	fmt.Println("error:", err)
	// Output:
	// trigger 8a6cd4fa1341c2d0 critical billing
	// monitor blind: firing alikafka-2
	// resolve 411282ede6f0378f orders
	// error: <nil>
}
