package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
)

// chromaCommand and chromaURL come from integration/test-all.sh, which installs
// a pinned Chroma and starts a shared server. Without them the vector tests fail:
// they never skip.
func chromaCommand(t testing.TB) string {
	t.Helper()
	v := os.Getenv("TASK_ORCHESTRATOR_TEST_CHROMA_COMMAND")
	if v == "" {
		t.Fatal("TASK_ORCHESTRATOR_TEST_CHROMA_COMMAND is not set: run the tests with `bash integration/test-all.sh`, which installs and starts Chroma")
	}
	return v
}

func chromaURL(t testing.TB) string {
	t.Helper()
	v := os.Getenv("TASK_ORCHESTRATOR_TEST_CHROMA_URL")
	if v == "" {
		t.Fatal("TASK_ORCHESTRATOR_TEST_CHROMA_URL is not set: run the tests with `bash integration/test-all.sh`, which installs and starts Chroma")
	}
	return v
}

// remoteEnv points the server at a Chroma server, with offline hash embeddings.
func remoteEnv(url string) []string {
	return []string{"CHROMA_URL=" + url, "TASK_ORCHESTRATOR_EMBEDDINGS_PROVIDER=hash"}
}

func managedEnv(t testing.TB) []string {
	return []string{"CHROMA_URL=", "TASK_ORCHESTRATOR_CHROMA_COMMAND=" + chromaCommand(t), "TASK_ORCHESTRATOR_EMBEDDINGS_PROVIDER=hash"}
}

type matchesOut struct {
	Matches []struct {
		ID       string  `json:"id"`
		Text     string  `json:"text"`
		Distance float64 `json:"distance"`
	} `json:"matches"`
}

type docsOut struct {
	Documents []struct {
		ID   string `json:"id"`
		Text string `json:"text"`
	} `json:"documents"`
}

func ids(d docsOut) []string {
	var out []string
	for _, doc := range d.Documents {
		out = append(out, doc.ID)
	}
	return out
}

// Two projects use the same collection name on one shared Chroma through one MCP
// server process: neither sees the other's documents.
func TestVectorProjectsAreIsolatedOnASharedServer(t *testing.T) {
	a, b := newProject(t), newProject(t)
	p := start(t, procOpts{dir: t.TempDir(), env: remoteEnv(chromaURL(t))})
	ctx := ctxT(t)
	p.ok(ctx, "vector_upsert", map[string]any{"workspace": a, "collection": "notes",
		"documents": []map[string]any{{"id": "a1", "text": "alpha project notes about parsers", "metadata": map[string]any{"kind": "note"}}}}, nil)
	p.ok(ctx, "vector_upsert", map[string]any{"workspace": b, "collection": "notes",
		"documents": []map[string]any{{"id": "b1", "text": "beta project notes about compilers"}, {"id": "b2", "text": "beta design"}}}, nil)

	var ga, gb docsOut
	p.ok(ctx, "vector_get", map[string]any{"workspace": a, "collection": "notes"}, &ga)
	p.ok(ctx, "vector_get", map[string]any{"workspace": b, "collection": "notes"}, &gb)
	if got := strings.Join(ids(ga), ","); got != "a1" {
		t.Fatalf("project A sees %q, want only a1", got)
	}
	if got := strings.Join(ids(gb), ","); got != "b1,b2" && got != "b2,b1" {
		t.Fatalf("project B sees %q, want b1 and b2", got)
	}
	var q matchesOut
	p.ok(ctx, "vector_query", map[string]any{"workspace": a, "collection": "notes", "text": "beta compilers", "n_results": 10}, &q)
	for _, m := range q.Matches {
		if strings.HasPrefix(m.ID, "b") {
			t.Fatalf("a query in project A returned project B's %s", m.ID)
		}
	}
	var del struct {
		Deleted int `json:"deleted"`
	}
	p.ok(ctx, "vector_delete", map[string]any{"workspace": b, "collection": "notes", "where": map[string]any{"kind": "note"}}, &del)
	if del.Deleted != 0 {
		t.Fatalf("deleting kind=note in B deleted %d documents (A's document has that kind)", del.Deleted)
	}
	p.ok(ctx, "vector_get", map[string]any{"workspace": a, "collection": "notes"}, &ga)
	if len(ga.Documents) != 1 {
		t.Fatalf("project A lost its document")
	}
}

