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
// A project's files are untrusted input (a cloned repository wrote them).
// Every file and folder under .task_orchestrator is opened through one
// no-follow opener (OpenProjectFile, CheckProjectFile, EnsureProjectDir,
// CheckProjectTree): a link or a non-regular file is an *UnsafeFileError.
// The project config is bounded before it is parsed and may tune pools and
// nothing else (ApplyProject); ProjectConfigs remembers each project's
// outcome by the file's identity, so a hostile file costs one lstat a call.
package workspace
