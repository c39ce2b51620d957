package sqlite_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// modelTask is what the test project holds for one task, kept in Go so the
// expected summary is computed without SQL.
type modelTask struct {
	id       string
	index    int // creation order
	prio     int // 1 low … 4 critical
	status   work.Status
	parent   int // -1: none
	deps     []int
	assignee string
	started  time.Time
	updated  time.Time
	lease    time.Time // zero: none
}

var prioNames = []string{"", "low", "medium", "high", "critical"}

// summaryProject is a realistic project of n tasks: epics of 11 subtasks, 0-3
// dependencies per task on earlier ones, random priorities, 40 % completed,
// some failed, cancelled and blocked, 20 agents holding 30 tasks under live
// leases and 14 tasks under expired ones, updated_at spread over a month.
type summaryProject struct {
	s     *sqlite.Store
	tasks []*modelTask
}

func buildProject(t testing.TB, n int, seed uint64) *summaryProject {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tasks.db")
	p := &summaryProject{s: openAt(t, path)}
	rng := rand.New(rand.NewPCG(seed, 1000))
	for i := range n {
		m := &modelTask{index: i, prio: 1 + rng.IntN(4), parent: -1, status: work.Pending}
		if i%12 != 0 {
			m.parent = i / 12 * 12
			for range rng.IntN(4) {
				if d := rng.IntN(i); d%12 != 0 && !slices.Contains(m.deps, d) && d != m.parent {
					m.deps = append(m.deps, d)
				}
			}
		}
		p.tasks = append(p.tasks, m)
	}
	// Create it in plans of at most 500; a later plan names earlier tasks by id.
	ref := func(i, from int) string {
		if i < from {
			return p.tasks[i].id
		}
		return fmt.Sprintf("r%d", i)
	}
	for from := 0; from < n; from += work.MaxPlanTasks {
		var plan []work.PlanTask
		for _, m := range p.tasks[from:min(n, from+work.MaxPlanTasks)] {
			pt := work.PlanTask{Ref: fmt.Sprintf("r%d", m.index), Title: fmt.Sprintf("task %d", m.index), Priority: prioNames[m.prio]}
			if m.parent >= 0 {
				pt.Parent = ref(m.parent, from)
			}
			for _, d := range m.deps {
				pt.DependsOn = append(pt.DependsOn, ref(d, from))
			}
			plan = append(plan, pt)
		}
		res, err := p.s.CreatePlan(ctx, resolve(plan), "builder")
		if err != nil {
			t.Fatalf("CreatePlan: %v", err)
		}
		for _, m := range p.tasks[from:min(n, from+work.MaxPlanTasks)] {
			m.id = res.IDs[fmt.Sprintf("r%d", m.index)]
		}
	}

	now := time.Now().UTC()
	agent := 0
	for _, m := range p.tasks {
		m.updated = now.Add(-time.Duration(rng.IntN(30*24*3600))*time.Second - time.Duration(m.index)*time.Millisecond)
		switch r := rng.IntN(100); {
		case m.index < n*4/10 && r < 92:
			m.status = work.Completed
		case r < 2:
			m.status = work.Failed
		case r < 4:
			m.status = work.Cancelled
		case r < 7:
			m.status = work.Blocked
		}
	}
	var pending []*modelTask
	for _, m := range p.tasks {
		if m.status == work.Pending {
			pending = append(pending, m)
		}
	}
	rng.Shuffle(len(pending), func(i, j int) { pending[i], pending[j] = pending[j], pending[i] })
	for i, m := range pending[:44] {
		m.status = work.InProgress
		m.started = now.Add(-time.Duration(60+rng.IntN(7200)) * time.Second)
		if i < 30 { // live: agents 0-19 hold 1 or 2 each
			m.assignee = fmt.Sprintf("agent-%02d", agent%20)
			agent++
			m.lease = now.Add(10 * time.Minute)
		} else { // expired, not reclaimed
			m.assignee = fmt.Sprintf("agent-%02d", 20+i)
			m.lease = now.Add(-time.Duration(10+rng.IntN(900)) * time.Second)
		}
	}

	db := rawDB(t, path)
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	ts := func(v time.Time) any {
		if v.IsZero() {
			return nil
		}
		return v.UTC().Format("2006-01-02T15:04:05.000000000Z")
	}
	for _, m := range p.tasks {
		var assignee any
		if m.assignee != "" {
			assignee = m.assignee
		}
		if _, err := tx.Exec(`UPDATE tasks SET status = ?, assignee = ?, started_at = ?, lease_expires_at = ?,
			lease_seconds = CASE WHEN ? IS NULL THEN NULL ELSE 600 END, updated_at = ? WHERE id = ?`,
			string(m.status), assignee, ts(m.started), ts(m.lease), ts(m.lease), ts(m.updated), m.id); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return p
}

// expect computes the summary from the model at time now, lists cut at limit.
// The seconds fields are left zero: the caller checks them separately.
func (p *summaryProject) expect(now time.Time, limit int) work.Summary {
	sum := work.Summary{Counts: map[work.Status]int{}, Blocked: []work.BlockedEntry{}, Agents: []work.AgentWork{},
		Expired: []work.ExpiredLease{}, Parents: []work.ParentRollup{}, Oldest: []work.OpenEntry{}}
	subs := map[int][]*modelTask{}
	for _, m := range p.tasks {
		if m.parent >= 0 {
			subs[m.parent] = append(subs[m.parent], m)
		}
	}
	held := func(m *modelTask) bool { return m.status == work.InProgress && m.lease.After(now) }
	expired := func(m *modelTask) bool { return m.status == work.InProgress && m.lease.Before(now) }
	waiting := func(m *modelTask) []string {
		var on []string
		for _, d := range m.deps {
			if p.tasks[d].status != work.Completed {
				on = append(on, p.tasks[d].id)
			}
		}
		for _, s := range subs[m.index] {
			if s.status.IsOpen() {
				on = append(on, s.id)
			}
		}
		slices.Sort(on)
		return on
	}
	var blocked, open, exp []*modelTask
	agents := map[string][]*modelTask{}
	for _, m := range p.tasks {
		sum.Total++
		sum.Counts[m.status]++
		w := waiting(m)
		if (m.status == work.Pending || expired(m)) && len(w) == 0 {
			sum.Ready++
		}
		if m.status.IsOpen() {
			open = append(open, m)
			if !held(m) && len(w) > 0 {
				blocked = append(blocked, m)
			}
		}
		if held(m) {
			agents[m.assignee] = append(agents[m.assignee], m)
		}
		if expired(m) {
			exp = append(exp, m)
		}
	}
	cut := func(n int) (int, int) { return min(n, limit), max(0, n-limit) }

	slices.SortStableFunc(blocked, func(a, b *modelTask) int { return cmp.Or(b.prio-a.prio, a.index-b.index) })
	var shown int
	shown, sum.BlockedMore = cut(len(blocked))
	for _, m := range blocked[:shown] {
		w := waiting(m)
		sum.Blocked = append(sum.Blocked, work.BlockedEntry{ID: m.id, WaitingOn: w[:min(3, len(w))], WaitingMore: max(0, len(w)-3)})
	}

	var names []string
	for a, ts := range agents {
		names = append(names, a)
		slices.SortFunc(ts, func(x, y *modelTask) int { return cmp.Or(x.started.Compare(y.started), strings.Compare(x.id, y.id)) })
	}
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(agents[a][0].started.Compare(agents[b][0].started), strings.Compare(a, b))
	})
	shown, sum.AgentsMore = cut(len(names))
	for _, a := range names[:shown] {
		w := work.AgentWork{Agent: a, Tasks: []string{}}
		for i, m := range agents[a] {
			if i < 3 {
				w.Tasks = append(w.Tasks, m.id)
			} else {
				w.TasksMore++
			}
		}
		sum.Agents = append(sum.Agents, w)
	}

	slices.SortFunc(exp, func(a, b *modelTask) int { return cmp.Or(a.lease.Compare(b.lease), strings.Compare(a.id, b.id)) })
	shown, sum.ExpiredMore = cut(len(exp))
	for _, m := range exp[:shown] {
		sum.Expired = append(sum.Expired, work.ExpiredLease{ID: m.id, Agent: m.assignee})
	}

	var parents []work.ParentRollup
	for _, m := range p.tasks {
		r := work.ParentRollup{ID: m.id}
		anyOpen := false
		for _, s := range subs[m.index] {
			r.Total++
			if s.status == work.Completed {
				r.Done++
			}
			anyOpen = anyOpen || s.status.IsOpen()
		}
		if anyOpen {
			parents = append(parents, r)
		}
	}
	shown, sum.ParentsMore = cut(len(parents))
	sum.Parents = parents[:shown]

	slices.SortFunc(open, func(a, b *modelTask) int { return cmp.Or(a.updated.Compare(b.updated), strings.Compare(a.id, b.id)) })
	shown, sum.OldestMore = cut(len(open))
	for _, m := range open[:shown] {
		sum.Oldest = append(sum.Oldest, work.OpenEntry{ID: m.id, Status: m.status})
	}
	return sum
}

