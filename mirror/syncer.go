package mirror

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/progress"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/clienterr"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// States of a mirror, as pool_status shows them.
const (
	StateStarting      = "starting"       // checking the mirror (and rebuilding it if stale) before the first delivery
	StateOK            = "ok"             // caught up, or delivering
	StateRetrying      = "retrying"       // the last delivery failed; retrying with backoff
	StateReconciling   = "reconciling"    // being rebuilt from SQLite
	StateNotConfigured = "not configured" // the backend is not set up for this project: skipped
	StateStandby       = "standby"        // another server process on this project delivers to this mirror
	StateStopped       = "stopped"        // the workspace closed
)

// Defaults of Config.
const (
	DefaultBatch      = 256
	DefaultMinBackoff = 250 * time.Millisecond
	DefaultMaxBackoff = 5 * time.Second
	DefaultPoll       = 5 * time.Second
	// DefaultLinger is how long a woken mirror waits for more changes before
	// reading the outbox: a burst of task calls becomes one batch (one cursor
	// write on the task store's single writer) instead of one per call.
	DefaultLinger = 25 * time.Millisecond
	// DefaultLeaseTTL is how long a mirror's lease lasts without renewal; a
	// batch must finish within half of it.
	DefaultLeaseTTL = time.Minute
	// pruneEvery bounds how often delivered events are pruned (a write on the
	// task store's single writer).
	pruneEvery = 2 * time.Second
)

// ErrStopped is returned by Reconcile once the syncer has stopped.
var ErrStopped = errors.New("mirror: the syncer has stopped (the workspace closed)")

// Config configures a Syncer.
type Config struct {
	Store work.Outbox
	// Targets are the configured mirrors; each drains the outbox on its own.
	Targets []Target
	// Skipped are the mirrors not configured for the project, with the reason.
	Skipped map[string]string
	Logger  *slog.Logger
	// Batch is how many outbox events one delivery takes (0 = DefaultBatch).
	Batch int
	// MinBackoff and MaxBackoff bound the wait between failed deliveries.
	MinBackoff, MaxBackoff time.Duration
	// Poll is how often the outbox is read without a wake-up: another
	// process may have written to the same task database (0 = DefaultPoll).
	Poll time.Duration
	// Linger is how long a wake-up waits for more changes (0 = DefaultLinger,
	// negative = none).
	Linger time.Duration
	// LeaseTTL: only the holder of a mirror's lease (in the task database)
	// delivers to it, so that two processes never interleave a task's states
	// (0 = DefaultLeaseTTL).
	LeaseTTL time.Duration
	// OnLag is told, once per spell of failed deliveries, when a mirror's
	// oldest undelivered change has waited LagWarning (0 = DefaultLagWarning);
	// a delivery that succeeds re-arms it. It runs on the mirror's goroutine
	// and must not block. nil = nobody is told.
	OnLag      func(Lag)
	LagWarning time.Duration

	// idle, for the tests and benchmarks, is told each time a mirror has
	// delivered everything it found and waits again, with its cursor.
	idle func(mirror string, cursor int64)
}

// DefaultLagWarning is how long a change may wait for a mirror that keeps
// failing before Config.OnLag is told.
const DefaultLagWarning = time.Minute

// Lag is a mirror that has fallen behind: its deliveries keep failing.
type Lag struct {
	Mirror  string        // Vector or Graph
	Pending int           // changes not yet delivered
	Oldest  time.Duration // how long the oldest of them has waited
}

// Syncer keeps the project's mirrors in step with its task store: one
// goroutine per configured mirror drains the outbox from that mirror's cursor,
// in order, coalescing each batch's events per task and delivering the
// task's current state (or its deletion). Task calls never wait for it: they
// only write outbox rows and Wake it.
type Syncer struct {
	cfg    Config
	log    *slog.Logger
	ctx    context.Context // cancelled by Stop
	cancel context.CancelFunc
	wg     sync.WaitGroup
	runs   []*run
	owner  string // this syncer's id in mirror_leases

	pruneMu   sync.Mutex // guards lastPrune
	lastPrune time.Time

	feed feed // reads of the outbox and the tasks, shared by the runs
}

