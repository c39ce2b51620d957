package chroma

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/managed"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/progress"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

const (
	defaultStartTimeout = 60 * time.Second
	stopTimeout         = 10 * time.Second
)

func (s *Store) logFile() string { return filepath.Join(s.opts.Layout.Logs, "chroma.log") }

// startManaged starts the project's own Chroma server: data under
// .task_orchestrator/databases/chroma, bound to 127.0.0.1 on a free port,
// supervised by adapters/managed (restarted if it dies, never outliving us);
// or, when another server process of the project already runs it, uses that one.
func (s *Store) startManaged(ctx context.Context) error {
	cmd, _, err := s.opts.command()
	if err != nil {
		return &Error{Kind: KindNotConfigured, Msg: msgNotConfigured, Err: err}
	}
	dataDir := s.opts.dataDir()
	if err := s.prepareDirs(dataDir); err != nil {
		return err
	}
	startTimeout := s.opts.Backends.ChromaStartTimeout.Duration()
	if startTimeout <= 0 {
		startTimeout = defaultStartTimeout
	}
	progress.Report(ctx, "starting the project's Chroma server", 0, 0)
	srv, err := managed.Start(ctx, managed.Spec{
		Name:    "chroma",
		Command: cmd,
		Args: func(port int) []string {
			return []string{"run", "--path", dataDir, "--host", "127.0.0.1", "--port", strconv.Itoa(port)}
		},
		Env:          []string{"ANONYMIZED_TELEMETRY=False"},
		Dir:          dataDir,
		OpenFile:     s.openProjectFile,
		LogFile:      s.logFile(),
		Health:       managed.HTTPOK("/api/v2/heartbeat"),
		StartTimeout: startTimeout,
		StopTimeout:  stopTimeout,
		Logger:       s.log,
		Project:      s.opts.root(),
		Share:        s.sharing(dataDir),
	})
	if err == nil && srv == nil {
		err = fmt.Errorf("managed.Start returned no server")
	}
	if err != nil {
		if ctx.Err() != nil {
			return s.fail(ctx, "starting the project's Chroma server", err)
		}
		return &Error{Kind: KindUnavailable, Err: err, Msg: fmt.Sprintf(
			"the project's Chroma server (%s) did not start: %s; read %s, or set CHROMA_URL to use a Chroma server elsewhere",
			cmd, s.clean(err.Error()), s.logFile())}
	}
	s.server = srv
	progress.Report(ctx, "the project's Chroma server is ready", 1, 1)
	s.log.Info("chroma: the project's server is ready", "url", srv.BaseURL(), "pid", srv.PID(), "owned", srv.Owned(), "data", dataDir)
	return nil
}

func (s *Store) stopManaged(ctx context.Context) error {
	if s.server == nil {
		return nil
	}
	if err := s.server.Stop(ctx); err != nil {
		return fmt.Errorf("stop the project's Chroma server: %w", err)
	}
	return nil
}

// prepareDirs makes the data and logs folders, refusing links (see workspace.PrepareServerDirs).
func (s *Store) prepareDirs(dataDir string) error {
	if err := workspace.PrepareServerDirs(s.opts.Layout, dataDir, "Chroma"); err != nil {
		return &Error{Kind: KindUnavailable, Err: err, Msg: workspace.UnsafeFileMessage(err)}
	}
	return nil
}

// sharing makes the project's Chroma one for every server process of the
// project: .task_orchestrator/databases/chroma.lock is held by the process
// that started it, chroma.server.json announces it to the others.
func (s *Store) sharing(dataDir string) *managed.Sharing {
	l := s.opts.Layout
	return &managed.Sharing{
		LockFile:      filepath.Join(l.Databases, "chroma.lock"),
		DiscoveryFile: filepath.Join(l.Databases, "chroma.server.json"),
		DataDir:       dataDir,
		Replace: func(path string, data []byte, perm fs.FileMode) error {
			return workspace.ReplaceProjectFile(l, path, data, perm)
		},
		Remove: func(path string) error { return workspace.RemoveProjectFile(l, path) },
	}
}

// openProjectFile opens a file of the project without following links (the managed server's log).
func (s *Store) openProjectFile(path string, flag int, perm fs.FileMode) (*os.File, error) {
	return workspace.OpenProjectFile(s.opts.Layout, path, flag, perm)
}
