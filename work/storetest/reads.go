package storetest

import (
	"cmp"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/clienterr"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// RunReads checks the project-wide reads: Summary, the completions of ids,
// labels and roles, and the dependency-graph reads.
func RunReads(t *testing.T, open func(t *testing.T) work.Store) {
	runAll(t, open, []test{
		{"SummaryCountsAndLists", summary},
		{"CompletionsByPrefix", completions},
		{"GraphReadsOfAKnownGraph", graphReads},
	})
}

func summary(e *env) {
	p := e.create(work.NewTask{Title: "p"})
	c1 := e.create(work.NewTask{Title: "c1", ParentID: p.ID})
	c2 := e.create(work.NewTask{Title: "c2", ParentID: p.ID})
	d := e.create(work.NewTask{Title: "d"})
	t := e.create(work.NewTask{Title: "t", DependsOn: []string{d.ID}})
	b := e.create(work.NewTask{Title: "b"})
	k := e.create(work.NewTask{Title: "k", Priority: "critical"})
	e.complete(c1.ID, work.Completion{})
	e.update(b.ID, 0, work.Patch{Status: ptr("blocked")})
	if id := e.claimID("agent-x"); id != k.ID {
		e.t.Fatalf("claim = %q, want %s", id, k.ID)
	}

	sum, err := e.s.Summary(e.ctx, work.SummaryOptions{ListLimit: 10})
	if err != nil {
		e.t.Fatalf("Summary: %v", err)
	}
	wantCounts := map[work.Status]int{work.Pending: 4, work.Completed: 1, work.Blocked: 1, work.InProgress: 1}
	if sum.Total != 7 || !reflect.DeepEqual(sum.Counts, wantCounts) || sum.Ready != 2 {
		e.t.Fatalf("Summary total %d, counts %v, ready %d; want 7, %v, 2", sum.Total, sum.Counts, sum.Ready, wantCounts)
	}
	wantBlocked := []work.BlockedEntry{{ID: p.ID, WaitingOn: []string{c2.ID}}, {ID: t.ID, WaitingOn: []string{d.ID}}}
	if !reflect.DeepEqual(sum.Blocked, wantBlocked) || sum.BlockedMore != 0 {
		e.t.Fatalf("Summary blocked = %+v (+%d), want %+v", sum.Blocked, sum.BlockedMore, wantBlocked)
	}
	if len(sum.Agents) != 1 || sum.Agents[0].Agent != "agent-x" || !slices.Equal(sum.Agents[0].Tasks, []string{k.ID}) ||
		sum.Agents[0].LeaseAgeS < 0 || sum.AgentsMore != 0 {
		e.t.Fatalf("Summary agents = %+v (+%d)", sum.Agents, sum.AgentsMore)
	}
	if len(sum.Expired) != 0 {
		e.t.Fatalf("Summary expired leases = %+v, want none", sum.Expired)
	}
	if want := []work.ParentRollup{{ID: p.ID, Done: 1, Total: 2}}; !reflect.DeepEqual(sum.Parents, want) {
		e.t.Fatalf("Summary parents = %+v, want %+v", sum.Parents, want)
	}
	type open struct {
		id string
		st work.Status
	}
	var oldest []open
	for _, o := range sum.Oldest {
		if o.IdleS < 0 {
			e.t.Fatalf("idle_s %d < 0", o.IdleS)
		}
		oldest = append(oldest, open{o.ID, o.Status})
	}
	wantOldest := []open{{p.ID, work.Pending}, {c2.ID, work.Pending}, {d.ID, work.Pending}, {t.ID, work.Pending},
		{b.ID, work.Blocked}, {k.ID, work.InProgress}}
	if !reflect.DeepEqual(oldest, wantOldest) {
		e.t.Fatalf("Summary oldest open = %+v, want (least recently changed first) %+v", oldest, wantOldest)
	}

	one, err := e.s.Summary(e.ctx, work.SummaryOptions{ListLimit: 1})
	if err != nil {
		e.t.Fatalf("Summary: %v", err)
	}
	if len(one.Blocked) != 1 || one.Blocked[0].ID != p.ID || one.BlockedMore != 1 || len(one.Oldest) != 1 ||
		one.Oldest[0].ID != p.ID || one.OldestMore != 5 || one.ParentsMore != 0 || one.AgentsMore != 0 || one.Total != 7 {
		e.t.Fatalf("Summary with lists of 1 = %+v", one)
	}
	stale, err := e.s.Summary(e.ctx, work.SummaryOptions{StaleAfter: time.Hour})
	if err != nil || len(stale.Oldest) != 0 || stale.OldestMore != 0 {
		e.t.Fatalf("Summary of work untouched for an hour = %+v, %v; want none", stale.Oldest, err)
	}
}

func (e *env) wantSuggestions(what string, got work.Suggestions, err error, total int, values ...string) {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("%s: %v", what, err)
	}
	if got.Total != total || !slices.Equal(got.Values, values) && (len(got.Values) != 0 || len(values) != 0) {
		e.t.Fatalf("%s = %v (total %d), want %v (total %d)", what, got.Values, got.Total, values, total)
	}
}

