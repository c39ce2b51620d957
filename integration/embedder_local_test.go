package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The offline semantic embedder, the way a user gets it: the real binary's
// `embedder install` (the one documented step) into a folder of its own,
// then embeddings.provider "local" in the global config. Installed once per
// run of this package (pip keeps the wheels in its cache: about 10 s after
// the first time).
var localEmbedder struct {
	once   sync.Once
	python string
	err    error
	took   time.Duration
	stdout string
}

// localEmbedderPython installs the embedder with `mcp-task-orchestrator
// embedder install --dir` (once) and returns the python it printed. When
// this machine has no python3 or cannot reach PyPI, the test fails in CI and
// is skipped elsewhere, with the command that shows why.
func localEmbedderPython(t *testing.T) string {
	t.Helper()
	le := &localEmbedder
	le.once.Do(func() {
		dir := filepath.Join(filepath.Dir(binPath), "embedder") // removed with the binary by TestMain
		cmd := exec.Command(binPath, "embedder", "install", "--dir", dir)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		began := time.Now()
		err := cmd.Run()
		le.took, le.stdout = time.Since(began), stdout.String()
		if err != nil {
			le.err = fmt.Errorf("`mcp-task-orchestrator embedder install --dir %s` failed (%v):\n%s", dir, err, stderr.String())
			return
		}
		le.python = filepath.Join(dir, "bin", "python")
	})
	if le.err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the local embedder cannot be installed in CI: %v", le.err)
		}
		t.Skipf("the local embedder cannot be installed on this machine: %v", le.err)
	}
	return le.python
}

// retrievalDocs is the labelled set of adapters/chroma/retrieval_test.go.
type retrievalDocs struct {
	Documents []struct{ ID, Text string }
	Queries   []struct {
		Kind, Text string
		Relevant   []string
	}
}

