// Package migrate is the `mcp-task-orchestrator migrate` command: it imports
// the tasks of a project that used the Python mcp-task-orchestrator (1.8: its
// SQLite file <project>/.task_orchestrator/task_orchestrator.db and the
// artifact files beside it) into this server's task store, keeping ids,
// hierarchy, dependencies, status and artifacts.
//
// It owns the reading of the Python schema (python.go), the mapping to our
// tasks (plan.go) and the carrying over of artifact files (artifacts.go); the
// store writes the tasks through sqlite.Store.Import, in one transaction.
//
// It must never write to the Python database (it is opened read-only), never
// overwrite a task or an artifact file that is already ours, and never leave
// a task half-imported. It is a command for a person: it prints its report to
// stdout, which the MCP server itself never does.
package migrate
