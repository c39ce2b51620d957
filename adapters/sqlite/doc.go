// Package sqlite is the task store: tasks, labels, dependencies and artifact
// records in one embedded SQLite database per project (tasks.db).
//
// It owns two pools of pinned *sql.Conn (see pooling): "sqlite.writer", exactly
// one read-write connection on which every write queues in Go, and
// "sqlite.readers", read-only connections for everything else. A *sql.DB is used
// only as a connection factory (it keeps no idle connections), so nothing is
// pooled twice. The writer stays open while the store is open so that the WAL
// is never checkpointed away between calls.
//
// Several server processes may open one project's file, each with its own
// writer: their writes meet in SQLite's file locks. Every write is BEGIN
// IMMEDIATE under busy_timeout; a transaction that still finds the file
// locked changed nothing and is run again within pool_timeout (see run), so
// SQLITE_BUSY never reaches a caller: it becomes a sentence naming the cause.
//
// It must never write to stdout, never show SQLite's own error text to a
// client, and never leave a change half-written: every multi-statement change
// is one transaction.
package sqlite
