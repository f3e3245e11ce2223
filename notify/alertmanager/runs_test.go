package alertmanager_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/notify/alertmanager"
	"github.com/backlog-alert/backlog-alert/notify/alertmanager/amtest"
	"github.com/backlog-alert/backlog-alert/rules"
)

// runs simulates runs every five minutes against one Alertmanager whose
// clock follows the runs.
type runs struct {
	t     *testing.T
	am    *amtest.Server
	n     *alertmanager.Notifier
	start time.Time
	clock time.Time
}

const interval = 5 * time.Minute

func newRuns(t *testing.T) *runs {
	r := &runs{t: t, am: amtest.NewServer(), start: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)}
	t.Cleanup(r.am.Close)
	r.am.SetClock(func() time.Time { return r.clock })
	r.n = alertmanager.New(r.am.URL, alertmanager.Auth{}, interval, nil, notify.WithRetry(fast), notify.WithLimiter(nil))
	return r
}

// at is the time of run i (0-based).
func (r *runs) at(i int) time.Time { return r.start.Add(time.Duration(i) * interval) }

// run sends m as run i would.
func (r *runs) run(i int, m notify.Message) notify.Receipt {
	r.t.Helper()
	r.clock = r.at(i)
	m.Time = r.at(i)
	receipt, err := r.n.Notify(context.Background(), m)
	if err != nil {
		r.t.Fatalf("run %d: %v", i, err)
	}
	return receipt
}

// firing returns the alerts Alertmanager considers firing at t.
func (r *runs) firing(t time.Time) []amtest.Alert { return r.am.Alerts(t) }

// A firing alert is sent again every run, by the lifecycle as ongoing, with
// an endsAt that moves forward each time: Alertmanager keeps it firing for
// as long as the runs go on, and resolves it by itself three intervals
// after they stop.
func TestResendKeepsFiring(t *testing.T) {
	r := newRuns(t)
	a := alert("orders", rules.Backlog, rules.Warning)
	since := r.at(0)
	labels := labelsOf(a, "backlog", "warning")

	receipt := r.run(0, notify.Message{Items: []notify.Item{item(rules.KindFiring, a, since)}})
	if !slices.Equal(receipt.Accepted, []string{a.Key()}) {
		t.Errorf("run 0 receipt %v", receipt.Accepted)
	}
	first, ok := r.am.Lookup(labels)
	if !ok || !first.StartsAt.Equal(since) || !first.EndsAt.Equal(r.at(0).Add(3*interval)) {
		t.Fatalf("after run 0: %+v (found %v)", first, ok)
	}

	// Run 1: nothing new, so the alert is only ongoing; it still goes.
	receipt = r.run(1, notify.Message{Ongoing: []notify.Item{item("", a, since)}})
	if len(receipt.Accepted) != 0 {
		t.Errorf("run 1 receipt %v: an ongoing alert is no item", receipt.Accepted)
	}
	second, _ := r.am.Lookup(labels)
	if !second.StartsAt.Equal(since) || !second.EndsAt.Equal(r.at(1).Add(3*interval)) || !second.EndsAt.After(first.EndsAt) {
		t.Errorf("after run 1: starts %v ends %v; want starts %v, ends later than %v", second.StartsAt, second.EndsAt, since, first.EndsAt)
	}
	if got := len(r.am.Received()); got != 2 {
		t.Errorf("%d posts, want 2", got)
	}
	// Had run 1 not sent it, Alertmanager would have resolved it when
	// run 0's endsAt passed; thanks to run 1 it still fires then.
	if len(r.firing(first.EndsAt)) != 1 {
		t.Errorf("not firing at run 0's endsAt %v", first.EndsAt)
	}
	if len(r.firing(second.EndsAt)) != 0 {
		t.Errorf("still firing after the last endsAt %v", second.EndsAt)
	}
	// The words say it still fires.
	if s := second.Annotations["summary"]; s != "Reminder: still firing (WARNING) · orders" {
		t.Errorf("ongoing summary %q", s)
	}
}

// A resolved item is posted with endsAt now, so Alertmanager resolves the
// alert at once rather than when its endsAt would have passed; a group that
// is gone likewise.
func TestResolvedAndGone(t *testing.T) {
	for _, kind := range []rules.Kind{rules.KindResolved, rules.KindMissing} {
		t.Run(string(kind), func(t *testing.T) {
			r := newRuns(t)
			a := alert("orders", rules.Stale, rules.Critical)
			since := r.at(0)
			r.run(0, notify.Message{Items: []notify.Item{item(rules.KindFiring, a, since)}})
			if len(r.firing(r.at(0))) != 1 {
				t.Fatal("not firing after run 0")
			}
			end := a
			if kind == rules.KindMissing {
				end.Detail = rules.GoneDeleted
			}
			receipt := r.run(1, notify.Message{Items: []notify.Item{item(kind, end, since)}})
			if !slices.Equal(receipt.Accepted, []string{a.Key()}) {
				t.Errorf("receipt %v", receipt.Accepted)
			}
			got, ok := r.am.Lookup(labelsOf(a, "stale", "critical"))
			if !ok || !got.EndsAt.Equal(r.at(1)) || !got.StartsAt.Equal(since) {
				t.Errorf("stored %+v, want ends at run 1 (%v)", got, r.at(1))
			}
			if f := r.firing(r.at(1)); len(f) != 0 {
				t.Errorf("still firing at run 1: %+v", f)
			}
			if got.Annotations["description"] == "" {
				t.Error("no description")
			}
		})
	}
}

// Severity is a label, so an escalated alert is another alert to
// Alertmanager: the warning one is resolved in the same post, else it
// would fire beside the critical one until its endsAt.
func TestSeverityChange(t *testing.T) {
	for _, tc := range []struct {
		kind     rules.Kind
		from, to rules.Severity
	}{
		{rules.KindEscalated, rules.Warning, rules.Critical},
		{rules.KindDowngraded, rules.Critical, rules.Warning},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			r := newRuns(t)
			before, after := alert("orders", rules.Backlog, tc.from), alert("orders", rules.Backlog, tc.to)
			since := r.at(0)
			r.run(0, notify.Message{Items: []notify.Item{item(rules.KindFiring, before, since)}})
			receipt := r.run(1, notify.Message{Items: []notify.Item{item(tc.kind, after, since)}})
			if !slices.Equal(receipt.Accepted, []string{after.Key()}) {
				t.Errorf("receipt %v", receipt.Accepted)
			}
			f := r.firing(r.at(1))
			if len(f) != 1 || f[0].Labels["severity"] != string(tc.to) {
				t.Fatalf("firing at run 1: %+v", f)
			}
			old, _ := r.am.Lookup(labelsOf(before, "backlog", string(tc.from)))
			if !old.EndsAt.Equal(r.at(1)) {
				t.Errorf("the %s alert ends at %v, want run 1 (%v)", tc.from, old.EndsAt, r.at(1))
			}
		})
	}
}

// Nothing to say sends nothing.
func TestEmpty(t *testing.T) {
	r := newRuns(t)
	if receipt := r.run(0, notify.Message{}); len(receipt.Accepted) != 0 || len(r.am.Received()) != 0 {
		t.Errorf("receipt %v, %d posts", receipt.Accepted, len(r.am.Received()))
	}
}