// Provider local through the real server binary: `embedder install` prints
// the config lines; with them, two server processes on one project share one
// embedder process (started on first use, announced in
// .task_orchestrator/databases/embedder.server.json); vector_upsert and
// vector_query rank the document a reworded query means first for each of
// the 16 reworded queries of the retrieval set; task_similar answers through
// the task mirror; and when the process that started the embedder is
// SIGKILLed, the other one still gets embeddings (it starts the embedder
// again and announces it).
func TestLocalEmbedderGivesSemanticSearchSharedByTheProjectsProcesses(t *testing.T) {
	python := localEmbedderPython(t)
	le := &localEmbedder
	wantSnippet := `{"embeddings":{"command":"` + python + `","provider":"local"}}`
	if !strings.Contains(le.stdout, "\n"+wantSnippet+"\n") {
		t.Fatalf("embedder install printed\n%s\nwithout the config line %s", le.stdout, wantSnippet)
	}
	t.Logf("embedder install: %v, %s on disk", le.took.Round(100*time.Millisecond), diskUsage(filepath.Dir(filepath.Dir(python))))

	project := newProject(t)
	ctx := ctxT(t)
	globalCfg := jsonConfig(t, map[string]any{"embeddings": map[string]any{"provider": "local", "command": python}})
	opts := procOpts{dir: project, env: []string{"CHROMA_URL=" + chromaURL(t)}, globalConfig: globalCfg}
	a := start(t, opts)
	b := start(t, opts)
	databases := filepath.Join(project, ".task_orchestrator", "databases")
	discovery := filepath.Join(databases, "embedder.server.json")

	var set retrievalDocs
	raw, err := os.ReadFile(filepath.Join("..", "adapters", "chroma", "testdata", "retrieval.json"))
	if err == nil {
		err = json.Unmarshal(raw, &set)
	}
	if err != nil {
		t.Fatal(err)
	}
	var docs []map[string]any
	for _, d := range set.Documents {
		docs = append(docs, map[string]any{"id": d.ID, "text": d.Text})
	}
	var up struct {
		Embedding  string `json:"embedding"`
		Dimensions int    `json:"dimensions"`
	}
	began := time.Now()
	a.ok(ctx, "vector_upsert", map[string]any{"workspace": project, "collection": "titles", "documents": docs[:1]}, &up)
	firstUse := time.Since(began)
	began = time.Now()
	a.ok(ctx, "vector_upsert", map[string]any{"workspace": project, "collection": "titles", "documents": docs[1:]}, &up)
	rest := time.Since(began)
	if up.Embedding != "local:all-MiniLM-L6-v2" || up.Dimensions != 384 {
		t.Fatalf("vector_upsert with provider local recorded %s, %d dimensions; want local:all-MiniLM-L6-v2, 384", up.Embedding, up.Dimensions)
	}
	first := readDiscovery(t, discovery)
	if first.OwnerPID != a.cmd.Process.Pid {
		t.Fatalf("the embedder's discovery file names owner %d, want the process that used it first (%d)", first.OwnerPID, a.cmd.Process.Pid)
	}
	t.Logf("first vector_upsert of one title (starts the embedder): %v; the next %d titles: %v; embedder pid %d, RSS %s",
		firstUse.Round(time.Millisecond), len(docs)-1, rest.Round(time.Millisecond), first.PID, rss(first.PID))

	// Every reworded query finds its title first, from either process.
	reworded := 0
	for i, q := range set.Queries {
		if q.Kind != "reworded" {
			continue
		}
		reworded++
		p := []*proc{a, b}[i%2]
		var m matchesOut
		p.ok(ctx, "vector_query", map[string]any{"workspace": project, "collection": "titles", "text": q.Text, "n_results": 5}, &m)
		if len(m.Matches) == 0 || m.Matches[0].ID != q.Relevant[0] {
			t.Errorf("vector_query %q ranked %v; want %s first", q.Text, matchIDs(m), q.Relevant[0])
		}
	}
	if reworded != 16 {
		t.Fatalf("the retrieval set has %d reworded queries, want 16", reworded)
	}
	// One embedder serves both processes.
	if d := readDiscovery(t, discovery); d.PID != first.PID {
		t.Fatalf("after both processes embedded, the discovery file names embedder %d, want %d", d.PID, first.PID)
	}
	if groups := serverGroups(filepath.Join(databases, "embedder")); len(groups) != 1 {
		t.Fatalf("%d embedder process groups run on the project, want 1: %v", len(groups), groups)
	}
	status, errOut, code := runCLI(t, project, nil, "status", "--workspace", project)
	if want := fmt.Sprintf("managed embedder: pid %d on 127.0.0.1:", first.PID); code != 0 || !strings.Contains(status, want) {
		t.Errorf("status --workspace: exit %d, without %q:\n%s%s", code, want, status, errOut)
	}

	// task_similar through the task mirror, embedded by the same embedder.
	ids := map[string]string{}
	for _, d := range set.Documents[:10] {
		var out taskOut
		a.ok(ctx, "task_create", map[string]any{"workspace": project, "title": d.Text}, &out)
		ids[d.ID] = out.Task.ID
	}
	waitForSyncer(t, a, project, mirrorTargets{vector: true})
	var sim similarOut
	b.ok(ctx, "task_similar", map[string]any{"workspace": project, "text": "block brute force guessing of passwords", "limit": 3}, &sim)
	if len(sim.Tasks) == 0 || sim.Tasks[0].ID != ids["auth-5"] {
		t.Fatalf("task_similar %q = %+v, want the task %s (auth-5) first", "block brute force guessing of passwords", sim.Tasks, ids["auth-5"])
	}

	// SIGKILL the process that started the embedder: the kernel kills its
	// embedder with it; the other process starts one again on its next call.
	t.Logf("SIGKILL server process %d, which started the embedder %d", a.cmd.Process.Pid, first.PID)
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	began = time.Now()
	var m matchesOut
	b.ok(ctx, "vector_query", map[string]any{"workspace": project, "collection": "titles",
		"text": "database snapshots stopped happening every night", "n_results": 3}, &m)
	if len(m.Matches) == 0 || m.Matches[0].ID != "db-2" {
		t.Fatalf("vector_query after the owner was killed ranked %v; want db-2 first", matchIDs(m))
	}
	takeover := time.Since(began)
	second := readDiscovery(t, discovery)
	if second.OwnerPID != b.cmd.Process.Pid || second.PID == first.PID {
		t.Fatalf("after the owner's death the discovery file names embedder %d of owner %d; want a new embedder of %d",
			second.PID, second.OwnerPID, b.cmd.Process.Pid)
	}
	if _, err := os.Stat(filepath.Join("/proc", fmt.Sprint(first.PID))); err == nil {
		if st, _ := os.ReadFile(filepath.Join("/proc", fmt.Sprint(first.PID), "stat")); !strings.Contains(string(st), ") Z ") {
			t.Errorf("the killed owner's embedder %d still runs", first.PID)
		}
	}
	t.Logf("vector_query on the surviving process, which started embedder %d: %v", second.PID, takeover.Round(time.Millisecond))
	if fi, err := os.Stat(filepath.Join(project, ".task_orchestrator", "logs", "embedder.log")); err != nil || fi.Size() == 0 {
		t.Errorf("the embedder's log .task_orchestrator/logs/embedder.log: %v", err)
	}
}

func matchIDs(m matchesOut) []string {
	var out []string
	for _, x := range m.Matches {
		out = append(out, x.ID)
	}
	return out
}

// rss is the resident memory of pid, for the log ("?" when unknown).
func rss(pid int) string {
	b, err := os.ReadFile(filepath.Join("/proc", fmt.Sprint(pid), "status"))
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			return strings.Join(strings.Fields(strings.TrimPrefix(l, "VmRSS:")), " ")
		}
	}
	return "?"
}

// diskUsage of dir in MB, for the log.
func diskUsage(dir string) string {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return fmt.Sprintf("%d MB", n>>20)
}
