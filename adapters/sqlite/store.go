package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

const (
	defaultBusyTimeout    = 5 * time.Second
	defaultAcquireTimeout = 30 * time.Second
	defaultMaxMetadata    = 64 << 10
	// closeBusyTimeout bounds how long Close's checkpoint waits for other
	// processes (see checkpoint).
	closeBusyTimeout = 100 * time.Millisecond
)

// Options configure a Store.
type Options struct {
	Path        string // tasks.db
	Workspace   string
	Settings    workspace.PoolSettings
	BusyTimeout time.Duration              // SQLite's busy_timeout, for locks held by other processes; 0 = 5s
	Breaker     int                        // pool circuit breaker threshold; 0 = the pool's default
	Cooldown    time.Duration              // pool circuit breaker cooldown; 0 = the pool's default
	OnBreaker   func(pooling.BreakerEvent) // the pools' breaker changes (pooling.Config.OnBreaker)
	Logger      *slog.Logger               // nil = slog.Default()
	MaxMetadata int                        // bytes; 0 = 64 KiB
	// HistoryLimit is how many history events a task keeps (the oldest go
	// first); 0 = DefaultHistoryLimit.
	HistoryLimit int
	// DefaultLease is the lease given to a task moved to in_progress without
	// a claim (task_update); 0 = work.DefaultLease.
	DefaultLease time.Duration
	// ProjectID is the id the project's id file holds ("" for none, or one
	// that is not valid): the database takes it when it has none yet, and
	// keeps its own otherwise (see ProjectID).
	ProjectID string
}

// Store is one project's task database. It is safe for concurrent use.
type Store struct {
	opts   Options
	layout workspace.Layout // the project holding opts.Path (or its folder): see checkFiles
	// realPath is opts.Path with the links above the databases folder
	// resolved: the name SQLite must report for the file it opened.
	realPath string
	log      *slog.Logger
	wdb      *sql.DB // factory of the writer connection; keeps none itself
	rdb      *sql.DB // factory of reader connections; keeps none itself
	writer   *pooling.Pool[*conn]
	// readers is nil only while Open is still setting up.
	readers *pooling.Pool[*conn]

	// connect, when set, replaces both pools: the benchmarks' baseline opens
	// a fresh connection per call through it and runs the very same code.
	connect func(ctx context.Context, write bool) (*conn, func(error), error)

	// onOutbox is called after a transaction that wrote outbox rows commits
	// (see outbox.go); it must not block.
	onOutbox atomic.Pointer[func()]

	projectID string // set by Open (identify), read-only after

	clockMu sync.Mutex
	lastNow time.Time // guarded by clockMu; see now
	// clock, when set (tests only, before any call), replaces time.Now in now.
	clock func() time.Time

	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating if needed) the database at opts.Path, applies pending
