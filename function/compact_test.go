package function

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/lifecycle"
	"github.com/backlog-alert/backlog-alert/progress/alikafkatest"
	"github.com/backlog-alert/backlog-alert/state"
)

// A state that grows past what a state document may hold is not lost: its
// oldest history goes until it fits, it is saved with a warning, and the next
// run reads it.
func TestOversizeStateIsCompactedAndSaved(t *testing.T) {
	w := newWorld(t, strings.Replace(testRules, "version: 1\n", "version: 1\napi: {qps: 2000}\n", 1))
	w.scenario()
	w.run(t)

	// The state, just under the bound: billing (alerting, and not read in
	// the next run, so kept as it is) carries a long history of large
	// samples, its oldest first in the document.
	st := readState(t, w.state)
	billing := st.Groups["cn-hangzhou/"+instance+"/billing"]
	if billing == nil || len(st.Alerts) == 0 {
		t.Fatalf("no billing group or alerts after the first run: %+v", st)
	}
	base, err := st.Encode(now)
	if err != nil {
		t.Fatal(err)
	}
	big := lifecycle.Sample{Time: now, Lag: 1e18, Broker: 2e18, Consumer: 1e18, Partitions: 1e6} // written as long as the ballast's
	one, _ := lifecycle.History{big}.MarshalJSON()
	per := len(one) - 1 // "[sample]": as long as a sample and its comma
	n := (state.MaxDocumentSize - len(base) - 16<<10) / per
	start := now.Add(-time.Duration(n+10) * time.Minute)
	ballast := make(lifecycle.History, n, n+1)
	for i := range ballast {
		ballast[i] = big
		ballast[i].Time = start.Add(time.Duration(i) * time.Minute)
	}
	billing.History = append(ballast, billing.History...)
	data, err := st.Encode(now)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > state.MaxDocumentSize || len(data) < state.MaxDocumentSize-64<<10 {
		t.Fatalf("prior state of %d bytes: want just under %d", len(data), state.MaxDocumentSize)
	}
	if err := os.WriteFile(w.state, data, 0o600); err != nil {
		t.Fatal(err)
	}

	// The next run sees 200 more groups (about 50 KB more) and cannot read
	// billing.
	for i := range 200 {
		w.api.SetGroup(grp(fmt.Sprintf("orders-new-%04d", i), 0, ago(time.Second)))
	}
	w.api.Inject(alikafkatest.Fault{Action: "GetConsumerProgress", Group: "billing", HTTPStatus: 400, Code: "InvalidParameter", Message: "no", Times: 1})
	rep := w.run(t, func(o *Options) { o.Now = now.Add(5 * time.Minute) })
	var warned bool
	for _, msg := range rep.Warnings {
		warned = warned || strings.Contains(msg, "oldest samples of history") && strings.Contains(msg, "dropped to save it")
	}
	if !warned {
		t.Errorf("no warning about the compaction: %v", rep.Warnings)
	}
	for _, e := range rep.Errors {
		if strings.Contains(e, "saving state") {
			t.Errorf("not saved: %s", e)
		}
	}
	// (What goes, and in which order, is lifecycle's TestEncodeWithinCompacts.)
	if fi, err := os.Stat(w.state); err != nil || fi.Size() > state.MaxDocumentSize || fi.Size() < int64(len(data))-1<<20 {
		t.Fatalf("saved state: %v, %v; want at most %d bytes, and not much less than before", fi, err, state.MaxDocumentSize)
	}

	// The next run reads it (and billing again, whose history is then cut
	// to its usual length): nothing to say about the state, and saved again.
	rep = w.run(t, func(o *Options) { o.Now = now.Add(10 * time.Minute) })
	if len(rep.Warnings)+len(rep.Errors) > 0 {
		t.Errorf("next run: warnings %v, errors %v", rep.Warnings, rep.Errors)
	}
	got := readState(t, w.state)
	if !got.Saved.Equal(now.Add(10*time.Minute)) || len(got.Groups["cn-hangzhou/"+instance+"/billing"].History) != lifecycle.HistoryLen {
		t.Errorf("next run's state saved at %v, billing's history %d samples", got.Saved, len(got.Groups["cn-hangzhou/"+instance+"/billing"].History))
	}
}
