// Package pooling is the server's connection pool: one generic Pool[T] that
// every backend (SQLite writer and readers, Chroma requests, Neo4j sessions)
// uses. It imports nothing of this module; which pools a project has is
// package project's business.
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
//   - call a hook (Open, Close, Ping, Reset) while holding a lock, so a slow
//     backend can never stall the pool's bookkeeping;
//   - start a goroutine it does not stop: a Pool's monitor stops in Close;
//   - write to stdout (it is the MCP channel), or keep a backend's error text
//     without passing it through Config.Sanitize first: the pool knows no
//     credentials, the caller's hook masks them (LastError, breaker errors, logs);
//   - import a package of this module.
//
// Why not jackc/puddle: see docs/adr/0001-own-pool-not-puddle.md.
package pooling
