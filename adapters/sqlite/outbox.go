package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// The outbox: every task change writes one row per changed task in the same
// transaction as the change, so that the mirrors (Chroma, Neo4j) learn of
// exactly the changes that committed, in commit order, even across a crash.
// Readers of the outbox (the mirror syncer) deliver a task's current state,
// so a row only has to say which task changed; kind is for logs and metrics.

// Outbox event kinds.
const (
	EventCreate     = "create"
	EventUpdate     = "update"
	EventStatus     = "status"
	EventDependency = "dependency"
	EventDelete     = "delete"
)

// OnOutbox sets the function called after each committed transaction that
// wrote outbox rows (nil: none). fn must not block: it runs on the task call's
// path, after the commit.
func (s *Store) OnOutbox(fn func()) {
	if fn == nil {
		s.onOutbox.Store(nil)
		return
	}
	s.onOutbox.Store(&fn)
}

// writeChange is write for a transaction that records task changes in the
// outbox: the outbox listener is told once it has committed.
func (s *Store) writeChange(ctx context.Context, fn func(c *conn) error) error {
	err := s.write(ctx, fn)
	if err == nil {
		if p := s.onOutbox.Load(); p != nil {
			(*p)()
		}
	}
	return err
}

// enqueue records that the tasks ids changed, inside the caller's transaction.
func enqueue(ctx context.Context, c *conn, kind, ts string, ids ...string) error {
	for _, id := range ids {
		if _, err := c.exec(ctx, `INSERT INTO outbox (task_id, kind, created_at) VALUES (?, ?, ?)`, id, kind, ts); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
	}
	return nil
}