// migrations on the writer and starts both pools. Close releases everything.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Path == "" {
		return nil, errors.New("sqlite: Options.Path is empty")
	}
	abs, err := filepath.Abs(opts.Path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: resolve %s: %w", opts.Path, err)
	}
	opts.Path = abs
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = defaultBusyTimeout
	}
	if opts.MaxMetadata <= 0 {
		opts.MaxMetadata = defaultMaxMetadata
	}
	s := &Store{opts: opts, log: opts.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	if err := s.prepareFiles(); err != nil {
		return nil, err
	}

	if s.wdb, err = factory(writerDSN(abs, opts.BusyTimeout)); err != nil {
		return nil, err
	}
	if s.rdb, err = factory(readerDSN(abs, opts.BusyTimeout)); err != nil {
		_ = s.wdb.Close()
		return nil, err
	}
	if s.writer, err = pooling.New(s.writerConfig(), s.hooks(s.wdb)); err != nil {
		s.closeFactories()
		return nil, fmt.Errorf("sqlite: writer pool: %w", err)
	}
	// The writer is opened first: it creates the file, turns on WAL and brings
	// the schema up to date before any read-only connection looks at it.
	if err := s.migrate(ctx); err != nil {
		_ = s.writer.Close(context.WithoutCancel(ctx))
		s.closeFactories()
		return nil, err
	}
	if s.readers, err = pooling.New(s.readersConfig(), s.hooks(s.rdb)); err != nil {
		_ = s.writer.Close(context.WithoutCancel(ctx))
		s.closeFactories()
		return nil, fmt.Errorf("sqlite: readers pool: %w", err)
	}
	if err := s.identify(ctx); err != nil {
		_ = s.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return s, nil
}

// identify gives the database its project id once (the id file's, or a new
// one), brings the root label up to date, and remembers the id. Several
// processes opening a new project at once agree: the first insert wins and
// every one reads the row back.
// (created_at is read from the wall clock, not s.now: tests set their clock
// after Open.)
func (s *Store) identify(ctx context.Context) error {
	candidate := s.opts.ProjectID
	if !workspace.ValidProjectID(candidate) {
		candidate = workspace.NewProjectID()
	}
	root := s.opts.Workspace
	var id string
	err := s.write(ctx, func(c *conn) error {
		if _, err := c.exec(ctx, `INSERT INTO project (one, id, root, created_at) SELECT 1, ?, ?, ?
			WHERE NOT EXISTS (SELECT 1 FROM project)`, candidate, root, fmtTime(time.Now())); err != nil {
			return err
		}
		if _, err := c.exec(ctx, `UPDATE project SET root = ? WHERE one = 1 AND root <> ?`, root, root); err != nil {
			return err
		}
		return c.queryRow(ctx, `SELECT id FROM project WHERE one = 1`).Scan(&id)
	})
	if err != nil {
		return wrap("record the project's id", err)
	}
	s.projectID = id
	return nil
}

// ProjectID is the project's stable id, as its task database keeps it.
func (s *Store) ProjectID() string { return s.projectID }

// sidecars are the files SQLite opens beside the database, by name.
var sidecars = []string{"", "-wal", "-shm", "-journal"}

// prepareFiles makes SQLite's files safe to open before it opens them.
// SQLite opens tasks.db, -wal, -shm and -journal by name and resolves a
// symlinked database to its target (the WAL and SHM then go beside the
// target), and modernc.org/sqlite offers no SQLITE_OPEN_NOFOLLOW. So: each
// is refused if it is a link or not a regular file (checkFiles), and
// tasks.db is created here, 0600, through the no-follow opener, so SQLite
// never creates it (nor, as it gives them the database's mode, a -wal or
// -shm) anywhere else or more open. A database of ours left 0644 by an older
// version, and its -wal and -shm, are narrowed to 0600.
func (s *Store) prepareFiles() error {
	path := s.opts.Path
	l, ok := workspace.LayoutOf(path)
	if !ok {
		l = workspace.Layout{Root: filepath.Dir(path)}
	}
	s.layout = l
	if err := s.checkFiles(); err != nil {
		return err
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", filepath.Dir(path), err)
	}
	s.realPath = filepath.Join(dir, filepath.Base(path))
	f, err := workspace.OpenProjectFile(l, path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return wrapFileErr(path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("sqlite: %s: %w", path, err)
	}
	for _, suffix := range sidecars[1:] {
		f, err := workspace.OpenProjectFile(l, path+suffix, os.O_RDONLY, 0)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return wrapFileErr(path+suffix, err)
		}
		_ = workspace.NarrowFile(f, 0o600) // a failure leaves it as it was
		_ = f.Close()
	}
	return nil
}

// checkFiles refuses a database, WAL, SHM or journal that is a symlink or
// not a regular file. It runs before each connection is opened, so a link
// put there while the store is open is refused too.
func (s *Store) checkFiles() error {
	for _, suffix := range sidecars {
		if _, err := workspace.CheckProjectFile(s.layout, s.opts.Path+suffix); err != nil {
			return wrapFileErr(s.opts.Path+suffix, err)
		}
	}
	return nil
}

// testHookAfterCheck, set only by tests, runs between checkFiles and the
// open: where a link swapped in by someone else would land.
var testHookAfterCheck func()

// checkOpened verifies, after the fact, that the connection's database is
// the file inside the project: SQLite resolves a symlinked database to its
// target and reports the resolved name, so a link put in place between
// checkFiles and the open shows here. Its WAL and SHM are named after it.
func (s *Store) checkOpened(ctx context.Context, c *conn) error {
	rows, err := c.sc.QueryContext(ctx, "PRAGMA database_list")
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", s.opts.Path, err)
	}
	defer rows.Close()
	for rows.Next() {
		var seq int
		var name, file string
		if err := rows.Scan(&seq, &name, &file); err != nil {
			return fmt.Errorf("sqlite: %s: %w", s.opts.Path, err)
		}
		if name == "main" && file != s.realPath {
			rel, _ := filepath.Rel(s.layout.Root, s.opts.Path)
			return &workspace.UnsafeFileError{Path: filepath.ToSlash(rel), Why: "was replaced by a symbolic link while it was being opened"}
		}
	}
	return rows.Err()
}

