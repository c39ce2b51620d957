package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
)

var allTools = []string{
	"graph_delete_node", "graph_merge_node", "graph_merge_relationship", "graph_neighbors", "graph_query", "graph_schema", "graph_write",
	"pool_status", "task_claim", "task_complete", "task_create", "task_delete", "task_dependency",
	"task_get", "task_graph", "task_heartbeat", "task_history", "task_link", "task_list", "task_plan", "task_reconcile",
	"task_release", "task_similar", "task_summary", "task_update",
	"vector_collections", "vector_delete", "vector_drop_collection", "vector_get", "vector_query", "vector_upsert",
	"workspace_info",
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// The server answers initialize and tools/list without opening or creating anything.
func TestStartupIsLazyAndListsEveryTool(t *testing.T) {
	project := newProject(t)
	for _, proto := range []string{"2026-07-28", "2025-11-25", "2025-06-18"} {
		t.Run(proto, func(t *testing.T) {
			p := start(t, procOpts{dir: project, protocol: proto})
			ctx := ctxT(t)
			res, err := p.c.ListTools(ctx, mcp.ListToolsRequest{})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tl := range res.Tools {
				names = append(names, tl.Name)
				if msg := annotationProblem(tl.Annotations); msg != "" {
					t.Errorf("%s: %s", tl.Name, msg)
				}
				if tl.OutputSchema.Type != "object" {
					t.Errorf("%s: no output schema", tl.Name)
				}
				schema, _ := json.Marshal(tl.InputSchema)
				if len(tl.RawInputSchema) > 0 {
					schema = tl.RawInputSchema
				}
				if !strings.Contains(string(schema), `"additionalProperties":false`) {
					t.Errorf("%s: input schema accepts unknown fields: %s", tl.Name, schema)
				}
			}
			sort.Strings(names)
			if !slices.Equal(names, allTools) {
				t.Fatalf("tools = %v, want %v", names, allTools)
			}
			if _, err := os.Stat(filepath.Join(project, ".task_orchestrator")); !os.IsNotExist(err) {
				t.Fatalf(".task_orchestrator exists after initialize and tools/list (err=%v): start-up must be lazy", err)
			}
		})
	}
}

// annotationProblem says what is wrong with a tool's annotations, or "": a
// title, and each hint written only where it differs from the MCP default
// (readOnlyHint false, destructiveHint true, idempotentHint false,
// openWorldHint true), with no destructive/idempotent hint on a read-only
// tool. The server states every hint that way; a hint written at its default
// costs every agent bytes and says nothing.
func annotationProblem(a mcp.ToolAnnotation) string {
	switch {
	case a.Title == "":
		return "no title annotation"
	case a.ReadOnlyHint != nil && !*a.ReadOnlyHint:
		return "readOnlyHint written at its default, false"
	case a.ReadOnlyHint != nil && (a.DestructiveHint != nil || a.IdempotentHint != nil):
		return "a read-only tool carries destructiveHint or idempotentHint, which the specification gives no meaning there"
	case a.DestructiveHint != nil && *a.DestructiveHint:
		return "destructiveHint written at its default, true"
	case a.IdempotentHint != nil && !*a.IdempotentHint:
		return "idempotentHint written at its default, false"
	case a.OpenWorldHint != nil && *a.OpenWorldHint:
		return "openWorldHint written at its default, true"
	}
	return ""
}

func TestReadOnlyModeLeavesWriteToolsOut(t *testing.T) {
	p := start(t, procOpts{dir: newProject(t), args: []string{"--read-only"}})
	res, err := p.c.ListTools(ctxT(t), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tl := range res.Tools {
		if ro := tl.Annotations.ReadOnlyHint; ro == nil || !*ro {
			t.Errorf("read-only server lists write tool %s", tl.Name)
		}
	}
	if len(res.Tools) != 14 {
		t.Errorf("read-only server lists %d tools, want the 14 read tools", len(res.Tools))
	}
}

// Every supported protocol version can create and read a task.
func TestTaskRoundTripOnEveryProtocolVersion(t *testing.T) {
	for _, proto := range []string{"2026-07-28", "2025-11-25", "2025-06-18"} {
		t.Run(proto, func(t *testing.T) {
			project := newProject(t)
			p := start(t, procOpts{dir: project, protocol: proto})
			ctx := ctxT(t)
			var created taskOut
			p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "write the docs", "priority": "high", "labels": []string{"docs"}}, &created)
			var got struct {
				Task task `json:"task"`
			}
			p.ok(ctx, "task_get", map[string]any{"workspace": project, "id": created.Task.ID}, &got)
			if got.Task.Title != "write the docs" || got.Task.Priority != "high" || got.Task.Status != "pending" {
				t.Fatalf("task_get = %+v", got.Task)
			}
		})
	}
}

