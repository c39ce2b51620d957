package pooling

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is wrapped by errors from a closed pool (Acquire after Close, or an
// Acquire that was waiting when Close was called); a registry of pools may
// wrap it too once it is closed.
var ErrClosed = errors.New("pool is closed")

// ErrTimeout is wrapped by the error Acquire returns when no connection became
// free within Config.AcquireTimeout.
var ErrTimeout = errors.New("timed out waiting for a free connection")

// Hooks tell a pool how to manage one kind of connection. The pool never calls
// a hook while holding its lock, so hooks may block (within reason: the pool
// bounds Open and Ping by AcquireTimeout) and may call the pool's Metrics.
type Hooks[T any] struct {
	Open  func(ctx context.Context) (T, error)    // required
	Close func(conn T) error                      // required
	Ping  func(ctx context.Context, conn T) error // optional: pre-ping and health checks
	Reset func(ctx context.Context, conn T) error // optional: on release when ResetOnReturn
}

// Config is a pool's frozen configuration.
type Config struct {
	Name        string // e.g. "sqlite.readers"
	Backend     string // "operational" | "vector" | "graph"
	Workspace   string // project root, for metrics and logs
	MinConns    int    // kept open (filled by the monitor, never blocking New); <= MaxConns
	MaxConns    int    // >= 1; connections kept open, idle or in use
	MaxOverflow int    // >= 0; extra connections opened under load, closed on release
	// PrePing pings an idle connection before handing it out (needs Hooks.Ping);
	// one that fails is closed and replaced by a fresh one.
	PrePing        bool
	Recycle        time.Duration // 0 = never; connections older than this are closed on release/acquire
	AcquireTimeout time.Duration // > 0; also bounds each Open and Ping
	ResetOnReturn  bool          // call Hooks.Reset on release; a failing Reset closes the connection
	LIFO           bool          // hand out the most recently returned idle connection (else the oldest)
	IdleTimeout    time.Duration // 0 = never; the monitor closes longer-idle ones, not below MinConns
	// HealthCheckInterval is how often the monitor runs: it pings connections
	// idle for at least this long, replaces dead ones, refills to MinConns,
	// evicts idle ones, reports leaks and probes a tripped breaker.
	// 0 = no monitor (MinConns is then filled once, in the background).
	HealthCheckInterval time.Duration
	LeakThreshold       time.Duration // 0 = off; held longer is logged once with its holder (needs the monitor)
	BreakerThreshold    int           // consecutive Open/Ping failures that trip it; 0 = 5
	BreakerCooldown     time.Duration // 0 = 5s; doubles on each failed trial, up to a minute
	Logger              *slog.Logger  // nil = slog.Default()
	// Sanitize masks credentials in a backend's error text before the pool
	// keeps it (LastError, breaker errors, logs). The pool knows nothing of
	// credentials: the adapter that knows its backend's secrets sets it.
	// nil = the text is kept as it is.
	Sanitize func(string) string
	// OnBreaker is told when the circuit breaker opens (the backend failed
	// BreakerThreshold times in a row) and when it closes again (the backend
	// answers). It is called without the pool's lock, on the caller's
	// goroutine, and must not block. nil = nobody is told.
	OnBreaker func(BreakerEvent)
}

// BreakerEvent is a change of a pool's circuit breaker (Config.OnBreaker).
type BreakerEvent struct {
	Pool, Backend, Workspace string // from Config
	// Open: the breaker opened and calls fail fast for RetryAfter; false: it
	// closed, the backend answers again.
	Open       bool
	RetryAfter time.Duration
	LastError  string // the backend's last failure, sanitized (when Open)
}

func (c Config) validate() error {
	var problem string
	switch {
	case c.MaxConns < 1:
		problem = fmt.Sprintf("max_connections must be at least 1, got %d", c.MaxConns)
	case c.MinConns < 0 || c.MinConns > c.MaxConns:
		problem = fmt.Sprintf("min_connections must be between 0 and max_connections (%d), got %d", c.MaxConns, c.MinConns)
	case c.MaxOverflow < 0:
		problem = fmt.Sprintf("max_overflow must not be negative, got %d", c.MaxOverflow)
	case c.AcquireTimeout <= 0:
		problem = fmt.Sprintf("pool_timeout must be more than 0, got %s", c.AcquireTimeout)
	case c.Recycle < 0, c.IdleTimeout < 0, c.HealthCheckInterval < 0, c.LeakThreshold < 0, c.BreakerCooldown < 0:
		problem = "pool_recycle, idle_timeout, health_check_interval, leak_detection_threshold and the breaker cooldown must not be negative"
	case c.BreakerThreshold < 0:
		problem = fmt.Sprintf("circuit_breaker_threshold must not be negative, got %d", c.BreakerThreshold)
	default:
		return nil
	}
	return fmt.Errorf("pool %s: invalid configuration: %s", c.Name, problem)
}

// epoch anchors the pool clock: nanoseconds on the monotonic clock, which
// time.Since reads without the wall clock.
var epoch = time.Now()

func monotonic() int64 { return int64(time.Since(epoch)) }

// entry is one open connection and its bookkeeping.
type entry[T any] struct {
	val     T
	created int64 // pool clock; immutable

	// Guarded by Pool.mu.
	lastUsed     int64  // pool clock when it went idle; 0 until the monitor stamps it (Release reads no clock)
	out          bool   // checked out to a caller
	acquiredAt   int64  // pool clock of the checkout, when out
	holder       string // from WithHolder, when out
	leakReported bool   // this checkout was reported as a leak
	idx          int    // position in Pool.all
}

// Pool is a generic connection pool. See the package documentation.
type Pool[T any] struct {
	// Immutable after New.
	cfg       Config
	hooks     Hooks[T]
	log       *slog.Logger
	label     string // "pool NAME for WORKSPACE", the prefix of every error
	errClosed error  // ErrClosed wrapped with label
	limit     int    // MaxConns + MaxOverflow
	prePing   bool   // PrePing and there is a Ping hook

	// baseCtx is given to Reset and to the monitor's hooks; Close cancels it.
	baseCtx     context.Context
	cancel      context.CancelFunc
	monitorDone chan struct{} // closed when the monitor exits; nil without a monitor
	waiterPool  sync.Pool     // idle *waiter[T], so a contended Acquire need not allocate one
	closing     atomic.Bool   // set by Close, read without mu to skip Reset
	skew        atomic.Int64  // added to the clock; tests move time forward with it

	// mu is the pool's lock: it guards every field below. Only bookkeeping
	// happens with mu held: never a hook (Open, Close, Ping, Reset), a log call
	// or a blocking channel operation (handoffs go to buffered channels).
	mu      sync.Mutex
	closed  bool
	drained chan struct{} // made by Close; closed when total reaches 0
	total   int           // open connections plus slots reserved for an Open or held during a ping
	inUse   int           // checked out to callers
	idle    idleList[T]
	all     []*entry[T] // every open connection, for leak detection
	waiters waitQueue[T]
	brk     breaker
	waits   waitRing
	handles []Conn[T] // unused Conn handles, see newConnLocked
	// clockSeen is the latest pool-clock reading taken for work under mu: a
	// lower bound for now that Release uses instead of reading the clock.
	clockSeen int64

	acquires, timeouts, created, closedConns, recycled, pingFailures, errs, leaks int64

	lastErr    string
	hadProblem bool  // an error or timeout happened
	problemAt  int64 // pool clock of the last one
}

// Conn is a connection checked out of a pool. Release or Discard it exactly
// once; later calls do nothing.
type Conn[T any] struct {
	p    *Pool[T]
	e    *entry[T]
	val  T
	done atomic.Bool // set by the first Release or Discard
}

// New creates a pool and, when it needs one, its health monitor goroutine
// (stopped by Close). It validates cfg and does not block on MinConns: the
// monitor opens those in the background.
func New[T any](cfg Config, hooks Hooks[T]) (*Pool[T], error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if hooks.Open == nil || hooks.Close == nil {
		return nil, fmt.Errorf("pool %s: invalid hooks: Open and Close are required", cfg.Name)
	}
	if cfg.BreakerThreshold == 0 {
		cfg.BreakerThreshold = defaultBreakerThreshold
	}
	if cfg.BreakerCooldown == 0 {
		cfg.BreakerCooldown = defaultBreakerCooldown
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Sanitize == nil {
		cfg.Sanitize = func(s string) string { return s }
	}
	label := "pool " + cfg.Name
	if cfg.Workspace != "" {
		label += " for " + cfg.Workspace
	}
	p := &Pool[T]{
		cfg:       cfg,
		hooks:     hooks,
		log:       cfg.Logger.With("pool", cfg.Name, "backend", cfg.Backend, "workspace", cfg.Workspace),
		label:     label,
		errClosed: fmt.Errorf("%s: %w", label, ErrClosed),
		limit:     cfg.MaxConns + cfg.MaxOverflow,
		prePing:   cfg.PrePing && hooks.Ping != nil,
		brk:       breaker{threshold: cfg.BreakerThreshold, base: cfg.BreakerCooldown, cooldown: cfg.BreakerCooldown},
	}
	p.baseCtx, p.cancel = context.WithCancel(context.Background())
	if cfg.HealthCheckInterval > 0 || cfg.MinConns > 0 {
		p.monitorDone = make(chan struct{})
		go p.monitor()
	}
	return p, nil
}

func (p *Pool[T]) now() int64 { return monotonic() + p.skew.Load() }

func (p *Pool[T]) expired(e *entry[T], now int64) bool {
	return p.cfg.Recycle > 0 && now-e.created >= int64(p.cfg.Recycle)
}

// Acquire checks a connection out, waiting up to AcquireTimeout or until ctx
// ends, whichever is first. Waiters are served in arrival order. The holder
// (tool name) is taken from ctx, see WithHolder.
//
// Errors wrap ErrTimeout (no connection became free in time), ErrClosed,
// ErrCircuitOpen (*CircuitOpenError: the backend is down, retry later), ctx's
// error, or the Open hook's error.
func (p *Pool[T]) Acquire(ctx context.Context) (*Conn[T], error) {
	if err := ctx.Err(); err != nil {
		return nil, p.callerErr(err)
	}
	holder, _ := ctx.Value(holderKey{}).(string)
	start := p.now()

	p.mu.Lock()
	var trial uint64
	for spin := 0; ; spin++ {
		if p.closed {
			p.mu.Unlock()
			return nil, p.errClosed
		}
		p.clockSeen = max(p.clockSeen, start)
		if p.brk.open {
			t, cerr := p.brk.admit(start, p.label)
			if cerr != nil {
				p.mu.Unlock()
				return nil, cerr
			}
			trial = t
		}
		// Exhausted with nobody queued: the holders are most likely goroutines
		// that only need a CPU to release (on a busy machine they are often
		// parked on this very mutex). Yielding twice before queueing is much
		// cheaper than a wait, and cannot overtake a queued waiter.
		if trial != 0 || spin == 2 || p.idle.len() > 0 || p.total < p.limit || p.waiters.n > 0 {
			break
		}
		p.mu.Unlock()
		runtime.Gosched()
		p.mu.Lock()
	}
	var e *entry[T]
	if p.cfg.LIFO {
		e = p.idle.popBack()
	} else {
		e = p.idle.popFront()
	}
	if e != nil {
		if trial == 0 && !p.prePing && !p.expired(e, start) {
			// The fast path: one lock, one clock read, no allocation.
			p.checkoutLocked(e, start, start, holder)
			c := p.newConnLocked(e)
			p.mu.Unlock()
			return c, nil
		}
		p.mu.Unlock()
		return p.acquireSlow(ctx, e, holder, start, trial)
	}
	if p.total < p.limit {
		p.total++ // reserve a slot for the Open
		p.mu.Unlock()
		return p.acquireSlow(ctx, nil, holder, start, trial)
	}
	w := p.newWaiter()
	p.waiters.push(w)
	p.mu.Unlock()
	return p.await(ctx, w, holder, start, trial)
}

// acquireSlow finishes an Acquire that holds a slot: e is an idle connection to
// check (recycle, pre-ping) or nil when a new one must be opened.
func (p *Pool[T]) acquireSlow(ctx context.Context, e *entry[T], holder string, start int64, trial uint64) (*Conn[T], error) {
	if trial != 0 {
		defer p.abandonTrial(trial)
	}
	if e != nil && p.expired(e, p.now()) {
		p.mu.Lock()
		p.recycled++
		p.forgetLocked(e)
		p.mu.Unlock()
		p.closeValue(e.val)
		e = nil // keep the slot: open a replacement
	}
	verified := false
	if e != nil && (p.prePing || trial != 0) && p.hooks.Ping != nil {
		pctx, cancel := context.WithTimeout(ctx, p.cfg.AcquireTimeout)
		err := p.hooks.Ping(pctx, e.val)
		cancel()
		if err == nil {
			verified = true
		} else {
			callerGone := ctx.Err() != nil
			tripped, msg, cooldown := false, "", time.Duration(0)
			p.mu.Lock()
			if !callerGone {
				p.pingFailures++
				msg = p.cfg.Sanitize(err.Error())
				p.lastErr = "ping: " + msg
				// A trial's failed pre-ping does not decide: the fresh Open below does.
				tripped, _ = p.brk.failure(p.now(), msg, trial, trial == 0)
				if tripped {
					p.failWaitersLocked(p.circuitErrLocked())
					cooldown = p.brk.cooldown
				}
			}
			p.forgetLocked(e)
			if callerGone {
				p.freeSlotLocked()
			}
			p.mu.Unlock()
			if tripped {
				p.tellBreaker(true, cooldown, msg)
			}
			p.closeValue(e.val)
			if callerGone {
				return nil, p.callerErr(ctx.Err())
			}
			e = nil // keep the slot: open a replacement
		}
	}
	if e == nil {
		var err error
		if e, err = p.openEntry(ctx, trial); err != nil {
			return nil, err
		}
		verified = true
	}

	now := p.now()
	p.mu.Lock()
	if p.closed {
		p.forgetLocked(e)
		p.freeSlotLocked()
		p.mu.Unlock()
		p.closeValue(e.val)
		return nil, p.errClosed
	}
	recovered := false
	if verified || trial != 0 {
		// Without a Ping hook a trial that got an idle connection has nothing
		// to prove; handing it out counts as success.
		recovered = p.brk.success()
	}
	p.checkoutLocked(e, now, start, holder)
	c := p.newConnLocked(e)
	p.mu.Unlock()
	if recovered {
		p.log.Info("backend reachable again: circuit breaker closed")
		p.tellBreaker(false, 0, "")
	}
	return c, nil
}

// connSlab is how many Conn handles are allocated at once.
const connSlab = 64

// newConnLocked returns a fresh handle for e. Handles are cut from a slab so
// an Acquire does not allocate, and never reused, so a late second Release on
// an old handle cannot release somebody else's checkout. (pgxpool does the same.)
func (p *Pool[T]) newConnLocked(e *entry[T]) *Conn[T] {
	if len(p.handles) == 0 {
		p.handles = make([]Conn[T], connSlab)
	}
	c := &p.handles[0]
	p.handles = p.handles[1:]
	c.p, c.e, c.val = p, e, e.val
	return c
}

// await waits, queued as w, for a connection or a slot to be handed over.
func (p *Pool[T]) await(ctx context.Context, w *waiter[T], holder string, start int64, trial uint64) (*Conn[T], error) {
	if trial != 0 {
		defer p.abandonTrial(trial)
	}
	w.timer.Reset(p.cfg.AcquireTimeout)
	var h handoff[T]
	select {
	case h = <-w.ch:
		w.timer.Stop()
	case <-ctx.Done():
		w.timer.Stop()
		p.mu.Lock()
		if w.queued {
			p.waiters.remove(w)
			p.mu.Unlock()
			p.waiterPool.Put(w)
			return nil, p.callerErr(ctx.Err())
		}
		p.mu.Unlock()
		// Handed something as ctx ended: pass it on, so no wake-up is lost.
		p.giveBack(<-w.ch)
		p.waiterPool.Put(w)
		return nil, p.callerErr(ctx.Err())
	case <-w.timer.C:
		p.mu.Lock()
		if w.queued {
			p.waiters.remove(w)
			p.timeouts++
			err := &poolError{msg: fmt.Sprintf(
				"%s: no free connection within %s (max %d, overflow %d, %d in use); raise max_connections or pool_timeout",
				p.label, p.cfg.AcquireTimeout, p.cfg.MaxConns, p.cfg.MaxOverflow, p.inUse), err: ErrTimeout}
			p.lastErr = err.msg
			p.noteProblemLocked(p.now())
			p.mu.Unlock()
			p.waiterPool.Put(w)
			return nil, err
		}
		p.mu.Unlock()
		h = <-w.ch // handed over just as the timer fired: take it
	}
	// w is out of the queue, its channel drained and its timer stopped or
	// fired: it can serve another Acquire.
	p.waiterPool.Put(w)
	if h.err != nil {
		return nil, h.err
	}
	return p.acquireSlow(ctx, h.e, holder, start, trial)
}

// newWaiter takes a waiter from waiterPool or makes one with a stopped timer.
func (p *Pool[T]) newWaiter() *waiter[T] {
	if w, ok := p.waiterPool.Get().(*waiter[T]); ok {
		return w
	}
	w := &waiter[T]{ch: make(chan handoff[T], 1), timer: time.NewTimer(time.Hour)}
	w.timer.Stop()
	return w
}

// giveBack returns a handoff that a waiter no longer wants.
func (p *Pool[T]) giveBack(h handoff[T]) {
	if h.err != nil {
		return
	}
	p.mu.Lock()
	if h.e == nil {
		p.freeSlotLocked()
		p.mu.Unlock()
		return
	}
	closeIt := p.returnLocked(h.e, p.now(), false)
	p.mu.Unlock()
	if closeIt {
		p.closeValue(h.e.val)
	}
}

func (p *Pool[T]) abandonTrial(trial uint64) {
	p.mu.Lock()
	p.brk.abandon(trial)
	p.mu.Unlock()
}

// openEntry calls the Open hook for a slot the caller has reserved. On success
// the connection is registered and the slot stays reserved for it; on failure
// the slot is freed and the failure recorded (unless ctx ended: that is not
// the backend's fault).
func (p *Pool[T]) openEntry(ctx context.Context, trial uint64) (*entry[T], error) {
	octx, cancel := context.WithTimeout(ctx, p.cfg.AcquireTimeout)
	v, err := p.hooks.Open(octx)
	cancel()
	now := p.now()
	p.mu.Lock()
	if err != nil {
		callerGone := ctx.Err() != nil
		msg := p.cfg.Sanitize(err.Error())
		var tripped, reopened bool
		if callerGone || p.closed {
			p.brk.abandon(trial)
		} else {
			p.errs++
			p.lastErr = "open: " + msg
			p.noteProblemLocked(now)
			tripped, reopened = p.brk.failure(now, msg, trial, true)
			if tripped {
				p.failWaitersLocked(p.circuitErrLocked())
			}
		}
		p.freeSlotLocked()
		cooldown := p.brk.cooldown
		p.mu.Unlock()
		switch {
		case tripped:
			p.log.Warn("backend unavailable: circuit breaker open",
				"failures", p.cfg.BreakerThreshold, "retry_after", cooldown, "error", msg)
			p.tellBreaker(true, cooldown, msg)
		case reopened:
			p.log.Warn("backend still unavailable after a trial: circuit breaker re-opened",
				"retry_after", cooldown, "error", msg)
		}
		if callerGone {
			return nil, p.callerErr(ctx.Err())
		}
		return nil, &poolError{msg: p.label + ": open connection: " + msg, err: err}
	}
	e := &entry[T]{val: v, created: now, lastUsed: now}
	e.idx = len(p.all)
	p.all = append(p.all, e)
	p.created++
	recovered := p.brk.success()
	p.mu.Unlock()
	if recovered {
		p.log.Info("backend reachable again: circuit breaker closed")
		p.tellBreaker(false, 0, "")
	}
	return e, nil
}

// tellBreaker calls Config.OnBreaker, if set. The caller must not hold mu.
func (p *Pool[T]) tellBreaker(open bool, retryAfter time.Duration, lastErr string) {
	if p.cfg.OnBreaker != nil {
		p.cfg.OnBreaker(BreakerEvent{Pool: p.cfg.Name, Backend: p.cfg.Backend, Workspace: p.cfg.Workspace,
			Open: open, RetryAfter: retryAfter, LastError: lastErr})
	}
}

// checkoutLocked hands e to a caller that started waiting at start.
func (p *Pool[T]) checkoutLocked(e *entry[T], now, start int64, holder string) {
	e.out = true
	e.acquiredAt = now
	e.holder = holder
	e.leakReported = false
	p.inUse++
	p.acquires++
	p.waits.add(time.Duration(now - start))
}

// forgetLocked drops e from the pool's books; its slot stays counted in total
// until freeSlotLocked. The caller closes e.val after unlocking.
func (p *Pool[T]) forgetLocked(e *entry[T]) {
	last := len(p.all) - 1
	p.all[e.idx] = p.all[last]
	p.all[e.idx].idx = e.idx
	p.all[last] = nil
	p.all = p.all[:last]
	p.closedConns++
}

// freeSlotLocked gives up a slot: the first waiter gets it (to open a
// connection in) or the pool shrinks.
func (p *Pool[T]) freeSlotLocked() {
	if !p.closed {
		if w := p.waiters.pop(); w != nil {
			w.ch <- handoff[T]{}
			return
		}
	}
	p.total--
	if p.closed && p.total == 0 && p.drained != nil {
		close(p.drained)
		p.drained = nil
	}
}

// returnLocked puts a connection that is not checked out back: to the first
// waiter, to the idle list, or (closed pool, discarded, too old, overflow)
// out of the pool. It reports whether the caller must close e.val.
//
// now is 0 when the caller read no clock (Release: on the machines we measured
// a clock read is a third of an uncontended Acquire+Release). Then the recycle check uses
// clockSeen, a lower bound, so it is never early and in a busy pool prompt;
// Acquire checks again with the exact time, so an expired connection is never
// handed out. The idle timestamp is left for the monitor to stamp, which makes
// idle eviction late by at most one HealthCheckInterval, never early.
func (p *Pool[T]) returnLocked(e *entry[T], now int64, discard bool) (closeIt bool) {
	age := now
	if age == 0 {
		age = p.clockSeen
	}
	recycle := !discard && !p.closed && p.expired(e, age)
	overflow := p.total > p.cfg.MaxConns && p.waiters.n == 0
	if discard || recycle || overflow || p.closed {
		if recycle {
			p.recycled++
		}
		p.forgetLocked(e)
		p.freeSlotLocked()
		return true
	}
	if w := p.waiters.pop(); w != nil {
		w.ch <- handoff[T]{e: e}
		return false
	}
	e.lastUsed = now
	p.idle.pushBack(e)
	return false
}

// failWaitersLocked wakes every waiter with err.
func (p *Pool[T]) failWaitersLocked(err error) {
	for w := p.waiters.pop(); w != nil; w = p.waiters.pop() {
		w.ch <- handoff[T]{err: err}
	}
}

func (p *Pool[T]) circuitErrLocked() *CircuitOpenError {
	return &CircuitOpenError{Pool: p.label, RetryAfter: p.brk.retryAfter(p.now()), LastErr: p.brk.lastErr}
}

func (p *Pool[T]) noteProblemLocked(now int64) {
	p.hadProblem = true
	p.problemAt = now
}

// closeValue calls the Close hook (never under mu) and records a failure.
func (p *Pool[T]) closeValue(v T) error {
	err := p.hooks.Close(v)
	if err == nil {
		return nil
	}
	msg := p.cfg.Sanitize(err.Error())
	p.mu.Lock()
	p.errs++
	p.lastErr = "close: " + msg
	p.noteProblemLocked(p.now())
	p.mu.Unlock()
	p.log.Debug("closing a connection failed", "error", msg)
	return &poolError{msg: p.label + ": close connection: " + msg, err: err}
}

func (p *Pool[T]) callerErr(err error) error {
	return fmt.Errorf("%s: acquire: %w", p.label, err)
}

// Value is the underlying connection.
func (c *Conn[T]) Value() T { return c.val }

// Release returns the connection to the pool (after Hooks.Reset when
// ResetOnReturn; a failing Reset closes it instead). Only the first Release or
// Discard counts; later calls do nothing.
func (c *Conn[T]) Release() {
	if c.done.CompareAndSwap(false, true) {
		c.p.release(c.e, false)
	}
}

// Discard closes the connection instead of returning it (it is broken). Only
// the first Release or Discard counts; later calls do nothing.
func (c *Conn[T]) Discard() {
	if c.done.CompareAndSwap(false, true) {
		c.p.release(c.e, true)
	}
}

func (p *Pool[T]) release(e *entry[T], discard bool) {
	var resetErr error
	if !discard && p.cfg.ResetOnReturn && p.hooks.Reset != nil && !p.closing.Load() {
		if resetErr = p.hooks.Reset(p.baseCtx, e.val); resetErr != nil {
			discard = true
		}
	}
	p.mu.Lock()
	e.out, e.holder = false, ""
	p.inUse--
	if resetErr != nil && !p.closed {
		p.errs++
		p.lastErr = "reset: " + p.cfg.Sanitize(resetErr.Error())
		p.noteProblemLocked(p.now())
	}
	closeIt := p.returnLocked(e, 0, discard)
	p.mu.Unlock()
	if closeIt {
		p.closeValue(e.val)
	}
}

// Close stops the monitor, fails new and waiting Acquires with ErrClosed,
// closes the idle connections and waits (until ctx is done) for checked-out
// ones to be released; those still out when ctx ends are closed on release.
// It is idempotent: later calls return nil at once.
func (p *Pool[T]) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.closing.Store(true)
	drained := make(chan struct{})
	p.drained = drained
	idle := make([]*entry[T], 0, p.idle.len())
	for e := p.idle.popFront(); e != nil; e = p.idle.popFront() {
		p.forgetLocked(e)
		idle = append(idle, e)
	}
	p.failWaitersLocked(p.errClosed)
	p.total -= len(idle) // no freeSlotLocked per entry: waiters are gone
	if p.total == 0 {
		close(drained)
		p.drained = nil
	}
	p.mu.Unlock()

	p.cancel()
	if p.monitorDone != nil {
		<-p.monitorDone
	}
	var errs []error
	for _, e := range idle {
		if err := p.closeValue(e.val); err != nil {
			errs = append(errs, err)
		}
	}
	select {
	case <-drained:
	case <-ctx.Done():
		p.mu.Lock()
		out := p.inUse
		p.mu.Unlock()
		errs = append(errs, fmt.Errorf("%s: gave up waiting for %d checked-out connections (they are closed when released): %w",
			p.label, out, ctx.Err()))
	}
	return errors.Join(errs...)
}

// Metrics returns a snapshot.
func (p *Pool[T]) Metrics() Metrics {
	now := p.now()
	p.mu.Lock()
	p.clockSeen = max(p.clockSeen, now)
	m := Metrics{
		Name: p.cfg.Name, Backend: p.cfg.Backend, Workspace: p.cfg.Workspace,
		Total: p.total, InUse: p.inUse, Idle: p.idle.len(), Waiting: p.waiters.n,
		OverflowInUse: max(0, min(p.inUse, p.total-p.cfg.MaxConns)), Max: p.cfg.MaxConns,
		Acquires: p.acquires, Timeouts: p.timeouts, Created: p.created, Closed: p.closedConns,
		Recycled: p.recycled, PingFailures: p.pingFailures, Errors: p.errs, Leaks: p.leaks,
		LastError: p.lastErr, RetryAfter: p.brk.retryAfter(now),
	}
	switch {
	case p.closed:
		m.State = StateClosed
	case p.brk.open && !p.brk.halfOpen(now):
		m.State = StateDown
	case p.brk.open, p.hadProblem && now-p.problemAt < int64(recentWindow):
		m.State = StateDegraded
	default:
		m.State = StateHealthy
	}
	samples := p.waits.snapshot()
	p.mu.Unlock()
	m.AcquireWaitP50, m.AcquireWaitP99 = percentiles(samples)
	return m
}

// poolError carries a message written for people (sanitized, with what to do)
// while errors.Is/As still reach the cause.
type poolError struct {
	msg string
	err error
}

func (e *poolError) Error() string { return e.msg }
func (e *poolError) Unwrap() error { return e.err }

type holderKey struct{}

// WithHolder tags ctx with who is acquiring (a tool name), for leak reports.
func WithHolder(ctx context.Context, holder string) context.Context {
	return context.WithValue(ctx, holderKey{}, holder)
}
