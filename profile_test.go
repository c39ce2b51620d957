package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A --profile folder that cannot be made is refused before serving, with a
// sentence that names the flag, the folder, why, and what to give instead.
func TestProfileFolderThatCannotBeWrittenIsRefused(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	file := filepath.Join(t.TempDir(), "a-file")
	var out, errOut bytes.Buffer
	if err := writeFile(file); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(file, "profiles")
	code := run([]string{"--profile", dir}, strings.NewReader(""), &out, &errOut)
	want := `--profile "` + dir + `" cannot hold the profiles (not a directory); give a folder you can write to, e.g. --profile /tmp/mcp-profile`
	if code != 2 || !strings.Contains(errOut.String(), want) || out.Len() != 0 {
		t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, out.String(), errOut.String(), want)
	}
}

// Profiles of a run are written where --profile says.
func TestProfileWritesTheRunsProfiles(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	dir := filepath.Join(t.TempDir(), "prof")
	var out, errOut bytes.Buffer
	if code := run([]string{"--profile", dir}, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, f := range []string{"cpu.pprof", "allocs.pprof"} {
		if fi, err := statFile(filepath.Join(dir, f)); err != nil || fi == 0 {
			t.Errorf("%s: size %d, %v", f, fi, err)
		}
	}
}

func writeFile(p string) error { return os.WriteFile(p, []byte("x"), 0o600) }

func statFile(p string) (int64, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
