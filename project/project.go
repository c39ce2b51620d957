package project

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/chroma"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/neo4j"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/mirror"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// Backend names: the keys of a project's backends in pool_status and
// metrics, and their sections under database_pools in a config file.
const (
	BackendOperational = workspace.BackendOperational // the SQLite task store
	BackendVector      = workspace.BackendVector      // the Chroma vector store
	BackendGraph       = workspace.BackendGraph       // the Neo4j graph store
)

// errProjectClosing stops what a project started (its mirror syncer) from
// reopening backends of a project the registry is closing.
var errProjectClosing = errors.New("the workspace is closing")

// Project is one open project: its root and layout, its validated config,
// one log, and its task, vector and graph stores, each opened on first use
// and closed together when the registry lets go of the project.
//
// A Project is only used under a lease from Registry.Acquire.
type Project struct {
	reg    *Registry
	root   workspace.Root
	layout workspace.Layout

	// Guarded by Registry.mu.
	members  map[string]*memberSlot // by backend
	leases   int                    // outstanding leases, including the syncer's
	lastSeq  uint64                 // Registry.seq at the last use: a larger one is more recent
	lastUsed time.Time              // for the janitor

	// logMu guards the fields below; never held while writing a record.
	logMu     sync.Mutex
	log       *slog.Logger
	logFile   *logFile // nil when the file could not be opened
	logClosed bool

	// syncer is the mirror syncer while the task store is open.
	syncerMu sync.Mutex
	syncer   *mirror.Syncer

	// present: this Project holds a reference on its process's presence
	// file (presence.go). Guarded by presence.mu.
	present bool

	changes changeWatcher // changes.go
}

func newProject(r *Registry, root workspace.Root) *Project {
	return &Project{reg: r, root: root, layout: workspace.LayoutFor(root.Path), members: make(map[string]*memberSlot)}
}

// Root is where the project is and how it was found.
func (p *Project) Root() workspace.Root { return p.root }

// Layout is where the project's data lives (under .task_orchestrator/).
func (p *Project) Layout() workspace.Layout { return p.layout }

// Config is the server's configuration with the project's own file layered
// on top, validated once per version of that file; file is that file's path
// ("" when it has none).
func (p *Project) Config() (cfg workspace.Config, file string, err error) {
	return p.reg.ProjectConfig(p.layout)
}

// Tasks returns the project's task store, opening it (and starting its
// mirror syncer) on first use. Callers see the store's ports (work.Store),
// not its engine.
func (p *Project) Tasks(ctx context.Context) (work.Store, error) {
	m, err := p.open(ctx, BackendOperational, "task tools", func(c workspace.Config) workspace.PoolSettings { return c.DatabasePools.Operational },
		func(ctx context.Context, cfg workspace.Config, logger *slog.Logger) (member, error) {
			fileID, idErr := workspace.ReadProjectID(p.layout)
			store, err := sqlite.Open(ctx, sqlite.Options{
				ProjectID:    fileID,
				Path:         filepath.Join(p.layout.Databases, "tasks.db"),
				Workspace:    p.root.Path,
				Settings:     cfg.DatabasePools.Operational,
				BusyTimeout:  cfg.Server.SQLiteBusyTimeout.Duration(),
				Breaker:      cfg.Server.CircuitBreakerThreshold,
				Cooldown:     cfg.Server.CircuitBreakerCooldown.Duration(),
				Logger:       logger,
				MaxMetadata:  cfg.Security.MaxMetadataBytes,
				HistoryLimit: cfg.Tasks.HistoryLimit,
				DefaultLease: time.Duration(cfg.Tasks.LeaseSeconds) * time.Second,
				OnBreaker:    p.reg.breakerEvents(p.root.Path),
			})
			if err != nil {
				return nil, err
			}
			p.keepProjectID(store.ProjectID(), fileID, idErr, logger)
			return &taskMember{taskStore: store, stop: p.startTaskLoops(store, cfg, logger)}, nil
		})
	if err != nil {
		return nil, err
	}
	return m.(*taskMember).taskStore, nil
}

// keepProjectID makes .task_orchestrator/project_id hold id, the project's
// id as its task database keeps it, when the file is missing or says
// something else (it is a copy: the database decides). The project works
// without the file, so failing to write it is logged, not returned.
func (p *Project) keepProjectID(id, fileID string, readErr error, logger *slog.Logger) {
	if readErr != nil {
		logger.Warn("the project's id file is replaced", "root", p.root.Path, "reason", workspace.UnsafeFileMessage(readErr), "project_id", id)
	} else if fileID == id {
		return
	} else if fileID != "" {
		logger.Warn("the project's id file names another id than its task database; the database's is kept",
			"root", p.root.Path, "file", fileID, "project_id", id)
	}
	if err := workspace.WriteProjectID(p.layout, id); err != nil {
		logger.Warn("the project's id file could not be written", "root", p.root.Path, "err", err)
	}
}

