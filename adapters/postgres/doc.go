// Package postgres is the task store on PostgreSQL (issue 18): for a team
// whose tasks outgrow one SQLite file on one host, so that several server
// replicas can serve the same projects. It reaches the server through
// github.com/jackc/pgx/v5.
//
// This first part holds the schema and its migrations only (ADR 0015): the
// tables mirror adapters/sqlite's, with every row carrying its project's key
// (project_id, the first column of every primary key, foreign key and index),
// so one set of tables and one migration serve any number of projects and a
// connection may serve any of them. Artifact content is stored in the
// database (bytea, bounded), since replicas share no artifact folder; task
// text is searched with PostgreSQL's own full-text search (a generated
// tsvector, 'simple' configuration, GIN index).
//
// Migrate applies the migrations in order, each in its own transaction under
// a transaction-scoped advisory lock on a fixed key, and records each in
// schema_migrations: several replicas starting at once apply each migration
// exactly once.
//
// Store (Open) is one project's tasks on such a shared database: every
// statement names the project (project_id = $1), so the composite keys are
// the path of every query. It holds the task core so far (Create, Get,
// Exists, List with full-text search and cursor paging, Update with
// optimistic locking, leases and the status machine, Delete with cascade,
// dependencies with cycle refusal, TaskIDs, TasksByID, CountTasks), each
// write one transaction that writes its history and outbox rows, retried on
// serialization failures and deadlocks. Its connections come from the
// module's pool (pooling.Pool of *pgx.Conn, with its metrics, health checks
// and breaker), never from pgxpool. Field rules and refusals are
// adapters/sqlite's, held to the same sentences by a test. Claims, plans,
// history reads, artifacts, the outbox's readers, the graph reads,
// LISTEN/NOTIFY, replicas and migrate --to postgres come later.
//
// What it must never do: show a connection URL's password in an error or a
// log (Connect scrubs it from its errors), or let a statement touch a row
// without naming its project.
package postgres
