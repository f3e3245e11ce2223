package slack_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/notify/slack"
	"github.com/backlog-alert/backlog-alert/notify/slack/slackapitest"
	"github.com/backlog-alert/backlog-alert/rules"
)

const (
	appToken = "xoxb-42-app-test-token"
	appChan  = "C0TEST0001"
)

func newApp(t *testing.T, cfg slack.AppConfig, opts ...notify.Option) (*slack.App, *slackapitest.Server) {
	t.Helper()
	srv := slackapitest.NewServer(appToken)
	t.Cleanup(srv.Close)
	srv.AddChannel(appChan)
	opts = append([]notify.Option{notify.WithRetry(fast), notify.WithLimiter(nil)}, opts...)
	return slack.NewApp(appToken, appChan, srv.URL+"/", nil, cfg, opts...), srv
}

func methods(calls []slackapitest.Call) []string {
	var out []string
	for _, c := range calls {
		s := c.Method
		if c.ThreadTS != "" {
			s += " reply"
		}
		if c.Error != "" {
			s += " " + c.Error
		}
		out = append(out, s)
	}
	return out
}

// The message of an alert that can no longer be edited, whatever the
// reason Slack gives, is replaced by a fresh post: nothing is lost.
func TestAppFallsBackToAFreshPost(t *testing.T) {
	for _, code := range []string{"message_not_found", "cant_update_message", "edit_window_closed"} {
		t.Run(code, func(t *testing.T) {
			app, srv := newApp(t, slack.AppConfig{ThreadReminders: true})
			old := &notify.Thread{Channel: appChan, TS: "1700000000.000001"}
			srv.FailNext("chat.update", slackapitest.Failure{Error: code})
			it := notify.Item{Kind: rules.KindEscalated, Alert: alert("g", rules.Critical, 200000), Thread: old}
			r, err := app.Notify(context.Background(), notify.Message{Time: evalTime, Items: []notify.Item{it}})
			if err != nil {
				t.Fatal(err)
			}
			calls := srv.Calls()
			if got := methods(calls); !slices.Equal(got, []string{"chat.update " + code, "chat.postMessage"}) {
				t.Fatalf("calls %v", got)
			}
			key := it.Alert.Key()
			if th := r.Threads[key]; th.TS != calls[1].TS || th.TS == old.TS || !slices.Equal(r.Accepted, []string{key}) {
				t.Errorf("receipt %+v", r)
			}
		})
	}
}

// Without thread_reminders a reminder is a new message, and the alert lives
// there from then on.
func TestAppRemindersOutsideTheThread(t *testing.T) {
	for _, threaded := range []bool{true, false} {
		app, srv := newApp(t, slack.AppConfig{ThreadReminders: threaded})
		a := alert("g", rules.Warning, 20000)
		first, err := app.Notify(context.Background(), notify.Message{Time: evalTime, Items: firing(a)})
		if err != nil {
			t.Fatal(err)
		}
		parent := first.Threads[a.Key()]
		it := notify.Item{Kind: rules.KindReminder, Alert: a, Thread: &parent}
		r, err := app.Notify(context.Background(), notify.Message{Time: evalTime.Add(4 * time.Hour), Items: []notify.Item{it}})
		calls := srv.Calls()[1:]
		if err != nil || len(calls) != 1 {
			t.Fatalf("threaded=%v: err %v, calls %v", threaded, err, methods(calls))
		}
		if threaded && (calls[0].ThreadTS != parent.TS || r.Threads[a.Key()] != parent) {
			t.Errorf("a threaded reminder: %+v, receipt %+v", calls[0], r)
		}
		if !threaded && (calls[0].ThreadTS != "" || r.Threads[a.Key()].TS != calls[0].TS || calls[0].TS == parent.TS) {
			t.Errorf("an unthreaded reminder: %+v, receipt %+v", calls[0], r)
		}
	}
}

