// Command bench measures backlog-alert the way it runs in production: it
// builds the stripped binary, serves a fake alikafka endpoint (with per-call
// latency and its own enforced QPS limit) and a chat sink from this process,
// runs the real binary against them, and prints one table. `make bench`.
//
// For diagnosis, BENCH_GODEBUG (e.g. gctrace=1) is passed to the binary as
// GODEBUG with its stderr printed, and BENCH_ENV adds variables such as
// GOMEMLIMIT=40MiB. It exits 1 when a target is missed.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/backlog-alert/backlog-alert/notify/chattest"
	"github.com/backlog-alert/backlog-alert/progress"
	"github.com/backlog-alert/backlog-alert/progress/alikafkatest"
	"github.com/backlog-alert/backlog-alert/rules"
)

const instance = "alikafka_post-cn-bench01"

var creds = alikafkatest.Credentials{AccessKeyID: "LTAI5tBenchAccessKey", AccessKeySecret: "bench-secret-value"}

// scenario is one run of the binary.
type scenario struct {
	name        string
	groups      int
	partitions  int
	qps         float64 // configured in the rules file
	concurrency int     // 0: derived from qps
	serverLimit float64 // enforced by the fake; 0: none
	latency     time.Duration
	secondRun   bool // run twice and measure the second, with a full state
}

// result is what one scenario measured.
type result struct {
	scenario
	wall       time.Duration
	groupsRead int
	throttled  int
	retries    int
	calls      int
	errors     int
	peakRSS    int64 // bytes
}

func main() {
	quick := flag.Bool("quick", false, "smaller scenarios, for a smoke test")
	flag.Parse()
	dir, err := os.MkdirTemp("", "backlog-alert-bench")
	check(err)
	defer os.RemoveAll(dir)

	bin := filepath.Join(dir, "backlog-alert")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./cmd/backlog-alert")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	check(build.Run())
	info, err := os.Stat(bin)
	check(err)

	scale := 1
	if *quick {
		scale = 10
	}
	scenarios := []scenario{
		{name: "at the limit", groups: 2000 / scale, partitions: 12, qps: 200, serverLimit: 200, latency: 40 * time.Millisecond},
		{name: "server slower than configured", groups: 2000 / scale, partitions: 12, qps: 200, serverLimit: 140, latency: 40 * time.Millisecond},
		{name: "sequential baseline", groups: 200 / scale, partitions: 12, qps: 1000, concurrency: 1, latency: 40 * time.Millisecond},
		{name: "10k groups, memory", groups: 10000 / scale, partitions: 12, qps: 5000},
		{name: "10k groups, second run", groups: 10000 / scale, partitions: 12, qps: 5000, secondRun: true},
	}
	var results []result
	for _, sc := range scenarios {
		fmt.Fprintf(os.Stderr, "bench: %s (%d groups)…\n", sc.name, sc.groups)
		results = append(results, run(bin, dir, sc))
	}
	startup := startupTimes(bin, 15)
	eval := evaluationTime(10000/scale, 12)

	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "scenario\tgroups\tpartitions\tqps\tserver limit\tlatency\twall\tlower bound\tratio\tread\tcalls\tthrottled\tretries\terrors\tpeak RSS\t")
	for _, r := range results {
		limit := "none"
		if r.serverLimit > 0 {
			limit = fmt.Sprintf("%.0f/s", r.serverLimit)
		}
		qps := fmt.Sprintf("%.0f/s", r.qps)
		if r.concurrency == 1 {
			qps = "1 at a time"
		}
		lower := time.Duration(float64(r.groups) / r.qps * float64(time.Second))
		ratio := fmt.Sprintf("%.2f", r.wall.Seconds()/lower.Seconds())
		if r.concurrency == 1 || r.serverLimit == 0 {
			ratio = "-"
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%s\t%s\t%.2fs\t%.2fs\t%s\t%d\t%d\t%d\t%d\t%d\t%.1f MiB\t\n", r.name, r.groups, r.partitions, qps, limit,
			r.latency, r.wall.Seconds(), lower.Seconds(), ratio, r.groupsRead, r.calls, r.throttled, r.retries, r.errors, float64(r.peakRSS)/(1<<20))
	}
	check(w.Flush())

	at, slow, seq, mem, mem2 := results[0], results[1], results[2], results[3], results[4]
	perGroupSeq := seq.wall.Seconds() / float64(seq.groups)
	fmt.Printf("\nstripped binary: %.1f MB (%d bytes)\n", float64(info.Size())/1e6, info.Size())
	fmt.Printf("process start to accepting on the FC port: median %v, max %v (%d starts)\n", median(startup).Round(100*time.Microsecond), slices.Max(startup).Round(100*time.Microsecond), len(startup))
	fmt.Printf("evaluation of a %d-group snapshot alone: median %v\n", 10000/scale, eval.Round(100*time.Microsecond))
	fmt.Printf("sequential baseline: %.1f ms a group; %d groups one after another would take %.1fs, %.1f× the paced run\n",
		perGroupSeq*1000, at.groups, perGroupSeq*float64(at.groups), perGroupSeq*float64(at.groups)/at.wall.Seconds())

	fmt.Println("\ntargets:")
	ok := true
	target := func(pass bool, format string, args ...any) {
		mark := "PASS"
		if !pass {
			mark, ok = "FAIL", false
		}
		fmt.Printf("  %s  %s\n", mark, fmt.Sprintf(format, args...))
	}
	atLower := float64(at.groups) / at.qps
	target(at.wall.Seconds() <= 1.10*atLower && at.errors == 0, "at the limit: wall %.2fs ≤ 1.10 × %.1fs = %.2fs, %d calls failed", at.wall.Seconds(), atLower, 1.10*atLower, at.errors)
	slowBound := 1.5 * float64(slow.groups) / slow.serverLimit
	target(slow.groupsRead == slow.groups && slow.wall.Seconds() <= slowBound, "server at %.0f/s: %d of %d groups evaluated, wall %.2fs ≤ %.2fs", slow.serverLimit, slow.groupsRead, slow.groups, slow.wall.Seconds(), slowBound)
	target(mem.peakRSS <= 64<<20, "10k groups: peak RSS %.1f MiB ≤ 64 MiB (first run)", float64(mem.peakRSS)/(1<<20))
	target(mem2.peakRSS <= 64<<20, "10k groups: peak RSS %.1f MiB ≤ 64 MiB (second run, with a saved state)", float64(mem2.peakRSS)/(1<<20))
	target(eval <= 100*time.Millisecond, "evaluation alone %v ≤ 100ms", eval.Round(100*time.Microsecond))
	target(info.Size() <= 25<<20, "stripped binary %.1f MB ≤ 25 MB", float64(info.Size())/1e6)
	target(median(startup) <= 50*time.Millisecond, "start to serving %v ≤ 50ms (median)", median(startup).Round(100*time.Microsecond))
	if !ok {
		os.Exit(1)
	}
}

