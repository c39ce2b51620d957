package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/postgres"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/clienterr"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// listAll pages through f with its limit and returns the ids in order.
func listAll(t testing.TB, s *postgres.Store, f work.Filter) []string {
	t.Helper()
	var ids []string
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("paging never ends")
		}
		tasks, next, err := s.List(context.Background(), f)
		if err != nil {
			t.Fatalf("List(%+v): %v", f, err)
		}
		for _, task := range tasks {
			ids = append(ids, task.ID)
		}
		if next == "" {
			return ids
		}
		f.Cursor = next
	}
}

func TestCursorPagingVisitsEachTaskOnceOldestFirst(t *testing.T) {
	s := openStore(t)
	var want []string
	for i := range 120 {
		want = append(want, mustCreate(t, s, work.NewTask{Title: fmt.Sprintf("task %d", i)}).ID)
	}
	for _, limit := range []int{1, 7, 50, 119, 120, 200} {
		if got := listAll(t, s, work.Filter{Limit: limit}); !slices.Equal(got, want) {
			t.Errorf("limit %d: %d ids, want the 120 in creation order once each", limit, len(got))
		}
	}
	tasks, next, err := s.List(context.Background(), work.Filter{})
	if err != nil || len(tasks) != 50 || next == "" {
		t.Errorf("default page = %d tasks, next %q, %v; want 50 and a cursor", len(tasks), next, err)
	}
	// A task created after a page was read comes on a later page.
	first, next, _ := s.List(context.Background(), work.Filter{Limit: 100})
	late := mustCreate(t, s, work.NewTask{Title: "late"})
	rest := listAll(t, s, work.Filter{Limit: 100, Cursor: next})
	if len(first)+len(rest) != 121 || rest[len(rest)-1] != late.ID {
		t.Errorf("pages after a new task: %d + %d ids", len(first), len(rest))
	}
}

func TestListFilters(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	parent := mustCreate(t, s, work.NewTask{Title: "parent", Labels: []string{"epic"}})
	kid1 := mustCreate(t, s, work.NewTask{Title: "kid1", ParentID: parent.ID, Labels: []string{"ui", "epic"}, Role: "designer"})
	kid2 := mustCreate(t, s, work.NewTask{Title: "kid2", ParentID: parent.ID, DependsOn: []string{kid1.ID}})
	solo := mustCreate(t, s, work.NewTask{Title: "solo", Role: "designer"})
	if _, err := s.Update(ctx, solo.ID, 0, work.Patch{Status: ptr("in_progress"), Agent: "ann"}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		f    work.Filter
		want []string
	}{
		{"status", work.Filter{Status: []string{"in_progress", "blocked"}}, []string{solo.ID}},
		{"parent", work.Filter{ParentID: parent.ID}, []string{kid1.ID, kid2.ID}},
		{"label", work.Filter{Label: "epic"}, []string{parent.ID, kid1.ID}},
		{"assignee", work.Filter{Assignee: " ann "}, []string{solo.ID}},
		{"role", work.Filter{Role: "designer"}, []string{kid1.ID, solo.ID}},
		// parent has an open subtask, kid2 waits for kid1, solo is held under a live lease.
		{"ready", work.Filter{Ready: true}, []string{kid1.ID}},
		{"combined", work.Filter{ParentID: parent.ID, Label: "ui", Role: "designer"}, []string{kid1.ID}},
		{"unknown parent", work.Filter{ParentID: "tsk_ffffffffffffffff"}, nil},
		{"parent with NUL", work.Filter{ParentID: "tsk_\x00"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := listAll(t, s, tc.f); !slices.Equal(got, tc.want) {
				t.Errorf("List(%+v) = %v, want %v", tc.f, got, tc.want)
			}
		})
	}
	if _, err := s.Update(ctx, kid1.ID, 0, work.Patch{Status: ptr("completed")}); err != nil {
		t.Fatal(err)
	}
	if got := listAll(t, s, work.Filter{Ready: true}); !slices.Equal(got, []string{kid2.ID}) {
		t.Errorf("ready after kid1 completed = %v, want [kid2]", got)
	}
}

