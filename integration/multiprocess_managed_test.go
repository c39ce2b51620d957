package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
)

// Issue 12, item 4: Claude Desktop and a terminal open on one repository run
// two (here four) server processes on one project. They must share one
// managed Chroma and one managed Neo4j: two database servers on one data
// folder is how data gets corrupted.
//
// Four server processes (the real binary, stdio) are started at the same
// moment (behind one barrier) on one project whose .task_orchestrator
// carries planted discovery files (one names the pid of a `sleep` and a
// foreign port, one is a link), and then all of them call vector_upsert and
// graph_merge_node at once. A sampler reads /proc every 50 ms. In the middle
// of the burst the process that owns the managed servers is SIGKILLed; the
// others keep calling.
func TestManagedServersAreSharedByFourProcessesAndTakenOverWhenTheOwnerIsKilled(t *testing.T) {
	const (
		procs         = 4
		vectorTimeout = 20 // pool_timeout of the project's vector pool, seconds
		graphTimeout  = 45 // and of its graph pool: a Neo4j takeover restarts a JVM
		before        = 3  // acknowledged upserts and merges per process before the kill
		after         = 3  // and per surviving process after it
	)
	project := newProject(t)
	dot := filepath.Join(project, ".task_orchestrator")
	dbs := filepath.Join(dot, "databases")
	for _, d := range []string{dot, dbs, filepath.Join(dot, "configs")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	projectCfg := fmt.Sprintf(`{"database_pools": {"vector": {"pool_timeout": %d}, "graph": {"pool_timeout": %d}}}`, vectorTimeout, graphTimeout)
	if err := os.WriteFile(filepath.Join(dot, "configs", "config.json"), []byte(projectCfg), 0o600); err != nil {
		t.Fatal(err)
	}
	chromaData, neoData := filepath.Join(dbs, "chroma"), filepath.Join(dbs, "neo4j")

	// Planted discovery files: they must be ignored, and the sleep never signalled.
	sleep := exec.Command("sleep", "300")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sleep.Process.Kill(); _ = sleep.Wait() })
	foreign, err := url.Parse(chromaURL(t)) // a real Chroma, not the project's
	if err != nil {
		t.Fatal(err)
	}
	foreignPort, _ := strconv.Atoi(foreign.Port())
	plantDiscovery(t, filepath.Join(dbs, "chroma.server.json"), "chroma", chromaData, foreignPort, sleep.Process.Pid)
	elsewhere := filepath.Join(t.TempDir(), "neo4j.server.json")
	plantDiscovery(t, elsewhere, "neo4j", neoData, foreignPort, sleep.Process.Pid)
	if err := os.Symlink(elsewhere, filepath.Join(dbs, "neo4j.server.json")); err != nil {
		t.Fatal(err)
	}

	script, err := filepath.Abs("neo4j.sh")
	if err != nil {
		t.Fatal(err)
	}
	neo4jEnvVar(t, "TASK_ORCHESTRATOR_TEST_NEO4J_LIB")
	globalCfg := jsonConfig(t, map[string]any{"backends": map[string]any{
		"neo4j_command": []string{script, "run", "{data_dir}", "{port}", "{password}"}, "neo4j_start_timeout": 240}})
	env := append(managedEnv(t), "NEO4J_URI=")

	// The sampler: distinct servers (process groups: a managed server is a group
	// of its own, with the wrapper script's helpers) whose command line names each data folder.
	sampleStop := make(chan struct{})
	sampleDone := make(chan struct{})
	var (
		sampleMu                   sync.Mutex // guards the four below
		maxChroma, maxNeo, samples int
		worst                      string
	)
	// overlapped fails the test as soon as the sampler has seen two servers on one data folder.
	overlapped := func() bool {
		sampleMu.Lock()
		defer sampleMu.Unlock()
		if maxChroma > 1 || maxNeo > 1 {
			t.Fatalf("the sampler saw %d Chroma and %d Neo4j servers on the project's data folders at once (%s), want at most one each",
				maxChroma, maxNeo, worst)
		}
		return false
	}
	go func() {
		defer close(sampleDone)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			c, n := serverGroups(chromaData), serverGroups(neoData)
			sampleMu.Lock()
			samples++
			if len(c) > maxChroma || len(n) > maxNeo {
				worst = fmt.Sprintf("chroma %v, neo4j %v", c, n)
			}
			maxChroma, maxNeo = max(maxChroma, len(c)), max(maxNeo, len(n))
			sampleMu.Unlock()
			select {
			case <-sampleStop:
				return
			case <-tick.C:
			}
		}
	}()
	stopSampler := sync.OnceFunc(func() { close(sampleStop); <-sampleDone })
	t.Cleanup(stopSampler)

	ps := startTogether(t, procs, procOpts{dir: project, env: env, globalConfig: globalCfg})

	// The burst: per process one vector and one graph worker, released at once.
	type result struct {
		proc, worker int
		id           string
		began        time.Time
		took         time.Duration
		err          string // "" = acknowledged
		transport    bool
	}
	var (
		mu      sync.Mutex
		results []result
		killed  = map[int]bool{}
		killAt  time.Time
	)
	acked := func(proc, worker int, since time.Time) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, r := range results {
			if r.proc == proc && r.worker == worker && r.err == "" && !r.began.Before(since) {
				n++
			}
		}
		return n
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	go1 := make(chan struct{})
	stopBurst := make(chan struct{})
	var wg sync.WaitGroup
	for i, p := range ps {
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-go1
				for k := 0; ; k++ {
					select {
					case <-stopBurst:
						return
					default:
					}
					id := fmt.Sprintf("p%d-%d", i, k)
					var req mcp.CallToolRequest
					if w == 0 {
						req.Params.Name = "vector_upsert"
						req.Params.Arguments = map[string]any{"workspace": project, "collection": "shared",
							"documents": []map[string]any{{"id": id, "text": "note " + id + " about shared servers"}}}
					} else {
						req.Params.Name = "graph_merge_node"
						req.Params.Arguments = map[string]any{"workspace": project, "label": "Item", "key": id,
							"properties": map[string]any{"by": i}}
					}
					began := time.Now()
					res, err := p.c.CallTool(ctx, req)
					r := result{proc: i, worker: w, id: id, began: began, took: time.Since(began)}
					switch {
					case err != nil:
						r.err, r.transport = err.Error(), true
					case res.IsError:
						r.err = text(res)
					}
					mu.Lock()
					results = append(results, r)
					dead := killed[i]
					mu.Unlock()
					if r.transport && (dead || ctx.Err() != nil) {
						return // this process was killed
					}
					if r.err != "" {
						time.Sleep(200 * time.Millisecond)
					}
				}
			}()
		}
	}
	close(go1)
	t0 := time.Now()
	waitFor(t, 5*time.Minute, func() bool {
		if overlapped() {
			return false
		}
		for i := range ps {
			if acked(i, 0, t0) < before || acked(i, 1, t0) < before {
				return false
			}
		}
		return true
	}, "every process to have its first upserts and merges acknowledged")
	t.Logf("all four processes got %d upserts and merges through after %v", before, time.Since(t0).Round(time.Millisecond))

	// SIGKILL the owner of the managed servers (of each, if two processes own them).
	owners := map[int]bool{}
	for _, kind := range []string{"chroma", "neo4j"} {
		d := readDiscovery(t, filepath.Join(dbs, kind+".server.json"))
		idx := procIndex(ps, d.OwnerPID)
		if idx < 0 {
			t.Fatalf("the %s discovery file names owner pid %d, none of the four server processes", kind, d.OwnerPID)
		}
		owners[idx] = true
	}
	mu.Lock()
	killAt = time.Now()
	for i := range owners {
		killed[i] = true
	}
	mu.Unlock()
	for i := range owners {
		t.Logf("SIGKILL server process %d (pid %d), which owns managed servers", i, ps[i].cmd.Process.Pid)
		if err := ps[i].cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Minute, func() bool {
		if overlapped() {
			return false
		}
		for i := range ps {
			if !killed[i] && (acked(i, 0, killAt) < after || acked(i, 1, killAt) < after) {
				return false
			}
		}
		return true
	}, "every surviving process to have upserts and merges acknowledged after the kill")
	t.Logf("the survivors got %d upserts and merges through %v after the kill", after, time.Since(killAt).Round(time.Millisecond))
	close(stopBurst)
	wg.Wait()

	// Someone took over: the discovery files name a surviving owner.
	for _, kind := range []string{"chroma", "neo4j"} {
		d := readDiscovery(t, filepath.Join(dbs, kind+".server.json"))
		if idx := procIndex(ps, d.OwnerPID); idx < 0 || killed[idx] {
			t.Fatalf("after the kill the %s discovery file names owner pid %d, not a surviving server process", kind, d.OwnerPID)
		}
	}

	// Calls after the kill: none hung past pool_timeout (plus the call's own
	// work); the failures are sentences, not transport errors.
	wantV, wantG := map[string]bool{}, map[string]bool{}
	failures := map[string]int{}
	var slowest time.Duration
	for _, r := range results {
		if r.err == "" {
			if r.worker == 0 {
				wantV[r.id] = true
			} else {
				wantG[r.id] = true
			}
			continue
		}
		if killed[r.proc] {
			continue
		}
		if r.began.After(killAt) {
			failures[fmt.Sprintf("%s: %s", []string{"vector_upsert", "graph_merge_node"}[r.worker], r.err)]++
			if r.transport {
				t.Errorf("process %d: %s after the kill got a transport error: %s", r.proc, r.id, r.err)
			}
			for _, bad := range []string{"goroutine ", ".go:", "panic", "neo4j.sh run", foreign.Host} {
				if strings.Contains(r.err, bad) {
					t.Errorf("process %d: error of %s mentions %q: %s", r.proc, r.id, bad, r.err)
				}
			}
		}
	}
	for _, r := range results {
		if killed[r.proc] || r.began.Before(killAt.Add(-time.Minute)) {
			continue
		}
		limit := time.Duration([]int{vectorTimeout, graphTimeout}[r.worker])*time.Second + 15*time.Second
		slowest = max(slowest, r.took)
		if r.took > limit {
			t.Errorf("process %d: %s took %v, past pool_timeout (%v with the call's own work)", r.proc, r.id, r.took, limit)
		}
	}
	t.Logf("calls: %d; acknowledged %d upserts and %d merges; slowest call around the kill %v; errors after the kill: %v",
		len(results), len(wantV), len(wantG), slowest.Round(time.Millisecond), failures)

	// Every acknowledged write is visible from every surviving process.
	vIDs := keys(wantV)
	for i, p := range ps {
		if killed[i] {
			continue
		}
		seen := map[string]bool{}
		for off := 0; off < len(vIDs); off += 500 {
			var g docsOut
			p.ok(ctxT(t), "vector_get", map[string]any{"workspace": project, "collection": "shared",
				"ids": vIDs[off:min(off+500, len(vIDs))], "limit": 1000}, &g)
			for _, d := range g.Documents {
				seen[d.ID] = true
			}
		}
		if missing := missingOf(wantV, seen); len(missing) > 0 {
			t.Errorf("process %d does not see %d acknowledged upserts: %v", i, len(missing), missing)
		}
		var q cypherOut
		p.ok(ctxT(t), "graph_query", map[string]any{"workspace": project, "cypher": "MATCH (n:Item) RETURN collect(n.key) AS keys"}, &q)
		seen = map[string]bool{}
		if len(q.Rows) == 1 {
			keys, _ := q.Rows[0]["keys"].([]any)
			for _, k := range keys {
				seen[fmt.Sprint(k)] = true
			}
		}
		if missing := missingOf(wantG, seen); len(missing) > 0 {
			t.Errorf("process %d does not see %d acknowledged merges: %v", i, len(missing), missing)
		}
	}

	// After all four exit, no managed server is left running.
	for i, p := range ps {
		if !killed[i] {
			p.close()
		}
	}
	waitFor(t, 90*time.Second, func() bool {
		return len(serverGroups(chromaData)) == 0 && len(serverGroups(neoData)) == 0
	}, "no managed Chroma or Neo4j to be left running after the four server processes exited")
	stopSampler()
	sampleMu.Lock()
	defer sampleMu.Unlock()
	t.Logf("sampler: %d samples; at most %d Chroma and %d Neo4j on the project's data folders (worst: %s)", samples, maxChroma, maxNeo, worst)
	if maxChroma > 1 || maxNeo > 1 {
		t.Errorf("the sampler saw %d Chroma and %d Neo4j servers on the project's data folders at once (%s), want at most one each",
			maxChroma, maxNeo, worst)
	}
	if err := syscall.Kill(sleep.Process.Pid, 0); err != nil || !procAlive(sleep.Process.Pid) {
		t.Errorf("the program named by a planted discovery file (pid %d) was signalled: %v", sleep.Process.Pid, err)
	}
}

