// Package work is the task domain of mcp-task-orchestrator: what a task is
// (Task, Status and its transitions), the rules of claiming one (leases,
// parents, roles), the work graph (graph.go: blockers, including a parent's
// open subtasks; the critical path; a stable topological order) and the
// use-cases that span more than one store or more than one call of a store:
// complete with an artifact (complete.go), plan a tree of tasks (plan.go),
// link a task to the knowledge graph (link.go).
//
// It is written against small interfaces (ports.go, and TaskReader and
// TaskGraph in link.go) that the adapters implement: the SQLite store
// (Claimer, Completer, PlanStore, TaskReader), workspace.ArtifactFiles
// (ArtifactFiles) and mirror.TaskGraph (TaskGraph, over the Neo4j store).
// It imports nothing of the module but internal/clienterr, so the adapters
// may speak its types and tools may call its use-cases. A call walks
// tools -> work -> (adapters through the ports), never back up.
//
// It must never open a store, read a file or know a backend: what it needs
// is handed to it. Its refusals are *clienterr.Error sentences an agent can
// act on.
package work
