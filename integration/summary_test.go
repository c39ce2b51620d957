package integration

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// task_summary over the real binary (issue 13): the project at a glance in
// a small answer, right about a 1,000-task project with work in progress,
// completed work and expired claims.

type summaryOut struct {
	Total   int            `json:"total"`
	Counts  map[string]int `json:"counts"`
	Ready   int            `json:"ready"`
	Blocked []struct {
		ID        string   `json:"id"`
		WaitingOn []string `json:"waiting_on"`
	} `json:"blocked"`
	BlockedMore int `json:"blocked_more"`
	Agents      []struct {
		Agent     string   `json:"agent"`
		Tasks     []string `json:"tasks"`
		LeaseAgeS int64    `json:"lease_age_s"`
	} `json:"agents"`
	AgentsMore int `json:"agents_more"`
	Expired    []struct {
		ID       string `json:"id"`
		Agent    string `json:"agent"`
		ExpiredS int64  `json:"expired_s"`
	} `json:"expired_leases"`
	ExpiredMore int `json:"expired_leases_more"`
	Parents     []struct {
		ID    string `json:"id"`
		Done  int    `json:"done"`
		Total int    `json:"total"`
	} `json:"parents"`
	ParentsMore int `json:"parents_more"`
	Oldest      []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		IdleS  int64  `json:"idle_s"`
	} `json:"oldest_open"`
	OldestMore int `json:"oldest_open_more"`
}

func isOpen(status string) bool {
	return status == "pending" || status == "in_progress" || status == "blocked"
}

