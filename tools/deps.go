package tools

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/chroma"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/neo4j"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/mirror"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// BackendOperational is the registry key of the SQLite task store.
const BackendOperational = workspace.BackendOperational

// Deps is what every handler needs: where projects are, how they are configured,
// and the registry that owns their pools.
type Deps struct {
	Registry *pooling.Registry
	Resolver *workspace.Resolver
	// Config is the server-wide configuration (defaults < global file < env).
	// A project's own file is layered on top when its pools are created.
	Config workspace.Config
	// ConfigFiles are the global files that Config was read from.
	ConfigFiles []string
	Logger      *slog.Logger
	// LogHandler is the stderr handler; a project's log file is added beside it.
	LogHandler slog.Handler
	Version    string
	ReadOnly   bool
	// LookPath finds executables for managed servers (nil = exec.LookPath).
	LookPath func(string) (string, error)

	rootsMu    sync.Mutex
	rootsCache map[string][]string // legacy session id -> root URIs

	syncersMu sync.Mutex
	syncers   map[string]*mirror.Syncer // workspace root -> its mirror syncer, while its task store is open

	// projectConfigs remembers each project's validated config file (made
	// from Config on first use): a hostile project costs a stat per call.
	projectConfigsOnce sync.Once
	projectConfigs     *workspace.ProjectConfigs
}

func (d *Deps) logger() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.Default()
}

// opener says how to open one backend of a project.
type opener[T pooling.Member] struct {
	backend  string // registry key and config section under database_pools
	what     string // "task tools", for messages
	settings func(workspace.Config) workspace.PoolSettings
	open     func(ctx context.Context, root string, layout workspace.Layout, cfg workspace.Config, logger *slog.Logger) (T, error)
	// attach, when set, starts what lives as long as the opened store (the
	// task store's mirror syncer) and returns how to stop it.
	attach func(store T, root workspace.Root, layout workspace.Layout, cfg workspace.Config, logger *slog.Logger) func(context.Context) error
}

// borrow returns the project's adapter for one backend, opening it (and its
// pools, or its managed server) on first use. release must be called when the
// call is done with it.
func borrow[T pooling.Member](ctx context.Context, d *Deps, root workspace.Root, o opener[T]) (T, func(), error) {
	var zero T
	m, release, err := d.Registry.Get(ctx, root.Path, o.backend, func(ctx context.Context) (pooling.Member, error) {
		return openMember(ctx, d, root, o)
	})
	if err != nil {
		return zero, nil, err
	}
	pm, ok := m.(*projectMember[T])
	if !ok {
		release()
		return zero, nil, fmt.Errorf("registry holds %T for %s, want %T", m, o.backend, zero)
	}
	return pm.store, release, nil
}

// openMember creates a project's backend: layout checked, the project's config
// layered on the server's, the backend's switch honoured, a project log opened.
func openMember[T pooling.Member](ctx context.Context, d *Deps, root workspace.Root, o opener[T]) (pooling.Member, error) {
	layout, err := workspace.Ensure(root.Path)
	if err != nil {
		return nil, err
	}
	cfg, _, err := d.projectConfig(layout)
	if err != nil {
		return nil, err
	}
	if !o.settings(cfg).IsEnabled() {
		return nil, &userError{msg: fmt.Sprintf("the %s are turned off for this project: its .task_orchestrator/configs/config.json sets database_pools.%s.enabled to false; remove that line to turn them back on", o.what, o.backend)}
	}
	logger, logFile := d.projectLogger(layout)
	store, err := o.open(ctx, root.Path, layout, cfg, logger)
	if err != nil {
		if logFile != nil {
			_ = logFile.Close()
		}
		return nil, err
	}
	logger.Info("backend opened", "backend", o.backend, "root", root.Path, "source", string(root.Source))
	pm := &projectMember[T]{store: store, logFile: logFile}
	if o.attach != nil {
		pm.stop = o.attach(store, root, layout, cfg, logger)
	}
	return pm, nil
}

// projectConfig layers the project's own config file over the server's. The
// outcome, a refusal included, is validated once per version of the file.
func (d *Deps) projectConfig(layout workspace.Layout) (workspace.Config, string, error) {
	d.projectConfigsOnce.Do(func() { d.projectConfigs = workspace.NewProjectConfigs(d.Config, 0) })
	return d.projectConfigs.Get(layout)
}

// taskStore returns the workspace's task store and layout.
func (d *Deps) taskStore(ctx context.Context, root workspace.Root) (*sqlite.Store, workspace.Layout, func(), error) {
	store, release, err := borrow(ctx, d, root, opener[*sqlite.Store]{
		backend: BackendOperational, what: "task tools",
		settings: func(c workspace.Config) workspace.PoolSettings { return c.DatabasePools.Operational },
		open: func(ctx context.Context, root string, layout workspace.Layout, cfg workspace.Config, logger *slog.Logger) (*sqlite.Store, error) {
			return sqlite.Open(ctx, sqlite.Options{
				Path:        filepath.Join(layout.Databases, "tasks.db"),
				Workspace:   root,
				Settings:    cfg.DatabasePools.Operational,
				BusyTimeout: cfg.Server.SQLiteBusyTimeout.Duration(),
				Breaker:     cfg.Server.CircuitBreakerThreshold,
				Cooldown:    cfg.Server.CircuitBreakerCooldown.Duration(),
				Logger:      logger,
				MaxMetadata: cfg.Security.MaxMetadataBytes,
			})
		},
		attach: d.startSyncer,
	})
	return store, workspace.LayoutFor(root.Path), release, err
}

// BackendVector is the registry key of the Chroma vector store.
const BackendVector = workspace.BackendVector

