package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

// pyServerCommand is the launcher of the real Python mcp-task-orchestrator
// (integration/pyserver.sh install), which test-all.sh exports.
func pyServerCommand(t *testing.T) string {
	t.Helper()
	v := os.Getenv("TASK_ORCHESTRATOR_TEST_PYSERVER")
	if v == "" {
		t.Fatal("TASK_ORCHESTRATOR_TEST_PYSERVER is not set: run the tests with `bash integration/test-all.sh`, " +
			"which installs the Python server (or export it from `bash integration/pyserver.sh install`)")
	}
	if _, err := os.Stat(v); err != nil {
		t.Fatalf("TASK_ORCHESTRATOR_TEST_PYSERVER=%s: %v; run `bash integration/pyserver.sh install`", v, err)
	}
	return v
}

// pyServer is the Python server driven over stdio through its MCP tools.
type pyServer struct {
	t      *testing.T
	c      *client.Client
	stderr *lockedBuffer
}

func startPyServer(t *testing.T, command, project string) *pyServer {
	t.Helper()
	p := &pyServer{t: t, stderr: &lockedBuffer{}}
	// Everything the Python server writes goes into the project (or a scratch HOME), never the repository.
	env := append(os.Environ(), "MCP_TASK_ORCHESTRATOR_BASE_DIR="+project, "MCP_TASK_ORCHESTRATOR_PROJECT_DIR="+project,
		"HOME="+t.TempDir())
	tr := transport.NewStdioWithOptions(command, env, nil, transport.WithCommandFunc(
		func(ctx context.Context, command string, env []string, args []string) (*exec.Cmd, error) {
			cmd := exec.Command(command, args...)
			cmd.Env, cmd.Dir, cmd.Stderr = env, project, p.stderr
			return cmd, nil
		}))
	p.c = client.NewClient(tr)
	if err := p.c.Start(context.Background()); err != nil {
		t.Fatalf("starting the Python server: %v", err)
	}
	t.Cleanup(p.close)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = "2025-03-26"
	init.Params.ClientInfo = mcp.Implementation{Name: "migrate-test", Version: "1"}
	if _, err := p.c.Initialize(ctx, init); err != nil {
		t.Fatalf("initialize the Python server: %v\nstderr:\n%s", err, tail(p.stderr.String(), 4000))
	}
	return p
}

func (p *pyServer) close() {
	if p.c != nil {
		_ = p.c.Close()
		p.c = nil
	}
}

// call runs one of its tools; the Python server reports failures as JSON
// text with an "error" key, which fails the test.
func (p *pyServer) call(name string, args map[string]any) map[string]any {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req := mcp.CallToolRequest{}
	req.Params.Name, req.Params.Arguments = name, args
	res, err := p.c.CallTool(ctx, req)
	if err != nil {
		p.t.Fatalf("Python %s: %v\nstderr:\n%s", name, err, tail(p.stderr.String(), 4000))
	}
	out := text(res)
	if res.IsError {
		p.t.Fatalf("Python %s failed: %s", name, out)
	}
	var m map[string]any
	if json.Unmarshal([]byte(out), &m) != nil {
		return map[string]any{"text": out} // execute_subtask answers with a prompt, not JSON
	}
	if e, ok := m["error"]; ok {
		p.t.Fatalf("Python %s(%v) failed: %v", name, args, e)
	}
	return m
}

func (p *pyServer) plan(description, context string, subtasks []map[string]any) (parent string, ids []string) {
	p.t.Helper()
	js, _ := json.Marshal(subtasks)
	m := p.call("orchestrator_plan_task", map[string]any{"description": description, "subtasks_json": string(js),
		"complexity_level": "complex", "context": context})
	parent, _ = m["parent_task_id"].(string)
	subs, _ := m["subtasks"].([]any)
	for _, s := range subs {
		ids = append(ids, s.(map[string]any)["task_id"].(string))
	}
	if parent == "" || len(ids) != len(subtasks) {
		p.t.Fatalf("plan_task answered %v", m)
	}
	return parent, ids
}

