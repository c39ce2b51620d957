package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

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

// record appends e to the task's history at time at and drops the task's
// events beyond the store's HistoryLimit, oldest first, now and then as
// adapters/sqlite does (on one event in HistoryLimit/32, chosen at random; on
// every event below a limit of 64).
func (s *Store) record(ctx context.Context, q db, at time.Time, e historyEntry) error {
	changes := "{}"
	if len(e.changes) > 0 {
		b, err := json.Marshal(e.changes)
		if err != nil {
			return fmt.Errorf("history of %s: %w", e.taskID, err)
		}
		changes = string(b)
	}
	// The actor is the server's name for the caller; text cannot hold U+0000.
	actor := strings.ReplaceAll(e.actor, "\x00", "")
	if _, err := q.Exec(ctx, `INSERT INTO task_history (project_id, task_id, at, actor, event, changes, late, note)
		VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8)`, s.pid, e.taskID, at, actor, e.event, changes, e.late, e.note); err != nil {
		return fmt.Errorf("history of %s: %w", e.taskID, err)
	}
	if every := s.historyLimit() / 32; every > 1 && rand.IntN(every) != 0 {
		return nil
	}
	if _, err := q.Exec(ctx, `DELETE FROM task_history WHERE project_id = $1 AND task_id = $2
		AND seq <= (SELECT seq FROM task_history WHERE project_id = $1 AND task_id = $2 ORDER BY seq DESC OFFSET $3 LIMIT 1)`,
		s.pid, e.taskID, s.historyLimit()); err != nil {
		return fmt.Errorf("history of %s: prune: %w", e.taskID, err)
	}
	return nil
}
