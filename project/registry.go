package project

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// RegistryConfig configures a Registry.
type RegistryConfig struct {
	// MaxWorkspaces bounds how many workspaces have open members; opening one
	// more closes the least recently used workspace without leases. 0 = no bound.
	MaxWorkspaces int
	// IdleTimeout closes a workspace that has had no lease and no use for this
	// long. 0 = never.
	IdleTimeout time.Duration
	// CloseTimeout bounds closing the members of an evicted or idle workspace.
	// 0 = 10s.
	CloseTimeout time.Duration
	Logger       *slog.Logger // nil = slog.Default()

	// Server is the server-wide configuration (defaults < global file <
	// env); a project's own file is layered on top (see Project.Config).
	Server workspace.Config
	// LogHandler is the stderr handler; a project's log file is added beside
	// it. nil = the project's log file only.
	LogHandler slog.Handler
	// LookPath finds executables for managed servers (nil = exec.LookPath).
	LookPath func(string) (string, error)
	// Transport is how this process serves MCP ("stdio", "http ADDR"), for
	// the presence file status reads.
	Transport string
}

const defaultRegistryCloseTimeout = 10 * time.Second

// member is what a Project holds per backend: an adapter and its pools.
type member interface {
	PoolMetrics() []pooling.Metrics
	Close(ctx context.Context) error
}

// Registry holds one *Project per root, opens each backend of a project
// exactly once, and closes projects that are idle or least recently used.
type Registry struct {
	cfg     RegistryConfig
	log     *slog.Logger
	configs *workspace.ProjectConfigs // each project's validated config file, by version
	stop    chan struct{}             // closed by Close; stops the janitor
	done    chan struct{}             // closed when the janitor exits; nil without a janitor

	// leaseListeners hear the expiries the projects' lease timers record.
	leaseListeners listenerSet[LeaseListener]
	// events hear the projects' other events (events.go).
	events listenerSet[EventListener]

	// mu guards every field below and the bookkeeping fields of every
	// Project. Never held while opening or closing a backend, or while
	// calling PoolMetrics.
	mu       sync.Mutex
	closed   bool
	ws       map[string]*Project // by root
	seq      uint64              // use counter: a larger lastSeq is more recent
	creating int                 // creations in flight, so Close can wait for them
	created  chan struct{}       // made by Close; closed when creating reaches 0
}

// memberSlot is one backend's member; ready is closed once creation has
// finished (m set, or err set and the slot removed from its workspace).
type memberSlot struct {
	ready chan struct{}
	m     member
	err   error
	// creatorGaveUp: err came from the creating caller's own ctx ending, so the
	// callers that waited for it try again instead of sharing that error.
	creatorGaveUp bool
}

// NewRegistry creates a registry and, when IdleTimeout > 0, its janitor
// goroutine (stopped by Close).
func NewRegistry(cfg RegistryConfig) *Registry {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.CloseTimeout <= 0 {
		cfg.CloseTimeout = defaultRegistryCloseTimeout
	}
	r := &Registry{cfg: cfg, log: cfg.Logger, stop: make(chan struct{}), ws: make(map[string]*Project),
		configs: workspace.NewProjectConfigs(cfg.Server, 0)}
	if cfg.IdleTimeout > 0 {
		r.done = make(chan struct{})
		go r.janitor()
	}
	return r
}

// Acquire returns the open project at root (opening nothing yet: each backend
// opens on its first use) and a lease on it. release must be called when the
// call is done with the project (calling it again does nothing); a project
// with outstanding leases is never evicted.
func (r *Registry) Acquire(ctx context.Context, root workspace.Root) (*Project, func(), error) {
	p, evicted, err := r.lease(root)
	if err != nil {
		return nil, nil, err
	}
	if len(evicted) > 0 {
		r.closeProjects(evicted, "least recently used")
	}
	return p, r.releaser(p), nil
}

// lease finds or adds the project at root and takes a lease on it.
func (r *Registry) lease(root workspace.Root) (*Project, []*Project, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, nil, fmt.Errorf("workspace registry: %w", pooling.ErrClosed)
	}
	p := r.ws[root.Path]
	var evicted []*Project
	if p == nil {
		p = newProject(r, root)
		r.ws[root.Path] = p
		evicted = r.evictLocked(p)
	}
	r.touchLocked(p)
	p.leases++
	return p, evicted, nil
}

// leaseOpen takes a lease on p unless the registry has let go of it (it is
// closing): what p started itself (its mirror syncer) borrows p's other
// backends this way, and never reopens a project that is being closed.
func (r *Registry) leaseOpen(p *Project) (func(), error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.ws[p.root.Path] != p {
		return nil, errProjectClosing
	}
	r.touchLocked(p)
	p.leases++
	return r.releaser(p), nil
}

