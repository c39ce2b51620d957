package sqlite_test

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
)

var open = []string{"pending", "in_progress", "blocked"}

func setStatus(t *testing.T, s *sqlite.Store, id, status string) {
	t.Helper()
	if _, err := s.Update(context.Background(), id, 0, sqlite.Patch{Status: &status}); err != nil {
		t.Fatalf("status %s of %s: %v", status, id, err)
	}
}

// ship → build → {design, spec}; design → research (completed) → idea.
// A completed task ends a chain: idea does not block ship through research.
// Two chains of different lengths reach design's dependency at depth 2 and 3:
// the depth is the shortest.
func TestBlockersFollowUnfinishedTasksOnly(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	idea := mustCreate(t, s, sqlite.NewTask{Title: "idea"})
	research := mustCreate(t, s, sqlite.NewTask{Title: "research", DependsOn: []string{idea.ID}})
	spec := mustCreate(t, s, sqlite.NewTask{Title: "spec"})
	design := mustCreate(t, s, sqlite.NewTask{Title: "design", DependsOn: []string{research.ID, spec.ID}})
	build := mustCreate(t, s, sqlite.NewTask{Title: "build", DependsOn: []string{design.ID, spec.ID}})
	ship := mustCreate(t, s, sqlite.NewTask{Title: "ship", DependsOn: []string{build.ID}})
	setStatus(t, s, research.ID, "completed")
	setStatus(t, s, build.ID, "in_progress")

	set, err := s.Blockers(ctx, ship.ID, open)
	if err != nil {
		t.Fatal(err)
	}
	if set.Task.ID != ship.ID || set.Task.Title != "ship" {
		t.Errorf("task = %+v", set.Task)
	}
	got := map[string]int{}
	for _, b := range set.Blockers {
		got[b.ID] = b.Depth
	}
	want := map[string]int{build.ID: 1, design.ID: 2, spec.ID: 2}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("blockers = %v, want %v (idea is behind a completed task)", got, want)
	}
	if !slices.IsSortedFunc(set.Blockers, func(a, b sqlite.Blocker) int {
		if a.Depth != b.Depth {
			return a.Depth - b.Depth
		}
		return strings.Compare(a.ID, b.ID)
	}) {
		t.Errorf("blockers not sorted by depth, id: %+v", set.Blockers)
	}
	// The edges among ship and its blockers, and no others.
	var edges [][2]string
	for _, e := range set.Edges {
		edges = append(edges, [2]string{e.Task, e.DependsOn})
	}
	wantEdges := [][2]string{{ship.ID, build.ID}, {build.ID, design.ID}, {build.ID, spec.ID}, {design.ID, spec.ID}}
	slices.SortFunc(wantEdges, func(a, b [2]string) int { return strings.Compare(a[0]+a[1], b[0]+b[1]) })
	slices.SortFunc(edges, func(a, b [2]string) int { return strings.Compare(a[0]+a[1], b[0]+b[1]) })
	if !reflect.DeepEqual(edges, wantEdges) {
		t.Errorf("edges = %v, want %v", edges, wantEdges)
	}

	if _, err := s.Blockers(ctx, "tsk_missing", open); !sqlite.IsKind(err, sqlite.KindNotFound) {
		t.Errorf("Blockers of a missing task: %v", err)
	}
	if _, err := s.Blockers(ctx, ship.ID, []string{"done"}); !sqlite.IsKind(err, sqlite.KindInvalid) {
		t.Errorf("Blockers with an unknown status: %v", err)
	}
}