// Errors a person must fix are not retried, say what to do, and leave the
// section due; the token appears in no error.
func TestAppErrors(t *testing.T) {
	for _, tc := range []struct {
		code, hint string
	}{
		{"invalid_auth", "the bot token is wrong or revoked"},
		{"not_in_channel", "/invite"},
		{"channel_not_found", "check the channel ID"},
	} {
		t.Run(tc.code, func(t *testing.T) {
			app, srv := newApp(t, slack.AppConfig{ThreadReminders: true})
			srv.FailNext("chat.postMessage", slackapitest.Failure{Error: tc.code})
			r, err := app.Notify(context.Background(), notify.Message{Time: evalTime, Items: firing(alert("g", rules.Critical, 200000), alert("h", rules.Warning, 2000))})
			if err == nil || !strings.Contains(err.Error(), tc.code) || !strings.Contains(err.Error(), tc.hint) || strings.Contains(err.Error(), appToken) {
				t.Fatalf("err = %v", err)
			}
			// One attempt for the failing section; the other section went.
			if n := len(srv.Calls()); n != 2 || len(r.Accepted) != 1 || !strings.Contains(err.Error(), "1 of 2 sections not sent") {
				t.Errorf("calls %v, receipt %+v, err %v", methods(srv.Calls()), r, err)
			}
		})
	}

	// A transport error names no token either.
	app := slack.NewApp(appToken, appChan, "http://127.0.0.1:1/api/", &http.Client{Timeout: time.Second}, slack.AppConfig{}, notify.WithRetry(notify.NoRetry), notify.WithLimiter(nil))
	_, err := app.Notify(context.Background(), notify.Message{Items: firing(alert("g", rules.Critical, 200000))})
	if err == nil || strings.Contains(err.Error(), appToken) {
		t.Errorf("err = %v", err)
	}
}

// A wait longer than a retry may take is not waited for, and what is not
// sent (that section, or everything once the run's time is up) stays due;
// the rest goes.
func TestAppLeavesDueWhatItCannotSend(t *testing.T) {
	app, srv := newApp(t, slack.AppConfig{ThreadReminders: true})
	srv.FailNext("chat.postMessage", slackapitest.Failure{Error: "ratelimited", RetryAfter: time.Hour})
	m := notify.Message{Time: evalTime, Items: firing(alert("g", rules.Critical, 200000), alert("h", rules.Warning, 2000))}
	r, err := app.Notify(context.Background(), m)
	var de *notify.DeliveryError
	if err == nil || !errors.As(err, &de) || !strings.Contains(err.Error(), "ratelimited") || len(r.Accepted) != 1 || r.Accepted[0] != m.Items[1].Alert.Key() {
		t.Errorf("err %v, receipt %+v, calls %v", err, r, methods(srv.Calls()))
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	before := len(srv.Calls())
	if r, err = app.Notify(ctx, m); err == nil || len(r.Accepted) != 0 || len(srv.Calls()) != before || !strings.Contains(err.Error(), "2 of 2 sections not sent") {
		t.Errorf("out of time: err %v, receipt %+v", err, r)
	}
}

// Too many new alerts for one run: one digest message, each section a reply
// in its thread, in the channel's language.
func TestAppDigest(t *testing.T) {
	app, srv := newApp(t, slack.AppConfig{ThreadReminders: true, DigestAfter: 2})
	m := notify.Message{Time: evalTime, Language: rules.LanguageChinese, Items: firing(alert("a", rules.Critical, 200000), alert("b", rules.Warning, 2000), alert("c", rules.Warning, 3000))}
	preview := app.Preview(m)
	r, err := app.Notify(context.Background(), m)
	calls := srv.Calls()
	if err != nil || len(calls) != 4 || calls[0].ThreadTS != "" || len(r.Accepted) != 3 {
		t.Fatalf("err %v, calls %v", err, methods(calls))
	}
	for _, c := range calls[1:] {
		if c.ThreadTS != calls[0].TS {
			t.Errorf("section outside the digest's thread: %+v", c)
		}
	}
	for key, th := range r.Threads {
		if th.Root != calls[0].TS || th.TS == calls[0].TS {
			t.Errorf("%q: thread %+v", key, th)
		}
	}
	if d, _ := srv.Message(appChan, calls[0].TS); !strings.Contains(d.Attachments, "3 个消费组") || !strings.Contains(d.Text, "3 个消费组消费滞后") {
		t.Errorf("digest: %+v", d)
	}
	if !strings.HasPrefix(preview, "chat.postMessage "+appChan+" (digest") {
		t.Errorf("preview:\n%s", preview)
	}
}
