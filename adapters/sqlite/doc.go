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
// It must never write to stdout, never retry around SQLITE_BUSY (the single
// writer makes it impossible inside one process), and never leave a change
// half-written: every multi-statement change is one transaction.
package sqlite
