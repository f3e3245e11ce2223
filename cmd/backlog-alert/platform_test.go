package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/notify/chattest"
	"github.com/backlog-alert/backlog-alert/progress/alikafkatest"
)

// binary is the real backlog-alert, built once for the tests that start it
// the way Function Compute and Lambda do.
var binary struct {
	once sync.Once
	path string
	err  error
}

func buildBinary(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		dir, err := os.MkdirTemp("", "backlog-alert-bin")
		if err != nil {
			binary.err = err
			return
		}
		binary.path = filepath.Join(dir, "backlog-alert")
		out, err := exec.Command("go", "build", "-o", binary.path, ".").CombinedOutput()
		if err != nil {
			binary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}

func TestMain(m *testing.M) {
	// Retries as in production, with short waits and no pacing.
	deliveryOptions = []notify.Option{
		notify.WithRetry(notify.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}),
		notify.WithLimiter(nil),
	}
	code := m.Run()
	if binary.path != "" {
		os.RemoveAll(filepath.Dir(binary.path))
	}
	os.Exit(code)
}

// process is the started binary with its output captured.
type process struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs the binary with exactly env (no inherited credentials) and
// stops it when the test ends.
func start(t *testing.T, env []string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(buildBinary(t), args...), stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	p.cmd.Env = append([]string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH"), "ALIBABA_CLOUD_ECS_METADATA_DISABLED=true"}, env...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		p.cmd.Wait()
		if t.Failed() {
			t.Logf("stdout:\n%s\nstderr:\n%s", p.stdout, p.stderr)
		}
	})
	return p
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// platformWorld is a fake alikafka endpoint that insists on the STS token,
// a chat sink, and a rules file, as the deployed function would find them.
type platformWorld struct {
	api   *alikafkatest.Server
	sink  *chattest.Server
	rules string
	env   []string
}

func newPlatformWorld(t *testing.T) *platformWorld {
	t.Helper()
	w := &platformWorld{}
	w.api = alikafkatest.NewServer(alikafkatest.Credentials{AccessKeyID: akID, AccessKeySecret: akSecret, SecurityToken: stsToken})
	t.Cleanup(w.api.Close)
	w.sink = chattest.NewServer()
	t.Cleanup(w.sink.Close)
	w.sink.RequireDingTalkSecret("ops-dingtalk", signing)
	w.api.SetGroup(behind("orders-eu", 5000, 20*time.Minute))
	w.api.SetGroup(behind("orders-us", 2, time.Second))
	w.rules = writeRules(t, goodRules)
	w.env = []string{
		"BACKLOG_ALERT_RULES=" + w.rules,
		"BACKLOG_ALERT_ENDPOINT=" + w.api.URL,
		"SLACK_URL=" + w.sink.SlackURL("team-slack"),
		"DINGTALK_URL=" + w.sink.DingTalkURL("ops-dingtalk", robot),
		"DINGTALK_SECRET=" + signing,
		"BACKLOG_ALERT_STATE=" + filepath.Join(t.TempDir(), "state.json"),
	}
	return w
}

// checkSTSCalls asserts the fake endpoint saw only signed calls carrying the
// STS token.
func (w *platformWorld) checkSTSCalls(t *testing.T) {
	t.Helper()
	reqs := w.api.Requests()
	if len(reqs) == 0 {
		t.Fatal("no OpenAPI call reached the fake endpoint")
	}
	for _, r := range reqs {
		if !r.SignatureOK || r.Params.Get("SecurityToken") != stsToken {
			t.Errorf("%s: signature ok %v, SecurityToken %q", r.Action, r.SignatureOK, r.Params.Get("SecurityToken"))
		}
	}
}

func assertNoSecrets(t *testing.T, what, text string) {
	t.Helper()
	for _, s := range []string{akSecret, stsToken, signing, robot, "/services/T"} {
		if strings.Contains(text, s) {
			t.Errorf("%s contains secret %q:\n%s", what, s, text)
		}
	}
}

type reportBody struct {
	Groups int `json:"groups"`
	Alerts []struct {
		Group, Severity string
	} `json:"alerts"`
	Notifications []struct {
		Channel string
		Sent    bool
	} `json:"notifications"`
	Error string `json:"error"`
}

