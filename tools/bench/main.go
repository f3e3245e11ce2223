// Command bench measures backlog-alert the way it runs in production: it
// builds the stripped binary, serves a fake alikafka endpoint (with per-call
// latency and its own enforced QPS limit) and a chat sink from this process,
// runs the real binary against them, and prints one table. `make bench`.
// One scenario runs the binary 30 times against one state, five minutes
// apart in evaluation time (--now), in a world whose lags change from run to
// run: the memory a state that has filled up costs.
//
// For diagnosis, BENCH_GODEBUG (e.g. gctrace=1) is passed to the binary as
// GODEBUG with its stderr printed, BENCH_ENV adds variables such as
// GOMEMLIMIT=40MiB, BENCH_VERBOSE=1 prints each of the 30 runs, and -only
// runs the scenarios whose name contains its value. It exits 1 when a target
// is missed.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
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
	// runs > 1: that many runs against one state, every apart (--now
	// advancing), in a world whose lags change from run to run; the last
	// run is measured.
	runs  int
	every time.Duration
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
	// Over every run of a scenario with runs > 1.
	maxRSS    int64 // bytes
	maxRun    int   // 1-based
	stateSize int64 // the state document after the last run
	totalWall time.Duration
}

func main() {
	if os.Getenv(spawnEnv) == "1" {
		spawn(os.Args[1:])
		return
	}
	quick := flag.Bool("quick", false, "smaller scenarios, for a smoke test")
	only := flag.String("only", "", "run only the scenarios whose name contains this, and judge only their targets")
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
	const (
		atLimit  = "at the limit"
		slower   = "server slower than configured"
		seqBase  = "sequential baseline"
		mem1     = "10k groups, memory"
		mem2     = "10k groups, second run"
		memRuns  = "10k groups, 30th run 5m apart"
		runsEach = 5 * time.Minute
	)
	scenarios := []scenario{
		{name: atLimit, groups: 2000 / scale, partitions: 12, qps: 200, serverLimit: 200, latency: 40 * time.Millisecond},
		{name: slower, groups: 2000 / scale, partitions: 12, qps: 200, serverLimit: 140, latency: 40 * time.Millisecond},
		{name: seqBase, groups: 200 / scale, partitions: 12, qps: 1000, concurrency: 1, latency: 40 * time.Millisecond},
		{name: mem1, groups: 10000 / scale, partitions: 12, qps: 5000},
		{name: mem2, groups: 10000 / scale, partitions: 12, qps: 5000, secondRun: true},
		{name: memRuns, groups: 10000 / scale, partitions: 12, qps: 10000, runs: 30, every: runsEach},
	}
	var results []result
	measured := map[string]result{}
	for _, sc := range scenarios {
		if !strings.Contains(sc.name, *only) {
			continue
		}
		fmt.Fprintf(os.Stderr, "bench: %s (%d groups)…\n", sc.name, sc.groups)
		r := run(bin, dir, sc)
		results = append(results, r)
		measured[sc.name] = r
	}
	all := *only == ""
	var startup []time.Duration
	var eval time.Duration
	if all {
		startup = startupTimes(bin, 15)
		eval = evaluationTime(10000/scale, 12)
	}

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

	fmt.Println()
	if all {
		at, seq := measured[atLimit], measured[seqBase]
		perGroupSeq := seq.wall.Seconds() / float64(seq.groups)
		fmt.Printf("stripped binary: %.1f MB (%d bytes)\n", float64(info.Size())/1e6, info.Size())
		fmt.Printf("process start to accepting on the FC port: median %v, max %v (%d starts)\n", median(startup).Round(100*time.Microsecond), slices.Max(startup).Round(100*time.Microsecond), len(startup))
		fmt.Printf("evaluation of a %d-group snapshot alone: median %v\n", 10000/scale, eval.Round(100*time.Microsecond))
		fmt.Printf("sequential baseline: %.1f ms a group; %d groups one after another would take %.1fs, %.1f× the paced run\n",
			perGroupSeq*1000, at.groups, perGroupSeq*float64(at.groups), perGroupSeq*float64(at.groups)/at.wall.Seconds())
	}
	if r, ok := measured[memRuns]; ok {
		fmt.Printf("%d runs of %d groups %v apart: peak RSS %.1f MiB on the last run, at most %.1f MiB (run %d); state document %.1f MB after the last run; %.1fs in all\n",
			r.runs, r.groups, r.every, float64(r.peakRSS)/(1<<20), float64(r.maxRSS)/(1<<20), r.maxRun, float64(r.stateSize)/1e6, r.totalWall.Seconds())
	}

	fmt.Println("\ntargets:")
	ok := true
	// target judges a scenario's result, if it ran.
	target := func(name string, met func(r result) bool, format func(r result) string) {
		if r, ran := measured[name]; ran {
			fmt.Printf("  %s  %s\n", pass(&ok, met(r)), format(r))
		}
	}
	mib := func(b int64) float64 { return float64(b) / (1 << 20) }
	target(atLimit, func(r result) bool { return r.wall.Seconds() <= 1.10*float64(r.groups)/r.qps && r.errors == 0 }, func(r result) string {
		lower := float64(r.groups) / r.qps
		return fmt.Sprintf("at the limit: wall %.2fs ≤ 1.10 × %.1fs = %.2fs, %d calls failed", r.wall.Seconds(), lower, 1.10*lower, r.errors)
	})
	target(slower, func(r result) bool {
		return r.groupsRead == r.groups && r.wall.Seconds() <= 1.5*float64(r.groups)/r.serverLimit
	}, func(r result) string {
		return fmt.Sprintf("server at %.0f/s: %d of %d groups evaluated, wall %.2fs ≤ %.2fs", r.serverLimit, r.groupsRead, r.groups, r.wall.Seconds(), 1.5*float64(r.groups)/r.serverLimit)
	})
	target(mem1, func(r result) bool { return r.peakRSS <= 64<<20 }, func(r result) string {
		return fmt.Sprintf("10k groups: peak RSS %.1f MiB ≤ 64 MiB (first run)", mib(r.peakRSS))
	})
	target(mem2, func(r result) bool { return r.peakRSS <= 64<<20 }, func(r result) string {
		return fmt.Sprintf("10k groups: peak RSS %.1f MiB ≤ 64 MiB (second run, with a saved state)", mib(r.peakRSS))
	})
	target(memRuns, func(r result) bool { return r.peakRSS <= 64<<20 && r.maxRSS <= 64<<20 && r.errors == 0 }, func(r result) string {
		return fmt.Sprintf("10k groups, %d runs %v apart: peak RSS %.1f MiB on the last run, at most %.1f MiB, ≤ 64 MiB; %d errors", r.runs, r.every, mib(r.peakRSS), mib(r.maxRSS), r.errors)
	})
	if all {
		fmt.Printf("  %s  evaluation alone %v ≤ 100ms\n", pass(&ok, eval <= 100*time.Millisecond), eval.Round(100*time.Microsecond))
		fmt.Printf("  %s  stripped binary %.1f MB ≤ 25 MB\n", pass(&ok, info.Size() <= 25<<20), float64(info.Size())/1e6)
		fmt.Printf("  %s  start to serving %v ≤ 50ms (median)\n", pass(&ok, median(startup) <= 50*time.Millisecond), median(startup).Round(100*time.Microsecond))
	}
	if !ok {
		os.Exit(1)
	}
}