// plantDiscovery writes a discovery file (0600) that claims pid serves dataDir on port.
func plantDiscovery(t *testing.T, path, kind, dataDir string, port, pid int) {
	t.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	startTime, _ := strconv.ParseUint(fields[19], 10, 64)
	boot, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	b, _ := json.Marshal(map[string]any{"kind": kind, "data_dir": dataDir, "host": "127.0.0.1", "port": port,
		"pid": pid, "pid_start": startTime, "boot_id": strings.TrimSpace(string(boot)), "owner_pid": pid, "secret": "planted"})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

type discoveryFile struct {
	PID      int `json:"pid"`
	OwnerPID int `json:"owner_pid"`
}

func readDiscovery(t *testing.T, path string) discoveryFile {
	t.Helper()
	var d discoveryFile
	b, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(b, &d)
	}
	if err != nil {
		t.Fatalf("reading the discovery file %s: %v", path, err)
	}
	return d
}

func procIndex(ps []*proc, pid int) int {
	for i, p := range ps {
		if p.cmd.Process.Pid == pid {
			return i
		}
	}
	return -1
}

// serverGroups returns the process groups of the live processes whose command
// line names dir (an argument equal to it or under it).
func serverGroups(dir string) []int {
	entries, _ := os.ReadDir("/proc")
	groups := map[int]bool{}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		named := false
		for _, a := range strings.Split(string(b), "\x00") {
			if a == dir || strings.HasPrefix(a, dir+"/") {
				named = true
			}
		}
		if !named {
			continue
		}
		st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		f := strings.Fields(string(st[strings.LastIndexByte(string(st), ')')+1:]))
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		pgrp, _ := strconv.Atoi(f[2])
		groups[pgrp] = true
	}
	out := keysInt(groups)
	sort.Ints(out)
	return out
}

func procAlive(pid int) bool {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && !strings.Contains(string(st), ") Z ")
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func keysInt(m map[int]bool) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func missingOf(want, seen map[string]bool) []string {
	var out []string
	for k := range want {
		if !seen[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	if len(out) > 10 {
		out = append(out[:10], "...")
	}
	return out
}