// In managed mode each project gets its own Chroma with its data under the
// project; documents survive a restart of the MCP server, and no Chroma process
// outlives it.
func TestVectorManagedServerPersistsAndLeavesNoProcess(t *testing.T) {
	project := newProject(t)
	ctx := ctxT(t)
	p := start(t, procOpts{dir: project, env: managedEnv(t)})
	progress := p.collectProgress()
	req := mcp.CallToolRequest{}
	req.Params.Name = "vector_upsert"
	req.Params.Meta = &mcp.Meta{ProgressToken: "first-call"}
	req.Params.Arguments = map[string]any{"workspace": project, "collection": "memory",
		"documents": []map[string]any{{"id": "m1", "text": "the build uses make"}, {"id": "m2", "text": "tests need chroma"}}}
	if res, err := p.c.CallTool(ctx, req); err != nil || res.IsError {
		t.Fatalf("first vector_upsert: %v %v", err, res)
	}
	msgs := progress()
	t.Logf("progress while Chroma started: %q", msgs)
	if len(msgs) == 0 || !strings.Contains(strings.Join(msgs, " "), "chroma") {
		t.Errorf("no progress notification mentioned chroma while it started: %q", msgs)
	}
	dataDir := filepath.Join(project, ".task_orchestrator", "databases", "chroma")
	if fi, err := os.Stat(dataDir); err != nil || !fi.IsDir() {
		t.Fatalf("managed Chroma data is not under the project: %v", err)
	}
	if n := chromaProcesses(dataDir); n != 1 {
		t.Fatalf("%d chroma processes serve %s, want 1", n, dataDir)
	}
	p.close()
	waitFor(t, 15*time.Second, func() bool { return chromaProcesses(dataDir) == 0 }, "the managed chroma to stop with the MCP server")

	p2 := start(t, procOpts{dir: project, env: managedEnv(t)})
	var g docsOut
	p2.ok(ctx, "vector_get", map[string]any{"workspace": project, "collection": "memory", "ids": []string{"m1", "m2"}}, &g)
	if len(g.Documents) != 2 {
		t.Fatalf("after a restart the collection holds %v, want m1 and m2", ids(g))
	}
	// SIGKILL of the MCP server must not orphan its Chroma either.
	if err := p2.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, func() bool { return chromaProcesses(dataDir) == 0 }, "the managed chroma to die with its killed parent")
}

// chromaProcesses counts live processes whose command line names dataDir.
func chromaProcesses(dataDir string) int {
	entries, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		cmd := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(cmd, "run") && strings.Contains(cmd, dataDir) {
			if st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil && strings.Contains(string(st), ") Z ") {
				continue // a zombie is already dead
			}
			n++
		}
	}
	return n
}

