// Package managed runs one local database server process (Chroma, Neo4j) for
// one project and keeps it alive: it picks a free loopback port, starts the
// executable named by the global configuration, waits until it answers its
// health check (reporting progress while it waits), restarts it with backoff
// when it crashes, and stops it on request.
//
// With Spec.Share, one server serves every server process of the project
// (Claude Desktop and a terminal on one repository): the first process to need
// it takes an exclusive lock (flock) on a lock file under .task_orchestrator,
// starts the server and announces it in a discovery file (0600, replaced
// atomically); the others verify that file (a regular file of ours, mode
// 0600, this boot, a loopback port, a live pid whose start time and command
// line match) and attach. The owner keeps the lock for the server's life;
// the kernel releases it when the owner dies, and the next process that needs
// the server waits until no process runs on the data folder, then starts it
// again. The logic lives here once, for every managed backend (share.go).
//
// Slots (slots.go) are the pool hooks of an adapter whose driver keeps its
// own connections (Chroma, Neo4j): a slot proves the server alive when it
// opens, waits for a managed server that just died, and is replaced when the
// server moved; the adapter supplies the handle and the check.
//
// It owns the child process and nothing else: it never talks to the database
// beyond the health check the caller supplies, never writes to our stdout (the
// child's output goes to a log file), never leaves a child behind, and never
// signals a process it did not start (an attached server, or whatever a
// discovery file names). On Linux the child is in its own process group, Stop
// signals the whole group, and the kernel SIGKILLs the child if this process
// dies without stopping it (Pdeathsig). Sharing needs /proc: elsewhere each
// process runs its own server, as before. See
// docs/adr/0004-managed-local-servers.md.
package managed
