package mirror_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/clienterr"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/mirror"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// work.Link over the real task store and the real Neo4j, drawn by mirror.TaskGraph.
func TestLinkWritesTheTaskNodeAsTheMirrorDrawsIt(t *testing.T) {
	ts, _, gs := project(t)
	ctx := context.Background()
	task, err := ts.Create(ctx, sqlite.NewTask{Title: "touch the login"})
	if err != nil {
		t.Fatal(err)
	}
	g := mirror.TaskGraph{Store: gs}
	res, err := work.Link(ctx, ts, g, work.LinkRequest{TaskID: task.ID, Node: work.NodeRef{Label: "File", Key: "src/login.go"},
		Type: "TOUCHES", NodeProperties: map[string]any{"lang": "go"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.From != (work.NodeRef{Label: mirror.TaskLabel, Key: task.ID}) || res.To.Key != "src/login.go" ||
		res.Relationship.Type != "TOUCHES" || res.Node.Properties["lang"] != "go" {
		t.Fatalf("link result %+v", res)
	}
	if k := keys(t, gs); !slices.Contains(k, task.ID) {
		t.Fatalf("the task's node was not merged: %v", k)
	}
	// The other end a task's node that is no task: refused, nothing written.
	before := len(keys(t, gs))
	_, err = work.Link(ctx, ts, g, work.LinkRequest{TaskID: task.ID, Node: work.NodeRef{Label: mirror.TaskLabel,
		Key: "tsk_00000000000000aa"}, Type: "RELATES_TO"})
	if !clienterr.IsKind(err, clienterr.InvalidArgument) || !strings.Contains(err.Error(),
		`node (:Task {key: "tsk_00000000000000aa"}) would be a task, and task tsk_00000000000000aa does not exist`) {
		t.Fatalf("a link to a missing task: %v", err)
	}
	if after := len(keys(t, gs)); after != before {
		t.Fatalf("a refused link wrote %d task node(s)", after-before)
	}
	// A task at the other end: its properties come from the task store, never the caller's.
	other, err := ts.Create(ctx, sqlite.NewTask{Title: "review"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = work.Link(ctx, ts, g, work.LinkRequest{TaskID: task.ID, Node: work.NodeRef{Label: mirror.TaskLabel, Key: other.ID},
		Type: "RELATES_TO", NodeProperties: map[string]any{"title": "forged"}})
	if !clienterr.IsKind(err, clienterr.InvalidArgument) || !strings.Contains(err.Error(), "node_properties cannot be set on a task's node") {
		t.Fatalf("node_properties on a task's node: %v", err)
	}
	res2, err := work.Link(ctx, ts, g, work.LinkRequest{TaskID: task.ID, Node: work.NodeRef{Label: mirror.TaskLabel, Key: other.ID},
		Type: "RELATES_TO", In: true})
	if err != nil || res2.From.Key != other.ID || res2.To.Key != task.ID || res2.Node.Properties["title"] != "review" ||
		res2.Node.Properties["status"] != string(work.Pending) {
		t.Fatalf("a link in to another task: %+v, %v", res2, err)
	}
}
