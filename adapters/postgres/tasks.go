package postgres

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// The task model is the domain's (package work); the store speaks it.
type (
	Task           = work.Task
	ArtifactRecord = work.ArtifactRecord
	TaskDetail     = work.TaskDetail
	NewTask        = work.NewTask
	Filter         = work.Filter
	Patch          = work.Patch
)

// Every statement's $1 is the store's project: the first column of every key,
// so each statement is an index range of the project's rows.

// timeLayout is adapters/sqlite's: cursors and history values read the same.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func fmtTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// newID returns "tsk_" and 16 lowercase hex characters from crypto/rand.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "tsk_" + hex.EncodeToString(b[:])
}

// taskCols is a task's fields and its labels and dependencies (two arrays),
// from tasks aliased t: the task and its relations in one statement.
const taskCols = `t.id, t.title, t.description, t.status, t.priority, t.role, t.assignee, t.parent_id,
	t.version, t.created_at, t.updated_at, t.started_at, t.completed_at, t.summary, t.metadata::text, t.lease_expires_at,
	ARRAY(SELECT l.label FROM task_labels l WHERE l.project_id = $1 AND l.task_id = t.id),
	ARRAY(SELECT d.depends_on_id FROM task_dependencies d WHERE d.project_id = $1 AND d.task_id = t.id)`

// taskRow is one row of taskCols as stored.
type taskRow struct {
	id, title, description, status, priority string
	role, assignee, parent, summ             *string
	version                                  int64
	created, updated                         time.Time
	started, completed, lease                *time.Time
	meta                                     string
	labels, deps                             []string
}

// dest is where Scan puts taskCols's columns, after any given before them.
func (r *taskRow) dest(before ...any) []any {
	return append(before, &r.id, &r.title, &r.description, &r.status, &r.priority, &r.role, &r.assignee, &r.parent,
		&r.version, &r.created, &r.updated, &r.started, &r.completed, &r.summ, &r.meta, &r.lease, &r.labels, &r.deps)
}

func (r *taskRow) task() Task {
	t := Task{ID: r.id, Title: r.title, Description: r.description, Status: work.Status(r.status),
		Priority: r.priority, Version: r.version, CreatedAt: r.created.UTC(), UpdatedAt: r.updated.UTC(),
		StartedAt: utcPtr(r.started), CompletedAt: utcPtr(r.completed), LeaseExpiresAt: utcPtr(r.lease),
		Role: r.role, Assignee: r.assignee, ParentID: r.parent, Summary: r.summ,
		Metadata: compactJSON(r.meta), Labels: sorted(r.labels), DependsOn: sorted(r.deps)}
	return t
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// sorted sorts l in byte order (as adapters/sqlite does); never nil.
func sorted(l []string) []string {
	if l == nil {
		return []string{}
	}
	slices.Sort(l)
	return l
}

// compactJSON is jsonb's text without its spaces: {"a": 1} reads {"a":1}, as
// adapters/sqlite keeps it. (jsonb orders an object's keys its own way.)
func compactJSON(s string) json.RawMessage {
	if s == "" {
		return json.RawMessage("{}")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(s)); err != nil {
		return json.RawMessage(s)
	}
	return buf.Bytes()
}

// loadTasks runs a query selecting taskCols.
func loadTasks(ctx context.Context, q db, query string, args ...any) ([]Task, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	tasks := []Task{}
	for rows.Next() {
		var r taskRow
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, err
		}
		tasks = append(tasks, r.task())
	}
	return tasks, rows.Err()
}

func (s *Store) getTask(ctx context.Context, q db, field, id string) (Task, error) {
	tasks, err := loadTasks(ctx, q, `SELECT `+taskCols+` FROM tasks t WHERE t.project_id = $1 AND t.id = $2`, s.pid, id)
	if err != nil {
		return Task{}, err
	}
	if len(tasks) == 0 {
		return Task{}, notFound(field, id)
	}
	return tasks[0], nil
}

