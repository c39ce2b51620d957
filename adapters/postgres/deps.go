package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// AddDependency makes id depend on dependsOn. An edge that exists already is a
// no-op; an edge that would close a cycle is refused with the cycle's path.
// The project's lock (lockProject) is held from before the cycle check to the
// commit, so two additions that together would close a cycle never pass the
// check at once.
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
	err := s.writeChange(ctx, func(tx pgx.Tx) error {
		out = Task{}
		if err := s.lockProject(ctx, tx); err != nil {
			return err
		}
		if err := s.mustExist(ctx, tx, "id", id); err != nil {
			return err
		}
		if err := s.mustExist(ctx, tx, "depends_on", dependsOn); err != nil {
			return err
		}
		path, err := s.dependencyPath(ctx, tx, dependsOn, id)
		if err != nil {
			return err
		}
		if path != nil {
			return &Error{Kind: KindCycle, Field: "depends_on", Msg: fmt.Sprintf(
				"making %s depend on %s would create a cycle: %s; remove one of those dependencies first",
				id, dependsOn, strings.Join(append([]string{id}, path...), " → "))}
		}
		tag, err := tx.Exec(ctx, `INSERT INTO task_dependencies (project_id, task_id, depends_on_id) VALUES ($1, $2, $3)
			ON CONFLICT DO NOTHING`, s.pid, id, dependsOn)
		if err != nil {
			return fkNotFound(err, "", dependsOn)
		}
		if tag.RowsAffected() > 0 {
			now := s.now()
			if err := s.touch(ctx, tx, id, now); err != nil {
				return err
			}
			if err := s.record(ctx, tx, now, historyEntry{taskID: id, event: work.EventDependency,
				changes: map[string][2]any{"depends_on": {nil, dependsOn}}}); err != nil {
				return err
			}
			if out, err = s.getTask(ctx, tx, "id", id); err != nil {
				return err
			}
			return s.enqueue(ctx, tx, EventDependency, now, id)
		}
		out, err = s.getTask(ctx, tx, "id", id)
		return err
	})
	if err != nil {
		return Task{}, wrap("add dependency", true, err)
	}
	return out, nil
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
	err := s.writeChange(ctx, func(tx pgx.Tx) error {
		out = Task{}
		if err := s.mustExist(ctx, tx, "id", id); err != nil {
			return err
		}
		var n int64
		if !hasNUL(dependsOn) {
			tag, err := tx.Exec(ctx, `DELETE FROM task_dependencies WHERE project_id = $1 AND task_id = $2 AND depends_on_id = $3`,
				s.pid, id, dependsOn)
			if err != nil {
				return err
			}
			n = tag.RowsAffected()
		}
		if n == 0 {
			return &Error{Kind: KindNotFound, Field: "depends_on", Msg: fmt.Sprintf(
				"task %s does not depend on %s; its dependencies are listed in depends_on of task_get", id, dependsOn)}
		}
		now := s.now()
		if err := s.touch(ctx, tx, id, now); err != nil {
			return err
		}
		if err := s.record(ctx, tx, now, historyEntry{taskID: id, event: work.EventDependency,
			changes: map[string][2]any{"depends_on": {dependsOn, nil}}}); err != nil {
			return err
		}
		var err error
		if out, err = s.getTask(ctx, tx, "id", id); err != nil {
			return err
		}
		return s.enqueue(ctx, tx, EventDependency, now, id)
	})
	if err != nil {
		return Task{}, wrap("remove dependency", true, err)
	}
	return out, nil
}

// touch records a change to a task's dependencies: a new version and updated_at.
func (s *Store) touch(ctx context.Context, q db, id string, now time.Time) error {
	_, err := q.Exec(ctx, `UPDATE tasks SET version = version + 1, updated_at = $3 WHERE project_id = $1 AND id = $2`,
		s.pid, id, now)
	return err
}

// dependencyPath returns a path of dependency edges from → … → to, or nil
// when to is not reachable from from. The reachable edges come from one
// recursive query (the project's edges only); the path is then found
// breadth-first, so it is a shortest one.
func (s *Store) dependencyPath(ctx context.Context, q db, from, to string) ([]string, error) {
	rows, err := q.Query(ctx, `WITH RECURSIVE reach(id) AS (
			SELECT $2::text
			UNION SELECT d.depends_on_id FROM task_dependencies d JOIN reach r ON d.project_id = $1 AND d.task_id = r.id)
		SELECT d.task_id, d.depends_on_id FROM task_dependencies d
		WHERE d.project_id = $1 AND d.task_id IN (SELECT id FROM reach) ORDER BY d.task_id, d.depends_on_id`, s.pid, from)
	if err != nil {
		return nil, err
	}
	edges := map[string][]string{}
	var a, b string
	if _, err := pgx.ForEachRow(rows, []any{&a, &b}, func() error {
		edges[a] = append(edges[a], b)
		return nil
	}); err != nil {
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
