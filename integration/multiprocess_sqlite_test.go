package integration

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
)

// Several server processes on one project (Claude Desktop and Claude Code on
// one repository; an agent that spawns sub-agents) each have their own SQLite
// writer on the same tasks.db. These tests run four real server processes on
// one project and check that claims stay exactly-once and that SQLite's
// "database is locked" never reaches a tool result.

const (
	mpProcs  = 4
	mpAgents = 8
	mpTasks  = 400
)

// startProcs starts n servers on project, each its own process.
func startProcs(t *testing.T, project string, n int, o procOpts) []*proc {
	t.Helper()
	o.dir = project
	ps := make([]*proc, n)
	for i := range ps {
		ps[i] = start(t, o)
	}
	return ps
}

// warm opens the project's task store in every process (the first call of a
// process opens it: pools, schema check, mirror syncer), so that the burst's
// latencies are the claims', not a process's start-up.
func warm(t *testing.T, ctx context.Context, ps []*proc, project string) {
	t.Helper()
	for _, p := range ps {
		p.ok(ctx, "task_list", map[string]any{"workspace": project, "limit": 1}, nil)
	}
}

// mpCall is proc.call for goroutines: a transport error is returned, not fatal.
func mpCall(ctx context.Context, p *proc, name string, args map[string]any) (*mcp.CallToolResult, error) {
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	return p.c.CallTool(ctx, req)
}

func decodeInto(res *mcp.CallToolResult, out any) error {
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// seedTasks creates n ready tasks through p, 8 calls at a time.
func seedTasks(t *testing.T, ctx context.Context, p *proc, project string, n int) {
	t.Helper()
	var (
		wg   sync.WaitGroup
		next atomic.Int64
		errs = make(chan string, n)
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				res, err := mpCall(ctx, p, "task_create", map[string]any{"workspace": project,
					"title": fmt.Sprintf("task %03d", i), "priority": []string{"low", "medium", "high", "critical"}[i%4]})
				switch {
				case err != nil:
					errs <- err.Error()
					return
				case res.IsError:
					errs <- text(res)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatalf("seeding: %s", e)
	}
}

// busyText reports whether a tool result shows SQLite's lock error.
func busyText(s string) bool {
	l := strings.ToLower(s)
	return strings.Contains(l, "sqlite_busy") || strings.Contains(l, "database is locked") || strings.Contains(l, "sqlite_locked")
}

// burst is what a claim burst saw.
type burst struct {
	mu        sync.Mutex
	claimedBy map[string]string // task id -> agent told it claimed it
	dupes     []string
	errs      []string // tool errors and unexpected transport errors
	lat       []time.Duration
	gone      atomic.Int64 // calls cut off by a killed process
	elapsed   time.Duration
}

func (b *burst) acked() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.claimedBy)
}

// claimAll runs agents goroutines per process, each claiming until nothing is
// ready. A process in killed (by index) may vanish mid-burst: its transport
// errors end its agents quietly.
func claimAll(ctx context.Context, ps []*proc, project string, killed func(int) bool) *burst {
	b := newBurst()
	b.run(ctx, ps, project, killed)
	return b
}

func newBurst() *burst { return &burst{claimedBy: map[string]string{}} }

// ackedBy counts the acknowledged claims of each process so far.
func (b *burst) ackedBy(n int) []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]int, n)
	for _, agent := range b.claimedBy {
		var pi, ai int
		if _, err := fmt.Sscanf(agent, "p%d-agent-%d", &pi, &ai); err == nil && pi < n {
			out[pi]++
		}
	}
	return out
}