// pass is "PASS" or "FAIL", clearing ok on a failure.
func pass(ok *bool, passed bool) string {
	if !passed {
		*ok = false
		return "FAIL"
	}
	return "PASS"
}

// run serves the scenario's groups and runs the binary against them once
// (twice for secondRun, measuring the second).
func run(bin, dir string, sc scenario) result {
	api := alikafkatest.NewServer(creds)
	defer api.Close()
	sink := chattest.NewServer()
	defer sink.Close()
	if sc.runs <= 1 {
		for _, g := range groups(sc.groups, sc.partitions, time.Now()) {
			api.SetGroup(g)
		}
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
	if sc.runs > 1 {
		// As rules are written: a hold before paging, reminders,
		// resolutions, and stuck consumers (offsets remembered per group).
		doc += `    stuck: {warning: 15m, critical: 1h}
    for: 5m
    repeat: 1h
    send_resolved: true
`
	}
	check(os.WriteFile(rulesPath, []byte(doc), 0o600))
	statePath := filepath.Join(dir, "state-"+strings.ReplaceAll(sc.name, " ", "-")+".json")
	if sc.runs > 1 {
		return repeated(bin, rulesPath, statePath, api, sc)
	}
	r := once(bin, rulesPath, statePath, api.URL, sc, time.Time{})
	if sc.secondRun {
		r = once(bin, rulesPath, statePath, api.URL, sc, time.Time{})
	}
	return r
}

// repeated runs the binary sc.runs times against one state, sc.every apart
// in evaluation time (--now), the world changing between runs, and returns
// the last run's result with the peak over all of them.
func repeated(bin, rulesPath, statePath string, api *alikafkatest.Server, sc scenario) result {
	// The last run evaluates at about the real time: timestamps stay plausible.
	start := time.Now().Truncate(time.Minute).Add(-time.Duration(sc.runs-1) * sc.every)
	var r result
	var maxRSS int64
	var maxRun int
	var total time.Duration
	for i := range sc.runs {
		now := start.Add(time.Duration(i) * sc.every)
		for _, g := range world(sc.groups, sc.partitions, i, start, now) {
			api.SetGroup(g)
		}
		r = once(bin, rulesPath, statePath, api.URL, sc, now)
		api.ResetRequests() // the fake records every request: 30 runs' worth is a lot
		total += r.wall
		if r.peakRSS > maxRSS {
			maxRSS, maxRun = r.peakRSS, i+1
		}
		if os.Getenv("BENCH_VERBOSE") != "" {
			fi, _ := os.Stat(statePath)
			fmt.Fprintf(os.Stderr, "bench: run %2d: wall %.2fs, peak RSS %.1f MiB, state %.1f MB\n", i+1, r.wall.Seconds(), float64(r.peakRSS)/(1<<20), float64(fi.Size())/1e6)
		}
	}
	fi, err := os.Stat(statePath)
	check(err)
	r.maxRSS, r.maxRun, r.stateSize, r.totalWall = maxRSS, maxRun, fi.Size(), total
	return r
}

// once runs the binary; a non-zero now is passed as --now.
func once(bin, rulesPath, statePath, endpoint string, sc scenario, now time.Time) result {
	args := []string{"run", "--rules", rulesPath, "--state", statePath, "--json", "--timeout", "10m"}
	if !now.IsZero() {
		args = append(args, "--now", now.UTC().Format(time.RFC3339))
	}
	// Started through this program in spawn mode: see spawn.
	self, err := os.Executable()
	check(err)
	cmd := exec.Command(self, append([]string{bin}, args...)...)
	cmd.Env = []string{spawnEnv + "=1",
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
	measures, w, err := os.Pipe()
	check(err)
	cmd.ExtraFiles = []*os.File{w}
	check(cmd.Start())
	w.Close()
	var peakRSS int64
	var wall time.Duration
	_, scanErr := fmt.Fscan(measures, &peakRSS, &wall)
	measures.Close()
	err = cmd.Wait()
	if scanErr != nil {
		fmt.Fprintf(os.Stderr, "%s\n", stderr.String())
		check(fmt.Errorf("no measures from the spawned run: %v (%v)", scanErr, err))
	}
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
	return result{scenario: sc, wall: wall, groupsRead: rep.Groups, errors: len(rep.Errors), calls: rep.API.Calls,
		throttled: rep.API.Throttled, retries: rep.API.Retries, peakRSS: peakRSS}
}

// spawnEnv set to 1 makes this program a spawner: it runs its arguments as
// a command (stdio passed through, its own environment less spawnEnv),
// writes the command's peak RSS in bytes and its wall time in nanoseconds
// to file descriptor 3, and exits with the command's exit code.
//
// The peak RSS the kernel reports for a process counts the memory of the
// process that started it when that one used vfork (as Go's os/exec does):
// the bench itself, with its fake endpoint and everything it recorded, would
// show in every run it measures. A spawner is small.
const spawnEnv = "BENCH_SPAWN"

func spawn(args []string) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, spawnEnv+"=") })
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		fmt.Fprintln(os.Stderr, "bench spawn:", err)
		os.Exit(2)
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	fmt.Fprintf(os.NewFile(3, "measures"), "%d %d\n", ru.Maxrss*1024, int64(wall))
	os.Exit(cmd.ProcessState.ExitCode())
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