// wrapFileErr passes a refusal unchanged (its message is for the client) and
// gives any other error its context.
func wrapFileErr(path string, err error) error {
	if errors.Is(err, workspace.ErrUnsafeFile) {
		return err
	}
	return fmt.Errorf("sqlite: %s: %w", path, err)
}

// factory returns a *sql.DB used only to open connections: it keeps no idle
// connection of its own, so every connection lives in exactly one pool (ours).
func factory(dsn string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	db.SetMaxIdleConns(0)
	db.SetMaxOpenConns(0)
	db.SetConnMaxLifetime(0)
	return db, nil
}

func (s *Store) closeFactories() {
	_ = s.rdb.Close()
	_ = s.wdb.Close()
}

// fileURI renders path as an SQLite URI path: spaces, '?', '#' and '%' escaped.
func fileURI(path string) string {
	p := filepath.ToSlash(path)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive path: file:/C:/...
	}
	return "file:" + (&url.URL{Path: p}).EscapedPath()
}

// writerDSN is the read-write connection: WAL, NORMAL sync, foreign keys, and
// BEGIN IMMEDIATE for any transaction begun through database/sql.
func writerDSN(path string, busy time.Duration) string {
	return fileURI(path) + "?_pragma=" + url.QueryEscape(fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds())) +
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate"
}

// readerDSN is a read-only connection; query_only guards against a write slipping through.
func readerDSN(path string, busy time.Duration) string {
	return fileURI(path) + "?mode=ro&_pragma=" + url.QueryEscape(fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds())) +
		"&_pragma=foreign_keys(1)&_pragma=query_only(1)"
}

func (s *Store) acquireTimeout() time.Duration {
	if d := s.opts.Settings.PoolTimeout.Duration(); d > 0 {
		return d
	}
	return defaultAcquireTimeout
}

// writerConfig: exactly one connection, always open, never recycled or evicted
// (closing the last connection would checkpoint and delete the WAL), and always
// reset on return (a transaction left open would block every write).
func (s *Store) writerConfig() pooling.Config {
	st := s.opts.Settings
	return pooling.Config{
		Name:                workspace.DatabaseSQLite + ".writer",
		Backend:             workspace.BackendOperational,
		Workspace:           s.opts.Workspace,
		MinConns:            1,
		MaxConns:            1,
		MaxOverflow:         0,
		PrePing:             st.PoolPrePing,
		AcquireTimeout:      s.acquireTimeout(),
		ResetOnReturn:       true,
		LIFO:                st.PoolUseLIFO,
		HealthCheckInterval: st.HealthCheckInterval.Duration(),
		LeakThreshold:       st.LeakDetectionThreshold.Duration(),
		BreakerThreshold:    s.opts.Breaker,
		BreakerCooldown:     s.opts.Cooldown,
		OnBreaker:           s.opts.OnBreaker,
		Logger:              s.log,
		Sanitize:            workspace.Redact,
	}
}

func (s *Store) readersConfig() pooling.Config {
	cfg := s.opts.Settings.PoolConfig()
	cfg.Name, cfg.Backend, cfg.Workspace = workspace.DatabaseSQLite+".readers", workspace.BackendOperational, s.opts.Workspace
	cfg.AcquireTimeout = s.acquireTimeout()
	cfg.BreakerThreshold, cfg.BreakerCooldown, cfg.Logger = s.opts.Breaker, s.opts.Cooldown, s.log
	cfg.OnBreaker = s.opts.OnBreaker
	return cfg
}

