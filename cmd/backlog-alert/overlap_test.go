//go:build unix

package main

// The delivery guarantee, tested on the real binary: runs that overlap send
// each notification once and lose none of each other's record (the state's
// lease), and runs killed at any point lose nothing and repeat at most the
// message that was in flight (the state saved after each channel's
// delivery). See README: State, and Alert lifecycle, "The guarantee". Unix
// only: the file lease is a flock, and runs are killed with SIGKILL.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/lifecycle"
	"github.com/backlog-alert/backlog-alert/notify/chattest"
	"github.com/backlog-alert/backlog-alert/rules"
	"github.com/backlog-alert/backlog-alert/state/osstest"
)

// stateBase is the first evaluation time of these tests' runs (--now).
var stateBase = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// runCredentials are the operator's shell's credentials for `run`; `serve`
// gets them with each invocation instead.
var runCredentials = []string{
	"ALIBABA_CLOUD_ACCESS_KEY_ID=" + akID,
	"ALIBABA_CLOUD_ACCESS_KEY_SECRET=" + akSecret,
	"ALIBABA_CLOUD_SECURITY_TOKEN=" + stsToken,
}

// overlapRules fire at once (no `for`) and remind only after a day, so that
// each change of orders-eu's backlog is exactly one message to one channel.
const overlapRules = `version: 1
defaults:
  region: cn-hangzhou
channels:
  team-slack:
    type: slack
    webhook_url: ${SLACK_URL}
rules:
  - name: orders
    instance: alikafka_post-cn-cli0001
    groups: ["orders-eu"]
    backlog: {warning: 100}
    for: 0s
    repeat: 24h
    notify: [team-slack]
`

const (
	overlapPairs = 20
	// overlapLatency is how slowly the fake OpenAPI answers: the run holding
	// the state is still reading when the other run asks for it.
	overlapLatency = 200 * time.Millisecond
	ossBucket      = "alerts-bucket"
	ossKey         = "backlog-alert/state.json"
)

// overlapReport is what the tests read of a run's JSON report.
type overlapReport struct {
	Skipped       string `json:"skipped"`
	Notifications []struct {
		Channel string `json:"channel"`
		Sent    bool   `json:"sent"`
	} `json:"notifications"`
	Warnings []string `json:"warnings"`
	Errors   []string `json:"errors"`
}