func TestFunctionComputeCustomRuntime(t *testing.T) {
	w := newPlatformWorld(t)
	port := freePort(t)
	// No ALIBABA_CLOUD_* variables: credentials must come from the headers.
	p := start(t, append(w.env, "FC_CUSTOM_LISTEN_PORT="+strconv.Itoa(port), "FC_FUNCTION_NAME=backlog-alert"), "serve")
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	waitListening(t, port)

	invoke := func(t *testing.T, id, body string, creds bool) (*http.Response, reportBody, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+"/invoke", strings.NewReader(body))
		req.Header.Set("x-fc-request-id", id)
		req.Header.Set("x-fc-control-path", "/invoke")
		req.Header.Set("x-fc-function-timeout", "60")
		if creds {
			req.Header.Set("x-fc-access-key-id", akID)
			req.Header.Set("x-fc-access-key-secret", akSecret)
			req.Header.Set("x-fc-security-token", stsToken)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var rep reportBody
		if err := json.Unmarshal(raw, &rep); err != nil {
			t.Fatalf("reply is not JSON: %v\n%s", err, raw)
		}
		return resp, rep, string(raw)
	}

	t.Run("initialize", func(t *testing.T) {
		resp, err := http.Post(base+"/initialize", "application/json", nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("initialize: %v %v", resp, err)
		}
		resp.Body.Close()
	})

	t.Run("timer event", func(t *testing.T) {
		event := `{"triggerTime":"2026-11-21T10:05:00Z","triggerName":"every-5m","payload":"{}"}`
		resp, rep, raw := invoke(t, "req-timer-1", event, true)
		if resp.StatusCode != 200 || resp.Header.Get("x-fc-status") != "200" {
			t.Fatalf("status %d, x-fc-status %q\n%s", resp.StatusCode, resp.Header.Get("x-fc-status"), raw)
		}
		if rep.Groups != 2 || len(rep.Alerts) != 2 || rep.Alerts[0].Group != "orders-eu" {
			t.Errorf("report = %s", raw)
		}
		if len(rep.Notifications) != 2 || !rep.Notifications[0].Sent || len(w.sink.Received()) != 2 {
			t.Errorf("notifications %+v, sink got %d", rep.Notifications, len(w.sink.Received()))
		}
		w.checkSTSCalls(t)
		assertNoSecrets(t, "reply", raw)
		// The process's stdout reaches the test through a pipe: wait for it.
		for _, line := range []string{"FC Invoke Start RequestId: req-timer-1", "FC Invoke End RequestId: req-timer-1"} {
			if !eventually(func() bool { return strings.Contains(p.stdout.String(), line) }) {
				t.Errorf("stdout lacks %q", line)
			}
		}
		if !eventually(func() bool { return strings.Contains(p.stderr.String(), `"request_id":"req-timer-1"`) }) {
			t.Errorf("JSON logs lack the request id:\n%s", p.stderr)
		}
	})

	t.Run("dry run payload sends nothing", func(t *testing.T) {
		before := len(w.sink.Received())
		resp, rep, raw := invoke(t, "req-dry", `{"triggerName":"t","payload":"{\"dry_run\":true}"}`, true)
		if resp.StatusCode != 200 || len(rep.Alerts) != 2 || len(w.sink.Received()) != before {
			t.Errorf("status %d, sink %d → %d\n%s", resp.StatusCode, before, len(w.sink.Received()), raw)
		}
	})

	t.Run("invalid rules", func(t *testing.T) {
		bad := filepath.Join(filepath.Dir(w.rules), "invalid.yaml") // in the code directory, as the event requires
		if err := os.WriteFile(bad, []byte(strings.Replace(goodRules, "warning: 10m", "warning: soon", 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		payload, _ := json.Marshal(map[string]string{"rules": bad})
		event, _ := json.Marshal(map[string]string{"triggerName": "t", "payload": string(payload)})
		resp, rep, raw := invoke(t, "req-bad", string(event), true)
		if resp.StatusCode != 404 || resp.Header.Get("x-fc-status") != "404" {
			t.Fatalf("status %d, x-fc-status %q", resp.StatusCode, resp.Header.Get("x-fc-status"))
		}
		if !strings.Contains(rep.Error, bad+":17: rules[0].stale.warning") {
			t.Errorf("error = %q", rep.Error)
		}
		assertNoSecrets(t, "reply", raw)
	})

	t.Run("no credentials", func(t *testing.T) {
		resp, rep, raw := invoke(t, "req-nocreds", "", false)
		if resp.StatusCode != 404 || resp.Header.Get("x-fc-status") != "404" || !strings.Contains(rep.Error, "credentials") {
			t.Errorf("status %d: %s", resp.StatusCode, raw)
		}
	})

	t.Run("nothing readable", func(t *testing.T) {
		w.api.Inject(alikafkatest.Fault{HTTPStatus: 503, Code: "ServiceUnavailable", Message: "down", Times: 10})
		resp, rep, raw := invoke(t, "req-blind", "", true)
		if resp.StatusCode != 404 || !strings.Contains(rep.Error, "no consumer group could be read") {
			t.Errorf("status %d: %s", resp.StatusCode, raw)
		}
		assertNoSecrets(t, "reply", raw)
	})

	assertNoSecrets(t, "stdout", p.stdout.String())
	assertNoSecrets(t, "stderr", p.stderr.String())
}

// eventually polls cond for up to two seconds.
func eventually(cond func() bool) bool {
	for range 200 {
		if cond() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

func waitListening(t *testing.T, port int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			c.Close()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("nothing listening on port %d", port)
}

// runtimeAPI is a local fake of the Lambda Runtime API: it hands out the
// queued events one by one and records what the function posts back.
type runtimeAPI struct {
	mu      sync.Mutex
	events  []string
	results map[string]lambdaResult
	done    chan string
}

type lambdaResult struct {
	kind string // "response" or "error"
	body string
}

func newRuntimeAPI(t *testing.T, events ...string) (*runtimeAPI, string) {
	api := &runtimeAPI{events: events, results: map[string]lambdaResult{}, done: make(chan string, len(events))}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		api.mu.Lock()
		if len(api.events) == 0 {
			api.mu.Unlock()
			<-r.Context().Done() // no more work: park like the real API
			return
		}
		event := api.events[0]
		api.events = api.events[1:]
		id := fmt.Sprintf("lambda-req-%d", len(api.events))
		api.mu.Unlock()
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", id)
		w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(60*time.Second).UnixMilli(), 10))
		w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:ap-southeast-1:123456789012:function:backlog-alert")
		io.WriteString(w, event)
	})
	record := func(kind string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			api.mu.Lock()
			api.results[r.PathValue("id")] = lambdaResult{kind, string(body)}
			api.mu.Unlock()
			w.WriteHeader(http.StatusAccepted)
			api.done <- r.PathValue("id")
		}
	}
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", record("response"))
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", record("error"))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return api, strings.TrimPrefix(srv.URL, "http://")
}

