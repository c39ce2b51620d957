package embedder

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/managed"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

const (
	// DefaultStartTimeout bounds the start of the embedder: loading the model
	// takes about a second on a warm disk; a cold one, or a busy machine, more.
	DefaultStartTimeout = 60 * time.Second
	stopTimeout         = 10 * time.Second
)

// InstallHint is the one step that installs the embedder, for messages.
const InstallHint = "mcp-task-orchestrator embedder install"

// Command finds the python that runs the embedder: configured
// (embeddings.command: the global config only, an absolute path) or, when
// that is empty, the default install folder's (DefaultDir). It checks that the
// file exists, without running it; the error is one sentence with the fix.
func Command(configured string, getenv func(string) string) (string, error) {
	if c := strings.TrimSpace(configured); c != "" {
		if !filepath.IsAbs(c) {
			return "", fmt.Errorf("embeddings.command %q is not an absolute path: set it to the python that `%s` prints", c, InstallHint)
		}
		if fi, err := os.Stat(c); err != nil || fi.IsDir() {
			return "", fmt.Errorf("embeddings.command %s is not a python that can be run (%s): run `%s --dir %s` and set "+
				"embeddings.command to the python it prints", c, statReason(fi, err), InstallHint, filepath.Dir(filepath.Dir(c)))
		}
		return c, nil
	}
	dir := DefaultDir(getenv)
	if dir == "" || !Installed(dir) {
		where := dir
		if where == "" {
			where = "the default folder (HOME is not set)"
		}
		return "", fmt.Errorf("the local embedder is not installed in %s: run `%s` (one step, about 230 MB on disk), "+
			"or set embeddings.command to the python of an embedder installed elsewhere", where, InstallHint)
	}
	return Python(dir), nil
}

func statReason(fi fs.FileInfo, err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no such file"
	case err != nil:
		return err.Error()
	case fi.IsDir():
		return "it is a folder"
	}
	return "unusable"
}

// Dir is the install folder of an embedder's python (DIR/bin/python).
func Dir(python string) string { return filepath.Dir(filepath.Dir(python)) }

// ensureScript makes DIR/server.py this binary's: written when missing,
// replaced when an older binary installed another version.
func ensureScript(python string) (string, error) {
	dir := Dir(python)
	path := filepath.Join(dir, ScriptName)
	if b, err := os.ReadFile(path); err == nil && bytes.Equal(b, Script) {
		return path, nil
	}
	if err := writeScript(dir); err != nil {
		return "", err
	}
	return path, nil
}

// Options say how to run the embedder for one project.
type Options struct {
	// Python is the absolute path of the embedder's python (Command).
	Python string
	// Layout is the project's .task_orchestrator: the lock, discovery file
	// and log of its embedder live there.
	Layout workspace.Layout
	// StartTimeout bounds the start (0 = DefaultStartTimeout).
	StartTimeout time.Duration
	Logger       *slog.Logger
}

// Server is the project's embedder as this process sees it: started here,
// or another server process's (see managed.Server).
type Server struct{ m *managed.Server }

