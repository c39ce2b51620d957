package sqlite

import (
	"context"
	"errors"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// OpenSubtasks returns the parent edges of every subtask in one of the open
// statuses, by parent then child: while open, a subtask blocks its parent
// (task_graph counts it among the parent's blockers).
func (s *Store) OpenSubtasks(ctx context.Context, open []string) ([]SubtaskEdge, error) {
	if err := checkStatuses(open); err != nil {
		return nil, err
	}
	var out []SubtaskEdge
	err := s.readOne(ctx, func(c *conn) error {
		out = []SubtaskEdge{}
		rows, err := c.query(ctx, `SELECT parent_id, id FROM tasks WHERE parent_id IS NOT NULL
			AND status IN (`+placeholders(len(open))+`) ORDER BY parent_id, id`, anys(open)...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var e SubtaskEdge
			if err := rows.Scan(&e.Parent, &e.Child); err != nil {
				rows.Close()
				return err
			}
			out = append(out, e)
		}
		return errors.Join(rows.Err(), rows.Close())
	})
	return out, wrap("read open subtasks", err)
}

// SubtaskEdge is work.SubtaskEdge.
type SubtaskEdge = work.SubtaskEdge
