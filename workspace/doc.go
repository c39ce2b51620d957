// Package workspace owns everything about "which project, and where its
// data lives": resolving a project root from a tool argument, the client's
// MCP roots, $TASK_ORCHESTRATOR_WORKSPACE or the working directory
// (Resolver); the <root>/.task_orchestrator folder and its 0700 subfolders
// (Layout, Ensure); the configuration and its validation (Config,
// LoadGlobal, ApplyProject); and the artifacts a task stores (WriteArtifact).
//
// Every other package may import workspace; workspace imports none of them
// and knows nothing of MCP, pools or databases: callers pass plain paths and
// strings. It never writes to stdout, starts no goroutines, and never puts a
// credential in an error or a log line (see Secret).
//
// A project's own config file is untrusted input (a cloned repository wrote
// it): ApplyProject lets it tune pools and nothing else.
package workspace
