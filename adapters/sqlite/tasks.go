package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// timeLayout stores times as UTC text with a fixed number of fractional
// digits, so that text order is time order.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func fmtTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return t.UTC(), nil
}

// now returns the current time, strictly later than any time it returned
// before, so that created_at orders tasks in the order they were made.
func (s *Store) now() time.Time {
	s.clockMu.Lock()
	defer s.clockMu.Unlock()
	var t time.Time
	if s.clock != nil {
		t = s.clock().UTC()
	} else {
		t = time.Now().UTC()
	}
	if !t.After(s.lastNow) {
		t = s.lastNow.Add(time.Nanosecond)
	}
	s.lastNow = t
	return t
}

// newID returns "tsk_" and 16 lowercase hex characters from crypto/rand.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand documents that it panics instead)
	return "tsk_" + hex.EncodeToString(b[:])
}

// taskCols is the column list of a task's own fields, from tasks aliased t.
const taskCols = `t.id, t.title, t.description, t.status, t.priority, t.role, t.assignee, t.parent_id,
	t.version, t.created_at, t.updated_at, t.started_at, t.completed_at, t.summary, t.metadata, t.lease_expires_at`

// listSep separates the values of the label and dependency aggregates. The
// byte 0xFF never occurs in UTF-8: labels are [A-Za-z0-9_.:-] (checkLabel)
// and task ids are valid UTF-8 (newID, checkID), so splitting on it is exact.
const (
	listSep    = "\xff"
	listSepSQL = `CAST(x'ff' AS TEXT)`
)

// taskColsRel is taskCols and the task's labels and dependencies, each one
// aggregate column (listSep-separated, NULL for none): the task and its
// relations come out of one statement. scanTask reads it. The aggregates have
// no ORDER BY: SQLite would build a temporary b-tree for each, per row, to
// sort what the primary key (task_id, label) already yields in order;
// splitList sorts instead, which costs one pass over sorted input.
const taskColsRel = taskCols + `,
	(SELECT group_concat(label, ` + listSepSQL + `) FROM task_labels WHERE task_id = t.id),
	(SELECT group_concat(depends_on_id, ` + listSepSQL + `) FROM task_dependencies WHERE task_id = t.id)`

type scanner interface{ Scan(dest ...any) error }

// taskRow is one row of taskColsRel as stored, before conversion.
type taskRow struct {
	id, title, description, status, priority         string
	role, assignee, parent, started, completed, summ sql.NullString
	lease, labels, deps                              sql.NullString
	version                                          int64
	created, updated, meta                           string
}

// dest is where Scan puts taskColsRel's columns, after any given before them.
func (r *taskRow) dest(before ...any) []any {
	return append(before, &r.id, &r.title, &r.description, &r.status, &r.priority, &r.role, &r.assignee, &r.parent,
		&r.version, &r.created, &r.updated, &r.started, &r.completed, &r.summ, &r.meta, &r.lease, &r.labels, &r.deps)
}

func (r *taskRow) task() (Task, error) {
	t := Task{ID: r.id, Title: r.title, Description: r.description, Status: work.Status(r.status),
		Priority: r.priority, Version: r.version}
	var err error
	if t.CreatedAt, err = parseTime(r.created); err != nil {
		return Task{}, err
	}
	if t.UpdatedAt, err = parseTime(r.updated); err != nil {
		return Task{}, err
	}
	if t.StartedAt, err = nullTime(r.started); err != nil {
		return Task{}, err
	}
	if t.CompletedAt, err = nullTime(r.completed); err != nil {
		return Task{}, err
	}
	if t.LeaseExpiresAt, err = nullTime(r.lease); err != nil {
		return Task{}, err
	}
	t.Role, t.Assignee, t.ParentID, t.Summary = nullStr(r.role), nullStr(r.assignee), nullStr(r.parent), nullStr(r.summ)
	meta := r.meta
	if meta == "" {
		meta = "{}"
	}
	t.Metadata = json.RawMessage(meta)
	t.Labels, t.DependsOn = splitList(r.labels), splitList(r.deps)
	return t, nil
}