// TestOverlappingRunsSendOnceAndLoseNothing starts two runs at the same time
// against one state, 20 times, with one notification due each time (orders-eu
// alternately far behind and caught up). With the lease, the second run waits
// for the first, reads what it saved and has nothing to add. Without it both
// would read the same state: both would send (a duplicate) and the second save
// would drop the first run's history sample (a lost update). The counts:
// exactly one message per pair, every run's sample in the history, a valid
// state after every pair.
func TestOverlappingRunsSendOnceAndLoseNothing(t *testing.T) {
	buildBinary(t) // once, before the subtests run in parallel
	for _, tc := range []struct {
		name       string
		oss, serve bool
	}{
		{name: "file"},
		{name: "oss", oss: true},
		{name: "serve-file", serve: true},
		{name: "serve-oss", oss: true, serve: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each subtest has its own fakes, state and processes
			w := newOverlapWorld(t, tc.oss)
			pair := w.runPair
			if tc.serve {
				pair = w.servePair(t)
			}
			samples, overlapped := 0, 0 // runs that did the work; pairs whose runs overlapped
			for k := range overlapPairs {
				fires := k%2 == 0 // fires, then resolves, then fires...
				lag := int64(0)
				if fires {
					lag = 5000
				}
				// The committed offset tells this pair's history samples
				// from the others'.
				committed := int64(1000 * (k + 1))
				g := behind("orders-eu", lag, time.Second)
				g.Topics[0].Partitions[0].ConsumerOffset, g.Topics[0].Partitions[0].BrokerOffset = committed, committed+lag
				w.api.SetGroup(g)
				now := stateBase.Add(time.Duration(k) * 5 * time.Minute)
				sinkBefore, apiBefore := len(w.sink.Received()), len(w.api.Requests())

				reps, lastStarted := pair(t, now)

				worked, sent := 0, 0
				for _, rep := range reps {
					if len(rep.Errors) > 0 {
						t.Errorf("pair %d: errors %v", k, rep.Errors)
					}
					for _, warning := range rep.Warnings {
						if strings.Contains(warning, "took over") {
							t.Errorf("pair %d: a lease was left behind: %s", k, warning)
						}
					}
					if rep.Skipped != "" {
						continue // allowed: the other run did the work
					}
					worked++
					for _, n := range rep.Notifications {
						if n.Sent {
							sent++
						}
					}
				}
				samples += worked
				if worked == 0 {
					t.Fatalf("pair %d: both runs skipped", k)
				}

				// Duplicates: exactly one message per pair reaches the chat.
				got := w.sink.Received()[sinkBefore:]
				want := item{kind: rules.KindResolved, group: "orders-eu"}
				if fires {
					want.kind = rules.KindFiring
				}
				if len(got) != 1 || sent != 1 {
					t.Errorf("pair %d: the chat received %d messages, reports say %d sent; want 1 (%s)", k, len(got), sent, want)
				} else if items, err := itemsOf(got[0]); err != nil || !slices.Equal(items, []item{want}) {
					t.Errorf("pair %d: message holds %v (%v), want %s", k, items, err, want)
				}

				// The runs overlapped, and the lease made them take turns: the
				// second read progress only after the first had its answer.
				reqs := w.api.Requests()[apiBefore:]
				if len(reqs) != worked {
					t.Fatalf("pair %d: %d OpenAPI calls for %d runs that were not skipped", k, len(reqs), worked)
				}
				if len(reqs) == 2 {
					if gap := reqs[1].Time.Sub(reqs[0].Time); gap < overlapLatency {
						t.Errorf("pair %d: both runs read progress at once (%v apart): no lease", k, gap)
					}
				}
				if lastStarted.Before(reqs[0].Time.Add(overlapLatency)) {
					overlapped++ // both had started while the first was still reading
				}

				// Lost updates and invalid states: the state decodes, records
				// this pair's transition and holds the history sample of
				// each run that did the work.
				st := w.state(t)
				a := alertOf(st, "orders-eu")
				switch d := deliveryOf(a, "team-slack"); {
				case fires && (a == nil || a.FiringSince.IsZero() || d == nil || d.Kind != rules.KindFiring):
					t.Errorf("pair %d: state does not record the firing alert told to team-slack: %+v", k, a)
				case fires && !tc.serve && !d.At.Equal(now):
					t.Errorf("pair %d: team-slack told at %v, want %v", k, d.At, now)
				case !fires && a != nil && (a.ResolvedAt.IsZero() || d == nil || d.Kind != rules.KindResolved):
					// (Told everywhere, it is forgotten by the next run.)
					t.Errorf("pair %d: state does not record the resolution told to team-slack: %+v (told %+v)", k, a, d)
				}
				var mine []lifecycle.Sample
				if g := st.Groups["cn-hangzhou/alikafka_post-cn-cli0001/orders-eu"]; g != nil {
					for _, s := range g.History {
						if s.Consumer == committed {
							mine = append(mine, s)
						}
					}
				}
				if len(mine) != worked {
					t.Errorf("pair %d: history holds %d samples of this pair, want %d: a run's update was lost", k, len(mine), worked)
				}
				for _, s := range mine {
					if !tc.serve && !s.Time.Equal(now) {
						t.Errorf("pair %d: sample %+v, want it taken at %v", k, s, now)
					}
				}
				w.checkReleased(t, k)
				if t.Failed() {
					t.FailNow() // the next pairs build on this one
				}
			}
			t.Logf("%d pairs, %d of them overlapping; %d runs did the work, %d skipped", overlapPairs, overlapped, samples, 2*overlapPairs-samples)
			// Pairs that did not overlap prove nothing; on a very busy machine
			// a few may start too far apart, most must not.
			if overlapped < overlapPairs/2 {
				t.Errorf("only %d of %d pairs overlapped: the test proves little", overlapped, overlapPairs)
			}
		})
	}
}

// overlapWorld is a platformWorld whose state lives in a file or in a fake
// OSS, and whose OpenAPI answers slowly.
type overlapWorld struct {
	*platformWorld
	oss       *osstest.Server // nil: the state is a file
	statePath string
}

