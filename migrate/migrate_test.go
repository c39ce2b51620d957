package migrate

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// pySchema is the two tables as the Python server 1.8 (SQLAlchemy) creates
// them, copied from a file it wrote. The integration test drives the real
// server; these tests write rows it cannot be made to write (cycles, legacy
// values, unknown statuses) into a real SQLite file with its real schema.
const pySchema = `
CREATE TABLE task_breakdowns (
	parent_task_id VARCHAR NOT NULL, description TEXT NOT NULL, complexity VARCHAR NOT NULL, context TEXT,
	created_at DATETIME NOT NULL, workspace_id VARCHAR, PRIMARY KEY (parent_task_id));
CREATE TABLE subtasks (
	task_id VARCHAR NOT NULL, parent_task_id VARCHAR NOT NULL, title VARCHAR NOT NULL, description TEXT NOT NULL,
	specialist_type VARCHAR NOT NULL, dependencies JSON, estimated_effort VARCHAR NOT NULL, status VARCHAR NOT NULL,
	results TEXT, artifacts JSON, file_operations_count INTEGER, verification_status VARCHAR,
	created_at DATETIME NOT NULL, completed_at DATETIME, prerequisite_satisfaction_required BOOLEAN,
	auto_maintenance_enabled BOOLEAN, quality_gate_level VARCHAR, workspace_id VARCHAR,
	PRIMARY KEY (task_id), FOREIGN KEY(parent_task_id) REFERENCES task_breakdowns (parent_task_id));
`

type pyFixture struct {
	t       *testing.T
	project string
	db      *sql.DB
}

