//go:build unix

package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// fileLockPoll is how often Lock retries a file lock held by another process.
var fileLockPoll = 100 * time.Millisecond

// fileLockInfo is what a holder writes into the lock file once it holds the
// lock, so that a waiter can say who holds it. Release empties the file: a
// non-empty lock file found by the next holder was left by a killed run.
type fileLockInfo struct {
	Owner string    `json:"owner"`
	Since time.Time `json:"since"`
	PID   int       `json:"pid"`
}

func (i fileLockInfo) describe() string {
	owner := i.Owner
	if owner == "" {
		owner = "an unknown owner"
	}
	if i.PID != 0 {
		owner = fmt.Sprintf("%s (pid %d)", owner, i.PID)
	}
	return owner
}

// Lock takes an advisory lock (flock) on "<path>.lock", held through an open
// file descriptor: the kernel frees it when the holder's process dies, however
// it dies. The lock file is never removed, so every run locks the same inode.
func (f *fileStore) Lock(ctx context.Context, owner string, wait time.Duration, until time.Time) (Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, f.errorf("lock: %w", err)
	}
	if until.IsZero() {
		return nil, f.errorf("lock: no deadline for the run")
	}
	lockPath := f.target() + ".lock"
	if err := os.MkdirAll(filepath.Dir(lockPath), 0o700); err != nil {
		return nil, f.errorf("lock: create directory: %w", unwrapPath(err))
	}
	deadline := time.Now().Add(wait)
	for {
		fh, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, f.errorf("lock: %w", unwrapPath(err))
		}
		err = flock(fh, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			lease, retry, err := f.locked(fh, lockPath, owner)
			if retry {
				continue
			}
			return lease, err
		}
		prev := readLockInfo(fh)
		_ = fh.Close()
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EAGAIN) {
			return nil, f.errorf("lock %s: %w", lockPath, err)
		}
		if !time.Now().Before(deadline) {
			return nil, f.errorf("lock: %w", &LockedError{Owner: prev.describe(), Since: prev.Since})
		}
		if err := sleepCtx(ctx, min(fileLockPoll, time.Until(deadline))); err != nil {
			return nil, f.errorf("lock: %w", err)
		}
	}
}

// locked finishes taking a lock just obtained on fh: it checks that fh is
// still the file at lockPath (retry is true if it was replaced meanwhile),
// notes a holder that did not release it, and records this one.
func (f *fileStore) locked(fh *os.File, lockPath, owner string) (_ Lease, retry bool, _ error) {
	fail := func(err error) (Lease, bool, error) {
		_ = fh.Close()
		return nil, false, f.errorf("lock: %w", unwrapPath(err))
	}
	if same, err := sameFile(fh, lockPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fail(err)
	} else if !same {
		_ = fh.Close()
		return nil, true, nil
	}
	l := &fileLease{store: f, fh: fh, path: lockPath}
	if prev := readLockInfo(fh); prev.Owner != "" || prev.PID != 0 || !prev.Since.IsZero() {
		l.tookOver = prev.describe()
		if !prev.Since.IsZero() {
			l.tookOver += ", since " + prev.Since.UTC().Format(time.RFC3339)
		}
		l.tookOver += ", which ended without releasing it"
	}
	info, err := json.Marshal(fileLockInfo{Owner: lockOwner(owner), Since: time.Now().UTC().Truncate(time.Second), PID: os.Getpid()})
	if err != nil {
		return fail(err)
	}
	if err := fh.Truncate(0); err != nil {
		return fail(err)
	}
	if _, err := fh.WriteAt(append(info, '\n'), 0); err != nil {
		return fail(err)
	}
	return l, false, nil
}

// readLockInfo reads what a holder wrote; the zero value if nothing or not
// JSON (a holder between locking and writing).
func readLockInfo(fh *os.File) fileLockInfo {
	var info fileLockInfo
	data, err := io.ReadAll(io.NewSectionReader(fh, 0, 4096))
	if err == nil {
		_ = json.Unmarshal(data, &info)
	}
	return info
}

func sameFile(fh *os.File, path string) (bool, error) {
	a, err := fh.Stat()
	if err != nil {
		return false, err
	}
	b, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	return os.SameFile(a, b), nil
}

func flock(fh *os.File, how int) error {
	raw, err := fh.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := raw.Control(func(fd uintptr) {
		for {
			ferr = syscall.Flock(int(fd), how)
			if !errors.Is(ferr, syscall.EINTR) {
				return
			}
		}
	}); err != nil {
		return err
	}
	return ferr
}

// fileLease is a held flock on the lock file.
type fileLease struct {
	store    *fileStore
	path     string
	tookOver string

	mu sync.Mutex
	fh *os.File // nil once released
}

func (l *fileLease) TookOver() string { return l.tookOver }

// Held checks that the lease was not released and that its lock file is still
// the one at the lock path (not removed or replaced by hand).
func (l *fileLease) Held(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fh == nil {
		return l.store.errorf("lock: %w: released", ErrLeaseLost)
	}
	if same, err := sameFile(l.fh, l.path); err != nil || !same {
		return l.store.errorf("lock: %w: the lock file %s was removed or replaced", ErrLeaseLost, l.path)
	}
	return ctx.Err()
}

// Release empties the lock file (so the next holder sees a clean release),
// unlocks and closes it.
func (l *fileLease) Release(context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fh == nil {
		return nil
	}
	fh := l.fh
	l.fh = nil
	terr := fh.Truncate(0)
	uerr := flock(fh, syscall.LOCK_UN)
	cerr := fh.Close() // frees the lock in any case
	if err := errors.Join(terr, uerr, cerr); err != nil {
		return l.store.errorf("release lock: %w", unwrapPath(err))
	}
	return nil
}
