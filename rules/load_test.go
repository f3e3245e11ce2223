//go:build unix

package rules

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// loadBoth runs Load and LoadMeta on file, each in a goroutine so that a
// regression that blocks fails the test instead of hanging it. The timeout
// is only a safety net: neither call is expected to take any time.
func loadBoth(t *testing.T, file string) (loadErr, metaErr error) {
	t.Helper()
	type result struct{ err error }
	run := func(f func(string) (*File, error)) error {
		done := make(chan result, 1)
		go func() {
			_, err := f(file)
			done <- result{err}
		}()
		select {
		case r := <-done:
			return r.err
		case <-time.After(time.Minute):
			t.Fatalf("loading %s did not return", file)
			return nil
		}
	}
	return run(Load), run(LoadMeta)
}

func wantRefused(t *testing.T, file, what string) {
	t.Helper()
	loadErr, metaErr := loadBoth(t, file)
	for name, err := range map[string]error{"Load": loadErr, "LoadMeta": metaErr} {
		if err == nil || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), what) {
			t.Errorf("%s(%s) = %v; want an error naming the file and %q", name, file, err, what)
		}
	}
}

func TestLoadRefusesNamedPipe(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "rules.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	wantRefused(t, fifo, "is a named pipe, not a rules file")
}

func TestLoadRefusesSymlinkToNamedPipe(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	link := filepath.Join(dir, "rules.yaml")
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, link, "is a named pipe, not a rules file")
}

// readFile's second check, on the open file, is what stands when the path
// changes between the first check and opening: with O_NONBLOCK opening a
// FIFO returns at once, and the open file is refused.
func TestReadFileOpensNamedPipeWithoutBlocking(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err == nil {
			f.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("open: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("opening a FIFO with O_NONBLOCK blocked")
	}
}

func TestLoadRefusesDevZero(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	wantRefused(t, "/dev/zero", "is a character device, not a rules file")
}

func TestLoadRefusesDirectory(t *testing.T) {
	wantRefused(t, t.TempDir(), "is a directory, not a rules file")
}

func TestLoadRefusesHugeSparseFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rules.yaml")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	wantRefused(t, file, "the limit is")
}

func TestLoadRefusesFileJustOverTheLimit(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(file, []byte(strings.Repeat("#\n", MaxFileSize/2+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, file, "the limit is")
}

func TestLoadReadsRegularFileAndSymlinkToOne(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(file, []byte(validHead+"  - name: r\n    instance: i\n    groups: [g]\n    backlog: {warning: 10}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.yaml")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T0/B0/sekrit-slack-path")
	for _, p := range []string{file, link} {
		loadErr, metaErr := loadBoth(t, p)
		if loadErr != nil || metaErr != nil {
			t.Errorf("%s: Load: %v; LoadMeta: %v", p, loadErr, metaErr)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	wantRefused(t, filepath.Join(t.TempDir(), "nope.yaml"), "cannot read rules file")
}
