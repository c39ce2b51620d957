package postgres

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// cursor is the keyset position after the last task of a page: adapters/
// sqlite's, so a cursor reads the same on either store.
type cursor struct {
	CreatedAt string `json:"c"`
	ID        string `json:"i"`
}

func encodeCursor(t Task) string {
	b, _ := json.Marshal(cursor{CreatedAt: fmtTime(t.CreatedAt), ID: t.ID})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (time.Time, string, error) {
	bad := invalid("cursor", "cursor is not one this server returned; pass next_cursor from the previous task_list call unchanged, or omit it to start over")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return time.Time{}, "", bad
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil || c.ID == "" || hasNUL(c.ID) {
		return time.Time{}, "", bad
	}
	at, err := time.Parse(time.RFC3339Nano, c.CreatedAt)
	if err != nil {
		return time.Time{}, "", bad
	}
	return at, c.ID, nil
}

// hasWords says whether text holds a word to search for: a word with a
// letter or a digit (adapters/sqlite's rule, for the same refusal). The words
// are handed to plainto_tsquery, which ANDs them and treats every character
// as text, never as query syntax.
func hasWords(text string) bool {
	for _, w := range strings.Fields(text) {
		if strings.ContainsFunc(w, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) {
			return true
		}
	}
	return false
}

// readySQL is true for a task t that task_claim may hand out, role and labels
// aside, at the time $now: pending, or in progress under a lease that has run
// out; every dependency completed; no open subtask (adapters/sqlite's
// claimableSQL).
func readySQL(now string) string {
	return `(t.status = 'pending' OR (t.status = 'in_progress' AND t.lease_expires_at < ` + now + `))
	AND NOT EXISTS (SELECT 1 FROM task_dependencies d JOIN tasks x ON x.project_id = d.project_id AND x.id = d.depends_on_id
		WHERE d.project_id = $1 AND d.task_id = t.id AND x.status <> 'completed')
	AND NOT EXISTS (SELECT 1 FROM tasks sub WHERE sub.project_id = $1 AND sub.parent_id = t.id
		AND sub.status IN ('pending','in_progress','blocked'))`
}

// List returns the project's tasks matching f in creation order (created_at,
// id) and the cursor of the next page, "" when there is none.
func (s *Store) List(ctx context.Context, f Filter) ([]Task, string, error) {
	limit := f.Limit
	switch {
	case limit == 0:
		limit = work.DefaultLimit
	case limit < 1 || limit > work.MaxLimit:
		return nil, "", invalid("limit", "limit %d is out of range; use 1 to %d (default %d) and page with cursor", limit, work.MaxLimit, work.DefaultLimit)
	}
	where := []string{`t.project_id = $1`}
	args := []any{s.pid}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	none := false // a filter no stored task can match
	if len(f.Status) > 0 {
		for _, st := range f.Status {
			if err := rules.Enum("status", st, work.TaskStatuses); err != nil {
				return nil, "", err
			}
		}
		where = append(where, `t.status = ANY(`+arg(f.Status)+`::text[])`)
	}
	if f.ParentID != "" {
		if err := rules.ID("parent_id", f.ParentID); err != nil {
			return nil, "", err
		}
		none = none || hasNUL(f.ParentID)
		where = append(where, `t.parent_id = `+arg(f.ParentID))
	}
	if f.Label != "" {
		if err := rules.Label("label", f.Label); err != nil {
			return nil, "", err
		}
		where = append(where, `EXISTS (SELECT 1 FROM task_labels l WHERE l.project_id = $1 AND l.task_id = t.id AND l.label = `+
			arg(f.Label)+`)`)
	}
	for _, fv := range []struct{ field, col, v string }{{"assignee", "t.assignee", f.Assignee}, {"role", "t.role", f.Role}} {
		if fv.v == "" {
			continue
		}
		v, err := rules.Name(fv.field, fv.v)
		if err != nil {
			return nil, "", err
		}
		where = append(where, fv.col+` = `+arg(v))
	}
	if f.Ready {
		where = append(where, readySQL(arg(s.now())))
	}
	if f.Text != "" {
		if err := rules.Text("text", f.Text, work.MaxText); err != nil {
			return nil, "", err
		}
		if !hasWords(f.Text) {
			return nil, "", invalid("text", "text %q has no words to search for; use letters or digits", work.Clip(f.Text))
		}
		where = append(where, `t.search @@ plainto_tsquery('simple', `+arg(f.Text)+`)`)
	}
	if f.Cursor != "" {
		at, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		where = append(where, `(t.created_at, t.id) > (`+arg(at)+`, `+arg(id)+`)`)
	}
	if none {
		return []Task{}, "", nil
	}
	query := `SELECT ` + taskCols + ` FROM tasks t WHERE ` + strings.Join(where, ` AND `) +
		` ORDER BY t.created_at, t.id LIMIT ` + arg(limit+1)

	var tasks []Task
	err := s.readOne(ctx, func(q db) (err error) {
		tasks, err = loadTasks(ctx, q, query, args...)
		return err
	})
	if err != nil {
		return nil, "", wrap("list tasks", false, err)
	}
	next := ""
	if len(tasks) > limit {
		tasks = tasks[:limit]
		next = encodeCursor(tasks[limit-1])
	}
	return tasks, next, nil
}

// TasksByID returns the tasks among ids that exist in the project, with
// labels and dependencies, oldest first. An id that is missing was deleted
// (or is another project's).
func (s *Store) TasksByID(ctx context.Context, ids []string) ([]Task, error) {
	keep := make([]string, 0, len(ids))
	for _, id := range ids {
		if !hasNUL(id) {
			keep = append(keep, id)
		}
	}
	var out []Task
	err := s.readOne(ctx, func(q db) (err error) {
		out, err = loadTasks(ctx, q, `SELECT `+taskCols+` FROM tasks t
			WHERE t.project_id = $1 AND t.id = ANY($2::text[]) ORDER BY t.created_at, t.id`, s.pid, keep)
		return err
	})
	if err != nil {
		return nil, wrap("read tasks", false, err)
	}
	return out, nil
}

// TaskIDs returns the ids of every task of the project, in creation order.
func (s *Store) TaskIDs(ctx context.Context) ([]string, error) {
	var out []string
	err := s.readOne(ctx, func(q db) error {
		rows, err := q.Query(ctx, `SELECT id FROM tasks WHERE project_id = $1 ORDER BY created_at, id`, s.pid)
		if err != nil {
			return err
		}
		defer rows.Close()
		out = []string{}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			out = append(out, id)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, wrap("list task ids", false, err)
	}
	return out, nil
}

// CountTasks returns how many tasks the project has.
func (s *Store) CountTasks(ctx context.Context) (int, error) {
	var n int
	err := s.readOne(ctx, func(q db) error {
		return q.QueryRow(ctx, `SELECT count(*) FROM tasks WHERE project_id = $1`, s.pid).Scan(&n)
	})
	if err != nil {
		return 0, wrap("count tasks", false, err)
	}
	return n, nil
}