// run is one mirror's drain loop.
type run struct {
	s      *Syncer
	t      Target
	wake   chan struct{}  // capacity 1: a pending wake-up
	recon  chan reconcile // task_reconcile requests
	mu     sync.Mutex     // guards the fields below
	state  string
	err    string
	errAt  time.Time
	synced time.Time
	retry  time.Time // next attempt while retrying

	// Only the run's goroutine uses these.
	lagTold     bool      // OnLag was called in this spell of failures
	leaseUntil  time.Time // when this syncer's lease on the mirror ends
	cursor      int64     // the mirror's cursor, while cursorKnown
	cursorKnown bool      // false until read, and whenever another syncer may have moved it
	// remix is why a delivery found the mirror holding vectors of another
	// embedding: the next turn rebuilds it under the configured one.
	remix string
	// seen is the feed clock when the run's last read of the tasks ended:
	// a read it shares must have begun later.
	seen int64
	// woke is the feed clock when the run last took a wake-up: a read
	// begun later holds every change that woke it.
	woke int64
	// roleless is what this syncer knows of the mirror's entries from its own
	// writes under its current lease (see memo); forgotten with the cursor.
	roleless memo
}

type reconcile struct {
	ctx   context.Context
	reply chan ReconcileResult
}

// ReconcileResult says what rebuilding one mirror did.
type ReconcileResult struct {
	Mirror   string  `json:"mirror"`
	State    string  `json:"state" jsonschema:"done, not configured, standby or failed"`
	Tasks    int     `json:"tasks"`
	Removed  int     `json:"removed" jsonschema:"Entries of deleted tasks removed"`
	Cursor   int64   `json:"cursor" jsonschema:"Outbox position reached"`
	Millis   float64 `json:"ms"`
	Error    string  `json:"error,omitempty"`
	Detail   string  `json:"detail,omitempty"`
	internal error
}

// Err is the failure of a reconcile, if any.
func (r ReconcileResult) Err() error { return r.internal }

