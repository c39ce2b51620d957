package neo4j

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/config"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/managed"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

const (
	defaultAcquireTimeout = 30 * time.Second
	// maxConnectTimeout bounds a TCP connect, so a server that is gone fails
	// a call in seconds even when pool_timeout is long.
	maxConnectTimeout = 5 * time.Second
	// maxVerifyTimeout bounds one connectivity check (the pool's Open and Ping).
	maxVerifyTimeout = 5 * time.Second
	// maxRetryTime bounds the driver's own retries of a transaction that met a
	// transient error or a lost connection (its default, 30s, would hold every
	// call of an outage that long before the circuit breaker could see it).
	maxRetryTime = 3 * time.Second
	// closeTimeout bounds closing a session or a driver that is no longer used.
	closeTimeout = 5 * time.Second
	// txGrace is added to the query timeout for the client-side deadline: the
	// server's own transaction timeout should always fire first.
	txGrace   = 5 * time.Second
	userAgent = "mcp-task-orchestrator"
)

// Store is one project's graph on Neo4j. It is safe for concurrent use.
//
// It holds one driver, whose Bolt connection pool is the connection pool
// (sized and timed from database_pools.graph), and one pooling.Pool of
// session slots that bounds how many calls use the driver at once, checks the
// server (VerifyConnectivity, when opening a slot and as pre-ping) and trips a
// circuit breaker when it stops answering. A slot holds no connection and no
// session: each call opens a session on the driver and closes it, which hands
// its connection back to the driver's pool. Nothing is pooled twice.
type Store struct {
	opts     Options
	log      *slog.Logger
	mode     Mode
	project  string                 // shared: the _project of this project's nodes; "" in managed mode
	raw      bool                   // graph_query / graph_write are allowed
	database string                 // "" = the server's default database
	server   *managed.Server        // managed mode
	password string                 // managed: the generated password (never logged or shown)
	pool     *pooling.Pool[*handle] // a slot: the driver that passed the connectivity check
	// rawGate lets one raw Cypher statement (Query, Write) of this project
	// run at a time: a record is decoded whole by the driver, so this bounds
	// the memory one project's results can take at once.
	rawGate chan struct{}

	// fresh, when set (the benchmarks' baseline), replaces the pool: every
	// call builds its own driver and closes it afterwards.
	fresh bool

	mu          sync.Mutex // guards the fields below; never held during I/O
	cur         *handle    // the driver for the current server address
	closed      bool
	constrained map[string]bool // labels whose uniqueness constraint is known to exist

	schemaMu sync.Mutex // serializes creating constraints

	closeOnce sync.Once
	closeErr  error
}

// handle is a driver for one server address.
type handle struct {
	uri string
	d   driver.DriverWithContext
}

var errStaleDriver = errors.New("the Neo4j server moved to a new address")

// Open prepares the project's graph store. Shared mode contacts nothing yet;
// managed mode starts the project's Neo4j server and waits until it accepts
// Bolt connections, reporting progress.
func Open(ctx context.Context, opts Options) (*Store, error) {
	s := &Store{opts: opts, log: opts.Logger, constrained: map[string]bool{}, rawGate: make(chan struct{}, 1)}
	if s.log == nil {
		s.log = slog.Default()
	}
	if !opts.Settings.IsEnabled() {
		return nil, &Error{Kind: KindNotConfigured, Msg: "the graph tools are turned off for this project " +
			"(database_pools.graph.enabled is false in its .task_orchestrator/configs/config.json)"}
	}
	mode, reason := Resolve(opts)
	s.mode = mode
	switch mode {
	case ModeNone:
		return nil, &Error{Kind: KindNotConfigured, Msg: reason}
	case ModeShared:
		s.project, s.raw, s.database = ProjectID(opts.root()), opts.dedicated(), opts.Backends.Neo4jDatabase
		raw := strings.TrimSpace(opts.Backends.Neo4jURI)
		h, err := s.newHandle(raw)
		if err != nil {
			return nil, &Error{Kind: KindNotConfigured, Field: "NEO4J_URI", Err: err, Msg: fmt.Sprintf(
				"NEO4J_URI %q is not a Neo4j URI such as bolt://db.internal:7687 or neo4j://db.internal:7687 (%s): "+
					"fix it in the environment or the global config", sanitizeURI(raw), s.clean(err.Error()))}
		}
		s.cur = h
	case ModeManaged:
		s.raw = true
		if err := s.startManaged(ctx); err != nil {
			return nil, err
		}
	}
	pool, err := pooling.New(s.poolConfig(), s.slots().Hooks())
	if err != nil {
		s.closeDriver(context.WithoutCancel(ctx))
		_ = s.stopManaged(context.WithoutCancel(ctx))
		return nil, &Error{Kind: KindInvalid, Field: "database_pools.graph", Err: err,
			Msg: "the graph pool configuration is not valid: " + err.Error()}
	}
	s.pool = pool
	return s, nil
}

