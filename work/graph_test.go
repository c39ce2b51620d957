package work_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// graphOf builds a work graph from "id:status" nodes and "task>dependency"
// edges; "parent/child" is a subtask edge.
func graphOf(nodes []string, edges ...string) *work.Graph {
	g := work.NewGraph()
	for _, n := range nodes {
		id, status, _ := strings.Cut(n, ":")
		g.AddTask(work.GraphNode{ID: id, Title: id, Status: work.Status(status), Priority: "medium"})
	}
	for _, e := range edges {
		if a, b, ok := strings.Cut(e, ">"); ok {
			g.AddDependency(a, b)
		} else if p, c, ok := strings.Cut(e, "/"); ok {
			g.AddSubtask(p, c)
		}
	}
	return g
}

func pathIDs(cp work.CriticalPath) []string {
	var ids []string
	for _, t := range cp.Tasks {
		ids = append(ids, t.ID)
	}
	return ids
}

func blockerText(bs []work.Blocker) []string {
	var out []string
	for _, b := range bs {
		out = append(out, fmt.Sprintf("%s@%d=%s", b.ID, b.Depth, strings.Join(b.Path, "/")))
	}
	return out
}

func TestCriticalPathTakesTheLongestChainAndBreaksTiesByID(t *testing.T) {
	// Two chains of three open tasks (a→c→e and b→d→f, in order of work),
	// one of four that runs through a completed task (not open work), and
	// a diamond inside the first: ties go to the chain whose ids sort first.
	g := graphOf([]string{"a:pending", "b:pending", "c:in_progress", "d:blocked", "e:pending", "f:pending", "x:completed", "c2:pending"},
		"c>a", "e>c", "d>b", "f>d", "x>f", "c2>a", "e>c2")
	cp, err := g.CriticalPath()
	if err != nil {
		t.Fatal(err)
	}
	if got := pathIDs(cp); !slices.Equal(got, []string{"a", "c", "e"}) || cp.OpenTasks != 7 {
		t.Fatalf("critical path %v of %d open, want [a c e] of 7", got, cp.OpenTasks)
	}
	// Building the graph in another order gives the same answer.
	g2 := graphOf([]string{"x:completed", "f:pending", "e:pending", "d:blocked", "c2:pending", "c:in_progress", "b:pending", "a:pending"},
		"e>c2", "x>f", "f>d", "d>b", "e>c", "c2>a", "c>a")
	cp2, _ := g2.CriticalPath()
	if !slices.Equal(pathIDs(cp2), pathIDs(cp)) {
		t.Fatalf("order of construction changed the answer: %v vs %v", pathIDs(cp2), pathIDs(cp))
	}
}

func TestCriticalPathOfNoOpenWorkIsEmpty(t *testing.T) {
	cp, err := graphOf([]string{"a:completed", "b:cancelled"}, "b>a").CriticalPath()
	if err != nil || len(cp.Tasks) != 0 || cp.Tasks == nil || cp.OpenTasks != 0 {
		t.Fatalf("critical path of finished work: %+v, %v", cp, err)
	}
}

func TestCriticalPathFollowsDependenciesNotSubtasks(t *testing.T) {
	// p has three open subtasks; a subtask is a part of its parent, not a
	// step before it: the longest chain is b→c, not a chain through p.
	g := graphOf([]string{"p:pending", "a:pending", "b:pending", "c:pending"}, "p/a", "p/b", "p/c", "c>b")
	cp, err := g.CriticalPath()
	if err != nil || !slices.Equal(pathIDs(cp), []string{"b", "c"}) {
		t.Fatalf("critical path %v, %v; want [b c]", pathIDs(cp), err)
	}
}

func TestCriticalPathRefusesACycleNamingItsTasks(t *testing.T) {
	// The store refuses cycles; a mirror written by hand could hold one.
	_, err := graphOf([]string{"a:pending", "b:pending", "c:pending", "d:pending"}, "a>b", "b>a", "c>a").CriticalPath()
	var ce *work.CycleError
	if !errors.As(err, &ce) || !slices.Equal(ce.IDs, []string{"a", "b", "c"}) {
		t.Fatalf("a cycle: %v", err)
	}
	if want := "the dependencies among unfinished tasks form a cycle through a, b, c"; err.Error() != want {
		t.Fatalf("message %q, want %q", err, want)
	}
}