func (s *Store) hooks(db *sql.DB) pooling.Hooks[*conn] {
	return pooling.Hooks[*conn]{
		Open: func(ctx context.Context) (*conn, error) {
			if err := s.checkFiles(); err != nil {
				return nil, err
			}
			if h := testHookAfterCheck; h != nil {
				h()
			}
			sc, err := openRetryingBusy(ctx, db, s.opts.BusyTimeout)
			if err != nil {
				return nil, fmt.Errorf("open %s: %w", s.opts.Path, err)
			}
			c := newConn(sc)
			if err := s.checkOpened(ctx, c); err != nil {
				_ = c.close()
				return nil, err
			}
			return c, nil
		},
		Close: func(c *conn) error { return c.close() },
		Ping: func(ctx context.Context, c *conn) error {
			var one int
			return c.queryRow(ctx, "SELECT 1").Scan(&one)
		},
		// Reset rolls back whatever a holder left open; on the writer an open
		// transaction would otherwise block every later write.
		Reset: func(ctx context.Context, c *conn) error { return c.reset(ctx) },
	}
}

// Close closes the readers, checkpoints the WAL into the database (TRUNCATE)
// on the writer and closes it. It waits, until ctx is done, for calls in
// flight. Idempotent.
func (s *Store) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		var errs []error
		if err := s.readers.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close readers: %w", err))
		}
		if err := s.checkpoint(ctx); err != nil {
			// Not fatal: SQLite checkpoints when its last connection closes.
			s.log.Warn("sqlite: WAL checkpoint at close failed", "path", s.opts.Path, "err", err)
		}
		if err := s.writer.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close writer: %w", err))
		}
		s.closeFactories()
		if len(errs) > 0 {
			s.closeErr = fmt.Errorf("sqlite: close %s: %w", s.opts.Path, errors.Join(errs...))
		}
	})
	return s.closeErr
}

func (s *Store) checkpoint(ctx context.Context) error {
	pc, err := s.writer.Acquire(ctx)
	if err != nil {
		return err
	}
	c := pc.Value()
	// A TRUNCATE checkpoint holds the write lock while it waits, in the busy
	// handler, for other processes' readers to move on: with the full
	// busy_timeout it could keep every other process on this project from
	// writing for that long. The connection is closed next, so it may keep a
	// short one: when others are busy the checkpoint gives up and SQLite
	// checkpoints later, on their commits or at the last close.
	if _, err := c.exec(ctx, fmt.Sprintf("PRAGMA busy_timeout = %d", closeBusyTimeout.Milliseconds())); err != nil {
		s.done(pc, err)
		return err
	}
	var busy, logFrames, checkpointed int
	err = c.queryRow(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &checkpointed)
	s.done(pc, err)
	if err == nil && busy != 0 {
		err = fmt.Errorf("checkpoint could not finish (%d of %d frames)", checkpointed, logFrames)
	}
	return err
}

// PoolMetrics returns the writer's and the readers' metrics, in that order.
func (s *Store) PoolMetrics() []pooling.Metrics {
	return []pooling.Metrics{s.writer.Metrics(), s.readers.Metrics()}
}

// done gives a connection back: discarded when err says it is broken.
func (s *Store) done(pc *pooling.Conn[*conn], err error) {
	if broken(err) {
		s.log.Warn("sqlite: discarding a broken connection", "path", s.opts.Path, "err", err)
		pc.Discard()
		return
	}
	pc.Release()
}

// write runs fn in one BEGIN IMMEDIATE transaction on the single writer.
// Writers queue on the pool's Acquire, in Go, never in SQLite's busy handler.
func (s *Store) write(ctx context.Context, fn func(c *conn) error) error {
	return s.run(ctx, true, fn)
}

// read runs fn in one read transaction on a reader, so that every query of fn
// sees the same snapshot.
func (s *Store) read(ctx context.Context, fn func(c *conn) error) error {
	return s.run(ctx, false, fn)
}

// readOne runs fn, which must run exactly one statement, on a reader without
// BEGIN … COMMIT: a single statement is its own read snapshot in SQLite (its
// implicit transaction lasts from its first step until it is reset, which
// closing its rows does), so the explicit transaction would cost two more
// statements and buy nothing. A fn of two statements needs read.
func (s *Store) readOne(ctx context.Context, fn func(c *conn) error) error {
	return s.runMode(ctx, false, "", fn)
}

