package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// The dependency graph as task_graph reads it from SQLite (the source of
// truth). The same questions are answered from the Neo4j mirror by the graph
// adapter; tools compute the final answer from either with one algorithm.

// placeholders returns "?, ?, ?" for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func checkStatuses(open []string) error {
	if len(open) == 0 {
		return invalid("statuses", "at least one status of unfinished work is needed")
	}
	for _, s := range open {
		if err := rules.Enum("statuses", s, work.TaskStatuses); err != nil {
			return err
		}
	}
	return nil
}

func anys(ss ...[]string) []any {
	var out []any
	for _, s := range ss {
		for _, v := range s {
			out = append(out, v)
		}
	}
	return out
}

// Blockers returns the tasks in one of the open statuses that block id:
// its dependencies in an open status, theirs, and so on, following open tasks
// only (a completed task in the middle ends the chain: what it depended on no
// longer blocks anything through it). One recursive query finds them with the
// length of the shortest chain to each; a second reads the edges among them.
func (s *Store) Blockers(ctx context.Context, id string, open []string) (BlockerSet, error) {
	if err := checkGraphArgs(id, open); err != nil {
		return BlockerSet{}, err
	}
	var out BlockerSet
	err := s.read(ctx, func(c *conn) (err error) {
		out, err = blockers(ctx, c, id, open)
		return err
	})
	return out, wrap("find blockers", err)
}

// Dependents returns the tasks in one of the open statuses that depend
// directly on id, by id, each with its other dependencies that are not
// completed. A dependent is ready once id completes when it is pending and
// waits on nothing else.
func (s *Store) Dependents(ctx context.Context, id string, open []string) ([]Dependent, error) {
	if err := checkGraphArgs(id, open); err != nil {
		return nil, err
	}
	var out []Dependent
	err := s.read(ctx, func(c *conn) error {
		if err := mustExist(ctx, c, "id", id); err != nil {
			return err
		}
		var err error
		out, err = dependents(ctx, c, id, open)
		return err
	})
	return out, wrap("find dependents", err)
}

// OpenGraph returns every task in one of the open statuses and the
// dependency edges between two such tasks, from one snapshot.
func (s *Store) OpenGraph(ctx context.Context, open []string) (OpenGraph, error) {
	if err := checkStatuses(open); err != nil {
		return OpenGraph{}, err
	}
	var g OpenGraph
	err := s.read(ctx, func(c *conn) (err error) {
		g, err = openGraph(ctx, c, open)
		return err
	})
	return g, wrap("read open work", err)
}

// DependencyGraph reads, in one read transaction, what task_graph needs: the
// open work and, when id is not "", the blockers and dependents of id.
func (s *Store) DependencyGraph(ctx context.Context, id string, open []string) (DependencySnapshot, error) {
	if err := checkStatuses(open); err != nil {
		return DependencySnapshot{}, err
	}
	if id != "" {
		if err := rules.ID("id", id); err != nil {
			return DependencySnapshot{}, err
		}
	}
	var out DependencySnapshot
	err := s.read(ctx, func(c *conn) (err error) {
		if id != "" {
			if out.Blockers, err = blockers(ctx, c, id, open); err != nil {
				return err
			}
			if out.Dependents, err = dependents(ctx, c, id, open); err != nil {
				return err
			}
		}
		out.Open, err = openGraph(ctx, c, open)
		return err
	})
	return out, wrap("read the dependency graph", err)
}

func checkGraphArgs(id string, open []string) error {
	if err := rules.ID("id", id); err != nil {
		return err
	}
	return checkStatuses(open)
}

func blockers(ctx context.Context, c *conn, id string, open []string) (BlockerSet, error) {
	in := placeholders(len(open))
	// UNION (not UNION ALL) keeps one row per (task, depth), so a DAG with many
	// paths costs rows per distinct depth, not per path.
	reach := `WITH RECURSIVE reach(id, depth) AS (
			SELECT d.depends_on_id, 1 FROM task_dependencies d JOIN tasks b ON b.id = d.depends_on_id
			WHERE d.task_id = ? AND b.status IN (` + in + `)
			UNION
			SELECT d.depends_on_id, r.depth + 1 FROM reach r
			JOIN task_dependencies d ON d.task_id = r.id
			JOIN tasks b ON b.id = d.depends_on_id
			WHERE b.status IN (` + in + `))`
	args := append(append([]any{id}, anys(open)...), anys(open)...)
	t, err := graphTask(ctx, c, id)
	if err != nil {
		return BlockerSet{}, err
	}
	out := BlockerSet{Task: t, Blockers: []Blocker{}}
	rows, err := c.query(ctx, reach+`
		SELECT t.id, t.title, t.status, t.priority, min(r.depth) AS depth FROM reach r JOIN tasks t ON t.id = r.id
		GROUP BY t.id ORDER BY depth, t.id`, args...)
	if err != nil {
		return BlockerSet{}, err
	}
	for rows.Next() {
		var b Blocker
		if err := rows.Scan(&b.ID, &b.Title, &b.Status, &b.Priority, &b.Depth); err != nil {
			rows.Close()
			return BlockerSet{}, err
		}
		out.Blockers = append(out.Blockers, b)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return BlockerSet{}, err
	}
	out.Edges, err = edges(ctx, c, reach+`
		SELECT d.task_id, d.depends_on_id FROM task_dependencies d
		WHERE (d.task_id = ? OR d.task_id IN (SELECT id FROM reach))
		AND d.depends_on_id IN (SELECT id FROM reach)
		ORDER BY d.task_id, d.depends_on_id`, append(args, id)...)
	return out, err
}