// splitList splits an aggregate column of taskColsRel, sorted; never nil.
func splitList(v sql.NullString) []string {
	if !v.Valid || v.String == "" {
		return []string{}
	}
	l := strings.Split(v.String, listSep)
	if !slices.IsSorted(l) {
		slices.Sort(l)
	}
	return l
}

// scanTask reads one row of taskColsRel.
func scanTask(r scanner) (Task, error) {
	var row taskRow
	if err := r.Scan(row.dest()...); err != nil {
		return Task{}, err
	}
	return row.task()
}

func nullStr(v sql.NullString) *string {
	if !v.Valid {
		return nil
	}
	return &v.String
}

func nullTime(v sql.NullString) (*time.Time, error) {
	if !v.Valid {
		return nil, nil
	}
	t, err := parseTime(v.String)
	return &t, err
}

// optStr is the value stored for an optional text column: NULL for "".
func optStr(p *string) any {
	if p == nil || *p == "" {
		return nil
	}
	return *p
}

func optTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return fmtTime(*t)
}

func jsonIDs(ids []string) string {
	b, _ := json.Marshal(ids) // []string always marshals
	return string(b)
}

// loadTasks runs a query selecting taskColsRel: the tasks with their labels
// and dependencies, in one statement.
func loadTasks(ctx context.Context, c *conn, query string, args ...any) ([]Task, error) {
	rows, err := c.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	tasks := []Task{}
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		tasks = append(tasks, t)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	return tasks, nil
}

func getTask(ctx context.Context, c *conn, field, id string) (Task, error) {
	tasks, err := loadTasks(ctx, c, `SELECT `+taskColsRel+` FROM tasks t WHERE t.id = ?`, id)
	if err != nil {
		return Task{}, err
	}
	if len(tasks) == 0 {
		return Task{}, notFound(field, id)
	}
	return tasks[0], nil
}

