package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// AddDependency makes id depend on dependsOn. An edge that exists already is a
// no-op; an edge that would close a cycle is refused with the cycle's path.
func (s *Store) AddDependency(ctx context.Context, id, dependsOn string) (Task, error) {
	if err := rules.ID("id", id); err != nil {
		return Task{}, err
	}
	if err := rules.ID("depends_on", dependsOn); err != nil {
		return Task{}, err
	}
	if id == dependsOn {
		return Task{}, invalid("depends_on", "task %s cannot depend on itself", id)
	}
	var out Task
	err := s.writeChange(ctx, func(c *conn) error {
		if err := mustExist(ctx, c, "id", id); err != nil {
			return err
		}
		if err := mustExist(ctx, c, "depends_on", dependsOn); err != nil {
			return err
		}
		path, err := dependencyPath(ctx, c, dependsOn, id)
		if err != nil {
			return err
		}
		if path != nil {
			return &Error{Kind: KindCycle, Field: "depends_on", Msg: fmt.Sprintf(
				"making %s depend on %s would create a cycle: %s; remove one of those dependencies first",
				id, dependsOn, strings.Join(append([]string{id}, path...), " → "))}
		}
		res, err := c.exec(ctx, `INSERT INTO task_dependencies (task_id, depends_on_id) VALUES (?, ?)
			ON CONFLICT DO NOTHING`, id, dependsOn)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n > 0 {
			ts := fmtTime(s.now())
			if err := touch(ctx, c, id, ts); err != nil {
				return err
			}
			if err := s.record(ctx, c, ts, historyEntry{taskID: id, event: work.EventDependency,
				changes: map[string][2]any{"depends_on": {nil, dependsOn}}}); err != nil {
				return err
			}
		}
		out, err = getTask(ctx, c, "id", id)
		return err
	})
	return out, wrap("add dependency", err)
}

// RemoveDependency removes the edge id → dependsOn; a missing edge is KindNotFound.
func (s *Store) RemoveDependency(ctx context.Context, id, dependsOn string) (Task, error) {
	if err := rules.ID("id", id); err != nil {
		return Task{}, err
	}
	if err := rules.ID("depends_on", dependsOn); err != nil {
		return Task{}, err
	}
	var out Task
	err := s.writeChange(ctx, func(c *conn) error {
		if err := mustExist(ctx, c, "id", id); err != nil {
			return err
		}
		res, err := c.exec(ctx, `DELETE FROM task_dependencies WHERE task_id = ? AND depends_on_id = ?`, id, dependsOn)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return &Error{Kind: KindNotFound, Field: "depends_on", Msg: fmt.Sprintf(
				"task %s does not depend on %s; its dependencies are listed in depends_on of task_get", id, dependsOn)}
		}
		ts := fmtTime(s.now())
		if err := touch(ctx, c, id, ts); err != nil {
			return err
		}
		if err := s.record(ctx, c, ts, historyEntry{taskID: id, event: work.EventDependency,
			changes: map[string][2]any{"depends_on": {dependsOn, nil}}}); err != nil {
			return err
		}
		out, err = getTask(ctx, c, "id", id)
		return err
	})
	return out, wrap("remove dependency", err)
}

// touch records a change to a task's dependencies: a new version and
// updated_at, and an outbox event.
func touch(ctx context.Context, c *conn, id, ts string) error {
	if _, err := c.exec(ctx, `UPDATE tasks SET version = version + 1, updated_at = ? WHERE id = ?`, ts, id); err != nil {
		return err
	}
	return enqueue(ctx, c, EventDependency, ts, id)
}

// dependencyPath returns a path of dependency edges from → … → to, or nil
// when to is not reachable from from. The reachable edges come from one
// recursive query; the path is then found breadth-first, so it is a shortest one.
func dependencyPath(ctx context.Context, c *conn, from, to string) ([]string, error) {
	rows, err := c.query(ctx, `WITH RECURSIVE reach(id) AS (
			SELECT ? UNION SELECT d.depends_on_id FROM task_dependencies d JOIN reach r ON d.task_id = r.id)
		SELECT d.task_id, d.depends_on_id FROM task_dependencies d
		WHERE d.task_id IN (SELECT id FROM reach) ORDER BY d.task_id, d.depends_on_id`, from)
	if err != nil {
		return nil, err
	}
	edges := map[string][]string{}
	for rows.Next() {
		var a, b string
		if err := rows.Scan(&a, &b); err != nil {
			rows.Close()
			return nil, err
		}
		edges[a] = append(edges[a], b)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if n == to {
			var path []string
			for v := to; v != ""; v = prev[v] {
				path = append([]string{v}, path...)
			}
			return path, nil
		}
		for _, m := range edges[n] {
			if _, seen := prev[m]; !seen {
				prev[m] = n
				queue = append(queue, m)
			}
		}
	}
	return nil, nil
}