// run serves the scenario's groups and runs the binary against them once
// (twice for secondRun, measuring the second).
func run(bin, dir string, sc scenario) result {
	api := alikafkatest.NewServer(creds)
	defer api.Close()
	sink := chattest.NewServer()
	defer sink.Close()
	for _, g := range groups(sc.groups, sc.partitions, time.Now()) {
		api.SetGroup(g)
	}
	api.SetLatency(sc.latency)
	if sc.serverLimit > 0 {
		api.SetRateLimit(sc.serverLimit)
	}
	rulesPath := filepath.Join(dir, "rules.yaml")
	concurrency := ""
	if sc.concurrency > 0 {
		concurrency = fmt.Sprintf(", concurrency: %d", sc.concurrency)
	}
	doc := fmt.Sprintf(`version: 1
api: {qps: %g%s}
channels:
  team:
    type: slack
    webhook_url: %s
rules:
  - name: bench
    instance: %s
    region: cn-hangzhou
    groups: ["bench-*"]
    backlog: {warning: 5000, critical: 50000}
    stale: {warning: 10m}
    notify: [team]
`, sc.qps, concurrency, sink.SlackURL("team"), instance)
	check(os.WriteFile(rulesPath, []byte(doc), 0o600))
	statePath := filepath.Join(dir, "state-"+strings.ReplaceAll(sc.name, " ", "-")+".json")
	r := once(bin, rulesPath, statePath, api.URL, sc)
	if sc.secondRun {
		r = once(bin, rulesPath, statePath, api.URL, sc)
	}
	return r
}

