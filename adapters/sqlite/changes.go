package sqlite

import "context"

// ChangeMark is the newest task_history seq ever written (0 for none). Every
// task change records history in its own transaction, so the mark moves
// exactly when some task changed, in this process or another one on the same
// file. It reads sqlite_sequence: one row, no scan.
func (s *Store) ChangeMark(ctx context.Context) (int64, error) {
	var mark int64
	err := s.readOne(ctx, func(c *conn) error {
		return c.queryRow(ctx, `SELECT IFNULL((SELECT seq FROM sqlite_sequence WHERE name = 'task_history'), 0)`).Scan(&mark)
	})
	return mark, wrap("read change mark", err)
}

// ChangedSince returns the ids of the tasks changed after mark (each once,
// in the order of their first change) and the new mark. With nothing new it
// costs one primary-key range lookup and returns mark unchanged. Pruned
// history is no loss: pruning keeps each task's newest events.
func (s *Store) ChangedSince(ctx context.Context, mark int64) (ids []string, next int64, err error) {
	next = mark
	err = s.readOne(ctx, func(c *conn) error {
		ids, next = ids[:0], mark
		rows, err := c.query(ctx, `SELECT seq, task_id FROM task_history WHERE seq > ? ORDER BY seq`, mark)
		if err != nil {
			return err
		}
		defer rows.Close()
		seen := map[string]bool{}
		for rows.Next() {
			var seq int64
			var id string
			if err := rows.Scan(&seq, &id); err != nil {
				return err
			}
			next = seq
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
		return rows.Err()
	})
	return ids, next, wrap("read changes", err)
}
