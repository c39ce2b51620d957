package mirror

// This file is the contract between the writer of the mirrors (the outbox
// syncer) and their readers (task_similar, task_graph, task_link through
// TaskGraph, reconcile): what a task looks like in Chroma and in Neo4j.
// Change it only together with both sides.

import (
	"strings"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/chroma"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/neo4j"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// Vector mirror: one document per task in the project's collection Collection.
const Collection = "tasks"

// Graph mirror: (:Task {key: id, id, title, status, priority}), with
// (task)-[:DEPENDS_ON]->(dependency) and (child)-[:SUBTASK_OF]->(parent).
const (
	TaskLabel    = "Task"
	RelDependsOn = "DEPENDS_ON"
	RelSubtaskOf = "SUBTASK_OF"
)

// Metadata keys of a task's document in the vector mirror.
const (
	MetaStatus   = "status"
	MetaPriority = "priority"
	MetaRole     = "role" // absent when the task has no role
	MetaVersion  = "version"
)

// DocumentText is the text embedded for a task: title, description, labels.
func DocumentText(t work.Task) string {
	var b strings.Builder
	b.WriteString(t.Title)
	if d := strings.TrimSpace(t.Description); d != "" {
		b.WriteString("\n\n")
		b.WriteString(d)
	}
	if len(t.Labels) > 0 {
		b.WriteString("\n\nlabels: ")
		b.WriteString(strings.Join(t.Labels, ", "))
	}
	return b.String()
}

// Document is a task's document in the vector mirror.
func Document(t work.Task) chroma.Document {
	md := map[string]any{
		MetaStatus:   string(t.Status),
		MetaPriority: t.Priority,
		MetaVersion:  t.Version,
	}
	if t.Role != nil && *t.Role != "" {
		md[MetaRole] = *t.Role
	}
	return chroma.Document{ID: t.ID, Text: DocumentText(t), Metadata: md}
}

// NodeRef is a task's node in the graph mirror.
func NodeRef(id string) neo4j.NodeRef { return neo4j.NodeRef{Label: TaskLabel, Key: id} }

// NodeProps are the properties of a task's node in the graph mirror.
func NodeProps(t work.Task) map[string]any {
	return map[string]any{"id": t.ID, "title": t.Title, "status": string(t.Status), "priority": t.Priority}
}