func once(bin, rulesPath, statePath, endpoint string, sc scenario) result {
	cmd := exec.Command(bin, "run", "--rules", rulesPath, "--state", statePath, "--json", "--timeout", "10m")
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Dir(statePath),
		"ALIBABA_CLOUD_ACCESS_KEY_ID=" + creds.AccessKeyID, "ALIBABA_CLOUD_ACCESS_KEY_SECRET=" + creds.AccessKeySecret,
		"ALIBABA_CLOUD_ECS_METADATA_DISABLED=true", "BACKLOG_ALERT_ENDPOINT=" + endpoint, "BACKLOG_ALERT_LOG_LEVEL=warn",
	}
	if v := os.Getenv("BENCH_GODEBUG"); v != "" {
		cmd.Env = append(cmd.Env, "GODEBUG="+v)
	}
	for _, kv := range strings.Fields(os.Getenv("BENCH_ENV")) {
		cmd.Env = append(cmd.Env, kv)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if os.Getenv("BENCH_GODEBUG") != "" {
		fmt.Fprintf(os.Stderr, "--- %s\n%s", sc.name, stderr.String())
	}
	if err != nil && cmd.ProcessState.ExitCode() > 1 {
		fmt.Fprintf(os.Stderr, "%s\n", stderr.String())
		check(err)
	}
	var rep struct {
		Groups int      `json:"groups"`
		Errors []string `json:"errors"`
		API    struct {
			Calls, Throttled, Retries int
		} `json:"api"`
	}
	check(json.Unmarshal(stdout.Bytes(), &rep))
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return result{scenario: sc, wall: wall, groupsRead: rep.Groups, errors: len(rep.Errors), calls: rep.API.Calls,
		throttled: rep.API.Throttled, retries: rep.API.Retries, peakRSS: ru.Maxrss * 1024}
}

// groups builds n groups of one topic with the given partitions, a third of
// them behind.
func groups(n, partitions int, now time.Time) []progress.Group {
	out := make([]progress.Group, n)
	for i := range out {
		ts := now.Add(-time.Duration(i%30) * time.Minute).UnixMilli()
		t := progress.Topic{Topic: fmt.Sprintf("topic-%d", i%50), LastTimestamp: ts}
		for p := range partitions {
			lag := int64(0)
			if i%3 == 0 {
				lag = int64(1000 * (p + 1))
			}
			t.Partitions = append(t.Partitions, progress.Partition{Partition: p, BrokerOffset: 1_000_000 + lag, ConsumerOffset: 1_000_000, LastTimestamp: ts})
			t.TotalDiff += lag
		}
		out[i] = progress.Group{Region: "cn-hangzhou", Instance: instance, Group: fmt.Sprintf("bench-%05d", i), TotalDiff: t.TotalDiff, LastTimestamp: ts, Topics: []progress.Topic{t}}
	}
	return out
}

// startupTimes measures from starting `serve` to the port accepting.
func startupTimes(bin string, n int) []time.Duration {
	var out []time.Duration
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		check(err)
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		cmd := exec.Command(bin, "serve")
		cmd.Env = []string{"FC_CUSTOM_LISTEN_PORT=" + strconv.Itoa(port), "BACKLOG_ALERT_RULES=/nonexistent/rules.yaml"}
		start := time.Now()
		check(cmd.Start())
		for {
			c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 50*time.Millisecond)
			if err == nil {
				c.Close()
				break
			}
			if time.Since(start) > 5*time.Second {
				check(fmt.Errorf("serve did not listen within 5s"))
			}
			time.Sleep(200 * time.Microsecond)
		}
		out = append(out, time.Since(start))
		cmd.Process.Kill()
		cmd.Wait()
	}
	return out
}

// evaluationTime times rules.Evaluate alone over a snapshot of n groups.
func evaluationTime(n, partitions int) time.Duration {
	now := time.Now()
	snap := progress.Snapshot{Groups: groups(n, partitions, now)}
	rs := []rules.Rule{{Name: "bench", Instance: instance, Region: "cn-hangzhou", Groups: []string{"bench-*"}, Level: rules.LevelGroup,
		Backlog: &rules.BacklogThresholds{Warning: 5000, Critical: 50000}, Stale: &rules.StaleThresholds{Warning: 10 * time.Minute}}}
	var times []time.Duration
	for range 7 {
		start := time.Now()
		rules.Evaluate(rs, snap, now)
		times = append(times, time.Since(start))
	}
	return median(times)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
}
