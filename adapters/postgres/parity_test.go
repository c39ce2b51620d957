package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/clienterr"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// core is the part of work.TaskStore this store implements so far.
type core interface {
	CheckNewTask(work.NewTask) error
	Create(context.Context, work.NewTask) (work.Task, error)
	Get(context.Context, string) (work.TaskDetail, error)
	List(context.Context, work.Filter) ([]work.Task, string, error)
	Update(context.Context, string, int64, work.Patch) (work.Task, error)
	Delete(context.Context, string, bool) ([]string, error)
	AddDependency(context.Context, string, string) (work.Task, error)
	RemoveDependency(context.Context, string, string) (work.Task, error)
}

// TestRefusalsMatchTheSQLiteStore runs the same calls on both stores and
// wants the same kind, field and sentence for each refusal (task ids
// replaced by names): the field rules here are a copy of adapters/sqlite's,
// and this test is what keeps the copy true.
func TestRefusalsMatchTheSQLiteStore(t *testing.T) {
	ctx := context.Background()
	lite, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "tasks.db"), Workspace: t.TempDir(),
		Settings: workspace.Defaults().DatabasePools.Operational, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close(ctx)
	pg := openStore(t)

	long := strings.Repeat("é", 501)
	scenario := func(s core) []string {
		var out []string
		names := map[string]string{}
		note := func(err error) {
			var ce *clienterr.Error
			if !errors.As(err, &ce) {
				out = append(out, "no client error: "+errString(err))
				return
			}
			msg := ce.Msg
			for id, name := range names {
				msg = strings.ReplaceAll(msg, id, name)
			}
			out = append(out, string(ce.Kind)+" ["+ce.Field+"] "+msg)
		}
		create := func(name string, nt work.NewTask) work.Task {
			task, err := s.Create(ctx, nt)
			if err != nil {
				t.Fatalf("Create %s: %v", name, err)
			}
			names[task.ID] = name
			return task
		}
		for _, nt := range []work.NewTask{
			{Title: ""}, {Title: long}, {Title: "x", Description: strings.Repeat("d", 20001)}, {Title: "x", Priority: "p1"},
			{Title: "x", Labels: []string{"has space"}}, {Title: "x", Labels: make([]string, 1)},
			{Title: "x", Role: "bad\x01role"}, {Title: "x", Metadata: json.RawMessage(`"str"`)},
			{Title: "x", Metadata: json.RawMessage(`{"a":` + strings.Repeat(`"x",`, 0) + `1`)},
			{Title: "x", ParentID: strings.Repeat("i", 129)}, {Title: "x", DependsOn: []string{""}},
			{Title: "\xff"},
		} {
			note(s.CheckNewTask(nt))
		}
		a := create("A", work.NewTask{Title: "a"})
		b := create("B", work.NewTask{Title: "b", DependsOn: []string{a.ID}, ParentID: a.ID})
		_, err := s.Create(ctx, work.NewTask{Title: "x", DependsOn: []string{"tsk_aaaaaaaaaaaaaaaa"}})
		note(err)
		_, err = s.Get(ctx, "tsk_bbbbbbbbbbbbbbbb")
		note(err)
		_, err = s.Update(ctx, a.ID, 5, work.Patch{Title: ptr("t")})
		note(err)
		_, err = s.Update(ctx, a.ID, -1, work.Patch{})
		note(err)
		_, err = s.Update(ctx, a.ID, 0, work.Patch{Status: ptr("completed")})
		note(err)
		_, err = s.Update(ctx, a.ID, 0, work.Patch{ParentID: ptr(b.ID)})
		note(err)
		if _, err := s.Update(ctx, b.ID, 0, work.Patch{Status: ptr("in_progress"), Agent: "ann"}); err != nil {
			t.Fatal(err)
		}
		_, err = s.Update(ctx, b.ID, 0, work.Patch{Title: ptr("t"), Agent: "bob"})
		if err != nil { // the sentence names the lease's end: keep its kind and start only
			var ce *clienterr.Error
			errors.As(err, &ce)
			out = append(out, string(ce.Kind)+" "+strings.SplitN(strings.ReplaceAll(ce.Msg, b.ID, "B"), " until ", 2)[0])
		}
		if _, err := s.Update(ctx, b.ID, 0, work.Patch{Status: ptr("completed"), Agent: "ann"}); err != nil {
			t.Fatal(err)
		}
		_, err = s.Update(ctx, b.ID, 0, work.Patch{Status: ptr("pending")})
		note(err)
		_, err = s.AddDependency(ctx, a.ID, b.ID)
		note(err)
		_, err = s.RemoveDependency(ctx, a.ID, b.ID)
		note(err)
		_, err = s.Delete(ctx, "", false)
		note(err)
		c := create("C", work.NewTask{Title: "c"})
		create("D", work.NewTask{Title: "d", ParentID: c.ID})
		_, err = s.Delete(ctx, c.ID, false)
		note(err)
		for _, f := range []work.Filter{{Limit: -1}, {Cursor: "x"}, {Text: "..."}, {Text: strings.Repeat("w", 1001)},
			{Label: "a b"}, {Assignee: strings.Repeat("n", 101)}, {Status: []string{"open"}}} {
			_, _, err := s.List(ctx, f)
			note(err)
		}
		return out
	}
	want, got := scenario(lite), scenario(pg)
	t.Logf("%d refusals compared", len(got))
	if len(want) != len(got) {
		t.Fatalf("SQLite answered %d refusals, PostgreSQL %d:\n%s\n---\n%s", len(want), len(got),
			strings.Join(want, "\n"), strings.Join(got, "\n"))
	}
	for i := range want {
		if strings.HasPrefix(got[i], "no client error") {
			t.Errorf("refusal %d is no refusal: %s", i, got[i])
		}
		if want[i] != got[i] {
			t.Errorf("refusal %d:\n sqlite:   %s\n postgres: %s", i, want[i], got[i])
		}
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