// setStatuses puts subtasks into the statuses no Python tool sets (blocked,
// failed, archived) through the Python package's own persistence layer.
func setStatuses(t *testing.T, pyCommand, project string, statuses map[string]string) {
	t.Helper()
	python := filepath.Join(filepath.Dir(pyCommand), "python")
	js, _ := json.Marshal(statuses)
	script := `
import json, sys
from mcp_task_orchestrator.db.persistence import DatabasePersistenceManager
from mcp_task_orchestrator.orchestrator.models import TaskStatus
pm = DatabasePersistenceManager(base_dir=sys.argv[1])
for task_id, status in json.loads(sys.argv[2]).items():
    parent = pm.get_parent_task_id(task_id)
    st = next(s for s in pm.load_task_breakdown(parent).subtasks if s.task_id == task_id)
    st.status = TaskStatus(status)
    pm.update_subtask(st, parent)
`
	cmd := exec.Command(python, "-c", script, project, string(js))
	cmd.Dir = project
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("setting statuses through the Python persistence layer: %v\n%s", err, out)
	}
}

// runMigrate runs `mcp-task-orchestrator migrate args...` and returns its exit code and output.
func runMigrate(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(binPath, append([]string{"migrate"}, args...)...)
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir(), "TASK_ORCHESTRATOR_WORKSPACE=")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running migrate: %v", err)
	}
	return code, o.String(), e.String()
}