// Two projects served by one process never see each other's tasks, and a
// subfolder of a project resolves to the project's root.
func TestProjectsAreIsolatedAndSubfoldersResolveToTheRoot(t *testing.T) {
	a, b := newProject(t), newProject(t)
	sub := filepath.Join(a, "src", "deep")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	p := start(t, procOpts{dir: t.TempDir()})
	ctx := ctxT(t)
	p.ok(ctx, "task_create", map[string]any{"workspace": a, "title": "task in A"}, nil)
	p.ok(ctx, "task_create", map[string]any{"workspace": sub, "title": "second task in A, via a subfolder"}, nil)
	p.ok(ctx, "task_create", map[string]any{"workspace": b, "title": "task in B"}, nil)

	var la, lb listOut
	p.ok(ctx, "task_list", map[string]any{"workspace": filepath.Join(a, "src")}, &la)
	p.ok(ctx, "task_list", map[string]any{"workspace": b}, &lb)
	if len(la.Tasks) != 2 || len(lb.Tasks) != 1 {
		t.Fatalf("project A has %d tasks (want 2), project B %d (want 1)", len(la.Tasks), len(lb.Tasks))
	}
	for _, tk := range la.Tasks {
		if strings.Contains(tk.Title, "B") {
			t.Fatalf("project A sees %q", tk.Title)
		}
	}
	if lb.Tasks[0].Title != "task in B" {
		t.Fatalf("project B sees %q", lb.Tasks[0].Title)
	}
	var info struct {
		Root   string `json:"root"`
		Marker string `json:"marker"`
	}
	p.ok(ctx, "workspace_info", map[string]any{"workspace": sub}, &info)
	if info.Root != a || (info.Marker != ".git" && info.Marker != ".task_orchestrator") {
		t.Fatalf("workspace_info(%s) = %+v, want root %s by .git", sub, info, a)
	}
	if _, err := os.Stat(filepath.Join(sub, ".task_orchestrator")); !os.IsNotExist(err) {
		t.Fatalf("a .task_orchestrator was created in the subfolder")
	}
}

// Without a workspace argument, the client's roots decide the project, on the
// stateless protocol (multi round trip) and on the legacy one (roots/list request).
func TestClientRootsChooseTheProject(t *testing.T) {
	for _, proto := range []string{"2026-07-28", "2025-11-25", "2025-06-18"} {
		t.Run(proto, func(t *testing.T) {
			project := newProject(t)
			other := newProject(t)
			u := url.URL{Scheme: "file", Path: project}
			p := start(t, procOpts{dir: other, protocol: proto, roots: []string{u.String()}, args: []string{"--log-level", "debug"}})
			ctx := ctxT(t)
			var info struct {
				Root   string `json:"root"`
				Source string `json:"source"`
			}
			p.ok(ctx, "workspace_info", map[string]any{}, &info)
			if info.Root != project || info.Source != "roots" {
				t.Fatalf("workspace_info = %+v, want %s from roots\nstderr:\n%s", info, project, p.stderr.String())
			}
			p.ok(ctx, "task_create", map[string]any{"title": "via roots"}, nil)
			if _, err := os.Stat(tasksDB(project)); err != nil {
				t.Fatalf("the task did not land in the roots project: %v", err)
			}
			if _, err := os.Stat(filepath.Join(other, ".task_orchestrator")); !os.IsNotExist(err) {
				t.Fatalf("the working directory's project was used instead of the roots")
			}
		})
	}
}

// Without an argument or roots, TASK_ORCHESTRATOR_WORKSPACE and then the working directory decide.
func TestEnvThenWorkingDirectoryChooseTheProject(t *testing.T) {
	envProject, cwdProject := newProject(t), newProject(t)
	ctx := ctxT(t)
	var info struct {
		Root   string `json:"root"`
		Source string `json:"source"`
	}
	p := start(t, procOpts{dir: cwdProject, env: []string{"TASK_ORCHESTRATOR_WORKSPACE=" + envProject}})
	p.ok(ctx, "workspace_info", map[string]any{}, &info)
	if info.Root != envProject || info.Source != "env" {
		t.Fatalf("with the env var: %+v", info)
	}
	p.close()
	p = start(t, procOpts{dir: cwdProject})
	p.ok(ctx, "workspace_info", map[string]any{}, &info)
	if info.Root != cwdProject || info.Source != "cwd" {
		t.Fatalf("without the env var: %+v", info)
	}
}

