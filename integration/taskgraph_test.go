package integration

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/neo4j"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/mirror"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

type graphTaskOut struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Status   string `json:"status"`
	Priority string `json:"priority"`
}

type taskGraphOut struct {
	Source   string        `json:"source"`
	Note     string        `json:"note"`
	Task     *graphTaskOut `json:"task"`
	Blockers []struct {
		ID        string   `json:"id"`
		Status    string   `json:"status"`
		Depth     int      `json:"depth"`
		Path      []string `json:"path"`
		Startable bool     `json:"startable"`
	} `json:"blockers"`
	Unblocks []struct {
		ID               string   `json:"id"`
		Status           string   `json:"status"`
		WaitingOn        []string `json:"waiting_on"`
		WouldBecomeReady bool     `json:"would_become_ready"`
	} `json:"unblocks"`
	CriticalPath struct {
		Length    int            `json:"length"`
		Tasks     []graphTaskOut `json:"tasks"`
		OpenTasks int            `json:"open_tasks"`
	} `json:"critical_path"`
}

var openStatus = map[string]bool{"pending": true, "in_progress": true, "blocked": true}

// buildProject creates a generated project's tasks through the server, then
// moves each to its status (testdata/tasks/, made by randomPlan).
func buildProject(t testing.TB, p *proc, project string, plan graphPlan) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ids := make([]string, 0, len(plan.Tasks))
	versions := map[string]int64{}
	for i, tk := range plan.Tasks {
		args := map[string]any{"workspace": project, "title": tk.Title}
		var deps []string
		for _, d := range tk.DependsOn {
			deps = append(deps, ids[d])
		}
		if len(deps) > 0 {
			args["depends_on"] = deps
		}
		if tk.Parent >= 0 {
			args["parent_id"] = ids[tk.Parent]
		}
		var out taskOut
		p.ok(ctx, "task_create", args, &out)
		if out.Task.ID == "" {
			t.Fatalf("task_create of plan task %d answered no id", i)
		}
		ids = append(ids, out.Task.ID)
		versions[out.Task.ID] = out.Task.Version
	}
	// A parent with open subtasks cannot be completed (issue 13): subtasks
	// (always after their parent in a plan) move first, and a parent whose
	// subtasks stay open keeps its status instead of completing.
	openKids := map[int]bool{}
	for _, tk := range plan.Tasks {
		if tk.Parent >= 0 && (tk.Status == "" || openStatus[tk.Status]) {
			openKids[tk.Parent] = true
		}
	}
	for i := len(plan.Tasks) - 1; i >= 0; i-- {
		tk := plan.Tasks[i]
		if tk.Status == "" || tk.Status == "completed" && openKids[i] {
			continue
		}
		p.ok(ctx, "task_update", map[string]any{"workspace": project, "id": ids[i], "version": versions[ids[i]],
			"status": tk.Status}, nil)
	}
}

