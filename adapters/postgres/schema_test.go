package postgres_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/postgres"
)

// Every table of adapters/sqlite's schema, plus projects and schema_migrations.
var wantTables = []string{"artifacts", "mirror_cursors", "mirror_leases", "outbox", "outbox_pruned", "projects",
	"schema_migrations", "task_dependencies", "task_history", "task_labels", "tasks"}

func TestMigrateTwiceAppliesNothingTheSecondTime(t *testing.T) {
	ctx := context.Background()
	c := connect(t, freshDatabase(t))

	if v, err := postgres.SchemaVersion(ctx, c); err != nil || v != 0 {
		t.Fatalf("SchemaVersion of an empty database = %d, %v; want 0", v, err)
	}
	applied, err := postgres.Migrate(ctx, c)
	if err != nil || applied != postgres.Latest() {
		t.Fatalf("first Migrate = %d, %v; want %d applied", applied, err, postgres.Latest())
	}
	if v, err := postgres.SchemaVersion(ctx, c); err != nil || v != postgres.Latest() {
		t.Fatalf("SchemaVersion after Migrate = %d, %v; want %d", v, err, postgres.Latest())
	}
	applied, err = postgres.Migrate(ctx, c)
	if err != nil || applied != 0 {
		t.Fatalf("second Migrate = %d, %v; want 0 applied", applied, err)
	}

	rows, _ := c.Query(ctx, `SELECT table_name::text FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1`)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tables, wantTables) {
		t.Errorf("tables = %v, want %v", tables, wantTables)
	}
}

// TestEveryKeyAndIndexLeadsWithTheProject: the project key is the first
// column of every primary key, foreign key and index of the project's tables.
func TestEveryKeyAndIndexLeadsWithTheProject(t *testing.T) {
	ctx := context.Background()
	c := migrated(t)
	rows, _ := c.Query(ctx, `SELECT i.indexrelid::regclass::text, a.attname::text
		FROM pg_index i
		JOIN pg_class t ON t.oid = i.indrelid
		JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = current_schema()
		LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
		WHERE t.relname NOT IN ('projects', 'schema_migrations')`)
	type idx struct{ Name, First string }
	idxs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (idx, error) {
		var x idx
		var first *string
		err := r.Scan(&x.Name, &first)
		if first != nil {
			x.First = *first
		}
		return x, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(idxs) < 15 {
		t.Fatalf("only %d indexes found: %v", len(idxs), idxs)
	}
	for _, x := range idxs {
		if x.First != "project_id" {
			t.Errorf("index %s leads with %q, not project_id", x.Name, x.First)
		}
	}
	rows, _ = c.Query(ctx, `SELECT conname::text, (SELECT attname::text FROM pg_attribute
			WHERE attrelid = conrelid AND attnum = conkey[1])
		FROM pg_constraint WHERE contype = 'f' AND connamespace = current_schema()::regnamespace
			AND confrelid <> 'projects'::regclass`)
	fks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (idx, error) {
		var x idx
		return x, r.Scan(&x.Name, &x.First)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(fks) != 5 {
		t.Errorf("foreign keys between tasks' tables = %v, want 5 (parent, labels, dependencies both ways, artifacts)", fks)
	}
	for _, x := range fks {
		if x.First != "project_id" {
			t.Errorf("foreign key %s leads with %q, not project_id", x.Name, x.First)
		}
	}
}

// TestReplicasMigratingAtOnce: eight servers starting at once on an empty
// database all succeed, and each migration is applied and recorded once.
func TestReplicasMigratingAtOnce(t *testing.T) {
	ctx := context.Background()
	dbURL := freshDatabase(t)
	const n = 8
	conns := make([]*pgx.Conn, n)
	for i := range conns {
		conns[i] = connect(t, dbURL)
	}
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		applied = make([]int, n)
		errs    = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			applied[i], errs[i] = postgres.Migrate(ctx, conns[i])
		})
	}
	close(start)
	wg.Wait()
	total := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("replica %d: Migrate: %v", i, errs[i])
		}
		total += applied[i]
	}
	if total != postgres.Latest() {
		t.Errorf("the replicas applied %d migrations in all (%v), want %d", total, applied, postgres.Latest())
	}
	if v, err := postgres.SchemaVersion(ctx, conns[0]); err != nil || v != postgres.Latest() {
		t.Errorf("SchemaVersion = %d, %v; want %d", v, err, postgres.Latest())
	}
	rows, _ := conns[0].Query(ctx, "SELECT version FROM schema_migrations ORDER BY version")
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		t.Fatal(err)
	}
	want := make([]int32, postgres.Latest())
	for i := range want {
		want[i] = int32(i + 1)
	}
	if !slices.Equal(versions, want) {
		t.Errorf("schema_migrations holds versions %v, want each of %v once", versions, want)
	}
}

