package state

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Seams for tests that make a step of Save fail (root ignores permissions).
var (
	renameFile = os.Rename
	syncFile   = (*os.File).Sync
)

// fileStore keeps the document in a local file.
type fileStore struct {
	path      string // absolute
	ephemeral bool
}

func (f *fileStore) String() string  { return "file " + f.path }
func (f *fileStore) Ephemeral() bool { return f.ephemeral }

func (f *fileStore) errorf(format string, args ...any) error {
	return fmt.Errorf("state: %s: "+format, append([]any{f}, args...)...)
}

func (f *fileStore) Load(ctx context.Context) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, f.errorf("load: %w", err)
	}
	fh, err := os.Open(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, f.errorf("%w", ErrNotFound)
	}
	if err != nil {
		return nil, f.errorf("load: %w", unwrapPath(err))
	}
	defer fh.Close()
	if fi, err := fh.Stat(); err == nil && !fi.Mode().IsRegular() {
		return nil, f.errorf("load: not a regular file (%s)", fi.Mode().Type())
	}
	data, err := io.ReadAll(io.LimitReader(fh, MaxDocumentSize+1))
	if err != nil {
		return nil, f.errorf("load: %w", unwrapPath(err))
	}
	if len(data) > MaxDocumentSize {
		return nil, f.errorf("load: larger than %d bytes: not a state document", MaxDocumentSize)
	}
	return data, nil
}

// Save writes a temporary file next to the target, syncs it, renames it over
// the target and syncs the directory, so that after a crash the target holds
// the old or the new document, whole.
func (f *fileStore) Save(ctx context.Context, data []byte) (err error) {
	if err := ctx.Err(); err != nil {
		return f.errorf("save: %w", err)
	}
	if len(data) > MaxDocumentSize {
		return f.errorf("save: document of %d bytes is larger than %d", len(data), MaxDocumentSize)
	}
	target := f.target()
	dir := filepath.Dir(target)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return f.errorf("save: create directory: %w", unwrapPath(err))
	}
	removeStaleTemps(dir, filepath.Base(target), time.Now())
	tmp, err := os.CreateTemp(dir, tempPrefix(filepath.Base(target))+"*")
	if err != nil {
		return f.errorf("save: %w", unwrapPath(err))
	}
	tmpName := tmp.Name()
	defer func() {
		if err != nil {
			_ = tmp.Close() // may already be closed
			_ = os.Remove(tmpName)
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return f.errorf("save: %w", unwrapPath(err))
	}
	if _, err := tmp.Write(data); err != nil {
		return f.errorf("save: write: %w", unwrapPath(err))
	}
	if err := syncFile(tmp); err != nil {
		return f.errorf("save: sync: %w", unwrapPath(err))
	}
	if err := tmp.Close(); err != nil {
		return f.errorf("save: %w", unwrapPath(err))
	}
	if err := renameFile(tmpName, target); err != nil {
		return f.errorf("save: replace: %w", unwrapPath(err))
	}
	if err := syncDir(dir); err != nil {
		// The new document is in place; only its durability across a crash
		// is in doubt.
		return f.errorf("save: sync directory: %w", unwrapPath(err))
	}
	return nil
}

// target is the file to write: the state's path, or what it links to, so a
// symlink is written through rather than replaced.
func (f *fileStore) target() string {
	if fi, err := os.Lstat(f.path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		if resolved, err := filepath.EvalSymlinks(f.path); err == nil {
			return resolved
		}
	}
	return f.path
}

// staleTempAge is how old a temporary file of Save must be before another
// Save removes it as left by a killed process: far longer than a Save takes.
const staleTempAge = time.Minute

// tempPrefix names Save's temporary files: os.CreateTemp puts a random
// decimal number after it.
func tempPrefix(base string) string { return "." + base + ".tmp-" }

// removeStaleTemps removes, best effort, the temporary files a killed Save of
// base left in dir: regular files named like Save's and not modified for
// staleTempAge. Another process's Save in progress is younger than that.
func removeStaleTemps(dir, base string, now time.Time) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	prefix := tempPrefix(base)
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || rest == "" || strings.Trim(rest, "0123456789") != "" || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil || now.Sub(fi.ModTime()) < staleTempAge {
			continue
		}
		_ = os.Remove(filepath.Join(dir, e.Name()))
	}
}

// SetAside renames the file to "<path>.corrupt-<timestamp>", adding "-1",
// "-2"... rather than replacing an earlier one from the same second.
func (f *fileStore) SetAside(ctx context.Context, now time.Time) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", f.errorf("set aside: %w", err)
	}
	if _, err := os.Lstat(f.path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", f.errorf("set aside: %w", ErrNotFound)
		}
		return "", f.errorf("set aside: %w", unwrapPath(err))
	}
	base := f.path + ".corrupt-" + now.UTC().Format(TimestampFormat)
	for i := 0; i < 100; i++ {
		dst := base
		if i > 0 {
			dst = fmt.Sprintf("%s-%d", base, i)
		}
		if _, err := os.Lstat(dst); err == nil {
			continue
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", f.errorf("set aside: %w", unwrapPath(err))
		}
		if err := os.Rename(f.path, dst); err != nil {
			return "", f.errorf("set aside: %w", unwrapPath(err))
		}
		if err := syncDir(filepath.Dir(f.path)); err != nil {
			return dst, f.errorf("set aside to %s: sync directory: %w", dst, unwrapPath(err))
		}
		return dst, nil
	}
	return "", f.errorf("set aside: %s and 99 numbered variants already exist", base)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// unwrapPath drops the *fs.PathError / *os.LinkError wrapper, whose text
// repeats a path (often the temporary file's) that errorf already names.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return fmt.Errorf("%s: %w", le.Op, le.Err)
	}
	return err
}
