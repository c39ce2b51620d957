package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

const (
	defaultAcquireTimeout = 30 * time.Second
	defaultMaxMetadata    = 64 << 10
	// DefaultHistoryLimit is how many history events a task keeps by default
	// (adapters/sqlite's).
	DefaultHistoryLimit = 1000
	// maxAttempts bounds how many times a transaction that PostgreSQL aborted
	// as a serialization failure or a deadlock is run.
	maxAttempts = 6
	// closeTimeout bounds closing one connection (its Terminate message).
	closeTimeout = 5 * time.Second
	// poolName names the pool in metrics and logs.
	poolName = "postgres"
)

// Options configure a Store.
type Options struct {
	URL       string // postgres://… or key=value; never shown (see Redact)
	ProjectID string // the project's stable id (workspace.ValidProjectID): the key of every row
	Root      string // the project's root path: a label in projects, and the pool's workspace
	Settings  workspace.PoolSettings
	Breaker   int                        // pool circuit breaker threshold; 0 = the pool's default
	Cooldown  time.Duration              // pool circuit breaker cooldown; 0 = the pool's default
	OnBreaker func(pooling.BreakerEvent) // the pool's breaker changes
	Logger    *slog.Logger               // nil = slog.Default()
	// MaxMetadata is the largest metadata object, in bytes; 0 = 64 KiB.
	MaxMetadata int
	// HistoryLimit is how many history events a task keeps (the oldest go
	// first); 0 = DefaultHistoryLimit.
	HistoryLimit int
	// DefaultLease is the lease given to a task moved to in_progress without
	// a claim (task_update); 0 = work.DefaultLease.
	DefaultLease time.Duration
}

// Store is one project's tasks in a PostgreSQL database that other projects
// may share: every statement names the project (project_id). Connections come
// from one pooling.Pool of *pgx.Conn (no pgxpool: never two pools on one
// database). It is safe for concurrent use.
type Store struct {
	opts Options
	log  *slog.Logger
	pool *pooling.Pool[*pgx.Conn]
	pid  string // opts.ProjectID, the $1 of every statement

	onOutbox atomic.Pointer[func()]

	clockMu sync.Mutex
	lastNow time.Time // guarded by clockMu; see now

	closeOnce sync.Once
	closeErr  error
}

// Open connects to the database at opts.URL, brings its schema up to date
// (Migrate), records the project (its id, with the root path as a label) and
// returns the project's store. Close releases it.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if strings.TrimSpace(opts.URL) == "" {
		return nil, errors.New("postgres: Options.URL is empty; set a postgres:// URL")
	}
	if !workspace.ValidProjectID(opts.ProjectID) {
		return nil, fmt.Errorf("postgres: Options.ProjectID %q is not a project id (prj_ and 16 hex digits)", opts.ProjectID)
	}
	if opts.MaxMetadata <= 0 {
		opts.MaxMetadata = defaultMaxMetadata
	}
	s := &Store{opts: opts, log: opts.Logger, pid: opts.ProjectID}
	if s.log == nil {
		s.log = slog.Default()
	}
	pool, err := pooling.New(s.poolConfig(), s.hooks())
	if err != nil {
		return nil, fmt.Errorf("postgres: pool: %w", err)
	}
	s.pool = pool
	if err := s.setUp(ctx); err != nil {
		_ = pool.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return s, nil
}

// setUp migrates the schema and records the project, on one connection.
func (s *Store) setUp(ctx context.Context) error {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return s.poolError(err)
	}
	c := pc.Value()
	_, err = Migrate(ctx, c)
	if err == nil {
		// The root is a label: a project opened from elsewhere (another mount,
		// another host) keeps its id and its rows.
		_, err = c.Exec(ctx, `INSERT INTO projects (id, root) VALUES ($1, $2)
			ON CONFLICT (id) DO UPDATE SET root = excluded.root WHERE projects.root IS DISTINCT FROM excluded.root`,
			s.pid, s.opts.Root)
		if err != nil {
			err = fmt.Errorf("postgres: record the project %s: %w", s.pid, err)
		}
	}
	s.done(pc, err)
	if err != nil {
		return scrub(s.opts.URL, err)
	}
	return nil
}

// ProjectID is the project's stable id: the key of its rows.
func (s *Store) ProjectID() string { return s.pid }

// PoolMetrics returns the pool's metrics.
func (s *Store) PoolMetrics() []pooling.Metrics { return []pooling.Metrics{s.pool.Metrics()} }

// Close closes the pool, waiting until ctx is done for calls in flight. Idempotent.
func (s *Store) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		if err := s.pool.Close(ctx); err != nil {
			s.closeErr = fmt.Errorf("postgres: close the task store of %s: %w", s.pid, err)
		}
	})
	return s.closeErr
}

func (s *Store) acquireTimeout() time.Duration {
	if d := s.opts.Settings.PoolTimeout.Duration(); d > 0 {
		return d
	}
	return defaultAcquireTimeout
}