// Dependents lists the open tasks that wait directly for a task, with what
// else each waits for (anything not completed, including failed tasks).
func TestDependentsSayWhatElseTheyWaitFor(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	a := mustCreate(t, s, sqlite.NewTask{Title: "a"})
	b := mustCreate(t, s, sqlite.NewTask{Title: "b"})
	c := mustCreate(t, s, sqlite.NewTask{Title: "c"})
	onlyA := mustCreate(t, s, sqlite.NewTask{Title: "only a", DependsOn: []string{a.ID}})
	aAndB := mustCreate(t, s, sqlite.NewTask{Title: "a and b", DependsOn: []string{a.ID, b.ID}})
	aAndC := mustCreate(t, s, sqlite.NewTask{Title: "a and c", DependsOn: []string{a.ID, c.ID}})
	done := mustCreate(t, s, sqlite.NewTask{Title: "done already", DependsOn: []string{a.ID}})
	setStatus(t, s, b.ID, "failed")
	setStatus(t, s, c.ID, "completed")
	setStatus(t, s, done.ID, "cancelled")

	deps, err := s.Dependents(ctx, a.ID, open)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, d := range deps {
		got[d.ID] = d.Waiting
	}
	want := map[string][]string{onlyA.ID: {}, aAndB.ID: {b.ID}, aAndC.ID: {}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("dependents = %v, want %v", got, want)
	}
	if !slices.IsSortedFunc(deps, func(x, y sqlite.Dependent) int { return strings.Compare(x.ID, y.ID) }) {
		t.Errorf("dependents not sorted by id")
	}
	if _, err := s.Dependents(ctx, "tsk_missing", open); !sqlite.IsKind(err, sqlite.KindNotFound) {
		t.Errorf("Dependents of a missing task: %v", err)
	}
}

// OpenGraph holds the open tasks and only the edges between two of them;
// GraphTasks reads tasks by id and leaves unknown ids out.
func TestOpenGraphAndGraphTasks(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	a := mustCreate(t, s, sqlite.NewTask{Title: "a"})
	b := mustCreate(t, s, sqlite.NewTask{Title: "b", DependsOn: []string{a.ID}})
	c := mustCreate(t, s, sqlite.NewTask{Title: "c", DependsOn: []string{b.ID, a.ID}})
	setStatus(t, s, a.ID, "completed")

	g, err := s.OpenGraph(ctx, open)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, tk := range g.Tasks {
		ids = append(ids, tk.ID)
	}
	wantIDs := []string{b.ID, c.ID}
	slices.Sort(wantIDs)
	if !slices.Equal(ids, wantIDs) || len(g.Edges) != 1 || g.Edges[0] != (sqlite.DependencyEdge{Task: c.ID, DependsOn: b.ID}) {
		t.Fatalf("open graph = %+v", g)
	}

	got, err := s.GraphTasks(ctx, []string{a.ID, "tsk_missing", c.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[a.ID].Status != "completed" || got[c.ID].Title != "c" {
		t.Fatalf("GraphTasks = %+v", got)
	}
	if _, err := s.GraphTasks(ctx, []string{""}); !sqlite.IsKind(err, sqlite.KindInvalid) {
		t.Errorf("GraphTasks with an empty id: %v", err)
	}
}

// DependencyGraph is the three reads in one snapshot: the same answers.
func TestDependencyGraphIsTheThreeReadsAtOnce(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	a := mustCreate(t, s, sqlite.NewTask{Title: "a"})
	b := mustCreate(t, s, sqlite.NewTask{Title: "b", DependsOn: []string{a.ID}})
	c := mustCreate(t, s, sqlite.NewTask{Title: "c", DependsOn: []string{b.ID}})
	mustCreate(t, s, sqlite.NewTask{Title: "d", DependsOn: []string{b.ID, c.ID}})
	snap, err := s.DependencyGraph(ctx, b.ID, open)
	if err != nil {
		t.Fatal(err)
	}
	bl, err1 := s.Blockers(ctx, b.ID, open)
	deps, err2 := s.Dependents(ctx, b.ID, open)
	og, err3 := s.OpenGraph(ctx, open)
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatal(err1, err2, err3)
	}
	if !reflect.DeepEqual(snap.Blockers, bl) || !reflect.DeepEqual(snap.Dependents, deps) || !reflect.DeepEqual(snap.Open, og) {
		t.Fatalf("snapshot %+v\ndiffers from the reads %+v %+v %+v", snap, bl, deps, og)
	}
	if len(bl.Blockers) != 1 || len(deps) != 2 || len(og.Tasks) != 4 {
		t.Fatalf("blockers %d, dependents %d, open %d; want 1, 2, 4", len(bl.Blockers), len(deps), len(og.Tasks))
	}
	whole, err := s.DependencyGraph(ctx, "", open)
	if err != nil || whole.Dependents != nil || len(whole.Open.Tasks) != 4 {
		t.Fatalf("without a task: %+v, %v", whole, err)
	}
}