// 32 agents claim 200 ready tasks at once through the real binary: every task is
// claimed exactly once, no SQLITE_BUSY reaches a result, and the pools end idle.
func TestConcurrentClaimsOverStdio(t *testing.T) {
	project := newProject(t)
	p := start(t, procOpts{dir: project})
	ctx := ctxT(t)
	const tasks, agents = 200, 32
	want := map[string]bool{}
	for i := range tasks {
		var out taskOut
		p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": fmt.Sprintf("task %03d", i),
			"priority": []string{"low", "medium", "high", "critical"}[i%4]}, &out)
		want[out.Task.ID] = true
	}
	var (
		mu      sync.Mutex
		claimed = map[string]string{}
		dupes   []string
		errs    []string
		wg      sync.WaitGroup
	)
	for a := range agents {
		wg.Add(1)
		go func(agent string) {
			defer wg.Done()
			for {
				req := mcp.CallToolRequest{}
				req.Params.Name = "task_claim"
				req.Params.Arguments = map[string]any{"workspace": project, "agent": agent}
				res, err := p.c.CallTool(ctx, req)
				if err != nil {
					mu.Lock()
					errs = append(errs, err.Error())
					mu.Unlock()
					return
				}
				if res.IsError {
					mu.Lock()
					errs = append(errs, text(res))
					mu.Unlock()
					return
				}
				var out taskOut
				decode(t, res, &out)
				if out.Task == nil {
					return
				}
				mu.Lock()
				if prev, ok := claimed[out.Task.ID]; ok {
					dupes = append(dupes, fmt.Sprintf("%s by %s and %s", out.Task.ID, prev, agent))
				}
				claimed[out.Task.ID] = agent
				mu.Unlock()
			}
		}(fmt.Sprintf("agent-%02d", a))
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d claims failed, first: %s", len(errs), errs[0])
	}
	if len(dupes) > 0 {
		t.Fatalf("tasks claimed twice: %v", dupes)
	}
	if len(claimed) != tasks {
		t.Fatalf("claimed %d tasks, want %d", len(claimed), tasks)
	}
	for id := range want {
		if _, ok := claimed[id]; !ok {
			t.Fatalf("task %s never claimed", id)
		}
	}
	if strings.Contains(strings.ToLower(p.stderr.String()), "database is locked") {
		t.Fatalf("SQLITE_BUSY in the server log")
	}
	var st struct {
		Workspaces []struct {
			Pools []struct {
				Name     string `json:"name"`
				InUse    int    `json:"in_use"`
				Acquires int64  `json:"acquires"`
			} `json:"pools"`
		} `json:"workspaces"`
	}
	// The project's own background readers (the mirror syncer's poll, the
	// lease timer) may hold a connection for a moment: a connection the burst
	// leaked stays in use, theirs is back within a few seconds.
	busy := ""
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		p.ok(ctx, "pool_status", map[string]any{"workspace": project}, &st)
		busy = ""
		for _, pl := range st.Workspaces[0].Pools {
			if pl.InUse != 0 {
				busy += fmt.Sprintf("pool %s has %d in use after the burst; ", pl.Name, pl.InUse)
			}
		}
		if busy == "" || time.Now().After(deadline) {
			break
		}
	}
	if busy != "" {
		t.Errorf("%s(still, 5 s later)", busy)
	}
	var acquires int64
	for _, pl := range st.Workspaces[0].Pools {
		acquires += pl.Acquires
	}
	if acquires < tasks {
		t.Errorf("pool_status counts %d acquires, want at least %d", acquires, tasks)
	}
}

// The whole life of a task through the tools: dependencies, claim order, completion
// with an artifact that unblocks the next task, and deletion.
func TestTaskLifecycle(t *testing.T) {
	project := newProject(t)
	p := start(t, procOpts{dir: project})
	ctx := ctxT(t)
	var design, build taskOut
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "design", "priority": "low"}, &design)
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "build", "priority": "critical", "depends_on": []string{design.Task.ID}}, &build)

	var claim taskOut
	p.ok(ctx, "task_claim", map[string]any{"workspace": project, "agent": "ada"}, &claim)
	if claim.Task == nil || claim.Task.ID != design.Task.ID {
		t.Fatalf("claimed %+v, want design (build is not ready)", claim.Task)
	}
	var done struct {
		Unblocked []string `json:"unblocked"`
	}
	p.ok(ctx, "task_complete", map[string]any{"workspace": project, "id": design.Task.ID, "summary": "done", "agent": "ada",
		"artifact": map[string]any{"name": "design.md", "content": "# Design\n"}}, &done)
	if !slices.Equal(done.Unblocked, []string{build.Task.ID}) {
		t.Fatalf("unblocked = %v, want [%s]", done.Unblocked, build.Task.ID)
	}
	art := filepath.Join(project, ".task_orchestrator", "artifacts", design.Task.ID, "design.md")
	if b, err := os.ReadFile(art); err != nil || string(b) != "# Design\n" {
		t.Fatalf("artifact: %q, %v", b, err)
	}
	var del struct {
		Deleted []string `json:"deleted"`
	}
	p.ok(ctx, "task_delete", map[string]any{"workspace": project, "id": design.Task.ID}, &del)
	if _, err := os.Stat(art); !os.IsNotExist(err) {
		t.Fatalf("artifact left behind after delete")
	}
}
