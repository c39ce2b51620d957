package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// The completion queries read index ranges, never every task: EXPLAIN QUERY
// PLAN shows a SEARCH on the index, and no SCAN of tasks or task_labels.
func TestCompletionQueriesSearchIndexes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, Options{Path: filepath.Join(dir, "tasks.db"), Workspace: dir, Settings: workspace.Defaults().DatabasePools.Operational})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	for _, tc := range []struct {
		name, query string
		args        []any
		want        []string
	}{
		{"id or title", completeIDsSQL, []any{"tsk_1", "tsk_1" + prefixEnd, likePrefix("Write"), 100},
			[]string{"SEARCH tasks USING COVERING INDEX sqlite_autoindex_tasks_1 (id>? AND id<?)", "SEARCH tasks USING INDEX tasks_title_nocase (title>? AND title<?)"}},
		{"labels", completeLabelsSQL, []any{"b", "b" + prefixEnd, 100},
			[]string{"SEARCH task_labels USING COVERING INDEX task_labels_label (label>? AND label<?)"}},
		{"roles", completeRolesSQL, []any{"c", "c" + prefixEnd, 100},
			[]string{"SEARCH tasks USING COVERING INDEX tasks_role (role>? AND role<?)"}},
	} {
		var plan []string
		err := s.read(ctx, func(c *conn) error {
			rows, err := c.query(ctx, "EXPLAIN QUERY PLAN "+tc.query, tc.args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					return err
				}
				plan = append(plan, detail)
			}
			return rows.Err()
		})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		text := strings.Join(plan, "\n")
		t.Logf("%s:\n%s", tc.name, text)
		for _, w := range tc.want {
			if !strings.Contains(text, w) {
				t.Errorf("%s: plan does not use %q:\n%s", tc.name, w, text)
			}
		}
		for _, line := range plan {
			if strings.HasPrefix(line, "SCAN tasks") || strings.HasPrefix(line, "SCAN task_labels") || line == "SCAN t" {
				t.Errorf("%s: plan scans a table: %q", tc.name, line)
			}
		}
	}
}