// TestTaskGraphAgreesBetweenNeo4jAndSQLite builds the 500-task project of
// testdata/tasks/graph-500-seed42.json, mirrors
// it into the shared Neo4j, and asks task_graph the same questions of both
// sources: blockers, unblocks and critical path must be identical, and right
// by an independent computation from the tasks themselves.
func TestTaskGraphAgreesBetweenNeo4jAndSQLite(t *testing.T) {
	project := newProject(t)
	p := start(t, procOpts{dir: project, env: sharedNeo4jEnv(t)})
	buildProject(t, p, project, readGraphPlan(t, graph500))
	m := fillMirrors(t, p, project, mirrorTargets{graph: true})
	tasks := m.tasks
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// The model the answers are checked against, from SQLite's rows.
	status := map[string]string{}
	deps := map[string][]string{}
	rdeps := map[string][]string{}
	waits := map[string][]string{} // dependencies and subtasks: an open subtask blocks its parent
	var ids []string
	for _, tk := range tasks {
		status[tk.ID] = string(tk.Status)
		ids = append(ids, tk.ID)
		deps[tk.ID] = tk.DependsOn
		waits[tk.ID] = append(waits[tk.ID], tk.DependsOn...)
		if tk.ParentID != nil {
			waits[*tk.ParentID] = append(waits[*tk.ParentID], tk.ID)
		}
		for _, d := range tk.DependsOn {
			rdeps[d] = append(rdeps[d], tk.ID)
		}
	}
	slices.Sort(ids)
	counts := map[string]int{}
	for _, s := range status {
		counts[s]++
	}
	t.Logf("statuses: %v", counts)

	ask := func(id, source string) taskGraphOut {
		args := map[string]any{"workspace": project, "source": source}
		if id != "" {
			args["id"] = id
		}
		var out taskGraphOut
		p.ok(ctx, "task_graph", args, &out)
		if out.Source != source {
			t.Fatalf("asked source %s, answered by %s", source, out.Source)
		}
		out.Source = ""
		return out
	}

	// Critical path: same from both, and the longest chain of open tasks.
	fromNeo, fromSQL := ask("", "neo4j"), ask("", "sqlite")
	if !reflect.DeepEqual(fromNeo, fromSQL) {
		t.Fatalf("critical path differs:\nneo4j  %+v\nsqlite %+v", fromNeo.CriticalPath, fromSQL.CriticalPath)
	}
	down := map[string]int{} // longest open chain starting at a task, going to its dependents
	var longest func(string) int
	longest = func(id string) int {
		if v, ok := down[id]; ok {
			return v
		}
		best := 0
		for _, m := range rdeps[id] {
			if openStatus[status[m]] {
				best = max(best, longest(m))
			}
		}
		down[id] = best + 1
		return best + 1
	}
	want, first, open := 0, "", 0
	for _, id := range ids {
		if !openStatus[status[id]] {
			continue
		}
		open++
		if l := longest(id); l > want {
			want, first = l, id
		}
	}
	cp := fromSQL.CriticalPath
	if cp.Length != want || len(cp.Tasks) != want || cp.OpenTasks != open {
		t.Fatalf("critical path has %d tasks (%d listed) of %d open; the longest chain has %d of %d", cp.Length, len(cp.Tasks), cp.OpenTasks, want, open)
	}
	if want < 5 {
		t.Fatalf("the random project's longest open chain is only %d: the test proves little; change the seed", want)
	}
	if cp.Tasks[0].ID != first {
		t.Fatalf("critical path starts at %s; of the longest chains, the smallest first id is %s", cp.Tasks[0].ID, first)
	}
	for i := 1; i < len(cp.Tasks); i++ {
		if !slices.Contains(deps[cp.Tasks[i].ID], cp.Tasks[i-1].ID) || !openStatus[cp.Tasks[i].Status] {
			t.Fatalf("critical path step %d: %s does not depend on %s, or is not open", i, cp.Tasks[i].ID, cp.Tasks[i-1].ID)
		}
	}

	// Blockers and unblocks for every fourth task (all statuses): same from
	// both sources, and equal to a breadth-first walk through open tasks.
	compared, withBlockers, withReady := 0, 0, 0
	var spent [2]time.Duration // neo4j, sqlite
	for i, id := range ids {
		if i%4 != 0 {
			continue
		}
		t0 := time.Now()
		a := ask(id, "neo4j")
		t1 := time.Now()
		b := ask(id, "sqlite")
		spent[0] += t1.Sub(t0)
		spent[1] += time.Since(t1)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("task %s: the sources differ:\nneo4j  %+v %+v\nsqlite %+v %+v", id, a.Task, a, b.Task, b)
		}
		compared++
		depth := map[string]int{id: 0}
		queue := []string{id}
		for len(queue) > 0 {
			n := queue[0]
			queue = queue[1:]
			for _, d := range waits[n] {
				if _, seen := depth[d]; !seen && openStatus[status[d]] {
					depth[d] = depth[n] + 1
					queue = append(queue, d)
				}
			}
		}
		if len(b.Blockers) != len(depth)-1 {
			t.Fatalf("task %s: %d blockers, the walk finds %d", id, len(b.Blockers), len(depth)-1)
		}
		for _, bl := range b.Blockers {
			if depth[bl.ID] != bl.Depth || len(bl.Path) != bl.Depth || bl.Path[len(bl.Path)-1] != bl.ID || !slices.Contains(waits[id], bl.Path[0]) {
				t.Fatalf("task %s: blocker %+v, walk depth %d", id, bl, depth[bl.ID])
			}
			startable := !slices.ContainsFunc(waits[bl.ID], func(d string) bool { return openStatus[status[d]] })
			if bl.Startable != startable {
				t.Fatalf("task %s: blocker %s startable %v, want %v", id, bl.ID, bl.Startable, startable)
			}
		}
		if len(b.Blockers) > 0 {
			withBlockers++
		}
		var wantUnblocks []string
		for _, m := range rdeps[id] {
			if openStatus[status[m]] {
				wantUnblocks = append(wantUnblocks, m)
			}
		}
		slices.Sort(wantUnblocks)
		var gotUnblocks []string
		for _, u := range b.Unblocks {
			gotUnblocks = append(gotUnblocks, u.ID)
			var waiting []string
			for _, d := range deps[u.ID] {
				if d != id && status[d] != "completed" {
					waiting = append(waiting, d)
				}
			}
			ready := status[u.ID] == "pending" && len(waiting) == 0
			if len(waiting) != len(u.WaitingOn) || u.WouldBecomeReady != ready {
				t.Fatalf("task %s: unblocks %s waiting on %v (ready %v), want %v (ready %v)", id, u.ID, u.WaitingOn, u.WouldBecomeReady, waiting, ready)
			}
			if ready {
				withReady++
			}
		}
		if !slices.Equal(gotUnblocks, wantUnblocks) {
			t.Fatalf("task %s: unblocks %v, want %v", id, gotUnblocks, wantUnblocks)
		}
	}
	if withBlockers < 10 || withReady < 3 {
		t.Fatalf("only %d tasks with blockers and %d ready-after dependents among %d compared: the test proves little", withBlockers, withReady, compared)
	}
	t.Logf("compared %d tasks (%d with blockers, %d would-be-ready dependents); critical path %d of %d open tasks; "+
		"mean call %v from neo4j, %v from sqlite", compared, withBlockers, withReady, cp.Length, cp.OpenTasks,
		spent[0]/time.Duration(compared), spent[1]/time.Duration(compared))

	// auto uses the graph where the project has one.
	if auto := askAuto(t, p, project, ids[0]); auto.Source != "neo4j" {
		t.Fatalf("auto answered from %s, want neo4j", auto.Source)
	}
	// A task the mirror does not have yet: auto falls back to SQLite and says
	// why; insisting on neo4j is an error naming the way out.
	var fresh taskOut
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "not mirrored yet", "depends_on": []string{cp.Tasks[0].ID}}, &fresh)
	unmirror(t, m.graph, fresh.Task.ID)
	auto := askAuto(t, p, project, fresh.Task.ID)
	if auto.Source != "sqlite" || !strings.Contains(auto.Note, "not in the graph mirror") || len(auto.Blockers) != 1 {
		t.Fatalf("auto on an unmirrored task: source %s, note %q, %d blockers", auto.Source, auto.Note, len(auto.Blockers))
	}
	res := p.call(ctx, "task_graph", map[string]any{"workspace": project, "id": fresh.Task.ID, "source": "neo4j"})
	if msg := text(res); !res.IsError || !strings.Contains(msg, "source sqlite") {
		t.Fatalf("source neo4j on an unmirrored task: %v %q", res.IsError, msg)
	}
}