func (s *Store) acquireTimeout() time.Duration {
	if d := s.opts.Settings.PoolTimeout.Duration(); d > 0 {
		return d
	}
	return defaultAcquireTimeout
}

func (s *Store) breakerThreshold() int {
	if s.opts.Breaker > 0 {
		return s.opts.Breaker
	}
	return 5 // the pool's default
}

// configure maps database_pools.graph onto the driver's Bolt pool, which is
// the connection pool: as many connections as the session pool has slots
// (more would never be used), pool_timeout to acquire one, pool_recycle as
// their lifetime, and pre-ping as a liveness check on every borrow.
func (s *Store) configure(c *config.Config) {
	st := s.opts.Settings
	c.MaxConnectionPoolSize = max(st.MaxConnections, 1) + max(st.MaxOverflow, 0)
	c.ConnectionAcquisitionTimeout = s.acquireTimeout()
	c.MaxConnectionLifetime = st.PoolRecycle.Duration() // <= 0: no limit, as pool_recycle 0 means
	if st.PoolPrePing {
		c.ConnectionLivenessCheckTimeout = 0
	}
	c.SocketConnectTimeout = min(maxConnectTimeout, s.acquireTimeout())
	c.MaxTransactionRetryTime = min(maxRetryTime, s.acquireTimeout())
	c.TelemetryDisabled = true
	c.UserAgent = userAgent
}

// authToken: credentials come only from Backends (environment or global
// config) or, in managed mode, from the project's generated password.
func (s *Store) authToken() driver.AuthToken {
	if s.mode == ModeManaged {
		return driver.BasicAuth("neo4j", s.password, "")
	}
	user, pw := strings.TrimSpace(s.opts.Backends.Neo4jUsername), s.opts.Backends.Neo4jPassword.Reveal()
	if user == "" && pw == "" {
		return driver.NoAuth()
	}
	if user == "" {
		user = "neo4j"
	}
	return driver.BasicAuth(user, pw, "")
}

// newHandle builds a driver for uri (no I/O: the driver connects on first use).
func (s *Store) newHandle(uri string) (*handle, error) {
	d, err := driver.NewDriverWithContext(uri, s.authToken(), s.configure)
	if err != nil {
		return nil, err
	}
	return &handle{uri: uri, d: d}, nil
}

// boltURI is where the server is now: the configured URI, or the managed
// server's current port (it may move when the server is restarted).
func (s *Store) boltURI() string {
	if s.server == nil {
		return strings.TrimSpace(s.opts.Backends.Neo4jURI)
	}
	return boltFromBase(s.server.BaseURL())
}

// boltFromBase turns the managed server's http://127.0.0.1:PORT into bolt://127.0.0.1:PORT.
func boltFromBase(base string) string {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return ""
	}
	return "bolt://" + u.Host
}

// handle returns the driver for the current server address, building a new
// one (and closing the old) when the address changed.
func (s *Store) handle() (*handle, error) {
	uri := s.boltURI()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, &Error{Kind: KindUnavailable, Msg: "the graph store of this project is closed; retry the call"}
	}
	if s.cur != nil && s.cur.uri == uri {
		h := s.cur
		s.mu.Unlock()
		return h, nil
	}
	if uri == "" {
		s.mu.Unlock()
		return nil, &Error{Kind: KindUnavailable, Msg: "the project's local Neo4j server is not running; " + s.unavailableHint()}
	}
	h, err := s.newHandle(uri)
	if err != nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("neo4j driver for %s: %s", sanitizeURI(uri), s.clean(err.Error()))
	}
	old := s.cur
	s.cur = h
	s.mu.Unlock()
	if old != nil {
		s.log.Info("neo4j: the server moved; using a new driver", "uri", sanitizeURI(uri))
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		_ = old.d.Close(ctx)
		cancel()
	}
	return h, nil
}

