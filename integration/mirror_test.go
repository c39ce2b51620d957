package integration

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/neo4j"
)

// The task mirrors are checked here against the databases themselves: SQLite
// read from its file, Chroma through vector_get, Neo4j through its own driver
// (not through the code that wrote the mirror).

// startOwnNeo4j runs a dedicated Neo4j on port (integration/neo4j.sh run) and
// waits for it to print READY. The test's cleanup kills it.
func startOwnNeo4j(t testing.TB, data string, port int, password string) *exec.Cmd {
	t.Helper()
	neo4jEnvVar(t, "TASK_ORCHESTRATOR_TEST_NEO4J_LIB") // the jars are fetched by test-all.sh
	script, err := filepath.Abs("neo4j.sh")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", script, "run", data, fmt.Sprint(port), password)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	logf, err := os.Create(data + ".log")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait(); logf.Close() })
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == "READY" {
				ready <- true
				break
			}
		}
		ready <- false
		for sc.Scan() { // keep draining so the server never blocks on stdout
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			b, _ := os.ReadFile(data + ".log")
			t.Fatalf("neo4j exited before READY; its log ends:\n%s", tail(string(b), 3000))
		}
	case <-time.After(240 * time.Second):
		t.Fatal("neo4j did not print READY within 240 s")
	}
	return cmd
}

// mirrorView is the part of pool_status about the task mirrors.
type mirrorView struct {
	Mirror      string  `json:"mirror"`
	State       string  `json:"state"`
	Pending     int     `json:"pending"`
	OldestAgeMs float64 `json:"oldest_age_ms"`
	Cursor      int64   `json:"cursor"`
	LastError   string  `json:"last_error"`
	Note        string  `json:"note"`
}

func mirrors(t testing.TB, ctx context.Context, p *proc, project string) map[string]mirrorView {
	t.Helper()
	var out struct {
		Workspaces []struct {
			Mirrors []mirrorView `json:"mirrors"`
		} `json:"workspaces"`
	}
	p.ok(ctx, "pool_status", map[string]any{"workspace": project}, &out)
	if len(out.Workspaces) != 1 {
		t.Fatalf("pool_status: %d workspaces", len(out.Workspaces))
	}
	m := map[string]mirrorView{}
	for _, v := range out.Workspaces[0].Mirrors {
		m[v.Mirror] = v
	}
	return m
}