// Vectors returns the project's vector store, starting or connecting to
// Chroma on first use.
func (p *Project) Vectors(ctx context.Context) (*chroma.Store, error) {
	m, err := p.open(ctx, BackendVector, "vector tools", func(c workspace.Config) workspace.PoolSettings { return c.DatabasePools.Vector },
		func(ctx context.Context, cfg workspace.Config, logger *slog.Logger) (member, error) {
			return chroma.Open(ctx, p.reg.ChromaOptions(p.root.Path, p.layout, cfg, logger))
		})
	if err != nil {
		return nil, err
	}
	return m.(*chroma.Store), nil
}

// Graph returns the project's graph store, starting or connecting to Neo4j
// on first use.
func (p *Project) Graph(ctx context.Context) (*neo4j.Store, error) {
	m, err := p.open(ctx, BackendGraph, "graph tools", func(c workspace.Config) workspace.PoolSettings { return c.DatabasePools.Graph },
		func(ctx context.Context, cfg workspace.Config, logger *slog.Logger) (member, error) {
			return neo4j.Open(ctx, p.reg.Neo4jOptions(p.root.Path, p.layout, cfg, logger))
		})
	if err != nil {
		return nil, err
	}
	return m.(*neo4j.Store), nil
}

// Syncer is the project's mirror syncer, or nil while its task store is not
// open (or is closing).
func (p *Project) Syncer() *mirror.Syncer {
	p.syncerMu.Lock()
	defer p.syncerMu.Unlock()
	return p.syncer
}

// DisabledError says a backend is turned off by the project's config file.
type DisabledError struct {
	What    string // "task tools"
	Backend string // its section under database_pools
}

func (e *DisabledError) Error() string { return e.ClientMessage() }

// ClientMessage is the sentence the agent sees.
func (e *DisabledError) ClientMessage() string {
	return fmt.Sprintf("the %s are turned off for this project: its .task_orchestrator/configs/config.json sets database_pools.%s.enabled to false; remove that line to turn them back on", e.What, e.Backend)
}

// open returns the member for backend, creating it once: layout checked, the
// project's config layered on the server's, the backend's switch honoured.
func (p *Project) open(ctx context.Context, backend, what string, settings func(workspace.Config) workspace.PoolSettings,
	create func(ctx context.Context, cfg workspace.Config, logger *slog.Logger) (member, error)) (member, error) {
	return p.reg.member(ctx, p, backend, func(ctx context.Context) (member, error) {
		if _, err := workspace.Ensure(p.root.Path); err != nil {
			return nil, err
		}
		cfg, _, err := p.Config()
		if err != nil {
			return nil, err
		}
		if !settings(cfg).IsEnabled() {
			return nil, &DisabledError{What: what, Backend: backend}
		}
		logger := p.logger()
		m, err := create(ctx, cfg, logger)
		if err != nil {
			return nil, err
		}
		logger.Info("backend opened", "backend", backend, "root", p.root.Path, "source", string(p.root.Source))
		p.announce(backend)
		return m, nil
	})
}

// taskMember is the task store with the mirror syncer and the lease timer it
// started, both stopped before the store closes.
type taskMember struct {
	taskStore
	stop func(context.Context) error
}

// taskStore is a task store as the registry holds it: its ports, its pools'
// metrics, and how to close it.
type taskStore interface {
	work.Store
	member
}

func (m *taskMember) Close(ctx context.Context) error {
	return errors.Join(m.stop(ctx), m.taskStore.Close(ctx))
}

// startTaskLoops starts what runs while a task store is open, its mirror
// syncer and its lease timer, and returns how to stop them. Each write of this
// process wakes both: the syncer to deliver it, the timer in case it started a
// lease shorter than the timer's wait.
func (p *Project) startTaskLoops(store work.Store, cfg workspace.Config, logger *slog.Logger) func(context.Context) error {
	sy := p.startSyncer(store, cfg, logger)
	lt := startLeaseTimer(store, p.root.Path, logger, p.reg.publishLeases)
	store.OnOutbox(func() { sy.Wake(); lt.Wake() })
	return func(ctx context.Context) error {
		store.OnOutbox(nil)
		p.syncerMu.Lock()
		if p.syncer == sy {
			p.syncer = nil
		}
		p.syncerMu.Unlock()
		return errors.Join(lt.Stop(ctx), sy.Stop(ctx))
	}
}