func (r *Registry) releaser(p *Project) func() {
	var released atomic.Bool
	return func() {
		if released.CompareAndSwap(false, true) {
			r.unlease(p)
		}
	}
}

// member returns p's member for backend, calling create exactly once even
// under many concurrent first calls: the other callers wait for that one
// creation (or for their ctx). A failed creation is not cached; the next call
// retries. The caller holds a lease on p.
func (r *Registry) member(ctx context.Context, p *Project, backend string, create func(ctx context.Context) (member, error)) (member, error) {
	for {
		m, retry, err := r.memberOnce(ctx, p, backend, create)
		if !retry || ctx.Err() != nil {
			return m, err
		}
	}
}

func (r *Registry) memberOnce(ctx context.Context, p *Project, backend string, create func(ctx context.Context) (member, error)) (_ member, retry bool, _ error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, false, fmt.Errorf("workspace registry: %w", pooling.ErrClosed)
	}
	r.touchLocked(p)
	slot := p.members[backend]
	creator := slot == nil
	if creator {
		slot = &memberSlot{ready: make(chan struct{})}
		p.members[backend] = slot
		r.creating++
	}
	r.mu.Unlock()

	if creator {
		r.create(ctx, p, backend, slot, create)
	} else {
		select {
		case <-slot.ready:
		case <-ctx.Done():
			return nil, false, fmt.Errorf("workspace %s: waiting for the %s backend to open: %w", p.root.Path, backend, ctx.Err())
		}
	}
	if slot.err != nil {
		return nil, !creator && slot.creatorGaveUp, slot.err
	}
	return slot.m, false, nil
}

// create runs the create function for slot and publishes the result. A
// panicking create fails the slot (so waiters do not hang) and re-panics.
func (r *Registry) create(ctx context.Context, p *Project, backend string, slot *memberSlot, create func(context.Context) (member, error)) {
	finished := false
	defer func() {
		if !finished {
			r.publish(p, backend, slot, nil, fmt.Errorf("workspace %s: opening the %s backend panicked", p.root.Path, backend), false)
		}
	}()
	m, err := create(ctx)
	finished = true
	if err == nil && m == nil {
		err = errors.New("create returned no member and no error")
	}
	if err != nil {
		err = fmt.Errorf("workspace %s: open the %s backend: %w", p.root.Path, backend, err)
	}
	if closeIt := r.publish(p, backend, slot, m, err, ctx.Err() != nil); closeIt {
		cctx, cancel := context.WithTimeout(context.Background(), r.cfg.CloseTimeout)
		defer cancel()
		if cerr := m.Close(cctx); cerr != nil {
			r.log.Warn("closing a member created during shutdown failed", "workspace", p.root.Path, "backend", backend, "error", workspace.Redact(cerr.Error()))
		}
	}
}

// publish records a creation's outcome and wakes the waiters. It reports
// whether the member must be closed because the registry closed meanwhile.
func (r *Registry) publish(p *Project, backend string, slot *memberSlot, m member, err error, creatorGaveUp bool) (closeIt bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.creating--
	if r.creating == 0 && r.created != nil {
		close(r.created)
		r.created = nil
	}
	if err == nil && r.closed {
		closeIt = true
		err = fmt.Errorf("workspace registry: %w", pooling.ErrClosed)
	}
	if err != nil {
		slot.err = err
		slot.creatorGaveUp = creatorGaveUp && !closeIt
		if p.members[backend] == slot {
			delete(p.members, backend) // not cached: the next call retries
		}
	} else {
		slot.m = m
	}
	close(slot.ready)
	return closeIt
}

func (r *Registry) unlease(p *Project) {
	r.mu.Lock()
	p.leases--
	r.touchLocked(p)
	r.mu.Unlock()
}

func (r *Registry) touchLocked(p *Project) {
	r.seq++
	p.lastSeq = r.seq
	p.lastUsed = time.Now()
}

// evictLocked makes room for the new project keep: it removes least recently
// used projects without leases until MaxWorkspaces holds, and returns them
// for closing (after unlocking). If every other project is leased it allows
// going over and logs it.
func (r *Registry) evictLocked(keep *Project) []*Project {
	if r.cfg.MaxWorkspaces <= 0 {
		return nil
	}
	var evicted []*Project
	for len(r.ws) > r.cfg.MaxWorkspaces {
		var victim *Project
		for _, p := range r.ws {
			if p != keep && p.leases == 0 && (victim == nil || p.lastSeq < victim.lastSeq) {
				victim = p
			}
		}
		if victim == nil {
			r.log.Warn("more workspaces open than max_workspaces: every other workspace is in use, none can be closed yet",
				"open", len(r.ws), "max_workspaces", r.cfg.MaxWorkspaces)
			break
		}
		delete(r.ws, victim.root.Path)
		evicted = append(evicted, victim)
	}
	return evicted
}