func dependents(ctx context.Context, c *conn, id string, open []string) ([]Dependent, error) {
	rows, err := c.query(ctx, `SELECT t.id, t.title, t.status, t.priority,
			(SELECT json_group_array(id) FROM (SELECT o.depends_on_id AS id FROM task_dependencies o
				JOIN tasks ot ON ot.id = o.depends_on_id
				WHERE o.task_id = t.id AND o.depends_on_id <> ? AND ot.status <> 'completed'
				ORDER BY o.depends_on_id))
		FROM task_dependencies d JOIN tasks t ON t.id = d.task_id
		WHERE d.depends_on_id = ? AND t.status IN (`+placeholders(len(open))+`)
		ORDER BY t.id`, append([]any{id, id}, anys(open)...)...)
	if err != nil {
		return nil, err
	}
	out := []Dependent{}
	for rows.Next() {
		var d Dependent
		var waiting string
		if err := rows.Scan(&d.ID, &d.Title, &d.Status, &d.Priority, &waiting); err != nil {
			rows.Close()
			return nil, err
		}
		if err := json.Unmarshal([]byte(waiting), &d.Waiting); err != nil {
			rows.Close()
			return nil, fmt.Errorf("dependents of %s: %w", id, err)
		}
		if d.Waiting == nil {
			d.Waiting = []string{}
		}
		out = append(out, d)
	}
	return out, errors.Join(rows.Err(), rows.Close())
}

func openGraph(ctx context.Context, c *conn, open []string) (OpenGraph, error) {
	in := placeholders(len(open))
	rows, err := c.query(ctx, `SELECT id, title, status, priority FROM tasks WHERE status IN (`+in+`) ORDER BY id`, anys(open)...)
	if err != nil {
		return OpenGraph{}, err
	}
	g := OpenGraph{Tasks: []GraphTask{}}
	for rows.Next() {
		var t GraphTask
		if err := rows.Scan(&t.ID, &t.Title, &t.Status, &t.Priority); err != nil {
			rows.Close()
			return OpenGraph{}, err
		}
		g.Tasks = append(g.Tasks, t)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return OpenGraph{}, err
	}
	g.Edges, err = edges(ctx, c, `SELECT d.task_id, d.depends_on_id FROM task_dependencies d
		JOIN tasks a ON a.id = d.task_id JOIN tasks b ON b.id = d.depends_on_id
		WHERE a.status IN (`+in+`) AND b.status IN (`+in+`)
		ORDER BY d.task_id, d.depends_on_id`, anys(open, open)...)
	return g, err
}

func graphTask(ctx context.Context, c *conn, id string) (GraphTask, error) {
	var t GraphTask
	err := c.queryRow(ctx, `SELECT id, title, status, priority FROM tasks WHERE id = ?`, id).Scan(&t.ID, &t.Title, &t.Status, &t.Priority)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return GraphTask{}, notFound("id", id)
		}
		return GraphTask{}, err
	}
	return t, nil
}

func edges(ctx context.Context, c *conn, query string, args ...any) ([]DependencyEdge, error) {
	rows, err := c.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	out := []DependencyEdge{}
	for rows.Next() {
		var e DependencyEdge
		if err := rows.Scan(&e.Task, &e.DependsOn); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, e)
	}
	return out, errors.Join(rows.Err(), rows.Close())
}

// GraphTasks returns the tasks among ids that exist, by id, from one
// snapshot. Ids that are not tasks are left out.
func (s *Store) GraphTasks(ctx context.Context, ids []string) (map[string]GraphTask, error) {
	out := make(map[string]GraphTask, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	for i, id := range ids {
		if err := rules.ID(fmt.Sprintf("ids[%d]", i), id); err != nil {
			return nil, err
		}
	}
	err := s.read(ctx, func(c *conn) error {
		rows, err := c.query(ctx, `SELECT t.id, t.title, t.status, t.priority FROM tasks t
			WHERE t.id IN (SELECT value FROM json_each(?))`, jsonIDs(ids))
		if err != nil {
			return err
		}
		for rows.Next() {
			var t GraphTask
			if err := rows.Scan(&t.ID, &t.Title, &t.Status, &t.Priority); err != nil {
				rows.Close()
				return err
			}
			out[t.ID] = t
		}
		return errors.Join(rows.Err(), rows.Close())
	})
	return out, wrap("read tasks", err)
}

// GraphTask is work.GraphTask.
type GraphTask = work.GraphTask

// DependencyEdge is work.DependencyEdge.
type DependencyEdge = work.DependencyEdge

// Blocker is work.QueriedBlocker.
type Blocker = work.QueriedBlocker

// BlockerSet is work.BlockerSet.
type BlockerSet = work.BlockerSet

// Dependent is work.Dependent.
type Dependent = work.Dependent

// OpenGraph is work.OpenGraph.
type OpenGraph = work.OpenGraph

// DependencySnapshot is work.DependencySnapshot.
type DependencySnapshot = work.DependencySnapshot
