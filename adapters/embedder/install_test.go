package embedder

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultDirFollowsXDGDataHomeThenHome(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"XDG_DATA_HOME": "/data", "HOME": "/home/u"}, "/data/mcp-task-orchestrator/embedder"},
		{map[string]string{"XDG_DATA_HOME": "relative", "HOME": "/home/u"}, "/home/u/.local/share/mcp-task-orchestrator/embedder"},
		{map[string]string{"HOME": "/home/u"}, "/home/u/.local/share/mcp-task-orchestrator/embedder"},
	} {
		if got := DefaultDir(env(tc.env)); got != tc.want {
			t.Errorf("DefaultDir(%v) = %q, want %q", tc.env, got, tc.want)
		}
	}
}

func TestCommandSaysHowToInstallWhenNothingIsInstalled(t *testing.T) {
	home := t.TempDir()
	_, err := Command("", env(map[string]string{"HOME": home}))
	want := "the local embedder is not installed in " + filepath.Join(home, ".local/share/mcp-task-orchestrator/embedder") +
		": run `mcp-task-orchestrator embedder install` (one step, about 230 MB on disk), or set embeddings.command to the python " +
		"of an embedder installed elsewhere"
	if err == nil || err.Error() != want {
		t.Fatalf("Command with nothing installed = %v\nwant %s", err, want)
	}

	// A folder the install did not finish is not installed either.
	dir := DefaultDir(env(map[string]string{"HOME": home}))
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(Python(dir), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Command("", env(map[string]string{"HOME": home})); err == nil || err.Error() != want {
		t.Fatalf("Command over an unfinished install = %v, want %s", err, want)
	}
	if err := os.WriteFile(filepath.Join(dir, marker), []byte(ModelPackage), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := Command("", env(map[string]string{"HOME": home})); err != nil || got != Python(dir) {
		t.Fatalf("Command over a finished install = %q, %v; want %s", got, err, Python(dir))
	}
}

func TestCommandRefusesARelativeOrMissingPython(t *testing.T) {
	if _, err := Command("venv/bin/python", nil); err == nil || err.Error() !=
		"embeddings.command \"venv/bin/python\" is not an absolute path: set it to the python that `mcp-task-orchestrator embedder install` prints" {
		t.Errorf("relative command: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "emb", "bin", "python")
	want := "embeddings.command " + missing + " is not a python that can be run (no such file): run `mcp-task-orchestrator embedder install --dir " +
		filepath.Dir(filepath.Dir(missing)) + "` and set embeddings.command to the python it prints"
	if _, err := Command(missing, nil); err == nil || err.Error() != want {
		t.Errorf("missing command: %v\nwant %s", err, want)
	}
}

func TestInstallNeverFillsAFolderOfTheUsers(t *testing.T) {
	ctx := context.Background()
	busy := t.TempDir()
	if err := os.WriteFile(filepath.Join(busy, "notes.txt"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(busy, "notes.txt")
	for _, tc := range []struct{ dir, want string }{
		{"relative/dir", `the install folder "relative/dir" is not an absolute path: pass --dir with an absolute path`},
		{busy, "the install folder " + busy + " already holds files and is not a virtualenv: choose an empty or new folder with --dir"},
		{file, "the install folder " + file + " is a file, not a folder: choose another with --dir"},
	} {
		_, err := Install(ctx, InstallOptions{Dir: tc.dir, LookPath: func(string) (string, error) {
			t.Fatal("Install looked for python before refusing the folder")
			return "", nil
		}})
		if err == nil || err.Error() != tc.want {
			t.Errorf("Install into %s = %v\nwant %s", tc.dir, err, tc.want)
		}
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "mine" {
		t.Errorf("the user's file after the refusals: %q, %v", b, err)
	}
}

func TestInstallSaysHowToGetAPython(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "embedder")
	notFound := func(string) (string, error) {
		return "", errors.New(`exec: "python3": executable file not found in $PATH`)
	}
	_, err := Install(ctx, InstallOptions{Dir: dir, LookPath: notFound})
	want := "python3 was not found on PATH: install Python 3.10 or newer (Debian and Ubuntu: apt install python3 python3-venv), " +
		"or pass one with --python"
	if err == nil || err.Error() != want {
		t.Errorf("no python3: %v\nwant %s", err, want)
	}
	bad := filepath.Join(t.TempDir(), "python9")
	_, err = Install(ctx, InstallOptions{Dir: dir, Python: bad})
	if err == nil || !strings.HasPrefix(err.Error(), "--python "+bad+" cannot be run (") ||
		!strings.HasSuffix(err.Error(), "): pass the path of a Python 3.10 or newer") {
		t.Errorf("--python %s: %v", bad, err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed install left %s behind: %v", dir, err)
	}
}

func TestPipFailuresSayWhatToDo(t *testing.T) {
	offline := "WARNING: Retrying ... NewConnectionError('<pip._vendor.urllib3.connection.HTTPSConnection object>: " +
		"Failed to establish a new connection: [Errno 101] Network is unreachable')\nERROR: Could not find a version that satisfies the requirement numpy==2.2.6"
	want := "pip could not reach PyPI (Failed to establish a new connection): connect this machine to the internet, or set pip's " +
		"index-url to a mirror that has these packages, then run this again; at run time the embedder needs no network"
	if err := pipFailure(offline, errors.New("exit status 1")); err.Error() != want {
		t.Errorf("offline pip: %v\nwant %s", err, want)
	}
	noWheel := "ERROR: Could not find a version that satisfies the requirement numpy==2.2.6\nERROR: No matching distribution found for numpy==2.2.6\n"
	want = "pip found no build of the pinned packages for this Python or machine (ERROR: No matching distribution found for numpy==2.2.6): " +
		"use Python 3.10 to 3.13 on x86-64 or arm64 (pass it with --python), then run this again"
	if err := pipFailure(noWheel, errors.New("exit status 1")); err.Error() != want {
		t.Errorf("no wheel: %v\nwant %s", err, want)
	}
}

// integration/embedder.sh installs the same packages for the tests as
// Install does for users: the tests must run what users run.
func TestTheTestScriptPinsWhatInstallPins(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "integration", "embedder.sh"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	model := regexp.MustCompile(`(?m)^MODEL_PKG="([^"]+)"`).FindStringSubmatch(s)
	pins := regexp.MustCompile(`(?m)^PINS=\(([^)]*)\)`).FindStringSubmatch(s)
	if model == nil || pins == nil {
		t.Fatalf("integration/embedder.sh has no MODEL_PKG=\"...\" or PINS=(...) line")
	}
	if model[1] != ModelPackage || !slices.Equal(strings.Fields(pins[1]), Runtime) {
		t.Errorf("integration/embedder.sh installs %s %v, Install installs %s %v", model[1], strings.Fields(pins[1]), ModelPackage, Runtime)
	}
	if !strings.Contains(s, "adapters/embedder/server.py") {
		t.Errorf("integration/embedder.sh does not run adapters/embedder/server.py, the script users get")
	}
}