// run runs fn in one transaction on a writer or a reader. Inside one process
// writers queue in Go, but the writers of other processes on the same file
// (a second server, the migrate command, a backup) meet ours only in SQLite's
// file locks. SQLite waits busy_timeout for them; a transaction that still
// finds the file locked (SQLITE_BUSY, or SQLITE_LOCKED) was rolled back and
// changed nothing, so it is run again after a short, growing pause, until
// pool_timeout from the start of the call has passed: then the caller gets a
// sentence naming the cause (lockedError), never SQLite's own text. fn must
// therefore set, not accumulate, what it reports to its caller.
func (s *Store) run(ctx context.Context, write bool, fn func(c *conn) error) (err error) {
	begin := "BEGIN"
	if write {
		begin = "BEGIN IMMEDIATE"
	}
	return s.runMode(ctx, write, begin, fn)
}

// runMode is run with the transaction's BEGIN given; "" runs fn outside any
// explicit transaction (readOne).
func (s *Store) runMode(ctx context.Context, write bool, begin string, fn func(c *conn) error) (err error) {
	start := time.Now()
	c, done, err := s.acquire(ctx, write)
	if err != nil {
		return err
	}
	// done runs even if fn panics, so the connection always goes back.
	defer func() { done(err) }()
	for attempt := 0; ; attempt++ {
		if begin == "" {
			err = fn(c)
		} else {
			err = c.inTx(ctx, begin, func() error { return fn(c) })
		}
		if !IsBusy(err) {
			return err
		}
		if ctx.Err() != nil {
			return errors.Join(ctx.Err(), err) // answered as a cancelled or timed-out call
		}
		pause := busyPause(attempt)
		waited := time.Since(start)
		if waited+pause >= s.acquireTimeout() {
			return s.lockedError(err, waited, attempt+1)
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= pause {
			return s.lockedError(err, waited, attempt+1)
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(ctx.Err(), err)
		case <-t.C:
		}
	}
}

// openRetryingBusy opens a connection, trying again while the file is
// locked. The DSN's journal_mode(WAL) switch needs a lock that SQLite does
// not wait for through busy_timeout when another process is creating or
// switching the same new file at that moment (SQLITE_BUSY at once), so four
// processes opening a new project together would see one of them fail. It
// tries for busy (0 = 5 s) or until ctx is done.
func openRetryingBusy(ctx context.Context, db *sql.DB, busy time.Duration) (*sql.Conn, error) {
	if busy <= 0 {
		busy = 5 * time.Second
	}
	deadline := time.Now().Add(busy)
	for attempt := 0; ; attempt++ {
		sc, err := db.Conn(ctx)
		if err == nil || !IsBusy(err) || time.Now().After(deadline) {
			return sc, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(busyPause(attempt)):
		}
	}
}

// busyPause is the pause before the next attempt of a transaction that found
// the file locked by another process: growing from 1 ms to 64 ms, with
// jitter so that processes retrying together do not stay in step. SQLite's
// busy handler has already waited busy_timeout inside the attempt, so this
// pause only spaces the attempts.
func busyPause(attempt int) time.Duration {
	d := time.Millisecond << min(attempt, 6)
	return d/2 + rand.N(d/2+1)
}

// lockedError is the answer when the file stayed locked by another process
// for the whole of pool_timeout.
func (s *Store) lockedError(cause error, waited time.Duration, attempts int) error {
	return &Error{Kind: KindBusy, Err: fmt.Errorf("%d attempts over %s: %w", attempts, waited.Round(time.Millisecond), cause),
		Msg: fmt.Sprintf("the project's database (.task_orchestrator/databases/tasks.db) stayed locked by another process "+
			"for %d s, so nothing was changed; retry, and if it keeps happening look for a program holding the file open "+
			"(another server on this project, a backup, a migrate run), or raise database_pools.operational.pool_timeout",
			max(1, int(math.Round(waited.Seconds()))))}
}

// acquire checks a connection out of the writer or the readers pool; done
// gives it back, discarding it when the error it was used with says it is broken.
func (s *Store) acquire(ctx context.Context, write bool) (c *conn, done func(error), err error) {
	if s.connect != nil {
		return s.connect(ctx, write)
	}
	pool, which := s.readers, "reader"
	if write {
		pool, which = s.writer, "writer"
	}
	pc, err := pool.Acquire(ctx)
	if err != nil {
		return nil, nil, s.poolError(err, which)
	}
	return pc.Value(), func(err error) { s.done(pc, err) }, nil
}

// wrap adds the operation to an infrastructure error; *Error passes unchanged.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return fmt.Errorf("task store: %s: %w", op, err)
}