// BackendGraph is the registry key of the Neo4j graph store.
const BackendGraph = workspace.BackendGraph

// chromaOptions says how this project reaches Chroma, from the server's config
// (addresses, commands and embeddings are never taken from a project's file).
func (d *Deps) chromaOptions(root string, layout workspace.Layout, cfg workspace.Config, logger *slog.Logger) chroma.Options {
	return chroma.Options{
		Workspace:  root,
		Layout:     layout,
		Settings:   cfg.DatabasePools.Vector,
		Backends:   d.Config.Backends,
		Embeddings: d.Config.Embeddings,
		Breaker:    cfg.Server.CircuitBreakerThreshold,
		Cooldown:   float64(cfg.Server.CircuitBreakerCooldown),
		Logger:     logger,
		LookPath:   d.LookPath,
	}
}

// vectorStore returns the workspace's vector store, starting or connecting to Chroma on first use.
func (d *Deps) vectorStore(ctx context.Context, root workspace.Root) (*chroma.Store, func(), error) {
	return borrow(ctx, d, root, opener[*chroma.Store]{
		backend: BackendVector, what: "vector tools",
		settings: func(c workspace.Config) workspace.PoolSettings { return c.DatabasePools.Vector },
		open: func(ctx context.Context, root string, layout workspace.Layout, cfg workspace.Config, logger *slog.Logger) (*chroma.Store, error) {
			return chroma.Open(ctx, d.chromaOptions(root, layout, cfg, logger))
		},
	})
}

// neo4jOptions says how this project reaches Neo4j, from the server's config only.
func (d *Deps) neo4jOptions(root string, layout workspace.Layout, cfg workspace.Config, logger *slog.Logger) neo4j.Options {
	return neo4j.Options{
		Workspace: root,
		Layout:    layout,
		Settings:  cfg.DatabasePools.Graph,
		Backends:  d.Config.Backends,
		Breaker:   cfg.Server.CircuitBreakerThreshold,
		Cooldown:  cfg.Server.CircuitBreakerCooldown.Duration(),
		Logger:    logger,
	}
}

// graphStore returns the workspace's graph store, starting or connecting to Neo4j on first use.
func (d *Deps) graphStore(ctx context.Context, root workspace.Root) (*neo4j.Store, func(), error) {
	return borrow(ctx, d, root, opener[*neo4j.Store]{
		backend: BackendGraph, what: "graph tools",
		settings: func(c workspace.Config) workspace.PoolSettings { return c.DatabasePools.Graph },
		open: func(ctx context.Context, root string, layout workspace.Layout, cfg workspace.Config, logger *slog.Logger) (*neo4j.Store, error) {
			return neo4j.Open(ctx, d.neo4jOptions(root, layout, cfg, logger))
		},
	})
}

// maxLogBytes is the size at which a project's log file is rotated to server.log.1.
const maxLogBytes = 10 << 20

// projectLogger returns a logger writing to stderr and to the project's
// .task_orchestrator/logs/server.log. A log file that cannot be opened is
// reported on stderr and skipped: logging must never stop a tool call.
func (d *Deps) projectLogger(layout workspace.Layout) (*slog.Logger, io.Closer) {
	base := d.logger().With("workspace", layout.Root)
	path := filepath.Join(layout.Logs, "server.log")
	// No link is followed: a symlinked server.log (or server.log.1) is
	// refused, never appended to. Rename replaces a link at server.log.1
	// rather than writing through it, and moves a link at server.log.
	open := func() (*os.File, error) {
		return workspace.OpenProjectFile(layout, path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	}
	f, err := open()
	if err == nil {
		if fi, serr := f.Stat(); serr == nil && fi.Size() > maxLogBytes {
			if _, cerr := workspace.CheckProjectFile(layout, path+".1"); cerr == nil {
				_ = f.Close()
				_ = os.Rename(path, path+".1")
				f, err = open()
			}
		}
	}
	if err != nil {
		base.Warn("cannot open the project log file; logging to stderr only", "path", path, "err", workspace.UnsafeFileMessage(err))
		return base, nil
	}
	level := slog.LevelInfo
	if d.LogHandler != nil {
		for _, l := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError} {
			if d.LogHandler.Enabled(context.Background(), l) {
				level = l
				break
			}
		}
	}
	fileHandler := slog.NewJSONHandler(f, &slog.HandlerOptions{Level: level})
	var h slog.Handler = fileHandler
	if d.LogHandler != nil {
		h = fanout{d.LogHandler, fileHandler}
	}
	return slog.New(h).With("workspace", layout.Root), f
}

// projectMember is what the registry holds for one backend of a project: the
// adapter and the project's log file, closed together.
type projectMember[T pooling.Member] struct {
	store   T
	logFile io.Closer
	stop    func(context.Context) error // what attach started; stopped before the store closes
}

func (m *projectMember[T]) PoolMetrics() []pooling.Metrics { return m.store.PoolMetrics() }

func (m *projectMember[T]) Close(ctx context.Context) error {
	var err error
	if m.stop != nil {
		err = m.stop(ctx)
	}
	err = errors.Join(err, m.store.Close(ctx))
	if m.logFile != nil {
		err = errors.Join(err, m.logFile.Close())
	}
	return err
}

// fanout sends each record to every handler that wants it.
type fanout []slog.Handler

func (f fanout) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range f {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (f fanout) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	for _, h := range f {
		if h.Enabled(ctx, r.Level) {
			errs = append(errs, h.Handle(ctx, r.Clone()))
		}
	}
	return errors.Join(errs...)
}

func (f fanout) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithAttrs(attrs)
	}
	return out
}

func (f fanout) WithGroup(name string) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithGroup(name)
	}
	return out
}
