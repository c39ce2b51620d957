package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// MaxArtifactContentBytes is the hard ceiling on one artifact's content in the
// database (a CHECK in the schema). The store refuses content over
// security.max_artifact_bytes (10 MiB by default) first, with a sentence; this
// bound only keeps a raised limit from putting huge values into rows that
// every replica reads whole.
const MaxArtifactContentBytes = 64 << 20

// migrationLockKey is the advisory lock every migration transaction takes
// (pg_advisory_xact_lock): "mcptask1" as a big-endian int64. Fixed forever, so
// that servers of every version exclude each other.
const migrationLockKey int64 = 0x6d63707461736b31

// migration is one step of the schema. Append only: never edit one that has
// shipped; its number is its index + 1.
type migration struct {
	name string
	sql  string
}

// migrations mirror adapters/sqlite/schema.go (its four migrations folded into
// the first here, since no PostgreSQL schema has shipped before), with
// project_id leading every key. Timestamps are timestamptz (microseconds: ties
// are broken by id, as in SQLite), metadata and changes jsonb, booleans
// boolean. SQLite's tasks.seq existed only as the full-text index's rowid and
// has no counterpart: the tsvector is a column of the row.
var migrations = []migration{
	{name: "tasks, labels, dependencies, artifacts, outbox, mirrors, history, projects", sql: `
-- btree_gin lets the full-text GIN index lead with project_id, like every other index.
CREATE EXTENSION IF NOT EXISTS btree_gin;

-- A project: its stable id (kept in .task_orchestrator/ too) and its root path as a label only.
CREATE TABLE projects (
	id         TEXT PRIMARY KEY CHECK (id <> ''),
	root       TEXT NOT NULL DEFAULT '',
	created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE tasks (
	project_id         TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	id                 TEXT NOT NULL CHECK (id <> ''),
	title              TEXT NOT NULL CHECK (title <> ''),
	description        TEXT NOT NULL DEFAULT '',
	status             TEXT NOT NULL DEFAULT 'pending'
	                   CHECK (status IN ('pending','in_progress','blocked','completed','failed','cancelled')),
	priority           TEXT NOT NULL DEFAULT 'medium'
	                   CHECK (priority IN ('low','medium','high','critical')),
	priority_rank      SMALLINT GENERATED ALWAYS AS (
	                   CASE priority WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 ELSE 1 END) STORED,
	role               TEXT,
	assignee           TEXT,
	parent_id          TEXT,
	version            BIGINT NOT NULL DEFAULT 1 CHECK (version >= 1),
	created_at         TIMESTAMPTZ NOT NULL,
	updated_at         TIMESTAMPTZ NOT NULL,
	started_at         TIMESTAMPTZ,
	completed_at       TIMESTAMPTZ,
	summary            TEXT,
	metadata           JSONB NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
	-- Claim leases: an in-progress task is held by its assignee until lease_expires_at.
	lease_seconds      INTEGER CHECK (lease_seconds IS NULL OR lease_seconds > 0),
	lease_expires_at   TIMESTAMPTZ,
	-- true once the lease's expiry has been written to the history, so it is written once.
	lease_expiry_noted BOOLEAN NOT NULL DEFAULT false,
	search             TSVECTOR GENERATED ALWAYS AS (
	                   setweight(to_tsvector('simple', title), 'A') ||
	                   setweight(to_tsvector('simple', description), 'B')) STORED,
	PRIMARY KEY (project_id, id),
	-- A parent is a task of the same project (MATCH SIMPLE: no parent, no check).
	CONSTRAINT tasks_parent_same_project FOREIGN KEY (project_id, parent_id) REFERENCES tasks (project_id, id)
);

CREATE INDEX tasks_claim    ON tasks (project_id, status, priority_rank DESC, created_at, id);
CREATE INDEX tasks_created  ON tasks (project_id, created_at, id);
CREATE INDEX tasks_parent   ON tasks (project_id, parent_id, created_at, id) WHERE parent_id IS NOT NULL;
CREATE INDEX tasks_assignee ON tasks (project_id, assignee, created_at, id) WHERE assignee IS NOT NULL;
CREATE INDEX tasks_lease    ON tasks (project_id, lease_expires_at) WHERE status = 'in_progress';
-- Completions: a title prefix, ignoring case, is an index range on lower(title) LIKE 'x%'.
CREATE INDEX tasks_title_lower ON tasks (project_id, lower(title) text_pattern_ops);
CREATE INDEX tasks_role     ON tasks (project_id, role) WHERE role IS NOT NULL;
CREATE INDEX tasks_search   ON tasks USING gin (project_id, search);

CREATE TABLE task_labels (
	project_id TEXT NOT NULL,
	task_id    TEXT NOT NULL,
	label      TEXT NOT NULL,
	PRIMARY KEY (project_id, task_id, label),
	CONSTRAINT task_labels_task_same_project FOREIGN KEY (project_id, task_id)
		REFERENCES tasks (project_id, id) ON DELETE CASCADE
);
CREATE INDEX task_labels_label ON task_labels (project_id, label, task_id);

CREATE TABLE task_dependencies (
	project_id    TEXT NOT NULL,
	task_id       TEXT NOT NULL,
	depends_on_id TEXT NOT NULL,
	PRIMARY KEY (project_id, task_id, depends_on_id),
	CHECK (task_id <> depends_on_id),
	CONSTRAINT task_dependencies_task_same_project FOREIGN KEY (project_id, task_id)
		REFERENCES tasks (project_id, id) ON DELETE CASCADE,
	CONSTRAINT task_dependencies_target_same_project FOREIGN KEY (project_id, depends_on_id)
		REFERENCES tasks (project_id, id) ON DELETE CASCADE
);
CREATE INDEX task_dependencies_target ON task_dependencies (project_id, depends_on_id, task_id);

-- Artifacts with their content: replicas share no artifact folder. path is the
-- name the content had on disk (kept for migrate --to postgres and display).
CREATE TABLE artifacts (
	project_id TEXT NOT NULL,
	task_id    TEXT NOT NULL,
	name       TEXT NOT NULL CHECK (name <> '' AND octet_length(name) <= 255),
	path       TEXT NOT NULL DEFAULT '',
	size       BIGINT NOT NULL CHECK (size >= 0),
	sha256     TEXT NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
	content    BYTEA NOT NULL CHECK (octet_length(content) <= 67108864),
	created_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (project_id, task_id, name),
	CHECK (octet_length(content) = size),
	CONSTRAINT artifacts_task_same_project FOREIGN KEY (project_id, task_id)
		REFERENCES tasks (project_id, id) ON DELETE CASCADE
);

-- The transactional outbox: every task change writes a row in its own
-- transaction; the mirror syncer drains it into Chroma and Neo4j. The identity
-- never reuses a seq after pruning. It is one sequence for every project, and
-- a sequence is not commit order: the store must not let a reader's cursor
-- pass a seq whose transaction has not committed yet (ADR 0015).
CREATE TABLE outbox (
	project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	seq        BIGINT GENERATED ALWAYS AS IDENTITY,
	task_id    TEXT NOT NULL,
	kind       TEXT NOT NULL CHECK (kind IN ('create','update','status','dependency','delete')),
	created_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (project_id, seq)
);

-- One row per project and mirror: the last outbox seq delivered to it.
CREATE TABLE mirror_cursors (
	project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	mirror     TEXT NOT NULL,
	seq        BIGINT NOT NULL CHECK (seq >= 0),
	updated_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (project_id, mirror)
);

-- The highest seq pruned from a project's outbox (no row: nothing pruned): a
-- cursor below it has missed events and its mirror must be rebuilt.
CREATE TABLE outbox_pruned (
	project_id TEXT PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
	seq        BIGINT NOT NULL CHECK (seq >= 0)
);

-- Which syncer delivers a project's changes to a mirror: one at a time across
-- every replica, so that a task's states are never written out of order.
CREATE TABLE mirror_leases (
	project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	mirror     TEXT NOT NULL,
	owner      TEXT NOT NULL,
	expires_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (project_id, mirror)
);

-- Every change of a task (bounded per task by the store). It outlives the
-- task, so it references the project, not the task.
CREATE TABLE task_history (
	project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	seq        BIGINT GENERATED ALWAYS AS IDENTITY,
	task_id    TEXT NOT NULL,
	at         TIMESTAMPTZ NOT NULL,
	actor      TEXT NOT NULL DEFAULT '',
	event      TEXT NOT NULL,
	changes    JSONB NOT NULL DEFAULT '{}',
	late       BOOLEAN NOT NULL DEFAULT false,
	note       TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (project_id, seq)
);
CREATE INDEX task_history_task ON task_history (project_id, task_id, seq);
`},
}

