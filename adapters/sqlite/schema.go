package sqlite

import (
	"context"
	"fmt"
)

// migrations are applied in order, each in one transaction on the writer, and
// recorded in PRAGMA user_version (the number of migrations applied). Append
// only: never edit a migration that has shipped.
var migrations = []string{
	// 1: tasks, labels, dependencies, artifacts, full-text search.
	`
CREATE TABLE tasks (
	id            TEXT PRIMARY KEY NOT NULL,
	-- seq is a stable integer key for the full-text index: a table without an
	-- INTEGER PRIMARY KEY may have its rowids renumbered by VACUUM.
	seq           INTEGER NOT NULL UNIQUE,
	title         TEXT NOT NULL CHECK (title <> ''),
	description   TEXT NOT NULL DEFAULT '',
	status        TEXT NOT NULL DEFAULT 'pending'
	              CHECK (status IN ('pending','in_progress','blocked','completed','failed','cancelled')),
	priority      TEXT NOT NULL DEFAULT 'medium'
	              CHECK (priority IN ('low','medium','high','critical')),
	priority_rank INTEGER GENERATED ALWAYS AS (
	              CASE priority WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 ELSE 1 END) VIRTUAL,
	role          TEXT,
	assignee      TEXT,
	parent_id     TEXT REFERENCES tasks(id),
	version       INTEGER NOT NULL DEFAULT 1,
	created_at    TEXT NOT NULL, -- RFC 3339, UTC, 9 fractional digits: sorts as text
	updated_at    TEXT NOT NULL,
	started_at    TEXT,
	completed_at  TEXT,
	summary       TEXT,
	metadata      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata) AND json_type(metadata) = 'object')
) STRICT;

CREATE INDEX tasks_claim    ON tasks (status, priority_rank DESC, created_at, id);
CREATE INDEX tasks_created  ON tasks (created_at, id);
CREATE INDEX tasks_parent   ON tasks (parent_id, created_at, id) WHERE parent_id IS NOT NULL;
CREATE INDEX tasks_assignee ON tasks (assignee, created_at, id) WHERE assignee IS NOT NULL;

CREATE TABLE task_labels (
	task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
	label   TEXT NOT NULL,
	PRIMARY KEY (task_id, label)
) STRICT, WITHOUT ROWID;
CREATE INDEX task_labels_label ON task_labels (label, task_id);

CREATE TABLE task_dependencies (
	task_id       TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
	depends_on_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
	PRIMARY KEY (task_id, depends_on_id),
	CHECK (task_id <> depends_on_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX task_dependencies_target ON task_dependencies (depends_on_id, task_id);

CREATE TABLE artifacts (
	task_id    TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	path       TEXT NOT NULL,
	size       INTEGER NOT NULL,
	sha256     TEXT NOT NULL,
	created_at TEXT NOT NULL,
	PRIMARY KEY (task_id, name)
) STRICT, WITHOUT ROWID;

CREATE VIRTUAL TABLE tasks_fts USING fts5(
	title, description,
	content = 'tasks', content_rowid = 'seq',
	tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER tasks_fts_insert AFTER INSERT ON tasks BEGIN
	INSERT INTO tasks_fts (rowid, title, description) VALUES (new.seq, new.title, new.description);
END;
CREATE TRIGGER tasks_fts_delete AFTER DELETE ON tasks BEGIN
	INSERT INTO tasks_fts (tasks_fts, rowid, title, description) VALUES ('delete', old.seq, old.title, old.description);
END;
CREATE TRIGGER tasks_fts_update AFTER UPDATE OF title, description, seq ON tasks BEGIN
	INSERT INTO tasks_fts (tasks_fts, rowid, title, description) VALUES ('delete', old.seq, old.title, old.description);
	INSERT INTO tasks_fts (rowid, title, description) VALUES (new.seq, new.title, new.description);
END;
`,
	// 2: the transactional outbox. Every task change writes an outbox row in
	// its own transaction; the mirror syncer drains it into Chroma and Neo4j.
	// AUTOINCREMENT: a seq is never reused after pruning, so a cursor always
	// means the same point in history.
	`
CREATE TABLE outbox (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	task_id    TEXT NOT NULL,
	kind       TEXT NOT NULL CHECK (kind IN ('create','update','status','dependency','delete')),
	created_at TEXT NOT NULL
) STRICT;

-- One row per mirror: the last outbox seq delivered to it.
CREATE TABLE mirror_cursors (
	mirror     TEXT PRIMARY KEY NOT NULL,
	seq        INTEGER NOT NULL CHECK (seq >= 0),
	updated_at TEXT NOT NULL
) STRICT;

-- The highest seq pruned from the outbox: a cursor below it has missed events
-- and its mirror must be rebuilt from the tasks.
CREATE TABLE outbox_pruned (
	id  INTEGER PRIMARY KEY CHECK (id = 1),
	seq INTEGER NOT NULL
) STRICT;
INSERT INTO outbox_pruned (id, seq) VALUES (1, 0);

-- Which syncer delivers to a mirror: one at a time, so that two server
-- processes on the same project never write a task's states out of order.
CREATE TABLE mirror_leases (
	mirror     TEXT PRIMARY KEY NOT NULL,
	owner      TEXT NOT NULL,
	expires_at TEXT NOT NULL
) STRICT;
`,
	// 3: claim leases and task history. An in-progress task is held by its
	// assignee until lease_expires_at; after that the next claim may take it
	// over. Claims made before leases existed get the default lease (900 s)
	// from their last change, so stale ones become claimable again.
	// task_history keeps every change of a task (bounded per task by the
	// store's HistoryLimit); it outlives the task, so a deleted task's
	// history can still be read.
	`
ALTER TABLE tasks ADD COLUMN lease_seconds INTEGER CHECK (lease_seconds IS NULL OR lease_seconds > 0);
ALTER TABLE tasks ADD COLUMN lease_expires_at TEXT;
-- 1 once the lease's expiry has been written to the history (by the sweeper
-- or by the claim that takes the task over), so it is written once.
ALTER TABLE tasks ADD COLUMN lease_expiry_noted INTEGER NOT NULL DEFAULT 0;
UPDATE tasks SET lease_seconds = 900,
	lease_expires_at = strftime('%Y-%m-%dT%H:%M:%f', updated_at, '+900 seconds') || '000000Z'
	WHERE status = 'in_progress';
CREATE INDEX tasks_lease ON tasks (lease_expires_at) WHERE status = 'in_progress';

CREATE TABLE task_history (
	seq     INTEGER PRIMARY KEY AUTOINCREMENT,
	task_id TEXT NOT NULL,
	at      TEXT NOT NULL,
	actor   TEXT NOT NULL DEFAULT '',
	event   TEXT NOT NULL,
	changes TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(changes)),
	late    INTEGER NOT NULL DEFAULT 0,
	note    TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX task_history_task ON task_history (task_id, seq);
`,
	// 4: completions (completion/complete): a title prefix, ignoring ASCII
	// case, is an index range (LIKE 'x%' uses a NOCASE index), and the
	// distinct roles are read from an index instead of every task.
	`
CREATE INDEX tasks_title_nocase ON tasks (title COLLATE NOCASE);
CREATE INDEX tasks_role ON tasks (role) WHERE role IS NOT NULL;
`,
	// 5: the project's stable id (issue 18). It is created once and kept
	// here; this row decides, and .task_orchestrator/project_id is its copy.
	// root is a label: where the project was last opened from.
	`
CREATE TABLE project (
	one        INTEGER PRIMARY KEY CHECK (one = 1),
	id         TEXT NOT NULL CHECK (length(id) = 20 AND substr(id, 1, 4) = 'prj_' AND substr(id, 5) NOT GLOB '*[^0-9a-f]*'),
	root       TEXT NOT NULL,
	created_at TEXT NOT NULL
) STRICT;
`,
}