func (s *Store) current() *handle {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

func (s *Store) poolConfig() pooling.Config {
	cfg := s.opts.Settings.PoolConfig()
	cfg.Name, cfg.Backend, cfg.Workspace = workspace.DatabaseNeo4j, workspace.BackendGraph, s.opts.Workspace
	cfg.AcquireTimeout = s.acquireTimeout()
	cfg.ResetOnReturn = false // slots hold no state to reset
	cfg.BreakerThreshold, cfg.BreakerCooldown, cfg.Logger = s.opts.Breaker, s.opts.Cooldown, s.log
	cfg.OnBreaker = s.opts.OnBreaker
	return cfg
}

// slots: opening a slot proves the server alive (VerifyConnectivity), so a
// server that is down trips the breaker; pre-ping is the same check, and a
// slot of a driver that was replaced (the server moved) is replaced too.
func (s *Store) slots() managed.Slots[*handle] {
	return managed.Slots[*handle]{
		Server:   s.server,
		Current:  s.handle,
		Check:    s.verify,
		Stale:    func(h *handle) bool { return h != s.current() || h.uri != s.boltURI() },
		ErrStale: errStaleDriver,
	}
}

// verify is the connectivity check: a Bolt connection is borrowed (opened,
// authenticated) and returned. A refusal by the server (wrong password, say)
// comes back as an *Error that says what to fix.
func (s *Store) verify(ctx context.Context, h *handle) error {
	vctx, cancel := context.WithTimeout(ctx, min(maxVerifyTimeout, s.acquireTimeout()))
	defer cancel()
	err := h.d.VerifyConnectivity(vctx)
	if err == nil {
		return nil
	}
	if ne := serverError(err); ne != nil {
		return s.serverFail("checking connectivity", ne, err, 0)
	}
	return fmt.Errorf("connectivity check: %s", s.clean(err.Error()))
}

// with runs fn with a session slot and the current driver. A slot whose call
// met a lost connection is discarded, so the next call proves the server
// alive first (and an outage trips the breaker).
func (s *Store) with(ctx context.Context, what string, fn func(ctx context.Context, d driver.DriverWithContext) error) error {
	if s.fresh {
		return s.withFresh(ctx, what, fn)
	}
	start := time.Now()
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return s.poolError(err)
	}
	h, err := s.handle()
	if err == nil {
		err = fn(ctx, h.d)
	}
	// The caller's own errors (its statement, its result's size) say nothing
	// about the server: the slot is kept. A client deadline that passed on a
	// connection is discarded all the same: the next call then proves the
	// server alive first, so a server that hangs still trips the breaker.
	if ctx.Err() == nil && unreachable(err) && (!callersFault(err) || IsKind(err, KindTimeout)) {
		pc.Discard()
	} else {
		pc.Release()
	}
	return s.failAfter(ctx, what, err, time.Since(start))
}