func newOverlapWorld(t *testing.T, inOSS bool) *overlapWorld {
	t.Helper()
	pw := newPlatformWorld(t)
	pw.api.SetLatency(overlapLatency)
	w := &overlapWorld{platformWorld: pw, statePath: filepath.Join(t.TempDir(), "state.json")}
	pw.env = append(pw.env, "BACKLOG_ALERT_RULES="+writeRules(t, overlapRules), "BACKLOG_ALERT_STATE="+w.statePath)
	if inOSS {
		w.oss = osstest.NewServer()
		t.Cleanup(w.oss.Close)
		w.oss.RequireAccessKeyID(akID)
		w.oss.RequireToken(stsToken)
		// The region is the rules' defaults.region.
		pw.env = append(pw.env, "BACKLOG_ALERT_STATE=oss://"+ossBucket+"/"+ossKey, "BACKLOG_ALERT_OSS_ENDPOINT="+w.oss.URL)
	}
	return w
}

// runPair starts two `run` processes at once and returns their reports and
// when the later of them had started.
func (w *overlapWorld) runPair(t *testing.T, now time.Time) ([]overlapReport, time.Time) {
	t.Helper()
	// A lock-wait far beyond a run's length: the waiting run does not skip.
	args := []string{"run", "--json", "--now", now.Format(time.RFC3339), "--lock-wait", "1m"}
	env := append(slices.Clone(w.env), runCredentials...)
	ps := []*process{start(t, env, args...), start(t, env, args...)}
	started := time.Now()
	reps := make([]overlapReport, len(ps))
	for i, p := range ps {
		if err := p.cmd.Wait(); err != nil {
			t.Fatalf("run %d: %v\nstderr:\n%s", i, err, p.stderr)
		}
		if err := json.Unmarshal([]byte(p.stdout.String()), &reps[i]); err != nil {
			t.Fatalf("run %d: stdout is not the report: %v\n%s", i, err, p.stdout)
		}
	}
	return reps, started
}