// Beginner starts a transaction: *pgx.Conn, *pgxpool.Pool and *pgxpool.Conn
// all do. Migrate needs nothing else, since each step holds its lock and reads
// the version inside its own transaction (so a pool may hand out a different
// connection for each).
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Querier runs a query returning one row: *pgx.Conn, pgx.Tx, *pgxpool.Pool.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Latest is the schema version this code migrates to.
func Latest() int { return len(migrations) }

// Migrate brings the schema of the connection's database up to date and says
// how many migrations it applied. Each migration runs in its own transaction,
// which first takes the advisory lock migrationLockKey and reads the version:
// servers starting at once wait for each other and apply each migration
// exactly once. A database migrated by a newer server is refused.
func Migrate(ctx context.Context, db Beginner) (applied int, err error) {
	for {
		done, err := migrateStep(ctx, db)
		if err != nil {
			return applied, err
		}
		if done {
			return applied, nil
		}
		applied++
	}
}

// migrateStep applies the next migration, if any, in one transaction; done is
// true when there was none to apply.
func migrateStep(ctx context.Context, db Beginner) (done bool, err error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("postgres: migrate the task schema: begin a transaction: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLockKey); err != nil {
		return false, fmt.Errorf("postgres: migrate the task schema: take the migration lock: %w", err)
	}
	var exists bool
	if err := tx.QueryRow(ctx, "SELECT to_regclass('schema_migrations') IS NOT NULL").Scan(&exists); err != nil {
		return false, fmt.Errorf("postgres: migrate the task schema: look for schema_migrations: %w", err)
	}
	if !exists {
		if _, err := tx.Exec(ctx, `CREATE TABLE schema_migrations (
	version    INTEGER PRIMARY KEY CHECK (version >= 1),
	name       TEXT NOT NULL,
	applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)`); err != nil {
			return false, fmt.Errorf("postgres: migrate the task schema: create schema_migrations: %w", err)
		}
	}
	v, err := SchemaVersion(ctx, tx)
	if err != nil {
		return false, err
	}
	if v > len(migrations) {
		return false, fmt.Errorf("postgres: the task database has schema version %d, but this server knows only up to %d: "+
			"a newer version of the server migrated it; upgrade this server", v, len(migrations))
	}
	if v == len(migrations) {
		if err := tx.Commit(ctx); err != nil {
			return false, fmt.Errorf("postgres: migrate the task schema: end the version check: %w", err)
		}
		return true, nil
	}
	m := migrations[v]
	if _, err := tx.Exec(ctx, m.sql); err != nil {
		return false, fmt.Errorf("postgres: migrate the task schema to version %d (%s): %w", v+1, m.name, err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", v+1, m.name); err != nil {
		return false, fmt.Errorf("postgres: migrate the task schema: record version %d: %w", v+1, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("postgres: migrate the task schema to version %d (%s): commit: %w", v+1, m.name, err)
	}
	return false, nil
}

// SchemaVersion is the highest migration recorded in the database: 0 when it
// has none (not even schema_migrations).
func SchemaVersion(ctx context.Context, q Querier) (int, error) {
	// Two statements: a query naming a table that does not exist fails at parse time.
	var exists bool
	if err := q.QueryRow(ctx, "SELECT to_regclass('schema_migrations') IS NOT NULL").Scan(&exists); err != nil {
		return 0, fmt.Errorf("postgres: read the task schema version: look for schema_migrations: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v int
	if err := q.QueryRow(ctx, "SELECT COALESCE(max(version), 0) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("postgres: read the task schema version: %w", err)
	}
	return v, nil
}