// poolConfig is the project's pool settings; every connection is reset on
// return (a transaction left open would hold its locks).
func (s *Store) poolConfig() pooling.Config {
	cfg := s.opts.Settings.PoolConfig()
	cfg.Name, cfg.Backend, cfg.Workspace = poolName, workspace.BackendOperational, s.opts.Root
	cfg.AcquireTimeout = s.acquireTimeout()
	cfg.ResetOnReturn = true
	cfg.BreakerThreshold, cfg.BreakerCooldown, cfg.OnBreaker, cfg.Logger = s.opts.Breaker, s.opts.Cooldown, s.opts.OnBreaker, s.log
	url := s.opts.URL
	cfg.Sanitize = func(msg string) string { return workspace.Redact(scrubText(url, msg)) }
	return cfg
}

func (s *Store) hooks() pooling.Hooks[*pgx.Conn] {
	return pooling.Hooks[*pgx.Conn]{
		Open: func(ctx context.Context) (*pgx.Conn, error) { return Connect(ctx, s.opts.URL) },
		Close: func(c *pgx.Conn) error {
			ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
			defer cancel()
			return c.Close(ctx)
		},
		Ping: func(ctx context.Context, c *pgx.Conn) error { return c.Ping(ctx) },
		// Reset rolls back whatever a holder left open.
		Reset: func(ctx context.Context, c *pgx.Conn) error {
			if c.IsClosed() {
				return errors.New("connection closed")
			}
			if c.PgConn().TxStatus() == 'I' {
				return nil
			}
			_, err := c.Exec(ctx, "ROLLBACK")
			return err
		},
	}
}

// done gives a connection back: discarded when it is closed, busy, or still
// inside a transaction after err.
func (s *Store) done(pc *pooling.Conn[*pgx.Conn], err error) {
	c := pc.Value()
	if c.IsClosed() || c.PgConn().IsBusy() || (err != nil && c.PgConn().TxStatus() != 'I') {
		if err != nil {
			s.log.Warn("postgres: discarding a connection", "project", s.pid, "err", workspace.Redact(scrubText(s.opts.URL, err.Error())))
		}
		pc.Discard()
		return
	}
	pc.Release()
}

// db is what a statement runs on: a connection or a transaction.
type db interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// readOne runs fn, which runs one statement (its own snapshot), outside any
// explicit transaction.
func (s *Store) readOne(ctx context.Context, fn func(q db) error) error {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return s.poolError(err)
	}
	defer func() { s.done(pc, err) }()
	err = fn(pc.Value())
	return err
}

// write runs fn in one READ COMMITTED transaction; rows fn changes are locked
// by the statements themselves (FOR UPDATE where a value read decides a
// write). A transaction PostgreSQL aborts as a serialization failure (40001)
// or a deadlock (40P01), or that fn says should run again (errRetry), is run
// again from the start, up to maxAttempts times: fn must set, not accumulate,
// what it reports.
func (s *Store) write(ctx context.Context, fn func(tx pgx.Tx) error) (err error) {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return s.poolError(err)
	}
	defer func() { s.done(pc, err) }()
	c := pc.Value()
	for attempt := 1; ; attempt++ {
		err = pgx.BeginFunc(ctx, c, fn)
		if !retryable(err) || attempt == maxAttempts || c.IsClosed() {
			if retryable(err) {
				return &Error{Kind: KindBusy, Err: err, Msg: fmt.Sprintf("the change met concurrent changes to the same "+
					"tasks %d times in a row and was not made; retry", attempt)}
			}
			return err
		}
		pause := time.Millisecond << min(attempt, 5)
		t := time.NewTimer(pause/2 + rand.N(pause/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(ctx.Err(), err)
		case <-t.C:
		}
	}
}

// writeChange is write for a transaction that writes outbox rows: the
// outbox listener is told once it has committed.
func (s *Store) writeChange(ctx context.Context, fn func(tx pgx.Tx) error) error {
	err := s.write(ctx, fn)
	if err == nil {
		if p := s.onOutbox.Load(); p != nil {
			(*p)()
		}
	}
	return err
}

// OnOutbox sets the function called after each committed transaction that
// wrote outbox rows (nil: none). fn must not block.
func (s *Store) OnOutbox(fn func()) {
	if fn == nil {
		s.onOutbox.Store(nil)
		return
	}
	s.onOutbox.Store(&fn)
}

// now returns the current time in microseconds (PostgreSQL's precision),
// strictly later than any time it returned before, so that created_at orders
// this process's tasks in the order they were made (ties across processes
// are broken by id).
func (s *Store) now() time.Time {
	s.clockMu.Lock()
	defer s.clockMu.Unlock()
	t := time.Now().UTC().Truncate(time.Microsecond)
	if !t.After(s.lastNow) {
		t = s.lastNow.Add(time.Microsecond)
	}
	s.lastNow = t
	return t
}
