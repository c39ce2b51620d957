package integration

import (
	"fmt"
	"slices"
	"testing"
)

// TestTaskGraphCountsOpenSubtasksAsBlockers is the report: task_graph
// on a parent with pending subtasks said "0 unfinished blockers". A parent
// with open subtasks cannot be completed, so they block it, and what they
// wait for blocks it through them.
func TestTaskGraphCountsOpenSubtasksAsBlockers(t *testing.T) {
	project := newProject(t)
	p := start(t, procOpts{dir: project, env: []string{"NEO4J_URI="}})
	ctx := ctxT(t)
	var parent, dep taskOut
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "the epic"}, &parent)
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "upstream"}, &dep)
	var kids []string
	for i := range 4 {
		args := map[string]any{"workspace": project, "title": fmt.Sprint("part ", i), "parent_id": parent.Task.ID}
		if i == 0 {
			args["depends_on"] = []string{dep.Task.ID}
		}
		var k taskOut
		p.ok(ctx, "task_create", args, &k)
		kids = append(kids, k.Task.ID)
	}
	out := askAuto(t, p, project, parent.Task.ID)
	var direct, via []string
	for _, b := range out.Blockers {
		switch b.Depth {
		case 1:
			direct = append(direct, b.ID)
		case 2:
			via = append(via, b.ID)
			if !slices.Equal(b.Path, []string{kids[0], dep.Task.ID}) || !b.Startable {
				t.Fatalf("the subtask's dependency as a blocker: %+v", b)
			}
		}
	}
	if want := slices.Sorted(slices.Values(kids)); !slices.Equal(direct, want) || !slices.Equal(via, []string{dep.Task.ID}) {
		t.Fatalf("blockers of a parent with 4 pending subtasks: direct %v (want %v), through them %v (want [%s])",
			direct, want, via, dep.Task.ID)
	}
	// A finished subtask no longer blocks.
	p.ok(ctx, "task_complete", map[string]any{"workspace": project, "id": kids[1], "summary": "done"}, nil)
	if out = askAuto(t, p, project, parent.Task.ID); len(out.Blockers) != 4 {
		t.Fatalf("after one subtask is done: %d blockers, want 4 (3 subtasks and the dependency)", len(out.Blockers))
	}
}
