// Package fc serves Function Compute's custom-runtime protocol: the platform
// starts the binary, then POSTs each timer event to /invoke.
package fc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/backlog-alert/backlog-alert/function"
	"github.com/backlog-alert/backlog-alert/progress/alikafka"
)

// DefaultPort is where the server listens when FC_CUSTOM_LISTEN_PORT is unset.
const DefaultPort = 9000

// Function Compute's request headers.
const (
	headerRequestID       = "x-fc-request-id"
	headerTimeout         = "x-fc-function-timeout"
	headerAccessKeyID     = "x-fc-access-key-id"
	headerAccessKeySecret = "x-fc-access-key-secret"
	headerSecurityToken   = "x-fc-security-token"
	// headerMemory is the function's memory size in MB: the Go memory
	// limit is set from it (function.SetPlatformMemoryLimit).
	headerMemory = "x-fc-function-memory"
	// headerStatus tells the platform whether the invocation succeeded;
	// without it every HTTP answer counts as a success.
	headerStatus = "x-fc-status"
)

// maxEvent bounds the event body: timer events are tiny.
const maxEvent = 1 << 20

// Handler answers Function Compute's invocations.
type Handler struct {
	// Base is every run's configuration; credentials and the deadline come
	// from each invocation.
	Base function.Options
	// Logs receives the JSON logs (stderr in production).
	Logs io.Writer
	// Console receives the FC Invoke Start/End lines (stdout in production).
	Console io.Writer
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/initialize":
		w.Header().Set(headerStatus, "200")
		w.WriteHeader(http.StatusOK)
	case r.Method == http.MethodPost && r.URL.Path == "/invoke":
		h.invoke(w, r)
	default:
		reply(w)(failure(fmt.Sprintf("backlog-alert answers POST /invoke (event functions only), not %s %s", r.Method, r.URL.Path)))
	}
}

func (h *Handler) invoke(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get(headerRequestID)
	fmt.Fprintf(h.Console, "FC Invoke Start RequestId: %s\n", id)
	status, body := h.run(r, id)
	// The End line must precede the reply: the platform may freeze the
	// instance as soon as it has the reply.
	fmt.Fprintf(h.Console, "FC Invoke End RequestId: %s\n", id)
	reply(w)(status, body)
}

// reply returns a function writing a JSON reply with its status, also in
// x-fc-status: without it the platform counts every answer as a success.
func reply(w http.ResponseWriter) func(int, any) {
	return func(status int, body any) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set(headerStatus, strconv.Itoa(status))
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(body)
	}
}

// run performs one invocation and returns the HTTP status and the reply.
func (h *Handler) run(r *http.Request, id string) (int, any) {
	start := time.Now()
	log := slog.New(slog.NewJSONHandler(h.Logs, nil)).With("request_id", id)
	opts := h.Base
	opts.Logger = log
	opts.Credentials = credentials(r.Header)
	function.SetPlatformMemoryLimit(r.Header.Get(headerMemory), os.Getenv)

	ctx := r.Context()
	if secs, err := strconv.Atoi(r.Header.Get(headerTimeout)); err == nil && secs > 0 {
		// Finish a little before the platform kills the instance.
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, start.Add(time.Duration(secs)*time.Second-time.Second))
		defer cancel()
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxEvent))
	if err != nil {
		return failure("cannot read the event: " + err.Error())
	}
	overrides, err := function.ParseEvent(body)
	if err != nil {
		log.Error("invalid event", "error", err)
		return failure(err.Error())
	}
	rep, err := function.Run(ctx, overrides.Apply(opts))
	if err == nil {
		err = function.Blind(rep)
	}
	if err != nil {
		// The error text comes from the run, which scrubs secrets.
		log.Error("invocation failed", "error", err)
		return failure(err.Error())
	}
	// Alerts fired or a channel failed: still a success, because a retried
	// invocation would repeat every alert. The report says what failed.
	return http.StatusOK, rep
}

type errorReply struct {
	Error string `json:"error"`
}

// failure is how Function Compute is told an invocation failed: HTTP 404
// with x-fc-status 404.
func failure(msg string) (int, any) { return http.StatusNotFound, errorReply{msg} }

// credentials prefers the role credentials Function Compute sends with each
// invocation; without them (Debian 11+ runtimes send no token header, and a
// function without a role sends none) the SDK's default chain reads the
// ALIBABA_CLOUD_* variables the platform sets.
func credentials(h http.Header) *alikafka.Credentials {
	id, secret := h.Get(headerAccessKeyID), h.Get(headerAccessKeySecret)
	if id == "" || secret == "" {
		return nil
	}
	return &alikafka.Credentials{AccessKeyID: id, AccessKeySecret: secret, SecurityToken: h.Get(headerSecurityToken)}
}

// ListenAndServe serves h on 0.0.0.0:port until ctx is done. Function
// Compute requires 0.0.0.0: a server bound to 127.0.0.1 fails to start.
func ListenAndServe(ctx context.Context, port int, h http.Handler, ready func(addr string)) error {
	srv := &http.Server{Addr: "0.0.0.0:" + strconv.Itoa(port), Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		errc <- srv.Shutdown(shutdown)
	}()
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		return err
	}
	if ready != nil {
		ready(ln.Addr().String())
	}
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return <-errc
}