// migrate brings the schema up to date. It runs on the writer at Open, so a
// re-open with nothing to do costs one PRAGMA.
func (s *Store) migrate(ctx context.Context) error {
	pc, err := s.writer.Acquire(ctx)
	if err != nil {
		return s.poolError(err, "writer")
	}
	c := pc.Value()
	err = s.migrateConn(ctx, c)
	s.done(pc, err)
	return err
}

func (s *Store) migrateConn(ctx context.Context, c *conn) error {
	var mode string
	if err := c.queryRow(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", s.opts.Path, err)
	}
	if mode != "wal" {
		s.log.Warn("sqlite: WAL is not available on this file system; readers will wait for writers",
			"path", s.opts.Path, "journal_mode", mode)
	}
	for {
		var v int
		if err := c.queryRow(ctx, "PRAGMA user_version").Scan(&v); err != nil {
			return fmt.Errorf("sqlite: read schema version of %s: %w", s.opts.Path, err)
		}
		if v > len(migrations) {
			return &Error{Kind: KindBusy, Msg: fmt.Sprintf("the task database has schema version %d, but this "+
				"server knows only up to %d: a newer version of the server wrote it; upgrade the server", v, len(migrations)),
				Err: fmt.Errorf("%s: user_version %d > %d", s.opts.Path, v, len(migrations))}
		}
		if v == len(migrations) {
			return nil
		}
		// The version is re-read inside the write lock: another process may
		// have migrated the file since.
		err := c.inTx(ctx, "BEGIN IMMEDIATE", func() error {
			var cur int
			if err := c.queryRow(ctx, "PRAGMA user_version").Scan(&cur); err != nil {
				return err
			}
			if cur != v {
				return nil
			}
			if _, err := c.sc.ExecContext(ctx, migrations[v]); err != nil {
				return err
			}
			_, err := c.sc.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1))
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlite: migrate %s to schema version %d: %w", s.opts.Path, v+1, err)
		}
		s.log.Info("sqlite: schema migrated", "path", s.opts.Path, "version", v+1)
	}
}
