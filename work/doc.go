// Package work is the task domain of mcp-task-orchestrator: what a task is
// (Task, Status and its transitions), the rules of claiming one (leases,
// parents, roles), the dependency graph (blockers, unblocks, critical path)
// and the use-cases that span more than one store (complete with an
// artifact, plan a tree of tasks, link a task to the knowledge graph).
//
// It is written against small store interfaces (ports.go) that the adapters
// implement; it imports nothing of the module but internal/clienterr, so the
// adapters may use its types and tools may call its use-cases. A call walks
// tools -> work -> adapters, never back up.
package work