func (api *runtimeAPI) wait(t *testing.T) (string, lambdaResult) {
	t.Helper()
	select {
	case id := <-api.done:
		api.mu.Lock()
		defer api.mu.Unlock()
		return id, api.results[id]
	case <-time.After(30 * time.Second):
		t.Fatal("the function posted no result")
	}
	return "", lambdaResult{}
}

func TestLambdaRuntime(t *testing.T) {
	w := newPlatformWorld(t)
	// A broken rules file beside the function's own: the event may name
	// only files in the code directory.
	bad := filepath.Join(filepath.Dir(w.rules), "broken.yaml")
	if err := os.WriteFile(bad, []byte("version: 1\nchannels: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	scheduled := `{"version":"0","id":"53dc4d37","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","time":"2026-11-21T10:05:00Z","region":"ap-southeast-1","resources":["arn:aws:scheduler:::schedule/default/backlog-alert"],"detail":{}}`
	badInput := `{"rules":"` + bad + `"}`
	api, addr := newRuntimeAPI(t, scheduled, badInput)
	// "run" as an argument proves that on Lambda the arguments do not matter.
	p := start(t, append(w.env,
		"AWS_LAMBDA_RUNTIME_API="+addr,
		"AWS_LAMBDA_FUNCTION_NAME=backlog-alert",
		"ALIBABA_CLOUD_ACCESS_KEY_ID="+akID,
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET="+akSecret,
		"ALIBABA_CLOUD_SECURITY_TOKEN="+stsToken,
	), "run")

	_, res := api.wait(t)
	if res.kind != "response" {
		t.Fatalf("scheduled event: %s %s", res.kind, res.body)
	}
	var rep reportBody
	if err := json.Unmarshal([]byte(res.body), &rep); err != nil || rep.Groups != 2 || len(rep.Alerts) != 2 {
		t.Fatalf("response is not the report: %v\n%s", err, res.body)
	}
	if len(w.sink.Received()) != 2 {
		t.Errorf("sink got %d messages", len(w.sink.Received()))
	}
	w.checkSTSCalls(t)

	_, res = api.wait(t)
	if res.kind != "error" || !strings.Contains(res.body, bad) {
		t.Errorf("invalid rules: %s %s", res.kind, res.body)
	}
	if !eventually(func() bool { return strings.Contains(p.stderr.String(), `"request_id":"lambda-req-`) }) {
		t.Errorf("logs lack the request id:\n%s", p.stderr)
	}
	assertNoSecrets(t, "response", res.body)
	assertNoSecrets(t, "stderr", p.stderr.String())
	assertNoSecrets(t, "stdout", p.stdout.String())
}