func completions(e *env) {
	login := e.create(work.NewTask{Title: "Fix login bug", Labels: []string{"backend", "bug"}, Role: "coder"})
	logout := e.create(work.NewTask{Title: "Fix logout", Labels: []string{"backend"}, Role: "coder"})
	docs := e.create(work.NewTask{Title: "Write docs", Labels: []string{"docs"}, Role: "writer"})

	got, err := e.s.CompleteLabels(e.ctx, "b", 10)
	e.wantSuggestions(`CompleteLabels("b")`, got, err, 2, "backend", "bug") // most used first
	got, err = e.s.CompleteLabels(e.ctx, "", 1)
	e.wantSuggestions(`CompleteLabels("", 1)`, got, err, 3, "backend")
	if !got.HasMore() {
		e.t.Fatal("HasMore is false with 1 of 3 labels shown")
	}
	got, err = e.s.CompleteLabels(e.ctx, "zz", 10)
	e.wantSuggestions(`CompleteLabels("zz")`, got, err, 0)

	got, err = e.s.CompleteRoles(e.ctx, "", 10)
	e.wantSuggestions(`CompleteRoles("")`, got, err, 2, "coder", "writer")
	got, err = e.s.CompleteRoles(e.ctx, "w", 10)
	e.wantSuggestions(`CompleteRoles("w")`, got, err, 1, "writer")

	// Ids complete from the id or the title's start, any case: open tasks
	// first, the most recently changed first.
	got, err = e.s.CompleteIDs(e.ctx, "fix", 10)
	e.wantSuggestions(`CompleteIDs("fix")`, got, err, 2, logout.ID, login.ID)
	got, err = e.s.CompleteIDs(e.ctx, "FIX LOG", 10)
	e.wantSuggestions(`CompleteIDs("FIX LOG")`, got, err, 2, logout.ID, login.ID)
	got, err = e.s.CompleteIDs(e.ctx, "login", 10)
	e.wantSuggestions(`CompleteIDs("login") (not the start of a title)`, got, err, 0)
	got, err = e.s.CompleteIDs(e.ctx, docs.ID, 10)
	e.wantSuggestions("CompleteIDs(an id)", got, err, 1, docs.ID)
	got, err = e.s.CompleteIDs(e.ctx, strings.ToUpper(docs.ID[:len(docs.ID)-1]), 10)
	e.wantSuggestions("CompleteIDs(an id's start in capitals)", got, err, 1, docs.ID)
	got, err = e.s.CompleteIDs(e.ctx, "", 2)
	e.wantSuggestions(`CompleteIDs("", 2)`, got, err, 3, docs.ID, logout.ID)
	e.complete(logout.ID, work.Completion{})
	got, err = e.s.CompleteIDs(e.ctx, "fix", 10)
	e.wantSuggestions(`CompleteIDs("fix") after one was completed`, got, err, 2, login.ID, logout.ID)
	got, err = e.s.CompleteIDs(e.ctx, "50%_", 10)
	e.wantSuggestions(`CompleteIDs("50%_") (wildcards are plain text)`, got, err, 0)
}

