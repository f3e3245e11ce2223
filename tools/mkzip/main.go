// Command mkzip writes the deployment zips for Function Compute and AWS
// Lambda without depending on the zip command, which a fresh machine may lack.
//
//	mkzip -o out.zip name=path [name=path ...]   write out.zip
//	mkzip -l file.zip                            list entries: mode, size, name
//
// The archive is deterministic: entries sorted by name, one fixed modification
// time. A file with any executable bit set is stored with mode 0755, any other
// with 0644, so the platforms can start the binary (the modes travel in the
// Unix external attributes, which both FC and Lambda honour).
package main

import (
	"archive/zip"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// modTime is stamped on every entry so that the same inputs give the same zip.
var modTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// entry is one file to store: name inside the zip, path on disk.
type entry struct{ name, src string }

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mkzip:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("mkzip", flag.ContinueOnError)
	out := fs.String("o", "", "write this zip from name=path arguments")
	list := fs.String("l", "", "list this zip's entries")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *list != "" && *out == "" && fs.NArg() == 0:
		return listZip(*list, stdout)
	case *out != "" && *list == "" && fs.NArg() > 0:
		entries, err := parseEntries(fs.Args())
		if err != nil {
			return err
		}
		return writeZip(*out, entries)
	default:
		return errors.New("usage: mkzip -o out.zip name=path [name=path ...] | mkzip -l file.zip")
	}
}

func parseEntries(args []string) ([]entry, error) {
	seen := map[string]bool{}
	var entries []entry
	for _, a := range args {
		name, src, ok := strings.Cut(a, "=")
		if !ok || src == "" {
			return nil, fmt.Errorf("%q: want name=path", a)
		}
		if name == "" || path.IsAbs(name) || strings.Contains(name, `\`) ||
			path.Clean(name) != name || name == ".." || strings.HasPrefix(name, "../") {
			return nil, fmt.Errorf("%q: entry name must be a clean relative path", name)
		}
		if seen[name] {
			return nil, fmt.Errorf("%q: duplicate entry name", name)
		}
		seen[name] = true
		entries = append(entries, entry{name, src})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	return entries, nil
}

// writeZip writes to a temporary file and renames it, so a failed run never
// leaves a half-written zip where a deploy tool would pick it up.
func writeZip(out string, entries []entry) (err error) {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".mkzip-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	zw := zip.NewWriter(tmp)
	for _, e := range entries {
		if err := addFile(zw, e); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}

func addFile(zw *zip.Writer, e entry) error {
	f, err := os.Open(e.src)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", e.src)
	}
	h := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: modTime}
	mode := os.FileMode(0o644)
	if fi.Mode().Perm()&0o111 != 0 {
		mode = 0o755
	}
	h.SetMode(mode) // also marks the entry as made on Unix, so modes are read back
	w, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	_, err = io.Copy(w, f)
	return err
}

func listZip(name string, stdout io.Writer) error {
	zr, err := zip.OpenReader(name)
	if err != nil {
		return err
	}
	defer zr.Close()
	for _, f := range zr.File {
		fmt.Fprintf(stdout, "%04o %d %s\n", f.Mode().Perm(), f.UncompressedSize64, f.Name)
	}
	return nil
}
