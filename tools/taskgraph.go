package tools

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/neo4j"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/mirror"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// task_graph answers three questions about the dependency graph, from the
// Neo4j mirror where the project has a graph backend, else from SQLite:
//
//   - blockers: the unfinished tasks a task waits for, directly or through
//     other unfinished tasks (a finished task ends a chain);
//   - unblocks: the unfinished tasks that wait directly for it, and which of
//     them would be ready once it completes;
//   - critical path: the longest chain of unfinished tasks, each waiting for
//     the one before.
//
// Each source only supplies data (Neo4j: the open subgraph, read linearly;
// SQLite: a recursive query for the blockers, plain queries for the rest);
// the chains are computed here, by one algorithm, so both sources give the
// same answer for the same data.

// Sources of a task_graph answer.
const (
	sourceAuto   = "auto"
	sourceNeo4j  = workspace.DatabaseNeo4j
	sourceSQLite = workspace.DatabaseSQLite
)

type taskGraphArgs struct {
	Workspace string `json:"workspace,omitempty" jsonschema:"Any absolute path inside the project (optional)"`
	ID        string `json:"id,omitempty" jsonschema:"The task to explain (optional: without it only the critical path is returned)"`
	Source    string `json:"source,omitempty" jsonschema:"enum=auto,enum=neo4j,enum=sqlite"`
}

// GraphTaskView is a task as a node of the dependency graph.
type GraphTaskView struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Status   string `json:"status"`
	Priority string `json:"priority"`
}

// BlockerView is an unfinished task that blocks the task asked about.
type BlockerView struct {
	ID        string   `json:"id"`
	Title     string   `json:"title"`
	Status    string   `json:"status"`
	Priority  string   `json:"priority"`
	Depth     int      `json:"depth" jsonschema:"Hops along the shortest chain of unfinished tasks: 1 is a direct dependency"`
	Path      []string `json:"path" jsonschema:"That chain: the task's direct dependency first, this blocker last"`
	Startable bool     `json:"startable" jsonschema:"It waits for no unfinished task itself: work on these first"`
}

// UnblockView is an unfinished task that waits directly for the task asked about.
type UnblockView struct {
	ID               string   `json:"id"`
	Title            string   `json:"title"`
	Status           string   `json:"status"`
	Priority         string   `json:"priority"`
	WaitingOn        []string `json:"waiting_on" jsonschema:"Its other dependencies that are not completed"`
	WouldBecomeReady bool     `json:"would_become_ready" jsonschema:"It is pending and waits for nothing else: completing the task makes it claimable"`
}

// CriticalPathView is the longest chain of unfinished work.
type CriticalPathView struct {
	Length    int             `json:"length" jsonschema:"Number of tasks on the path"`
	Tasks     []GraphTaskView `json:"tasks" jsonschema:"In order of work: each task depends on the one before it"`
	OpenTasks int             `json:"open_tasks" jsonschema:"Unfinished tasks in the project"`
}

// TaskGraphResult is task_graph's answer.
type TaskGraphResult struct {
	Source       string           `json:"source" jsonschema:"Which database answered: neo4j (the graph mirror) or sqlite (the source of truth)"`
	Note         string           `json:"note,omitempty" jsonschema:"Why the other source did not answer, when auto fell back"`
	Task         *GraphTaskView   `json:"task,omitempty"`
	Blockers     []BlockerView    `json:"blockers"`
	Unblocks     []UnblockView    `json:"unblocks"`
	CriticalPath CriticalPathView `json:"critical_path"`
}

// workGraph is the data every source supplies: tasks and the dependency
// edges among them, adjacency lists sorted by id.
type workGraph struct {
	tasks map[string]GraphTaskView
	deps  map[string][]string // task -> its dependencies in the graph
	rdeps map[string][]string // task -> the tasks that depend on it
}

func newWorkGraph() *workGraph {
	return &workGraph{tasks: map[string]GraphTaskView{}, deps: map[string][]string{}, rdeps: map[string][]string{}}
}

func (g *workGraph) addEdge(task, dependsOn string) {
	g.deps[task] = append(g.deps[task], dependsOn)
	g.rdeps[dependsOn] = append(g.rdeps[dependsOn], task)
}

// seal sorts and deduplicates the adjacency lists, so every walk is deterministic.
func (g *workGraph) seal() {
	for _, m := range []map[string][]string{g.deps, g.rdeps} {
		for k, v := range m {
			slices.Sort(v)
			m[k] = slices.Compact(v)
		}
	}
}