// Start starts the project's embedder (bound to 127.0.0.1 on a free port,
// supervised, restarted if it dies, never outliving this process), or
// attaches to the one another server process of the project runs, and
// returns once it answers GET /health.
func Start(ctx context.Context, o Options) (*Server, error) {
	script, err := ensureScript(o.Python)
	if err != nil {
		return nil, err
	}
	l := o.Layout
	dataDir := DataDir(l)
	if err := workspace.PrepareServerDirs(l, dataDir, "embedder"); err != nil {
		return nil, errors.New(workspace.UnsafeFileMessage(err))
	}
	timeout := o.StartTimeout
	if timeout <= 0 {
		timeout = DefaultStartTimeout
	}
	m, err := managed.Start(ctx, managed.Spec{
		Name:    "embedder",
		Command: o.Python,
		Args: func(port int) []string {
			return []string{script, "--host", "127.0.0.1", "--port", strconv.Itoa(port), "--data-dir", dataDir}
		},
		// One forward pass at a time already uses both cores of a small machine
		// through numpy; nothing may reach for a model hub.
		Env:     []string{"PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1", "HF_HUB_OFFLINE=1"},
		Dir:     dataDir,
		LogFile: LogFile(l),
		OpenFile: func(path string, flag int, perm fs.FileMode) (*os.File, error) {
			return workspace.OpenProjectFile(l, path, flag, perm)
		},
		Health:       managed.HTTPOK("/health"),
		StartTimeout: timeout,
		StopTimeout:  stopTimeout,
		Logger:       o.Logger,
		Project:      l.Root,
		Share: &managed.Sharing{
			LockFile:      filepath.Join(l.Databases, "embedder.lock"),
			DiscoveryFile: DiscoveryFile(l),
			DataDir:       dataDir,
			Replace: func(path string, data []byte, perm fs.FileMode) error {
				return workspace.ReplaceProjectFile(l, path, data, perm)
			},
			Remove: func(path string) error { return workspace.RemoveProjectFile(l, path) },
		},
	})
	if err == nil && m == nil {
		err = errors.New("managed.Start returned no server")
	}
	if err != nil {
		return nil, err
	}
	return &Server{m: m}, nil
}

// DataDir is the folder that names a project's embedder on its command line
// (nothing is stored there).
func DataDir(l workspace.Layout) string { return filepath.Join(l.Databases, "embedder") }

// DiscoveryFile is where the owner of a project's embedder announces it.
func DiscoveryFile(l workspace.Layout) string {
	return filepath.Join(l.Databases, "embedder.server.json")
}

// LogFile receives the embedder's output.
func LogFile(l workspace.Layout) string { return filepath.Join(l.Logs, "embedder.log") }

// URL waits until the embedder answers (restarting it, or taking it over
// when the process that ran it is gone) and returns its OpenAI-compatible
// base URL, http://127.0.0.1:PORT/v1. The port changes after a restart or a
// takeover: ask for every request.
func (s *Server) URL(ctx context.Context) (string, error) {
	if err := s.m.Ready(ctx); err != nil {
		return "", err
	}
	base := s.m.BaseURL()
	if base == "" {
		return "", errors.New("the embedder has no address")
	}
	return base + "/v1", nil
}

// PID of the embedder process now (0 when none), whoever started it.
func (s *Server) PID() int { return s.m.PID() }

// Owned reports whether this process started the embedder.
func (s *Server) Owned() bool { return s.m.Owned() }

// Stop ends this process's use of the embedder; the process that started it
// stops it (the next one that needs it starts it again).
func (s *Server) Stop(ctx context.Context) error { return s.m.Stop(ctx) }

// Probe runs this binary's server script once with python, without serving
// (--embed): it proves that the install loads the model and embeds a text
// on this machine. It writes nothing into the install folder (the script
// goes to a temporary file) and returns how long the run took.
func Probe(ctx context.Context, python string) (time.Duration, error) {
	f, err := os.CreateTemp("", "task-orchestrator-embedder-*.py")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(Script)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, python, f.Name(), "--embed", "offline semantic search")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "HF_HUB_OFFLINE=1")
	began := time.Now()
	err = cmd.Run()
	took := time.Since(began)
	if err != nil {
		if ctx.Err() != nil {
			return took, fmt.Errorf("it did not finish within %s", took.Round(time.Second))
		}
		return took, fmt.Errorf("%v: %s", err, lastLine(stderr.String()))
	}
	var vecs [][]float64
	if err := json.Unmarshal(stdout.Bytes(), &vecs); err != nil || len(vecs) != 1 || len(vecs[0]) != Dimensions {
		return took, fmt.Errorf("it did not print one vector of %d numbers", Dimensions)
	}
	return took, nil
}