func TestTextSearchFindsWordsOfTitleAndDescription(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	a := mustCreate(t, s, work.NewTask{Title: "Write the PARSER", Description: "tokens and a grammar"})
	b := mustCreate(t, s, work.NewTask{Title: "test the parser", Description: "fuzz it: (quotes) \"and\" -minus OR or"})
	c := mustCreate(t, s, work.NewTask{Title: "unrelated", Description: "nothing here"})
	cases := []struct {
		text string
		want []string
	}{
		{"parser", []string{a.ID, b.ID}},
		{"Grammar", []string{a.ID}},
		{"write parser", []string{a.ID}},       // every word must match
		{"parser nothing", nil},                // AND, not OR
		{`"quotes" -minus OR`, []string{b.ID}}, // query syntax is plain text
		{"here & ! nothing |", []string{c.ID}}, // tsquery operators too
		{"parse", nil},                         // words, not prefixes
		{"fuzz", []string{b.ID}},               // description
		{"tokens grammar write", []string{a.ID}} /* title and description together */}
	for _, tc := range cases {
		tasks, _, err := s.List(ctx, work.Filter{Text: tc.text})
		if err != nil {
			t.Errorf("text %q: %v", tc.text, err)
			continue
		}
		var got []string
		for _, task := range tasks {
			got = append(got, task.ID)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("text %q = %v, want %v", tc.text, got, tc.want)
		}
	}
	// The vector follows an update of the title.
	if _, err := s.Update(ctx, a.ID, 0, work.Patch{Title: ptr("rename")}); err != nil {
		t.Fatal(err)
	}
	if got := listAll(t, s, work.Filter{Text: "write"}); len(got) != 0 {
		t.Errorf("write after the rename = %v", got)
	}
	if got := listAll(t, s, work.Filter{Text: "rename", Status: []string{"pending"}}); !slices.Equal(got, []string{a.ID}) {
		t.Errorf("rename = %v", got)
	}
}

func TestDependencyCyclesAreRefused(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	a := mustCreate(t, s, work.NewTask{Title: "a"})
	b := mustCreate(t, s, work.NewTask{Title: "b", DependsOn: []string{a.ID}})
	c := mustCreate(t, s, work.NewTask{Title: "c"})
	got, err := s.AddDependency(ctx, c.ID, b.ID)
	if err != nil || !slices.Equal(got.DependsOn, []string{b.ID}) || got.Version != 2 {
		t.Fatalf("AddDependency(c, b) = %+v, %v", got, err)
	}
	// Again: no change, no new version.
	if again, err := s.AddDependency(ctx, c.ID, b.ID); err != nil || again.Version != 2 {
		t.Errorf("the same edge again = version %d, %v", again.Version, err)
	}
	_, err = s.AddDependency(ctx, a.ID, c.ID)
	wantKind(t, err, clienterr.DependencyCycle, "would create a cycle: "+a.ID+" → "+c.ID+" → "+b.ID+" → "+a.ID)
	// Parents: a task cannot move under its own subtree.
	kid := mustCreate(t, s, work.NewTask{Title: "kid", ParentID: a.ID})
	grand := mustCreate(t, s, work.NewTask{Title: "grand", ParentID: kid.ID})
	_, err = s.Update(ctx, a.ID, 0, work.Patch{ParentID: ptr(grand.ID)})
	wantKind(t, err, clienterr.DependencyCycle, "is a subtask of "+a.ID)

	removed, err := s.RemoveDependency(ctx, c.ID, b.ID)
	if err != nil || len(removed.DependsOn) != 0 || removed.Version != 3 {
		t.Fatalf("RemoveDependency = %+v, %v", removed, err)
	}
	if _, err := s.AddDependency(ctx, a.ID, c.ID); err != nil {
		t.Errorf("after the edge is gone the dependency is allowed: %v", err)
	}
}

