package work

import (
	"context"
	"fmt"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/clienterr"
)

// Linking a task to the project's knowledge graph (task_link) writes to two
// stores: the task store is read (the source of truth: the task, and a task
// at the other end, must exist) and the graph is written (the task's node,
// the other node, the relationship). The graph port knows how tasks are
// drawn in the graph; this file knows the order and the rules.

// NodeRef names a node of the project's graph: its label and its key.
type NodeRef struct{ Label, Key string }

// TaskReader reads tasks (the task store).
type TaskReader interface {
	Get(ctx context.Context, id string) (TaskDetail, error)
}

// TaskGraph is what a link needs of the graph store. N and R are the
// store's own node and relationship, handed back to the caller untouched.
// Every merge is idempotent.
type TaskGraph[N, R any] interface {
	// TaskRef is the node of task id.
	TaskRef(id string) NodeRef
	// MergeTask creates or updates t's node with the properties the task
	// mirror gives it, so that a link never waits for the mirror.
	MergeTask(ctx context.Context, t Task) (N, error)
	// MergeNode creates ref if missing and sets props on it (others are kept).
	MergeNode(ctx context.Context, ref NodeRef, props map[string]any) (N, error)
	// MergeRelationship relates from to to by relType, once per direction and type.
	MergeRelationship(ctx context.Context, from, to NodeRef, relType string, props map[string]any) (R, error)
}

// LinkRequest is task_link's input, its arguments already checked.
type LinkRequest struct {
	TaskID         string
	Node           NodeRef
	Type           string
	In             bool // (node)-[type]->(task) rather than (task)-[type]->(node)
	Properties     map[string]any
	NodeProperties map[string]any
}

// LinkResult is what a link wrote.
type LinkResult[N, R any] struct {
	From, To     NodeRef
	Relationship R
	Node         N // the other node, as stored
}

// Link relates task req.TaskID to req.Node. The task must exist; when the
// other node is a task's node, that task must exist too and its properties
// come from the task store (node_properties are refused). Nothing is
// written to the graph before both are known.
func Link[N, R any](ctx context.Context, tasks TaskReader, graph TaskGraph[N, R], req LinkRequest) (LinkResult[N, R], error) {
	var res LinkResult[N, R]
	det, err := tasks.Get(ctx, req.TaskID)
	if err != nil {
		return res, err
	}
	var other *Task
	if req.Node == graph.TaskRef(req.Node.Key) {
		od, err := tasks.Get(ctx, req.Node.Key)
		switch {
		case clienterr.IsKind(err, clienterr.NotFound):
			return res, &clienterr.Error{Kind: clienterr.InvalidArgument, Field: "node.key", Err: err, Msg: fmt.Sprintf(
				"node (:%s {key: %q}) would be a task, and task %s does not exist; link tasks that exist (task_list), or use "+
					"another label", req.Node.Label, clip(req.Node.Key, 80), clip(req.Node.Key, 80))}
		case err != nil:
			return res, err
		}
		if len(req.NodeProperties) > 0 {
			return res, &clienterr.Error{Kind: clienterr.InvalidArgument, Field: "node_properties",
				Msg: "node_properties cannot be set on a task's node: its properties come from the task database"}
		}
		other = &od.Task
	}
	task := graph.TaskRef(req.TaskID)
	if _, err := graph.MergeTask(ctx, det.Task); err != nil {
		return res, err
	}
	if other != nil {
		res.Node, err = graph.MergeTask(ctx, *other)
	} else {
		res.Node, err = graph.MergeNode(ctx, req.Node, req.NodeProperties)
	}
	if err != nil {
		return res, err
	}
	res.From, res.To = task, req.Node
	if req.In {
		res.From, res.To = req.Node, task
	}
	res.Relationship, err = graph.MergeRelationship(ctx, res.From, res.To, req.Type, req.Properties)
	return res, err
}

// clip cuts s to n bytes for a message, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