// servePair starts one `serve` process and returns a function that invokes
// it twice at once, as two timer events arriving together would.
func (w *overlapWorld) servePair(t *testing.T) func(*testing.T, time.Time) ([]overlapReport, time.Time) {
	port := freePort(t)
	start(t, append(slices.Clone(w.env), "FC_CUSTOM_LISTEN_PORT="+strconv.Itoa(port), "FC_FUNCTION_NAME=backlog-alert"), "serve")
	waitListening(t, port)
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/invoke"
	var seq atomic.Int64
	return func(t *testing.T, _ time.Time) ([]overlapReport, time.Time) {
		t.Helper()
		reps := make([]overlapReport, 2)
		errs := make([]error, 2)
		sent := make([]time.Time, 2)
		var wg sync.WaitGroup
		for i := range reps {
			wg.Go(func() {
				id := fmt.Sprintf("req-overlap-%d", seq.Add(1))
				req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"triggerName":"every-5m","payload":"{}"}`))
				req.Header.Set("x-fc-request-id", id)
				req.Header.Set("x-fc-function-timeout", "60")
				req.Header.Set("x-fc-access-key-id", akID)
				req.Header.Set("x-fc-access-key-secret", akSecret)
				req.Header.Set("x-fc-security-token", stsToken)
				sent[i] = time.Now()
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs[i] = err
					return
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != http.StatusOK {
					errs[i] = fmt.Errorf("%s: HTTP %d: %s", id, resp.StatusCode, body)
					return
				}
				errs[i] = json.Unmarshal(body, &reps[i])
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		return reps, maxTime(sent...)
	}
}

func maxTime(ts ...time.Time) time.Time {
	var m time.Time
	for _, t := range ts {
		if t.After(m) {
			m = t
		}
	}
	return m
}

// state decodes the state document, failing the test if it is missing or
// invalid.
func (w *overlapWorld) state(t *testing.T) *lifecycle.State {
	t.Helper()
	var data []byte
	if w.oss != nil {
		var ok bool
		if data, ok = w.oss.Object(ossBucket, ossKey); !ok {
			t.Fatal("no state object")
		}
	} else {
		var err error
		if data, err = os.ReadFile(w.statePath); err != nil {
			t.Fatal(err)
		}
	}
	st, err := lifecycle.Decode(data)
	if err != nil {
		t.Fatalf("invalid state: %v\n%s", err, data)
	}
	return st
}

// checkReleased asserts that no lease outlived its run: no OSS lock object
// or takeover marker, an emptied lock file.
func (w *overlapWorld) checkReleased(t *testing.T, k int) {
	t.Helper()
	if w.oss != nil {
		if keys := w.oss.Keys(ossBucket); !slices.Equal(keys, []string{ossKey}) {
			t.Errorf("pair %d: bucket holds %v, want only the state", k, keys)
		}
		return
	}
	if lock, err := os.ReadFile(w.statePath + ".lock"); err != nil || len(lock) != 0 {
		t.Errorf("pair %d: lock file %q (%v), want it released (empty)", k, lock, err)
	}
}

func alertOf(st *lifecycle.State, group string) *lifecycle.AlertState {
	for _, a := range st.Alerts {
		if a.Alert.Group == group {
			return a
		}
	}
	return nil
}

func deliveryOf(a *lifecycle.AlertState, channel string) *lifecycle.Delivery {
	if a == nil {
		return nil
	}
	return a.Channels[channel]
}

// item is one section of a message: what it says happened to which group.
type item struct {
	kind  rules.Kind
	group string
}

func (it item) String() string { return string(it.kind) + " " + it.group }

// sectionTitle matches a section's title in Slack ("*WARNING* · *grp-03*")
// and DingTalk ("#### 🟠 WARNING · grp-03"); every section ends with its
// "Instance ..." line, which tells how many sections there are.
var (
	sectionTitle = regexp.MustCompile(`(?m)(WARNING|Resolved)\*? · \*?([a-z0-9-]+)\*?$`)
	sectionEnd   = regexp.MustCompile(`(?m)^(- )?Instance alikafka_post-cn-cli0001 · `)
)

// itemsOf reads the sections of a received message; a section of any other
// kind (a reminder, an escalation) is an error.
func itemsOf(m chattest.Received) ([]item, error) {
	text := m.Readable()
	var items []item
	for _, s := range sectionTitle.FindAllStringSubmatch(text, -1) {
		kind := rules.KindFiring
		if s[1] == "Resolved" {
			kind = rules.KindResolved
		}
		items = append(items, item{kind, s[2]})
	}
	if n := len(sectionEnd.FindAllString(text, -1)); n != len(items) || n == 0 {
		return items, fmt.Errorf("%d sections, %d understood:\n%s", n, len(items), text)
	}
	return items, nil
}

// killRules watch every grp-* group on two channels; the rate limit is
// raised so that reading 30 groups takes two round trips.
const killRules = `version: 1
defaults:
  region: cn-hangzhou
api:
  qps: 500
` + cliChannels + `rules:
  - name: orders
    instance: alikafka_post-cn-cli0001
    groups: ["grp-*"]
    backlog: {warning: 100}
    for: 0s
    repeat: 24h
    notify: [team-slack, ops-dingtalk]
`

var killChannels = []string{"team-slack", "ops-dingtalk"}

const (
	killRuns = 30
	// killLatency slows the OpenAPI so that a kill can land while reading.
	killLatency = 100 * time.Millisecond
)

// killPoint is where a run is killed.
type killPoint string

const (
	killNever       killPoint = "left to finish"
	killAnywhere    killPoint = "at a random time"
	killFetching    killPoint = "while reading progress"
	killBeforeChat  killPoint = "while sending, before the chat has the message"
	killAfterChat   killPoint = "while sending, after the chat has the message, before the run hears so"
	killBetweenChat killPoint = "after one channel's delivery was saved, the other's still sending"
	killSaving      killPoint = "around the final save"
)

var killPoints = []killPoint{killNever, killAnywhere, killFetching, killBeforeChat, killAfterChat, killBetweenChat, killSaving}

// TestKilledRunsLoseNothingAndRepeatAtMostOnce kills 30 runs with SIGKILL at
// pseudo-random points. Before each run a new group falls behind (a firing is
// due) and, once both channels were told that an older group fires, that
// group catches up (a resolution is due). It counts, per channel: transitions
// never delivered (must be 0 after a final clean run), messages delivered but
// not recorded in the state when a run died (at most 1 per kill: "at most the
// one message in flight"), and messages repeating something the channel
// already had (at most those, so at most 1 per kill). The state must decode
// after every run.
func TestKilledRunsLoseNothingAndRepeatAtMostOnce(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("BACKLOG_ALERT_KILL_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("BACKLOG_ALERT_KILL_SEED: %v", err)
		}
	}
	t.Logf("seed %d (BACKLOG_ALERT_KILL_SEED=%d reproduces the plan)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	w := newPlatformWorld(t)
	w.api.SetLatency(killLatency)
	gate := newChatGate(t, w.sink)
	statePath := filepath.Join(t.TempDir(), "state.json")
	env := append(slices.Clone(w.env), runCredentials...)
	env = append(env, "BACKLOG_ALERT_RULES="+writeRules(t, killRules), "BACKLOG_ALERT_STATE="+statePath)
	slackURL, dingTalkURL := w.sink.SlackURL("team-slack"), w.sink.DingTalkURL("ops-dingtalk", robot)

	// Every kill point several times, in a seeded order, each with its own
	// random delay; the last run is the clean one.
	plan := make([]struct {
		point   killPoint
		delay   float64 // of the kill point's range
		passing string  // the channel that gets through (killBetweenChat)
	}, killRuns+1)
	for i := range plan {
		plan[i].point = killPoints[i%len(killPoints)]
		plan[i].delay = rng.Float64()
		plan[i].passing = killChannels[rng.IntN(len(killChannels))]
	}
	rng.Shuffle(killRuns, func(i, j int) { plan[i], plan[j] = plan[j], plan[i] })
	plan[killRuns].point = killNever

	var (
		resolved   = map[string]bool{} // groups caught up by the test
		kills      = map[killPoint]int{}
		killed     int
		unrecorded = map[string]int{} // per channel: messages delivered but not saved when a run died
	)
	readState := func(run int) *lifecycle.State {
		t.Helper()
		data, err := os.ReadFile(statePath)
		if errors.Is(err, fs.ErrNotExist) {
			return lifecycle.New() // killed before the first save
		}
		if err != nil {
			t.Fatal(err)
		}
		st, err := lifecycle.Decode(data)
		if err != nil {
			t.Fatalf("run %d left an invalid state: %v\n%s", run, err, data)
		}
		return st
	}

	for run := 0; run <= killRuns; run++ {
		point, passing := plan[run].point, plan[run].passing
		upTo := func(d time.Duration) time.Duration { return time.Duration(plan[run].delay * float64(d)) }
		if run < killRuns {
			w.api.SetGroup(behind(fmt.Sprintf("grp-%02d", run), 5000, time.Second))
		}
		// The oldest group both channels know fires catches up.
		prior := readState(run)
		for g := range run {
			name := fmt.Sprintf("grp-%02d", g)
			a := alertOf(prior, name)
			if !resolved[name] && a != nil && told(a, killChannels, rules.KindFiring) {
				w.api.SetGroup(behind(name, 0, time.Second))
				resolved[name] = true
				break
			}
		}

		now := stateBase.Add(time.Duration(run) * 5 * time.Minute)
		sinkBefore := len(w.sink.Received())
		callsBefore := w.api.Stats().Calls
		switch point {
		case killBeforeChat:
			gate.start(run, map[string]holdAt{"team-slack": holdBeforeSink, "ops-dingtalk": holdBeforeSink})
		case killAfterChat:
			gate.start(run, map[string]holdAt{"team-slack": holdAfterSink, "ops-dingtalk": holdAfterSink})
		case killBetweenChat:
			gate.start(run, map[string]holdAt{other(passing): holdBeforeSink})
		default:
			gate.start(run, nil)
		}

		p := start(t, append(env, "SLACK_URL="+gate.url(run, slackURL), "DINGTALK_URL="+gate.url(run, dingTalkURL)),
			"run", "--json", "--now", now.Format(time.RFC3339))
		exited := make(chan struct{})
		go func() {
			p.cmd.Wait()
			close(exited)
		}()
		kill := func() { p.cmd.Process.Signal(syscall.SIGKILL) }
		after := func(d time.Duration) {
			select {
			case <-time.After(d):
				kill()
			case <-exited:
			}
		}
		switch point {
		case killAnywhere:
			after(upTo(4 * killLatency))
		case killFetching:
			if waitFor(t, exited, func() bool { return w.api.Stats().Calls > callsBefore }) {
				after(upTo(2 * killLatency)) // listing, then progress
			}
		case killBeforeChat:
			if gate.waitStep(t, exited, stepArrived, 1) {
				after(upTo(10 * time.Millisecond)) // the message stays held
			}
		case killAfterChat:
			if gate.waitStep(t, exited, stepDelivered, 1) {
				after(upTo(10 * time.Millisecond)) // the reply stays held
			}
		case killBetweenChat:
			// The other channel's message is held until the kill, so the
			// passing channel's delivery can be in the state only if it was
			// saved on its own. Without that save the run goes on until the
			// other channel times out, and saves both at the end.
			saved := waitFor(t, exited, func() bool {
				if !gate.holding(other(passing)) {
					return false
				}
				got := receivedBy(t, w.sink.Received()[sinkBefore:], passing)
				return len(got) > 0 && len(unsaved(readState(run), passing, got, now)) == 0 && gate.holding(other(passing))
			})
			if !saved {
				t.Fatalf("run %d: %s's delivery was not saved while %s was still sending: no save after each channel's delivery\n%s", run, passing, other(passing), p.stderr)
			}
			kill()
		case killSaving:
			if gate.waitStep(t, exited, stepReplied, len(killChannels)) {
				after(upTo(5 * time.Millisecond))
			}
		}
		<-exited
		gate.stop()

		ws := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
		died := ws.Signaled() && ws.Signal() == syscall.SIGKILL
		switch {
		case died:
			killed++
			kills[point]++
		case p.cmd.ProcessState.ExitCode() != 0:
			t.Fatalf("run %d (%s) exited %d:\n%s", run, point, p.cmd.ProcessState.ExitCode(), p.stderr)
		case point == killBetweenChat:
			t.Fatalf("run %d: not killed %s", run, point)
		}

		// The state is whole, and records everything the channels accepted,
		// except at most the one message in flight per channel when the
		// run died.
		st := readState(run)
		for _, ch := range killChannels {
			got := receivedBy(t, w.sink.Received()[sinkBefore:], ch)
			if len(got) > 1 {
				t.Errorf("run %d: %s received %d messages", run, ch, len(got))
			}
			n := len(unsaved(st, ch, got, now))
			switch {
			case n > 0 && !died:
				t.Errorf("run %d finished but did not save %s's delivery", run, ch)
			case n > 0 && point == killBetweenChat && ch == passing:
				t.Errorf("run %d: %s's delivery was saved, then lost", run, ch)
			}
			unrecorded[ch] += n
		}
		if t.Failed() {
			t.FailNow()
		}
		outcome := "finished"
		if died {
			outcome = "killed"
		}
		t.Logf("run %2d: %-70s %s", run, point, outcome)
	}

	// Nothing lost: every channel heard every group fire, and every group
	// the test resolved resolve, last. Repeats: messages holding something
	// the channel already had, at most one per message left unsaved, so at
	// most one per kill.
	for _, ch := range killChannels {
		heard := map[item]int{}
		last := map[string]rules.Kind{}
		repeats := 0
		for _, items := range receivedBy(t, w.sink.Received(), ch) {
			repeat := false
			for _, it := range items {
				if heard[it] > 0 {
					repeat = true
				}
				heard[it]++
				last[it.group] = it.kind
			}
			if repeat {
				repeats++
			}
		}
		for g := range killRuns {
			name := fmt.Sprintf("grp-%02d", g)
			want := rules.KindFiring
			if resolved[name] {
				want = rules.KindResolved
				if heard[item{rules.KindFiring, name}] == 0 {
					t.Errorf("%s never heard %s fire before it resolved", ch, name)
				}
			}
			if heard[item{want, name}] == 0 || last[name] != want {
				t.Errorf("%s: %s lost: heard %d times, last %q", ch, item{want, name}, heard[item{want, name}], last[name])
			}
		}
		t.Logf("%s: %d messages, %d repeating something, %d left unsaved by a kill; %d kills", ch, len(receivedBy(t, w.sink.Received(), ch)), repeats, unrecorded[ch], killed)
		if repeats > unrecorded[ch] || unrecorded[ch] > killed {
			t.Errorf("%s: %d repeated messages, %d unsaved deliveries, %d kills: want repeats ≤ unsaved ≤ kills", ch, repeats, unrecorded[ch], killed)
		}
	}

	// The final state knows what every channel was told: each group still
	// behind fires, told firing; each resolved one is told so, or forgotten.
	st := readState(killRuns)
	for g := range killRuns {
		name := fmt.Sprintf("grp-%02d", g)
		a := alertOf(st, name)
		switch {
		case resolved[name] && a != nil && (a.ResolvedAt.IsZero() || !told(a, killChannels, rules.KindResolved)):
			t.Errorf("%s resolved, not recorded as told to both channels: %+v", name, a)
		case !resolved[name] && (a == nil || !told(a, killChannels, rules.KindFiring)):
			t.Errorf("%s fires, not recorded as told to both channels: %+v", name, a)
		}
	}
	if matches, _ := filepath.Glob(statePath + ".corrupt-*"); len(matches) > 0 {
		t.Errorf("a run found the state corrupt: %v", matches)
	}
	t.Logf("%d runs, %d killed: %v", killRuns+1, killed, kills)
}

// told reports whether every channel was last told kind about the alert.
func told(a *lifecycle.AlertState, channels []string, kind rules.Kind) bool {
	for _, ch := range channels {
		if d := a.Channels[ch]; d == nil || d.Kind != kind {
			return false
		}
	}
	return true
}

func other(channel string) string {
	if channel == killChannels[0] {
		return killChannels[1]
	}
	return killChannels[0]
}

// receivedBy is the sections of each message the channel received.
func receivedBy(t *testing.T, msgs []chattest.Received, channel string) [][]item {
	t.Helper()
	var out [][]item
	for _, m := range msgs {
		if m.Channel != channel {
			continue
		}
		items, err := itemsOf(m)
		if err != nil {
			t.Fatalf("%s: %v", channel, err)
		}
		out = append(out, items)
	}
	return out
}

// unsaved returns the messages, delivered by a run at now, that the state
// does not record as told to the channel.
func unsaved(st *lifecycle.State, channel string, msgs [][]item, now time.Time) [][]item {
	var out [][]item
	for _, items := range msgs {
		for _, it := range items {
			a := alertOf(st, it.group)
			d := deliveryOf(a, channel)
			saved := false
			switch it.kind {
			case rules.KindFiring:
				saved = d != nil && d.Kind == rules.KindFiring && d.At.Equal(now)
			case rules.KindResolved:
				// Told to every channel, a resolved alert is forgotten.
				saved = a == nil || (d != nil && d.Kind == rules.KindResolved)
			}
			if !saved {
				out = append(out, items)
				break
			}
		}
	}
	return out
}

// waitFor polls cond until it holds (true) or the process exits (false).
func waitFor(t *testing.T, exited <-chan struct{}, cond func() bool) bool {
	t.Helper()
	deadline := time.After(3 * time.Minute) // only a hung run gets here
	for {
		if cond() {
			return true
		}
		select {
		case <-exited:
			return cond()
		case <-deadline:
			t.Fatal("gave up waiting for the run")
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// chatGate stands between the runs and the chat sink. It passes each
// message on and tells the test how far it got; told to, it holds a
// channel's message before the sink has it, or the sink's answer before the
// run has it, until the run dies. Each run posts under its own path prefix,
// and the gate passes on only the current run's messages: a dead run's
// request that arrives late reaches nobody.
type chatGate struct {
	sink   *chattest.Server
	srv    *httptest.Server
	client *http.Client

	mu      sync.Mutex
	run     int
	open    bool // the run may still post
	active  int  // requests being handled
	done    *sync.Cond
	holds   map[string]holdAt
	steps   map[step]int   // the run's messages that got that far
	held    map[string]int // the run's messages held now, by channel
	stepped chan struct{}  // closed when a message takes a step
}

type holdAt int

const (
	passThrough holdAt = iota
	holdBeforeSink
	holdAfterSink
)

type step int

const (
	stepArrived   step = iota // the gate has the message
	stepDelivered             // the sink answered
	stepReplied               // the run has the answer
)

func newChatGate(t *testing.T, sink *chattest.Server) *chatGate {
	g := &chatGate{sink: sink, client: &http.Client{}, stepped: make(chan struct{})}
	g.done = sync.NewCond(&g.mu)
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.srv.Close)
	return g
}

// url is a channel's URL on the sink, through the gate, for run.
func (g *chatGate) url(run int, sinkURL string) string {
	return g.srv.URL + "/run/" + strconv.Itoa(run) + strings.TrimPrefix(sinkURL, g.sink.URL)
}

// start lets run post, holding what holds says (nil: nothing).
func (g *chatGate) start(run int, holds map[string]holdAt) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.run, g.open, g.holds, g.steps, g.held = run, true, holds, map[step]int{}, map[string]int{}
}

// stop, once the run's process is gone, refuses its late requests and
// waits for those being handled: what the gate passed on has then reached
// the sink, or never will.
func (g *chatGate) stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open = false
	for g.active > 0 {
		g.done.Wait()
	}
}

// holding reports whether the gate holds a message to channel.
func (g *chatGate) holding(channel string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.held[channel] > 0
}

// waitStep waits until n of the run's messages reached s (true), or the
// process exited (false).
func (g *chatGate) waitStep(t *testing.T, exited <-chan struct{}, s step, n int) bool {
	t.Helper()
	deadline := time.After(3 * time.Minute) // only a hung run gets here
	for {
		g.mu.Lock()
		done, stepped := g.steps[s] >= n, g.stepped
		g.mu.Unlock()
		if done {
			return true
		}
		select {
		case <-stepped:
		case <-exited:
			return false
		case <-deadline:
			t.Fatal("gave up waiting for the run's messages")
		}
	}
}

func (g *chatGate) reached(s step) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.steps[s]++
	close(g.stepped)
	g.stepped = make(chan struct{})
}

// wait holds a message until the run is gone.
func (g *chatGate) wait(channel string, dead <-chan struct{}) {
	g.mu.Lock()
	g.held[channel]++
	g.mu.Unlock()
	<-dead
	g.mu.Lock()
	g.held[channel]--
	g.mu.Unlock()
}

func (g *chatGate) serve(w http.ResponseWriter, r *http.Request) {
	rest, _ := strings.CutPrefix(r.URL.Path, "/run/")
	runText, path, _ := strings.Cut(rest, "/")
	run, err := strconv.Atoi(runText)
	g.mu.Lock()
	current := err == nil && g.open && run == g.run
	if current {
		g.active++
	}
	hold := g.holds[channelOf(path)]
	g.mu.Unlock()
	if !current {
		http.Error(w, "not the current run", http.StatusServiceUnavailable)
		return
	}
	defer func() {
		g.mu.Lock()
		g.active--
		g.done.Broadcast()
		g.mu.Unlock()
	}()

	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	g.reached(stepArrived)
	dead := r.Context().Done() // the run was killed
	if hold == holdBeforeSink {
		g.wait(channelOf(path), dead)
		return
	}
	select {
	case <-dead:
		return
	default:
	}
	// Once passed on, a message is delivered or refused whatever the run
	// does meanwhile.
	target := g.sink.URL + "/" + path
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	req, _ := http.NewRequestWithContext(context.WithoutCancel(r.Context()), http.MethodPost, target, bytes.NewReader(body))
	req.Header.Set("Content-Type", r.Header.Get("Content-Type"))
	resp, err := g.client.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	g.reached(stepDelivered)
	if hold == holdAfterSink {
		g.wait(channelOf(path), dead)
		return
	}
	for _, h := range []string{"Content-Type", "Retry-After"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(answer)
	w.(http.Flusher).Flush()
	g.reached(stepReplied)
}

// channelOf names the channel a sink path belongs to.
func channelOf(path string) string {
	if strings.HasPrefix(path, "dingtalk/") {
		return "ops-dingtalk"
	}
	return "team-slack"
}
