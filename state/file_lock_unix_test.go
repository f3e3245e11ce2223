//go:build unix

package state

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// lockHelperEnv makes TestFileLockHelperProcess, run as a child process, take
// the lock of the state file it names and hold it until killed.
const lockHelperEnv = "BACKLOG_ALERT_STATE_LOCK_HELPER"

func TestFileLockHelperProcess(t *testing.T) {
	path := os.Getenv(lockHelperEnv)
	if path == "" {
		t.Skip("helper process for TestFileLockKilledHolder")
	}
	st := openFileStore(t, path)
	if _, err := st.Lock(context.Background(), "helper", 0, time.Now().Add(time.Hour)); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("locked")
	time.Sleep(time.Hour)
	os.Exit(0)
}

func TestFileLockExclusive(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "new", "dir")
	path := filepath.Join(dir, "state.json")
	until := time.Now().Add(time.Hour)
	a, b := openFileStore(t, path), openFileStore(t, path)

	first, err := a.Lock(ctx, "run-a", 0, until)
	if err != nil {
		t.Fatal(err)
	}
	if first.TookOver() != "" {
		t.Errorf("TookOver = %q on a fresh lock file", first.TookOver())
	}
	if err := first.Held(ctx); err != nil {
		t.Errorf("Held = %v", err)
	}
	if m := mode(t, path+".lock"); m != 0o600 {
		t.Errorf("lock file mode %v, want 0600", m)
	}

	tests := []struct {
		name string
		wait time.Duration
	}{
		{"no wait", 0},
		{"short wait", 3 * fileLockPoll / 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := b.Lock(ctx, "run-b", tt.wait, until)
			if !errors.Is(err, ErrLocked) {
				t.Fatalf("second Lock = %v, want ErrLocked", err)
			}
			if time.Since(start) < tt.wait {
				t.Errorf("gave up after %v, before the wait of %v", time.Since(start), tt.wait)
			}
			var le *LockedError
			if !errors.As(err, &le) {
				t.Fatalf("%v is no *LockedError", err)
			}
			if want := fmt.Sprintf("run-a (pid %d)", os.Getpid()); le.Owner != want || le.Since.IsZero() {
				t.Errorf("LockedError %+v, want owner %q and a time", le, want)
			}
			if !strings.Contains(err.Error(), "another run holds the state: run-a (pid ") || !strings.Contains(err.Error(), ", since ") ||
				!strings.Contains(err.Error(), path) {
				t.Errorf("error %q", err)
			}
		})
	}

	if err := first.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := first.Release(ctx); err != nil {
		t.Errorf("second Release = %v", err)
	}
	if err := first.Held(ctx); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("Held after Release = %v, want ErrLeaseLost", err)
	}
	second, err := b.Lock(ctx, "run-b", 0, until)
	if err != nil {
		t.Fatalf("Lock after Release = %v", err)
	}
	defer second.Release(ctx)
	if second.TookOver() != "" {
		t.Errorf("TookOver = %q after a clean release", second.TookOver())
	}
	if got := dirEntries(t, dir); !slices.Equal(got, []string{"state.json.lock"}) {
		t.Errorf("directory holds %v", got)
	}
}

func TestFileLockWaitsForRelease(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.json")
	until := time.Now().Add(time.Hour)
	first, err := openFileStore(t, path).Lock(ctx, "run-a", 0, until)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		lease Lease
		err   error
	}
	done := make(chan result, 1)
	waiter := openFileStore(t, path)
	go func() {
		l, err := waiter.Lock(ctx, "run-b", time.Minute, until)
		done <- result{l, err}
	}()
	time.Sleep(2 * fileLockPoll)
	if err := first.Release(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("waiting Lock = %v", r.err)
	}
	if err := r.lease.Held(ctx); err != nil {
		t.Errorf("Held = %v", err)
	}
	_ = r.lease.Release(ctx)

	// A cancelled context ends the wait.
	held, err := openFileStore(t, path).Lock(ctx, "run-c", 0, until)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release(ctx)
	cctx, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(fileLockPoll); cancel() }()
	if _, err := openFileStore(t, path).Lock(cctx, "run-d", time.Hour, until); !errors.Is(err, context.Canceled) {
		t.Errorf("Lock with a cancelled context = %v", err)
	}
}

func TestFileLockKilledHolder(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.json")
	cmd := exec.Command(os.Args[0], "-test.run=^TestFileLockHelperProcess$")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("helper said %q, %v", line, err)
	}

	st := openFileStore(t, path)
	until := time.Now().Add(time.Hour)
	_, err = st.Lock(ctx, "parent", 0, until)
	var le *LockedError
	if !errors.As(err, &le) || le.Owner != fmt.Sprintf("helper (pid %d)", cmd.Process.Pid) {
		t.Fatalf("Lock while the helper holds it = %v, want a *LockedError naming the helper", err)
	}

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	lease, err := st.Lock(ctx, "parent", time.Minute, until)
	if err != nil {
		t.Fatalf("Lock after the holder was killed = %v", err)
	}
	defer lease.Release(ctx)
	if got := lease.TookOver(); !strings.Contains(got, fmt.Sprintf("helper (pid %d), since ", cmd.Process.Pid)) ||
		!strings.Contains(got, "without releasing") {
		t.Errorf("TookOver = %q", got)
	}
}

func TestFileLockReplacedLockFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.json")
	lease, err := openFileStore(t, path).Lock(ctx, "run-a", 0, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release(ctx)
	if err := os.Remove(path + ".lock"); err != nil {
		t.Fatal(err)
	}
	if err := lease.Held(ctx); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("Held after the lock file was removed = %v, want ErrLeaseLost", err)
	}
	if _, err := openFileStore(t, path).Lock(ctx, "run-b", 0, time.Time{}); err == nil || !strings.Contains(err.Error(), "no deadline") {
		t.Errorf("Lock without a deadline = %v", err)
	}
}

func TestFileSaveRemovesStaleTemps(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old := time.Now().Add(-2 * staleTempAge)
	tests := []struct {
		name string
		old  bool
		kept bool
	}{
		{".state.json.tmp-123456", true, false},
		{".state.json.tmp-999", false, true}, // a Save in progress
		{".state.json.tmp-abc", true, true},  // not a name Save makes
		{".state.json.tmp-", true, true},     // nor this
		{".other.json.tmp-123", true, true},  // another document's
		{"state.json.corrupt-20261121T120000Z", true, true},
		{"state.json.lock", true, true},
	}
	for _, tt := range tests {
		p := filepath.Join(dir, tt.name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if tt.old {
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := openFileStore(t, filepath.Join(dir, "state.json")).Save(ctx, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	got := dirEntries(t, dir)
	for _, tt := range tests {
		if kept := slices.Contains(got, tt.name); kept != tt.kept {
			t.Errorf("%s: kept = %v, want %v", tt.name, kept, tt.kept)
		}
	}
	if !slices.Contains(got, "state.json") {
		t.Error("Save wrote no state.json")
	}
}
