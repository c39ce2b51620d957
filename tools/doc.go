// Package tools defines the MCP tools of mcp-task-orchestrator: one constructor per
// tool returning its definition and a thin handler.
//
// A handler validates its arguments, resolves the workspace (project) the call
// is about, leases that project from the project.Registry and asks it for the
// stores it needs (proj.Tasks, proj.Vectors, proj.Graph), calls one domain
// operation and renders the answer as structured content plus a short text.
// A rule of the task domain (which statuses are open, what blocks a task,
// the critical path, completing with an artifact, a plan, a link across two
// stores) is package work's, never written here: a handler passes work the
// stores as its ports (work.Plan(ctx, store, …), work.Link(ctx, store,
// mirror.TaskGraph{…}, …)) and maps the answer to its JSON view.
// Errors the model can act on (bad input, unknown id, stale version, busy pool)
// are tool results with isError set; nothing here panics on bad input, and no
// internal detail (stack, SQL, path outside the project, credential) reaches a client.
//
// Read tools and write tools are registered apart (see Toolset): a write tool in
// the read list is refused at start-up, so an annotation can never lie, and
// --read-only simply leaves the write list out.
//
// This package must never import main, and never talk to a database directly:
// it goes through the project, its adapters and the task domain.
package tools
