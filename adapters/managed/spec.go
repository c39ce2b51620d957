package managed

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// Spec says how to run one local database server for one project.
type Spec struct {
	// Name is the server kind for logs and errors ("chroma", "neo4j").
	Name string
	// Command is the absolute path of the executable. It must come from the
	// global configuration or a flag, never from a project's files.
	Command string
	// Args builds the arguments for a given loopback port.
	Args func(port int) []string
	// Env is extra environment (KEY=VALUE) on top of a minimal inherited one
	// (PATH, HOME, LANG, TMPDIR); an entry here wins over an inherited one.
	Env []string
	// Dir is the working directory (the data directory is usually in Args).
	Dir string
	// LogFile receives the child's stdout and stderr (never our stdout). It is
	// appended to and created 0600 (its directory 0700) when missing.
	LogFile string
	// OpenFile opens LogFile, to append to it and to quote its tail. A
	// project's log must be opened without following links (the project's
	// files are untrusted): pass workspace.OpenProjectFile bound to the
	// project, which also expects the log's folder to exist. nil = os.OpenFile,
	// the folder created with os.MkdirAll.
	OpenFile func(path string, flag int, perm fs.FileMode) (*os.File, error)
	// Health answers nil once the server at baseURL (http://127.0.0.1:port) is ready.
	// It is called with a context that ends after about a second.
	Health func(ctx context.Context, hc *http.Client, baseURL string) error
	// StartTimeout bounds how long a start may take before it is an error (0 = 60s).
	StartTimeout time.Duration
	// StopTimeout bounds a graceful stop before SIGKILL (0 = 10s).
	StopTimeout time.Duration
	Logger      *slog.Logger
	// Project names the project in progress messages and logs ("" = Dir).
	Project string
	// Share, when set, makes the server one per project for every server
	// process of the project (see Sharing); nil: a server of this process's own.
	Share *Sharing
}

var (
	// ErrExited means the server process exited before it answered its health check.
	ErrExited = errors.New("managed server exited during start-up")
	// ErrStartTimeout means the server did not answer its health check within StartTimeout.
	ErrStartTimeout = errors.New("managed server did not answer in time")
	// ErrKilled means the server ignored SIGTERM (or Stop's context ended first) and was SIGKILLed.
	ErrKilled = errors.New("managed server was killed with SIGKILL")
	// ErrStopped means Stop has been called: the server will not be started again.
	ErrStopped = errors.New("managed server is stopped")
)

const (
	defaultStartTimeout = 60 * time.Second
	defaultStopTimeout  = 10 * time.Second

	healthAttemptTimeout = time.Second // one Health call
	firstPoll, maxPoll   = 50 * time.Millisecond, 500 * time.Millisecond
	reportEvery          = 500 * time.Millisecond // progress while waiting
	firstRestart         = time.Second            // backoff after a crash, doubling ...
	maxRestart           = 30 * time.Second       // ... up to this
	stableAfter          = time.Minute            // a process that ran this long resets the backoff
	portTries            = 3                      // lost races for a free port before giving up
	logTailLines         = 20                     // lines of the log quoted in an error
)

// withDefaults checks spec and fills in its zero values.
func (s Spec) withDefaults() (Spec, error) {
	var missing []string
	if s.Name == "" {
		missing = append(missing, "Name")
	}
	if s.Args == nil {
		missing = append(missing, "Args")
	}
	if s.Health == nil {
		missing = append(missing, "Health")
	}
	if s.LogFile == "" {
		missing = append(missing, "LogFile")
	}
	if len(missing) > 0 {
		return s, fmt.Errorf("managed server spec is missing %v", missing)
	}
	if !filepath.IsAbs(s.Command) {
		return s, fmt.Errorf("managed %s: command %q is not an absolute path: resolve it (exec.LookPath) before starting", s.Name, s.Command)
	}
	if s.StartTimeout <= 0 {
		s.StartTimeout = defaultStartTimeout
	}
	if s.StopTimeout <= 0 {
		s.StopTimeout = defaultStopTimeout
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.OpenFile == nil {
		s.OpenFile = func(path string, flag int, perm fs.FileMode) (*os.File, error) {
			if flag&os.O_CREATE != 0 {
				if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
					return nil, err
				}
			}
			return os.OpenFile(path, flag, perm)
		}
	}
	if s.Project == "" {
		s.Project = s.Dir
	}
	return s, nil
}

// failure is an error with a complete message that still matches its sentinel
// (errors.Is) and its cause, if any.
type failure struct {
	msg   string
	kind  error
	cause error
}

func (f *failure) Error() string { return f.msg }

func (f *failure) Unwrap() []error {
	if f.cause == nil {
		return []error{f.kind}
	}
	return []error{f.kind, f.cause}
}
