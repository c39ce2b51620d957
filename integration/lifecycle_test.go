package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rawServer runs the binary with plain pipes, to see every byte it writes.
type rawServer struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	stderr *lockedBuffer
}

func startRaw(t *testing.T, dir string, args ...string) *rawServer {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir(), "TASK_ORCHESTRATOR_WORKSPACE=")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r := &rawServer{cmd: cmd, stdin: in, stdout: bufio.NewReader(out), stderr: &lockedBuffer{}}
	cmd.Stderr = r.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return r
}

// roundTrip sends one JSON-RPC request and returns the next line of stdout, which
// must be one JSON-RPC message.
func (r *rawServer) roundTrip(t *testing.T, msg string) map[string]any {
	t.Helper()
	if _, err := io.WriteString(r.stdin, msg+"\n"); err != nil {
		t.Fatal(err)
	}
	line, err := r.stdout.ReadBytes('\n')
	if err != nil {
		t.Fatalf("reading stdout: %v (stderr: %s)", err, r.stderr.String())
	}
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil || m["jsonrpc"] != "2.0" {
		t.Fatalf("stdout carried something that is not a JSON-RPC message: %q", line)
	}
	return m
}

func (r *rawServer) session(t *testing.T, project string) {
	r.roundTrip(t, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`)
	if _, err := io.WriteString(r.stdin, `{"jsonrpc":"2.0","method":"notifications/initialized"}`+"\n"); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		res := r.roundTrip(t, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"task_create","arguments":{"workspace":%q,"title":"t%d"}}}`, 10+i, project, i))
		if res["error"] != nil {
			t.Fatalf("task_create: %v", res["error"])
		}
	}
}

func waitExit(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not exit within 30s")
		return -1
	}
}

// walCheckpointed reports whether the WAL is gone or empty: the pools were closed cleanly.
func walCheckpointed(project string) bool {
	fi, err := os.Stat(tasksDB(project) + "-wal")
	return os.IsNotExist(err) || (err == nil && fi.Size() == 0)
}

// On stdin EOF the server closes every pool, checkpoints the WAL and exits 0;
// stdout carries nothing but JSON-RPC messages.
func TestStdinEOFClosesPoolsAndCheckpoints(t *testing.T) {
	project := newProject(t)
	r := startRaw(t, project)
	r.session(t, project)
	if _, err := os.Stat(tasksDB(project) + "-wal"); err != nil {
		t.Fatalf("no WAL while the server runs: %v", err)
	}
	_ = r.stdin.Close()
	if code := waitExit(t, r.cmd); code != 0 {
		t.Fatalf("exit code %d after EOF; stderr:\n%s", code, r.stderr.String())
	}
	if rest, _ := io.ReadAll(r.stdout); len(bytes.TrimSpace(rest)) > 0 {
		t.Fatalf("stdout carried extra output after the session: %q", rest)
	}
	if !walCheckpointed(project) {
		t.Fatalf("the WAL was not checkpointed on shutdown")
	}
}

// SIGTERM and SIGINT shut down the same way.
func TestSignalsCloseThePoolsGracefully(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			project := newProject(t)
			r := startRaw(t, project)
			r.session(t, project)
			if err := r.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if code := waitExit(t, r.cmd); code != 0 {
				t.Fatalf("exit code %d after %v; stderr:\n%s", code, sig, r.stderr.String())
			}
			if !walCheckpointed(project) {
				t.Fatalf("the WAL was not checkpointed after %v", sig)
			}
			if !strings.Contains(r.stderr.String(), "stopped") {
				t.Fatalf("no shutdown log line on stderr:\n%s", r.stderr.String())
			}
		})
	}
}

// --version, --help and a bad flag never touch a project, and only --version writes to stdout.
func TestFlags(t *testing.T) {
	dir := newProject(t)
	run := func(args ...string) (string, string, int) {
		cmd := exec.Command(binPath, args...)
		cmd.Dir = dir
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), code
	}
	if out, _, code := run("--version"); code != 0 || !strings.HasPrefix(out, "mcp-task-orchestrator ") {
		t.Errorf("--version: %q, exit %d", out, code)
	}
	if out, errs, code := run("--help"); code != 0 || out != "" || !strings.Contains(errs, "allow-root") {
		t.Errorf("--help: stdout %q, exit %d, stderr %q", out, code, errs)
	}
	if out, errs, code := run("--no-such-flag"); code != 2 || out != "" || errs == "" {
		t.Errorf("bad flag: stdout %q, exit %d, stderr %q", out, code, errs)
	}
	badCfg := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(badCfg, []byte(`{"database_pools":{"operational":{"max_connections":0,"pool_timeout":-1}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	// A broken global config starts the server anyway (it answers every call
	// with the problems: TestBrokenGlobalConfigStartsAndAnswersEveryCallWithTheProblems); with stdin
	// closed it stops at once, having logged every problem with its fix.
	if out, errs, code := run("--config", badCfg); code != 0 || out != "" ||
		!strings.Contains(errs, "The global configuration is not valid, so this server runs no tool until it is fixed") ||
		!strings.Contains(errs, "max_connections must be between 1 and 32") || !strings.Contains(errs, "pool_timeout must be between 1 and 3600 seconds") {
		t.Errorf("bad config: stdout %q, exit %d, stderr %q", out, code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, ".task_orchestrator")); !os.IsNotExist(err) {
		t.Errorf("flags touched the project")
	}
}