// withFresh is with for the benchmarks' baseline: a new driver per call.
func (s *Store) withFresh(ctx context.Context, what string, fn func(ctx context.Context, d driver.DriverWithContext) error) error {
	h, err := s.newHandle(s.boltURI())
	if err != nil {
		return s.fail(ctx, what, err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		_ = h.d.Close(cctx)
		cancel()
	}()
	return s.fail(ctx, what, fn(ctx, h.d))
}

// transact runs work in one managed transaction (read or write) of a new
// session, with the query timeout on the server and a little more on the
// client. The driver may retry work after a transient error, so work must
// start from scratch each time. fetch is the session's fetch size (0: the
// driver's default).
func transact[T any](s *Store, ctx context.Context, mode driver.AccessMode, what string, fetch int,
	work func(ctx context.Context, tx driver.ManagedTransaction) (T, error)) (T, error) {
	var out T
	err := s.with(ctx, what, func(ctx context.Context, d driver.DriverWithContext) error {
		sess := s.session(ctx, d, mode, fetch)
		defer closeSession(sess)
		var err error
		out, err = execute(s, ctx, sess, mode, what, work)
		return err
	})
	return out, err
}

// execute runs work in one managed transaction of sess with the query
// timeout on the server and txGrace more on the client. A read whose work
// returns an error wrapping errStopReading stopped at a cap: its transaction
// is aborted by cancelling its context, so the driver closes the connection
// instead of reading the records still on their way; errStopReading itself
// means the value read so far is the answer. A client deadline that passed
// is a timeout, not an outage.
func execute[T any](s *Store, ctx context.Context, sess driver.SessionWithContext, mode driver.AccessMode, what string,
	work func(ctx context.Context, tx driver.ManagedTransaction) (T, error)) (T, error) {
	var zero, kept T
	tctx, cancel := context.WithTimeout(ctx, s.opts.queryTimeout()+txGrace)
	defer cancel()
	var aborted error // the work's own error, when it aborted the read
	fn := func(tx driver.ManagedTransaction) (any, error) {
		v, err := work(tctx, tx)
		if err != nil {
			if mode == driver.AccessModeRead && errors.Is(err, errStopReading) {
				// The driver then reports the cancellation, not err.
				kept, aborted = v, err
				cancel()
			}
			return nil, err
		}
		return v, nil
	}
	var v any
	var err error
	if mode == driver.AccessModeRead {
		v, err = sess.ExecuteRead(tctx, fn, driver.WithTxTimeout(s.opts.queryTimeout()))
	} else {
		v, err = sess.ExecuteWrite(tctx, fn, driver.WithTxTimeout(s.opts.queryTimeout()))
	}
	switch {
	case aborted == errStopReading:
		return kept, nil
	case aborted != nil:
		return zero, aborted
	case err != nil && ctx.Err() == nil && errors.Is(tctx.Err(), context.DeadlineExceeded) && !callersFault(err):
		return zero, s.clientTimeout(err, what)
	case err != nil:
		return zero, err
	}
	out, _ := v.(T)
	return out, nil
}

// session opens a session in mode; fetch is its fetch size (0: the driver's
// default of 1000 records per batch).
func (s *Store) session(ctx context.Context, d driver.DriverWithContext, mode driver.AccessMode, fetch int) driver.SessionWithContext {
	cfg := driver.SessionConfig{AccessMode: mode, DatabaseName: s.database}
	if fetch > 0 {
		cfg.FetchSize = fetch
	}
	return d.NewSession(ctx, cfg)
}

// closeSession closes sess even when the call's context has ended, so its
// connection goes back to the driver's pool.
func closeSession(sess driver.SessionWithContext) {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	_ = sess.Close(ctx)
}

// PoolMetrics returns the metrics of the store's one pool ("neo4j": sessions).
func (s *Store) PoolMetrics() []pooling.Metrics {
	return []pooling.Metrics{s.pool.Metrics()}
}

// Info describes how the store reaches Neo4j (no secrets).
func (s *Store) Info() Info {
	in := Info{Mode: s.mode, Database: s.database, RawCypher: s.raw, ProjectID: s.project}
	switch s.mode {
	case ModeShared:
		in.URI = sanitizeURI(s.opts.Backends.Neo4jURI)
	case ModeManaged:
		in.DataDir = s.opts.dataDir()
		if s.server != nil {
			in.URI = s.boltURI()
			in.PID = s.server.PID()
		}
	}
	return in
}

// Close closes the session pool (waiting, until ctx is done, for calls in
// flight), the driver and its connections and, in managed mode, stops the
// project's server. Idempotent.
func (s *Store) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		var errs []error
		if err := s.pool.Close(ctx); err != nil {
			errs = append(errs, err)
		}
		s.closeDriver(ctx)
		if err := s.stopManaged(ctx); err != nil {
			errs = append(errs, err)
		}
		if len(errs) > 0 {
			s.closeErr = fmt.Errorf("neo4j: close the graph store of %s: %w", s.opts.Workspace, errors.Join(errs...))
		}
	})
	return s.closeErr
}

func (s *Store) closeDriver(ctx context.Context) {
	s.mu.Lock()
	h := s.cur
	s.cur, s.closed = nil, true
	s.mu.Unlock()
	if h != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		defer cancel()
		if err := h.d.Close(cctx); err != nil {
			s.log.Warn("neo4j: closing the driver failed", "err", s.clean(err.Error()))
		}
	}
}
