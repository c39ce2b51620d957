package tools

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/neo4j"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/mirror"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// task_graph answers three questions about the work graph, from the
// Neo4j mirror where the project has a graph backend, else from SQLite:
//
//   - blockers: the unfinished tasks a task waits for (its dependencies and,
//     for a parent, its open subtasks), directly or through other unfinished
//     tasks (a finished task ends a chain);
//   - unblocks: the unfinished tasks that wait directly for it, and which of
//     them would be ready once it completes;
//   - critical path: the longest chain of unfinished tasks, each depending
//     on the one before.
//
// Each source only supplies data (Neo4j: the open subgraph, read linearly;
// SQLite: plain queries, and a recursive one that cross-checks the walk);
// the chains are computed by one algorithm (work.Graph), so both sources
// give the same answer for the same data. This file decodes, reads, maps to
// the domain's graph and renders.

// Sources of a task_graph answer.
const (
	sourceAuto   = "auto"
	sourceNeo4j  = workspace.DatabaseNeo4j
	sourceSQLite = workspace.DatabaseSQLite
)

type taskGraphArgs struct {
	Workspace string `json:"workspace,omitempty"`
	ID        string `json:"id,omitempty" jsonschema:"The task to explain (without it: only the critical path)"`
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
	Depth     int      `json:"depth" jsonschema:"1 is a direct dependency"`
	Path      []string `json:"path" jsonschema:"Direct dependency first"`
	Startable bool     `json:"startable" jsonschema:"Work on these first"`
}

// UnblockView is an unfinished task that waits directly for the task asked about.
type UnblockView struct {
	ID               string   `json:"id"`
	Title            string   `json:"title"`
	Status           string   `json:"status"`
	Priority         string   `json:"priority"`
	WaitingOn        []string `json:"waiting_on"`
	WouldBecomeReady bool     `json:"would_become_ready"`
}

// CriticalPathView is the longest chain of unfinished work.
type CriticalPathView struct {
	Length    int             `json:"length"`
	Tasks     []GraphTaskView `json:"tasks" jsonschema:"In order of work"`
	OpenTasks int             `json:"open_tasks"`
}

// TaskGraphResult is task_graph's answer.
type TaskGraphResult struct {
	Source       string           `json:"source" jsonschema:"neo4j or sqlite"`
	Note         string           `json:"note,omitempty" jsonschema:"Why auto fell back"`
	Task         *GraphTaskView   `json:"task,omitempty"`
	Blockers     []BlockerView    `json:"blockers"`
	Unblocks     []UnblockView    `json:"unblocks"`
	CriticalPath CriticalPathView `json:"critical_path"`
}

func graphView(t work.GraphNode) GraphTaskView {
	return GraphTaskView{ID: t.ID, Title: t.Title, Status: string(t.Status), Priority: t.Priority}
}

func nodeOfSQLite(t work.GraphTask) work.GraphNode {
	return work.GraphNode{ID: t.ID, Title: t.Title, Status: work.Status(t.Status), Priority: t.Priority}
}

func nodeOfNeo4j(t neo4j.TaskNode) work.GraphNode {
	return work.GraphNode{ID: t.ID, Title: t.Title, Status: work.Status(t.Status), Priority: t.Priority}
}

func blockerViews(bs []work.Blocker) []BlockerView {
	out := make([]BlockerView, len(bs))
	for i, b := range bs {
		out[i] = BlockerView{ID: b.ID, Title: b.Title, Status: string(b.Status), Priority: b.Priority,
			Depth: b.Depth, Path: b.Path, Startable: b.Startable}
	}
	return out
}

// criticalPathView asks g for its critical path; a cycle (only a graph
// mirror changed by hand can hold one) is a tool error naming the way out.
func criticalPathView(g *work.Graph) (CriticalPathView, error) {
	cp, err := g.CriticalPath()
	var ce *work.CycleError
	if errors.As(err, &ce) {
		return CriticalPathView{}, badArg("%s, which the task database does not allow: the graph mirror was changed outside "+
			"the server; rebuild it with task_reconcile (mirror graph), or ask with source sqlite", ce.Error())
	}
	if err != nil {
		return CriticalPathView{}, err
	}
	v := CriticalPathView{Length: len(cp.Tasks), Tasks: make([]GraphTaskView, len(cp.Tasks)), OpenTasks: cp.OpenTasks}
	for i, t := range cp.Tasks {
		v.Tasks[i] = graphView(t)
	}
	return v, nil
}

// openStatuses are work.OpenStatuses as the stores take them.
var openStatuses = work.StatusNames(work.OpenStatuses)

