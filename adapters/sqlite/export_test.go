package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// LeaveWriteTxOpen acquires the writer, begins a write transaction, inserts a
// task row and gives the connection back without committing or rolling back,
// bypassing inTx's own cleanup. The pool's Reset must roll it back.
func (s *Store) LeaveWriteTxOpen(ctx context.Context, id string) error {
	pc, err := s.writer.Acquire(ctx)
	if err != nil {
		return err
	}
	defer pc.Release()
	c := pc.Value()
	if err := c.begin(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	ts := fmtTime(time.Now())
	_, err = c.exec(ctx, `INSERT INTO tasks (id, seq, title, created_at, updated_at)
		VALUES (?, (SELECT IFNULL(MAX(seq), 0) + 1 FROM tasks), 'left open', ?, ?)`, id, ts, ts)
	return err
}

// SchemaVersionOf reads PRAGMA user_version through a reader.
func (s *Store) SchemaVersionOf(ctx context.Context) (int, error) {
	var v int
	err := s.read(ctx, func(c *conn) error { return c.queryRow(ctx, "PRAGMA user_version").Scan(&v) })
	return v, err
}

// Migrations is the number of migrations this build knows.
var Migrations = len(migrations)

// Dump renders every row of every table (and the full-text index's row
// count) as text, for before/after comparisons.
func (s *Store) Dump(ctx context.Context) (string, error) {
	var b strings.Builder
	err := s.read(ctx, func(c *conn) error {
		for _, q := range []string{
			`SELECT id, seq, title, description, status, priority, IFNULL(role,'∅'), IFNULL(assignee,'∅'),
				IFNULL(parent_id,'∅'), version, created_at, updated_at, IFNULL(started_at,'∅'),
				IFNULL(completed_at,'∅'), IFNULL(summary,'∅'), metadata FROM tasks ORDER BY id`,
			`SELECT task_id, label FROM task_labels ORDER BY 1, 2`,
			`SELECT task_id, depends_on_id FROM task_dependencies ORDER BY 1, 2`,
			`SELECT task_id, name, path, size, sha256, created_at FROM artifacts ORDER BY 1, 2`,
			`SELECT count(*) FROM tasks_fts`,
		} {
			rows, err := c.sc.QueryContext(ctx, q)
			if err != nil {
				return err
			}
			cols, _ := rows.Columns()
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			for rows.Next() {
				if err := rows.Scan(ptrs...); err != nil {
					rows.Close()
					return err
				}
				fmt.Fprintln(&b, vals...)
			}
			if err := rows.Close(); err != nil {
				return err
			}
			b.WriteString("--\n")
		}
		return nil
	})
	return b.String(), err
}

// NewFresh returns a Store for the same database whose every call opens its
// own connection with the store's DSN (same pragmas), runs the same code, and
// closes the connection: the benchmarks' baseline. close releases its factories.
func NewFresh(s *Store) (fresh *Store, close func() error, err error) {
	w, err := factory(writerDSN(s.opts.Path, s.opts.BusyTimeout))
	if err != nil {
		return nil, nil, err
	}
	r, err := factory(readerDSN(s.opts.Path, s.opts.BusyTimeout))
	if err != nil {
		_ = w.Close()
		return nil, nil, err
	}
	fresh = &Store{opts: s.opts, log: s.log}
	fresh.connect = func(ctx context.Context, write bool) (*conn, func(error), error) {
		db := r
		if write {
			db = w
		}
		sc, err := db.Conn(ctx)
		if err != nil {
			return nil, nil, err
		}
		c := newConn(sc)
		return c, func(error) { _ = c.close() }, nil
	}
	return fresh, func() error { return errors.Join(w.Close(), r.Close()) }, nil
}

// KeepOpen opens one more read-only connection to s's database and holds it
// until the returned func is called, so that closing the others never
// checkpoints and deletes the WAL.
func KeepOpen(ctx context.Context, s *Store) (func() error, error) {
	db, err := factory(readerDSN(s.opts.Path, s.opts.BusyTimeout))
	if err != nil {
		return nil, err
	}
	sc, err := db.Conn(ctx)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	var n int
	if err := sc.QueryRowContext(ctx, "SELECT count(*) FROM tasks").Scan(&n); err != nil {
		return nil, errors.Join(err, sc.Close(), db.Close())
	}
	return func() error { return errors.Join(sc.Close(), db.Close()) }, nil
}

// SetUserVersion writes PRAGMA user_version of the (closed) database at path.
func SetUserVersion(path string, v int) error {
	db, err := factory(writerDSN(path, defaultBusyTimeout))
	if err != nil {
		return err
	}
	_, err = db.Exec(fmt.Sprintf("PRAGMA user_version = %d", v))
	return errors.Join(err, db.Close())
}

// HoldWriter checks the writer out until release is called.
func (s *Store) HoldWriter(ctx context.Context) (release func(), err error) {
	pc, err := s.writer.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	return pc.Release, nil
}

// BreakWriter closes the writer's underlying connection behind the pool's back.
func (s *Store) BreakWriter(ctx context.Context) error {
	pc, err := s.writer.Acquire(ctx)
	if err != nil {
		return err
	}
	defer pc.Release()
	return pc.Value().sc.Close()
}

// PanicInWrite runs a write that inserts a task row and then panics.
func (s *Store) PanicInWrite(ctx context.Context, id string) {
	_ = s.write(ctx, func(c *conn) error {
		ts := fmtTime(time.Now())
		if _, err := c.exec(ctx, `INSERT INTO tasks (id, seq, title, created_at, updated_at)
			VALUES (?, (SELECT IFNULL(MAX(seq), 0) + 1 FROM tasks), 'panicked', ?, ?)`, id, ts, ts); err != nil {
			return err
		}
		panic("handler bug")
	})
}

// ConnectRelease takes a connection the way every store call does and gives it
// back without running a statement: the connection overhead alone.
func (s *Store) ConnectRelease(ctx context.Context, write bool) error {
	_, done, err := s.acquire(ctx, write)
	if err != nil {
		return err
	}
	done(nil)
	return nil
}

// SetHookAfterCheck runs h between the file checks and each connection's
// open; nil removes it. Tests using it must not be parallel.
func SetHookAfterCheck(h func()) { testHookAfterCheck = h }
