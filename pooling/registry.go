package pooling

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
}

const defaultRegistryCloseTimeout = 10 * time.Second

// Registry holds one Member per (workspace, backend), creates each exactly
// once, and closes workspaces that are idle or least recently used.
type Registry struct {
	cfg  RegistryConfig
	log  *slog.Logger
	stop chan struct{} // closed by Close; stops the janitor
	done chan struct{} // closed when the janitor exits; nil without a janitor

	// mu guards every field below. Never held while calling a create function
	// or a Member's Close or PoolMetrics.
	mu       sync.Mutex
	closed   bool
	ws       map[string]*workspaceEntry
	seq      uint64        // use counter: a larger lastSeq is more recent
	creating int           // creations in flight, so Close can wait for them
	created  chan struct{} // made by Close; closed when creating reaches 0
}

type workspaceEntry struct {
	name string
	// Guarded by Registry.mu.
	members  map[string]*memberSlot // by backend
	leases   int                    // outstanding Get leases, including creations in flight
	lastSeq  uint64                 // Registry.seq at the last Get or release
	lastUsed time.Time              // for the janitor
}

// memberSlot is one backend's member; ready is closed once creation has
// finished (m set, or err set and the slot removed from its workspace).
type memberSlot struct {
	ready chan struct{}
	m     Member
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
	r := &Registry{cfg: cfg, log: cfg.Logger, stop: make(chan struct{}), ws: make(map[string]*workspaceEntry)}
	if cfg.IdleTimeout > 0 {
		r.done = make(chan struct{})
		go r.janitor()
	}
	return r
}

// Get returns the member for (workspace, backend), calling create exactly once
// even under many concurrent first calls: the other callers wait for that one
// creation (or for their ctx). A failed creation is not cached; the next call
// retries. The returned release func must be called when the caller is done
// with the member (calling it again does nothing); a workspace with
// outstanding leases is never evicted.
func (r *Registry) Get(ctx context.Context, workspace, backend string, create func(ctx context.Context) (Member, error)) (Member, func(), error) {
	for {
		m, release, retry, err := r.get(ctx, workspace, backend, create)
		if !retry || ctx.Err() != nil {
			return m, release, err
		}
	}
}

func (r *Registry) get(ctx context.Context, workspace, backend string, create func(ctx context.Context) (Member, error)) (_ Member, _ func(), retry bool, _ error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, nil, false, fmt.Errorf("workspace registry: %w", ErrClosed)
	}
	w := r.ws[workspace]
	var evicted []*workspaceEntry
	if w == nil {
		w = &workspaceEntry{name: workspace, members: make(map[string]*memberSlot)}
		r.ws[workspace] = w
		evicted = r.evictLocked(w)
	}
	r.touchLocked(w)
	w.leases++
	slot := w.members[backend]
	creator := slot == nil
	if creator {
		slot = &memberSlot{ready: make(chan struct{})}
		w.members[backend] = slot
		r.creating++
	}
	r.mu.Unlock()

	if len(evicted) > 0 {
		r.closeWorkspaces(evicted, "least recently used")
	}
	if creator {
		r.create(ctx, w, backend, slot, create)
	} else {
		select {
		case <-slot.ready:
		case <-ctx.Done():
			r.unlease(w)
			return nil, nil, false, fmt.Errorf("workspace %s: waiting for the %s backend to open: %w", workspace, backend, ctx.Err())
		}
	}
	if slot.err != nil {
		r.unlease(w)
		return nil, nil, !creator && slot.creatorGaveUp, slot.err
	}
	var released atomic.Bool
	return slot.m, func() {
		if released.CompareAndSwap(false, true) {
			r.unlease(w)
		}
	}, false, nil
}

// create runs the create function for slot and publishes the result. A
// panicking create fails the slot (so waiters do not hang) and re-panics.
func (r *Registry) create(ctx context.Context, w *workspaceEntry, backend string, slot *memberSlot, create func(context.Context) (Member, error)) {
	finished := false
	defer func() {
		if !finished {
			r.publish(w, backend, slot, nil, fmt.Errorf("workspace %s: opening the %s backend panicked", w.name, backend), false)
			r.unlease(w)
		}
	}()
	m, err := create(ctx)
	finished = true
	if err == nil && m == nil {
		err = errors.New("create returned no member and no error")
	}
	if err != nil {
		err = fmt.Errorf("workspace %s: open the %s backend: %w", w.name, backend, err)
	}
	if closeIt := r.publish(w, backend, slot, m, err, ctx.Err() != nil); closeIt {
		cctx, cancel := context.WithTimeout(context.Background(), r.cfg.CloseTimeout)
		defer cancel()
		if cerr := m.Close(cctx); cerr != nil {
			r.log.Warn("closing a member created during shutdown failed", "workspace", w.name, "backend", backend, "error", Sanitize(cerr.Error()))
		}
	}
}