// blockers walks breadth-first from focus along dependencies to open tasks,
// visiting dependencies in id order: each blocker's depth is its shortest
// distance and its path the first shortest chain found in that order.
// The order of the answer is by depth, then id.
func (g *workGraph) blockers(focus string) []BlockerView {
	prev := map[string]string{focus: ""}
	depth := map[string]int{focus: 0}
	queue := []string{focus}
	var found []string
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, m := range g.deps[n] {
			t, ok := g.tasks[m]
			if !ok || !mirror.IsOpen(t.Status) {
				continue
			}
			if _, seen := prev[m]; seen {
				continue
			}
			prev[m], depth[m] = n, depth[n]+1
			queue = append(queue, m)
			found = append(found, m)
		}
	}
	out := make([]BlockerView, 0, len(found))
	for _, id := range found {
		t := g.tasks[id]
		var path []string
		for v := id; v != focus; v = prev[v] {
			path = append(path, v)
		}
		slices.Reverse(path)
		startable := true
		for _, d := range g.deps[id] {
			if dt, ok := g.tasks[d]; ok && mirror.IsOpen(dt.Status) {
				startable = false
				break
			}
		}
		out = append(out, BlockerView{ID: id, Title: t.Title, Status: t.Status, Priority: t.Priority,
			Depth: depth[id], Path: path, Startable: startable})
	}
	slices.SortStableFunc(out, func(a, b BlockerView) int {
		return cmp.Or(cmp.Compare(a.Depth, b.Depth), strings.Compare(a.ID, b.ID))
	})
	return out
}

// criticalPath returns the longest chain of open tasks t1, t2, … tk where
// each t(i+1) depends on t(i). Ties are broken by id: of all longest chains,
// the one whose ids, compared in order of work, sort first. It works on the
// open tasks only (edges to other tasks are ignored) and refuses a cycle.
func (g *workGraph) criticalPath() (CriticalPathView, error) {
	var open []string
	for id, t := range g.tasks {
		if mirror.IsOpen(t.Status) {
			open = append(open, id)
		}
	}
	slices.Sort(open)
	isOpen := func(id string) bool { t, ok := g.tasks[id]; return ok && mirror.IsOpen(t.Status) }
	// Kahn's order over open tasks: dependencies first.
	indeg := map[string]int{}
	for _, id := range open {
		for _, d := range g.deps[id] {
			if isOpen(d) {
				indeg[id]++
			}
		}
	}
	var order, queue []string
	for _, id := range open {
		if indeg[id] == 0 {
			queue = append(queue, id)
		}
	}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		order = append(order, n)
		for _, m := range g.rdeps[n] {
			if !isOpen(m) {
				continue
			}
			if indeg[m]--; indeg[m] == 0 {
				queue = append(queue, m)
			}
		}
	}
	if len(order) != len(open) {
		var stuck []string
		for _, id := range open {
			if indeg[id] > 0 {
				stuck = append(stuck, id)
			}
		}
		// SQLite refuses cycles, so only a mirror changed by hand can hold one.
		return CriticalPathView{}, badArg("the dependencies among unfinished tasks form a cycle through %s, which the task "+
			"database does not allow: the graph mirror was changed outside the server; rebuild it with task_reconcile (mirror graph), "+
			"or ask with source sqlite", strings.Join(stuck[:min(len(stuck), 5)], ", "))
	}
	// down[n]: the most tasks on a chain that starts at n and goes on to
	// tasks that depend on it. Computed from the last task in order back.
	down := map[string]int{}
	for i := len(order) - 1; i >= 0; i-- {
		n, best := order[i], 0
		for _, m := range g.rdeps[n] {
			if isOpen(m) && down[m] > best {
				best = down[m]
			}
		}
		down[n] = best + 1
	}
	cp := CriticalPathView{Tasks: []GraphTaskView{}, OpenTasks: len(open)}
	cur := ""
	for _, id := range open { // sorted: the smallest id among the longest starts
		if cur == "" || down[id] > down[cur] {
			cur = id
		}
	}
	for cur != "" {
		cp.Tasks = append(cp.Tasks, g.tasks[cur])
		next := ""
		for _, m := range g.rdeps[cur] { // sorted
			if isOpen(m) && down[m] == down[cur]-1 {
				next = m
				break
			}
		}
		cur = next
	}
	cp.Length = len(cp.Tasks)
	return cp, nil
}

func viewOfSQLite(t sqlite.GraphTask) GraphTaskView {
	return GraphTaskView{ID: t.ID, Title: t.Title, Status: t.Status, Priority: t.Priority}
}

func viewOfNeo4j(t neo4j.TaskNode) GraphTaskView {
	return GraphTaskView{ID: t.ID, Title: t.Title, Status: t.Status, Priority: t.Priority}
}