// checkSeconds checks each seconds field of got against the model (between
// the times before and after the call) and zeroes it.
func (p *summaryProject) checkSeconds(t *testing.T, got *work.Summary, before, after time.Time) {
	t.Helper()
	byID := map[string]*modelTask{}
	byAgent := map[string]time.Time{}
	for _, m := range p.tasks {
		byID[m.id] = m
		if m.status == work.InProgress && m.lease.After(after) {
			if old, ok := byAgent[m.assignee]; !ok || m.started.Before(old) {
				byAgent[m.assignee] = m.started
			}
		}
	}
	within := func(what string, got int64, since time.Time) {
		lo, hi := int64(before.Sub(since)/time.Second), int64(after.Sub(since)/time.Second)+1
		if got < lo || got > hi {
			t.Errorf("%s = %d s, want %d to %d", what, got, lo, hi)
		}
	}
	for i := range got.Agents {
		a := &got.Agents[i]
		within("lease age of "+a.Agent, a.LeaseAgeS, byAgent[a.Agent])
		a.LeaseAgeS = 0
	}
	for i := range got.Expired {
		e := &got.Expired[i]
		within("expired_s of "+e.ID, e.ExpiredS, byID[e.ID].lease)
		e.ExpiredS = 0
	}
	for i := range got.Oldest {
		e := &got.Oldest[i]
		within("idle_s of "+e.ID, e.IdleS, byID[e.ID].updated)
		e.IdleS = 0
	}
}