// TestConcurrentDependenciesNeverCloseACycle: a → b and b → a added at once:
// exactly one is made.
func TestConcurrentDependenciesNeverCloseACycle(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	for round := range 10 {
		a := mustCreate(t, s, work.NewTask{Title: fmt.Sprintf("a%d", round)})
		b := mustCreate(t, s, work.NewTask{Title: fmt.Sprintf("b%d", round)})
		errs := make([]error, 2)
		start := make(chan struct{})
		done := make(chan struct{}, 2)
		for i, pair := range [][2]string{{a.ID, b.ID}, {b.ID, a.ID}} {
			go func() {
				<-start
				_, errs[i] = s.AddDependency(ctx, pair[0], pair[1])
				done <- struct{}{}
			}()
		}
		close(start)
		<-done
		<-done
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if !clienterr.IsKind(err, clienterr.DependencyCycle) {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d of the two opposite dependencies were made, want 1", round, ok)
		}
	}
}

func TestDeleteWithCascade(t *testing.T) {
	ctx := context.Background()
	dbURL := freshDatabase(t)
	pid := "prj_00000000000000aa"
	s := openProject(t, dbURL, pid)
	root := mustCreate(t, s, work.NewTask{Title: "root", Labels: []string{"x"}})
	kid := mustCreate(t, s, work.NewTask{Title: "kid", ParentID: root.ID})
	grand := mustCreate(t, s, work.NewTask{Title: "grand", ParentID: kid.ID})
	outside := mustCreate(t, s, work.NewTask{Title: "outside", DependsOn: []string{grand.ID}})
	inside := mustCreate(t, s, work.NewTask{Title: "inside dependent", ParentID: root.ID, DependsOn: []string{kid.ID}})

	_, err := s.Delete(ctx, root.ID, false)
	wantKind(t, err, clienterr.InvalidArgument, "task "+root.ID+" has 2 subtasks; pass cascade=true")
	before, _ := s.CountTasks(ctx)
	deleted, err := s.Delete(ctx, root.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{root.ID, kid.ID, grand.ID, inside.ID}
	slices.Sort(want)
	if !slices.Equal(deleted, want) {
		t.Errorf("deleted = %v, want %v", deleted, want)
	}
	if n, _ := s.CountTasks(ctx); n != before-4 {
		t.Errorf("CountTasks = %d, want %d", n, before-4)
	}
	for _, id := range want {
		if ok, _ := s.Exists(ctx, id); ok {
			t.Errorf("%s still exists", id)
		}
	}
	o := mustGet(t, s, outside.ID).Task
	if len(o.DependsOn) != 0 || o.Version != 2 {
		t.Errorf("the outside dependent = depends_on %v, version %d; want none and 2", o.DependsOn, o.Version)
	}
	var left int
	if err := connect(t, dbURL).QueryRow(ctx, `SELECT (SELECT count(*) FROM task_labels WHERE project_id = $1)
		+ (SELECT count(*) FROM task_dependencies WHERE project_id = $1)`, pid).Scan(&left); err != nil || left != 0 {
		t.Errorf("labels and edges left = %d, %v", left, err)
	}
	ob := outboxKinds(t, dbURL, pid)
	tail := ob[len(ob)-5:]
	wantTail := []string{"dependency " + outside.ID}
	for _, id := range want {
		wantTail = append(wantTail, "delete "+id)
	}
	if !slices.Equal(tail, wantTail) {
		t.Errorf("outbox tail = %v, want %v", tail, wantTail)
	}
	// A leaf is deleted without cascade.
	if d, err := s.Delete(ctx, outside.ID, false); err != nil || !slices.Equal(d, []string{outside.ID}) {
		t.Errorf("Delete(leaf) = %v, %v", d, err)
	}
}