func TestANewerSchemaIsRefused(t *testing.T) {
	ctx := context.Background()
	c := migrated(t)
	exec(t, c, "INSERT INTO schema_migrations (version, name) VALUES ($1, 'from the future')", postgres.Latest()+1)
	_, err := postgres.Migrate(ctx, c)
	if err == nil || !strings.Contains(err.Error(), "newer version of the server") || !strings.Contains(err.Error(), "upgrade") {
		t.Fatalf("Migrate over a newer schema: %v; want a refusal that says to upgrade", err)
	}
}

// seed makes projects a and b, each with a task t1 (the same id: the key is
// the pair) and a with t2.
func seed(t testing.TB, c *pgx.Conn) {
	t.Helper()
	now := time.Now()
	exec(t, c, "INSERT INTO projects (id, root) VALUES ('a', '/srv/a'), ('b', '/srv/b')")
	for _, p := range []string{"a", "b"} {
		exec(t, c, `INSERT INTO tasks (project_id, id, title, description, created_at, updated_at)
			VALUES ($1, 't1', 'write the parser', 'tokens and a grammar', $2, $2)`, p, now)
	}
	exec(t, c, `INSERT INTO tasks (project_id, id, title, created_at, updated_at) VALUES ('a', 't2', 'test the parser', $1, $1)`, now)
}

func TestChecksRefuseBadRows(t *testing.T) {
	ctx := context.Background()
	c := migrated(t)
	seed(t, c)
	now := time.Now()
	cases := []struct {
		name, sql, constraint string
		args                  []any
	}{
		{"status", `INSERT INTO tasks (project_id, id, title, status, created_at, updated_at) VALUES ('a', 'x', 'x', 'done', $1, $1)`,
			"tasks_status_check", []any{now}},
		{"priority", `UPDATE tasks SET priority = 'urgent' WHERE project_id = 'a' AND id = 't1'`, "tasks_priority_check", nil},
		{"empty title", `UPDATE tasks SET title = '' WHERE project_id = 'a' AND id = 't1'`, "tasks_title_check", nil},
		{"metadata not an object", `UPDATE tasks SET metadata = '[1]' WHERE project_id = 'a' AND id = 't1'`, "tasks_metadata_check", nil},
		{"lease", `UPDATE tasks SET lease_seconds = 0 WHERE project_id = 'a' AND id = 't1'`, "tasks_lease_seconds_check", nil},
		{"self dependency", `INSERT INTO task_dependencies (project_id, task_id, depends_on_id) VALUES ('a', 't1', 't1')`,
			"task_dependencies_check", nil},
		{"outbox kind", `INSERT INTO outbox (project_id, task_id, kind, created_at) VALUES ('a', 't1', 'rename', $1)`,
			"outbox_kind_check", []any{now}},
		{"artifact size", `INSERT INTO artifacts (project_id, task_id, name, size, sha256, content, created_at)
			VALUES ('a', 't1', 'n.txt', 5, repeat('0', 64), '\x00'::bytea, $1)`, "artifacts_check", []any{now}},
		{"artifact too big", `INSERT INTO artifacts (project_id, task_id, name, size, sha256, content, created_at)
			VALUES ('a', 't1', 'big.bin', $2::bigint, repeat('0', 64), decode(repeat('00', $2::int), 'hex'), $1)`,
			"artifacts_content_check", []any{now, postgres.MaxArtifactContentBytes + 1}},
	}
	for _, tc := range cases {
		_, err := c.Exec(ctx, tc.sql, tc.args...)
		t.Run(tc.name, func(t *testing.T) { wantPgError(t, err, "23514", tc.constraint) })
	}
	var rank int
	if err := c.QueryRow(ctx, "SELECT priority_rank FROM tasks WHERE project_id = 'a' AND id = 't1'").Scan(&rank); err != nil || rank != 2 {
		t.Errorf("priority_rank of a medium task = %d, %v; want 2", rank, err)
	}
}

