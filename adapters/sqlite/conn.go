package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// maxCachedStmts bounds a connection's statement cache. Static statements fit
// easily; List builds its SQL from the filter, so a cap keeps that bounded.
const maxCachedStmts = 96

// conn is one pinned connection held by a pool, with its prepared statements.
// A pool hands it to one holder at a time, so it needs no lock.
type conn struct {
	sc    *sql.Conn
	stmts map[string]*sql.Stmt
	// txOpen is true from just before a BEGIN until a COMMIT or ROLLBACK
	// succeeds: while it is false the connection is certainly outside a
	// transaction, so Reset can skip its ROLLBACK (which, as an error path,
	// costs about a tenth of a small read).
	txOpen bool
}

func newConn(sc *sql.Conn) *conn { return &conn{sc: sc, stmts: make(map[string]*sql.Stmt)} }

// stmt returns the connection's prepared statement for query, preparing it on
// first use, or nil once the cache is full (the caller then runs query
// unprepared). Preparing once per connection is part of what pinning buys.
func (c *conn) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := c.stmts[query]; ok {
		return st, nil
	}
	if len(c.stmts) >= maxCachedStmts {
		return nil, nil
	}
	st, err := c.sc.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.stmts[query] = st
	return st, nil
}

func (c *conn) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := c.stmt(ctx, query)
	switch {
	case err != nil:
		return nil, err
	case st == nil:
		return c.sc.ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

// query runs a statement that returns rows. The caller closes the rows.
func (c *conn) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := c.stmt(ctx, query)
	switch {
	case err != nil:
		return nil, err
	case st == nil:
		return c.sc.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

func (c *conn) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := c.stmt(ctx, query)
	if err != nil || st == nil {
		// The unprepared path reports a preparation error from Scan.
		return c.sc.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// inTx runs fn inside BEGIN <mode> … COMMIT, rolling back on any error or panic.
//
// The transaction is driven by plain statements, not database/sql's *sql.Tx:
// a *sql.Tx that is never finished holds the *sql.Conn's close lock and would
// make closing the connection hang, while a transaction that lives only in
// SQLite is what the pool's Reset hook can see and roll back.
func (c *conn) inTx(ctx context.Context, begin string, fn func() error) (err error) {
	if err := c.begin(ctx, begin); err != nil {
		return err
	}
	// COMMIT and ROLLBACK finish what was started even if the caller has gone:
	// the alternative is a transaction left open on the connection.
	fin := context.WithoutCancel(ctx)
	committed := false
	defer func() {
		if !committed {
			if rbErr := c.rollback(fin); rbErr != nil {
				err = errors.Join(err, fmt.Errorf("rollback: %w", rbErr))
			}
		}
	}()
	if err = fn(); err != nil {
		return err
	}
	if _, err = c.exec(fin, "COMMIT"); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	committed = true
	c.txOpen = false
	return nil
}

// begin starts a transaction; begin is "BEGIN" or "BEGIN IMMEDIATE".
func (c *conn) begin(ctx context.Context, begin string) error {
	c.txOpen = true // set first: a BEGIN that fails half-way must still be rolled back
	if _, err := c.exec(ctx, begin); err != nil {
		return fmt.Errorf("%s: %w", begin, err)
	}
	return nil
}

// rollback ends any open transaction; "no transaction is active" is success.
func (c *conn) rollback(ctx context.Context) error {
	_, err := c.exec(ctx, "ROLLBACK")
	if err != nil && !strings.Contains(err.Error(), "no transaction is active") {
		return err
	}
	c.txOpen = false
	return nil
}

// reset is the pools' Reset hook: it rolls back a transaction a holder left open.
func (c *conn) reset(ctx context.Context) error {
	if !c.txOpen {
		return nil
	}
	return c.rollback(ctx)
}

func (c *conn) close() error {
	// A *sql.Conn that database/sql already closed (it does so itself after
	// driver.ErrBadConn) must not have its statements closed afterwards:
	// modernc would finalize them on freed connection state. Drop them.
	if err := c.sc.Raw(func(any) error { return nil }); errors.Is(err, sql.ErrConnDone) {
		clear(c.stmts)
		return nil
	}
	var errs []error
	for q, st := range c.stmts {
		errs = append(errs, st.Close())
		delete(c.stmts, q)
	}
	errs = append(errs, c.sc.Close())
	return errors.Join(errs...)
}
