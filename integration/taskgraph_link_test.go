package integration

import (
	"strings"
	"testing"
)

type linkOut struct {
	Relationship struct {
		Type string `json:"type"`
		From struct {
			Label string `json:"label"`
			Key   string `json:"key"`
		} `json:"from"`
		To struct {
			Label string `json:"label"`
			Key   string `json:"key"`
		} `json:"to"`
	} `json:"relationship"`
	Node struct {
		Label      string         `json:"label"`
		Key        string         `json:"key"`
		Properties map[string]any `json:"properties"`
	} `json:"node"`
}

// task_link relates a task to files and roles (creating the nodes), so that
// graph_neighbors joins them; it refuses unknown tasks and the relationship
// types the mirror owns, and linking twice makes one relationship.
func TestTaskLinkJoinsTasksWithTheGraph(t *testing.T) {
	project := newProject(t)
	p := start(t, procOpts{dir: project, env: sharedNeo4jEnv(t)})
	ctx := ctxT(t)
	var a, b taskOut
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "fix login crash"}, &a)
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "review login fix", "depends_on": []string{a.Task.ID}}, &b)
	m := fillMirrors(t, p, project, mirrorTargets{graph: true}) // also removes the project's nodes at the end
	if len(m.tasks) != 2 {
		t.Fatalf("%d tasks mirrored", len(m.tasks))
	}

	var out linkOut
	p.ok(ctx, "task_link", map[string]any{"workspace": project, "id": a.Task.ID,
		"node": map[string]any{"label": "File", "key": "src/auth/login.go"}, "type": "TOUCHES",
		"node_properties": map[string]any{"language": "go"}}, &out)
	if out.Relationship.Type != "TOUCHES" || out.Relationship.From.Key != a.Task.ID || out.Node.Properties["language"] != "go" {
		t.Fatalf("link: %+v", out)
	}
	// Twice: still one relationship. Direction in: (Role)-[:OWNS]->(task).
	p.ok(ctx, "task_link", map[string]any{"workspace": project, "id": a.Task.ID,
		"node": map[string]any{"label": "File", "key": "src/auth/login.go"}, "type": "TOUCHES"}, nil)
	p.ok(ctx, "task_link", map[string]any{"workspace": project, "id": a.Task.ID,
		"node": map[string]any{"label": "Role", "key": "security"}, "type": "OWNS", "direction": "in"}, &out)
	if out.Relationship.From.Label != "Role" || out.Relationship.To.Key != a.Task.ID {
		t.Fatalf("link in: %+v", out)
	}
	var nb struct {
		Neighbors []struct {
			Node struct {
				Label      string         `json:"label"`
				Key        string         `json:"key"`
				Properties map[string]any `json:"properties"`
			} `json:"node"`
			Via []string `json:"via"`
		} `json:"neighbors"`
	}
	// From the file: the task that touches it, and through the task its
	// owner and the task that depends on it.
	p.ok(ctx, "graph_neighbors", map[string]any{"workspace": project, "label": "File", "key": "src/auth/login.go", "depth": 2}, &nb)
	got := map[string]string{}
	for _, n := range nb.Neighbors {
		got[n.Node.Label+":"+n.Node.Key] = strings.Join(n.Via, ",")
	}
	if len(nb.Neighbors) != 3 || got["Task:"+a.Task.ID] != "TOUCHES" || got["Role:security"] != "TOUCHES,OWNS" ||
		got["Task:"+b.Task.ID] != "TOUCHES,DEPENDS_ON" {
		t.Fatalf("neighbours of the file: %v", got)
	}
	for _, n := range nb.Neighbors {
		if n.Node.Key == a.Task.ID && (n.Node.Properties["title"] != "fix login crash" || n.Node.Properties["status"] != "pending") {
			t.Fatalf("the task's node: %v", n.Node.Properties)
		}
	}

	for _, tc := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"id": "tsk_0000000000000000", "node": map[string]any{"label": "File", "key": "x"}, "type": "TOUCHES"}, "does not exist"},
		{map[string]any{"id": a.Task.ID, "node": map[string]any{"label": "Task", "key": b.Task.ID}, "type": "DEPENDS_ON"}, "task_dependency"},
		{map[string]any{"id": a.Task.ID, "node": map[string]any{"label": "Task", "key": "tsk_0000000000000000"}, "type": "RELATES_TO"}, "does not exist"},
		{map[string]any{"id": a.Task.ID, "node": map[string]any{"label": "File", "key": "x"}, "type": "BAD TYPE"}, "type"},
		{map[string]any{"id": a.Task.ID, "node": map[string]any{"label": "File", "key": ""}, "type": "TOUCHES"}, "node.key"},
	} {
		tc.args["workspace"] = project
		r := p.call(ctx, "task_link", tc.args)
		if msg := text(r); !r.IsError || !strings.Contains(msg, tc.want) {
			t.Fatalf("task_link %v: %v %q, want an error with %q", tc.args, r.IsError, msg, tc.want)
		}
	}
	// Refused calls created nothing: the file x does not exist.
	r := p.call(ctx, "graph_neighbors", map[string]any{"workspace": project, "label": "File", "key": "x"})
	if !r.IsError || !strings.Contains(text(r), "does not exist") {
		t.Fatalf("a refused link left a node behind: %q", text(r))
	}
}
