package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
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
// events beyond the store's HistoryLimit, oldest first. It runs inside the
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
	// Cheap when under the limit: one index probe finds no row to delete.
	if _, err := c.exec(ctx, `DELETE FROM task_history WHERE task_id = ?1 AND seq <= ?2 - ?3
		AND seq <= (SELECT seq FROM task_history WHERE task_id = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?3)`,
		e.taskID, seq, s.historyLimit()); err != nil {
		return fmt.Errorf("history of %s: prune: %w", e.taskID, err)
	}
	return nil
}