func readyAfter(status string, waiting []string) bool {
	return status == "pending" && len(waiting) == 0
}

// taskGraphFromSQLite answers from the source of truth, read in one snapshot.
func taskGraphFromSQLite(ctx context.Context, s *sqlite.Store, id string) (TaskGraphResult, error) {
	res := TaskGraphResult{Source: sourceSQLite, Blockers: []BlockerView{}, Unblocks: []UnblockView{}}
	snap, err := s.DependencyGraph(ctx, id, mirror.OpenStatuses)
	if err != nil {
		return res, err
	}
	if id != "" {
		set := snap.Blockers
		g := newWorkGraph()
		task := viewOfSQLite(set.Task)
		res.Task = &task
		g.tasks[id] = task
		for _, b := range set.Blockers {
			g.tasks[b.ID] = viewOfSQLite(b.GraphTask)
		}
		for _, e := range set.Edges {
			g.addEdge(e.Task, e.DependsOn)
		}
		g.seal()
		res.Blockers = g.blockers(id)
		// The recursive query measured the depths itself; the walk must agree.
		if len(res.Blockers) != len(set.Blockers) {
			return res, fmt.Errorf("task_graph: the recursive query found %d blockers of %s, the walk %d", len(set.Blockers), id, len(res.Blockers))
		}
		depth := map[string]int{}
		for _, b := range set.Blockers {
			depth[b.ID] = b.Depth
		}
		for _, b := range res.Blockers {
			if depth[b.ID] != b.Depth {
				return res, fmt.Errorf("task_graph: blocker %s of %s is at depth %d by the recursive query, %d by the walk", b.ID, id, depth[b.ID], b.Depth)
			}
		}
		for _, d := range snap.Dependents {
			res.Unblocks = append(res.Unblocks, UnblockView{ID: d.ID, Title: d.Title, Status: d.Status, Priority: d.Priority,
				WaitingOn: d.Waiting, WouldBecomeReady: readyAfter(d.Status, d.Waiting)})
		}
	}
	g := newWorkGraph()
	for _, t := range snap.Open.Tasks {
		g.tasks[t.ID] = viewOfSQLite(t)
	}
	for _, e := range snap.Open.Edges {
		g.addEdge(e.Task, e.DependsOn)
	}
	g.seal()
	res.CriticalPath, err = g.criticalPath()
	return res, err
}

// notMirrored says the graph mirror has no node for the task (yet).
func notMirrored(id string) error {
	return badArg("task %s is not in the graph mirror yet (the mirror follows SQLite with a lag; pool_status shows it, "+
		"task_reconcile rebuilds it); ask with source sqlite for the answer from the source of truth", id)
}

// taskGraphFromNeo4j answers from the graph mirror: the open work is read in
// one transaction, and walked here.
func taskGraphFromNeo4j(ctx context.Context, s *neo4j.Store, id string) (TaskGraphResult, error) {
	res := TaskGraphResult{Source: sourceNeo4j, Blockers: []BlockerView{}, Unblocks: []UnblockView{}}
	w, err := s.TaskWork(ctx, neo4j.TaskShape{Label: mirror.TaskLabel, DependsOn: mirror.RelDependsOn,
		Open: mirror.OpenStatuses, Completed: "completed"}, id)
	if err != nil {
		return res, err
	}
	g := newWorkGraph()
	for _, t := range w.Tasks {
		g.tasks[t.ID] = viewOfNeo4j(t)
	}
	for _, e := range w.Edges {
		g.addEdge(e.Task, e.DependsOn)
	}
	g.seal()
	if id != "" {
		if w.Focus == nil {
			return res, notMirrored(id)
		}
		task := viewOfNeo4j(*w.Focus)
		res.Task = &task
		res.Blockers = g.blockers(id)
		for _, d := range w.Dependents {
			waiting := append([]string{}, slices.Compact(slices.Sorted(slices.Values(d.Waiting)))...)
			res.Unblocks = append(res.Unblocks, UnblockView{ID: d.ID, Title: d.Title, Status: d.Status, Priority: d.Priority,
				WaitingOn: waiting, WouldBecomeReady: readyAfter(d.Status, waiting)})
		}
	}
	// The focus's own edges are in g; criticalPath ignores tasks that are not open.
	res.CriticalPath, err = g.criticalPath()
	return res, err
}

