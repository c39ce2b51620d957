package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
)

// A project's files are untrusted: a cloned repository can carry a symlink or
// a FIFO anywhere under .task_orchestrator (git keeps symlinks). These tests
// plant one at every file and folder the server opens there and check that
// the call is refused with a sentence naming the file, that nothing outside
// the project is read, written or created, and that no call hangs.

// untrustedEnv keeps the vector and graph backends out of task tests.
var untrustedEnv = []string{"CHROMA_URL=", "NEO4J_URI=", "TASK_ORCHESTRATOR_CHROMA_COMMAND=", "TASK_ORCHESTRATOR_EMBEDDINGS_PROVIDER="}

func fileLinkRefusal(rel string) string {
	return rel + " is a symbolic link; a project's data files must be regular files inside the project: remove the link (the server creates the file anew on next use) or replace it with the real file"
}

func dirLinkRefusal(rel string) string {
	return rel + " is a symbolic link; a project's data folders must be real folders inside the project: remove it (the server creates the folder anew on next use) or replace it with the real folder"
}

// plantedProject makes a project inside allowRoot with its .task_orchestrator
// folders (0700) already there, ready for something to be planted in them.
func plantedProject(t *testing.T, allowRoot string) string {
	t.Helper()
	project := filepath.Join(allowRoot, fmt.Sprintf("cloned-%d", time.Now().UnixNano()))
	for _, d := range []string{".git", ".task_orchestrator/databases", ".task_orchestrator/artifacts", ".task_orchestrator/configs", ".task_orchestrator/logs"} {
		if err := os.MkdirAll(filepath.Join(project, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return project
}

func resolvedTempDir(t *testing.T) string {
	t.Helper()
	d, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// fingerprint is every file under dir with its size and hash: "unchanged" means equal fingerprints.
func fingerprint(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			fmt.Fprintf(&b, "%s/\n", p)
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %d %x\n", p, len(data), sha256.Sum256(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// wantRefused checks that res is a tool error whose text is exactly want.
func wantRefused(t *testing.T, what string, res *mcp.CallToolResult, want string) {
	t.Helper()
	if !res.IsError || text(res) != want {
		t.Fatalf("%s: error=%v text=%q\nwant the refusal %q", what, res.IsError, text(res), want)
	}
}

// callWithin calls a tool and fails, instead of hanging, if no answer comes in limit.
func callWithin(t *testing.T, p *proc, limit time.Duration, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	req := mcp.CallToolRequest{}
	req.Params.Name, req.Params.Arguments = name, args
	res, err := p.c.CallTool(ctx, req)
	if err != nil {
		t.Fatalf("%s did not answer within %v: %v", name, limit, err)
	}
	return res
}

// A tasks.db that is a symlink to another project's database outside
// --allow-root: nothing is read from it, nothing is written to it.
func TestUntrustedFilesSymlinkedTasksDBCrossesNoProject(t *testing.T) {
	ctx := ctxT(t)
	other := newProject(t) // outside the allowed tree
	p0 := start(t, procOpts{dir: other, env: untrustedEnv})
	p0.ok(ctx, "task_create", map[string]any{"workspace": other, "title": "the other project's secret"}, nil)
	p0.close()
	otherData := filepath.Dir(tasksDB(other))
	rowsBefore := dumpDB(t, other) // first: a read-only look leaves a -wal and -shm behind
	before := fingerprint(t, otherData)

	allowed := resolvedTempDir(t)
	project := plantedProject(t, allowed)
	if err := os.Symlink(tasksDB(other), tasksDB(project)); err != nil {
		t.Fatal(err)
	}
	p := start(t, procOpts{dir: project, env: untrustedEnv, args: []string{"--allow-root", allowed}})
	want := fileLinkRefusal(".task_orchestrator/databases/tasks.db")
	res := p.call(ctx, "task_list", map[string]any{"workspace": project})
	wantRefused(t, "task_list", res, want)
	if strings.Contains(text(res), "secret") {
		t.Fatalf("the other project's tasks were read: %s", text(res))
	}
	wantRefused(t, "task_create", p.call(ctx, "task_create", map[string]any{"workspace": project, "title": "written through the link"}), want)
	p.close()
	if after := fingerprint(t, otherData); after != before {
		t.Fatalf("the other project's database folder changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if rows := dumpDB(t, other); rows != rowsBefore {
		t.Fatalf("the other project's rows changed:\n%s", rows)
	}
}

// A dangling tasks.db symlink: nothing is created where it points.
func TestUntrustedFilesDanglingTasksDBCreatesNothingAtItsTarget(t *testing.T) {
	ctx := ctxT(t)
	elsewhere := resolvedTempDir(t)
	allowed := resolvedTempDir(t)
	project := plantedProject(t, allowed)
	if err := os.Symlink(filepath.Join(elsewhere, "tasks.db"), tasksDB(project)); err != nil {
		t.Fatal(err)
	}
	p := start(t, procOpts{dir: project, env: untrustedEnv, args: []string{"--allow-root", allowed}})
	wantRefused(t, "task_create", p.call(ctx, "task_create", map[string]any{"workspace": project, "title": "x"}),
		fileLinkRefusal(".task_orchestrator/databases/tasks.db"))
	p.close()
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Fatalf("files were created at the link's target: %v", entries)
	}
}

// A symlinked -wal, -shm or -journal: refused, its target untouched.
func TestUntrustedFilesSymlinkedWALAndSHMAreRefused(t *testing.T) {
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		t.Run(suffix, func(t *testing.T) {
			ctx := ctxT(t)
			victim := filepath.Join(resolvedTempDir(t), "victim")
			if err := os.WriteFile(victim, []byte("untouched"), 0o600); err != nil {
				t.Fatal(err)
			}
			project := plantedProject(t, resolvedTempDir(t))
			if err := os.Symlink(victim, tasksDB(project)+suffix); err != nil {
				t.Fatal(err)
			}
			p := start(t, procOpts{dir: project, env: untrustedEnv})
			wantRefused(t, "task_create", p.call(ctx, "task_create", map[string]any{"workspace": project, "title": "x"}),
				fileLinkRefusal(".task_orchestrator/databases/tasks.db"+suffix))
			p.close()
			if b, _ := os.ReadFile(victim); string(b) != "untouched" {
				t.Fatalf("the link's target was written: %q", b)
			}
		})
	}
}

// A tasks.db that is a FIFO: the call answers (refused), it does not hang.
func TestUntrustedFilesFIFOTasksDBDoesNotHang(t *testing.T) {
	project := plantedProject(t, resolvedTempDir(t))
	if err := syscall.Mkfifo(tasksDB(project), 0o600); err != nil {
		t.Fatal(err)
	}
	p := start(t, procOpts{dir: project, env: untrustedEnv})
	res := callWithin(t, p, 30*time.Second, "task_list", map[string]any{"workspace": project})
	wantRefused(t, "task_list", res, ".task_orchestrator/databases/tasks.db is a named pipe (FIFO), not a regular file; a project's data files must be regular files inside the project: move it away (the server creates the file anew on next use)")
}

// A symlinked logs/server.log: the server logs to stderr only and never
// appends to the link's target; the call itself is served.
func TestUntrustedFilesSymlinkedServerLogIsNotAppendedTo(t *testing.T) {
	ctx := ctxT(t)
	victim := filepath.Join(resolvedTempDir(t), "victim.txt")
	if err := os.WriteFile(victim, []byte("untouched\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	project := plantedProject(t, resolvedTempDir(t))
	log := filepath.Join(project, ".task_orchestrator", "logs", "server.log")
	if err := os.Symlink(victim, log); err != nil {
		t.Fatal(err)
	}
	p := start(t, procOpts{dir: project, env: untrustedEnv})
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "served, logged to stderr only"}, nil)
	p.close()
	if b, _ := os.ReadFile(victim); string(b) != "untouched\n" {
		t.Fatalf("the log link's target was appended to: %q", b)
	}
	if !strings.Contains(p.stderr.String(), fileLinkRefusal(".task_orchestrator/logs/server.log")) {
		t.Fatalf("stderr does not say why the project log was skipped:\n%s", tail(p.stderr.String(), 3000))
	}
}

// A symlinked configs/config.json, even to a file inside the project: refused, not followed.
func TestUntrustedFilesSymlinkedConfigIsRefused(t *testing.T) {
	ctx := ctxT(t)
	project := plantedProject(t, resolvedTempDir(t))
	cfg := filepath.Join(project, ".task_orchestrator", "configs", "config.json")
	inside := filepath.Join(project, "orchestrator.json")
	if err := os.WriteFile(inside, []byte(`{"database_pools": {"operational": {"max_connections": 3}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../orchestrator.json", cfg); err != nil {
		t.Fatal(err)
	}
	p := start(t, procOpts{dir: project, env: untrustedEnv})
	wantRefused(t, "task_list", p.call(ctx, "task_list", map[string]any{"workspace": project}),
		"the project config was refused: .task_orchestrator/configs/config.json: is a symbolic link; a project config must be a regular file, since a link may point anywhere on this machine: replace the link with the file itself")
}

// A FIFO as configs/config.json: the call answers (refused), it does not hang.
func TestUntrustedFilesFIFOConfigDoesNotHang(t *testing.T) {
	fifo := plantedProject(t, resolvedTempDir(t))
	if err := syscall.Mkfifo(filepath.Join(fifo, ".task_orchestrator", "configs", "config.json"), 0o600); err != nil {
		t.Fatal(err)
	}
	p2 := start(t, procOpts{dir: fifo, env: untrustedEnv})
	res := callWithin(t, p2, 30*time.Second, "task_list", map[string]any{"workspace": fifo})
	wantRefused(t, "task_list", res, "the project config was refused: .task_orchestrator/configs/config.json: is a named pipe (FIFO), not a regular file; remove it, and write the settings to a regular JSON file if the project needs any")
}

// A symlinked artifacts/<task> folder: the artifact is refused and nothing
// is written where the link points (this defence predates the others).
func TestUntrustedFilesSymlinkedArtifactFolderIsRefused(t *testing.T) {
	ctx := ctxT(t)
	project := plantedProject(t, resolvedTempDir(t))
	elsewhere := resolvedTempDir(t)
	p := start(t, procOpts{dir: project, env: untrustedEnv})
	var created taskOut
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "with an artifact"}, &created)
	if err := os.Symlink(elsewhere, filepath.Join(project, ".task_orchestrator", "artifacts", created.Task.ID)); err != nil {
		t.Fatal(err)
	}
	res := p.call(ctx, "task_complete", map[string]any{"workspace": project, "id": created.Task.ID, "artifact": map[string]any{"name": "report.md", "content": "x"}})
	if !res.IsError || !strings.Contains(text(res), "is a symlink") {
		t.Fatalf("task_complete through a symlinked artifact folder: error=%v %q", res.IsError, text(res))
	}
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Fatalf("files were written through the link: %v", entries)
	}
}

// Every file the server creates for a project is 0600, whatever the umask says.
func TestUntrustedFilesDataFilesAre0600(t *testing.T) {
	ctx := ctxT(t)
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	project := newProject(t)
	p := start(t, procOpts{dir: project, env: untrustedEnv})
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "one"}, nil)
	// While the server runs, the WAL and SHM exist.
	for _, f := range []string{tasksDB(project), tasksDB(project) + "-wal", tasksDB(project) + "-shm",
		filepath.Join(project, ".task_orchestrator", "logs", "server.log")} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %04o, want 0600", filepath.Base(f), fi.Mode().Perm())
		}
	}
}

// Managed Chroma: a symlinked data folder (or log) is refused before the
// server is started, and nothing is created where the link points.
func TestUntrustedFilesSymlinkedManagedChromaFolderIsRefused(t *testing.T) {
	env := []string{"CHROMA_URL=", "NEO4J_URI=", "TASK_ORCHESTRATOR_CHROMA_COMMAND=" + chromaCommand(t), "TASK_ORCHESTRATOR_EMBEDDINGS_PROVIDER=hash"}
	upsert := func(project string) map[string]any {
		return map[string]any{"workspace": project, "collection": "notes",
			"documents": []map[string]any{{"id": "d1", "text": "hello"}}}
	}
	t.Run("data folder", func(t *testing.T) {
		ctx := ctxT(t)
		elsewhere := resolvedTempDir(t)
		project := plantedProject(t, resolvedTempDir(t))
		if err := os.Symlink(elsewhere, filepath.Join(project, ".task_orchestrator", "databases", "chroma")); err != nil {
			t.Fatal(err)
		}
		p := start(t, procOpts{dir: project, env: env})
		wantRefused(t, "vector_upsert", p.call(ctx, "vector_upsert", upsert(project)), dirLinkRefusal(".task_orchestrator/databases/chroma"))
		p.close()
		if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
			t.Fatalf("files were created through the link: %v", entries)
		}
	})
	t.Run("log file", func(t *testing.T) {
		ctx := ctxT(t)
		victim := filepath.Join(resolvedTempDir(t), "victim.log")
		if err := os.WriteFile(victim, []byte("untouched\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		project := plantedProject(t, resolvedTempDir(t))
		if err := os.Symlink(victim, filepath.Join(project, ".task_orchestrator", "logs", "chroma.log")); err != nil {
			t.Fatal(err)
		}
		p := start(t, procOpts{dir: project, env: env})
		wantRefused(t, "vector_upsert", p.call(ctx, "vector_upsert", upsert(project)), fileLinkRefusal(".task_orchestrator/logs/chroma.log"))
		p.close()
		if b, _ := os.ReadFile(victim); string(b) != "untouched\n" {
			t.Fatalf("the log link's target was written: %q", b)
		}
	})
}

// Managed Neo4j: a symlinked data folder, or a symlinked .password inside
// it, is refused before the server is started; the link's target is neither
// written nor read (a password read from it would be handed to Neo4j).
func TestUntrustedFilesSymlinkedManagedNeo4jFilesAreRefused(t *testing.T) {
	script, err := filepath.Abs("neo4j.sh")
	if err != nil {
		t.Fatal(err)
	}
	neo4jEnvVar(t, "TASK_ORCHESTRATOR_TEST_NEO4J_LIB")
	cfg := jsonConfig(t, map[string]any{"backends": map[string]any{
		"neo4j_command": []string{script, "run", "{data_dir}", "{port}", "{password}"}, "neo4j_start_timeout": 240}})
	env := []string{"NEO4J_URI=", "CHROMA_URL=", "TASK_ORCHESTRATOR_CHROMA_COMMAND="}
	merge := func(project string) map[string]any {
		return map[string]any{"workspace": project, "label": "Decision", "key": "k1"}
	}
	t.Run("data folder", func(t *testing.T) {
		ctx := ctxT(t)
		elsewhere := resolvedTempDir(t)
		project := plantedProject(t, resolvedTempDir(t))
		if err := os.Symlink(elsewhere, filepath.Join(project, ".task_orchestrator", "databases", "neo4j")); err != nil {
			t.Fatal(err)
		}
		p := start(t, procOpts{dir: project, env: env, globalConfig: cfg})
		wantRefused(t, "graph_merge_node", p.call(ctx, "graph_merge_node", merge(project)), dirLinkRefusal(".task_orchestrator/databases/neo4j"))
		p.close()
		if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
			t.Fatalf("files were created through the link: %v", entries)
		}
	})
	t.Run("password file", func(t *testing.T) {
		ctx := ctxT(t)
		victim := filepath.Join(resolvedTempDir(t), "secret.txt")
		if err := os.WriteFile(victim, []byte("someone-elses-secret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		project := plantedProject(t, resolvedTempDir(t))
		data := filepath.Join(project, ".task_orchestrator", "databases", "neo4j")
		if err := os.Mkdir(data, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(victim, filepath.Join(data, ".password")); err != nil {
			t.Fatal(err)
		}
		p := start(t, procOpts{dir: project, env: env, globalConfig: cfg})
		wantRefused(t, "graph_merge_node", p.call(ctx, "graph_merge_node", merge(project)),
			".task_orchestrator/databases/neo4j/.password is a symbolic link inside a managed server's data folder; a project's data files must be regular files inside the project: remove the link (the server creates the file anew on next use) or replace it with the real file")
		p.close()
		if javaProcesses(data) != 0 {
			t.Fatal("a Neo4j server was started on a refused data folder")
		}
	})
}

// .tmp-* files that a killed writer left in artifacts/<task>/ are removed
// when a server opens the project, but only once they are old: a fresh one
// may belong to another live server process writing it right now. Two
// server processes serve the project; one is SIGKILLed mid-write.
func TestUntrustedFilesStaleTempArtifactsAreRemovedButNotALiveWritersFile(t *testing.T) {
	ctx := ctxT(t)
	project := newProject(t)
	a := start(t, procOpts{dir: project, env: untrustedEnv})
	b := start(t, procOpts{dir: project, env: untrustedEnv})
	var ids []string
	for i := range 40 {
		var out taskOut
		a.ok(ctx, "task_create", map[string]any{"workspace": project, "title": fmt.Sprintf("t%d", i)}, &out)
		ids = append(ids, out.Task.ID)
	}
	// b completes tasks with 1 MiB artifacts; it is SIGKILLed while doing so.
	content := strings.Repeat("x", 1<<20)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, id := range ids[:30] {
			req := mcp.CallToolRequest{}
			req.Params.Name = "task_complete"
			req.Params.Arguments = map[string]any{"workspace": project, "id": id, "artifact": map[string]any{"name": "out.txt", "content": content}}
			if _, err := b.c.CallTool(ctx, req); err != nil {
				return // killed
			}
		}
	}()
	// Kill b the moment one of its temporary files exists (mid-write), or after 10 s.
	arts := filepath.Join(project, ".task_orchestrator", "artifacts")
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if m, _ := filepath.Glob(filepath.Join(arts, "*", ".tmp-*")); len(m) > 0 {
			break
		}
	}
	if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	b.close()

	// Whatever the kill left, plus one stale and one fresh temporary file
	// (the fresh one stands for a live writer's file in another process).
	staleDir, liveDir := filepath.Join(arts, ids[35]), filepath.Join(arts, ids[36])
	for _, d := range []string{staleDir, liveDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	stale, live := filepath.Join(staleDir, ".tmp-KILLEDWRITER"), filepath.Join(liveDir, ".tmp-LIVEWRITER")
	for _, f := range []string{stale, live} {
		if err := os.WriteFile(f, []byte("half written"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(arts, "*", ".tmp-*"))
	t.Logf("%d temporary files before a server opens the project (the kill left %d)", len(leftovers), len(leftovers)-2)
	hourAgo := time.Now().Add(-time.Hour)
	for _, f := range leftovers {
		if f != live {
			if err := os.Chtimes(f, hourAgo, hourAgo); err != nil {
				t.Fatal(err)
			}
		}
	}

	// A new server process opens the project while a still serves it.
	c := start(t, procOpts{dir: project, env: untrustedEnv})
	var list listOut
	c.ok(ctx, "task_list", map[string]any{"workspace": project, "limit": 100}, &list)
	if len(list.Tasks) != 40 {
		t.Fatalf("task_list after the kill: %d tasks, want 40", len(list.Tasks))
	}
	left, _ := filepath.Glob(filepath.Join(arts, "*", ".tmp-*"))
	if len(left) != 1 || left[0] != live {
		t.Fatalf("temporary files left: %v; want only the live writer's %s", left, live)
	}
	// Both remaining processes still work on the project.
	a.ok(ctx, "task_complete", map[string]any{"workspace": project, "id": ids[39], "artifact": map[string]any{"name": "after.txt", "content": "fine"}}, nil)
	got, err := os.ReadFile(filepath.Join(arts, ids[39], "after.txt"))
	if err != nil || !bytes.Equal(got, []byte("fine")) {
		t.Fatalf("artifact written after the cleanup: %q, %v", got, err)
	}
	c.ok(ctx, "task_get", map[string]any{"workspace": project, "id": ids[39]}, nil)
}
