package sqlite

import "github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"

// The task model is the domain's (package work); the store speaks it.
type (
	Task           = work.Task
	ArtifactRecord = work.ArtifactRecord
	TaskDetail     = work.TaskDetail
	NewTask        = work.NewTask
	Filter         = work.Filter
	Patch          = work.Patch
	Completion     = work.Completion
)

// The SQLite store is a whole task store.
var _ work.Store = (*Store)(nil)