// world builds n groups of one topic with the given partitions as they are
// at the run-th of several runs (start is the first run's time, now this
// one's). Every partition's broker offset advances at the group's own
// rate; consumers follow. Most groups keep up: a lag of a few hundred
// messages that changes every run, and fresh timestamps. One in ten goes
// through an episode of backlog eight runs in forty (so about one in fifty
// at a time): the lag builds up past the thresholds, some past critical,
// and drains again, and the age of its newest consumed message is the lag
// over the consume rate. One in a hundred has a consumer that stopped at
// the first run: lag growing, offsets still, timestamps ever older.
func world(n, partitions, run int, start, now time.Time) []progress.Group {
	elapsed := now.Sub(start).Minutes()
	out := make([]progress.Group, n)
	for i := range out {
		rate := int64(100 + (i*37)%900) // per partition per minute
		produced := 1_000_000 + int64(float64(rate)*elapsed)
		var lagTotal int64
		perPartition := make([]int64, partitions)
		switch {
		case i%100 == 1: // stopped at the first run
			for p := range perPartition {
				perPartition[p] = produced - 1_000_000 + int64(p*10)
			}
		case i%10 == 0 && (run+i/10)%40 < 8: // an episode of backlog
			k := int64((run + i/10) % 40) // 0..7: up, then down
			// Per partition at the top: 8 to 18 minutes of production, so
			// that the lag never grows faster than messages are produced
			// (consumer offsets never go backwards).
			peak := rate * int64(8+(i/10)%11)
			level := min(k, 7-k) + 1 // 1..4
			for p := range perPartition {
				perPartition[p] = peak*level/4 + int64(mix(i, p, run)%50)
			}
		default:
			for p := range perPartition {
				perPartition[p] = int64(mix(i, p, run) % 300)
			}
		}
		for _, l := range perPartition {
			lagTotal += l
		}
		age := time.Duration(float64(lagTotal) / float64(rate*int64(partitions)) * float64(time.Minute))
		if i%100 == 1 {
			age = now.Sub(start) + time.Minute
		}
		ts := now.Add(-age).UnixMilli()
		t := progress.Topic{Topic: fmt.Sprintf("topic-%d", i%50), LastTimestamp: ts}
		for p, lag := range perPartition {
			t.Partitions = append(t.Partitions, progress.Partition{Partition: p, BrokerOffset: produced + int64(p*10), ConsumerOffset: produced + int64(p*10) - lag, LastTimestamp: ts})
			t.TotalDiff += lag
		}
		out[i] = progress.Group{Region: "cn-hangzhou", Instance: instance, Group: fmt.Sprintf("bench-%05d", i), TotalDiff: t.TotalDiff, LastTimestamp: ts, Topics: []progress.Topic{t}}
	}
	return out
}

// mix is a deterministic hash of a group, a partition and a run: noise that
// changes every run.
func mix(i, p, run int) uint64 {
	x := uint64(i)*0x9E3779B97F4A7C15 ^ uint64(p)*0xBF58476D1CE4E5B9 ^ uint64(run)*0x94D049BB133111EB
	x ^= x >> 31
	x *= 0xD6E8FEB86659EA6B
	return x ^ x>>29
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
	rs := []rules.Rule{{Name: "bench", Instances: []string{instance}, Region: "cn-hangzhou", Groups: []string{"bench-*"}, Level: rules.LevelGroup,
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