// OutboxAfter returns up to limit events with seq > after, oldest first.
func (s *Store) OutboxAfter(ctx context.Context, after int64, limit int) ([]OutboxEvent, error) {
	if limit <= 0 {
		limit = 100
	}
	var out []OutboxEvent
	err := s.readOne(ctx, func(c *conn) error {
		rows, err := c.query(ctx, `SELECT seq, task_id, kind, created_at FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		out = out[:0]
		for rows.Next() {
			var e OutboxEvent
			var ts string
			if err := rows.Scan(&e.Seq, &e.TaskID, &e.Kind, &ts); err != nil {
				return err
			}
			if e.CreatedAt, err = parseTime(ts); err != nil {
				return err
			}
			out = append(out, e)
		}
		return rows.Err()
	})
	return out, wrap("read outbox", err)
}

// MirrorState says where mirror stands: its cursor, what was pruned, and how
// many events wait for it and since when.
func (s *Store) MirrorState(ctx context.Context, mirror string) (OutboxState, error) {
	var st OutboxState
	err := s.read(ctx, func(c *conn) error {
		st = OutboxState{}
		err := c.queryRow(ctx, `SELECT seq FROM mirror_cursors WHERE mirror = ?`, mirror).Scan(&st.Cursor)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		default:
			st.HasCursor = true
		}
		if err := c.queryRow(ctx, `SELECT seq FROM outbox_pruned WHERE id = 1`).Scan(&st.PrunedThrough); err != nil {
			return err
		}
		if err := c.queryRow(ctx, `SELECT IFNULL((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0)`).Scan(&st.MaxSeq); err != nil {
			return err
		}
		var oldest sql.NullString
		if err := c.queryRow(ctx, `SELECT count(*), min(created_at) FROM outbox WHERE seq > ?`, st.Cursor).Scan(&st.Pending, &oldest); err != nil {
			return err
		}
		if !oldest.Valid {
			return nil
		}
		st.Oldest, err = parseTime(oldest.String)
		return err
	})
	return st, wrap("read mirror state", err)
}

// AdvanceCursor records that mirror has every event up to seq. A cursor never
// moves back.
func (s *Store) AdvanceCursor(ctx context.Context, mirror string, seq int64) error {
	if seq < 0 {
		return fmt.Errorf("outbox: cursor %d is negative", seq)
	}
	err := s.write(ctx, func(c *conn) error {
		_, err := c.exec(ctx, `INSERT INTO mirror_cursors (mirror, seq, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (mirror) DO UPDATE SET seq = max(seq, excluded.seq), updated_at = excluded.updated_at`,
			mirror, seq, fmtTime(time.Now()))
		return err
	})
	return wrap("advance mirror cursor", err)
}

// PruneOutbox deletes the events every one of mirrors has delivered (with no
// mirror, every event: nobody will read them) and returns how many went. A
// mirror that never synced holds everything back.
func (s *Store) PruneOutbox(ctx context.Context, mirrors []string) (int64, error) {
	var n int64
	err := s.write(ctx, func(c *conn) error {
		through := int64(0)
		if len(mirrors) == 0 {
			if err := c.queryRow(ctx, `SELECT IFNULL(max(seq), 0) FROM outbox`).Scan(&through); err != nil {
				return err
			}
		} else {
			var have int
			if err := c.queryRow(ctx, `SELECT count(*), IFNULL(min(seq), 0) FROM mirror_cursors
				WHERE mirror IN (SELECT value FROM json_each(?))`, jsonIDs(mirrors)).Scan(&have, &through); err != nil {
				return err
			}
			if have < len(mirrors) {
				through = 0
			}
		}
		if through <= 0 {
			return nil
		}
		res, err := c.exec(ctx, `DELETE FROM outbox WHERE seq <= ?`, through)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = c.exec(ctx, `UPDATE outbox_pruned SET seq = max(seq, ?) WHERE id = 1`, through)
		return err
	})
	return n, wrap("prune outbox", err)
}

// TasksByID returns the tasks among ids that exist, with labels and
// dependencies, read in one snapshot. An id that is missing was deleted.
func (s *Store) TasksByID(ctx context.Context, ids []string) ([]Task, error) {
	var out []Task
	err := s.readOne(ctx, func(c *conn) error {
		var err error
		out, err = loadTasks(ctx, c, `SELECT `+taskColsRel+` FROM tasks t
			WHERE t.id IN (SELECT value FROM json_each(?)) ORDER BY t.seq`, jsonIDs(ids))
		return err
	})
	return out, wrap("read tasks", err)
}

// Snapshot returns every task (with labels and dependencies, oldest first)
// and the last outbox seq, read in one transaction: the tasks reflect exactly
// the events up to that seq. A mirror rebuilt from them may set its cursor there.
func (s *Store) Snapshot(ctx context.Context) ([]Task, int64, error) {
	var (
		out []Task
		seq int64
	)
	err := s.read(ctx, func(c *conn) error {
		if err := c.queryRow(ctx, `SELECT IFNULL((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0)`).Scan(&seq); err != nil {
			return err
		}
		var err error
		out, err = loadTasks(ctx, c, `SELECT `+taskColsRel+` FROM tasks t ORDER BY t.seq`)
		return err
	})
	return out, seq, wrap("read all tasks", err)
}

// TaskIDs returns the ids of every task, in creation order.
func (s *Store) TaskIDs(ctx context.Context) ([]string, error) {
	var out []string
	err := s.readOne(ctx, func(c *conn) error {
		rows, err := c.query(ctx, `SELECT id FROM tasks ORDER BY seq`)
		if err != nil {
			return err
		}
		defer rows.Close()
		out = out[:0]
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			out = append(out, id)
		}
		return rows.Err()
	})
	return out, wrap("list task ids", err)
}

// CountTasks returns how many tasks there are.
func (s *Store) CountTasks(ctx context.Context) (int, error) {
	var n int
	err := s.readOne(ctx, func(c *conn) error { return c.queryRow(ctx, `SELECT count(*) FROM tasks`).Scan(&n) })
	return n, wrap("count tasks", err)
}

// AcquireLease makes owner the only syncer delivering to mirror until ttl
// from now, or renews its lease. It fails (false) while another owner holds
// an unexpired lease, unless dead(other) says that owner is gone.
func (s *Store) AcquireLease(ctx context.Context, mirror, owner string, ttl time.Duration, dead func(other string) bool) (bool, error) {
	got := false
	err := s.write(ctx, func(c *conn) error {
		got = false
		now := time.Now()
		var other, expires string
		err := c.queryRow(ctx, `SELECT owner, expires_at FROM mirror_leases WHERE mirror = ?`, mirror).Scan(&other, &expires)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case other != owner && expires >= fmtTime(now) && (dead == nil || !dead(other)):
			return nil
		}
		_, err = c.exec(ctx, `INSERT INTO mirror_leases (mirror, owner, expires_at) VALUES (?, ?, ?)
			ON CONFLICT (mirror) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at`,
			mirror, owner, fmtTime(now.Add(ttl)))
		got = err == nil
		return err
	})
	return got, wrap("acquire mirror lease", err)
}

// AdvanceCursorLeased is AdvanceCursor for the holder of mirror's lease, in
// one transaction with renewing it; ErrLeaseLost when owner no longer holds it.
func (s *Store) AdvanceCursorLeased(ctx context.Context, mirror, owner string, ttl time.Duration, seq int64) error {
	err := s.write(ctx, func(c *conn) error {
		now := time.Now()
		res, err := c.exec(ctx, `UPDATE mirror_leases SET expires_at = ? WHERE mirror = ? AND owner = ?`,
			fmtTime(now.Add(ttl)), mirror, owner)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrLeaseLost
		}
		_, err = c.exec(ctx, `INSERT INTO mirror_cursors (mirror, seq, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (mirror) DO UPDATE SET seq = max(seq, excluded.seq), updated_at = excluded.updated_at`,
			mirror, seq, fmtTime(now))
		return err
	})
	if errors.Is(err, ErrLeaseLost) {
		return err
	}
	return wrap("advance mirror cursor", err)
}

// ReleaseLease gives up owner's lease on mirror, if it holds it, so another
// syncer can take over at once.
func (s *Store) ReleaseLease(ctx context.Context, mirror, owner string) error {
	err := s.write(ctx, func(c *conn) error {
		_, err := c.exec(ctx, `DELETE FROM mirror_leases WHERE mirror = ? AND owner = ?`, mirror, owner)
		return err
	})
	return wrap("release mirror lease", err)
}

// OutboxEvent is work.OutboxEvent.
type OutboxEvent = work.OutboxEvent

// OutboxState is work.OutboxState.
type OutboxState = work.OutboxState

// ErrLeaseLost is work.ErrLeaseLost.
var ErrLeaseLost = work.ErrLeaseLost