// publish records a creation's outcome and wakes the waiters. It reports
// whether the member must be closed because the registry closed meanwhile.
func (r *Registry) publish(w *workspaceEntry, backend string, slot *memberSlot, m Member, err error, creatorGaveUp bool) (closeIt bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.creating--
	if r.creating == 0 && r.created != nil {
		close(r.created)
		r.created = nil
	}
	if err == nil && r.closed {
		closeIt = true
		err = fmt.Errorf("workspace registry: %w", ErrClosed)
	}
	if err != nil {
		slot.err = err
		slot.creatorGaveUp = creatorGaveUp && !closeIt
		if w.members[backend] == slot {
			delete(w.members, backend) // not cached: the next Get retries
		}
	} else {
		slot.m = m
	}
	close(slot.ready)
	return closeIt
}

func (r *Registry) unlease(w *workspaceEntry) {
	r.mu.Lock()
	w.leases--
	r.touchLocked(w)
	r.mu.Unlock()
}

func (r *Registry) touchLocked(w *workspaceEntry) {
	r.seq++
	w.lastSeq = r.seq
	w.lastUsed = time.Now()
}

// evictLocked makes room for the new workspace keep: it removes least recently
// used workspaces without leases until MaxWorkspaces holds, and returns them
// for closing (after unlocking). If every other workspace is leased it allows
// going over and logs it.
func (r *Registry) evictLocked(keep *workspaceEntry) []*workspaceEntry {
	if r.cfg.MaxWorkspaces <= 0 {
		return nil
	}
	var evicted []*workspaceEntry
	for len(r.ws) > r.cfg.MaxWorkspaces {
		var victim *workspaceEntry
		for _, w := range r.ws {
			if w != keep && w.leases == 0 && (victim == nil || w.lastSeq < victim.lastSeq) {
				victim = w
			}
		}
		if victim == nil {
			r.log.Warn("more workspaces open than max_workspaces: every other workspace is in use, none can be closed yet",
				"open", len(r.ws), "max_workspaces", r.cfg.MaxWorkspaces)
			break
		}
		delete(r.ws, victim.name)
		evicted = append(evicted, victim)
	}
	return evicted
}

// membersOf lists the created members of workspaces already removed from the
// map. Creations cannot be in flight there: a creation holds a lease, and
// leased workspaces are not removed (except by Close, which waits for them).
func (r *Registry) membersOf(ws []*workspaceEntry) []namedMember {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []namedMember
	for _, w := range ws {
		for backend, slot := range w.members {
			if slot.m != nil {
				out = append(out, namedMember{workspace: w.name, backend: backend, m: slot.m})
			}
		}
	}
	return out
}

type namedMember struct {
	workspace, backend string
	m                  Member
}

// closeWorkspaces closes the members of workspaces removed from the map.
func (r *Registry) closeWorkspaces(ws []*workspaceEntry, why string) {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.CloseTimeout)
	defer cancel()
	for _, w := range ws {
		r.log.Info("closing workspace pools", "workspace", w.name, "reason", why)
	}
	for _, nm := range r.membersOf(ws) {
		if err := nm.m.Close(ctx); err != nil {
			r.log.Warn("closing workspace pools failed", "workspace", nm.workspace, "backend", nm.backend, "error", Sanitize(err.Error()))
		}
	}
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
			var idle []*workspaceEntry
			for name, w := range r.ws {
				if w.leases == 0 && now.Sub(w.lastUsed) >= r.cfg.IdleTimeout {
					delete(r.ws, name)
					idle = append(idle, w)
				}
			}
			r.mu.Unlock()
			if len(idle) > 0 {
				r.closeWorkspaces(idle, "idle")
			}
		}
	}
}

// Metrics returns the metrics of every pool of workspace ("" = every
// workspace), sorted by workspace, backend and name.
func (r *Registry) Metrics(workspace string) []Metrics {
	r.mu.Lock()
	var members []namedMember
	for name, w := range r.ws {
		if workspace != "" && name != workspace {
			continue
		}
		for backend, slot := range w.members {
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

	var out []Metrics
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
	slices.SortFunc(out, func(a, b Metrics) int {
		return cmp.Or(cmp.Compare(a.Workspace, b.Workspace), cmp.Compare(a.Backend, b.Backend), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// Workspaces lists the open workspaces, most recently used first.
func (r *Registry) Workspaces() []string {
	r.mu.Lock()
	ws := make([]*workspaceEntry, 0, len(r.ws))
	for _, w := range r.ws {
		ws = append(ws, w)
	}
	r.mu.Unlock()
	slices.SortFunc(ws, func(a, b *workspaceEntry) int { return cmp.Compare(b.lastSeq, a.lastSeq) })
	names := make([]string, len(ws))
	for i, w := range ws {
		names[i] = w.name
	}
	return names
}

// Close closes every member of every workspace (leased or not), waits for
// creations in flight (closing what they create), and stops the janitor. Get
// afterwards returns an error wrapping ErrClosed. Idempotent.
func (r *Registry) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	var all []*workspaceEntry
	for _, w := range r.ws {
		all = append(all, w)
	}
	r.ws = make(map[string]*workspaceEntry)
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
	for _, nm := range r.membersOf(all) {
		if err := nm.m.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("workspace %s: close the %s backend: %w", nm.workspace, nm.backend, err))
		}
	}
	// Creations in flight close their own member when they see the registry closed.
	select {
	case <-created:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("workspace registry: gave up waiting for backends still opening: %w", ctx.Err()))
	}
	return errors.Join(errs...)
}