// taskGraphFromSQLite answers from the source of truth. The dependency
// graph is read in one snapshot; the open subtasks (what blocks a parent)
// in a second read: a subtask that is not open in the first is ignored.
func taskGraphFromSQLite(ctx context.Context, s work.Store, id string) (TaskGraphResult, error) {
	res := TaskGraphResult{Source: sourceSQLite, Blockers: []BlockerView{}, Unblocks: []UnblockView{}}
	snap, err := s.DependencyGraph(ctx, id, openStatuses)
	if err != nil {
		return res, err
	}
	g := work.NewGraph()
	for _, t := range snap.Open.Tasks {
		g.AddTask(nodeOfSQLite(t))
	}
	for _, e := range snap.Open.Edges {
		g.AddDependency(e.Task, e.DependsOn)
	}
	if id != "" {
		set := snap.Blockers
		task := graphView(nodeOfSQLite(set.Task))
		res.Task = &task
		// The recursive query measured the dependency blockers itself; a
		// walk of the dependencies alone must agree with it.
		deps := work.NewGraph()
		deps.AddTask(nodeOfSQLite(set.Task))
		for _, b := range set.Blockers {
			deps.AddTask(nodeOfSQLite(b.GraphTask))
		}
		for _, e := range set.Edges {
			deps.AddDependency(e.Task, e.DependsOn)
		}
		if err := agree(id, set.Blockers, deps.Blockers(id)); err != nil {
			return res, err
		}
		subtasks, err := s.OpenSubtasks(ctx, openStatuses)
		if err != nil {
			return res, err
		}
		for _, e := range subtasks {
			g.AddSubtask(e.Parent, e.Child)
		}
		if _, ok := g.Task(id); !ok { // a finished task is not in the open graph
			g.AddTask(nodeOfSQLite(set.Task))
			for _, e := range set.Edges {
				if e.Task == id {
					g.AddDependency(e.Task, e.DependsOn)
				}
			}
		}
		res.Blockers = blockerViews(g.Blockers(id))
		for _, d := range snap.Dependents {
			res.Unblocks = append(res.Unblocks, UnblockView{ID: d.ID, Title: d.Title, Status: d.Status, Priority: d.Priority,
				WaitingOn: d.Waiting, WouldBecomeReady: work.WouldBecomeReady(work.Status(d.Status), d.Waiting)})
		}
	}
	res.CriticalPath, err = criticalPathView(g)
	return res, err
}

// agree checks the recursive query's blockers against the walk's.
func agree(id string, query []work.QueriedBlocker, walk []work.Blocker) error {
	if len(walk) != len(query) {
		return fmt.Errorf("task_graph: the recursive query found %d blockers of %s, the walk %d", len(query), id, len(walk))
	}
	depth := map[string]int{}
	for _, b := range query {
		depth[b.ID] = b.Depth
	}
	for _, b := range walk {
		if depth[b.ID] != b.Depth {
			return fmt.Errorf("task_graph: blocker %s of %s is at depth %d by the recursive query, %d by the walk", b.ID, id, depth[b.ID], b.Depth)
		}
	}
	return nil
}

// notMirrored says the graph mirror has no node for the task (yet).
func notMirrored(id string) error {
	return badArg("task %s is not in the graph mirror yet (the mirror follows SQLite with a lag; pool_status shows it, "+
		"task_reconcile rebuilds it); ask with source sqlite for the answer from the source of truth", id)
}

// taskGraphFromNeo4j answers from the graph mirror: the open work is read in
// one transaction, and walked here. The mirror keeps parents too
// (SUBTASK_OF): for a focus task they are read in a second transaction, and
// an edge to a subtask that is not open in the first is ignored.
func taskGraphFromNeo4j(ctx context.Context, s *neo4j.Store, id string) (TaskGraphResult, error) {
	res := TaskGraphResult{Source: sourceNeo4j, Blockers: []BlockerView{}, Unblocks: []UnblockView{}}
	w, err := s.TaskWork(ctx, neo4j.TaskShape{Label: mirror.TaskLabel, DependsOn: mirror.RelDependsOn,
		Open: openStatuses, Completed: string(work.Completed)}, id)
	if err != nil {
		return res, err
	}
	g := work.NewGraph()
	for _, t := range w.Tasks {
		g.AddTask(nodeOfNeo4j(t))
	}
	for _, e := range w.Edges {
		g.AddDependency(e.Task, e.DependsOn)
	}
	if id != "" {
		if w.Focus == nil {
			return res, notMirrored(id)
		}
		subtasks, err := mirror.SubtaskEdges(ctx, s)
		if err != nil {
			return res, err
		}
		for _, e := range subtasks {
			g.AddSubtask(e.Parent, e.Child)
		}
		focus := nodeOfNeo4j(*w.Focus)
		if _, ok := g.Task(id); !ok {
			g.AddTask(focus) // not open: its edges are in w.Edges, and it blocks nothing
		}
		task := graphView(focus)
		res.Task = &task
		res.Blockers = blockerViews(g.Blockers(id))
		for _, d := range w.Dependents {
			waiting := append([]string{}, slices.Compact(slices.Sorted(slices.Values(d.Waiting)))...)
			res.Unblocks = append(res.Unblocks, UnblockView{ID: d.ID, Title: d.Title, Status: d.Status, Priority: d.Priority,
				WaitingOn: waiting, WouldBecomeReady: work.WouldBecomeReady(work.Status(d.Status), waiting)})
		}
	}
	res.CriticalPath, err = criticalPathView(g)
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
		"What blocks a task (startable blockers first), what it unblocks, and the critical path of the open work; from Neo4j where configured, else SQLite.",
		hints{readOnly: true, destructive: false, idempotent: true, openWorld: graphOpenWorld(d)},
		inputSchema[taskGraphArgs](), outputSchema[TaskGraphResult]())
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
