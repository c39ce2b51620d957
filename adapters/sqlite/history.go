package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// DefaultHistoryLimit is how many history events a task keeps by default.
const DefaultHistoryLimit = 1000

// historyEntry is one change of a task, written in the transaction that
// makes the change (see record).
type historyEntry struct {
	taskID  string
	actor   string
	event   string            // one of work.Event*
	changes map[string][2]any // field -> [old, new]; nil = none
	late    bool              // by a holder whose lease had expired
	note    string
}

func (s *Store) historyLimit() int {
	if s.opts.HistoryLimit > 0 {
		return s.opts.HistoryLimit
	}
	return DefaultHistoryLimit
}

// record appends e to the task's history at time ts and drops the task's
// events beyond the store's HistoryLimit, oldest first (now and then: see
// below; a task may hold a few dozen events over the limit). It runs inside the
// caller's write transaction, so a change and its history commit together.
func (s *Store) record(ctx context.Context, c *conn, ts string, e historyEntry) error {
	changes := "{}"
	if len(e.changes) > 0 {
		b, err := json.Marshal(e.changes)
		if err != nil {
			return fmt.Errorf("history of %s: %w", e.taskID, err)
		}
		changes = string(b)
	}
	late := 0
	if e.late {
		late = 1
	}
	res, err := c.exec(ctx, `INSERT INTO task_history (task_id, at, actor, event, changes, late, note)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, e.taskID, ts, e.actor, e.event, changes, late, e.note)
	if err != nil {
		return fmt.Errorf("history of %s: %w", e.taskID, err)
	}
	seq, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("history of %s: %w", e.taskID, err)
	}
	// The prune finds the limit-th newest event by an index walk of limit
	// entries (about 50 µs at 1,000, measured): too dear for every write of a
	// busy task. So it runs on one event in pruneEvery (chosen at random, so
	// no pattern of writes can dodge it), and a task may hold about
	// pruneEvery events more than the limit between two prunes. Small limits
	// (under 64) prune on every event, exactly.
	if every := s.historyLimit() / 32; every > 1 && rand.IntN(every) != 0 {
		return nil
	}
	if _, err := c.exec(ctx, `DELETE FROM task_history WHERE task_id = ?1 AND seq <= ?2 - ?3
		AND seq <= (SELECT seq FROM task_history WHERE task_id = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?3)`,
		e.taskID, seq, s.historyLimit()); err != nil {
		return fmt.Errorf("history of %s: prune: %w", e.taskID, err)
	}
	return nil
}

const (
	defaultHistoryPage = 50
	maxHistoryPage     = 200
)

// History returns a task's events oldest first, limit per page (0 = 50, max
// 200), after cursor (the next_cursor of the previous page; "" = from the
// start). It answers for a deleted task too (its history outlives it); an id
// that is neither a task nor in the history is not found.
func (s *Store) History(ctx context.Context, id string, limit int, cursor string) ([]work.HistoryEvent, string, error) {
	if err := rules.ID("id", id); err != nil {
		return nil, "", err
	}
	switch {
	case limit == 0:
		limit = defaultHistoryPage
	case limit < 1 || limit > maxHistoryPage:
		return nil, "", invalid("limit", "limit %d is out of range; use 1 to %d (default %d) and page with cursor",
			limit, maxHistoryPage, defaultHistoryPage)
	}
	var after int64
	if cursor != "" {
		v, err := strconv.ParseInt(strings.TrimPrefix(cursor, "h"), 10, 64)
		if err != nil || v < 0 || !strings.HasPrefix(cursor, "h") {
			return nil, "", invalid("cursor", "cursor is not one this server returned; pass next_cursor from the "+
				"previous task_history call unchanged, or omit it to start over")
		}
		after = v
	}
	var out []work.HistoryEvent
	err := s.read(ctx, func(c *conn) error {
		out = []work.HistoryEvent{}
		rows, err := c.query(ctx, `SELECT seq, at, actor, event, changes, late, note FROM task_history
			WHERE task_id = ? AND seq > ? ORDER BY seq LIMIT ?`, id, after, limit+1)
		if err != nil {
			return err
		}
		for rows.Next() {
			var e work.HistoryEvent
			if err := scanHistory(rows, &e); err != nil {
				rows.Close()
				return fmt.Errorf("history of %s: %w", id, err)
			}
			out = append(out, e)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		if len(out) == 0 && cursor == "" {
			return mustExist(ctx, c, "id", id)
		}
		return nil
	})
	if err != nil {
		return nil, "", wrap("read task history", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = "h" + strconv.FormatInt(out[limit-1].Seq, 10)
	}
	return out, next, nil
}

// RecentHistory returns the project's limit most recent history events
// (1 to 200), newest first, across every task: one indexed read (the
// history's primary key, newest first), whatever the project's size.
func (s *Store) RecentHistory(ctx context.Context, limit int) ([]ProjectEvent, error) {
	if limit < 1 || limit > maxHistoryPage {
		return nil, invalid("limit", "limit %d is out of range; use 1 to %d", limit, maxHistoryPage)
	}
	out := []ProjectEvent{}
	err := s.readOne(ctx, func(c *conn) error {
		out = out[:0]
		rows, err := c.query(ctx, `SELECT h.seq, h.at, h.actor, h.event, h.changes, h.late, h.note, h.task_id,
			IFNULL(t.title, '') FROM (SELECT * FROM task_history ORDER BY seq DESC LIMIT ?) h
			LEFT JOIN tasks t ON t.id = h.task_id ORDER BY h.seq DESC`, limit)
		if err != nil {
			return err
		}
		for rows.Next() {
			var e ProjectEvent
			if err := scanHistory(rows, &e.HistoryEvent, &e.TaskID, &e.Title); err != nil {
				rows.Close()
				return fmt.Errorf("project history: %w", err)
			}
			out = append(out, e)
		}
		return errors.Join(rows.Err(), rows.Close())
	})
	if err != nil {
		return nil, wrap("read the project's history", err)
	}
	return out, nil
}

// scanHistory reads one task_history row — seq, at, actor, event, changes,
// late, note, then the columns of extra — into e.
func scanHistory(rows *sql.Rows, e *work.HistoryEvent, extra ...any) error {
	var (
		at, ch string
		late   int
	)
	if err := rows.Scan(append([]any{&e.Seq, &at, &e.Actor, &e.Event, &ch, &late, &e.Note}, extra...)...); err != nil {
		return err
	}
	var err error
	if e.At, err = parseTime(at); err != nil {
		return err
	}
	if ch != "" && ch != "{}" {
		if err := json.Unmarshal([]byte(ch), &e.Changes); err != nil {
			return fmt.Errorf("event %d: %w", e.Seq, err)
		}
	}
	e.Late = late != 0
	return nil
}

// ProjectEvent is work.ProjectEvent.
type ProjectEvent = work.ProjectEvent