// graphConfigured says whether the project has a graph backend: Neo4j is
// configured (NEO4J_URI or a managed command) and the project has not turned
// its graph pool off. It starts and contacts nothing.
func (d *Deps) graphConfigured(root string) (bool, string) {
	layout := workspace.LayoutFor(root)
	cfg, _, err := d.projectConfig(layout)
	if err != nil {
		return false, "the project's configuration could not be read: " + err.Error()
	}
	if !cfg.DatabasePools.Graph.IsEnabled() {
		return false, "the project turns its graph pool off (database_pools.graph.enabled is false)"
	}
	mode, reason := neo4j.Resolve(d.neo4jOptions(root, layout, cfg, nil))
	if mode == neo4j.ModeNone {
		return false, reason
	}
	return true, reason
}

func taskGraph(d *Deps) server.ServerTool {
	tool := newTool("task_graph", "Blockers, unblocks and critical path",
		"For a task: the chain of unfinished tasks that blocks it (with depth and path), the unfinished tasks it unblocks "+
			"(and which would become ready), and the critical path of the project's open work (the longest chain of unfinished "+
			"tasks by dependency; ties go to the chain whose ids sort first). Answers from the Neo4j mirror where the project has "+
			"a graph backend, else from SQLite; the same answer either way, and the result says which answered. source: auto (default) "+
			"falls back to SQLite when the graph mirror cannot answer; neo4j or sqlite insist on one.",
		hints{readOnly: true, destructive: false, idempotent: true, openWorld: graphOpenWorld(d)},
		mcp.WithInputSchema[taskGraphArgs](), mcp.WithOutputSchema[TaskGraphResult]())
	return server.ServerTool{Tool: tool, Handler: handle(d, tool.Name, func(ctx context.Context, c *call, a taskGraphArgs) (any, string, error) {
		if a.ID != "" {
			if err := checkID("id", a.ID); err != nil {
				return nil, "", err
			}
		}
		src := a.Source
		switch src {
		case "":
			src = sourceAuto
		case sourceAuto, sourceNeo4j, sourceSQLite:
		default:
			return nil, "", badArg("argument \"source\" must be auto, neo4j or sqlite, not %q", truncate(a.Source, 40))
		}
		root, err := c.workspace(ctx, a.Workspace)
		if err != nil {
			return nil, "", err
		}
		store, _, release, err := d.taskStore(ctx, root)
		if err != nil {
			return nil, "", err
		}
		defer release()
		if a.ID != "" {
			// The task must exist in the source of truth, whichever source answers.
			ok, err := store.Exists(ctx, a.ID)
			if err != nil {
				return nil, "", err
			}
			if !ok {
				return nil, "", badArg("task %s does not exist in this project; list tasks with task_list", a.ID)
			}
		}
		note := ""
		if src != sourceSQLite {
			configured, why := d.graphConfigured(root.Path)
			switch {
			case !configured && src == sourceNeo4j:
				return nil, "", badArg("source neo4j was asked for, but this project has no graph backend: %s", why)
			case configured:
				gs, grelease, gerr := d.graphStore(ctx, root)
				var res TaskGraphResult
				if gerr == nil {
					res, gerr = taskGraphFromNeo4j(ctx, gs, a.ID)
					grelease()
				}
				if gerr == nil {
					return res, describeTaskGraph(res), nil
				}
				if src == sourceNeo4j || ctx.Err() != nil {
					return nil, "", gerr
				}
				note = "the graph mirror did not answer, so SQLite did: " + graphFailure(gerr)
				d.logger().Warn("task_graph fell back to SQLite", "root", root.Path, "err", gerr)
			}
		}
		res, err := taskGraphFromSQLite(ctx, store, a.ID)
		if err != nil {
			return nil, "", err
		}
		res.Note = note
		return res, describeTaskGraph(res), nil
	})}
}

// graphFailure is a one-line reason the graph did not answer, safe to show.
func graphFailure(err error) string {
	var ge *neo4j.Error
	var ue *userError
	switch {
	case errors.As(err, &ue):
		return ue.msg
	case errors.As(err, &ge):
		return workspace.Redact(ge.Msg)
	}
	return workspace.Redact(err.Error())
}

func describeTaskGraph(r TaskGraphResult) string {
	var b strings.Builder
	if r.Task != nil {
		fmt.Fprintf(&b, "%s %q: %d unfinished blocker(s), unblocks %d; ", r.Task.ID, r.Task.Title, len(r.Blockers), len(r.Unblocks))
	}
	fmt.Fprintf(&b, "critical path %d task(s) of %d open (from %s)", r.CriticalPath.Length, r.CriticalPath.OpenTasks, r.Source)
	if r.Note != "" {
		b.WriteString("; " + r.Note)
	}
	return b.String()
}
