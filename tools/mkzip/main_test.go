package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteAndList(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	txt := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(bin, []byte("\x7fELF fake"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(txt, []byte("version: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out1 := filepath.Join(dir, "out", "a.zip")
	out2 := filepath.Join(dir, "b.zip")
	// Argument order must not matter: entries are sorted.
	if err := run([]string{"-o", out1, "rules.yaml=" + txt, "bootstrap=" + bin}, nil); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-o", out2, "bootstrap=" + bin, "rules.yaml=" + txt}, nil); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(out1)
	b, _ := os.ReadFile(out2)
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Fatalf("zips differ or are empty (%d, %d bytes)", len(a), len(b))
	}

	var buf bytes.Buffer
	if err := run([]string{"-l", out1}, &buf); err != nil {
		t.Fatal(err)
	}
	want := "0755 9 bootstrap\n0644 11 rules.yaml\n"
	if buf.String() != want {
		t.Fatalf("list:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestBadArguments(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	os.WriteFile(f, nil, 0o644)
	out := filepath.Join(dir, "x.zip")
	for _, args := range [][]string{
		{},
		{"-o", out},
		{"-o", out, "noequals"},
		{"-o", out, "=" + f},
		{"-o", out, "../x=" + f},
		{"-o", out, "/abs=" + f},
		{"-o", out, "a=" + f, "a=" + f},
		{"-o", out, "d=" + dir},
		{"-o", out, "m=" + filepath.Join(dir, "missing")},
		{"-l", out, "extra"},
	} {
		if err := run(args, nil); err == nil {
			t.Errorf("%q: no error", strings.Join(args, " "))
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed run left %s behind", out)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".mkzip-*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
