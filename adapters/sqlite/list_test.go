package sqlite_test

import (
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"

	"context"
	"fmt"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
)

func TestListFilters(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	p := mustCreate(t, s, sqlite.NewTask{Title: "parent", Labels: []string{"ops"}})
	c1 := mustCreate(t, s, sqlite.NewTask{Title: "child one", ParentID: p.ID, Role: "coder"})
	c2 := mustCreate(t, s, sqlite.NewTask{Title: "child two", ParentID: p.ID, Labels: []string{"ops", "db"}})
	// p is oldest but has open subtasks, so the coder takes c1.
	if got, err := s.Claim(ctx, work.ClaimRequest{Agent: "alice", Role: "coder", Labels: nil}); err != nil || got == nil || got.ID != c1.ID {
		t.Fatalf("Claim = %+v, %v; want %s", got, err, c1.ID)
	}
	ids := func(f sqlite.Filter) []string {
		t.Helper()
		list, _, err := s.List(ctx, f)
		if err != nil {
			t.Fatalf("List(%+v): %v", f, err)
		}
		out := []string{}
		for _, x := range list {
			out = append(out, x.ID)
		}
		return out
	}
	check := func(name string, got []string, want ...string) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(append([]string{}, want...)) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("all", ids(sqlite.Filter{}), p.ID, c1.ID, c2.ID)
	check("parent", ids(sqlite.Filter{ParentID: p.ID}), c1.ID, c2.ID)
	check("label", ids(sqlite.Filter{Label: "ops"}), p.ID, c2.ID)
	check("role", ids(sqlite.Filter{Role: "coder"}), c1.ID)
	check("assignee", ids(sqlite.Filter{Assignee: "alice"}), c1.ID)
	check("status", ids(sqlite.Filter{Status: []string{"in_progress"}}), c1.ID)
	check("status pending", ids(sqlite.Filter{Status: []string{"pending", "blocked"}}), p.ID, c2.ID)
	check("ready (a parent with open subtasks is not)", ids(sqlite.Filter{Ready: true}), c2.ID)
	check("text", ids(sqlite.Filter{Text: "child TWO"}), c2.ID)
	check("text and label", ids(sqlite.Filter{Text: "child", Label: "db"}), c2.ID)
}

func TestListTextSearchSurvivesHostileInput(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	a := mustCreate(t, s, sqlite.NewTask{Title: "Fix NEAR( parser", Description: `handles "quotes" and stars*`})
	mustCreate(t, s, sqlite.NewTask{Title: "unrelated"})
	for _, text := range []string{`"`, `*`, `NEAR(`, `') OR 1=1 --`, `AND`, `-parser`, `parser OR`, `"quotes`, `stars*`, `a"b`, `NOT unrelated`, "\x00parser"} {
		t.Run(text, func(t *testing.T) {
			list, _, err := s.List(ctx, sqlite.Filter{Text: text})
			if sqlite.IsKind(err, sqlite.KindInvalid) {
				return // nothing searchable left: a clear refusal, not a syntax error
			}
			if err != nil {
				t.Fatalf("List(text=%q): %v", text, err)
			}
			for _, task := range list {
				if task.ID != a.ID {
					t.Errorf("text %q matched %q", text, task.Title)
				}
			}
		})
	}
	if list, _, err := s.List(ctx, sqlite.Filter{Text: `NEAR( parser`}); err != nil || len(list) != 1 {
		t.Errorf("NEAR( parser = %d tasks, %v; want the one task", len(list), err)
	}
	// Renaming keeps the index in step.
	if _, err := s.Update(ctx, a.ID, 0, sqlite.Patch{Title: ptr("renamed"), Description: ptr("")}); err != nil {
		t.Fatal(err)
	}
	if list, _, err := s.List(ctx, sqlite.Filter{Text: "parser"}); err != nil || len(list) != 0 {
		t.Errorf("old words still match after update: %d, %v", len(list), err)
	}
	if list, _, err := s.List(ctx, sqlite.Filter{Text: "renamed"}); err != nil || len(list) != 1 {
		t.Errorf("new title not found: %d, %v", len(list), err)
	}
}

func TestListPagesThroughEveryTaskOnce(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	const n = 250
	var created []string
	for i := range n {
		created = append(created, mustCreate(t, s, sqlite.NewTask{Title: fmt.Sprintf("task %03d", i)}).ID)
	}
	var (
		seen   []string
		cursor string
		pages  int
	)
	for {
		list, next, err := s.List(ctx, sqlite.Filter{Limit: 100, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, task := range list {
			seen = append(seen, task.ID)
		}
		if next == "" {
			break
		}
		if pages > 3 {
			t.Fatal("more pages than 250/100 allows")
		}
		cursor = next
	}
	if pages != 3 {
		t.Errorf("pages = %d, want 3", pages)
	}
	if fmt.Sprint(seen) != fmt.Sprint(created) {
		t.Errorf("paging returned %d ids, not the %d created in order (gap or duplicate)", len(seen), len(created))
	}
}