// Four projects (four seeds), so that the size is not one lucky draw.
func TestSummaryOfA1000TaskProjectIsRightAndUnder2KB(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { testSummaryOf1000Tasks(t, seed) })
	}
}

func testSummaryOf1000Tasks(t *testing.T, seed uint64) {
	ctx := context.Background()
	p := buildProject(t, 1000, seed)
	for _, tc := range []struct{ ask, limit int }{{0, 3}, {4, 4}, {10, 10}, {50, 10}} {
		before := time.Now()
		got, err := p.s.Summary(ctx, work.SummaryOptions{ListLimit: tc.ask})
		after := time.Now()
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("list limit %d: %d bytes of JSON", tc.ask, len(b))
		if tc.ask == 0 {
			if len(b) >= 2048 {
				t.Errorf("the default view is %d bytes of JSON, want under 2048:\n%s", len(b), b)
			}
		}
		p.checkSeconds(t, &got, before, after)
		want := p.expect(before, tc.limit)
		if !reflect.DeepEqual(got, want) {
			gj, _ := json.MarshalIndent(got, "", " ")
			wj, _ := json.MarshalIndent(want, "", " ")
			t.Errorf("list limit %d: Summary =\n%s\nwant\n%s", tc.ask, gj, wj)
		}
		// The project is built to exercise every list past its limit.
		if want.BlockedMore == 0 || want.AgentsMore == 0 || want.ExpiredMore == 0 || want.ParentsMore == 0 || want.OldestMore == 0 {
			t.Fatalf("the test project leaves a list short of its limit: %+v", want)
		}
	}
}

func TestSummaryOfAnEmptyProjectShowsEmptyLists(t *testing.T) {
	s := openStore(t)
	got, err := s.Summary(context.Background(), work.SummaryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(got)
	want := `{"total":0,"counts":{},"ready":0,"blocked":[],"agents":[],"expired_leases":[],"parents":[],"oldest_open":[]}`
	if string(b) != want {
		t.Errorf("empty summary = %s\nwant %s", b, want)
	}
}

func TestSummaryCountsWhatBlocksAParentAndItsDependents(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	plan := []work.PlanTask{
		{Ref: "epic", Title: "epic"},
		{Ref: "a", Title: "a", Parent: "epic"},
		{Ref: "b", Title: "b", Parent: "epic", DependsOn: []string{"a"}},
		{Ref: "c", Title: "c", Parent: "epic"},
		{Ref: "after", Title: "after", DependsOn: []string{"epic"}, Priority: "critical"},
	}
	res, err := s.CreatePlan(ctx, resolve(plan), "")
	if err != nil {
		t.Fatal(err)
	}
	id := res.IDs
	setStatus(t, s, id["c"], "completed")
	got, err := s.Summary(ctx, work.SummaryOptions{StaleAfter: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	sorted := func(v ...string) []string { slices.Sort(v); return v }
	wantBlocked := []work.BlockedEntry{
		{ID: id["after"], WaitingOn: []string{id["epic"]}},
		{ID: id["epic"], WaitingOn: sorted(id["a"], id["b"])},
		{ID: id["b"], WaitingOn: []string{id["a"]}},
	}
	if !reflect.DeepEqual(got.Blocked, wantBlocked) {
		t.Errorf("blocked = %+v\nwant %+v (critical first, then in creation order)", got.Blocked, wantBlocked)
	}
	if got.Ready != 1 || got.Total != 5 || got.Counts[work.Pending] != 4 || got.Counts[work.Completed] != 1 {
		t.Errorf("ready %d, total %d, counts %v; want 1 ready (a), 5 tasks, 4 pending, 1 completed", got.Ready, got.Total, got.Counts)
	}
	if want := []work.ParentRollup{{ID: id["epic"], Done: 1, Total: 3}}; !reflect.DeepEqual(got.Parents, want) {
		t.Errorf("parents = %+v, want %+v", got.Parents, want)
	}
	if len(got.Oldest) != 0 || got.OldestMore != 0 {
		t.Errorf("with StaleAfter 1h, fresh tasks are listed as stale: %+v", got.Oldest)
	}
}