// waitConverged polls pool_status until both mirrors are ok with nothing
// pending, and returns how long that took and the largest lag it reported.
func waitConverged(t testing.TB, ctx context.Context, p *proc, project string, limit time.Duration) (time.Duration, float64) {
	t.Helper()
	start := time.Now()
	worst := 0.0
	for {
		m := mirrors(t, ctx, p, project)
		done := true
		for _, name := range []string{"vector", "graph"} {
			v := m[name]
			worst = max(worst, v.OldestAgeMs)
			if v.State != "ok" || v.Pending != 0 {
				done = false
			}
		}
		if done {
			return time.Since(start), worst
		}
		if time.Since(start) > limit {
			t.Fatalf("the mirrors did not converge within %v: %+v\nstderr:\n%s", limit, m, tail(p.stderr.String(), 4000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// sqliteTruth is the project's tasks and relationships as SQLite holds them.
type sqliteTruth struct {
	status map[string]string // id -> status
	title  map[string]string
	edges  []string // "from TYPE to", sorted
}

func readSQLite(t testing.TB, project string) sqliteTruth {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+tasksDB(project)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tr := sqliteTruth{status: map[string]string{}, title: map[string]string{}}
	rows, err := db.Query(`SELECT id, title, status, IFNULL(parent_id, '') FROM tasks`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, title, status, parent string
		if err := rows.Scan(&id, &title, &status, &parent); err != nil {
			t.Fatal(err)
		}
		tr.status[id], tr.title[id] = status, title
		if parent != "" {
			tr.edges = append(tr.edges, id+" SUBTASK_OF "+parent)
		}
	}
	rows.Close()
	rows, err = db.Query(`SELECT task_id, depends_on_id FROM task_dependencies`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var a, b string
		if err := rows.Scan(&a, &b); err != nil {
			t.Fatal(err)
		}
		tr.edges = append(tr.edges, a+" DEPENDS_ON "+b)
	}
	rows.Close()
	sort.Strings(tr.edges)
	return tr
}

// checkVectorMirror compares the Chroma collection "tasks" with SQLite: the
// same ids, once each, with the current status and title.
func checkVectorMirror(t testing.TB, ctx context.Context, p *proc, project string, want sqliteTruth) {
	t.Helper()
	got := map[string]int{}
	for offset := 0; ; offset += 1000 {
		var page struct {
			Documents []struct {
				ID       string         `json:"id"`
				Text     string         `json:"text"`
				Metadata map[string]any `json:"metadata"`
			} `json:"documents"`
		}
		p.ok(ctx, "vector_get", map[string]any{"workspace": project, "collection": "tasks", "limit": 1000, "offset": offset}, &page)
		for _, d := range page.Documents {
			got[d.ID]++
			st, ok := want.status[d.ID]
			if !ok {
				t.Errorf("vector mirror holds %s, which is not a task in SQLite", d.ID)
				continue
			}
			if d.Metadata["status"] != st {
				t.Errorf("vector mirror: %s has status %v, SQLite %s", d.ID, d.Metadata["status"], st)
			}
			if !strings.HasPrefix(d.Text, want.title[d.ID]) {
				t.Errorf("vector mirror: %s has text %q, SQLite title %q", d.ID, truncate(d.Text, 60), want.title[d.ID])
			}
		}
		if len(page.Documents) < 1000 {
			break
		}
	}
	for id, n := range got {
		if n != 1 {
			t.Errorf("vector mirror holds %s %d times", id, n)
		}
	}
	for id := range want.status {
		if got[id] == 0 {
			t.Errorf("vector mirror lacks task %s", id)
		}
	}
	if len(got) != len(want.status) {
		t.Errorf("vector mirror holds %d tasks, SQLite %d", len(got), len(want.status))
	}
}

// checkGraphMirror compares the project's (:Task) nodes and their
// DEPENDS_ON/SUBTASK_OF relationships with SQLite.
func checkGraphMirror(t testing.TB, ctx context.Context, uri, password, project string, want sqliteTruth) {
	t.Helper()
	d, err := driver.NewDriverWithContext(uri, driver.BasicAuth("neo4j", password, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	pid := neo4j.ProjectID(project)
	res, err := driver.ExecuteQuery(ctx, d, `MATCH (n:Task) WHERE n._project = $p RETURN n.key AS key, n.id AS id, n.status AS status, n.title AS title`,
		map[string]any{"p": pid}, driver.EagerResultTransformer)
	if err != nil {
		t.Fatal(err)
	}
	nodes := map[string]int{}
	for _, r := range res.Records {
		key, _ := r.Values[0].(string)
		id, _ := r.Values[1].(string)
		status, _ := r.Values[2].(string)
		title, _ := r.Values[3].(string)
		nodes[key]++
		if id != key {
			t.Errorf("graph mirror: node %s has id %q", key, id)
		}
		if st, ok := want.status[key]; !ok {
			t.Errorf("graph mirror holds node %s, which is not a task in SQLite", key)
		} else if st != status || want.title[key] != title {
			t.Errorf("graph mirror: %s is (%q, %q), SQLite (%q, %q)", key, status, title, st, want.title[key])
		}
	}
	for k, n := range nodes {
		if n != 1 {
			t.Errorf("graph mirror holds node %s %d times", k, n)
		}
	}
	if len(nodes) != len(want.status) {
		t.Errorf("graph mirror holds %d task nodes, SQLite %d tasks", len(nodes), len(want.status))
	}
	res, err = driver.ExecuteQuery(ctx, d, `MATCH (a:Task)-[r]->(b:Task) WHERE a._project = $p AND b._project = $p
		RETURN a.key + ' ' + type(r) + ' ' + b.key`, map[string]any{"p": pid}, driver.EagerResultTransformer)
	if err != nil {
		t.Fatal(err)
	}
	var edges []string
	for _, r := range res.Records {
		s, _ := r.Values[0].(string)
		edges = append(edges, s)
	}
	sort.Strings(edges)
	if !slices.Equal(edges, want.edges) {
		extra, missing := diff(edges, want.edges), diff(want.edges, edges)
		t.Errorf("graph mirror has %d relationships, SQLite %d; extra (or doubled) %v; missing %v",
			len(edges), len(want.edges), head(extra, 5), head(missing, 5))
	}
}

// diff returns the elements of a (a multiset) not matched in b.
func diff(a, b []string) []string {
	left := map[string]int{}
	for _, s := range b {
		left[s]++
	}
	var out []string
	for _, s := range a {
		if left[s] > 0 {
			left[s]--
		} else {
			out = append(out, s)
		}
	}
	return out
}

func head(s []string, n int) []string { return s[:min(n, len(s))] }

// workload creates n tasks with dependencies (and some subtasks) through the
// server, then updates u of them, moves some dependencies and deletes a few.
// It returns the ids still alive.
func workload(t testing.TB, ctx context.Context, p *proc, project string, n, u int, seed uint64) []string {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	var ids []string
	for i := range n {
		args := map[string]any{"workspace": project, "title": fmt.Sprintf("task %d of the mirror test", i),
			"description": fmt.Sprintf("step %d: wire the part %d to the part %d", i, rng.IntN(50), rng.IntN(50))}
		if len(ids) > 0 {
			var deps []string
			for range rng.IntN(3) {
				if d := ids[rng.IntN(len(ids))]; !slices.Contains(deps, d) {
					deps = append(deps, d)
				}
			}
			if len(deps) > 0 {
				args["depends_on"] = deps
			}
			if i%10 == 0 {
				args["parent_id"] = ids[rng.IntN(len(ids))]
			}
		}
		var out taskOut
		p.ok(ctx, "task_create", args, &out)
		ids = append(ids, out.Task.ID)
	}
	for i, k := range rng.Perm(len(ids))[:u] {
		args := map[string]any{"workspace": project, "id": ids[k], "title": fmt.Sprintf("task %d, renamed", k)}
		if i%2 == 0 {
			args["status"] = "in_progress"
		}
		p.ok(ctx, "task_update", args, nil)
	}
	// Dependencies added and removed after creation.
	for range 20 {
		a, b := ids[rng.IntN(len(ids))], ids[rng.IntN(len(ids))]
		if a == b {
			continue
		}
		res := p.call(ctx, "task_dependency", map[string]any{"workspace": project, "action": "add", "id": a, "depends_on": b})
		if res.IsError && !strings.Contains(text(res), "cycle") {
			t.Fatalf("task_dependency add: %s", text(res))
		}
	}
	// A few deletions, with their subtrees.
	alive := map[string]bool{}
	for _, id := range ids {
		alive[id] = true
	}
	for range 5 {
		id := ids[rng.IntN(len(ids))]
		if !alive[id] {
			continue
		}
		var out struct {
			Deleted []string `json:"deleted"`
		}
		p.ok(ctx, "task_delete", map[string]any{"workspace": project, "id": id, "cascade": true}, &out)
		for _, d := range out.Deleted {
			alive[d] = false
		}
	}
	var out []string
	for _, id := range ids {
		if alive[id] {
			out = append(out, id)
		}
	}
	return out
}

// With Chroma and Neo4j both down, 500 tasks with dependencies are created
// and 200 updated; once both come up, the mirrors hold exactly SQLite's tasks
// and relationships, once each.
func TestMirrorsConvergeWhenTheirServersComeUp(t *testing.T) {
	project := newProject(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	chromaPort, neoPort := freePort(t), freePort(t)
	const password = "mirror-test-secret"
	chromaURL := fmt.Sprintf("http://127.0.0.1:%d", chromaPort)
	neoURI := fmt.Sprintf("bolt://127.0.0.1:%d", neoPort)
	env := []string{"CHROMA_URL=" + chromaURL, "TASK_ORCHESTRATOR_EMBEDDINGS_PROVIDER=hash",
		"NEO4J_URI=" + neoURI, "NEO4J_USERNAME=neo4j", "NEO4J_PASSWORD=" + password}
	p := start(t, procOpts{dir: project, env: env})

	t0 := time.Now()
	alive := workload(t, ctx, p, project, 500, 200, 42)
	t.Logf("500 creates, 200 updates, 20 dependency changes, 5 cascading deletes with both mirrors down: %v", time.Since(t0))

	m := mirrors(t, ctx, p, project)
	for _, name := range []string{"vector", "graph"} {
		if v := m[name]; v.Pending < len(alive) || v.State == "ok" && v.Pending == 0 {
			t.Fatalf("with its server down the %s mirror shows %+v; want pending ≥ %d", name, v, len(alive))
		}
	}
	t.Logf("while down: vector %+v; graph %+v", m["vector"], m["graph"])
	if m["vector"].State != "retrying" || m["vector"].LastError == "" {
		t.Errorf("vector mirror while Chroma is down: %+v, want retrying with its last error", m["vector"])
	}

	base := t.TempDir()
	startChroma(t, filepath.Join(base, "chroma"), chromaPort)
	startOwnNeo4j(t, filepath.Join(base, "neo4j"), neoPort, password)
	took, worst := waitConverged(t, ctx, p, project, 180*time.Second)
	t.Logf("converged %v after both servers answered (largest oldest-age reported while catching up: %.0f ms)", took, worst)

	want := readSQLite(t, project)
	if len(want.status) != len(alive) {
		t.Fatalf("SQLite holds %d tasks, the workload left %d", len(want.status), len(alive))
	}
	checkVectorMirror(t, ctx, p, project, want)
	checkGraphMirror(t, ctx, neoURI, password, project, want)
	t.Logf("compared %d tasks and %d relationships in both mirrors", len(want.status), len(want.edges))

	// task_reconcile on converged mirrors rewrites every task and finds nothing stale.
	var rec struct {
		Mirrors []struct {
			Mirror  string `json:"mirror"`
			State   string `json:"state"`
			Tasks   int    `json:"tasks"`
			Removed int    `json:"removed"`
		} `json:"mirrors"`
	}
	progress := p.collectProgress()
	req := mcp.CallToolRequest{}
	req.Params.Name = "task_reconcile"
	req.Params.Meta = &mcp.Meta{ProgressToken: "reconcile"}
	req.Params.Arguments = map[string]any{"workspace": project}
	res, err := p.c.CallTool(ctx, req)
	if err != nil || res.IsError {
		t.Fatalf("task_reconcile: %v %s", err, text(res))
	}
	decode(t, res, &rec)
	// Notifications travel beside the answer, not before it: over stdio the
	// last one may be read just after the result, so give it a moment.
	reported := func(all string) bool {
		return strings.Contains(all, fmt.Sprintf("vector mirror: wrote %d of %d tasks", len(want.status), len(want.status))) &&
			strings.Contains(all, "graph mirror: rebuilt")
	}
	var msgs []string
	for wait := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if msgs = progress(); reported(strings.Join(msgs, " | ")) || time.Now().After(wait) {
			break
		}
	}
	all := strings.Join(msgs, " | ")
	t.Logf("task_reconcile: %s; %d progress notifications", text(res), len(msgs))
	if !reported(all) {
		t.Errorf("task_reconcile's progress did not report both mirrors' rebuild: %s", truncate(all, 600))
	}
	if len(rec.Mirrors) != 2 {
		t.Fatalf("task_reconcile: %+v", rec)
	}
	for _, r := range rec.Mirrors {
		if r.State != "done" || r.Tasks != len(want.status) || r.Removed != 0 {
			t.Errorf("task_reconcile(%s) = %+v; want done, %d tasks, nothing removed", r.Mirror, r, len(want.status))
		}
	}
	if res := p.call(ctx, "task_reconcile", map[string]any{"workspace": project, "mirror": "search"}); !res.IsError ||
		!strings.Contains(text(res), "vector, graph, all") {
		t.Errorf("task_reconcile with an unknown mirror: %s", text(res))
	}
	checkVectorMirror(t, ctx, p, project, want)
	checkGraphMirror(t, ctx, neoURI, password, project, want)
}

// outboxPosition reads, from the file a crash left, the last outbox seq and
// each mirror's cursor.
func outboxPosition(t testing.TB, project string) (int64, map[string]int64) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+tasksDB(project)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var last int64
	if err := db.QueryRow(`SELECT IFNULL((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0)`).Scan(&last); err != nil {
		t.Fatal(err)
	}
	cursors := map[string]int64{}
	rows, err := db.Query(`SELECT mirror, seq FROM mirror_cursors`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var m string
		var s int64
		if err := rows.Scan(&m, &s); err != nil {
			t.Fatal(err)
		}
		cursors[m] = s
	}
	return last, cursors
}

// SIGKILL while tasks are being written and mirrored: after a restart the
// mirrors converge to SQLite with nothing lost and nothing doubled.
func TestMirrorsConvergeAfterSIGKILLMidSync(t *testing.T) {
	project := newProject(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	neoURI := neo4jEnvVar(t, "TASK_ORCHESTRATOR_TEST_NEO4J_URI")
	password := neo4jEnvVar(t, "TASK_ORCHESTRATOR_TEST_NEO4J_PASSWORD")
	env := append(remoteEnv(chromaURL(t)), sharedNeo4jEnv(t)...)
	p := start(t, procOpts{dir: project, env: env})
	var first taskOut
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "root of the crash test"}, &first)

	var (
		mu    sync.Mutex
		acked = []string{first.Task.ID}
		wg    sync.WaitGroup
		stop  = make(chan struct{})
	)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				dep := acked[(i*7+w)%len(acked)]
				mu.Unlock()
				req := mcp.CallToolRequest{}
				req.Params.Name = "task_create"
				req.Params.Arguments = map[string]any{"workspace": project, "title": fmt.Sprintf("w%d-%d", w, i),
					"depends_on": []string{dep}}
				res, err := p.c.CallTool(ctx, req)
				if err != nil || res.IsError {
					return // the server is gone: not acknowledged
				}
				var out taskOut
				decode(t, res, &out)
				mu.Lock()
				acked = append(acked, out.Task.ID)
				mu.Unlock()
			}
		}()
	}
	// Kill once both mirrors have delivered something, while writes go on.
	waitFor(t, 60*time.Second, func() bool {
		_, cursors := outboxPosition(t, project)
		return cursors["vector"] > 0 && cursors["graph"] > 0
	}, "both mirrors to start delivering")
	time.Sleep(300 * time.Millisecond)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	p.close()
	last, cursors := outboxPosition(t, project)
	t.Logf("SIGKILL with %d tasks acknowledged; outbox at %d, cursors %v", len(acked), last, cursors)
	if cursors["vector"] >= last && cursors["graph"] >= last {
		t.Fatalf("both mirrors had caught up (outbox %d, cursors %v) when the server was killed: not mid-sync", last, cursors)
	}

	p2 := start(t, procOpts{dir: project, env: env})
	p2.ok(ctx, "task_list", map[string]any{"workspace": project, "limit": 1}, nil) // opens the store: starts the syncer
	took, _ := waitConverged(t, ctx, p2, project, 120*time.Second)
	t.Logf("converged %v after the restart", took)

	want := readSQLite(t, project)
	for _, id := range acked {
		if _, ok := want.status[id]; !ok {
			t.Errorf("acknowledged task %s is not in SQLite after the crash", id)
		}
	}
	checkVectorMirror(t, ctx, p2, project, want)
	checkGraphMirror(t, ctx, neoURI, password, project, want)
	t.Logf("compared %d tasks and %d relationships in both mirrors", len(want.status), len(want.edges))
}
