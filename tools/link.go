package tools

import (
	"context"
	"fmt"

	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/neo4j"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/mirror"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// task_link relates a task's node in the graph mirror to any node of the
// project's graph (a File, a Component, a Role...), so that graph_* queries
// can join tasks with what they touch. This file checks the arguments and
// renders; the two-store write and its rules are work.Link's, drawn in the
// graph as the mirror draws tasks (mirror.TaskGraph). Linking is idempotent:
// one relationship per task, node, type and direction.

type taskLinkArgs struct {
	Workspace      string         `json:"workspace,omitempty"`
	ID             string         `json:"id" jsonschema:"The task to link (id, like every task tool; earlier versions called it task_id)"`
	Node           nodeRefArg     `json:"node" jsonschema:"The node to link it to, e.g. {\"label\": \"File\", \"key\": \"src/auth/login.go\"}; created if it does not exist"`
	Type           string         `json:"type" jsonschema:"Relationship type, e.g. TOUCHES, PART_OF, NEEDS_ROLE (letters, digits, _)"`
	Direction      string         `json:"direction,omitempty" jsonschema:"enum=out,enum=in"`
	Properties     map[string]any `json:"properties,omitempty" jsonschema:"Properties to set on the relationship"`
	NodeProperties map[string]any `json:"node_properties,omitempty" jsonschema:"Properties to set on the node (others are kept)"`
}

// TaskLinkResult is task_link's answer.
type TaskLinkResult struct {
	Relationship neo4j.Relationship `json:"relationship"`
	Node         neo4j.Node         `json:"node" jsonschema:"The linked node as stored"`
}

// mirrorRelTypes are written by the syncer from SQLite; a link of one of these
// types would be a dependency or parent that SQLite does not know.
var mirrorRelTypes = map[string]string{
	mirror.RelDependsOn: "task_dependency",
	mirror.RelSubtaskOf: "task_update with parent_id",
}

func taskLink(d *Deps) server.ServerTool {
	tool := newTool("task_link", "Link a task to a graph node",
		"Relate a task to any node of the project's knowledge graph (a file, a component, a role), creating the node if it does "+
			"not exist, so that graph_neighbors and graph_query can join tasks with what they touch. The task must exist; its "+
			"node (:Task {key: id}) carries id, title, status and priority. direction out (default): (task)-[type]->(node); in: "+
			"(node)-[type]->(task).",
		// destructive: node_properties replace the values of those properties, as graph_merge_node does.
		hints{readOnly: false, destructive: true, idempotent: true, openWorld: graphOpenWorld(d)},
		inputSchema[taskLinkArgs](), outputSchema[TaskLinkResult]())
	return server.ServerTool{Tool: tool, Handler: handle(d, tool.Name, func(ctx context.Context, c *call, a taskLinkArgs) (any, string, error) {
		if err := checkID("id", a.ID); err != nil {
			return nil, "", err
		}
		if err := required("node.label", a.Node.Label); err != nil {
			return nil, "", err
		}
		if err := required("node.key", a.Node.Key); err != nil {
			return nil, "", err
		}
		if err := required("type", a.Type); err != nil {
			return nil, "", err
		}
		if err := neo4j.CheckLink(neo4j.NodeRef(a.Node), a.NodeProperties, a.Type, a.Properties); err != nil {
			return nil, "", err
		}
		if tool, ok := mirrorRelTypes[a.Type]; ok {
			return nil, "", badArg("type %s is kept in step with the task database by the server; use %s instead, or another type", a.Type, tool)
		}
		switch a.Direction {
		case "", "out", "in":
		default:
			return nil, "", badArg("argument \"direction\" must be out or in, not %q", truncate(a.Direction, 40))
		}
		root, err := c.workspace(ctx, a.Workspace)
		if err != nil {
			return nil, "", err
		}
		store, _, release, err := d.taskStore(ctx, root)
		if err != nil {
			return nil, "", err
		}
		defer release()
		gs, grelease, err := d.graphStore(ctx, root)
		if err != nil {
			return nil, "", err
		}
		defer grelease()
		res, err := work.Link(ctx, store, mirror.TaskGraph{Store: gs}, work.LinkRequest{TaskID: a.ID,
			Node: work.NodeRef(a.Node), Type: a.Type, In: a.Direction == "in", Properties: a.Properties,
			NodeProperties: a.NodeProperties})
		if err != nil {
			return nil, "", err
		}
		return TaskLinkResult{Relationship: res.Relationship, Node: res.Node}, fmt.Sprintf("(:%s {key: %q})-[:%s]->(:%s {key: %q})",
			res.From.Label, res.From.Key, res.Relationship.Type, res.To.Label, res.To.Key), nil
	})}
}
