package postgres

import (
	"context"
	"fmt"
	"time"
)

// The outbox: every task change writes one row per changed task in the same
// transaction as the change (adapters/sqlite's design), so that the mirrors
// learn of exactly the changes that committed.

// Outbox event kinds: adapters/sqlite's.
const (
	EventCreate     = "create"
	EventUpdate     = "update"
	EventStatus     = "status"
	EventDependency = "dependency"
	EventDelete     = "delete"
)

// enqueue records that the tasks ids changed, inside the caller's
// transaction, and must be the transaction's last statement. It first locks
// the project's row (FOR NO KEY UPDATE, which leaves the foreign keys'
// KEY SHARE locks alone) until the commit: the outbox's identity is not
// commit order, but a project's rows now get their seqs in the order their
// transactions commit, so a mirror's cursor can never pass a seq whose
// transaction is still open (ADR 0015). The lock is held only from here to
// the commit.
func (s *Store) enqueue(ctx context.Context, q db, kind string, at time.Time, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := q.Exec(ctx, `WITH p AS (SELECT id FROM projects WHERE id = $1 FOR NO KEY UPDATE)
		INSERT INTO outbox (project_id, task_id, kind, created_at)
		SELECT p.id, u.id, $3, $4 FROM p, unnest($2::text[]) WITH ORDINALITY AS u(id, n) ORDER BY u.n`,
		s.pid, ids, kind, at); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}

// lockProject takes the project's row lock (see enqueue) at the start of a
// change whose checks read the whole graph (a dependency or a parent that
// must not close a cycle): two such changes of one project never run at once,
// so neither can miss the edge the other adds.
func (s *Store) lockProject(ctx context.Context, q db) error {
	_, err := q.Exec(ctx, `SELECT 1 FROM projects WHERE id = $1 FOR NO KEY UPDATE`, s.pid)
	return err
}
