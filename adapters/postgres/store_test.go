package postgres_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/postgres"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/clienterr"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

func storeOptions(dbURL, projectID string) postgres.Options {
	return postgres.Options{
		URL:       dbURL,
		ProjectID: projectID,
		Root:      "/srv/" + projectID,
		Settings:  workspace.Defaults().DatabasePools.Operational,
		Logger:    slog.New(slog.DiscardHandler),
	}
}

// openStore opens a store for a new project on a fresh database.
func openStore(t testing.TB) *postgres.Store {
	t.Helper()
	return openProject(t, freshDatabase(t), workspace.NewProjectID())
}

// openProject opens the store of projectID on the database at dbURL, closed at cleanup.
func openProject(t testing.TB, dbURL, projectID string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), storeOptions(dbURL, projectID))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func mustCreate(t testing.TB, s *postgres.Store, nt work.NewTask) work.Task {
	t.Helper()
	task, err := s.Create(context.Background(), nt)
	if err != nil {
		t.Fatalf("Create(%q): %v", nt.Title, err)
	}
	return task
}

func mustGet(t testing.TB, s *postgres.Store, id string) work.TaskDetail {
	t.Helper()
	d, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return d
}

func ptr[T any](v T) *T { return &v }

// wantKind fails unless err is a client error of kind k whose message
// contains every one of parts.
func wantKind(t testing.TB, err error, k clienterr.Kind, parts ...string) {
	t.Helper()
	var ce *clienterr.Error
	if !clienterr.IsKind(err, k) {
		t.Fatalf("error = %v (%T), want kind %s", err, err, k)
	}
	_ = ce
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err.Error(), p)
		}
	}
}