func newPyProject(t *testing.T) *pyFixture {
	t.Helper()
	project := t.TempDir()
	if err := os.Mkdir(filepath.Join(project, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(project, ".task_orchestrator")
	if err := os.MkdirAll(filepath.Join(dir, "artifacts"), 0o755); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, PythonDBName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(pySchema); err != nil {
		t.Fatal(err)
	}
	return &pyFixture{t: t, project: project, db: db}
}

func (f *pyFixture) breakdown(id, desc string) {
	f.t.Helper()
	if _, err := f.db.Exec(`INSERT INTO task_breakdowns VALUES (?, ?, 'moderate', '', '2025-06-01 12:00:00.250000', NULL)`, id, desc); err != nil {
		f.t.Fatal(err)
	}
}

func (f *pyFixture) subtask(id, parent, status, deps, arts string, completed any) {
	f.t.Helper()
	if _, err := f.db.Exec(`INSERT INTO subtasks (task_id, parent_task_id, title, description, specialist_type, dependencies,
		estimated_effort, status, results, artifacts, created_at, completed_at)
		VALUES (?, ?, ?, 'd', 'implementer', ?, '1h', ?, NULL, ?, '2025-06-01 12:00:01.5', ?)`,
		id, parent, "T "+id, deps, status, arts, completed); err != nil {
		f.t.Fatal(err)
	}
}

func run(t *testing.T, o Options) *Report {
	t.Helper()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("Run(%+v): %v", o, err)
	}
	return rep
}

func TestPlanDropsCyclesSelfAndUnknownDependenciesWithAWarning(t *testing.T) {
	f := newPyProject(t)
	f.breakdown("task_p", "P")
	f.subtask("a", "task_p", "pending", `["b"]`, `[]`, nil)
	f.subtask("b", "task_p", "pending", `["a", "b", "ghost"]`, `[]`, nil)
	py, err := readPython(context.Background(), filepath.Join(f.project, ".task_orchestrator", PythonDBName))
	if err != nil {
		t.Fatal(err)
	}
	p, err := buildPlan(py)
	if err != nil {
		t.Fatal(err)
	}
	deps := map[string][]string{}
	meta := map[string]string{}
	for _, tk := range p.Tasks {
		deps[tk.ID] = tk.DependsOn
		meta[tk.ID] = string(tk.Metadata)
	}
	if !slices.Equal(deps["a"], []string{"b"}) || len(deps["b"]) != 0 {
		t.Errorf("deps = %v, want a->b only (b->a closes a cycle, b->b is itself, ghost is unknown)", deps)
	}
	for _, want := range []string{`"unresolved_dependencies":["ghost"]`, `"dropped_cyclic_dependencies":["a"]`} {
		if !strings.Contains(meta["b"], want) {
			t.Errorf("b's metadata %s lacks %s", meta["b"], want)
		}
	}
	if len(p.Warnings) != 3 {
		t.Errorf("warnings = %q, want 3 (cycle, self, unknown)", p.Warnings)
	}
}

func TestPlanRefusesUnknownStatusesAndSharedIds(t *testing.T) {
	for name, c := range map[string]struct {
		setup func(f *pyFixture)
		want  string
	}{
		"unknown status": {func(f *pyFixture) { f.subtask("a", "task_p", "paused", `[]`, `[]`, nil) }, `status "paused"`},
		"shared id":      {func(f *pyFixture) { f.subtask("task_p", "task_p", "pending", `[]`, `[]`, nil) }, "both for a task and for a subtask"},
	} {
		t.Run(name, func(t *testing.T) {
			f := newPyProject(t)
			f.breakdown("task_p", "P")
			c.setup(f)
			t.Setenv("XDG_CONFIG_HOME", t.TempDir())
			_, err := Run(context.Background(), Options{Workspace: f.project})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
			if _, err := os.Stat(filepath.Join(f.project, ".task_orchestrator", "databases")); !os.IsNotExist(err) {
				t.Errorf("a refused migration created the task store (err %v)", err)
			}
		})
	}
}

func TestParentStatusFollowsItsSubtasks(t *testing.T) {
	done := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	later := done.Add(time.Hour)
	st := func(status string, at *time.Time) pySubtask { return pySubtask{Status: status, CompletedAt: at} }
	for _, c := range []struct {
		subs []pySubtask
		want string
		at   *time.Time
	}{
		{nil, "pending", nil},
		{[]pySubtask{st("pending", nil), st("pending", nil)}, "pending", nil},
		{[]pySubtask{st("pending", nil), st("active", nil)}, "in_progress", nil},
		{[]pySubtask{st("pending", nil), st("completed", &done)}, "in_progress", nil},
		{[]pySubtask{st("completed", &done), st("completed", &later)}, "completed", &later},
		{[]pySubtask{st("completed", &done), st("archived", nil)}, "completed", &done},
		{[]pySubtask{st("archived", nil), st("archived", nil)}, "cancelled", nil},
		{[]pySubtask{st("failed", nil), st("completed", &done)}, "in_progress", nil},
	} {
		got, at := parentStatus(c.subs)
		if got != c.want || (at == nil) != (c.at == nil) || (at != nil && !at.Equal(*c.at)) {
			t.Errorf("parentStatus(%v) = %s %v, want %s %v", c.subs, got, at, c.want, c.at)
		}
	}
}

func TestStringListReadsListsLegacyStringsAndRefusesTheRest(t *testing.T) {
	for in, want := range map[string][]string{
		`["a", " b ", ""]`: {"a", "b"},
		`"legacy ref"`:     {"legacy ref"},
		`null`:             nil,
		``:                 nil,
	} {
		got, w := stringList(sql.NullString{String: in, Valid: true})
		if w != "" || !slices.Equal(got, want) {
			t.Errorf("stringList(%q) = %q, %q; want %q", in, got, w, want)
		}
	}
	for _, in := range []string{`{"a":1}`, `[1, 2]`, `not json`} {
		if _, w := stringList(sql.NullString{String: in, Valid: true}); w == "" {
			t.Errorf("stringList(%q) raised no warning", in)
		}
	}
}

func TestParsePyTimeReadsSQLAlchemyAndIsoformat(t *testing.T) {
	want := time.Date(2025, 6, 1, 12, 0, 1, 500000000, time.UTC)
	for _, in := range []string{"2025-06-01 12:00:01.500000", "2025-06-01T12:00:01.5", "2025-06-01T12:00:01.5Z", "2025-06-01T14:00:01.5+02:00"} {
		got, err := parsePyTime(in, time.UTC)
		if err != nil || !got.Equal(want) {
			t.Errorf("parsePyTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := parsePyTime("yesterday", time.UTC); err == nil {
		t.Error("parsePyTime accepted garbage")
	}
}

// A task changed in our store after the import, and an artifact file of ours
// with other content under the same name, are both left as they are.
func TestRunLeavesChangedTasksAndForeignArtifactFilesAlone(t *testing.T) {
	f := newPyProject(t)
	f.breakdown("task_p", "P")
	f.subtask("a", "task_p", "completed", `[]`, `[".task_orchestrator/artifacts/a/artifact_1.md"]`, "2025-06-01 13:00:00")
	f.subtask("b", "task_p", "pending", `["a"]`, `[]`, nil)
	dir := filepath.Join(f.project, ".task_orchestrator", "artifacts")
	for task, content := range map[string]string{"a": "work of a"} {
		if err := os.MkdirAll(filepath.Join(dir, task, "mirrored"), 0o755); err != nil {
			t.Fatal(err)
		}
		// A mirrored artifact: the file lives under mirrored/, its metadata says so.
		if err := os.WriteFile(filepath.Join(dir, task, "mirrored", "x.go_artifact_1.md"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		meta, _ := json.Marshal(map[string]string{"artifact_id": "artifact_1", "task_id": task,
			"relative_path": task + "/mirrored/x.go_artifact_1.md", "created_at": "2025-06-01T13:00:00"})
		if err := os.WriteFile(filepath.Join(dir, task, "artifact_1_metadata.json"), meta, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rep := run(t, Options{Workspace: f.project})
	if rep.Created != 3 || rep.ArtifactsCopied != 1 {
		t.Fatalf("first run: %+v", rep)
	}
	copied := filepath.Join(dir, "a", "x.go_artifact_1.md")
	if b, err := os.ReadFile(copied); err != nil || string(b) != "work of a" {
		t.Fatalf("copied artifact = %q, %v", b, err)
	}

	// Someone works on b in our server.
	store := openStore(t, f.project)
	if _, _, err := store.Complete(context.Background(), "b", sqlite.Completion{Summary: "done here"}); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	rep = run(t, Options{Workspace: f.project})
	if rep.Created != 0 || rep.Unchanged != 2 || rep.Differ != 1 {
		t.Fatalf("second run: created %d unchanged %d differ %d, want 0 2 1", rep.Created, rep.Unchanged, rep.Differ)
	}
	var out bytes.Buffer
	printReport(&out, rep)
	if !strings.Contains(out.String(), "left as it is: status is completed here but pending in the import") {
		t.Errorf("the report does not say why b was left alone:\n%s", out.String())
	}

	// A different file of ours where the Python artifact would go: a new project copy sees the conflict.
	g := newPyProject(t)
	g.breakdown("task_p", "P")
	g.subtask("a", "task_p", "completed", `[]`, `[]`, "2025-06-01 13:00:00")
	gdir := filepath.Join(g.project, ".task_orchestrator", "artifacts", "a")
	if err := os.MkdirAll(filepath.Join(gdir, "mirrored"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(gdir, "mirrored", "x.go_artifact_1.md"), []byte("python's"), 0o644); err != nil {
		t.Fatal(err)
	}
	meta, _ := json.Marshal(map[string]string{"artifact_id": "artifact_1", "relative_path": "a/mirrored/x.go_artifact_1.md"})
	if err := os.WriteFile(filepath.Join(gdir, "artifact_1_metadata.json"), meta, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(gdir, "x.go_artifact_1.md"), []byte("ours"), 0o600); err != nil {
		t.Fatal(err)
	}
	rep = run(t, Options{Workspace: g.project})
	if b, _ := os.ReadFile(filepath.Join(gdir, "x.go_artifact_1.md")); string(b) != "ours" {
		t.Errorf("our file was overwritten: %q", b)
	}
	if rep.ArtifactsCopied != 0 || !slices.ContainsFunc(rep.Warnings, func(w string) bool { return strings.Contains(w, "already exists with other content") }) {
		t.Errorf("the conflict is not reported: %+v", rep)
	}
}

func openStore(t *testing.T, project string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Options{
		Path:      filepath.Join(project, ".task_orchestrator", "databases", "tasks.db"),
		Workspace: project,
		Settings:  workspace.Defaults().DatabasePools.Operational,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A WAL database the Python server closed cleanly has no -wal or -shm file;
// reading it must not leave them behind in the Python folder.
func TestReadingACleanlyClosedWALDatabaseLeavesNoFiles(t *testing.T) {
	f := newPyProject(t)
	if _, err := f.db.Exec(`PRAGMA journal_mode=WAL`); err != nil {
		t.Fatal(err)
	}
	f.breakdown("task_p", "P")
	f.subtask("a", "task_p", "active", `[]`, `[]`, nil)
	if err := f.db.Close(); err != nil {
		t.Fatal(err)
	}
	py := filepath.Join(f.project, ".task_orchestrator", PythonDBName)
	for _, suffix := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(py + suffix); !os.IsNotExist(err) {
			t.Fatalf("the fixture left %s behind (err %v); the test's premise is wrong", py+suffix, err)
		}
	}
	rep := run(t, Options{Workspace: f.project, DryRun: true})
	if rep.Created != 2 {
		t.Fatalf("dry run: %+v", rep)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(py + suffix); !os.IsNotExist(err) {
			t.Errorf("reading the Python database created %s", py+suffix)
		}
	}
}