func TestBlockersWalkOpenTasksBreadthFirst(t *testing.T) {
	// t waits for a (open) and z (completed); a for b and c; b for d; c for d;
	// d for e (completed) which waits for f (open): f does not block t.
	g := graphOf([]string{"t:pending", "a:pending", "z:completed", "b:pending", "c:blocked", "d:in_progress", "e:completed", "f:pending"},
		"t>a", "t>z", "a>b", "a>c", "b>d", "c>d", "d>e", "e>f")
	bs := g.Blockers("t")
	for _, b := range bs {
		if b.Startable != (b.ID == "d") {
			t.Errorf("blocker %s startable = %v", b.ID, b.Startable)
		}
	}
	want := []string{"a@1=a", "b@2=a/b", "c@2=a/c", "d@3=a/b/d"}
	if got := blockerText(bs); !slices.Equal(got, want) {
		t.Fatalf("blockers %v, want %v (d reached first through b, the smaller id)", got, want)
	}
}

func TestOpenSubtasksBlockTheirParent(t *testing.T) {
	// The report: task_graph on a parent with four pending subtasks
	// said "0 unfinished blockers". p's open subtasks s1, s2 block it, and
	// what they wait for blocks it through them; s3 is done and s4's own
	// subtask s5 is open (a grandchild blocks through its parent).
	g := graphOf([]string{"p:pending", "s1:pending", "s2:in_progress", "s3:completed", "s4:pending", "s5:pending", "d:pending"},
		"p/s1", "p/s2", "p/s3", "p/s4", "s4/s5", "s1>d")
	want := []string{"s1@1=s1", "s2@1=s2", "s4@1=s4", "d@2=s1/d", "s5@2=s4/s5"}
	bs := g.Blockers("p")
	if got := blockerText(bs); !slices.Equal(got, want) {
		t.Fatalf("blockers of the parent %v, want %v", got, want)
	}
	for _, b := range bs {
		if startable := b.ID != "s1" && b.ID != "s4"; b.Startable != startable {
			t.Errorf("blocker %s startable = %v, want %v", b.ID, b.Startable, startable)
		}
	}
	// A subtask's blockers do not include its parent.
	if got := blockerText(g.Blockers("s1")); !slices.Equal(got, []string{"d@1=d"}) {
		t.Fatalf("blockers of a subtask %v", got)
	}
}

func TestTopoOrderIsStableAndNamesWhatIsStuck(t *testing.T) {
	needs := map[string][]string{"c": {"a"}, "a": {"b"}, "e": {"e"}, "f": {"g"}, "g": {"f"}, "h": {"f", "outside"}}
	order, stuck := work.TopoOrder([]string{"a", "b", "c", "d", "e", "f", "g", "h"},
		func(n string) []string { return needs[n] }, nil)
	if !slices.Equal(order, []string{"b", "a", "c", "d"}) {
		t.Fatalf("order %v, want [b a c d] (plan order, each after what it needs)", order)
	}
	if !slices.Equal(stuck, []string{"e", "f", "g", "h"}) {
		t.Fatalf("stuck %v, want [e f g h] (a self-loop, a cycle, and what waits for it)", stuck)
	}
	// Already in order: unchanged.
	in := []string{"b", "a", "c", "d"}
	if order, _ := work.TopoOrder(in, func(n string) []string { return needs[n] }, nil); !slices.Equal(order, in) {
		t.Fatalf("an ordered list was reordered: %v", order)
	}
}

func TestWouldBecomeReadyOnlyWhenPendingAndWaitingForNothingElse(t *testing.T) {
	for _, c := range []struct {
		st      work.Status
		waiting []string
		want    bool
	}{{work.Pending, nil, true}, {work.Pending, []string{"x"}, false}, {work.Blocked, nil, false}, {work.InProgress, nil, false}} {
		if got := work.WouldBecomeReady(c.st, c.waiting); got != c.want {
			t.Errorf("WouldBecomeReady(%s, %v) = %v", c.st, c.waiting, got)
		}
	}
}