// outboxKinds is the project's outbox as "kind task" lines, in seq order.
func outboxKinds(t testing.TB, dbURL, projectID string) []string {
	t.Helper()
	c := connect(t, dbURL)
	rows, err := c.Query(context.Background(), `SELECT kind || ' ' || task_id FROM outbox WHERE project_id = $1 ORDER BY seq`, projectID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestOpenRecordsTheProjectAndRefusesABadID(t *testing.T) {
	ctx := context.Background()
	dbURL := freshDatabase(t)
	pid := workspace.NewProjectID()
	s := openProject(t, dbURL, pid)
	if s.ProjectID() != pid {
		t.Errorf("ProjectID = %q, want %q", s.ProjectID(), pid)
	}
	// Opened again from elsewhere: same id, the root label follows.
	o := storeOptions(dbURL, pid)
	o.Root = "/mnt/elsewhere"
	s2, err := postgres.Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close(ctx)
	var root string
	if err := connect(t, dbURL).QueryRow(ctx, "SELECT root FROM projects WHERE id = $1", pid).Scan(&root); err != nil || root != "/mnt/elsewhere" {
		t.Errorf("root label = %q, %v; want /mnt/elsewhere", root, err)
	}
	if _, err := postgres.Open(ctx, storeOptions(dbURL, "../etc")); err == nil || !strings.Contains(err.Error(), "not a project id") {
		t.Errorf("Open with a bad project id: %v", err)
	}
	if m := s.PoolMetrics(); len(m) != 1 || m[0].Name != "postgres" || m[0].Backend != workspace.BackendOperational {
		t.Errorf("PoolMetrics = %+v", m)
	}
}

func TestCreateGetRoundTripsEveryField(t *testing.T) {
	ctx := context.Background()
	dbURL := freshDatabase(t)
	pid := workspace.NewProjectID()
	s := openProject(t, dbURL, pid)

	parent := mustCreate(t, s, work.NewTask{Title: "parent"})
	dep := mustCreate(t, s, work.NewTask{Title: "dependency"})
	nt := work.NewTask{
		Title: "  write the parser  ", Description: "tokens, a grammar — and ünïcode", ParentID: parent.ID,
		DependsOn: []string{dep.ID, dep.ID}, Priority: "high", Labels: []string{"b:2", "a.1", "b:2"},
		Role: " backend ", Metadata: json.RawMessage(`{ "k": [1, 2.5, "x"], "nested": {"t": true} }`), Actor: "alice",
	}
	created := mustCreate(t, s, nt)
	if !strings.HasPrefix(created.ID, "tsk_") || len(created.ID) != 20 {
		t.Errorf("id = %q", created.ID)
	}
	check := func(where string, got work.Task) {
		t.Helper()
		if got.Title != "write the parser" || got.Description != nt.Description || got.Status != work.Pending ||
			got.Priority != "high" || got.Version != 1 || got.Role == nil || *got.Role != "backend" ||
			got.ParentID == nil || *got.ParentID != parent.ID || got.Assignee != nil || got.Summary != nil ||
			got.StartedAt != nil || got.CompletedAt != nil || got.LeaseExpiresAt != nil {
			t.Errorf("%s: task = %+v", where, got)
		}
		if !slices.Equal(got.Labels, []string{"a.1", "b:2"}) || !slices.Equal(got.DependsOn, []string{dep.ID}) {
			t.Errorf("%s: labels %v, depends_on %v", where, got.Labels, got.DependsOn)
		}
		var m map[string]any
		if err := json.Unmarshal(got.Metadata, &m); err != nil || len(m) != 2 || strings.Contains(string(got.Metadata), " ") {
			t.Errorf("%s: metadata = %s (%v)", where, got.Metadata, err)
		}
		if got.CreatedAt.IsZero() || !got.CreatedAt.Equal(got.UpdatedAt) || got.CreatedAt.Location() != time.UTC {
			t.Errorf("%s: created %v updated %v", where, got.CreatedAt, got.UpdatedAt)
		}
	}
	check("Create", created)
	d := mustGet(t, s, created.ID)
	check("Get", d.Task)
	if !d.Task.CreatedAt.Equal(created.CreatedAt) || string(d.Task.Metadata) != string(created.Metadata) {
		t.Errorf("Get differs from Create: %v %s vs %v %s", d.Task.CreatedAt, d.Task.Metadata, created.CreatedAt, created.Metadata)
	}
	if len(d.Subtasks) != 0 || len(d.Dependents) != 0 || len(d.Artifacts) != 0 || d.Subtasks == nil || d.Artifacts == nil {
		t.Errorf("detail lists = %v %v %v", d.Subtasks, d.Dependents, d.Artifacts)
	}
	// The parent sees its subtask, the dependency its dependent; artifacts come by name.
	c := connect(t, dbURL)
	for _, name := range []string{"b.txt", "B.txt", "a.txt"} {
		exec(t, c, `INSERT INTO artifacts (project_id, task_id, name, path, size, sha256, content, created_at)
			VALUES ($1, $2, $3, 'artifacts/x/'||$3, 2, repeat('a', 64), 'hi'::bytea, now())`, pid, parent.ID, name)
	}
	pd := mustGet(t, s, parent.ID)
	if len(pd.Subtasks) != 1 || pd.Subtasks[0].ID != created.ID || !slices.Equal(pd.Subtasks[0].Labels, []string{"a.1", "b:2"}) {
		t.Errorf("parent's subtasks = %+v", pd.Subtasks)
	}
	var names []string
	for _, a := range pd.Artifacts {
		names = append(names, a.Name)
		if a.Size != 2 || a.SHA256 != strings.Repeat("a", 64) || a.Path != "artifacts/x/"+a.Name || a.CreatedAt.IsZero() {
			t.Errorf("artifact = %+v", a)
		}
	}
	if !slices.Equal(names, []string{"B.txt", "a.txt", "b.txt"}) {
		t.Errorf("artifacts = %v, want byte order", names)
	}
	if dd := mustGet(t, s, dep.ID); len(dd.Dependents) != 1 || dd.Dependents[0].ID != created.ID {
		t.Errorf("dependents = %+v", dd.Dependents)
	}

	// Update every field; the holder's lease is set; the history and outbox follow.
	up, err := s.Update(ctx, created.ID, 1, work.Patch{
		Title: ptr("renamed"), Description: ptr("new words"), Status: ptr("in_progress"), Priority: ptr("critical"),
		Labels: &[]string{"z"}, Role: ptr(""), ParentID: ptr(""), Metadata: json.RawMessage(`{"v":2}`),
		Summary: ptr(""), Agent: "bob",
	})
	if err != nil {
		t.Fatal(err)
	}
	if up.Version != 2 || up.Title != "renamed" || up.Status != work.InProgress || up.Priority != "critical" ||
		up.Role != nil || up.ParentID != nil || up.Assignee == nil || *up.Assignee != "bob" || up.Summary == nil ||
		*up.Summary != "" || string(up.Metadata) != `{"v":2}` || !slices.Equal(up.Labels, []string{"z"}) ||
		up.StartedAt == nil || up.LeaseExpiresAt == nil || up.LeaseExpiresAt.Sub(*up.StartedAt) != work.DefaultLease {
		t.Errorf("updated = %+v", up)
	}
	if g := mustGet(t, s, created.ID).Task; !g.UpdatedAt.Equal(up.UpdatedAt) || !g.LeaseExpiresAt.Equal(*up.LeaseExpiresAt) {
		t.Errorf("Get after Update = %+v", g)
	}
	// Equal metadata in another spelling is no change: no new version.
	same, err := s.Update(ctx, created.ID, 2, work.Patch{Metadata: json.RawMessage(`{ "v" : 2 }`), Agent: "bob"})
	if err != nil || same.Version != 2 {
		t.Errorf("no-op update = version %d, %v", same.Version, err)
	}
	var events []string
	rows, _ := c.Query(ctx, `SELECT event || ':' || actor FROM task_history WHERE project_id = $1 AND task_id = $2 ORDER BY seq`, pid, created.ID)
	for rows.Next() {
		var e string
		_ = rows.Scan(&e)
		events = append(events, e)
	}
	rows.Close()
	if !slices.Equal(events, []string{"created:alice", "status:bob"}) {
		t.Errorf("history = %v", events)
	}
	want := []string{"create " + parent.ID, "create " + dep.ID, "create " + created.ID, "status " + created.ID}
	if got := outboxKinds(t, dbURL, pid); !slices.Equal(got, want) {
		t.Errorf("outbox = %v, want %v", got, want)
	}
}

func TestErrorKindsAndSentences(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	a := mustCreate(t, s, work.NewTask{Title: "a"})
	missing := "tsk_0000000000000000"

	_, err := s.Get(ctx, missing)
	wantKind(t, err, clienterr.NotFound, "task "+missing+" does not exist; list tasks with task_list")
	_, err = s.Get(ctx, "")
	wantKind(t, err, clienterr.InvalidArgument, "id is required")
	_, err = s.Get(ctx, "tsk_\x00")
	wantKind(t, err, clienterr.NotFound)
	if ok, err := s.Exists(ctx, missing); ok || err != nil {
		t.Errorf("Exists(missing) = %v, %v", ok, err)
	}
	_, err = s.Create(ctx, work.NewTask{Title: " "})
	wantKind(t, err, clienterr.InvalidArgument, "title is required")
	_, err = s.Create(ctx, work.NewTask{Title: "x", Priority: "urgent"})
	wantKind(t, err, clienterr.InvalidArgument, `priority "urgent" is not one of: low, medium, high, critical`)
	_, err = s.Create(ctx, work.NewTask{Title: "x", Metadata: json.RawMessage(`[1]`)})
	wantKind(t, err, clienterr.InvalidArgument, "metadata must be a JSON object")
	_, err = s.Create(ctx, work.NewTask{Title: "x", Metadata: json.RawMessage(`{"a":"\u0000"}`)})
	wantKind(t, err, clienterr.InvalidArgument, "metadata contains the character U+0000")
	_, err = s.Create(ctx, work.NewTask{Title: "x", Description: "a\x00b"})
	wantKind(t, err, clienterr.InvalidArgument, "description contains the character U+0000")
	_, err = s.Create(ctx, work.NewTask{Title: "x", ParentID: missing})
	wantKind(t, err, clienterr.NotFound, missing)
	_, err = s.Create(ctx, work.NewTask{Title: "x", DependsOn: []string{a.ID, missing}})
	wantKind(t, err, clienterr.NotFound, missing)
	if err := s.CheckNewTask(work.NewTask{Title: "ok", Labels: []string{"bad label"}}); !clienterr.IsKind(err, clienterr.InvalidArgument) {
		t.Errorf("CheckNewTask(bad label) = %v", err)
	}

	_, err = s.Update(ctx, a.ID, 7, work.Patch{Title: ptr("t")})
	wantKind(t, err, clienterr.VersionConflict, "task "+a.ID+" is at version 1, not 7")
	_, err = s.Update(ctx, missing, 0, work.Patch{Title: ptr("t")})
	wantKind(t, err, clienterr.NotFound)
	if _, err := s.Update(ctx, a.ID, 1, work.Patch{Status: ptr("completed")}); err != nil {
		t.Fatal(err)
	}
	_, err = s.Update(ctx, a.ID, 2, work.Patch{Status: ptr("pending")})
	wantKind(t, err, clienterr.InvalidTransition, "is completed, a final status")
	_, err = s.Update(ctx, a.ID, 2, work.Patch{ParentID: ptr(a.ID)})
	wantKind(t, err, clienterr.InvalidArgument, "cannot be its own parent")

	// A parent with an open subtask cannot be completed.
	p := mustCreate(t, s, work.NewTask{Title: "p"})
	kid := mustCreate(t, s, work.NewTask{Title: "kid", ParentID: p.ID})
	_, err = s.Update(ctx, p.ID, 0, work.Patch{Status: ptr("completed")})
	wantKind(t, err, clienterr.InvalidTransition, "has 1 open subtask ("+kid.ID+")")
	// A task held under a live lease: only its holder may change it.
	if _, err := s.Update(ctx, kid.ID, 0, work.Patch{Status: ptr("in_progress"), Agent: "ann"}); err != nil {
		t.Fatal(err)
	}
	_, err = s.Update(ctx, kid.ID, 0, work.Patch{Title: ptr("mine now"), Agent: "bob"})
	wantKind(t, err, clienterr.LeaseHeld, "is held by agent ann")

	_, _, err = s.List(ctx, work.Filter{Limit: 201})
	wantKind(t, err, clienterr.InvalidArgument, "limit 201 is out of range")
	_, _, err = s.List(ctx, work.Filter{Cursor: "garbage"})
	wantKind(t, err, clienterr.InvalidArgument, "cursor is not one this server returned")
	_, _, err = s.List(ctx, work.Filter{Text: "-- !!"})
	wantKind(t, err, clienterr.InvalidArgument, "has no words to search for")
	_, _, err = s.List(ctx, work.Filter{Status: []string{"done"}})
	wantKind(t, err, clienterr.InvalidArgument, `status "done" is not one of`)

	_, err = s.AddDependency(ctx, a.ID, a.ID)
	wantKind(t, err, clienterr.InvalidArgument, "cannot depend on itself")
	_, err = s.AddDependency(ctx, a.ID, missing)
	wantKind(t, err, clienterr.NotFound, missing)
	_, err = s.RemoveDependency(ctx, a.ID, p.ID)
	wantKind(t, err, clienterr.NotFound, "does not depend on")
	_, err = s.Delete(ctx, missing, true)
	wantKind(t, err, clienterr.NotFound)
}

// TestClosedStoreAnswersUnavailable: after Close a call gets a sentence, not
// the pool's or pgx's text.
func TestClosedStoreAnswersUnavailable(t *testing.T) {
	ctx := context.Background()
	s, err := postgres.Open(ctx, storeOptions(freshDatabase(t), workspace.NewProjectID()))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = s.Get(ctx, "tsk_0000000000000000")
	wantKind(t, err, clienterr.Unavailable, "was closed")
}

// TestOpenOnAnUnreachableServerNeverShowsThePassword.
func TestOpenOnAnUnreachableServerNeverShowsThePassword(t *testing.T) {
	o := storeOptions("postgres://someone:sekrit-pw-123@127.0.0.1:1/db?sslmode=disable&connect_timeout=2", workspace.NewProjectID())
	o.Settings.PoolTimeout = 3
	_, err := postgres.Open(context.Background(), o)
	if err == nil {
		t.Fatal("Open succeeded")
	}
	wantKind(t, err, clienterr.Unavailable, "connecting to PostgreSQL failed")
	if strings.Contains(err.Error(), "sekrit") || strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("the error shows the URL: %v", err)
	}
}