// startSyncer starts the mirror syncer of a task store that just opened. Its
// targets borrow the project's own stores.
func (p *Project) startSyncer(store work.Store, cfg workspace.Config, logger *slog.Logger) *mirror.Syncer {
	var targets []mirror.Target
	skipped := map[string]string{}
	if ok, why := p.reg.VectorMirror(p.root.Path, p.layout, cfg); ok {
		targets = append(targets, mirror.VectorTarget{Borrow: borrow(p, p.Vectors)})
	} else {
		skipped[mirror.Vector] = why
	}
	if ok, why := p.reg.GraphMirror(p.root.Path, p.layout, cfg); ok {
		targets = append(targets, mirror.GraphTarget{Borrow: borrow(p, p.Graph)})
	} else {
		skipped[mirror.Graph] = why
	}
	sy := mirror.Start(mirror.Config{Store: store, Targets: targets, Skipped: skipped, Logger: logger, OnLag: p.mirrorLag})
	p.syncerMu.Lock()
	p.syncer = sy
	p.syncerMu.Unlock()
	return sy
}

// borrow lends one of p's stores to the syncer for one batch, under a lease of
// its own, unless the registry has already let go of p.
func borrow[T any](p *Project, get func(context.Context) (T, error)) mirror.Borrow[T] {
	return func(ctx context.Context) (T, func(), error) {
		var zero T
		release, err := p.reg.leaseOpen(p)
		if err != nil {
			return zero, nil, err
		}
		s, err := get(ctx)
		if err != nil {
			release()
			return zero, nil, err
		}
		return s, release, nil
	}
}

// ProjectConfig layers the project's own config file over the server's. The
// outcome, a refusal included, is validated once per version of the file.
func (r *Registry) ProjectConfig(layout workspace.Layout) (workspace.Config, string, error) {
	return r.configs.Get(layout)
}

// ChromaOptions says how a project reaches Chroma, from the server's config
// (addresses, commands and embeddings are never taken from a project's file).
func (r *Registry) ChromaOptions(root string, layout workspace.Layout, cfg workspace.Config, logger *slog.Logger) chroma.Options {
	return chroma.Options{
		Workspace:  root,
		Layout:     layout,
		Settings:   cfg.DatabasePools.Vector,
		Backends:   r.cfg.Server.Backends,
		Embeddings: r.cfg.Server.Embeddings,
		Breaker:    cfg.Server.CircuitBreakerThreshold,
		Cooldown:   float64(cfg.Server.CircuitBreakerCooldown),
		OnBreaker:  r.breakerEvents(root),
		Logger:     logger,
		LookPath:   r.cfg.LookPath,
	}
}

// Neo4jOptions says how a project reaches Neo4j, from the server's config only.
func (r *Registry) Neo4jOptions(root string, layout workspace.Layout, cfg workspace.Config, logger *slog.Logger) neo4j.Options {
	return neo4j.Options{
		Workspace: root,
		Layout:    layout,
		Settings:  cfg.DatabasePools.Graph,
		Backends:  r.cfg.Server.Backends,
		Breaker:   cfg.Server.CircuitBreakerThreshold,
		Cooldown:  cfg.Server.CircuitBreakerCooldown.Duration(),
		OnBreaker: r.breakerEvents(root),
		Logger:    logger,
	}
}

// VectorMirror says whether a project's tasks are mirrored into Chroma: the
// vector tools are on, Chroma is reachable or startable, and an embedding
// provider is configured (the mirror has no vectors of its own to send).
func (r *Registry) VectorMirror(root string, layout workspace.Layout, cfg workspace.Config) (bool, string) {
	if !cfg.DatabasePools.Vector.IsEnabled() {
		return false, "database_pools.vector.enabled is false in the project's config"
	}
	if mode, reason := chroma.Resolve(r.ChromaOptions(root, layout, cfg, nil)); mode == chroma.ModeNone {
		return false, reason
	}
	if strings.TrimSpace(r.cfg.Server.Embeddings.Provider) == "" {
		return false, "no embedding provider is configured (embeddings.provider in the global config): the task mirror needs one to embed task text"
	}
	return true, ""
}

// GraphMirror says whether a project's tasks are mirrored into Neo4j.
func (r *Registry) GraphMirror(root string, layout workspace.Layout, cfg workspace.Config) (bool, string) {
	if !cfg.DatabasePools.Graph.IsEnabled() {
		return false, "database_pools.graph.enabled is false in the project's config"
	}
	if mode, reason := neo4j.Resolve(r.Neo4jOptions(root, layout, cfg, nil)); mode == neo4j.ModeNone {
		return false, reason
	}
	return true, ""
}

// Syncer returns the mirror syncer of the open project at root, or nil. It
// opens nothing.
func (r *Registry) Syncer(root string) *mirror.Syncer {
	r.mu.Lock()
	p := r.ws[root]
	r.mu.Unlock()
	if p == nil {
		return nil
	}
	return p.Syncer()
}

// Open reports whether backend of the project at root has open pools.
func (r *Registry) Open(root, backend string) bool {
	for _, m := range r.Metrics(root) {
		if m.Backend == backend {
			return true
		}
	}
	return false
}

var _ member = (*chroma.Store)(nil)
var _ member = (*neo4j.Store)(nil)
var _ member = (*taskMember)(nil)
var _ = pooling.ErrClosed
