package state

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func openFileStore(t *testing.T, path string) Store {
	t.Helper()
	st, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// dirEntries lists a directory's names.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestFileRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "a", "b", "state.json")
	st := openFileStore(t, path)

	if _, err := st.Load(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load before any Save: %v, want ErrNotFound", err)
	} else if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name %s", err, path)
	}

	for _, doc := range [][]byte{[]byte(`{"version":1}`), []byte(`{"version":1,"alerts":["x"]}`), {}, []byte("short")} {
		if err := st.Save(ctx, doc); err != nil {
			t.Fatalf("Save: %v", err)
		}
		got, err := st.Load(ctx)
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if !bytes.Equal(got, doc) {
			t.Fatalf("Load = %q, want %q", got, doc)
		}
		// A fresh store (a new process) reads the same bytes.
		again, err := openFileStore(t, path).Load(ctx)
		if err != nil || !bytes.Equal(again, doc) {
			t.Fatalf("Load from a new store = %q, %v", again, err)
		}
	}

	for _, d := range []string{filepath.Join(dir, "a"), filepath.Join(dir, "a", "b")} {
		if m := mode(t, d); m != 0o700 {
			t.Errorf("directory %s has mode %v, want 0700", d, m)
		}
	}
	if m := mode(t, path); m != 0o600 {
		t.Errorf("file has mode %v, want 0600", m)
	}
	if names := dirEntries(t, filepath.Dir(path)); !slices.Equal(names, []string{"state.json"}) {
		t.Errorf("directory holds %v, want only state.json", names)
	}
}

func TestFileSaveTightensMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := openFileStore(t, path).Save(context.Background(), []byte("new")); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, path); m != 0o600 {
		t.Errorf("mode after Save = %v, want 0600", m)
	}
}

// TestFileSaveFailureKeepsOld makes each step of Save fail and checks that the
// old document survives whole and no temporary file is left behind.
func TestFileSaveFailureKeepsOld(t *testing.T) {
	boom := errors.New("injected failure")
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string)
		wantErr error
	}{
		{name: "sync fails", setup: func(t *testing.T, _ string) {
			syncFile = func(*os.File) error { return boom }
			t.Cleanup(func() { syncFile = (*os.File).Sync })
		}, wantErr: boom},
		{name: "rename fails", setup: func(t *testing.T, _ string) {
			renameFile = func(string, string) error { return boom }
			t.Cleanup(func() { renameFile = os.Rename })
		}, wantErr: boom},
		{name: "read-only directory", setup: func(t *testing.T, dir string) {
			if os.Geteuid() == 0 {
				t.Skip("root ignores directory permissions")
			}
			if err := os.Chmod(dir, 0o500); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
		}, wantErr: fs.ErrPermission},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			dir := filepath.Join(t.TempDir(), "state")
			path := filepath.Join(dir, "state.json")
			st := openFileStore(t, path)
			old := []byte(`{"version":1,"old":true}`)
			if err := st.Save(ctx, old); err != nil {
				t.Fatal(err)
			}
			tt.setup(t, dir)

			err := st.Save(ctx, bytes.Repeat([]byte("n"), 1<<16))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Save = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
			got, lerr := st.Load(ctx)
			if lerr != nil || !bytes.Equal(got, old) {
				t.Fatalf("after a failed Save, Load = %q, %v; want the old document", got, lerr)
			}
			if names := dirEntries(t, dir); !slices.Equal(names, []string{"state.json"}) {
				t.Errorf("directory holds %v after a failed Save, want only state.json", names)
			}
		})
	}
}

func TestFileSaveOverDirectory(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	st := openFileStore(t, path)
	if err := st.Save(context.Background(), []byte("x")); err == nil {
		t.Fatal("Save over a directory succeeded")
	}
	if names := dirEntries(t, dir); !slices.Equal(names, []string{"state.json"}) {
		t.Errorf("directory holds %v, want no temporary file", names)
	}
	if _, err := st.Load(context.Background()); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Load of a directory = %v, want an error other than ErrNotFound", err)
	}
}

