// Package managed runs one local database server process (Chroma now, Neo4j
// later) for one project and keeps it alive: it picks a free loopback port,
// starts the executable named by the global configuration, waits until it
// answers its health check (reporting progress while it waits), restarts it
// with backoff when it crashes, and stops it on request.
//
// It owns the child process and nothing else: it never talks to the database
// beyond the health check the caller supplies, never writes to our stdout (the
// child's output goes to a log file), and never leaves a child behind. On Linux
// the child is in its own process group, Stop signals the whole group, and the
// kernel SIGKILLs the child if this process dies without stopping it
// (Pdeathsig). See docs/adr/0004-managed-local-servers.md.
package managed