// unmirror makes the graph mirror lag behind SQLite for one task: where a
// syncer mirrors new tasks, it waits (up to 3 s) for the task's node, then
// deletes it; with no further change to the task, nothing writes it back.
func unmirror(t *testing.T, gs *neo4j.Store, id string) {
	t.Helper()
	ctx := ctxT(t)
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		w, err := gs.TaskWork(ctx, neo4j.TaskShape{Label: mirror.TaskLabel, DependsOn: mirror.RelDependsOn,
			Open: work.StatusNames(work.OpenStatuses), Completed: string(work.Completed)}, id)
		if err != nil {
			t.Fatal(err)
		}
		if w.Focus != nil {
			break
		}
	}
	if _, err := gs.DeleteNode(ctx, mirror.NodeRef(id)); err != nil && !neo4j.IsKind(err, neo4j.KindNotFound) {
		t.Fatal(err)
	}
}

func askAuto(t *testing.T, p *proc, project, id string) taskGraphOut {
	t.Helper()
	var out taskGraphOut
	p.ok(ctxT(t), "task_graph", map[string]any{"workspace": project, "id": id}, &out)
	return out
}

// Without a graph backend task_graph answers from SQLite, and asking for
// Neo4j says how to configure it; bad arguments are clear errors.
func TestTaskGraphWithoutGraphBackend(t *testing.T) {
	project := newProject(t)
	p := start(t, procOpts{dir: project, env: []string{"NEO4J_URI="}})
	ctx := ctxT(t)
	var a, b, c taskOut
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "design"}, &a)
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "build", "depends_on": []string{a.Task.ID}}, &b)
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "ship", "depends_on": []string{b.Task.ID}}, &c)
	out := askAuto(t, p, project, c.Task.ID)
	if out.Source != "sqlite" || out.Note != "" || len(out.Blockers) != 2 || out.Blockers[1].ID != a.Task.ID ||
		!slices.Equal(out.Blockers[1].Path, []string{b.Task.ID, a.Task.ID}) || !out.Blockers[1].Startable {
		t.Fatalf("without Neo4j: %+v", out)
	}
	out = askAuto(t, p, project, a.Task.ID)
	if len(out.Unblocks) != 1 || out.Unblocks[0].ID != b.Task.ID || !out.Unblocks[0].WouldBecomeReady || out.CriticalPath.Length != 3 {
		t.Fatalf("unblocks of the first task: %+v", out)
	}
	// A diamond after the chain's first task: two longest chains, a → y → w
	// and a → z → w, plus the one through build and ship. Ties go to the
	// chain whose ids, in order of work, sort first.
	var y, z, w taskOut
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "y", "depends_on": []string{a.Task.ID}}, &y)
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "z", "depends_on": []string{a.Task.ID}}, &z)
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "w", "depends_on": []string{y.Task.ID, z.Task.ID}}, &w)
	chains := [][]string{{a.Task.ID, b.Task.ID, c.Task.ID}, {a.Task.ID, y.Task.ID, w.Task.ID}, {a.Task.ID, z.Task.ID, w.Task.ID}}
	want := slices.MinFunc(chains, slices.Compare[[]string])
	for range 3 { // the same answer every time
		out = askAuto(t, p, project, "")
		var got []string
		for _, tk := range out.CriticalPath.Tasks {
			got = append(got, tk.ID)
		}
		if !slices.Equal(got, want) || out.Task != nil {
			t.Fatalf("critical path %v, want %v (ties by id)", got, want)
		}
	}
	for _, tc := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"source": "neo4j"}, "NEO4J_URI"},
		{map[string]any{"source": "mongo"}, "mongo"},
		{map[string]any{"id": "tsk_doesnotexist00"}, "does not exist"},
		{map[string]any{"id": "bad id!"}, "not a task id"},
	} {
		tc.args["workspace"] = project
		res := p.call(ctx, "task_graph", tc.args)
		if msg := text(res); !res.IsError || !strings.Contains(msg, tc.want) {
			t.Fatalf("task_graph %v: %v %q, want an error with %q", tc.args, res.IsError, msg, tc.want)
		}
	}
}