// TestFileSaveAtomicForReaders has readers load while a writer alternates two
// documents of different sizes: every read is one of them, whole.
func TestFileSaveAtomicForReaders(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.json")
	st := openFileStore(t, path)
	docA := bytes.Repeat([]byte("a"), 256<<10)
	docB := bytes.Repeat([]byte("b"), 384<<10)
	if err := st.Save(ctx, docA); err != nil {
		t.Fatal(err)
	}

	done := make(chan struct{})
	var wg sync.WaitGroup
	var reads, bad int
	var mu sync.Mutex
	for range 3 {
		wg.Go(func() {
			reader := openFileStore(t, path)
			for {
				select {
				case <-done:
					return
				default:
				}
				got, err := reader.Load(ctx)
				mu.Lock()
				reads++
				if err != nil || !(bytes.Equal(got, docA) || bytes.Equal(got, docB)) {
					bad++
				}
				mu.Unlock()
			}
		})
	}
	for i := range 40 {
		doc := docA
		if i%2 == 0 {
			doc = docB
		}
		if err := st.Save(ctx, doc); err != nil {
			t.Error(err)
			break
		}
	}
	close(done)
	wg.Wait()
	if bad > 0 {
		t.Errorf("%d of %d reads saw a partial or missing document", bad, reads)
	}
	if reads == 0 {
		t.Error("no reads happened")
	}
}

func TestFileSetAside(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	st := openFileStore(t, path)
	// 20:00 in UTC+8 is 12:00 UTC.
	now := time.Date(2026, 11, 21, 20, 0, 0, 0, time.FixedZone("CST", 8*3600))

	if where, err := st.SetAside(ctx, now); !errors.Is(err, ErrNotFound) || where != "" {
		t.Fatalf("SetAside with no file = %q, %v; want ErrNotFound", where, err)
	}

	corrupt := []byte(`{"version":1,"alerts":[`)
	if err := st.Save(ctx, corrupt); err != nil {
		t.Fatal(err)
	}
	where, err := st.SetAside(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := path + ".corrupt-20261121T120000Z"; where != want {
		t.Errorf("SetAside = %q, want %q", where, want)
	}
	if got, err := os.ReadFile(where); err != nil || !bytes.Equal(got, corrupt) {
		t.Errorf("set-aside file = %q, %v; want the corrupt bytes", got, err)
	}
	if _, err := st.Load(ctx); !errors.Is(err, ErrNotFound) {
		t.Errorf("Load after SetAside = %v, want ErrNotFound", err)
	}

	// A second one in the same second does not replace the first.
	second := []byte("second corrupt")
	if err := st.Save(ctx, second); err != nil {
		t.Fatal(err)
	}
	where2, err := st.SetAside(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := path + ".corrupt-20261121T120000Z-1"; where2 != want {
		t.Errorf("second SetAside = %q, want %q", where2, want)
	}
	if got, _ := os.ReadFile(where); !bytes.Equal(got, corrupt) {
		t.Errorf("first set-aside file was overwritten: %q", got)
	}
	if got, _ := os.ReadFile(where2); !bytes.Equal(got, second) {
		t.Errorf("second set-aside file = %q", got)
	}

	// The next Save starts fresh.
	if err := st.Save(ctx, []byte("fresh")); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Load(ctx); err != nil || string(got) != "fresh" {
		t.Errorf("Load = %q, %v", got, err)
	}
}

func TestFileSymlinkKept(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	real := filepath.Join(dir, "real", "state.json")
	if err := os.MkdirAll(filepath.Dir(real), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(real, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "state.json")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if err := openFileStore(t, link).Save(ctx, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("the symlink was replaced: %v %v", fi.Mode(), err)
	}
	if got, _ := os.ReadFile(real); string(got) != "new" {
		t.Errorf("link target = %q, want new", got)
	}
}

func TestFileLimitsAndContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	st := openFileStore(t, path)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := st.Save(ctx, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Save with a canceled context = %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Save with a canceled context wrote the file")
	}
	if _, err := st.Load(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Load with a canceled context = %v", err)
	}

	if err := st.Save(context.Background(), make([]byte, MaxDocumentSize+1)); err == nil {
		t.Error("Save of an oversized document succeeded")
	}
	if err := os.WriteFile(path, make([]byte, MaxDocumentSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Load(context.Background()); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Load of an oversized file = %v, want an error", err)
	}
}
