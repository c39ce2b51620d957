package sqlite

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// An Update that leaves title and description alone does not touch the
// full-text index (no new segment), one that changes either re-indexes the
// task, and the index stays consistent with the tasks throughout.
func TestUpdateReindexesOnlyChangedText(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tasks.db")
	s, err := Open(context.Background(), Options{Path: path, Workspace: filepath.Dir(path),
		Settings: workspace.Defaults().DatabasePools.Operational, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	ctx := context.Background()
	task, err := s.Create(ctx, NewTask{Title: "alpha bravo", Description: "first words"})
	if err != nil {
		t.Fatal(err)
	}
	segments := func() (n int) {
		t.Helper()
		if err := s.readOne(ctx, func(c *conn) error {
			return c.queryRow(ctx, `SELECT count(*) FROM tasks_fts_data`).Scan(&n)
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	found := func(text string) bool {
		t.Helper()
		got, _, err := s.List(ctx, Filter{Text: text})
		if err != nil {
			t.Fatal(err)
		}
		return len(got) == 1 && got[0].ID == task.ID
	}
	check := func(step string) {
		t.Helper()
		if err := s.write(ctx, func(c *conn) error {
			_, err := c.exec(ctx, `INSERT INTO tasks_fts (tasks_fts) VALUES ('integrity-check')`)
			return err
		}); err != nil {
			t.Fatalf("%s: full-text index integrity: %v", step, err)
		}
	}

	before := segments()
	for _, p := range []Patch{{Priority: ptr("high")}, {Status: ptr(string(work.InProgress)), Agent: "a"}, {Labels: &[]string{"x"}, Agent: "a"}} {
		if _, err := s.Update(ctx, task.ID, 0, p); err != nil {
			t.Fatal(err)
		}
	}
	if after := segments(); after != before {
		t.Errorf("updates without text changes wrote to the full-text index: %d rows, were %d", after, before)
	}
	check("after updates without text changes")
	if !found("alpha") || !found("first") {
		t.Errorf("the task is no longer found by its title and description")
	}

	if _, err := s.Update(ctx, task.ID, 0, Patch{Title: ptr("charlie delta"), Agent: "a"}); err != nil {
		t.Fatal(err)
	}
	check("after a title change")
	if found("alpha") || !found("charlie") || !found("first") {
		t.Errorf("after a title change: alpha found %v, charlie found %v, first found %v", found("alpha"), found("charlie"), found("first"))
	}
	if _, err := s.Update(ctx, task.ID, 0, Patch{Description: ptr("echo foxtrot"), Agent: "a"}); err != nil {
		t.Fatal(err)
	}
	check("after a description change")
	if found("first") || !found("echo") || !found("charlie") {
		t.Errorf("after a description change: first found %v, echo found %v, charlie found %v", found("first"), found("echo"), found("charlie"))
	}
}

func ptr[T any](v T) *T { return &v }