func graphReads(e *env) {
	p := e.create(work.NewTask{Title: "p"})
	a := e.create(work.NewTask{Title: "a", ParentID: p.ID})
	d := e.create(work.NewTask{Title: "d", ParentID: p.ID})
	b := e.create(work.NewTask{Title: "b", DependsOn: []string{a.ID}})
	c := e.create(work.NewTask{Title: "c", DependsOn: []string{b.ID, d.ID}, Priority: "low"})
	x := e.create(work.NewTask{Title: "x", Priority: "high"})
	f := e.create(work.NewTask{Title: "f", DependsOn: []string{x.ID, a.ID}})
	e.complete(d.ID, work.Completion{})
	x = e.update(x.ID, 0, work.Patch{Status: ptr("blocked")})
	gt := func(t work.Task) work.GraphTask {
		cur := e.task(t.ID)
		return work.GraphTask{ID: cur.ID, Title: cur.Title, Status: string(cur.Status), Priority: cur.Priority}
	}
	edge := func(task, on work.Task) work.DependencyEdge {
		return work.DependencyEdge{Task: task.ID, DependsOn: on.ID}
	}
	byEdge := func(v []work.DependencyEdge) []work.DependencyEdge {
		slices.SortFunc(v, func(x, y work.DependencyEdge) int {
			return cmp.Or(cmp.Compare(x.Task, y.Task), cmp.Compare(x.DependsOn, y.DependsOn))
		})
		return v
	}

	// c waits for b, which waits for a; d is completed, so it blocks nothing.
	wantBlockers := work.BlockerSet{
		Task:     gt(c),
		Blockers: []work.QueriedBlocker{{GraphTask: gt(b), Depth: 1}, {GraphTask: gt(a), Depth: 2}},
		Edges:    []work.DependencyEdge{edge(b, a), edge(c, b)},
	}
	wantBlockers.Edges = byEdge(wantBlockers.Edges)
	bs, err := e.s.Blockers(e.ctx, c.ID, openStatuses)
	if err != nil || !reflect.DeepEqual(bs, wantBlockers) {
		e.t.Fatalf("Blockers(c) = %+v, %v\nwant %+v", bs, err, wantBlockers)
	}
	if bs, err := e.s.Blockers(e.ctx, a.ID, openStatuses); err != nil || len(bs.Blockers) != 0 || len(bs.Edges) != 0 || bs.Task != gt(a) {
		e.t.Fatalf("Blockers(a) = %+v, %v; want a and nothing blocking it", bs, err)
	}

	// a's dependents: b (waiting on nothing else) and f (waiting on x too).
	wantDeps := []work.Dependent{{GraphTask: gt(b), Waiting: []string{}}, {GraphTask: gt(f), Waiting: []string{x.ID}}}
	slices.SortFunc(wantDeps, func(x, y work.Dependent) int { return cmp.Compare(x.ID, y.ID) })
	deps, err := e.s.Dependents(e.ctx, a.ID, openStatuses)
	if err != nil || !reflect.DeepEqual(deps, wantDeps) {
		e.t.Fatalf("Dependents(a) = %+v, %v\nwant %+v", deps, err, wantDeps)
	}
	deps, err = e.s.Dependents(e.ctx, d.ID, openStatuses)
	if want := []work.Dependent{{GraphTask: gt(c), Waiting: []string{b.ID}}}; err != nil || !reflect.DeepEqual(deps, want) {
		e.t.Fatalf("Dependents(d) = %+v, %v\nwant %+v", deps, err, want)
	}

	wantOpen := work.OpenGraph{
		Tasks: []work.GraphTask{gt(p), gt(a), gt(b), gt(c), gt(x), gt(f)},
		Edges: byEdge([]work.DependencyEdge{edge(b, a), edge(c, b), edge(f, x), edge(f, a)}),
	}
	slices.SortFunc(wantOpen.Tasks, func(x, y work.GraphTask) int { return cmp.Compare(x.ID, y.ID) })
	og, err := e.s.OpenGraph(e.ctx, openStatuses)
	if err != nil || !reflect.DeepEqual(og, wantOpen) {
		e.t.Fatalf("OpenGraph = %+v, %v\nwant %+v", og, err, wantOpen)
	}
	pendingOnly, err := e.s.OpenGraph(e.ctx, []string{"pending"})
	if err != nil || len(pendingOnly.Tasks) != 5 || len(pendingOnly.Edges) != 3 {
		e.t.Fatalf("OpenGraph(pending) = %+v, %v; want 5 tasks (x is blocked) and the 3 edges between them", pendingOnly, err)
	}

	snap, err := e.s.DependencyGraph(e.ctx, c.ID, openStatuses)
	want := work.DependencySnapshot{Blockers: wantBlockers, Dependents: []work.Dependent{}, Open: wantOpen}
	if err != nil || !reflect.DeepEqual(snap, want) {
		e.t.Fatalf("DependencyGraph(c) = %+v, %v\nwant %+v", snap, err, want)
	}
	snap, err = e.s.DependencyGraph(e.ctx, "", openStatuses)
	if err != nil || !reflect.DeepEqual(snap, work.DependencySnapshot{Open: wantOpen}) {
		e.t.Fatalf("DependencyGraph(\"\") = %+v, %v; want the open graph alone", snap, err)
	}

	subs, err := e.s.OpenSubtasks(e.ctx, openStatuses)
	if want := []work.SubtaskEdge{{Parent: p.ID, Child: a.ID}}; err != nil || !reflect.DeepEqual(subs, want) {
		e.t.Fatalf("OpenSubtasks = %+v, %v; want %+v (d is completed)", subs, err, want)
	}

	const nope = "tsk_00000000000000ff"
	_, err = e.s.Blockers(e.ctx, nope, openStatuses)
	e.wantErr("Blockers of an unknown task", err, clienterr.NotFound, "")
	_, err = e.s.Dependents(e.ctx, nope, openStatuses)
	e.wantErr("Dependents of an unknown task", err, clienterr.NotFound, "")
	_, err = e.s.OpenGraph(e.ctx, nil)
	e.wantErr("OpenGraph without statuses", err, clienterr.InvalidArgument, "")
}