func waitFor(t testing.TB, limit time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startChroma runs a dedicated Chroma on a given port (0 = free) and returns its URL
// and a stop function.
func startChroma(t testing.TB, data string, port int) (string, *exec.Cmd) {
	t.Helper()
	if port == 0 {
		out, err := exec.Command("python3", "-c", `import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])`).Output()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Sscan(string(out), &port)
	}
	cmd := exec.Command(chromaCommand(t), "run", "--path", data, "--host", "127.0.0.1", "--port", fmt.Sprint(port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	logf, err := os.Create(data + ".log")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _, _ = cmd.Process.Wait(); logf.Close() })
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitFor(t, 30*time.Second, func() bool {
		out, err := exec.Command("curl", "-sf", url+"/api/v2/heartbeat").Output()
		return err == nil && len(out) > 0
	}, "chroma to answer at "+url)
	return url, cmd
}

// Chroma dies during a burst of queries: calls fail fast with a clear error, the
// circuit opens, and once Chroma is back the next calls succeed without
// restarting the MCP server.
func TestVectorOutageFailsFastAndRecovers(t *testing.T) {
	data := filepath.Join(t.TempDir(), "chroma")
	url, chromaCmd := startChroma(t, data, 0)
	var port int
	fmt.Sscanf(url, "http://127.0.0.1:%d", &port)
	project := newProject(t)
	p := start(t, procOpts{dir: project, env: remoteEnv(url)})
	ctx := ctxT(t)
	p.ok(ctx, "vector_upsert", map[string]any{"workspace": project, "collection": "outage-c1",
		"documents": []map[string]any{{"id": "d1", "text": "outage test document"}}}, nil)

	var (
		mu       sync.Mutex
		slowest  time.Duration
		failures int
		msgs     []string
		wg       sync.WaitGroup
		stop     = make(chan struct{})
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				req := mcp.CallToolRequest{}
				req.Params.Name = "vector_query"
				req.Params.Arguments = map[string]any{"workspace": project, "collection": "outage-c1", "text": "outage", "n_results": 1}
				t0 := time.Now()
				res, err := p.c.CallTool(ctx, req)
				el := time.Since(t0)
				mu.Lock()
				if err == nil && res.IsError {
					failures++
					if el > slowest {
						slowest = el
					}
					if len(msgs) < 3 {
						msgs = append(msgs, text(res))
					}
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	_ = syscall.Kill(-chromaCmd.Process.Pid, syscall.SIGKILL)
	_, _ = chromaCmd.Process.Wait()
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()
	mu.Lock()
	t.Logf("%d failed calls during the outage; slowest failure %v; e.g. %q", failures, slowest, msgs)
	if failures == 0 {
		t.Fatalf("no call failed while Chroma was down")
	}
	// pool_timeout is 30 s by default: a failure that takes anywhere near that is a hang.
	if slowest > 10*time.Second {
		t.Fatalf("a failing call took %v: calls must fail fast when Chroma is down", slowest)
	}
	for _, m := range msgs {
		if !strings.Contains(m, "unavailable") {
			t.Fatalf("outage error does not say the backend is unavailable: %q", m)
		}
	}
	mu.Unlock()
	var st struct {
		Workspaces []struct {
			Pools []struct {
				Backend string `json:"backend"`
				State   string `json:"state"`
				InUse   int    `json:"in_use"`
			} `json:"pools"`
		} `json:"workspaces"`
	}
	p.ok(ctx, "pool_status", map[string]any{"workspace": project}, &st)
	for _, pl := range st.Workspaces[0].Pools {
		if pl.Backend == "vector" {
			if pl.State != "down" && pl.State != "degraded" {
				t.Errorf("vector pool state %q during the outage, want down or degraded", pl.State)
			}
			if pl.InUse != 0 {
				t.Errorf("vector pool has %d in use after the failed burst", pl.InUse)
			}
		}
	}
	// Chroma comes back on the same address; the MCP server recovers by itself.
	startChroma(t, data, port)
	var q matchesOut
	waitFor(t, 60*time.Second, func() bool {
		res := p.call(ctx, "vector_query", map[string]any{"workspace": project, "collection": "outage-c1", "text": "outage", "n_results": 1})
		if res.IsError {
			return false
		}
		decode(t, res, &q)
		return true
	}, "vector_query to succeed after Chroma came back")
	if len(q.Matches) != 1 || q.Matches[0].ID != "d1" {
		t.Fatalf("after recovery: %+v", q.Matches)
	}
}

// Bad vector input gets a clear tool error and writes nothing.
func TestVectorBadInputGetsAClearErrorAndWritesNothing(t *testing.T) {
	project := newProject(t)
	p := start(t, procOpts{dir: project, env: remoteEnv(chromaURL(t))})
	ctx := ctxT(t)
	ws := project
	p.ok(ctx, "vector_upsert", map[string]any{"workspace": ws, "collection": "vecs",
		"documents": []map[string]any{{"id": "v1", "text": "three dims", "embedding": []float32{0.1, 0.2, 0.3}}}}, nil)
	p.ok(ctx, "vector_upsert", map[string]any{"workspace": ws, "collection": "texts",
		"documents": []map[string]any{{"id": "t1", "text": "hashed text"}}}, nil)
	big := make([]map[string]any, 10001)
	for i := range big {
		big[i] = map[string]any{"id": fmt.Sprintf("x%d", i), "text": "x"}
	}
	cases := []struct {
		name, tool string
		args       map[string]any
		want       string
	}{
		{"wrong dimensions", "vector_upsert", map[string]any{"workspace": ws, "collection": "vecs",
			"documents": []map[string]any{{"id": "v2", "embedding": []float32{1, 2}}}}, "dimension"},
		{"query wrong dimensions", "vector_query", map[string]any{"workspace": ws, "collection": "vecs", "embedding": []float32{1, 2, 3, 4}}, "dimension"},
		{"unknown collection", "vector_get", map[string]any{"workspace": ws, "collection": "nope-nothing"}, "nope-nothing"},
		{"drop unknown collection", "vector_drop_collection", map[string]any{"workspace": ws, "collection": "nope-nothing"}, "nope-nothing"},
		{"invalid name", "vector_upsert", map[string]any{"workspace": ws, "collection": "../x",
			"documents": []map[string]any{{"id": "a", "text": "a"}}}, "name"},
		{"malformed where", "vector_get", map[string]any{"workspace": ws, "collection": "texts", "where": map[string]any{"$bogus": 1}}, "where"},
		{"where with a nested object", "vector_query", map[string]any{"workspace": ws, "collection": "texts", "text": "x", "where": map[string]any{"a": map[string]any{"b": 1}}}, "where"},
		{"oversized batch", "vector_upsert", map[string]any{"workspace": ws, "collection": "texts", "documents": big}, "10000"},
		{"empty documents", "vector_upsert", map[string]any{"workspace": ws, "collection": "texts", "documents": []map[string]any{}}, "documents"},
		{"duplicate ids", "vector_upsert", map[string]any{"workspace": ws, "collection": "texts",
			"documents": []map[string]any{{"id": "d", "text": "a"}, {"id": "d", "text": "b"}}}, "d"},
		{"caller vectors into a hashed collection", "vector_upsert", map[string]any{"workspace": ws, "collection": "texts",
			"documents": []map[string]any{{"id": "t9", "embedding": []float32{1, 2, 3}}}}, "embedding"},
		{"query with text and embedding", "vector_query", map[string]any{"workspace": ws, "collection": "texts", "text": "x", "embedding": []float32{1}}, "exactly one"},
		{"n_results too large", "vector_query", map[string]any{"workspace": ws, "collection": "texts", "text": "x", "n_results": 1000}, "n_results"},
		{"delete without ids or where", "vector_delete", map[string]any{"workspace": ws, "collection": "texts"}, "ids"},
		{"nested metadata", "vector_upsert", map[string]any{"workspace": ws, "collection": "texts",
			"documents": []map[string]any{{"id": "t8", "text": "x", "metadata": map[string]any{"deep": map[string]any{"a": 1}}}}}, "metadata"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := p.call(ctx, tc.tool, tc.args)
			msg := text(res)
			if !res.IsError {
				t.Fatalf("succeeded: %s", truncate(msg, 300))
			}
			if !strings.Contains(strings.ToLower(msg), strings.ToLower(tc.want)) {
				t.Errorf("error %q does not mention %q", truncate(msg, 300), tc.want)
			}
		})
	}
	var cols struct {
		Collections []struct {
			Name  string `json:"name"`
			Count int    `json:"count"`
		} `json:"collections"`
	}
	p.ok(ctx, "vector_collections", map[string]any{"workspace": ws}, &cols)
	counts := map[string]int{}
	for _, c := range cols.Collections {
		counts[c.Name] = c.Count
	}
	if len(counts) != 2 || counts["vecs"] != 1 || counts["texts"] != 1 {
		t.Fatalf("refused calls changed the store: %v", counts)
	}

	// Text without any embedding provider configured: a clear error, nothing written.
	p2 := start(t, procOpts{dir: project, env: []string{"CHROMA_URL=" + chromaURL(t), "TASK_ORCHESTRATOR_EMBEDDINGS_PROVIDER="}})
	res := p2.call(ctx, "vector_upsert", map[string]any{"workspace": ws, "collection": "plain",
		"documents": []map[string]any{{"id": "p1", "text": "no provider"}}})
	if msg := text(res); !res.IsError || !strings.Contains(msg, "provider") {
		t.Fatalf("text without a provider: %v %q", res.IsError, msg)
	}
	p2.ok(ctx, "vector_collections", map[string]any{"workspace": ws}, &cols)
	for _, c := range cols.Collections {
		if c.Name == "plain" && c.Count != 0 {
			t.Fatalf("a refused upsert wrote %d documents", c.Count)
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Without Chroma (none on PATH, no CHROMA_URL) the vector tools say how to enable
// them, and the task tools keep working.
func TestVectorToolsWithoutChromaSayHowToEnableThem(t *testing.T) {
	project := newProject(t)
	p := start(t, procOpts{dir: project, env: []string{"CHROMA_URL=", "TASK_ORCHESTRATOR_CHROMA_COMMAND=", "PATH=/usr/bin:/bin"}})
	ctx := ctxT(t)
	res := p.call(ctx, "vector_collections", map[string]any{"workspace": project})
	if msg := text(res); !res.IsError || !strings.Contains(msg, "CHROMA_URL") || !strings.Contains(msg, "chroma") {
		t.Fatalf("vector tool without Chroma: %v %q", res.IsError, msg)
	}
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "still works"}, nil)
	var st struct {
		Workspaces []struct {
			Pools []struct {
				Backend string `json:"backend"`
				State   string `json:"state"`
			} `json:"pools"`
		} `json:"workspaces"`
	}
	p.ok(ctx, "pool_status", map[string]any{"workspace": project}, &st)
	for _, pl := range st.Workspaces[0].Pools {
		if pl.Backend == "vector" && pl.State != "not configured" {
			t.Fatalf("vector pool state %q, want not configured", pl.State)
		}
	}
}

var _ = context.Background
