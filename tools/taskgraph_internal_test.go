package tools

import (
	"slices"
	"strings"
	"testing"
)

// graphOf builds a work graph from "id:status" nodes and "task>dependency" edges.
func graphOf(nodes []string, edges ...string) *workGraph {
	g := newWorkGraph()
	for _, n := range nodes {
		id, status, _ := strings.Cut(n, ":")
		g.tasks[id] = GraphTaskView{ID: id, Title: id, Status: status, Priority: "medium"}
	}
	for _, e := range edges {
		a, b, _ := strings.Cut(e, ">")
		g.addEdge(a, b)
	}
	g.seal()
	return g
}

func pathIDs(cp CriticalPathView) []string {
	var ids []string
	for _, t := range cp.Tasks {
		ids = append(ids, t.ID)
	}
	return ids
}

func TestCriticalPathTakesTheLongestChainAndBreaksTiesByID(t *testing.T) {
	// Two chains of three open tasks (a→c→e and b→d→f, in order of work),
	// one of four that runs through a completed task (not open work), and
	// a diamond inside the first: ties go to the chain whose ids sort first.
	g := graphOf([]string{"a:pending", "b:pending", "c:in_progress", "d:blocked", "e:pending", "f:pending", "x:completed", "c2:pending"},
		"c>a", "e>c", "d>b", "f>d", "x>f", "c2>a", "e>c2")
	cp, err := g.criticalPath()
	if err != nil {
		t.Fatal(err)
	}
	if got := pathIDs(cp); !slices.Equal(got, []string{"a", "c", "e"}) || cp.Length != 3 || cp.OpenTasks != 7 {
		t.Fatalf("critical path %v (length %d of %d open), want [a c e] of 7", got, cp.Length, cp.OpenTasks)
	}
	// Rebuilding the graph in another order gives the same answer.
	g2 := graphOf([]string{"x:completed", "f:pending", "e:pending", "d:blocked", "c2:pending", "c:in_progress", "b:pending", "a:pending"},
		"e>c2", "x>f", "f>d", "d>b", "e>c", "c2>a", "c>a")
	cp2, _ := g2.criticalPath()
	if !slices.Equal(pathIDs(cp2), pathIDs(cp)) {
		t.Fatalf("order of construction changed the answer: %v vs %v", pathIDs(cp2), pathIDs(cp))
	}
}

func TestCriticalPathOfNoOpenWorkIsEmpty(t *testing.T) {
	cp, err := graphOf([]string{"a:completed", "b:cancelled"}, "b>a").criticalPath()
	if err != nil || cp.Length != 0 || len(cp.Tasks) != 0 || cp.OpenTasks != 0 {
		t.Fatalf("critical path of finished work: %+v, %v", cp, err)
	}
}

func TestCriticalPathRefusesACycle(t *testing.T) {
	// SQLite refuses cycles; a mirror written by hand could hold one.
	_, err := graphOf([]string{"a:pending", "b:pending", "c:pending"}, "a>b", "b>a", "c>a").criticalPath()
	if err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("a cycle: %v", err)
	}
}

func TestBlockersWalkOpenTasksBreadthFirst(t *testing.T) {
	// t waits for a (open) and z (completed); a for b and c; b for d; c for d;
	// d for e (completed) which waits for f (open): f does not block t.
	g := graphOf([]string{"t:pending", "a:pending", "z:completed", "b:pending", "c:blocked", "d:in_progress", "e:completed", "f:pending"},
		"t>a", "t>z", "a>b", "a>c", "b>d", "c>d", "d>e", "e>f")
	bs := g.blockers("t")
	var got []string
	for _, b := range bs {
		got = append(got, b.ID+"@"+string(rune('0'+b.Depth))+"="+strings.Join(b.Path, "/"))
		if b.Startable != (b.ID == "d") {
			t.Errorf("blocker %s startable = %v", b.ID, b.Startable)
		}
	}
	want := []string{"a@1=a", "b@2=a/b", "c@2=a/c", "d@3=a/b/d"}
	if !slices.Equal(got, want) {
		t.Fatalf("blockers %v, want %v (d reached first through b, the smaller id)", got, want)
	}
}