// membersOf lists the created members of a project already removed from the
// map, in closing order. Creations cannot be in flight there: a creation
// holds a lease, and leased projects are not removed (except by Close, which
// waits for them).
func (r *Registry) membersOf(p *Project) []namedMember {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []namedMember
	for backend, slot := range p.members {
		if slot.m != nil {
			out = append(out, namedMember{workspace: p.root.Path, backend: backend, m: slot.m})
		}
	}
	// The task store first: its mirror syncer borrows the other two.
	slices.SortFunc(out, func(a, b namedMember) int { return cmp.Compare(closeRank(a.backend), closeRank(b.backend)) })
	return out
}

func closeRank(backend string) int {
	if backend == BackendOperational {
		return 0
	}
	return 1
}

type namedMember struct {
	workspace, backend string
	m                  member
}

// closeProjects closes projects removed from the map.
func (r *Registry) closeProjects(ps []*Project, why string) {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.CloseTimeout)
	defer cancel()
	for _, p := range ps {
		r.log.Info("closing workspace pools", "workspace", p.root.Path, "reason", why)
	}
	for _, p := range ps {
		if err := r.closeProject(ctx, p); err != nil {
			r.log.Warn("closing workspace pools failed", "workspace", p.root.Path, "error", workspace.Redact(err.Error()))
		}
	}
}

// closeProject closes every backend of p, then its log.
func (r *Registry) closeProject(ctx context.Context, p *Project) error {
	var errs []error
	p.stopChanges()
	for _, nm := range r.membersOf(p) {
		if err := nm.m.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("workspace %s: close the %s backend: %w", nm.workspace, nm.backend, err))
		}
	}
	p.withdraw()
	errs = append(errs, p.closeLog())
	return errors.Join(errs...)
}

// janitor closes idle workspaces until Close stops it.
func (r *Registry) janitor() {
	defer close(r.done)
	t := time.NewTicker(min(max(r.cfg.IdleTimeout/2, time.Millisecond), time.Minute))
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case now := <-t.C:
			r.mu.Lock()
			var idle []*Project
			for name, p := range r.ws {
				if p.leases == 0 && now.Sub(p.lastUsed) >= r.cfg.IdleTimeout {
					delete(r.ws, name)
					idle = append(idle, p)
				}
			}
			r.mu.Unlock()
			if len(idle) > 0 {
				r.closeProjects(idle, "idle")
			}
		}
	}
}

// Metrics returns the metrics of every pool of workspace ("" = every
// workspace), sorted by workspace, backend and name.
func (r *Registry) Metrics(workspace string) []pooling.Metrics {
	r.mu.Lock()
	var members []namedMember
	for name, p := range r.ws {
		if workspace != "" && name != workspace {
			continue
		}
		for backend, slot := range p.members {
			select {
			case <-slot.ready:
				if slot.m != nil {
					members = append(members, namedMember{workspace: name, backend: backend, m: slot.m})
				}
			default: // still being created
			}
		}
	}
	r.mu.Unlock()

	var out []pooling.Metrics
	for _, nm := range members {
		for _, m := range nm.m.PoolMetrics() {
			if m.Workspace == "" {
				m.Workspace = nm.workspace
			}
			if m.Backend == "" {
				m.Backend = nm.backend
			}
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b pooling.Metrics) int {
		return cmp.Or(cmp.Compare(a.Workspace, b.Workspace), cmp.Compare(a.Backend, b.Backend), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// Workspaces lists the open workspaces, most recently used first.
func (r *Registry) Workspaces() []string {
	r.mu.Lock()
	ws := make([]*Project, 0, len(r.ws))
	for _, p := range r.ws {
		ws = append(ws, p)
	}
	slices.SortFunc(ws, func(a, b *Project) int { return cmp.Compare(b.lastSeq, a.lastSeq) })
	r.mu.Unlock()
	names := make([]string, len(ws))
	for i, p := range ws {
		names[i] = p.root.Path
	}
	return names
}

// Close closes every project (leased or not), waits for creations in flight
// (closing what they create), and stops the janitor. Acquire and every
// backend accessor afterwards return an error wrapping pooling.ErrClosed.
// Idempotent.
func (r *Registry) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	var all []*Project
	for _, p := range r.ws {
		all = append(all, p)
	}
	r.ws = make(map[string]*Project)
	created := make(chan struct{})
	if r.creating == 0 {
		close(created)
	} else {
		r.created = created
	}
	r.mu.Unlock()

	close(r.stop)
	if r.done != nil {
		<-r.done
	}
	var errs []error
	for _, p := range all {
		errs = append(errs, r.closeProject(ctx, p))
	}
	// Creations in flight close their own member when they see the registry closed.
	select {
	case <-created:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("workspace registry: gave up waiting for backends still opening: %w", ctx.Err()))
	}
	return errors.Join(errs...)
}