// treeHashes maps every regular file under dir to its SHA-256; SQLite's
// -wal and -shm files, which come and go with connections, are left out.
func treeHashes(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == dir {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() || strings.HasSuffix(p, "-wal") || strings.HasSuffix(p, "-shm") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameTree(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	var diffs []string
	for k, v := range after {
		if before[k] != v {
			diffs = append(diffs, "changed or new: "+k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			diffs = append(diffs, "removed: "+k)
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Errorf("%s:\n%s", what, strings.Join(diffs, "\n"))
	}
}

// pyRow is a subtask as the Python server stored it, read straight from its file.
type pyRow struct {
	ID, Parent, Title, Description, Specialist, Status string
	Deps                                               []string
	Results                                            sql.NullString
	Completed                                          sql.NullString
}

func readPyRows(t *testing.T, dbPath string) (breakdowns map[string]string, subtasks map[string]pyRow) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	breakdowns, subtasks = map[string]string{}, map[string]pyRow{}
	rows, err := db.Query(`SELECT parent_task_id, description FROM task_breakdowns`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, d string
		if err := rows.Scan(&id, &d); err != nil {
			t.Fatal(err)
		}
		breakdowns[id] = d
	}
	rows.Close()
	rows, err = db.Query(`SELECT task_id, parent_task_id, title, description, specialist_type, status,
		CAST(dependencies AS TEXT), results, CAST(completed_at AS TEXT) FROM subtasks`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var r pyRow
		var deps string
		if err := rows.Scan(&r.ID, &r.Parent, &r.Title, &r.Description, &r.Specialist, &r.Status, &deps, &r.Results, &r.Completed); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(deps), &r.Deps); err != nil {
			t.Fatalf("dependencies of %s: %q: %v", r.ID, deps, err)
		}
		subtasks[r.ID] = r
	}
	return breakdowns, subtasks
}

// detail is task_get's answer, the fields this test checks.
type detail struct {
	Task struct {
		ID          string         `json:"id"`
		Title       string         `json:"title"`
		Description string         `json:"description"`
		Status      string         `json:"status"`
		Role        *string        `json:"role"`
		ParentID    *string        `json:"parent_id"`
		DependsOn   []string       `json:"depends_on"`
		Summary     *string        `json:"summary"`
		CompletedAt *string        `json:"completed_at"`
		Metadata    map[string]any `json:"metadata"`
		Labels      []string       `json:"labels"`
	} `json:"task"`
	Subtasks  []task `json:"subtasks"`
	Artifacts []struct {
		Name   string `json:"name"`
		Path   string `json:"path"`
		Size   int64  `json:"size"`
		SHA256 string `json:"sha256"`
	} `json:"artifacts"`
}

// TestMigrateFromThePythonServer drives the real Python mcp-task-orchestrator
// through its MCP tools to fill a project, then migrates it: every task
// arrives with its fields, a second run changes nothing, a dry run writes
// nothing, and the Python files are never touched.
func TestMigrateFromThePythonServer(t *testing.T) {
	pyCmd := pyServerCommand(t)
	project := newProject(t)

	py := startPyServer(t, pyCmd, project)
	py.call("orchestrator_initialize_session", map[string]any{"working_directory": project})
	apiParent, _ := py.plan("Build the API\nwith auth and tests", "Go 1.26, no cgo", []map[string]any{
		{"task_id": "design_api", "title": "Design the API", "description": "endpoints and errors", "specialist_type": "architect", "estimated_effort": "2h"},
		{"task_id": "impl_api", "title": "Implement the API", "description": "handlers", "specialist_type": "implementer", "dependencies": []string{"design_api"}},
		{"title": "Test the API", "description": "integration tests", "specialist_type": "tester", "dependencies": []string{"impl_api", "design_api"}},
		{"task_id": "docs_api", "title": "Document the API", "description": "reference", "specialist_type": "documenter", "dependencies": []string{"no_such_task"}},
	})
	reviewParent, _ := py.plan("Review the release", "", []map[string]any{
		{"task_id": "review_rel", "title": "Review", "description": "read the diff", "specialist_type": "reviewer", "dependencies": []string{"impl_api"}},
	})
	opsParent, _ := py.plan("Operate it", "", []map[string]any{
		{"task_id": "ops_blocked", "title": "Deploy", "description": "to staging", "specialist_type": "implementer"},
		{"task_id": "ops_failed", "title": "Load test", "description": "10k rps", "specialist_type": "tester"},
		{"task_id": "ops_archived", "title": "Old idea", "description": "abandoned", "specialist_type": "researcher"},
	})
	py.call("orchestrator_execute_subtask", map[string]any{"task_id": "impl_api"}) // -> active
	const designWork = "# Design\n\nGET /tasks, POST /tasks; errors are RFC 9457 problems."
	py.call("orchestrator_complete_subtask", map[string]any{"task_id": "design_api", "summary": "designed the endpoints",
		"detailed_work": designWork, "next_action": "continue", "artifact_type": "design"})
	const reviewWork = "func review() {} // looks fine"
	py.call("orchestrator_complete_subtask", map[string]any{"task_id": "review_rel", "summary": "approved",
		"detailed_work": reviewWork, "file_paths": []string{"src/review.go"}, "next_action": "complete", "artifact_type": "code"})
	py.close()
	setStatuses(t, pyCmd, project, map[string]string{"ops_blocked": "blocked", "ops_failed": "failed", "ops_archived": "archived"})

	pyDB := filepath.Join(project, ".task_orchestrator", "task_orchestrator.db")
	breakdowns, subtasks := readPyRows(t, pyDB)
	if len(breakdowns) != 3 || len(subtasks) != 8 {
		t.Fatalf("the Python server stored %d tasks and %d subtasks, want 3 and 8", len(breakdowns), len(subtasks))
	}
	pyStatuses := map[string]bool{}
	for _, s := range subtasks {
		pyStatuses[s.Status] = true
	}
	for _, s := range []string{"pending", "active", "completed", "blocked", "failed", "archived"} {
		if !pyStatuses[s] {
			t.Fatalf("no Python subtask is %s; the scenario is wrong: %v", s, pyStatuses)
		}
	}
	pyFiles := treeHashes(t, filepath.Join(project, ".task_orchestrator"))

	// Dry run: says what it would do and writes nothing at all.
	code, out, errOut := runMigrate(t, "--workspace", project, "--dry-run")
	if code != 0 {
		t.Fatalf("dry run exited %d:\n%s\n%s", code, out, errOut)
	}
	if want := "Dry run: 11 to create, 0 unchanged"; !strings.Contains(out, want) {
		t.Errorf("dry run output lacks %q:\n%s", want, out)
	}
	sameTree(t, "the dry run wrote to the project", pyFiles, treeHashes(t, filepath.Join(project, ".task_orchestrator")))
	if _, err := os.Stat(tasksDB(project)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the dry run created %s (err %v)", tasksDB(project), err)
	}

	// The import.
	code, out, errOut = runMigrate(t, "--workspace", project)
	if code != 0 {
		t.Fatalf("migrate exited %d:\n%s\n%s", code, out, errOut)
	}
	if want := "11 created, 0 unchanged"; !strings.Contains(out, want) {
		t.Fatalf("migrate output lacks %q:\n%s\nstderr:\n%s", want, out, errOut)
	}
	if !strings.Contains(out, "no_such_task") {
		t.Errorf("the dropped dependency on no_such_task is not reported:\n%s", out)
	}
	after := treeHashes(t, filepath.Join(project, ".task_orchestrator"))
	for f, h := range pyFiles {
		if after[f] != h {
			t.Errorf("migrate changed the Python file %s", f)
		}
	}

	// Every task, read back through our own server's tools.
	srv := start(t, procOpts{dir: project})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	get := func(id string) detail {
		t.Helper()
		var d detail
		srv.ok(ctx, "task_get", map[string]any{"id": id}, &d)
		return d
	}
	wantStatus := map[string]string{"pending": "pending", "active": "in_progress", "completed": "completed",
		"blocked": "blocked", "failed": "failed", "archived": "cancelled"}
	for id, s := range subtasks {
		d := get(id)
		g := d.Task
		if g.Title != s.Title || g.Description != s.Description || g.Status != wantStatus[s.Status] {
			t.Errorf("%s: title/description/status = %q/%q/%s, want %q/%q/%s", id, g.Title, g.Description, g.Status, s.Title, s.Description, wantStatus[s.Status])
		}
		if g.Role == nil || *g.Role != s.Specialist {
			t.Errorf("%s: role = %v, want %s", id, g.Role, s.Specialist)
		}
		if g.ParentID == nil || *g.ParentID != s.Parent {
			t.Errorf("%s: parent = %v, want %s", id, g.ParentID, s.Parent)
		}
		var deps []string
		for _, dep := range s.Deps {
			if _, ok := subtasks[dep]; ok {
				deps = append(deps, dep)
			}
		}
		slices.Sort(deps)
		if !slices.Equal(g.DependsOn, deps) && !(len(deps) == 0 && len(g.DependsOn) == 0) {
			t.Errorf("%s: depends_on = %v, want %v", id, g.DependsOn, deps)
		}
		if s.Results.Valid != (g.Summary != nil) || (g.Summary != nil && *g.Summary != s.Results.String) {
			t.Errorf("%s: summary = %v, want %v", id, g.Summary, s.Results)
		}
		if s.Status == "completed" && g.CompletedAt == nil {
			t.Errorf("%s: completed without completed_at", id)
		}
		py, _ := g.Metadata["python"].(map[string]any)
		if py["status"] != s.Status {
			t.Errorf("%s: metadata.python.status = %v, want %s", id, py["status"], s.Status)
		}
	}
	if u := get("docs_api").Task.Metadata["python"].(map[string]any)["unresolved_dependencies"]; u == nil {
		t.Error("docs_api: the unresolvable dependency is not kept in metadata")
	}
	wantParent := map[string]string{apiParent: "in_progress", reviewParent: "completed", opsParent: "in_progress"}
	for id, desc := range breakdowns {
		d := get(id)
		if first := strings.SplitN(desc, "\n", 2)[0]; d.Task.Title != first {
			t.Errorf("%s: title = %q, want %q", id, d.Task.Title, first)
		}
		if !strings.HasPrefix(d.Task.Description, desc) {
			t.Errorf("%s: description = %q, want it to start with %q", id, d.Task.Description, desc)
		}
		if d.Task.Status != wantParent[id] {
			t.Errorf("%s: status = %s, want %s", id, d.Task.Status, wantParent[id])
		}
		var kids []string
		for _, k := range d.Subtasks {
			kids = append(kids, k.ID)
		}
		var want []string
		for sid, s := range subtasks {
			if s.Parent == id {
				want = append(want, sid)
			}
		}
		slices.Sort(kids)
		slices.Sort(want)
		if !slices.Equal(kids, want) {
			t.Errorf("%s: subtasks = %v, want %v", id, kids, want)
		}
	}
	if d := get(apiParent); !strings.Contains(d.Task.Description, "Go 1.26, no cgo") {
		t.Errorf("the task's context is lost: %q", d.Task.Description)
	}
	// Artifacts: the flat one and the mirrored one, both readable in our layout with the detailed work.
	for id, work := range map[string]string{"design_api": designWork, "review_rel": reviewWork} {
		d := get(id)
		if len(d.Artifacts) != 1 {
			t.Fatalf("%s: artifacts = %+v, want 1", id, d.Artifacts)
		}
		a := d.Artifacts[0]
		if !strings.HasPrefix(a.Path, ".task_orchestrator/artifacts/"+id+"/") {
			t.Errorf("%s: artifact path %s is outside our layout", id, a.Path)
		}
		b, err := os.ReadFile(filepath.Join(project, filepath.FromSlash(a.Path)))
		if err != nil {
			t.Fatalf("%s: artifact: %v", id, err)
		}
		sum := sha256.Sum256(b)
		if !strings.Contains(string(b), work) || hex.EncodeToString(sum[:]) != a.SHA256 || int64(len(b)) != a.Size {
			t.Errorf("%s: artifact %s does not hold the detailed work, or its size/hash are wrong", id, a.Path)
		}
	}
	srv.close()

	// A second run changes nothing.
	dbBefore := dumpDB(t, project)
	filesBefore := treeHashes(t, filepath.Join(project, ".task_orchestrator", "artifacts"))
	code, out, errOut = runMigrate(t, "--workspace", project)
	if code != 0 || !strings.Contains(out, "0 created, 11 unchanged") {
		t.Fatalf("second run exited %d, want \"0 created, 11 unchanged\":\n%s\n%s", code, out, errOut)
	}
	if dumpDB(t, project) != dbBefore {
		t.Error("the second run changed the task database")
	}
	sameTree(t, "the second run changed artifact files", filesBefore, treeHashes(t, filepath.Join(project, ".task_orchestrator", "artifacts")))
	code, out, _ = runMigrate(t, "--workspace", project, "--dry-run")
	if code != 0 || !strings.Contains(out, "Dry run: 0 to create, 11 unchanged") {
		t.Errorf("dry run after the import exited %d:\n%s", code, out)
	}

	t.Run("locked", func(t *testing.T) {
		// A copy of the Python file in rollback-journal mode, held under an exclusive lock.
		dir := t.TempDir()
		locked := filepath.Join(dir, "task_orchestrator.db")
		copyFile(t, pyDB, locked)
		if _, err := os.Stat(pyDB + "-wal"); err == nil {
			copyFile(t, pyDB+"-wal", locked+"-wal")
		}
		db, err := sql.Open("sqlite", "file:"+locked)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		db.SetMaxOpenConns(1)
		conn, err := db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(context.Background(), "PRAGMA journal_mode=DELETE"); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
			t.Fatal(err)
		}
		defer conn.ExecContext(context.Background(), "ROLLBACK") //nolint:errcheck
		code, out, errOut := runMigrate(t, "--workspace", newProject(t), "--from", locked)
		if code != 1 || !strings.Contains(errOut, "locked by another process") {
			t.Errorf("migrate from a locked file exited %d, want 1 with a clear message:\n%s\n%s", code, out, errOut)
		}
	})
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestMigrateRefusesMissingAndForeignFiles needs no Python server: each bad
// source gets exit code 1 and a message that says what to do, and nothing is written.
func TestMigrateRefusesMissingAndForeignFiles(t *testing.T) {
	project := newProject(t)
	notDB := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notDB, []byte("just some notes, not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	otherDB := filepath.Join(t.TempDir(), "other.db")
	db, err := sql.Open("sqlite", "file:"+otherDB)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	// Our own store, made by our own server.
	ours := newProject(t)
	srv := start(t, procOpts{dir: ours})
	srv.ok(context.Background(), "task_create", map[string]any{"title": "a task of ours"}, nil)
	srv.close()

	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"missing":       {[]string{"--workspace", project}, "no Python task database"},
		"not sqlite":    {[]string{"--workspace", project, "--from", notDB}, "is not an SQLite database"},
		"foreign":       {[]string{"--workspace", project, "--from", otherDB}, "not the Python mcp-task-orchestrator's"},
		"our own store": {[]string{"--workspace", project, "--from", tasksDB(ours)}, "this server's own task database"},
		"bad flag":      {[]string{"--nope"}, "flag provided but not defined"},
	} {
		t.Run(name, func(t *testing.T) {
			code, out, errOut := runMigrate(t, c.args...)
			wantCode := 1
			if name == "bad flag" {
				wantCode = 2
			}
			if code != wantCode || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d (want %d), stderr lacks %q:\nstdout:\n%s\nstderr:\n%s", code, wantCode, c.want, out, errOut)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(project, ".task_orchestrator")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("refused migrations created %s/.task_orchestrator (err %v)", project, err)
	}
}