// A 1,000-task project (two plans of 500; the second names tasks of the
// first by id) with 40 tasks completed, 20 under live claims of five agents
// and 6 whose claims (three silent agents, 1-second leases) have expired:
// task_summary's default view is under 2 KB of JSON, and every count in it
// agrees with the tasks as task_list shows them.
func TestSummaryOfA1000TaskProjectIsSmallAndRight(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1000))
	project := newProject(t)
	p := start(t, procOpts{dir: project})
	ctx := ctxT(t)

	first := newDAGPlan(rng, "a", 500, 700, 20, nil)
	var a planOut
	p.ok(ctx, "task_plan", map[string]any{"workspace": project, "tasks": first.args()}, &a)
	second := newDAGPlan(rng, "b", 500, 700, 20, []string{a.IDs["a-010"], a.IDs["a-200"], a.IDs["a-479"]})
	var b planOut
	p.ok(ctx, "task_plan", map[string]any{"workspace": project, "tasks": second.args()}, &b)

	// 40 tasks claimed and completed, one by one.
	for range 40 {
		c := p.claim(ctx, project, "closer", 600, map[string]any{"role": "writer"})
		if c == nil {
			t.Fatal("nothing ready for the closer")
		}
		p.ok(ctx, "task_complete", map[string]any{"workspace": project, "id": c.ID, "agent": "closer", "summary": "done"}, nil)
	}
	// 20 under live claims, 6 under claims that will expire.
	held := map[string]string{}
	for k := range 5 {
		agent := []string{"ann", "bob", "cid", "dee", "eve"}[k]
		for range 4 {
			c := p.claim(ctx, project, agent, 600, nil)
			if c == nil {
				t.Fatalf("nothing ready for %s", agent)
			}
			held[c.ID] = agent
		}
	}
	var lastLease time.Time
	ghosts := map[string]string{}
	for k := range 3 {
		agent := []string{"ghost-1", "ghost-2", "ghost-3"}[k]
		for range 2 {
			c := p.claim(ctx, project, agent, 1, nil)
			if c == nil {
				t.Fatalf("nothing ready for %s", agent)
			}
			ghosts[c.ID] = agent
			lastLease = *c.LeaseExpiresAt
		}
	}
	sleepUntil(lastLease.Add(1500 * time.Millisecond))

	// What the summary must say, worked out from task_list.
	all := allTasks(t, ctx, p, project, nil)
	if len(all) != 1000 {
		t.Fatalf("task_list holds %d tasks, want 1000", len(all))
	}
	byID := map[string]leasedTask{}
	for _, x := range all {
		byID[x.ID] = x
	}
	kids := map[string][]string{}
	for _, x := range all {
		if x.ParentID != nil {
			kids[*x.ParentID] = append(kids[*x.ParentID], x.ID)
		}
	}
	now := time.Now()
	counts := map[string]int{}
	ready, blocked, openParents := 0, map[string][]string{}, map[string][2]int{}
	for _, x := range all {
		counts[x.Status]++
		var waiting []string
		for _, d := range x.DependsOn {
			if byID[d].Status != "completed" {
				waiting = append(waiting, d)
			}
		}
		done, open := 0, 0
		for _, k := range kids[x.ID] {
			switch st := byID[k].Status; {
			case isOpen(st):
				open++
				waiting = append(waiting, k)
			case st == "completed":
				done++
			}
		}
		if open > 0 {
			openParents[x.ID] = [2]int{done, len(kids[x.ID])}
		}
		expired := x.Status == "in_progress" && x.LeaseExpiresAt != nil && x.LeaseExpiresAt.Before(now)
		if (x.Status == "pending" || expired) && len(waiting) == 0 {
			ready++
		}
		if isOpen(x.Status) && len(waiting) > 0 {
			blocked[x.ID] = waiting
		}
	}

	var sum summaryOut
	var size int
	var times []time.Duration
	for range 5 {
		t0 := time.Now()
		res := p.call(ctx, "task_summary", map[string]any{"workspace": project})
		times = append(times, time.Since(t0))
		if res.IsError {
			t.Fatalf("task_summary: %s", text(res))
		}
		raw, err := json.Marshal(res.StructuredContent)
		if err != nil {
			t.Fatal(err)
		}
		size = len(raw)
		decode(t, res, &sum)
	}
	slices.Sort(times)
	full := p.call(ctx, "task_summary", map[string]any{"workspace": project, "limit": 10})
	fullRaw, _ := json.Marshal(full.StructuredContent)
	t.Logf("task_summary of 1,000 tasks: default view %d bytes of JSON (limit 10: %d bytes); call time median %v, max %v (5 calls)",
		size, len(fullRaw), times[2].Round(10*time.Microsecond), times[4].Round(10*time.Microsecond))
	raw, _ := json.Marshal(sum)
	t.Logf("summary: %s", raw)
	if size >= 2048 {
		t.Errorf("task_summary's default view is %d bytes of JSON, want under 2048", size)
	}

	if sum.Total != 1000 {
		t.Errorf("total %d, want 1000", sum.Total)
	}
	for st, n := range counts {
		if sum.Counts[st] != n {
			t.Errorf("counts[%s] = %d, want %d (all counts %v, want %v)", st, sum.Counts[st], n, sum.Counts, counts)
		}
	}
	if counts["completed"] != 40 || counts["in_progress"] != 26 {
		t.Errorf("task_list shows %v; the test completed 40 and claimed 26", counts)
	}
	if sum.Ready != ready {
		t.Errorf("ready %d, want %d (pending or expired, every dependency completed, no open subtask)", sum.Ready, ready)
	}
	if n := len(sum.Blocked) + sum.BlockedMore; n != len(blocked) {
		t.Errorf("blocked: %d listed + %d more, want %d in all", len(sum.Blocked), sum.BlockedMore, len(blocked))
	}
	for _, e := range sum.Blocked {
		want, ok := blocked[e.ID]
		if !ok {
			t.Errorf("blocked lists %s, which waits for nothing (%+v)", e.ID, byID[e.ID])
			continue
		}
		for _, w := range e.WaitingOn {
			if !slices.Contains(want, w) {
				t.Errorf("blocked %s waits on %s, which is not one of its unfinished dependencies or open subtasks %v", e.ID, w, want)
			}
		}
		if len(e.WaitingOn) == 0 {
			t.Errorf("blocked %s lists nothing it waits on", e.ID)
		}
	}
	if n := len(sum.Expired) + sum.ExpiredMore; n != len(ghosts) {
		t.Errorf("expired leases: %d listed + %d more, want %d", len(sum.Expired), sum.ExpiredMore, len(ghosts))
	}
	for _, e := range sum.Expired {
		if ghosts[e.ID] != e.Agent {
			t.Errorf("expired lease %+v: that task was claimed by %q", e, ghosts[e.ID])
		}
	}
	if n := len(sum.Parents) + sum.ParentsMore; n != len(openParents) {
		t.Errorf("parents: %d listed + %d more, want %d parents with open subtasks", len(sum.Parents), sum.ParentsMore, len(openParents))
	}
	for _, e := range sum.Parents {
		if w, ok := openParents[e.ID]; !ok || w != [2]int{e.Done, e.Total} {
			t.Errorf("parent %s: %d of %d done; task_list says %v (a parent with open subtasks: %v)", e.ID, e.Done, e.Total, w, ok)
		}
	}
	live := map[string]bool{}
	for _, a := range held {
		live[a] = true
	}
	if n := len(sum.Agents) + sum.AgentsMore; n < len(live) || n > len(live)+3 {
		t.Errorf("agents: %d listed + %d more; want the %d agents holding live claims (and at most the 3 silent ones)", len(sum.Agents), sum.AgentsMore, len(live))
	}
	for _, e := range sum.Agents {
		for _, id := range e.Tasks {
			if held[id] != e.Agent && ghosts[id] != e.Agent {
				t.Errorf("agents: %s holds %s, but that task was claimed by %q", e.Agent, id, held[id]+ghosts[id])
			}
		}
	}
	for i, e := range sum.Oldest {
		if !isOpen(byID[e.ID].Status) {
			t.Errorf("oldest_open lists %s, which is %s", e.ID, byID[e.ID].Status)
		}
		if i > 0 && e.IdleS > sum.Oldest[i-1].IdleS {
			t.Errorf("oldest_open is not the longest untouched first: %+v", sum.Oldest)
		}
	}
	for name, n := range map[string]int{"blocked": len(sum.Blocked), "agents": len(sum.Agents), "expired_leases": len(sum.Expired),
		"parents": len(sum.Parents), "oldest_open": len(sum.Oldest)} {
		if n > 10 {
			t.Errorf("%s lists %d entries, want at most 10", name, n)
		}
	}
	if len(sum.Oldest)+sum.OldestMore == 0 {
		t.Errorf("oldest_open is empty on a project with %d open tasks", 1000-counts["completed"])
	}
	t.Logf("expected: counts %v, ready %d, blocked %d, parents with open subtasks %d, live agents %d, expired %d",
		counts, ready, len(blocked), len(openParents), len(live), len(ghosts))
}