// TestProjectsCannotReachEachOther: a project's rows cannot reference another
// project's task, even one with the same id as one of its own.
func TestProjectsCannotReachEachOther(t *testing.T) {
	ctx := context.Background()
	c := migrated(t)
	seed(t, c)
	cases := []struct{ name, sql, constraint string }{
		{"dependency on another project's task", `INSERT INTO task_dependencies (project_id, task_id, depends_on_id)
			VALUES ('b', 't1', 't2')`, "task_dependencies_target_same_project"},
		{"dependency from another project's task", `INSERT INTO task_dependencies (project_id, task_id, depends_on_id)
			VALUES ('b', 't2', 't1')`, "task_dependencies_task_same_project"},
		{"parent in another project", `UPDATE tasks SET parent_id = 't2' WHERE project_id = 'b' AND id = 't1'`,
			"tasks_parent_same_project"},
		{"label on another project's task", `INSERT INTO task_labels (project_id, task_id, label) VALUES ('b', 't2', 'x')`,
			"task_labels_task_same_project"},
		{"artifact on another project's task", `INSERT INTO artifacts (project_id, task_id, name, size, sha256, content, created_at)
			VALUES ('b', 't2', 'n', 0, repeat('0', 64), ''::bytea, now())`, "artifacts_task_same_project"},
		{"task of no project", `INSERT INTO tasks (project_id, id, title, created_at, updated_at)
			VALUES ('c', 't9', 'x', now(), now())`, "tasks_project_id_fkey"},
	}
	for _, tc := range cases {
		_, err := c.Exec(ctx, tc.sql)
		t.Run(tc.name, func(t *testing.T) { wantPgError(t, err, "23503", tc.constraint) })
	}
	// The same statements inside one project succeed.
	exec(t, c, "INSERT INTO task_dependencies (project_id, task_id, depends_on_id) VALUES ('a', 't2', 't1')")
	exec(t, c, "UPDATE tasks SET parent_id = 't1' WHERE project_id = 'a' AND id = 't2'")
	// Deleting b's t1 leaves a's t1 and its dependents alone.
	exec(t, c, "DELETE FROM tasks WHERE project_id = 'b' AND id = 't1'")
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM task_dependencies WHERE project_id = 'a'").Scan(&n); err != nil || n != 1 {
		t.Errorf("a's dependencies after deleting b's t1: %d, %v; want 1", n, err)
	}
}

func TestFullTextSearchFindsOnlyItsProject(t *testing.T) {
	ctx := context.Background()
	c := migrated(t)
	seed(t, c)
	search := func(project, words string) []string {
		rows, _ := c.Query(ctx, `SELECT id FROM tasks WHERE project_id = $1 AND search @@ plainto_tsquery('simple', $2)
			ORDER BY ts_rank(search, plainto_tsquery('simple', $2)) DESC, id`, project, words)
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	if got := search("a", "parser"); !slices.Equal(got, []string{"t1", "t2"}) {
		t.Errorf("a: parser = %v, want [t1 t2]", got)
	}
	if got := search("b", "parser"); !slices.Equal(got, []string{"t1"}) {
		t.Errorf("b: parser = %v, want [t1]", got)
	}
	if got := search("b", "GRAMMAR"); !slices.Equal(got, []string{"t1"}) {
		t.Errorf("b: GRAMMAR (description, any case) = %v, want [t1]", got)
	}
	exec(t, c, "UPDATE tasks SET title = 'renamed' WHERE project_id = 'b' AND id = 't1'")
	if got := search("b", "write"); len(got) != 0 {
		t.Errorf("b: write after the rename = %v, want none (the vector follows the title)", got)
	}
}

func TestOutboxAndHistorySequencesGrow(t *testing.T) {
	ctx := context.Background()
	c := migrated(t)
	seed(t, c)
	var s1, s2 int64
	if err := c.QueryRow(ctx, `INSERT INTO outbox (project_id, task_id, kind, created_at) VALUES ('a', 't1', 'create', now())
		RETURNING seq`).Scan(&s1); err != nil {
		t.Fatal(err)
	}
	if err := c.QueryRow(ctx, `INSERT INTO outbox (project_id, task_id, kind, created_at) VALUES ('b', 't1', 'create', now())
		RETURNING seq`).Scan(&s2); err != nil {
		t.Fatal(err)
	}
	if s1 < 1 || s2 <= s1 {
		t.Errorf("outbox seqs %d then %d: want growing from 1", s1, s2)
	}
	_, err := c.Exec(ctx, "INSERT INTO outbox (project_id, seq, task_id, kind, created_at) VALUES ('a', 1, 't1', 'create', now())")
	wantPgError(t, err, "428C9", "") // GENERATED ALWAYS: a seq cannot be chosen
	exec(t, c, `INSERT INTO task_history (project_id, task_id, at, event, changes) VALUES ('a', 't1', now(), 'created', '{"title":"x"}')`)
}
