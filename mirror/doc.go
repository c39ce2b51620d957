// Package mirror keeps the vector and graph mirrors of a project's tasks in
// step with SQLite, the source of truth: an outbox syncer (syncer.go) feeds
// Chroma and Neo4j through Targets (targets.go), under a lease so that one
// server process delivers to a mirror at a time (lease.go). contract.go says
// what a task looks like in each mirror; TaskGraph (link.go) lets the task
// domain (package work) write a task's node as the mirror draws it.
//
// Which statuses are open work is the domain's (work.Status.IsOpen), not
// the mirror's. The package must never open a store itself: it borrows the
// project's (Borrow), and never writes to SQLite.
package mirror