func (b *burst) run(ctx context.Context, ps []*proc, project string, killed func(int) bool) {
	var wg sync.WaitGroup
	begin := time.Now()
	for pi, p := range ps {
		for a := range mpAgents {
			agent := fmt.Sprintf("p%d-agent-%d", pi, a)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					t0 := time.Now()
					res, err := mpCall(ctx, p, "task_claim", map[string]any{"workspace": project, "agent": agent})
					d := time.Since(t0)
					b.mu.Lock()
					switch {
					case err != nil && killed(pi):
						b.mu.Unlock()
						b.gone.Add(1)
						return
					case err != nil:
						b.errs = append(b.errs, fmt.Sprintf("%s: transport: %v", agent, err))
						b.mu.Unlock()
						return
					case res.IsError:
						b.errs = append(b.errs, fmt.Sprintf("%s: %s", agent, text(res)))
						b.mu.Unlock()
						return
					}
					var out taskOut
					if err := decodeInto(res, &out); err != nil {
						b.errs = append(b.errs, fmt.Sprintf("%s: decoding: %v", agent, err))
						b.mu.Unlock()
						return
					}
					if out.Task == nil {
						b.mu.Unlock()
						return
					}
					b.lat = append(b.lat, d)
					if prev, ok := b.claimedBy[out.Task.ID]; ok {
						b.dupes = append(b.dupes, fmt.Sprintf("%s by %s and %s", out.Task.ID, prev, agent))
					}
					b.claimedBy[out.Task.ID] = agent
					b.mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	b.elapsed = time.Since(begin)
}

func (b *burst) report(t *testing.T, what string) {
	t.Helper()
	lat := slices.Clone(b.lat)
	slices.Sort(lat)
	if len(lat) == 0 {
		t.Logf("%s: no claims", what)
		return
	}
	t.Logf("%s: %d claims in %v (%.0f claims/s); claim latency p50 %v, p99 %v, max %v", what, len(lat),
		b.elapsed.Round(time.Millisecond), float64(len(lat))/b.elapsed.Seconds(),
		lat[len(lat)/2].Round(10*time.Microsecond), lat[len(lat)*99/100].Round(10*time.Microsecond), lat[len(lat)-1].Round(10*time.Microsecond))
}

// dbTask is a task row read directly from tasks.db.
type dbTask struct {
	status, assignee string
	version          int64
}

// readTasks reads every task straight from the project's file (read-only,
// WAL included), as no server sees it.
func readTasks(t *testing.T, project string) map[string]dbTask {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+tasksDB(project)+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT id, status, IFNULL(assignee, ''), version FROM tasks`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]dbTask{}
	for rows.Next() {
		var id string
		var r dbTask
		if err := rows.Scan(&id, &r.status, &r.assignee, &r.version); err != nil {
			t.Fatal(err)
		}
		out[id] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkBurst asserts what every burst must show: no tool error at all (so
// none mentioning SQLITE_BUSY), no task told claimed twice, and every
// acknowledged claim in the database under the agent that was told.
func checkBurst(t *testing.T, b *burst, db map[string]dbTask) {
	t.Helper()
	for _, e := range b.errs {
		if busyText(e) {
			t.Errorf("SQLite's lock error reached a tool result: %s", e)
		}
	}
	if len(b.errs) > 0 {
		t.Fatalf("%d claims failed, first: %s", len(b.errs), b.errs[0])
	}
	if len(b.dupes) > 0 {
		t.Fatalf("claimed twice: %v", b.dupes)
	}
	for id, agent := range b.claimedBy {
		r, ok := db[id]
		if !ok || r.status != "in_progress" || r.assignee != agent {
			t.Errorf("task %s: %s was told it claimed it, the database has %+v (present %v)", id, agent, r, ok)
		}
	}
}

// noBusyInLogs fails when a server logged SQLite's lock error: it would mean
// a call met it, even if the answer hid it.
func noBusyInLogs(t *testing.T, ps []*proc) {
	t.Helper()
	for i, p := range ps {
		if s := p.stderr.String(); busyText(s) {
			t.Errorf("server %d logged SQLite's lock error:\n%s", i, tail(s, 3000))
		}
	}
}

// Four processes × 8 agents claim 400 tasks until none is left: each task is
// claimed exactly once, and no call fails.
func TestMultiprocessSQLiteClaimsAreExactlyOnce(t *testing.T) {
	project := newProject(t)
	ps := startProcs(t, project, mpProcs, procOpts{fast: true})
	ctx := ctxT(t)
	seedTasks(t, ctx, ps[0], project, mpTasks)
	warm(t, ctx, ps, project)

	b := claimAll(ctx, ps, project, func(int) bool { return false })
	b.report(t, fmt.Sprintf("%d processes × %d agents", mpProcs, mpAgents))
	db := readTasks(t, project)
	checkBurst(t, b, db)
	if len(b.claimedBy) != mpTasks || len(db) != mpTasks {
		t.Fatalf("%d claims acknowledged, %d tasks in the database; want %d of each", len(b.claimedBy), len(db), mpTasks)
	}
	t.Logf("claims per process: %v", b.ackedBy(mpProcs))
	noBusyInLogs(t, ps)
}

// The same burst with one process SIGKILLed in the middle: the others finish,
// every task is claimed once, and what the killed process acknowledged is in
// the database.
func TestMultiprocessSQLiteClaimsSurviveAProcessKilledMidBurst(t *testing.T) {
	project := newProject(t)
	ps := startProcs(t, project, mpProcs, procOpts{fast: true})
	ctx := ctxT(t)
	seedTasks(t, ctx, ps[0], project, mpTasks)
	warm(t, ctx, ps, project)

	// The victim is the process with the most acknowledged claims when a
	// quarter of the tasks are acknowledged, so that it dies with claims of
	// its own behind it and more in flight.
	var victim atomic.Int64
	victim.Store(-1)
	b := newBurst()
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		b.run(ctx, ps, project, func(i int) bool { return int64(i) == victim.Load() })
	}()
	killedAt := 0
	func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-finished:
				t.Fatalf("the burst ended (%d claims) before the kill; the test needs a longer burst", b.acked())
			case <-tick.C:
			}
			if n := b.acked(); n >= mpTasks/4 {
				per := b.ackedBy(mpProcs)
				v := 0
				for i := range per {
					if per[i] > per[v] {
						v = i
					}
				}
				killedAt = n
				victim.Store(int64(v))
				if err := ps[v].cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				return
			}
		}
	}()
	<-finished
	v := int(victim.Load())
	b.report(t, fmt.Sprintf("%d processes × %d agents, process %d SIGKILLed at %d acknowledged claims", mpProcs, mpAgents, v, killedAt))
	db := readTasks(t, project)
	checkBurst(t, b, db)
	if len(db) != mpTasks {
		t.Fatalf("%d tasks in the database, want %d", len(db), mpTasks)
	}
	unacked := 0
	for id, r := range db {
		if r.status != "in_progress" {
			t.Errorf("task %s is %s after the burst: the surviving processes left it unclaimed", id, r.status)
			continue
		}
		if _, ok := b.claimedBy[id]; !ok {
			if !strings.HasPrefix(r.assignee, fmt.Sprintf("p%d-", v)) {
				t.Errorf("task %s is claimed by %s in the database but nobody was told", id, r.assignee)
			}
			unacked++
		}
	}
	victimAcked := 0
	for _, agent := range b.claimedBy {
		if strings.HasPrefix(agent, fmt.Sprintf("p%d-", v)) {
			victimAcked++
		}
	}
	t.Logf("the killed process: %d claims acknowledged (all in the database), %d claimed but never acknowledged, %d calls cut off",
		victimAcked, unacked, b.gone.Load())
	if victimAcked == 0 {
		t.Errorf("the killed process had no acknowledged claim: the test did not kill a process that was claiming")
	}
	noBusyInLogs(t, slices.Delete(slices.Clone(ps), v, v+1))
}

// Claims, updates, completions and creations from four processes at once: no
// call fails, and every task's version counts exactly the changes made to it.
func TestMultiprocessSQLiteMixedWritesKeepVersionsConsistent(t *testing.T) {
	project := newProject(t)
	ps := startProcs(t, project, mpProcs, procOpts{fast: true})
	ctx := ctxT(t)
	const seeded = 200
	seedTasks(t, ctx, ps[0], project, seeded)
	warm(t, ctx, ps, project)

	var (
		mu      sync.Mutex
		errs    []string
		created = map[string]bool{}
		done    = map[string]string{} // task -> agent that completed it
		calls   atomic.Int64
		wg      sync.WaitGroup
	)
	fail := func(s string) {
		mu.Lock()
		errs = append(errs, s)
		mu.Unlock()
	}
	begin := time.Now()
	for pi, p := range ps {
		for a := range mpAgents {
			agent := fmt.Sprintf("p%d-agent-%d", pi, a)
			wg.Add(1)
			go func() {
				defer wg.Done()
				call := func(name string, args map[string]any, out any) bool {
					args["workspace"] = project
					calls.Add(1)
					res, err := mpCall(ctx, p, name, args)
					switch {
					case err != nil:
						fail(fmt.Sprintf("%s %s: transport: %v", agent, name, err))
						return false
					case res.IsError:
						fail(fmt.Sprintf("%s %s: %s", agent, name, text(res)))
						return false
					}
					if err := decodeInto(res, out); err != nil {
						fail(fmt.Sprintf("%s %s: decoding: %v", agent, name, err))
						return false
					}
					return true
				}
				for i := 0; ; i++ {
					if i%4 == 1 {
						var c taskOut
						if !call("task_create", map[string]any{"title": agent + fmt.Sprintf(" new %d", i)}, &c) {
							return
						}
						mu.Lock()
						created[c.Task.ID] = true
						mu.Unlock()
					}
					var cl taskOut
					if !call("task_claim", map[string]any{"agent": agent}, &cl) {
						return
					}
					if cl.Task == nil {
						return
					}
					var up taskOut
					if !call("task_update", map[string]any{"id": cl.Task.ID, "version": cl.Task.Version,
						"description": "worked on by " + agent, "agent": agent}, &up) {
						return
					}
					if up.Task.Version != cl.Task.Version+1 {
						fail(fmt.Sprintf("%s: task_update of %s at version %d gave version %d", agent, cl.Task.ID, cl.Task.Version, up.Task.Version))
					}
					var cp taskOut
					if !call("task_complete", map[string]any{"id": cl.Task.ID, "summary": "done by " + agent, "agent": agent}, &cp) {
						return
					}
					if cp.Task.Version != up.Task.Version+1 || cp.Task.Status != "completed" {
						fail(fmt.Sprintf("%s: task_complete of %s gave %s at version %d, want completed at %d",
							agent, cl.Task.ID, cp.Task.Status, cp.Task.Version, up.Task.Version+1))
					}
					mu.Lock()
					if prev, ok := done[cl.Task.ID]; ok {
						errs = append(errs, fmt.Sprintf("%s completed by %s and %s", cl.Task.ID, prev, agent))
					}
					done[cl.Task.ID] = agent
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	elapsed := time.Since(begin)
	t.Logf("%d processes × %d agents: %d calls (claim, update, complete, create) in %v (%.0f calls/s)",
		mpProcs, mpAgents, calls.Load(), elapsed.Round(time.Millisecond), float64(calls.Load())/elapsed.Seconds())
	for _, e := range errs {
		if busyText(e) {
			t.Errorf("SQLite's lock error reached a tool result: %s", e)
		}
	}
	if len(errs) > 0 {
		t.Fatalf("%d failures, first: %s", len(errs), errs[0])
	}
	// Tasks created after the last claim of every agent may be left pending;
	// every other task went created (1) → claimed (2) → updated (3) → completed (4).
	db := readTasks(t, project)
	if len(db) != seeded+len(created) {
		t.Fatalf("%d tasks in the database, want %d seeded + %d created", len(db), seeded, len(created))
	}
	for id, r := range db {
		switch {
		case r.status == "completed" && r.version == 4 && r.assignee == done[id]:
		case r.status == "pending" && r.version == 1 && created[id]:
		default:
			t.Errorf("task %s: %+v in the database (completed by %q); want completed at version 4, or a late creation pending at 1", id, r, done[id])
		}
	}
	if len(done) < seeded {
		t.Errorf("%d tasks completed, want at least the %d seeded", len(done), seeded)
	}
	noBusyInLogs(t, ps)
}

// A program outside the servers (a backup, the migrate command, a stuck
// process) holds tasks.db's write lock for longer than SQLite's busy_timeout:
// the claims made meanwhile wait and succeed, none answers "database is locked".
func TestMultiprocessSQLiteClaimsWaitOutAnOutsideWriter(t *testing.T) {
	project := newProject(t)
	// busy_timeout at its minimum, 1 s; the lock is held 2.5 s.
	ps := startProcs(t, project, 2, procOpts{fast: true, globalConfig: `{"server": {"sqlite_busy_timeout": 1}}`})
	ctx := ctxT(t)
	seedTasks(t, ctx, ps[0], project, 40)
	warm(t, ctx, ps, project)

	db, err := sql.Open("sqlite", "file:"+tasksDB(project)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	release := time.AfterFunc(2500*time.Millisecond, func() { _, _ = conn.ExecContext(context.Background(), "ROLLBACK") })
	defer release.Stop()

	b := claimAll(ctx, ps, project, func(int) bool { return false })
	b.report(t, "2 processes × 8 agents behind a 2.5 s outside lock")
	rows := readTasks(t, project)
	checkBurst(t, b, rows)
	if len(b.claimedBy) != 40 {
		t.Fatalf("%d claims acknowledged, want 40", len(b.claimedBy))
	}
}

// Server processes that open a new project at once agree on its stable id;
// one SIGKILLed mid-work changes nothing, and a process started after it
// finds the same id (issue 18: the id, not the path, names a project).
func TestProcessesAgreeOnTheProjectIDAndAKilledOneChangesNothing(t *testing.T) {
	project := newProject(t)
	ps := []*proc{start(t, procOpts{dir: project}), start(t, procOpts{dir: project}), start(t, procOpts{dir: project})}
	ctx := ctxT(t)
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Go(func() { p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "first"}, nil) })
	}
	wg.Wait()
	idOf := func(p *proc) string {
		var info struct {
			ProjectID string `json:"project_id"`
		}
		p.ok(ctx, "workspace_info", map[string]any{"workspace": project}, &info)
		return info.ProjectID
	}
	id := idOf(ps[0])
	file, err := os.ReadFile(filepath.Join(project, ".task_orchestrator", "project_id"))
	if err != nil || string(file) != id+"\n" || !strings.HasPrefix(id, "prj_") {
		t.Fatalf("project_id %q; file %q (%v)", id, file, err)
	}
	for i, p := range ps[1:] {
		if got := idOf(p); got != id {
			t.Fatalf("process %d says %q, process 0 %q", i+1, got, id)
		}
	}
	if err := ps[1].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = ps[1].cmd.Wait()
	late := start(t, procOpts{dir: project})
	late.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "after the kill"}, nil)
	if got := idOf(late); got != id {
		t.Fatalf("a process started after the SIGKILL says %q, want %q", got, id)
	}
}