func (s *Store) exists(ctx context.Context, q db, id string) (bool, error) {
	if hasNUL(id) {
		return false, nil // no task has such an id: PostgreSQL's text cannot hold it
	}
	var ok bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tasks WHERE project_id = $1 AND id = $2)`, s.pid, id).Scan(&ok)
	return ok, err
}

func (s *Store) mustExist(ctx context.Context, q db, field, id string) error {
	ok, err := s.exists(ctx, q, id)
	if err != nil {
		return err
	}
	if !ok {
		return notFound(field, id)
	}
	return nil
}

// firstMissing returns the first of ids (in their order) that is not a task
// of the project, or "".
func (s *Store) firstMissing(ctx context.Context, q db, ids []string) (string, error) {
	for _, id := range ids {
		if hasNUL(id) {
			return id, nil
		}
	}
	if len(ids) == 0 {
		return "", nil
	}
	var id string
	err := q.QueryRow(ctx, `SELECT u.id FROM unnest($2::text[]) WITH ORDINALITY AS u(id, n)
		WHERE NOT EXISTS (SELECT 1 FROM tasks t WHERE t.project_id = $1 AND t.id = u.id) ORDER BY u.n LIMIT 1`,
		s.pid, ids).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return id, err
}

// fkNotFound turns the violation of a foreign key that a concurrent delete
// caused (the row was checked, then deleted before the write) into the
// refusal the check would have given.
func fkNotFound(err error, parent, dependsOn string) error {
	switch foreignKey(err) {
	case "tasks_parent_same_project":
		return notFound("parent_id", parent)
	case "task_dependencies_target_same_project":
		return notFound("depends_on", dependsOn)
	}
	return err
}

// Create validates nt and stores it as a pending task, at version 1.
func (s *Store) Create(ctx context.Context, nt NewTask) (Task, error) {
	id := newID()
	ct, err := s.checkNewTask(nt, id)
	if err != nil {
		return Task{}, err
	}
	var out Task
	err = s.writeChange(ctx, func(tx pgx.Tx) error {
		if ct.ParentID != "" {
			if err := s.mustExist(ctx, tx, "parent_id", ct.ParentID); err != nil {
				return err
			}
		}
		if missing, err := s.firstMissing(ctx, tx, ct.Deps); err != nil {
			return err
		} else if missing != "" {
			return notFound("depends_on", missing)
		}
		now := s.now()
		var meta string
		err := tx.QueryRow(ctx, `INSERT INTO tasks
			(project_id, id, title, description, status, priority, role, parent_id, version, created_at, updated_at, metadata)
			VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, 1, $8, $8, $9::jsonb) RETURNING metadata::text`,
			s.pid, id, ct.Title, ct.Description, ct.Priority, optStr(ct.Role), optStr(ct.ParentID), now, string(ct.Meta)).Scan(&meta)
		if err != nil {
			return fkNotFound(err, ct.ParentID, "")
		}
		if len(ct.Labels) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO task_labels (project_id, task_id, label)
				SELECT $1, $2, unnest($3::text[])`, s.pid, id, ct.Labels); err != nil {
				return err
			}
		}
		if len(ct.Deps) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO task_dependencies (project_id, task_id, depends_on_id)
				SELECT $1, $2, unnest($3::text[])`, s.pid, id, ct.Deps); err != nil {
				if foreignKey(err) == "task_dependencies_target_same_project" {
					// A dependency was deleted since firstMissing: name it.
					if missing, merr := s.firstMissing(ctx, tx, ct.Deps); merr == nil && missing != "" {
						return notFound("depends_on", missing)
					}
					return errRetry
				}
				return err
			}
		}
		if err := s.record(ctx, tx, now, historyEntry{taskID: id, actor: nt.Actor, event: work.EventCreated,
			changes: map[string][2]any{"title": {nil, ct.Title}}}); err != nil {
			return err
		}
		if err := s.enqueue(ctx, tx, EventCreate, now, id); err != nil {
			return err
		}
		out = Task{ID: id, Title: ct.Title, Description: ct.Description, Status: work.Pending, Priority: ct.Priority,
			Labels: ct.Labels, DependsOn: ct.Deps, Version: 1, CreatedAt: now, UpdatedAt: now, Metadata: compactJSON(meta)}
		if ct.Role != "" {
			r := ct.Role
			out.Role = &r
		}
		if ct.ParentID != "" {
			p := ct.ParentID
			out.ParentID = &p
		}
		return nil
	})
	if err != nil {
		return Task{}, wrap("create task", true, err)
	}
	return out, nil
}

// optStr is the value stored for an optional text column: NULL for "".
func optStr(v string) any {
	if v == "" {
		return nil
	}
	return v
}

// optPtr is *p, or NULL for nil or "".
func optPtr(p *string) any {
	if p == nil {
		return nil
	}
	return optStr(*p)
}

// Kinds of the rows of detailQuery.
const (
	detailTask = iota
	detailSubtask
	detailDependent
	detailArtifact
)

// detailQuery is the whole of a TaskDetail in one statement (one round trip,
// one snapshot): the task (kind 0), its subtasks (1) and its dependents (2),
// each in creation order, then its artifacts (3). An artifact row carries its
// name as id, path as title, size as version, created_at in both time
// columns and sha256 as summary.
const detailQuery = `SELECT 0, ` + taskCols + ` FROM tasks t WHERE t.project_id = $1 AND t.id = $2
	UNION ALL SELECT 1, ` + taskCols + ` FROM tasks t WHERE t.project_id = $1 AND t.parent_id = $2
	UNION ALL SELECT 2, ` + taskCols + ` FROM task_dependencies d
		JOIN tasks t ON t.project_id = d.project_id AND t.id = d.task_id
		WHERE d.project_id = $1 AND d.depends_on_id = $2
	UNION ALL SELECT 3, a.name, a.path, '', '', '', NULL, NULL, NULL, a.size, a.created_at, a.created_at, NULL, NULL,
		a.sha256, '{}', NULL, '{}'::text[], '{}'::text[] FROM artifacts a WHERE a.project_id = $1 AND a.task_id = $2
	ORDER BY 1, 11, 2`

// Get returns a task with its direct subtasks, its dependents and its
// artifacts' records (not their content).
func (s *Store) Get(ctx context.Context, id string) (TaskDetail, error) {
	if err := rules.ID("id", id); err != nil {
		return TaskDetail{}, err
	}
	if hasNUL(id) {
		return TaskDetail{}, notFound("id", id)
	}
	var d TaskDetail
	err := s.readOne(ctx, func(q db) (err error) {
		d, err = s.detail(ctx, q, id)
		return err
	})
	if err != nil {
		return TaskDetail{}, wrap("get task", false, err)
	}
	return d, nil
}

func (s *Store) detail(ctx context.Context, q db, id string) (TaskDetail, error) {
	rows, err := q.Query(ctx, detailQuery, s.pid, id)
	if err != nil {
		return TaskDetail{}, err
	}
	defer rows.Close()
	found := false
	d := TaskDetail{Subtasks: []Task{}, Dependents: []Task{}, Artifacts: []ArtifactRecord{}}
	for rows.Next() {
		var (
			kind int
			r    taskRow
		)
		if err := rows.Scan(r.dest(&kind)...); err != nil {
			return TaskDetail{}, err
		}
		if kind == detailArtifact {
			a := ArtifactRecord{Name: r.id, Path: r.title, Size: r.version, CreatedAt: r.created.UTC()}
			if r.summ != nil {
				a.SHA256 = *r.summ
			}
			d.Artifacts = append(d.Artifacts, a)
			continue
		}
		t := r.task()
		switch kind {
		case detailTask:
			d.Task, found = t, true
		case detailSubtask:
			d.Subtasks = append(d.Subtasks, t)
		case detailDependent:
			d.Dependents = append(d.Dependents, t)
		}
	}
	if err := rows.Err(); err != nil {
		return TaskDetail{}, err
	}
	if !found {
		return TaskDetail{}, notFound("id", id)
	}
	// By name in byte order, as SQLite's BINARY collation sorts them.
	slices.SortFunc(d.Artifacts, func(a, b ArtifactRecord) int { return cmpStr(a.Name, b.Name) })
	return d, nil
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Exists reports whether a task with this id exists in the project.
func (s *Store) Exists(ctx context.Context, id string) (bool, error) {
	if err := rules.ID("id", id); err != nil {
		return false, err
	}
	var ok bool
	err := s.readOne(ctx, func(q db) (err error) {
		ok, err = s.exists(ctx, q, id)
		return err
	})
	if err != nil {
		return false, wrap("check task", false, err)
	}
	return ok, nil
}

// Delete removes a task. A task with subtasks is refused unless cascade, which
// removes the whole subtree. Labels, dependency edges and artifacts go with
// the tasks; tasks outside the subtree that depended on one lose the edge
// (a new version, a dependency event). Returns the deleted ids, sorted.
func (s *Store) Delete(ctx context.Context, id string, cascade bool) ([]string, error) {
	if err := rules.ID("id", id); err != nil {
		return nil, err
	}
	var deleted []string
	err := s.writeChange(ctx, func(tx pgx.Tx) error {
		deleted = nil
		if err := s.mustExist(ctx, tx, "id", id); err != nil {
			return err
		}
		// The subtree, each row locked against writers until the commit.
		rows, err := tx.Query(ctx, `WITH RECURSIVE sub(id) AS (
				SELECT $2::text UNION SELECT t.id FROM tasks t JOIN sub ON t.project_id = $1 AND t.parent_id = sub.id)
			SELECT t.id FROM tasks t WHERE t.project_id = $1 AND t.id IN (SELECT id FROM sub) ORDER BY t.id FOR UPDATE`,
			s.pid, id)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return notFound("id", id) // deleted meanwhile
		}
		slices.Sort(ids) // byte order, whatever the database's collation
		if !cascade && len(ids) > 1 {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM tasks WHERE project_id = $1 AND parent_id = $2`,
				s.pid, id).Scan(&n); err != nil {
				return err
			}
			return invalid("cascade", "task %s has %d subtasks; pass cascade=true to delete them too, "+
				"or move them elsewhere with task_update parent_id first", id, n)
		}
		now := s.now()
		// Tasks outside the subtree that lose a dependency change too.
		rows, err = tx.Query(ctx, `SELECT task_id, depends_on_id FROM task_dependencies
			WHERE project_id = $1 AND depends_on_id = ANY($2::text[]) AND NOT (task_id = ANY($2::text[]))
			ORDER BY task_id, depends_on_id`, s.pid, ids)
		if err != nil {
			return err
		}
		lost, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
			var e [2]string
			return e, r.Scan(&e[0], &e[1])
		})
		if err != nil {
			return err
		}
		var losers []string
		for _, e := range lost {
			if len(losers) == 0 || losers[len(losers)-1] != e[0] {
				losers = append(losers, e[0])
			}
		}
		if len(losers) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE tasks SET version = version + 1, updated_at = $3
				WHERE project_id = $1 AND id = ANY($2::text[])`, s.pid, losers, now); err != nil {
				return err
			}
		}
		for _, e := range lost {
			if err := s.record(ctx, tx, now, historyEntry{taskID: e[0], event: work.EventDependency,
				changes: map[string][2]any{"depends_on": {e[1], nil}}, note: "the task it depended on was deleted"}); err != nil {
				return err
			}
		}
		for _, d := range ids {
			if err := s.record(ctx, tx, now, historyEntry{taskID: d, event: work.EventDeleted}); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM tasks WHERE project_id = $1 AND id = ANY($2::text[])`, s.pid, ids); err != nil {
			if foreignKey(err) == "tasks_parent_same_project" {
				return errRetry // a subtask was created meanwhile: read the subtree again
			}
			return err
		}
		if err := s.enqueue(ctx, tx, EventDependency, now, losers...); err != nil {
			return err
		}
		if err := s.enqueue(ctx, tx, EventDelete, now, ids...); err != nil {
			return err
		}
		deleted = ids
		return nil
	})
	if err != nil {
		return nil, wrap("delete task", true, err)
	}
	return deleted, nil
}
