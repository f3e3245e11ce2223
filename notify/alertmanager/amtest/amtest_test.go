package amtest_test

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/notify/alertmanager/amtest"
)

func post(t *testing.T, s *amtest.Server, body string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/api/v2/alerts", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const (
	t0 = "2025-03-01T10:00:00Z"
	t1 = "2025-03-01T10:05:00Z"
)

func TestValidation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		body   string
		ctype  string
		status int
		reply  string // a substring
		stored int
	}{
		{name: "valid", body: `[{"labels":{"alertname":"A"},"startsAt":"` + t0 + `","endsAt":"` + t1 + `"}]`, status: 200, stored: 1},
		{name: "no times", body: `[{"labels":{"alertname":"A"}}]`, status: 200, stored: 1},
		{name: "not an array", body: `{"labels":{"alertname":"A"}}`, status: 400, reply: `parsing alerts body from \"\" failed`},
		{name: "empty body", body: ``, status: 422, reply: `"alerts in body is required"`},
		{name: "labels missing", body: `[{"annotations":{"a":"b"}}]`, status: 422, reply: `"0.labels in body is required"`},
		{name: "labels empty", body: `[{"labels":{}}]`, status: 400, reply: `"at least one label pair required"`},
		{name: "only empty labels", body: `[{"labels":{"alertname":""}}]`, status: 400, reply: `"at least one label pair required"`},
		{name: "bad label name", body: `[{"labels":{"alert-name":"A"}}]`, status: 400, reply: `invalid label set: invalid name \"alert-name\"`},
		{name: "bad annotation name", body: `[{"labels":{"a":"b"},"annotations":{"1x":"y"}}]`, status: 400, reply: `invalid annotations: invalid name \"1x\"`},
		{name: "bad time", body: `[{"labels":{"a":"b"},"startsAt":"yesterday"}]`, status: 400, reply: `parsing time`},
		{name: "ends before starts", body: `[{"labels":{"a":"b"},"startsAt":"` + t1 + `","endsAt":"` + t0 + `"}]`, status: 400, reply: `"start time must be before end time"`},
		{name: "label value not a string", body: `[{"labels":{"a":1}}]`, status: 400, reply: `parsing alerts body`},
		{name: "best effort", body: `[{"labels":{"a":"b"}},{"labels":{}},{"labels":{"c":"d"},"startsAt":"` + t1 + `","endsAt":"` + t0 + `"}]`,
			status: 400, reply: `"at least one label pair required; start time must be before end time"`, stored: 1},
		{name: "wrong content type", body: `[{"labels":{"a":"b"}}]`, ctype: "text/plain", status: 415, reply: `unsupported media type`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := amtest.NewServer()
			defer s.Close()
			ctype := tc.ctype
			if ctype == "" {
				ctype = "application/json"
			}
			status, reply := post(t, s, tc.body, "Content-Type", ctype)
			if status != tc.status || !strings.Contains(reply, tc.reply) {
				t.Errorf("got %d %q, want %d %q", status, reply, tc.status, tc.reply)
			}
			if got := len(s.Stored()); got != tc.stored {
				t.Errorf("stored %d alerts, want %d", got, tc.stored)
			}
			if r := s.Received(); len(r) != 1 || r[0].Status != status || string(r[0].Body) != tc.body {
				t.Errorf("Received = %+v", r)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	s := amtest.NewServer()
	defer s.Close()
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	s.SetClock(func() time.Time { return now })
	post(t, s, `[{"labels":{"a":"1","empty":""}},{"labels":{"a":"2"},"endsAt":"`+t1+`"}]`)
	got := s.Stored()
	if len(got) != 2 {
		t.Fatalf("stored %+v", got)
	}
	// No times: from now, for resolve_timeout; empty labels dropped.
	if a := got[0]; !a.StartsAt.Equal(now) || !a.EndsAt.Equal(now.Add(amtest.ResolveTimeout)) || !a.Timeout || len(a.Labels) != 1 {
		t.Errorf("no times: %+v", a)
	}
	// An end but no start: it starts when it ends.
	if a := got[1]; !a.StartsAt.Equal(a.EndsAt) || a.Timeout {
		t.Errorf("end only: %+v", a)
	}
}

// The store keeps one alert per label set: a re-send with a later endsAt
// replaces it, a resolution ends it, a new firing after that starts anew.
func TestStore(t *testing.T) {
	s := amtest.NewServer()
	defer s.Close()
	base := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return base.Add(time.Duration(m) * time.Minute) }
	clock := at(0)
	s.SetClock(func() time.Time { return clock })
	send := func(start, end int, summary string) {
		t.Helper()
		body := `[{"labels":{"alertname":"A","x":"1"},"annotations":{"summary":"` + summary + `"},"startsAt":"` +
			at(start).Format(time.RFC3339) + `","endsAt":"` + at(end).Format(time.RFC3339) + `"}]`
		if status, reply := post(t, s, body); status != 200 {
			t.Fatalf("%d %s", status, reply)
		}
	}
	labels := map[string]string{"alertname": "A", "x": "1"}
	get := func() amtest.Alert {
		t.Helper()
		a, ok := s.Lookup(labels)
		if !ok {
			t.Fatal("not stored")
		}
		return a
	}

	send(0, 15, "first")
	clock = at(5)
	send(0, 20, "second")
	if a := get(); !a.StartsAt.Equal(at(0)) || !a.EndsAt.Equal(at(20)) || a.Annotations["summary"] != "second" {
		t.Errorf("after a re-send: %+v", a)
	}
	if len(s.Alerts(at(17))) != 1 || len(s.Alerts(at(20))) != 0 {
		t.Errorf("firing at 17: %d, at 20: %d", len(s.Alerts(at(17))), len(s.Alerts(at(20))))
	}
	// A late start within the active interval keeps the earliest start.
	clock = at(6)
	send(3, 21, "third")
	if a := get(); !a.StartsAt.Equal(at(0)) || !a.EndsAt.Equal(at(21)) {
		t.Errorf("after a later start: %+v", a)
	}
	// Resolved now: it ends now.
	clock = at(10)
	send(0, 10, "resolved")
	if a := get(); !a.EndsAt.Equal(at(10)) || a.FiringAt(at(10)) || len(s.Alerts(at(10))) != 0 {
		t.Errorf("after a resolution: %+v", a)
	}
	// Firing again, later: a new interval.
	clock = at(30)
	send(30, 45, "again")
	if a := get(); !a.StartsAt.Equal(at(30)) || !a.EndsAt.Equal(at(45)) {
		t.Errorf("firing again: %+v", a)
	}
	if len(s.Stored()) != 1 {
		t.Errorf("stored %d alerts, want 1", len(s.Stored()))
	}
}

func TestAuth(t *testing.T) {
	const body = `[{"labels":{"a":"b"}}]`
	t.Run("bearer", func(t *testing.T) {
		s := amtest.NewServer()
		defer s.Close()
		s.RequireBearer("tok-123")
		for _, tc := range []struct {
			auth   string
			status int
		}{{"", 401}, {"Bearer nope", 401}, {"Basic dG9rLTEyMw==", 401}, {"Bearer tok-123", 200}} {
			if status, _ := post(t, s, body, "Authorization", tc.auth); status != tc.status {
				t.Errorf("Authorization %q: %d, want %d", tc.auth, status, tc.status)
			}
		}
		if len(s.Stored()) != 1 {
			t.Errorf("stored %d", len(s.Stored()))
		}
		if r := s.Received(); len(r) != 4 || r[3].Auth != "Bearer" || r[0].Auth != "" {
			t.Errorf("Received = %+v", r)
		}
	})
	t.Run("basic", func(t *testing.T) {
		s := amtest.NewServer()
		defer s.Close()
		s.RequireBasic("am", "pw")
		req := func(user, pass string) int {
			r, _ := http.NewRequest(http.MethodPost, s.URL+"/api/v2/alerts", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			if user != "" {
				r.SetBasicAuth(user, pass)
			}
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode == 401 && resp.Header.Get("WWW-Authenticate") != "Basic" {
				t.Errorf("challenge %q", resp.Header.Get("WWW-Authenticate"))
			}
			return resp.StatusCode
		}
		if req("", "") != 401 || req("am", "wrong") != 401 || req("other", "pw") != 401 || req("am", "pw") != 200 {
			t.Error("basic auth not checked")
		}
	})
}

func TestFail(t *testing.T) {
	s := amtest.NewServer()
	defer s.Close()
	const body = `[{"labels":{"a":"b"}}]`
	s.Fail(amtest.Failure{Status: 429, RetryAfter: 3, After: 1, Times: 2})
	var got []int
	for range 4 {
		status, _ := post(t, s, body)
		got = append(got, status)
	}
	if want := []int{200, 429, 429, 200}; !slices.Equal(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	s.Fail(amtest.Failure{Status: 301, Location: "https://elsewhere/"})
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).
		Post(s.URL+"/api/v2/alerts", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 301 || resp.Header.Get("Location") != "https://elsewhere/" {
		t.Errorf("got %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	s.Fail(amtest.Failure{})
	if status, _ := post(t, s, body); status != 200 {
		t.Errorf("after Fail(Failure{}): %d", status)
	}
	if resp, err := http.Get(s.URL + "/api/v2/alerts"); err != nil || resp.StatusCode != 405 {
		t.Errorf("GET: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}
