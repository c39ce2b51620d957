// Package pooling owns the server's connection pools: one generic Pool[T] that
// every backend (SQLite readers, Chroma requests, Neo4j sessions) uses, and the
// nothing else: the per-project registry of pools is package project.
//
// A Pool bounds how many connections exist (MaxConns plus MaxOverflow), hands
// them out fairly (waiters are served first come, first served), checks them
// (pre-ping, recycle by age, idle eviction, reset on return), watches them
// (a health monitor that replaces dead connections, refills to MinConns and
// reports connections held too long, with the tool that holds them) and stops
// calling a backend that is down (a circuit breaker that fails fast with a
// retry-after and probes by itself until the backend is back).
//
// What this package must never do:
//   - know what a connection is: everything backend-specific goes through Hooks;
//   - call a hook (Open, Close, Ping, Reset) or a Member's Close while holding a
//     lock, so a slow backend can never stall the pool's bookkeeping;
//   - start a goroutine it does not stop: a Pool's monitor stops in Close, the
//     Registry's janitor stops in Registry.Close;
//   - write to stdout (it is the MCP channel) or put credentials in an error or a
//     log record: LastError and breaker errors go through Sanitize.
//
// Why not jackc/puddle: see docs/adr/0001-own-pool-not-puddle.md.
package pooling
