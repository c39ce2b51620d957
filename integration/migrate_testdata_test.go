package integration

import (
	"context"
	"database/sql"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The small database the real Python mcp-task-orchestrator 1.8.0 wrote, kept
// in the repository with its artifact files beside it (the Python server keeps
// them in artifacts/ next to its database, where migrate looks for them).
const (
	pySmallDB        = "../testdata/python/small.db"
	pySmallArtifacts = "../testdata/python/artifacts"
)

// writePythonSmallDB drives the real Python server (TASK_ORCHESTRATOR_TEST_PYSERVER)
// to write testdata/python/small.db and its artifacts: two tasks, five
// subtasks with dependencies (one across tasks, one on a task that does not
// exist), one active, one completed with a design artifact, one blocked.
func writePythonSmallDB(t *testing.T) {
	pyCmd := pyServerCommand(t)
	project := newProject(t)
	py := startPyServer(t, pyCmd, project)
	py.call("orchestrator_initialize_session", map[string]any{"working_directory": project})
	py.plan("Ship the CLI\nwith its docs", "a small fixture project", []map[string]any{
		{"task_id": "design_cli", "title": "Design the CLI", "description": "commands and flags", "specialist_type": "architect"},
		{"task_id": "build_cli", "title": "Build the CLI", "description": "the commands", "specialist_type": "implementer", "dependencies": []string{"design_cli"}},
		{"task_id": "test_cli", "title": "Test the CLI", "description": "end to end", "specialist_type": "tester", "dependencies": []string{"build_cli", "design_cli"}},
		{"task_id": "docs_cli", "title": "Document the CLI", "description": "man page", "specialist_type": "documenter", "dependencies": []string{"build_cli", "missing_task"}},
	})
	py.plan("Release the CLI", "", []map[string]any{
		{"task_id": "release_cli", "title": "Release", "description": "tag and publish", "specialist_type": "implementer", "dependencies": []string{"test_cli"}},
	})
	py.call("orchestrator_execute_subtask", map[string]any{"task_id": "build_cli"}) // -> active
	py.call("orchestrator_complete_subtask", map[string]any{"task_id": "design_cli", "summary": "designed the commands",
		"detailed_work": smallDesignWork, "next_action": "continue", "artifact_type": "design"})
	py.close()
	setStatuses(t, pyCmd, project, map[string]string{"release_cli": "blocked"})

	src := filepath.Join(project, ".task_orchestrator")
	db, err := sql.Open("sqlite", "file:"+filepath.Join(src, "task_orchestrator.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := os.MkdirAll(filepath.Dir(pySmallDB), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{pySmallDB, pySmallArtifacts} {
		if err := os.RemoveAll(p); err != nil {
			t.Fatal(err)
		}
	}
	// One self-contained file (no -wal), compacted.
	if _, err := db.Exec("VACUUM INTO ?", pySmallDB); err != nil {
		t.Fatal(err)
	}
	copyTree(t, filepath.Join(src, "artifacts"), pySmallArtifacts)
}

const smallDesignWork = "# CLI design\n\n`tool run`, `tool list`; exit code 2 for bad flags."

// copyTree copies the regular files under from to to.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		if d.Type().IsRegular() {
			copyFile(t, p, filepath.Join(to, rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestMigrateFromTestdataPythonDB migrates a copy of the database the pinned
// Python server wrote (testdata/python/small.db, rewritten from the real
// server with -update-testdata), beside the tests that drive that server:
// every task arrives with its parent, dependencies, status and artifact, a
// second run changes nothing, and the committed files are never touched.
func TestMigrateFromTestdataPythonDB(t *testing.T) {
	if *updateTestdata {
		writePythonSmallDB(t)
	}
	st, err := os.Stat(pySmallDB)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > 200<<10 {
		t.Errorf("%s is %d bytes; keep it under 200 KB", pySmallDB, st.Size())
	}
	committed := treeHashes(t, filepath.Dir(pySmallDB))

	// A copy laid out as the Python server lays out a project.
	pyDir := filepath.Join(t.TempDir(), ".task_orchestrator")
	if err := os.MkdirAll(pyDir, 0o755); err != nil {
		t.Fatal(err)
	}
	pyDB := filepath.Join(pyDir, "task_orchestrator.db")
	copyFile(t, pySmallDB, pyDB)
	copyTree(t, pySmallArtifacts, filepath.Join(pyDir, "artifacts"))
	breakdowns, subtasks := readPyRows(t, pyDB)
	if len(breakdowns) != 2 || len(subtasks) != 5 {
		t.Fatalf("%s holds %d tasks and %d subtasks, want 2 and 5", pySmallDB, len(breakdowns), len(subtasks))
	}

	project := newProject(t)
	code, out, errOut := runMigrate(t, "--workspace", project, "--from", pyDB)
	if code != 0 || !strings.Contains(out, "7 created, 0 unchanged") {
		t.Fatalf("migrate exited %d, want \"7 created, 0 unchanged\":\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "missing_task") {
		t.Errorf("the dropped dependency on missing_task is not reported:\n%s", out)
	}

	srv := start(t, procOpts{dir: project})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	get := func(id string) detail {
		t.Helper()
		var d detail
		srv.ok(ctx, "task_get", map[string]any{"id": id}, &d)
		return d
	}
	want := map[string]struct {
		title, status, role string
		deps                []string
	}{
		"design_cli":  {"Design the CLI", "completed", "architect", nil},
		"build_cli":   {"Build the CLI", "in_progress", "implementer", []string{"design_cli"}},
		"test_cli":    {"Test the CLI", "pending", "tester", []string{"build_cli", "design_cli"}},
		"docs_cli":    {"Document the CLI", "pending", "documenter", []string{"build_cli"}},
		"release_cli": {"Release", "blocked", "implementer", []string{"test_cli"}},
	}
	for id, w := range want {
		g := get(id).Task
		s, ok := subtasks[id]
		if !ok {
			t.Fatalf("%s is not in %s", id, pySmallDB)
		}
		if g.Title != w.title || g.Status != w.status || g.Role == nil || *g.Role != w.role {
			t.Errorf("%s: title/status/role = %q/%s/%v, want %q/%s/%s", id, g.Title, g.Status, g.Role, w.title, w.status, w.role)
		}
		if g.ParentID == nil || *g.ParentID != s.Parent {
			t.Errorf("%s: parent = %v, want %s", id, g.ParentID, s.Parent)
		}
		if !slices.Equal(g.DependsOn, w.deps) && !(len(w.deps) == 0 && len(g.DependsOn) == 0) {
			t.Errorf("%s: depends_on = %v, want %v", id, g.DependsOn, w.deps)
		}
	}
	if g := get("design_cli").Task; g.Summary == nil || *g.Summary == "" || g.CompletedAt == nil {
		t.Errorf("design_cli: summary %v, completed_at %v; want both", g.Summary, g.CompletedAt)
	}
	if u := get("docs_cli").Task.Metadata["python"].(map[string]any)["unresolved_dependencies"]; u == nil {
		t.Error("docs_cli: the unresolvable dependency is not kept in metadata")
	}
	for id, desc := range breakdowns {
		d := get(id)
		if first := strings.SplitN(desc, "\n", 2)[0]; d.Task.Title != first {
			t.Errorf("%s: title = %q, want %q", id, d.Task.Title, first)
		}
	}
	a := get("design_cli").Artifacts
	if len(a) != 1 {
		t.Fatalf("design_cli: artifacts = %+v, want 1", a)
	}
	b, err := os.ReadFile(filepath.Join(project, filepath.FromSlash(a[0].Path)))
	if err != nil || !strings.Contains(string(b), smallDesignWork) {
		t.Errorf("design_cli: the artifact %s does not hold the detailed work (err %v)", a[0].Path, err)
	}
	srv.close()

	dbBefore := dumpDB(t, project)
	code, out, errOut = runMigrate(t, "--workspace", project, "--from", pyDB)
	if code != 0 || !strings.Contains(out, "0 created, 7 unchanged") {
		t.Fatalf("second run exited %d, want \"0 created, 7 unchanged\":\n%s\n%s", code, out, errOut)
	}
	if dumpDB(t, project) != dbBefore {
		t.Error("the second run changed the task database")
	}
	sameTree(t, "the test changed the committed testdata/python", committed, treeHashes(t, filepath.Dir(pySmallDB)))
}
