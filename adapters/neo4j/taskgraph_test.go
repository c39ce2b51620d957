package neo4j_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/neo4j"
)

var taskShape = neo4j.TaskShape{Label: "Task", DependsOn: "DEPENDS_ON", Open: []string{"pending", "in_progress", "blocked"}, Completed: "completed"}

func mergeTask(t *testing.T, s *neo4j.Store, id, status string, deps ...string) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.MergeNode(ctx, neo4j.NodeRef{Label: "Task", Key: id},
		map[string]any{"id": id, "title": "title " + id, "status": status, "priority": "medium"}); err != nil {
		t.Fatal(err)
	}
	for _, d := range deps {
		if _, err := s.MergeRelationship(ctx, neo4j.NodeRef{Label: "Task", Key: id}, neo4j.NodeRef{Label: "Task", Key: d}, "DEPENDS_ON", nil); err != nil {
			t.Fatal(err)
		}
	}
}

// TaskWork reads one project's open work on a shared server: open nodes,
// edges between open nodes, the focus (whatever its status) with its edges
// to open nodes, and its open dependents with what else they wait for.
// Another project's tasks with the same keys are never part of it.
func TestTaskWorkReadsOneProjectsOpenWork(t *testing.T) {
	a := open(t, sharedOptions(project(t), false))
	b := open(t, sharedOptions(project(t), false))
	for _, s := range []*neo4j.Store{a, b} {
		mergeTask(t, s, "t1", "completed")
		mergeTask(t, s, "t2", "pending", "t1")
		mergeTask(t, s, "t3", "blocked", "t2")
	}
	// Only in A: t4 (done) depends on t3; t5 (pending) on t4 and t2; t6 waits for t4 and t1.
	mergeTask(t, a, "t4", "completed", "t3")
	mergeTask(t, a, "t5", "pending", "t4", "t2")
	mergeTask(t, a, "t6", "in_progress", "t4", "t1", "t3")
	ctx := context.Background()

	w, err := a.TaskWork(ctx, taskShape, "t4")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, n := range w.Tasks {
		ids = append(ids, n.ID)
	}
	if !reflect.DeepEqual(ids, []string{"t2", "t3", "t5", "t6"}) {
		t.Fatalf("open tasks = %v", ids)
	}
	if w.Focus == nil || w.Focus.Status != "completed" || w.Focus.Title != "title t4" {
		t.Fatalf("focus = %+v", w.Focus)
	}
	wantEdges := []neo4j.TaskEdge{{Task: "t3", DependsOn: "t2"}, {Task: "t4", DependsOn: "t3"}, {Task: "t5", DependsOn: "t2"}, {Task: "t6", DependsOn: "t3"}}
	if !reflect.DeepEqual(w.Edges, wantEdges) {
		t.Fatalf("edges = %v, want %v", w.Edges, wantEdges)
	}
	if len(w.Dependents) != 2 || w.Dependents[0].ID != "t5" || !reflect.DeepEqual(w.Dependents[0].Waiting, []string{"t2"}) ||
		w.Dependents[1].ID != "t6" || !reflect.DeepEqual(w.Dependents[1].Waiting, []string{"t3"}) {
		t.Fatalf("dependents = %+v", w.Dependents)
	}

	// B has the same keys but only its own three tasks.
	w, err = b.TaskWork(ctx, taskShape, "t4")
	if err != nil {
		t.Fatal(err)
	}
	if w.Focus != nil || len(w.Tasks) != 2 || len(w.Edges) != 1 || len(w.Dependents) != 0 {
		t.Fatalf("project B sees %+v", w)
	}

	if _, err := a.TaskWork(ctx, neo4j.TaskShape{Label: "Bad Label", DependsOn: "DEPENDS_ON", Open: taskShape.Open, Completed: "completed"}, ""); !neo4j.IsKind(err, neo4j.KindInvalid) {
		t.Fatalf("a bad label: %v", err)
	}
}

func TestCheckLinkValidatesEverything(t *testing.T) {
	good := neo4j.NodeRef{Label: "File", Key: "main.go"}
	for _, tc := range []struct {
		node     neo4j.NodeRef
		nodeP    map[string]any
		rel      string
		relP     map[string]any
		wantFail bool
	}{
		{good, nil, "TOUCHES", nil, false},
		{neo4j.NodeRef{Label: "File"}, nil, "TOUCHES", nil, true},
		{good, map[string]any{"_project": "x"}, "TOUCHES", nil, true},
		{good, nil, "BAD TYPE", nil, true},
		{good, nil, "TOUCHES", map[string]any{"nested": map[string]any{"a": 1}}, true},
	} {
		err := neo4j.CheckLink(tc.node, tc.nodeP, tc.rel, tc.relP)
		if (err != nil) != tc.wantFail || (err != nil && !neo4j.IsKind(err, neo4j.KindInvalid)) {
			t.Errorf("CheckLink(%+v, %v, %q, %v) = %v", tc.node, tc.nodeP, tc.rel, tc.relP, err)
		}
	}
}