// Start starts one drain goroutine per target. Stop ends them.
func Start(cfg Config) *Syncer {
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(DefaultMaxBackoff, cfg.MinBackoff)
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Linger == 0 {
		cfg.Linger = DefaultLinger
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	s := &Syncer{cfg: cfg, log: cfg.Logger, owner: newOwner()}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if len(cfg.Targets) == 0 {
		// Nobody reads the outbox: drop what is there now and every
		// idlePrune (a mirror configured later sees its cursor behind the
		// pruned mark and rebuilds itself).
		s.wg.Add(1)
		go s.pruneAlone()
	}
	for _, t := range cfg.Targets {
		r := &run{s: s, t: t, wake: make(chan struct{}, 1), recon: make(chan reconcile), state: StateStarting}
		r.wake <- struct{}{} // drain once at start
		s.runs = append(s.runs, r)
		s.wg.Add(1)
		go r.loop()
	}
	return s
}

// Wake tells every mirror that the outbox has new events. It never blocks.
func (s *Syncer) Wake() {
	for _, r := range s.runs {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

// Stop ends every drain goroutine and waits for them (or for ctx). Undelivered
// events stay in the outbox for the next start.
func (s *Syncer) Stop(ctx context.Context) error {
	s.cancel()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("mirror: the syncer did not stop in time: %w", ctx.Err())
	}
	// Let another process's syncer take over at once.
	var errs []error
	for _, r := range s.runs {
		if err := s.cfg.Store.ReleaseLease(ctx, r.t.Name(), s.owner); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (r *run) set(state string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.state = state
	if err != nil {
		r.err, r.errAt = workspace.Redact(err.Error()), time.Now()
	} else if state == StateOK {
		r.synced = time.Now()
	}
}

func (r *run) loop() {
	defer r.s.wg.Done()
	ctx := r.s.ctx
	backoff := time.Duration(0)
	started := false
	// standby: another process holds the lease; only the poll tries again
	// (a wake-up per task call would be a lease write per task call).
	standby := false
	poll := time.NewTimer(r.s.cfg.Poll)
	defer poll.Stop()
	for {
		var timer <-chan time.Time
		if backoff > 0 {
			t := time.NewTimer(backoff)
			timer = t.C
			select {
			case <-ctx.Done():
				t.Stop()
				r.set(StateStopped, nil)
				return
			case req := <-r.recon:
				t.Stop()
				r.answer(req)
				continue
			case <-timer:
			}
		} else {
			wake := r.wake
			if standby {
				wake = nil
			}
			select {
			case <-ctx.Done():
				r.set(StateStopped, nil)
				return
			case req := <-r.recon:
				r.answer(req)
				continue
			case <-wake:
				r.woke = r.s.feed.tick()
				if !r.linger(ctx) {
					r.set(StateStopped, nil)
					return
				}
			case <-poll.C:
				poll.Reset(r.s.cfg.Poll)
			}
		}
		held, err := r.lease(ctx)
		standby = err == nil && !held
		if standby {
			r.set(StateStandby, nil)
			backoff = 0
			continue
		}
		if err == nil && !started {
			err = r.startup(ctx)
			started = err == nil
		}
		if err == nil {
			err = r.drain(ctx)
		}
		switch {
		case ctx.Err() != nil:
			r.set(StateStopped, nil)
			return
		case errors.Is(err, work.ErrLeaseLost):
			r.set(StateStandby, nil)
			standby, backoff = true, 0
			r.s.log.Info("mirror: another server process took over this mirror", "mirror", r.t.Name())
		case r.mixed(err):
			// The mirror holds vectors of another embedding (the provider
			// changed, or another process with other settings rebuilt it):
			// retrying the delivery cannot succeed, so the next turn rebuilds
			// the mirror, which is the server's own, under this lease.
			r.remix, started = workspace.Redact(err.Error()), false
			backoff = min(max(2*backoff, r.s.cfg.MinBackoff), r.s.cfg.MaxBackoff)
			r.mu.Lock()
			r.retry = time.Now().Add(backoff)
			r.mu.Unlock()
			r.set(StateRetrying, err)
			r.s.log.Warn("mirror: the mirror holds vectors of another embedding; rebuilding it", "mirror", r.t.Name(), "err", err)
		case notConfigured(err):
			r.set(StateNotConfigured, err)
			r.s.log.Warn("mirror: the backend is not configured; skipping this mirror", "mirror", r.t.Name(), "err", err)
			r.park(ctx, err)
			return
		case err != nil:
			backoff = min(max(2*backoff, r.s.cfg.MinBackoff), r.s.cfg.MaxBackoff)
			r.mu.Lock()
			r.retry = time.Now().Add(backoff)
			r.mu.Unlock()
			r.set(StateRetrying, err)
			r.s.log.Warn("mirror: delivery failed; retrying", "mirror", r.t.Name(), "in", backoff, "err", err)
			r.tellLag(ctx)
		default:
			r.lagTold = false
			if backoff > 0 {
				r.s.log.Info("mirror: delivering again", "mirror", r.t.Name())
			}
			backoff = 0
			r.set(StateOK, nil)
			if r.s.cfg.idle != nil {
				r.s.cfg.idle(r.t.Name(), r.cursor)
			}
		}
	}
}

// tellLag calls OnLag once the oldest undelivered change has waited
// LagWarning, once per spell of failures.
func (r *run) tellLag(ctx context.Context) {
	if r.lagTold || r.s.cfg.OnLag == nil {
		return
	}
	ms, err := r.s.cfg.Store.MirrorState(ctx, r.t.Name())
	if err != nil || ms.Oldest.IsZero() {
		return
	}
	limit := r.s.cfg.LagWarning
	if limit <= 0 {
		limit = DefaultLagWarning
	}
	if age := time.Since(ms.Oldest); age >= limit {
		r.lagTold = true
		r.s.cfg.OnLag(Lag{Mirror: r.t.Name(), Pending: ms.Pending, Oldest: age})
	}
}

// lease acquires or renews this syncer's lease on the mirror. While more than
// half of it is left (longer than any batch may take) it is held without a write.
func (r *run) lease(ctx context.Context) (bool, error) {
	if time.Until(r.leaseUntil) > r.s.cfg.LeaseTTL/2 {
		return true, nil
	}
	at := time.Now()
	if at.After(r.leaseUntil) {
		r.forget() // the lease lapsed: someone else may have delivered meanwhile
	}
	held, err := r.s.cfg.Store.AcquireLease(ctx, r.t.Name(), r.s.owner, r.s.cfg.LeaseTTL, deadOwner)
	if held && err == nil {
		r.leaseUntil = at.Add(r.s.cfg.LeaseTTL)
	}
	return held, err
}

// advance moves the mirror's cursor to seq, renewing the lease.
func (r *run) advance(ctx context.Context, seq int64) error {
	at := time.Now()
	err := r.s.cfg.Store.AdvanceCursorLeased(ctx, r.t.Name(), r.s.owner, r.s.cfg.LeaseTTL, seq)
	switch {
	case err == nil:
		r.leaseUntil = at.Add(r.s.cfg.LeaseTTL)
		r.cursor = max(r.cursor, seq) // the stored cursor never moves back either
		// Something reached the mirror (a batch, or a rebuild at start-up):
		// this spell of failures is over, even if the rest of the turn fails,
		// so the next spell is reported anew.
		r.lagTold = false
	case errors.Is(err, work.ErrLeaseLost):
		r.leaseUntil = time.Time{}
		r.forget()
	default:
		r.forget() // unknown whether it committed
	}
	return err
}

// forget drops what the run knows of the mirror and its cursor: another
// syncer may have written both since.
func (r *run) forget() {
	r.cursorKnown = false
	clear(r.roleless)
}

// apply writes one batch to the mirror within half the lease's life, so that
// no write of this syncer lands after another one took the lease over.
func (r *run) apply(ctx context.Context, tasks []work.Task, deleted []string) error {
	ctx, cancel := context.WithTimeout(ctx, r.s.cfg.LeaseTTL/2)
	defer cancel()
	mt, ok := r.t.(memoTarget)
	if !ok {
		return r.t.Apply(ctx, tasks, deleted)
	}
	if r.roleless == nil {
		r.roleless = memo{}
	}
	err := mt.applyMemo(ctx, tasks, deleted, r.roleless)
	if err != nil {
		// Some of the batch may have landed: what the mirror holds is unknown.
		clear(r.roleless)
	}
	return err
}

// linger waits Config.Linger for more changes to arrive; false when stopped.
func (r *run) linger(ctx context.Context) bool {
	if r.s.cfg.Linger <= 0 {
		return true
	}
	t := time.NewTimer(r.s.cfg.Linger)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		// Wake-ups that came meanwhile are covered by this drain.
		select {
		case <-r.wake:
			r.woke = r.s.feed.tick()
		default:
		}
		return true
	}
}

// notConfigured reports whether err says the backend is not set up for the
// project: retrying cannot help. Every adapter says so with the same kind.
func notConfigured(err error) bool {
	return clienterr.IsKind(err, clienterr.NotConfigured)
}

// park answers reconcile requests with why the mirror is skipped until Stop.
func (r *run) park(ctx context.Context, why error) {
	for {
		select {
		case <-ctx.Done():
			return
		case req := <-r.recon:
			req.reply <- ReconcileResult{Mirror: r.t.Name(), State: StateNotConfigured, Detail: workspace.Redact(why.Error())}
		}
	}
}

// startup rebuilds the mirror when it cannot be brought up to date from the
// outbox: never synced while tasks exist, events it missed were pruned, or
// empty while SQLite has tasks (someone dropped it).
func (r *run) startup(ctx context.Context) error {
	st, err := r.s.cfg.Store.MirrorState(ctx, r.t.Name())
	if err != nil {
		return err
	}
	n, err := r.s.cfg.Store.CountTasks(ctx)
	if err != nil {
		return err
	}
	why := ""
	// An empty project's mirror is not opened here (a managed Chroma would
	// start for nothing): its first delivery finds a drift, if any.
	if re, ok := r.t.(Reembedder); ok && (n > 0 || r.remix != "") {
		if r.remix != "" {
			why = r.remix
		} else if why, _, err = re.Drift(ctx); err != nil {
			return err
		}
	}
	switch {
	case why != "":
	case st.Behind():
		why = fmt.Sprintf("events after its cursor %d were pruned (through %d)", st.Cursor, st.PrunedThrough)
	case n > 0 && !st.HasCursor:
		why = "it was never synced and the project has tasks"
	case n > 0:
		empty, err := r.t.Empty(ctx)
		if err != nil {
			return err
		}
		if empty {
			why = "it is empty while the project has tasks"
		}
	}
	if why == "" {
		return nil
	}
	r.s.log.Info("mirror: rebuilding from the task store", "mirror", r.t.Name(), "why", why)
	_, err = r.rebuild(ctx)
	return err
}

// drain delivers every event after the cursor, batch by batch.
func (r *run) drain(ctx context.Context) error {
	store := r.s.cfg.Store
	if !r.cursorKnown {
		st, err := store.MirrorState(ctx, r.t.Name())
		if err != nil {
			return err
		}
		r.cursor, r.cursorKnown = st.Cursor, true
	}
	cursor := r.cursor
	for {
		// A shared read must have begun after this run's last read ended
		// (states never go back) and after its last wake-up (it holds the
		// changes that woke it).
		rd, err := r.s.feed.next(ctx, store, r.s.cfg.Batch, cursor, max(r.seen, r.woke))
		if err != nil {
			return err
		}
		r.seen = rd.end
		if len(rd.evs) == 0 {
			return nil
		}
		if err := r.apply(ctx, rd.tasks, rd.gone); err != nil {
			return err
		}
		last := rd.evs[len(rd.evs)-1].Seq
		if err := r.advance(ctx, last); err != nil {
			return err
		}
		cursor = last
		r.set(StateOK, nil)
		r.s.prune(ctx, false)
		if len(rd.evs) < r.s.cfg.Batch {
			// The outbox held nothing more when it was read, after the
			// last wake-up was taken: a change committed since then has
			// woken this mirror again (or the poll finds it, if another
			// process wrote it), so no second read is needed.
			return nil
		}
	}
}

// idlePrune is how often the outbox is emptied when no mirror is configured.
const idlePrune = time.Minute

func (s *Syncer) pruneAlone() {
	defer s.wg.Done()
	t := time.NewTicker(idlePrune)
	defer t.Stop()
	for {
		if _, err := s.cfg.Store.PruneOutbox(s.ctx, nil); err != nil && s.ctx.Err() == nil {
			s.log.Warn("mirror: pruning the outbox failed", "err", err)
		}
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// prune drops the events every configured mirror has delivered, at most
// every pruneEvery unless force.
func (s *Syncer) prune(ctx context.Context, force bool) {
	s.pruneMu.Lock()
	if !force && time.Since(s.lastPrune) < pruneEvery {
		s.pruneMu.Unlock()
		return
	}
	s.lastPrune = time.Now()
	s.pruneMu.Unlock()
	names := make([]string, len(s.runs))
	for i, r := range s.runs {
		names[i] = r.t.Name()
	}
	if _, err := s.cfg.Store.PruneOutbox(ctx, names); err != nil && ctx.Err() == nil {
		s.log.Warn("mirror: pruning the outbox failed", "err", err)
	}
}

// rebuild writes every task to the mirror, removes what is not a task any
// more, and moves the cursor to the outbox position the tasks were read at.
// It runs on the mirror's own goroutine, so nothing else writes the mirror
// meanwhile; tasks may change in SQLite meanwhile, and those changes are
// delivered afterwards from the outbox.
func (r *run) rebuild(ctx context.Context) (ReconcileResult, error) {
	start := time.Now()
	res := ReconcileResult{Mirror: r.t.Name()}
	r.set(StateReconciling, nil)
	store := r.s.cfg.Store
	tasks, seq, err := store.Snapshot(ctx)
	if err != nil {
		return res, err
	}
	r.seen = r.s.feed.tick() // later deliveries share no read older than this one
	total := float64(len(tasks) + 1)
	name := r.t.Name()
	re, _ := r.t.(Reembedder)
	reset := false // the mirror was emptied for the configured embedding
	if re != nil {
		why, now, err := re.Drift(ctx)
		if err != nil {
			return res, err
		}
		if why == "" && r.remix != "" {
			why = r.remix
		}
		if why != "" {
			if err := r.reset(ctx, re, why); err != nil {
				return res, err
			}
			reset, res.Detail = true, fmt.Sprintf("%s; rebuilt it with %s", why, cmp.Or(now, "the configured provider"))
		}
	}
	progress.Report(ctx, fmt.Sprintf("%s mirror: rebuilding from %d tasks", name, len(tasks)), 0, total)
	for i := 0; i < len(tasks); i += r.s.cfg.Batch {
		chunk := tasks[i:min(i+r.s.cfg.Batch, len(tasks))]
		if held, err := r.lease(ctx); err != nil || !held {
			return res, cmp.Or(err, work.ErrLeaseLost)
		}
		err := r.apply(ctx, chunk, nil)
		if err != nil && re != nil && !reset && re.Mixed(err) {
			// A size the provider only tells by answering (same model,
			// other dimensions): empty the mirror and start over, once.
			why := workspace.Redact(err.Error())
			if err := r.reset(ctx, re, why); err != nil {
				return res, err
			}
			reset, res.Detail, res.Tasks, i = true, why+"; rebuilt it with the configured provider", 0, -r.s.cfg.Batch
			continue
		}
		if err != nil {
			return res, err
		}
		res.Tasks += len(chunk)
		progress.Report(ctx, fmt.Sprintf("%s mirror: wrote %d of %d tasks", name, res.Tasks, len(tasks)), float64(res.Tasks), total)
	}
	have, err := r.t.Keys(ctx)
	if err != nil {
		return res, err
	}
	ids := make(map[string]bool, len(tasks))
	for _, t := range tasks {
		ids[t.ID] = true
	}
	var extra []string
	for _, k := range have {
		if !ids[k] {
			extra = append(extra, k)
		}
	}
	slices.Sort(extra)
	extra = slices.Compact(extra)
	for i := 0; i < len(extra); i += r.s.cfg.Batch {
		if err := r.apply(ctx, nil, extra[i:min(i+r.s.cfg.Batch, len(extra))]); err != nil {
			return res, err
		}
	}
	res.Removed = len(extra)
	if err := r.advance(ctx, seq); err != nil {
		return res, err
	}
	r.remix = ""
	res.Cursor, res.State = seq, "done"
	res.Millis = float64(time.Since(start).Microseconds()) / 1e3
	progress.Report(ctx, fmt.Sprintf("%s mirror: rebuilt (%d tasks, %d stale entries removed)", name, res.Tasks, res.Removed), total, total)
	r.s.log.Info("mirror: rebuilt", "mirror", name, "tasks", res.Tasks, "removed", res.Removed, "cursor", seq, "ms", res.Millis,
		"reembedded", res.Detail)
	r.s.prune(ctx, true)
	return res, nil
}

// reset empties the mirror for the configured embedding, under this
// syncer's lease: a process in standby never drops what another delivers to.
func (r *run) reset(ctx context.Context, re Reembedder, why string) error {
	if held, err := r.lease(ctx); err != nil || !held {
		return cmp.Or(err, work.ErrLeaseLost)
	}
	progress.Report(ctx, fmt.Sprintf("%s mirror: %s; emptying it to rebuild it", r.t.Name(), why), 0, 0)
	r.s.log.Warn("mirror: emptying the mirror to rebuild it under the configured embedding", "mirror", r.t.Name(), "why", why)
	ctx, cancel := context.WithTimeout(ctx, r.s.cfg.LeaseTTL/2)
	defer cancel()
	return re.Reset(ctx)
}

// mixed reports whether a delivery failed because the mirror holds vectors
// of another embedding than the configured one.
func (r *run) mixed(err error) bool {
	re, ok := r.t.(Reembedder)
	return ok && err != nil && re.Mixed(err)
}

// answer runs a task_reconcile request on the mirror's goroutine, then
// delivers what changed meanwhile.
func (r *run) answer(req reconcile) {
	ctx, cancel := mergeCancel(r.s.ctx, req.ctx)
	defer cancel()
	if held, err := r.lease(ctx); err == nil && !held {
		r.set(StateStandby, nil)
		req.reply <- ReconcileResult{Mirror: r.t.Name(), State: StateStandby,
			Detail: "another server process on this project delivers to this mirror; it rebuilds it at its start-up, or run task_reconcile there"}
		return
	}
	res, err := r.rebuild(ctx)
	if err == nil {
		err = r.drain(ctx)
	}
	if err != nil {
		res.State, res.Error, res.internal = "failed", workspace.Redact(err.Error()), err
		r.set(StateRetrying, err)
		// Come back to it on the loop's next turn.
		select {
		case r.wake <- struct{}{}:
		default:
		}
	} else {
		r.set(StateOK, nil)
	}
	req.reply <- res
}

// mergeCancel returns a context with the values of req that ends when
// either ends.
func mergeCancel(base, req context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(req)
	stop := context.AfterFunc(base, cancel)
	return ctx, func() { stop(); cancel() }
}

// Reconcile rebuilds the named mirrors (all when names is empty) from the
// task store and reports progress through ctx. A mirror that is not
// configured is reported as such.
func (s *Syncer) Reconcile(ctx context.Context, names []string) ([]ReconcileResult, error) {
	var out []ReconcileResult
	want := func(n string) bool { return len(names) == 0 || slices.Contains(names, n) }
	for _, r := range s.runs {
		if !want(r.t.Name()) {
			continue
		}
		req := reconcile{ctx: ctx, reply: make(chan ReconcileResult, 1)}
		select {
		case r.recon <- req:
		case <-s.ctx.Done():
			return out, ErrStopped
		case <-ctx.Done():
			return out, ctx.Err()
		}
		select {
		case res := <-req.reply:
			out = append(out, res)
		case <-ctx.Done():
			// The rebuild sees the same ctx end and stops; its reply is buffered.
			return out, ctx.Err()
		}
	}
	for _, n := range sortedKeys(s.cfg.Skipped) {
		if want(n) {
			out = append(out, ReconcileResult{Mirror: n, State: StateNotConfigured, Detail: s.cfg.Skipped[n]})
		}
	}
	slices.SortStableFunc(out, func(a, b ReconcileResult) int { return rank(a.Mirror) - rank(b.Mirror) })
	return out, nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Status is one mirror's lag and health.
type Status struct {
	Mirror      string  `json:"mirror" jsonschema:"vector or graph"`
	State       string  `json:"state" jsonschema:"ok, starting, retrying, reconciling, standby, not configured or stopped"`
	Pending     int     `json:"pending"`
	OldestAgeMs float64 `json:"oldest_age_ms"`
	Cursor      int64   `json:"cursor"`
	LastError   string  `json:"last_error,omitempty"`
	RetryInMs   float64 `json:"retry_in_ms,omitempty"`
	Note        string  `json:"note,omitempty"`
}

// Status returns every mirror's state and lag (configured ones first).
func (s *Syncer) Status(ctx context.Context) []Status {
	var out []Status
	for _, r := range s.runs {
		r.mu.Lock()
		st := Status{Mirror: r.t.Name(), State: r.state}
		if r.state == StateRetrying || (r.err != "" && r.errAt.After(r.synced)) {
			st.LastError = r.err
		}
		if r.state == StateRetrying {
			st.RetryInMs = float64(max(time.Until(r.retry), 0).Microseconds()) / 1e3
		}
		if r.state == StateStandby {
			st.Note = "another server process on this project holds this mirror's lease and delivers to it"
		}
		r.mu.Unlock()
		ms, err := s.cfg.Store.MirrorState(ctx, st.Mirror)
		if err != nil {
			st.Note = "lag unknown: " + workspace.Redact(err.Error())
		} else {
			st.Pending, st.Cursor = ms.Pending, ms.Cursor
			if !ms.Oldest.IsZero() {
				st.OldestAgeMs = float64(time.Since(ms.Oldest).Microseconds()) / 1e3
			}
		}
		out = append(out, st)
	}
	for _, n := range sortedKeys(s.cfg.Skipped) {
		out = append(out, Status{Mirror: n, State: StateNotConfigured, Note: s.cfg.Skipped[n]})
	}
	slices.SortStableFunc(out, func(a, b Status) int { return rank(a.Mirror) - rank(b.Mirror) })
	return out
}

// rank orders mirrors as pool_status and task_reconcile list them.
func rank(name string) int {
	switch name {
	case Vector:
		return 0
	case Graph:
		return 1
	}
	return 2
}
