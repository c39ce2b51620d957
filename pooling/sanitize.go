package pooling

import "github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"

// Sanitize removes credentials from s so it can be shown in metrics, errors and
// logs. It is workspace.Redact, the one masking function of the server (see
// there for what it masks); pools, adapters and tools call it under this name.
func Sanitize(s string) string { return workspace.Redact(s) }
