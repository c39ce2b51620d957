package mirror

import (
	"context"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/neo4j"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// TaskGraph is the graph store as task_link sees it (work.TaskGraph): tasks
// are drawn as the graph mirror draws them, so a link and the syncer write
// the same node.
type TaskGraph struct{ Store *neo4j.Store }

var _ work.TaskGraph[neo4j.Node, neo4j.Relationship] = TaskGraph{}

// TaskRef implements work.TaskGraph.
func (TaskGraph) TaskRef(id string) work.NodeRef { return work.NodeRef{Label: TaskLabel, Key: id} }

// MergeTask implements work.TaskGraph.
func (g TaskGraph) MergeTask(ctx context.Context, t work.Task) (neo4j.Node, error) {
	return g.Store.MergeNode(ctx, NodeRef(t.ID), NodeProps(t))
}

// MergeNode implements work.TaskGraph.
func (g TaskGraph) MergeNode(ctx context.Context, ref work.NodeRef, props map[string]any) (neo4j.Node, error) {
	return g.Store.MergeNode(ctx, neo4j.NodeRef(ref), props)
}

// MergeRelationship implements work.TaskGraph.
func (g TaskGraph) MergeRelationship(ctx context.Context, from, to work.NodeRef, relType string, props map[string]any) (neo4j.Relationship, error) {
	return g.Store.MergeRelationship(ctx, neo4j.NodeRef(from), neo4j.NodeRef(to), relType, props)
}
