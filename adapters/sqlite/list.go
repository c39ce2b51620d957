package sqlite

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"unicode"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// cursor is the keyset position after the last task of a page.
type cursor struct {
	CreatedAt string `json:"c"`
	ID        string `json:"i"`
}

func encodeCursor(t Task) string {
	b, _ := json.Marshal(cursor{CreatedAt: fmtTime(t.CreatedAt), ID: t.ID})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	bad := invalid("cursor", "cursor is not one this server returned; pass next_cursor from the previous task_list call unchanged, or omit it to start over")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, bad
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil || c.ID == "" {
		return cursor{}, bad
	}
	if _, err := parseTime(c.CreatedAt); err != nil {
		return cursor{}, bad
	}
	return c, nil
}

// ftsQuery turns a user's text into a safe FTS5 query: every word becomes a
// quoted string, so quotes, *, AND/OR/NOT/NEAR, parentheses and - are plain
// text, never syntax. Words without a letter or digit are dropped; the words
// left must all match (implicit AND). Returns "" when nothing is left.
func ftsQuery(text string) string {
	var terms []string
	for _, w := range strings.Fields(text) {
		if !strings.ContainsFunc(w, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) {
			continue
		}
		w = strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return -1
			}
			return r
		}, w)
		terms = append(terms, `"`+strings.ReplaceAll(w, `"`, `""`)+`"`)
	}
	return strings.Join(terms, " ")
}

// List returns tasks matching f in creation order (created_at, id) and the
// cursor of the next page, "" when there is none.
func (s *Store) List(ctx context.Context, f Filter) ([]Task, string, error) {
	limit := f.Limit
	switch {
	case limit == 0:
		limit = work.DefaultLimit
	case limit < 1 || limit > work.MaxLimit:
		return nil, "", invalid("limit", "limit %d is out of range; use 1 to %d (default %d) and page with cursor", limit, work.MaxLimit, work.DefaultLimit)
	}
	var (
		where []string
		args  []any
	)
	if len(f.Status) > 0 {
		for _, st := range f.Status {
			if err := rules.Enum("status", st, work.TaskStatuses); err != nil {
				return nil, "", err
			}
		}
		where = append(where, `t.status IN (SELECT value FROM json_each(?))`)
		args = append(args, jsonIDs(f.Status))
	}
	if f.ParentID != "" {
		if err := rules.ID("parent_id", f.ParentID); err != nil {
			return nil, "", err
		}
		where = append(where, `t.parent_id = ?`)
		args = append(args, f.ParentID)
	}
	if f.Label != "" {
		if err := rules.Label("label", f.Label); err != nil {
			return nil, "", err
		}
		where = append(where, `EXISTS (SELECT 1 FROM task_labels l WHERE l.task_id = t.id AND l.label = ?)`)
		args = append(args, f.Label)
	}
	for _, fv := range []struct{ field, col, v string }{{"assignee", "t.assignee", f.Assignee}, {"role", "t.role", f.Role}} {
		if fv.v == "" {
			continue
		}
		v, err := rules.Name(fv.field, fv.v)
		if err != nil {
			return nil, "", err
		}
		where = append(where, fv.col+` = ?`)
		args = append(args, v)
	}
	if f.Ready {
		where = append(where, claimableSQL("?"))
		args = append(args, fmtTime(s.now()))
	}
	if f.Text != "" {
		if err := rules.Text("text", f.Text, work.MaxText); err != nil {
			return nil, "", err
		}
		q := ftsQuery(f.Text)
		if q == "" {
			return nil, "", invalid("text", "text %q has no words to search for; use letters or digits", work.Clip(f.Text))
		}
		where = append(where, `t.seq IN (SELECT rowid FROM tasks_fts WHERE tasks_fts MATCH ?)`)
		args = append(args, q)
	}
	if f.Cursor != "" {
		c, err := decodeCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		where = append(where, `(t.created_at, t.id) > (?, ?)`)
		args = append(args, c.CreatedAt, c.ID)
	}
	query := `SELECT ` + taskColsRel + ` FROM tasks t`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY t.created_at, t.id LIMIT ?`
	args = append(args, limit+1)

	var tasks []Task
	err := s.readOne(ctx, func(c *conn) error {
		var err error
		tasks, err = loadTasks(ctx, c, query, args...)
		return err
	})
	if err != nil {
		return nil, "", wrap("list tasks", err)
	}
	next := ""
	if len(tasks) > limit {
		tasks = tasks[:limit]
		next = encodeCursor(tasks[limit-1])
	}
	return tasks, next, nil
}