func exists(ctx context.Context, c *conn, id string) (bool, error) {
	var one int
	err := c.queryRow(ctx, `SELECT 1 FROM tasks WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

func mustExist(ctx context.Context, c *conn, field, id string) error {
	ok, err := exists(ctx, c, id)
	if err != nil {
		return err
	}
	if !ok {
		return notFound(field, id)
	}
	return nil
}

// firstMissing returns the first of ids that is not a task, or "".
func firstMissing(ctx context.Context, c *conn, ids []string) (string, error) {
	if len(ids) == 0 {
		return "", nil
	}
	var id string
	err := c.queryRow(ctx, `SELECT j.value FROM json_each(?) j
		WHERE NOT EXISTS (SELECT 1 FROM tasks WHERE id = j.value) ORDER BY j.key LIMIT 1`, jsonIDs(ids)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return id, err
}

func insertLabels(ctx context.Context, c *conn, id string, labels []string) error {
	for _, l := range labels {
		if _, err := c.exec(ctx, `INSERT INTO task_labels (task_id, label) VALUES (?, ?)`, id, l); err != nil {
			return err
		}
	}
	return nil
}

// Create validates t and stores it as a pending task.
func (s *Store) Create(ctx context.Context, nt NewTask) (Task, error) {
	id := newID()
	ct, err := s.checkNewTask(nt, id)
	if err != nil {
		return Task{}, err
	}
	title, prio, role, labels, deps, meta := ct.Title, ct.Priority, ct.Role, ct.Labels, ct.Deps, ct.Meta

	var out Task
	err = s.writeChange(ctx, func(c *conn) error {
		if nt.ParentID != "" {
			if err := mustExist(ctx, c, "parent_id", nt.ParentID); err != nil {
				return err
			}
		}
		if missing, err := firstMissing(ctx, c, deps); err != nil {
			return err
		} else if missing != "" {
			return notFound("depends_on", missing)
		}
		now := s.now()
		ts := fmtTime(now)
		if _, err := c.exec(ctx, `INSERT INTO tasks
			(id, seq, title, description, status, priority, role, parent_id, version, created_at, updated_at, metadata)
			VALUES (?, (SELECT IFNULL(MAX(seq), 0) + 1 FROM tasks), ?, ?, 'pending', ?, ?, ?, 1, ?, ?, ?)`,
			id, title, nt.Description, prio, optStr(&role), optStr(&nt.ParentID), ts, ts, string(meta)); err != nil {
			return err
		}
		if err := insertLabels(ctx, c, id, labels); err != nil {
			return err
		}
		for _, d := range deps {
			if _, err := c.exec(ctx, `INSERT INTO task_dependencies (task_id, depends_on_id) VALUES (?, ?)`, id, d); err != nil {
				return err
			}
		}
		if err := enqueue(ctx, c, EventCreate, ts, id); err != nil {
			return err
		}
		if err := s.record(ctx, c, ts, historyEntry{taskID: id, actor: nt.Actor, event: work.EventCreated,
			changes: map[string][2]any{"title": {nil, title}}}); err != nil {
			return err
		}
		out = Task{
			ID: id, Title: title, Description: nt.Description, Status: "pending", Priority: prio,
			Labels: labels, DependsOn: deps, Version: 1, CreatedAt: now, UpdatedAt: now,
			Metadata: json.RawMessage(meta),
		}
		if role != "" {
			out.Role = &role
		}
		if nt.ParentID != "" {
			p := nt.ParentID
			out.ParentID = &p
		}
		return nil
	})
	return out, wrap("create task", err)
}

// Get returns a task with its direct subtasks, its dependents and its artifacts.
func (s *Store) Get(ctx context.Context, id string) (TaskDetail, error) {
	if err := rules.ID("id", id); err != nil {
		return TaskDetail{}, err
	}
	var d TaskDetail
	err := s.readOne(ctx, func(c *conn) (err error) {
		d, err = getDetail(ctx, c, id)
		return err
	})
	if err != nil {
		return TaskDetail{}, wrap("get task", err)
	}
	return d, nil
}

// Kinds of the rows of detailQuery.
const (
	detailTask = iota
	detailSubtask
	detailDependent
	detailArtifact
)

// detailQuery is the whole of a TaskDetail in one statement, so one read
// snapshot without BEGIN … COMMIT: the task (kind 0), its subtasks (1) and
// its dependents (2), each in creation order, then its artifacts (3) by name.
// An artifact row carries name as id and in the created_at column (so the
// order by columns 11, 2 sorts artifacts by name), path as title, size as
// version, created_at in the updated_at column and sha256 as summary.
const detailQuery = `SELECT 0, ` + taskColsRel + ` FROM tasks t WHERE t.id = ?1
	UNION ALL SELECT 1, ` + taskColsRel + ` FROM tasks t WHERE t.parent_id = ?1
	UNION ALL SELECT 2, ` + taskColsRel + ` FROM task_dependencies d JOIN tasks t ON t.id = d.task_id
		WHERE d.depends_on_id = ?1
	UNION ALL SELECT 3, name, path, '', '', '', NULL, NULL, NULL, size, name, created_at, NULL, NULL, sha256, '{}',
		NULL, NULL, NULL FROM artifacts WHERE task_id = ?1
	ORDER BY 1, 11, 2`

// getDetail reads a task, its subtasks and dependents (with their labels and
// dependencies) and its artifacts in one statement.
func getDetail(ctx context.Context, c *conn, id string) (d TaskDetail, err error) {
	rows, err := c.query(ctx, detailQuery, id)
	if err != nil {
		return d, err
	}
	defer func() { err = errors.Join(err, rows.Close()) }()
	found := false
	d.Subtasks, d.Dependents, d.Artifacts = []Task{}, []Task{}, []ArtifactRecord{}
	for rows.Next() {
		var (
			kind int
			row  taskRow
		)
		if err := rows.Scan(row.dest(&kind)...); err != nil {
			return d, err
		}
		if kind == detailArtifact {
			a := ArtifactRecord{Name: row.id, Path: row.title, Size: row.version, SHA256: row.summ.String}
			if a.CreatedAt, err = parseTime(row.updated); err != nil {
				return d, err
			}
			d.Artifacts = append(d.Artifacts, a)
			continue
		}
		t, err := row.task()
		if err != nil {
			return d, err
		}
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
		return d, err
	}
	if !found {
		return TaskDetail{}, notFound("id", id)
	}
	return d, nil
}

func loadArtifacts(ctx context.Context, c *conn, id string) ([]ArtifactRecord, error) {
	rows, err := c.query(ctx, `SELECT name, path, size, sha256, created_at FROM artifacts
		WHERE task_id = ? ORDER BY name`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []ArtifactRecord{}
	for rows.Next() {
		var a ArtifactRecord
		var created string
		if err := rows.Scan(&a.Name, &a.Path, &a.Size, &a.SHA256, &created); err != nil {
			return nil, err
		}
		if a.CreatedAt, err = parseTime(created); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Exists reports whether a task with this id exists.
func (s *Store) Exists(ctx context.Context, id string) (bool, error) {
	if err := rules.ID("id", id); err != nil {
		return false, err
	}
	var ok bool
	err := s.readOne(ctx, func(c *conn) error {
		var err error
		ok, err = exists(ctx, c, id)
		return err
	})
	return ok, wrap("check task", err)
}

// checkPatch applies task_update's field rules (work.FieldRules.Patch).
func (s *Store) checkPatch(p Patch) (work.CheckedPatch, error) {
	return rules.Patch(p, s.opts.MaxMetadata)
}

func conflict(id string, have, want int64) error {
	return &Error{Kind: KindConflict, Field: "version",
		Msg: fmt.Sprintf("task %s is at version %d, not %d: it changed since you read it; "+
			"re-read it with task_get and retry with version %d", id, have, want, have)}
}

func strPtrEq(a, b *string) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// Update applies p to the task. version > 0 must equal the stored version
// (optimistic locking); 0 skips the check. A patch that changes nothing
// returns the task as it is, without a new version (a holder's empty patch
// still renews its lease, like a heartbeat).
//
// Leases: on an in-progress task under a live lease only the holder
// (p.Agent == assignee) may change it; the holder's write renews the lease by
// the task's lease_seconds. A task moved to in_progress gets the assignee
// p.Assignee or else p.Agent, and the store's default lease; a task moved out
// of in_progress loses its lease. A parent with open subtasks cannot be
// moved to completed. Every change is written to the history.
func (s *Store) Update(ctx context.Context, id string, version int64, p Patch) (Task, error) {
	if err := rules.ID("id", id); err != nil {
		return Task{}, err
	}
	if version < 0 {
		return Task{}, invalid("version", "version %d is negative; pass the version task_get returned, or 0 to skip the check", version)
	}
	cp, err := s.checkPatch(p)
	if err != nil {
		return Task{}, err
	}
	agent, err := rules.Name("agent", p.Agent)
	if err != nil {
		return Task{}, err
	}
	if cp.ParentID != nil && *cp.ParentID == id {
		return Task{}, invalid("parent_id", "task %s cannot be its own parent", id)
	}
	var out Task
	err = s.writeChange(ctx, func(c *conn) error {
		cur, err := getTask(ctx, c, "id", id)
		if err != nil {
			return err
		}
		l, err := loadLease(ctx, c, id)
		if err != nil {
			return err
		}
		now := s.now()
		ts := fmtTime(now)
		late, err := checkHolder(ctx, c, l, agent, ts)
		if err != nil {
			return err
		}
		if version > 0 && cur.Version != version {
			return conflict(id, cur.Version, version)
		}
		next := cur
		if cp.Title != nil {
			next.Title = *cp.Title
		}
		if cp.Description != nil {
			next.Description = *cp.Description
		}
		if cp.Priority != nil {
			next.Priority = *cp.Priority
		}
		if cp.Summary != nil {
			next.Summary = cp.Summary
		}
		if cp.Meta != nil {
			next.Metadata = cp.Meta
		}
		if cp.Labels != nil {
			next.Labels = cp.CheckedLabels
		}
		if cp.Status != nil && work.Status(*cp.Status) != cur.Status {
			if err := work.CheckTransition(id, cur.Status, work.Status(*cp.Status)); err != nil {
				return err
			}
			next.Status = work.Status(*cp.Status)
			switch next.Status {
			case work.InProgress:
				next.StartedAt = &now
				if cp.Assignee == nil && agent != "" {
					next.Assignee = &agent
				}
			case work.Completed, work.Failed:
				next.CompletedAt = &now
			case work.Pending:
				next.Assignee, next.StartedAt, next.CompletedAt = nil, nil, nil
			}
			if next.Status == work.Completed {
				if err := openSubtasks(ctx, c, id, "status"); err != nil {
					return err
				}
			}
		}
		if cp.Role != nil {
			next.Role = nilIfEmpty(*cp.Role)
		}
		if cp.Assignee != nil {
			next.Assignee = nilIfEmpty(*cp.Assignee)
		}
		if cp.ParentID != nil {
			next.ParentID = nilIfEmpty(*cp.ParentID)
			if next.ParentID != nil && !strPtrEq(next.ParentID, cur.ParentID) {
				if err := checkParent(ctx, c, id, *next.ParentID); err != nil {
					return err
				}
			}
		}
		// The lease after the change: a task entering in_progress (or
		// changing hands in it) gets a fresh lease; the holder's write renews
		// it; a task leaving in_progress loses it.
		holder := agent != "" && agent == l.assignee && l.status == work.InProgress
		leaseSecs, leaseExp := any(nil), any(nil)
		keepLease := false
		switch {
		case next.Status != work.InProgress:
		case cur.Status != work.InProgress || !strPtrEq(next.Assignee, cur.Assignee):
			d := s.defaultLease()
			if cur.Status == work.InProgress {
				d = s.leaseLength(l)
			}
			leaseSecs, leaseExp = int64(d/time.Second), fmtTime(now.Add(d))
		case holder:
			leaseSecs, leaseExp = int64(s.leaseLength(l)/time.Second), fmtTime(now.Add(s.leaseLength(l)))
		default: // a non-holder's change leaves the lease as it is
			leaseSecs, leaseExp, keepLease = nullInt(l.seconds), nullable(l.expires), true
		}
		changes := map[string][2]any{}
		diff := func(field string, old, new any) {
			if old != new {
				changes[field] = [2]any{old, new}
			}
		}
		diff("title", cur.Title, next.Title)
		diff("description", cur.Description, next.Description)
		diff("status", string(cur.Status), string(next.Status))
		diff("priority", cur.Priority, next.Priority)
		diff("role", strOrNil(cur.Role), strOrNil(next.Role))
		diff("assignee", strOrNil(cur.Assignee), strOrNil(next.Assignee))
		diff("parent_id", strOrNil(cur.ParentID), strOrNil(next.ParentID))
		diff("summary", strOrNil(cur.Summary), strOrNil(next.Summary))
		if !slices.Equal(next.Labels, cur.Labels) {
			changes["labels"] = [2]any{cur.Labels, next.Labels}
		}
		if string(next.Metadata) != string(cur.Metadata) {
			changes["metadata"] = [2]any{"…", "…"} // changed; the objects may be large
		}
		if len(changes) == 0 {
			if exp, ok := leaseExp.(string); holder && ok {
				if err := s.renew(ctx, c, &l, exp, ts); err != nil {
					return err
				}
				out, err = getTask(ctx, c, "id", id)
				return err
			}
			out = cur
			return nil
		}
		if err := s.noteExpiry(ctx, c, &l, ts); err != nil {
			return err
		}
		noted := 0
		if keepLease && l.noted {
			noted = 1
		}
		// The full-text index follows title and description through the
		// trigger on UPDATE OF title, description, which SQLite fires whenever
		// they are in the SET list, changed or not, and which re-indexes both
		// (a delete and an insert in the index, a new segment at commit). A
		// patch that leaves them alone does not name them.
		set, args := updateTaskSQL, []any{}
		_, title := changes["title"]
		if _, desc := changes["description"]; title || desc {
			set, args = updateTaskTextSQL, []any{next.Title, next.Description}
		}
		args = append(args, next.Status, next.Priority, optStr(next.Role), optStr(next.Assignee),
			optStr(next.ParentID), optTime(next.StartedAt), optTime(next.CompletedAt), optStrNull(next.Summary),
			string(next.Metadata), leaseSecs, leaseExp, noted, ts, id)
		if _, err := c.exec(ctx, set, args...); err != nil {
			return err
		}
		if _, ok := changes["labels"]; ok {
			if _, err := c.exec(ctx, `DELETE FROM task_labels WHERE task_id = ?`, id); err != nil {
				return err
			}
			if err := insertLabels(ctx, c, id, next.Labels); err != nil {
				return err
			}
		}
		kind, event := EventUpdate, work.EventUpdated
		if next.Status != cur.Status {
			kind, event = EventStatus, work.EventStatus
		}
		if err := s.record(ctx, c, ts, historyEntry{taskID: id, actor: agent, event: event, late: late,
			changes: changes}); err != nil {
			return err
		}
		if err := enqueue(ctx, c, kind, ts, id); err != nil {
			return err
		}
		out, err = getTask(ctx, c, "id", id)
		return err
	})
	return out, wrap("update task", err)
}

// The UPDATE of Update, without and with the text columns.
const (
	updateTaskSQL = `UPDATE tasks SET status = ?, priority = ?,
		role = ?, assignee = ?, parent_id = ?, started_at = ?, completed_at = ?, summary = ?, metadata = ?,
		lease_seconds = ?, lease_expires_at = ?, lease_expiry_noted = ?,
		version = version + 1, updated_at = ? WHERE id = ?`
	updateTaskTextSQL = `UPDATE tasks SET title = ?, description = ?, status = ?, priority = ?,
		role = ?, assignee = ?, parent_id = ?, started_at = ?, completed_at = ?, summary = ?, metadata = ?,
		lease_seconds = ?, lease_expires_at = ?, lease_expiry_noted = ?,
		version = version + 1, updated_at = ? WHERE id = ?`
)

// strOrNil is *p, or nil (JSON null) for a nil pointer.
func strOrNil(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

// nullInt is v, or nil (SQL NULL) for 0.
func nullInt(v int64) any {
	if v == 0 {
		return nil
	}
	return v
}

// optStrNull stores a non-nil pointer as given, "" included (a summary may be empty).
func optStrNull(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

func nilIfEmpty(v string) *string {
	if v == "" {
		return nil
	}
	return &v
}

// checkParent refuses a parent that does not exist or that lies in id's own subtree.
func checkParent(ctx context.Context, c *conn, id, parent string) error {
	if err := mustExist(ctx, c, "parent_id", parent); err != nil {
		return err
	}
	var one int
	err := c.queryRow(ctx, `WITH RECURSIVE sub(id) AS (
			SELECT ? UNION SELECT t.id FROM tasks t JOIN sub ON t.parent_id = sub.id)
		SELECT 1 FROM sub WHERE id = ?`, id, parent).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	return &Error{Kind: KindCycle, Field: "parent_id",
		Msg: fmt.Sprintf("task %s is a subtask of %s, so it cannot become its parent; choose a parent outside %s's subtree", parent, id, id)}
}

// Delete removes a task. A task with subtasks is refused unless cascade, which
// removes the whole subtree. Labels, dependency edges and artifact rows go
// with the tasks (the caller removes artifact files). Returns the deleted ids, sorted.
func (s *Store) Delete(ctx context.Context, id string, cascade bool) ([]string, error) {
	if err := rules.ID("id", id); err != nil {
		return nil, err
	}
	var deleted []string
	err := s.writeChange(ctx, func(c *conn) error {
		if err := mustExist(ctx, c, "id", id); err != nil {
			return err
		}
		rows, err := c.query(ctx, `WITH RECURSIVE sub(id) AS (
				SELECT ? UNION SELECT t.id FROM tasks t JOIN sub ON t.parent_id = sub.id)
			SELECT id FROM sub ORDER BY id`, id)
		if err != nil {
			return err
		}
		deleted = []string{}
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return err
			}
			deleted = append(deleted, v)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		if !cascade && len(deleted) > 1 {
			var n int
			if err := c.queryRow(ctx, `SELECT count(*) FROM tasks WHERE parent_id = ?`, id).Scan(&n); err != nil {
				return err
			}
			return invalid("cascade", "task %s has %d subtasks; pass cascade=true to delete them too, "+
				"or move them elsewhere with task_update parent_id first", id, n)
		}
		in := jsonIDs(deleted)
		ts := fmtTime(s.now())
		// Tasks outside the subtree that lose a dependency change too.
		if _, err := c.exec(ctx, `INSERT INTO outbox (task_id, kind, created_at)
			SELECT DISTINCT task_id, 'dependency', ?1 FROM task_dependencies
			WHERE depends_on_id IN (SELECT value FROM json_each(?2)) AND task_id NOT IN (SELECT value FROM json_each(?2))
			ORDER BY task_id`, ts, in); err != nil {
			return err
		}
		if _, err := c.exec(ctx, `UPDATE tasks SET version = version + 1, updated_at = ?1
			WHERE id IN (SELECT task_id FROM task_dependencies WHERE depends_on_id IN (SELECT value FROM json_each(?2)))
			AND id NOT IN (SELECT value FROM json_each(?2))`, ts, in); err != nil {
			return err
		}
		// The history: a dependency event for each task outside the subtree
		// that loses an edge, a deleted event for each deleted task.
		rows, err = c.query(ctx, `SELECT task_id, depends_on_id FROM task_dependencies
			WHERE depends_on_id IN (SELECT value FROM json_each(?1)) AND task_id NOT IN (SELECT value FROM json_each(?1))
			ORDER BY task_id, depends_on_id`, in)
		if err != nil {
			return err
		}
		var lost [][2]string
		for rows.Next() {
			var e [2]string
			if err := rows.Scan(&e[0], &e[1]); err != nil {
				rows.Close()
				return err
			}
			lost = append(lost, e)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		for _, e := range lost {
			if err := s.record(ctx, c, ts, historyEntry{taskID: e[0], event: work.EventDependency,
				changes: map[string][2]any{"depends_on": {e[1], nil}}, note: "the task it depended on was deleted"}); err != nil {
				return err
			}
		}
		for _, d := range deleted {
			if err := s.record(ctx, c, ts, historyEntry{taskID: d, event: work.EventDeleted}); err != nil {
				return err
			}
		}
		if _, err = c.exec(ctx, `DELETE FROM tasks WHERE id IN (SELECT value FROM json_each(?))`, in); err != nil {
			return err
		}
		return enqueue(ctx, c, EventDelete, ts, deleted...)
	})
	if err != nil {
		return nil, wrap("delete task", err)
	}
	return deleted, nil
}
