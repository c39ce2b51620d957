package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runEmbedder(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	home := t.TempDir()
	code = Embedder(args, Env{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string {
		if k == "HOME" {
			return home
		}
		return ""
	}})
	return code, out.String(), errOut.String()
}

func TestEmbedderCommandRefusesWhatItCannotDo(t *testing.T) {
	file := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(file, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		last string // the last line of stderr
	}{
		{nil, ExitUsage, "Nothing is downloaded when it runs. Progress goes to stderr; the config lines to add go to stdout."},
		{[]string{"start"}, ExitUsage, `mcp-task-orchestrator embedder: unknown command "start": the only one is install ` +
			"(mcp-task-orchestrator embedder install --help)"},
		{[]string{"install", "extra"}, ExitUsage, `mcp-task-orchestrator embedder install: unexpected argument "extra" (see --help)`},
		{[]string{"install", "--dir", file}, ExitProblem, "mcp-task-orchestrator embedder install: the install folder " + file +
			" is a file, not a folder: choose another with --dir"},
	} {
		code, stdout, stderr := runEmbedder(t, tc.args...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code != tc.code || stdout != "" || lines[len(lines)-1] != tc.last {
			t.Errorf("embedder %v: exit %d, stdout %q, stderr ends %q\nwant exit %d, no stdout, stderr ending %q",
				tc.args, code, stdout, lines[len(lines)-1], tc.code, tc.last)
		}
	}
	if code, _, stderr := runEmbedder(t, "install", "--help"); code != ExitOK ||
		!strings.Contains(stderr, "-dir string") || !strings.Contains(stderr, ".local/share/mcp-task-orchestrator/embedder") {
		t.Errorf("embedder install --help: exit %d, %s", code, stderr)
	}
}
