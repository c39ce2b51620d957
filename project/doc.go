// Package project owns one open project and the registry of open projects.
//
// A Project is a project root and everything the server holds open for it:
// its .task_orchestrator layout, its config (the server's, with the project's
// own file layered on top, validated once per version of the file), one log
// (one handle on server.log, shared by every backend, rotation-safe), its task
// store (SQLite), its vector store (Chroma) and its graph store (Neo4j), each
// opened on first use, at most once even under concurrent first calls, its
// mirror syncer, which borrows the project's own stores, and its lease timer,
// which records claim leases as they expire and tells the registry's
// listeners (Registry.OnLeaseExpired).
//
// The Registry holds one Project per root: a lease (Acquire) keeps a project
// open for the length of a call; the least recently used project without
// leases is closed when more than MaxWorkspaces are open, and an idle one
// after IdleTimeout. A project closes its task store (and syncer) first, then
// its vector and graph stores, then its log.
//
// What this package must never do:
//   - hold the registry lock while opening or closing a backend, or while
//     reading a pool's metrics;
//   - reopen a project the registry has let go of (the syncer's borrows are
//     refused once the project is closing);
//   - start a goroutine it does not stop: the janitor stops in Registry.Close,
//     each syncer and lease timer before its task store closes;
//   - write to stdout (it is the MCP channel), or open a file under
//     .task_orchestrator without the no-follow opener (workspace.OpenProjectFile).
package project
