package sqlite

import (
	"context"
	"database/sql"
	"strings"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// prefixEnd is the upper bound of a prefix range: every string that starts
// with p sorts below p+prefixEnd under BINARY collation (it is U+10FFFF, the
// largest code point), so "x >= p AND x < p||prefixEnd" is an index range.
const prefixEnd = "\U0010FFFF"

// likePrefix is a LIKE pattern matching strings that start with p, with
// LIKE's wildcards in p escaped by a backslash.
func likePrefix(p string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(p) + "%"
}

// The completion queries; complete_internal_test.go checks their plans.
const (
	completeIDsSQL = `
WITH m(id) AS (
	SELECT id FROM tasks WHERE id >= ?1 AND id < ?2
	UNION
	SELECT id FROM tasks WHERE title LIKE ?3 ESCAPE '\'
)
SELECT t.id, count(*) OVER () FROM m JOIN tasks t ON t.id = m.id
ORDER BY t.status IN ('completed','failed','cancelled'), t.updated_at DESC, t.id
LIMIT ?4`
	completeLabelsSQL = `
SELECT label, count(*) OVER () FROM task_labels
WHERE label >= ?1 AND label < ?2
GROUP BY label ORDER BY count(*) DESC, label LIMIT ?3`
	completeRolesSQL = `
SELECT role, count(*) OVER () FROM tasks
WHERE role IS NOT NULL AND role >= ?1 AND role < ?2
GROUP BY role ORDER BY count(*) DESC, role LIMIT ?3`
)

func clampLimit(limit int) int {
	if limit <= 0 || limit > MaxCompletions {
		return MaxCompletions
	}
	return limit
}

// CompleteIDs completes a task id from the start of the id or of the
// title, ignoring ASCII case: open tasks first, then the most recently
// updated. Both matches are index ranges (the primary key for ids, which
// are lowercase, and tasks_title_nocase for titles), never a scan of every
// task; an empty prefix lists the most relevant tasks of the project.
func (s *Store) CompleteIDs(ctx context.Context, prefix string, limit int) (Suggestions, error) {
	limit = clampLimit(limit)
	var out Suggestions
	err := s.readOne(ctx, func(c *conn) error {
		out = Suggestions{}
		var rows *sql.Rows
		var err error
		if prefix == "" {
			rows, err = c.query(ctx, `
SELECT id, count(*) OVER () FROM tasks
ORDER BY status IN ('completed','failed','cancelled'), updated_at DESC, id
LIMIT ?`, limit)
		} else {
			idp := strings.ToLower(prefix)
			rows, err = c.query(ctx, completeIDsSQL, idp, idp+prefixEnd, likePrefix(prefix), limit)
		}
		if err != nil {
			return err
		}
		return scanCompletion(rows, &out)
	})
	return out, wrap("complete task ids", err)
}

// CompleteLabels completes a label from its start (labels are matched as
// written: they are identifiers), the labels on most tasks first.
func (s *Store) CompleteLabels(ctx context.Context, prefix string, limit int) (Suggestions, error) {
	limit = clampLimit(limit)
	var out Suggestions
	err := s.readOne(ctx, func(c *conn) error {
		out = Suggestions{}
		rows, err := c.query(ctx, completeLabelsSQL, prefix, prefix+prefixEnd, limit)
		if err != nil {
			return err
		}
		return scanCompletion(rows, &out)
	})
	return out, wrap("complete labels", err)
}

// CompleteRoles completes a role from its start (matched as written), the
// roles of most tasks first, read from the tasks_role index.
func (s *Store) CompleteRoles(ctx context.Context, prefix string, limit int) (Suggestions, error) {
	limit = clampLimit(limit)
	var out Suggestions
	err := s.readOne(ctx, func(c *conn) error {
		out = Suggestions{}
		rows, err := c.query(ctx, completeRolesSQL, prefix, prefix+prefixEnd, limit)
		if err != nil {
			return err
		}
		return scanCompletion(rows, &out)
	})
	return out, wrap("complete roles", err)
}

func scanCompletion(rows *sql.Rows, out *Suggestions) error {
	defer rows.Close()
	out.Values = []string{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v, &out.Total); err != nil {
			return err
		}
		out.Values = append(out.Values, v)
	}
	return rows.Err()
}

// Suggestions is work.Suggestions.
type Suggestions = work.Suggestions

// MaxCompletions is work.MaxCompletions.
const MaxCompletions = work.MaxCompletions
