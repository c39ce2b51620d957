package integration

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The chaos test of issue 13: 32 agents work through 300 tasks with
// dependencies on three server processes of one project, with 3-second
// leases. A third of the agents die at random moments (they stop calling
// forever, holding their task) and one server process is SIGKILLed mid-run
// (its agents lose their connection; they come back on a surviving process
// as new agents). The survivors claim until everything is completed. Every
// task must end completed exactly once, by the agent holding it, and
// nothing may be left in progress.

const (
	chaosTasks  = 300
	chaosAgents = 32
	chaosProcs  = 3
	chaosLease  = 3 // seconds
	chaosBound  = 4 * time.Minute
)

// chaosRun is what the agents saw, shared under mu.
type chaosRun struct {
	mu        sync.Mutex
	acked     map[string][]string // task -> agents told their task_complete succeeded
	unknown   map[string][]string // task -> agents whose task_complete was cut off by the kill
	refused   map[string][]string // task -> agents whose write was refused with lease_held
	deadHeld  map[string]string   // task -> the dead agent that held it when it died
	errs      []string
	slow      []string // refusals after a takeover, with how long after the claim
	claims    int
	calls     atomic.Int64
	completed atomic.Int64 // acknowledged completions
	deaths    int
	reborn    int
}

func (r *chaosRun) fail(format string, args ...any) {
	r.mu.Lock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

// takenOver says whether a refusal is the one a slow agent gets once its
// claim was taken over: lease_held while the new holder works on it, or
// invalid_transition once the new holder has completed it.
func takenOver(msg, id string) bool {
	return strings.HasPrefix(msg, "lease_held: your claim on "+id+" expired at ") ||
		strings.HasPrefix(msg, "invalid_transition: task "+id+" is completed")
}

// countCompleted reads how many tasks are completed straight from tasks.db.
func countCompleted(project string) (int, error) {
	db, err := sql.Open("sqlite", "file:"+tasksDB(project)+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int
	err = db.QueryRow(`SELECT count(*) FROM tasks WHERE status = 'completed'`).Scan(&n)
	return n, err
}

func TestChaos32AgentsThrough300TasksWhileAgentsAndAProcessDie(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("IT_CHAOS_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (IT_CHAOS_SEED=%d repeats the plan, the deaths and the work times)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 32))
	project := newProject(t)
	ps := startProcs(t, project, chaosProcs, procOpts{})
	setup := ctxT(t)

	// 300 tasks, each depending on 0 to 2 of the 30 before it.
	ids := make([]string, chaosTasks)
	nDeps := 0
	for i := range chaosTasks {
		var deps []string
		for range rng.IntN(3) {
			if i == 0 {
				break
			}
			d := ids[max(0, i-30)+rng.IntN(min(i, 30))]
			if !slices.Contains(deps, d) {
				deps = append(deps, d)
			}
		}
		nDeps += len(deps)
		var c taskOut
		ps[0].ok(setup, "task_create", map[string]any{"workspace": project, "title": fmt.Sprintf("chaos %03d", i),
			"priority": []string{"low", "medium", "high", "critical"}[rng.IntN(4)], "depends_on": deps}, &c)
		ids[i] = c.Task.ID
	}
	warm(t, setup, ps, project)
	t.Logf("%d tasks with %d dependencies on %d processes", chaosTasks, nDeps, chaosProcs)

	// A third of the agents are doomed: each dies holding its first to fourth
	// task, right after the claim or right after the heartbeat. The count is
	// of claims, not completions: a doomed agent whose heartbeat is refused
	// after a takeover (a slow machine) still reaches its death long before
	// the 300 tasks run out.
	type plan struct {
		doomed    bool
		dieAfter  int
		dieStage  int // 0: after the claim; 1: after the heartbeat
		workTimes []time.Duration
		idle      []time.Duration
	}
	plans := make([]plan, chaosAgents)
	for _, a := range rng.Perm(chaosAgents)[:chaosAgents/3] {
		plans[a].doomed = true
		plans[a].dieAfter = rng.IntN(4)
		plans[a].dieStage = rng.IntN(2)
	}
	for a := range plans {
		for range 400 {
			plans[a].workTimes = append(plans[a].workTimes, time.Duration(50+rng.IntN(251))*time.Millisecond)
			plans[a].idle = append(plans[a].idle, time.Duration(150+rng.IntN(200))*time.Millisecond)
		}
	}
	const victim = chaosProcs - 1
	var killed atomic.Bool

	ctx, cancel := context.WithTimeout(context.Background(), chaosBound)
	defer cancel()
	run := &chaosRun{acked: map[string][]string{}, unknown: map[string][]string{}, refused: map[string][]string{}, deadHeld: map[string]string{}}
	done := make(chan struct{})
	begin := time.Now()
	var wg sync.WaitGroup
	for a := range chaosAgents {
		wg.Go(func() {
			pl := plans[a]
			name := fmt.Sprintf("agent-%02d", a)
			cur := a % chaosProcs
			claimed, step := 0, 0
			// gone reports a transport error: on the killed process, the agent
			// comes back on a surviving one under a new name (a new session).
			gone := func(err error, what string) bool {
				if ctx.Err() != nil {
					return true
				}
				if cur == victim && killed.Load() {
					cur = a % (chaosProcs - 1)
					name += "-r"
					run.mu.Lock()
					run.reborn++
					run.mu.Unlock()
					return false
				}
				run.fail("%s %s on process %d: transport error: %v", name, what, cur, err)
				return true
			}
			for {
				select {
				case <-done:
					return
				case <-ctx.Done():
					return
				default:
				}
				step++
				run.calls.Add(1)
				res, err := mpCall(ctx, ps[cur], "task_claim", map[string]any{"workspace": project, "agent": name, "lease_seconds": chaosLease})
				if err != nil {
					if gone(err, "task_claim") {
						return
					}
					continue
				}
				if res.IsError {
					run.fail("%s task_claim: %s", name, text(res))
					return
				}
				var cl leasedOut
				if err := decodeInto(res, &cl); err != nil {
					run.fail("%s task_claim: decoding: %v", name, err)
					return
				}
				if cl.Task == nil {
					select {
					case <-done:
						return
					case <-ctx.Done():
						return
					case <-time.After(pl.idle[step%len(pl.idle)]):
					}
					continue
				}
				id := cl.Task.ID
				claimedAt := time.Now()
				run.mu.Lock()
				run.claims++
				run.mu.Unlock()
				claimed++
				dies := pl.doomed && claimed > pl.dieAfter
				die := func() {
					run.mu.Lock()
					run.deaths++
					run.deadHeld[id] = name
					run.mu.Unlock()
				}
				if dies && pl.dieStage == 0 {
					die()
					return
				}
				work := pl.workTimes[step%len(pl.workTimes)]
				time.Sleep(work / 2)
				run.calls.Add(1)
				res, err = mpCall(ctx, ps[cur], "task_heartbeat", map[string]any{"workspace": project, "id": id, "agent": name})
				if err != nil {
					if gone(err, "task_heartbeat") {
						return
					}
					continue // the task is left to its lease
				}
				if res.IsError {
					if takenOver(text(res), id) {
						run.mu.Lock()
						run.refused[id] = append(run.refused[id], name)
						run.slow = append(run.slow, fmt.Sprintf("%s's heartbeat of %s %v after its claim: %s", name, id, time.Since(claimedAt).Round(time.Millisecond), text(res)))
						run.mu.Unlock()
						continue // taken over while we were slow: let it go
					}
					run.fail("%s task_heartbeat %s: %s", name, id, text(res))
					return
				}
				if dies && pl.dieStage == 1 {
					die()
					return
				}
				time.Sleep(work - work/2)
				run.calls.Add(1)
				res, err = mpCall(ctx, ps[cur], "task_complete", map[string]any{"workspace": project, "id": id, "agent": name,
					"summary": "done by " + name})
				if err != nil {
					run.mu.Lock()
					run.unknown[id] = append(run.unknown[id], name)
					run.mu.Unlock()
					if gone(err, "task_complete") {
						return
					}
					continue
				}
				if res.IsError {
					if takenOver(text(res), id) {
						run.mu.Lock()
						run.refused[id] = append(run.refused[id], name)
						run.slow = append(run.slow, fmt.Sprintf("%s's task_complete of %s %v after its claim: %s", name, id, time.Since(claimedAt).Round(time.Millisecond), text(res)))
						run.mu.Unlock()
						continue
					}
					run.fail("%s task_complete %s: %s", name, id, text(res))
					return
				}
				var cp leasedOut
				if err := decodeInto(res, &cp); err != nil || cp.Task == nil || cp.Task.Status != "completed" || strp(cp.Task.Assignee) != name {
					run.fail("%s task_complete %s answered %s (%v)", name, id, toolText(res), err)
					return
				}
				run.mu.Lock()
				run.acked[id] = append(run.acked[id], name)
				run.mu.Unlock()
				run.completed.Add(1)
			}
		})
	}

	// The coordinator: kill the victim process once a third of the work is
	// acknowledged; end the run when tasks.db shows every task completed.
	var killedAt time.Duration
	var killedAtDone int64
	func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if !killed.Load() && run.completed.Load() >= chaosTasks/3 {
				killedAt, killedAtDone = time.Since(begin), run.completed.Load()
				killed.Store(true)
				if err := ps[victim].cmd.Process.Signal(syscall.SIGKILL); err != nil {
					run.fail("SIGKILL: %v", err)
				}
			}
			run.mu.Lock()
			nerr := len(run.errs)
			run.mu.Unlock()
			if nerr > 0 {
				return
			}
			if n, err := countCompleted(project); err == nil && n == chaosTasks {
				return
			}
		}
	}()
	elapsed := time.Since(begin)
	close(done)
	timedOut := ctx.Err() != nil
	cancel()
	wg.Wait()

	run.mu.Lock()
	defer run.mu.Unlock()
	verify := ps[0]
	vctx := ctxT(t)
	if timedOut {
		var sum summaryOut
		verify.ok(vctx, "task_summary", map[string]any{"workspace": project, "limit": 10}, &sum)
		t.Fatalf("the run did not finish within %v: %d tasks completed; summary %+v; first errors %v", chaosBound,
			sum.Counts["completed"], sum, run.errs[:min(len(run.errs), 5)])
	}
	if len(run.errs) > 0 {
		for _, e := range run.errs {
			if busyText(e) {
				t.Errorf("SQLite's lock error reached a tool result: %s", e)
			}
		}
		t.Fatalf("%d agent calls failed:\n%s", len(run.errs), strings.Join(run.errs[:min(len(run.errs), 10)], "\n"))
	}
	if !killed.Load() {
		t.Fatalf("the run ended before process %d was killed", victim)
	}

	// Every task completed exactly once, nothing left in progress.
	db := readTasks(t, project)
	statuses := map[string]int{}
	for id, r := range db {
		statuses[r.status]++
		if r.status != "completed" {
			t.Errorf("task %s is %s (assignee %q) after the run", id, r.status, r.assignee)
		}
	}
	if len(db) != chaosTasks {
		t.Fatalf("%d tasks in tasks.db, want %d", len(db), chaosTasks)
	}
	var sum summaryOut
	verify.ok(vctx, "task_summary", map[string]any{"workspace": project}, &sum)
	if sum.Total != chaosTasks || sum.Counts["completed"] != chaosTasks || sum.Counts["in_progress"] != 0 {
		t.Errorf("task_summary after the run: total %d, counts %v; want %d completed, none in progress", sum.Total, sum.Counts, chaosTasks)
	}

	// The history of every task: one completion, the last event, by the agent
	// holding the task, and told to that agent alone.
	reclaims, expiries, lates, takenFromDead := 0, 0, 0, 0
	for i, id := range ids {
		evs := taskHistory(t, vctx, ps[i%(chaosProcs-1)], project, id)
		holder, episodeExpiries := "", 0
		var completedBy []string
		deadClaimSeen, deadReclaimed := false, false
		for k, e := range evs {
			switch e.Event {
			case "claimed", "reclaimed":
				if e.Event == "reclaimed" {
					reclaims++
					if deadClaimSeen {
						deadReclaimed = true
					}
				}
				holder, episodeExpiries = e.Actor, 0
				if run.deadHeld[id] == e.Actor {
					deadClaimSeen = true
				}
			case "lease_renewed":
				// The holder renewed its run-out lease (a slow heartbeat): a
				// new lease, which may run out in its turn.
				if e.Actor != holder || !e.Late {
					t.Errorf("task %s: %v renewed a lease %s held: %v", id, e, holder, evs)
				}
				episodeExpiries = 0
			case "lease_expired":
				expiries++
				episodeExpiries++
				if episodeExpiries > 1 {
					t.Errorf("task %s: the lease of %s's claim is recorded expired twice: %v", id, holder, evs)
				}
			case "completed":
				completedBy = append(completedBy, e.Actor)
				if e.Late {
					lates++
				}
				if e.Actor != holder {
					t.Errorf("task %s: completed by %s while %s held it: %v", id, e.Actor, holder, evs)
				}
				if k != len(evs)-1 {
					t.Errorf("task %s: events after its completion: %v", id, evs)
				}
			case "failed", "released", "deleted":
				t.Errorf("task %s: unexpected %v in the history: %v", id, e, evs)
			}
		}
		if len(completedBy) != 1 {
			t.Errorf("task %s: %d completed events (%v), want exactly 1: %v", id, len(completedBy), completedBy, evs)
			continue
		}
		switch acked := run.acked[id]; {
		case len(acked) > 1:
			t.Errorf("task %s: task_complete succeeded for %v", id, acked)
		case len(acked) == 1 && acked[0] != completedBy[0]:
			t.Errorf("task %s: %s was told its completion succeeded, the history says %s completed it", id, acked[0], completedBy[0])
		case len(acked) == 0 && !slices.Contains(run.unknown[id], completedBy[0]):
			t.Errorf("task %s: completed by %s, who was never told so and whose call was not cut off", id, completedBy[0])
		}
		if slices.Contains(run.refused[id], completedBy[0]) && len(run.acked[id]) == 0 {
			t.Errorf("task %s: %s's write was refused (its claim taken over), yet it is recorded as completing it", id, completedBy[0])
		}
		if dead, ok := run.deadHeld[id]; ok {
			if !deadReclaimed {
				t.Errorf("task %s: held by %s when it died, but never reclaimed: %v", id, dead, evs)
			} else {
				takenFromDead++
			}
		}
	}
	refusedN := 0
	for _, r := range run.refused {
		refusedN += len(r)
	}
	t.Logf("chaos run: %d tasks completed in %v (seeding excluded) by %d agents on %d processes, lease %d s, %d tool calls, %d claims",
		chaosTasks, elapsed.Round(time.Millisecond), chaosAgents, chaosProcs, chaosLease, run.calls.Load(), run.claims)
	t.Logf("deaths: %d agents died holding a task (%d of those tasks taken over); process %d SIGKILLed at %v after %d acknowledged completions, %d of its agents came back on a survivor",
		run.deaths, takenFromDead, victim, killedAt.Round(time.Millisecond), killedAtDone, run.reborn)
	t.Logf("reclaims %d, lease expiries recorded %d, late completions %d, writes refused after a takeover %d, completions cut off by the kill %d",
		reclaims, expiries, lates, refusedN, len(run.unknown))
	for _, s := range run.slow {
		t.Logf("taken over while slow: %s", s)
	}
	if run.deaths < chaosAgents/3-2 {
		t.Errorf("only %d agents died holding a task; the test means a third of them to", run.deaths)
	}
	noBusyInLogs(t, ps[:victim])
}
