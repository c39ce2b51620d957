package integration

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
)

// task_plan over the real binary (issue 13): a whole plan of 500 tasks and
// 800 dependencies in one call, written all or nothing; a refused plan
// writes nothing and names every problem.

// dagPlan is a generated plan and what it means.
type dagPlan struct {
	refs    []string            // in generation order (a topological order: deps come first)
	deps    map[string][]string // ref -> refs (or existing ids) it depends on
	parent  map[string]string   // ref -> parent ref (or existing id)
	title   map[string]string
	prio    map[string]string
	role    map[string]string
	labels  map[string][]string
	nDeps   int
	shuffle []int // the order the tasks are sent in
}

// newDAGPlan makes n tasks named prefix-NNN with nDeps dependencies, each
// from a task to an earlier one (so there is no cycle), and nParents parents
// of 5 subtasks each (the last nParents tasks: nothing depends on them and
// they depend on nothing). existing ids may be named as dependencies.
func newDAGPlan(rng *rand.Rand, prefix string, n, nDeps, nParents int, existing []string) *dagPlan {
	p := &dagPlan{deps: map[string][]string{}, parent: map[string]string{}, title: map[string]string{},
		prio: map[string]string{}, role: map[string]string{}, labels: map[string][]string{}}
	for i := range n {
		ref := fmt.Sprintf("%s-%03d", prefix, i)
		p.refs = append(p.refs, ref)
		p.title[ref] = fmt.Sprintf("step %d of %s", i, prefix)
		p.prio[ref] = []string{"low", "medium", "high", "critical"}[rng.IntN(4)]
		if rng.IntN(10) == 0 {
			p.role[ref] = []string{"writer", "reviewer"}[rng.IntN(2)]
		}
		if rng.IntN(3) == 0 {
			p.labels[ref] = []string{[]string{"backend", "docs", "ui"}[rng.IntN(3)]}
		}
	}
	body := n - nParents
	have := map[[2]int]bool{}
	for p.nDeps < nDeps {
		i := 1 + rng.IntN(body-1)
		j := max(0, i-40) + rng.IntN(min(i, 40))
		if have[[2]int{i, j}] {
			continue
		}
		have[[2]int{i, j}] = true
		p.deps[p.refs[i]] = append(p.deps[p.refs[i]], p.refs[j])
		p.nDeps++
	}
	for _, id := range existing {
		r := p.refs[rng.IntN(body)]
		if !slices.Contains(p.deps[r], id) {
			p.deps[r] = append(p.deps[r], id)
			p.nDeps++
		}
	}
	kids := rng.Perm(body)
	for k := range nParents {
		par := p.refs[body+k]
		for _, c := range kids[k*5 : k*5+5] {
			p.parent[p.refs[c]] = par
		}
	}
	p.shuffle = rng.Perm(n)
	return p
}

// args renders the plan as task_plan's tasks argument, in shuffled order.
func (p *dagPlan) args() []map[string]any {
	out := make([]map[string]any, 0, len(p.refs))
	for _, i := range p.shuffle {
		ref := p.refs[i]
		t := map[string]any{"ref": ref, "title": p.title[ref], "priority": p.prio[ref],
			"description": "generated for the plan test", "metadata": map[string]any{"index": i}}
		if d := p.deps[ref]; len(d) > 0 {
			t["depends_on"] = d
		}
		if par := p.parent[ref]; par != "" {
			t["parent"] = par
		}
		if r := p.role[ref]; r != "" {
			t["role"] = r
		}
		if l := p.labels[ref]; l != nil {
			t["labels"] = l
		}
		out = append(out, t)
	}
	return out
}

// planOut is task_plan's answer.
type planOut struct {
	IDs   map[string]string `json:"ids"`
	Tasks []struct {
		ID        string   `json:"id"`
		Ref       string   `json:"ref"`
		Title     string   `json:"title"`
		ParentID  *string  `json:"parent_id"`
		DependsOn []string `json:"depends_on"`
	} `json:"tasks"`
}

// callPlan sends task_plan with a progress token; it returns the raw result
// and the progress notifications received while it ran.
func callPlan(t testing.TB, ctx context.Context, p *proc, project string, tasks []map[string]any, token string) (*mcp.CallToolResult, []string, time.Duration) {
	t.Helper()
	progress := p.collectProgress()
	req := mcp.CallToolRequest{}
	req.Params.Name = "task_plan"
	req.Params.Arguments = map[string]any{"workspace": project, "tasks": tasks, "agent": "planner"}
	req.Params.Meta = &mcp.Meta{ProgressToken: token}
	t0 := time.Now()
	res, err := p.c.CallTool(ctx, req)
	took := time.Since(t0)
	if err != nil {
		t.Fatalf("task_plan: transport error: %v\nstderr:\n%s", err, tail(p.stderr.String(), 4000))
	}
	// Notifications sent before the answer may be delivered just after it.
	time.Sleep(200 * time.Millisecond)
	return res, progress(), took
}

// resolve maps a dependency or parent (a ref or an existing id) to an id.
func resolve(ids map[string]string, x string) string {
	if id, ok := ids[x]; ok {
		return id
	}
	return x
}

// allTasks pages task_list until the end.
func allTasks(t testing.TB, ctx context.Context, p *proc, project string, filter map[string]any) []leasedTask {
	t.Helper()
	var all []leasedTask
	cursor := ""
	for range 1000 {
		args := map[string]any{"workspace": project, "limit": 200}
		for k, v := range filter {
			args[k] = v
		}
		if cursor != "" {
			args["cursor"] = cursor
		}
		var out struct {
			Tasks      []leasedTask `json:"tasks"`
			NextCursor string       `json:"next_cursor"`
		}
		p.ok(ctx, "task_list", args, &out)
		all = append(all, out.Tasks...)
		if out.NextCursor == "" {
			return all
		}
		cursor = out.NextCursor
	}
	t.Fatal("task_list: more than 1000 pages")
	return nil
}

// checkPlanWritten asserts that every task of plan exists as planned.
func checkPlanWritten(t *testing.T, ctx context.Context, p *proc, project string, plan *dagPlan, out planOut, listed map[string]leasedTask) {
	t.Helper()
	idShape := regexp.MustCompile(`^tsk_[0-9a-f]{16}$`)
	if len(out.IDs) != len(plan.refs) || len(out.Tasks) != len(plan.refs) {
		t.Fatalf("task_plan mapped %d refs and returned %d tasks; want %d of each", len(out.IDs), len(out.Tasks), len(plan.refs))
	}
	seen := map[string]string{}
	for ref, id := range out.IDs {
		if !idShape.MatchString(id) {
			t.Errorf("ref %q mapped to %q, not a task id", ref, id)
		}
		if prev, ok := seen[id]; ok {
			t.Errorf("refs %q and %q mapped to the same id %s", prev, ref, id)
		}
		seen[id] = ref
	}
	// The compact answer: in an order where every task comes after those it names.
	pos := map[string]int{}
	for i, c := range out.Tasks {
		pos[c.ID] = i
	}
	for i, c := range out.Tasks {
		if out.IDs[c.Ref] != c.ID || plan.title[c.Ref] != c.Title {
			t.Errorf("answer's tasks[%d] = %+v; ids[%q] = %s, title %q", i, c, c.Ref, out.IDs[c.Ref], plan.title[c.Ref])
		}
		for _, d := range c.DependsOn {
			if j, ok := pos[d]; ok && j > i {
				t.Errorf("answer's tasks[%d] (%s) comes before its dependency %s", i, c.Ref, d)
			}
		}
	}
	for _, ref := range plan.refs {
		id := out.IDs[ref]
		got, ok := listed[id]
		if !ok {
			t.Errorf("ref %q: task %s is not in task_list", ref, id)
			continue
		}
		var want []string
		for _, d := range plan.deps[ref] {
			want = append(want, resolve(out.IDs, d))
		}
		slices.Sort(want)
		have := slices.Clone(got.DependsOn)
		slices.Sort(have)
		if !slices.Equal(have, want) {
			t.Errorf("ref %q (%s): depends_on %v, want %v", ref, id, have, want)
		}
		wantParent := ""
		if par := plan.parent[ref]; par != "" {
			wantParent = resolve(out.IDs, par)
		}
		if strp(got.ParentID) != wantParent && !(got.ParentID == nil && wantParent == "") {
			t.Errorf("ref %q (%s): parent %s, want %q", ref, id, strp(got.ParentID), wantParent)
		}
		if got.Title != plan.title[ref] || got.Priority != plan.prio[ref] || got.Status != "pending" {
			t.Errorf("ref %q (%s): %q %s %s; want %q %s pending", ref, id, got.Title, got.Priority, got.Status, plan.title[ref], plan.prio[ref])
		}
		if r := plan.role[ref]; (r == "" && got.Role != nil && *got.Role != "") || (r != "" && strp(got.Role) != r) {
			t.Errorf("ref %q (%s): role %s, want %q", ref, id, strp(got.Role), r)
		}
		if l := plan.labels[ref]; !slices.Equal(got.Labels, l) && !(len(l) == 0 && len(got.Labels) == 0) {
			t.Errorf("ref %q (%s): labels %v, want %v", ref, id, got.Labels, l)
		}
	}
}

// A plan of 500 tasks, 800 dependencies and 20 parents, sent shuffled, in
// one call: every task is created as planned, the refs are mapped, progress
// notifications arrive, and the tasks' dependencies read back right from
// task_list (every task) and task_get (a sample, with dependents).
func TestPlan500TasksAnd800DependenciesInOneCall(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 13))
	project := newProject(t)
	p := start(t, procOpts{dir: project})
	ctx := ctxT(t)
	plan := newDAGPlan(rng, "s", 500, 800, 20, nil)

	res, progress, took := callPlan(t, ctx, p, project, plan.args(), "plan-500")
	if res.IsError {
		t.Fatalf("task_plan of 500 tasks: %s", text(res))
	}
	t.Logf("task_plan of 500 tasks and %d dependencies took %v; %d progress notifications; answer %s", plan.nDeps, took.Round(time.Millisecond), len(progress), truncate(text(res), 200))
	if len(progress) == 0 {
		t.Errorf("task_plan of 500 tasks sent no progress notification (progressToken given)")
	}
	var out planOut
	decode(t, res, &out)
	b, _ := json.Marshal(res.StructuredContent)
	t.Logf("answer: %d bytes of JSON", len(b))
	all := allTasks(t, ctx, p, project, nil)
	if len(all) != 500 {
		t.Fatalf("task_list pages hold %d tasks, want 500", len(all))
	}
	listed := map[string]leasedTask{}
	for _, x := range all {
		listed[x.ID] = x
	}
	checkPlanWritten(t, ctx, p, project, plan, out, listed)

	// task_get of a sample: its dependents are exactly the tasks naming it.
	dependents := map[string][]string{}
	for _, ref := range plan.refs {
		for _, d := range plan.deps[ref] {
			dependents[out.IDs[d]] = append(dependents[out.IDs[d]], out.IDs[ref])
		}
	}
	for i := 0; i < 500; i += 25 {
		id := out.IDs[plan.refs[i]]
		var d struct {
			Task       leasedTask   `json:"task"`
			Dependents []leasedTask `json:"dependents"`
			Subtasks   []leasedTask `json:"subtasks"`
		}
		p.ok(ctx, "task_get", map[string]any{"workspace": project, "id": id}, &d)
		var got []string
		for _, x := range d.Dependents {
			got = append(got, x.ID)
		}
		slices.Sort(got)
		want := slices.Clone(dependents[id])
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("task_get(%s = %s): dependents %v, want %v", plan.refs[i], id, got, want)
		}
	}
	// Parents have their five subtasks.
	for k := range 20 {
		ref := plan.refs[480+k]
		id := out.IDs[ref]
		subs := allTasks(t, ctx, p, project, map[string]any{"parent_id": id})
		if len(subs) != 5 {
			t.Errorf("parent %s (%s) has %d subtasks in task_list, want 5", ref, id, len(subs))
		}
	}
}

// dumpTables renders every table of tasks.db (FTS tables and their shadow
// tables included), every row, read-only: two dumps are equal only if
// nothing was written. One exception: the outbox's rows are left out, since
// the mirror syncer deletes them in the background at any moment (with no
// mirror configured, when the store opens and every minute); what a write
// would add to it shows in sqlite_sequence, whose outbox counter only grows.
func dumpTables(t testing.TB, project string) (string, int) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+tasksDB(project)+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type='table' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	var out strings.Builder
	total := 0
	for _, tb := range tables {
		// The outbox and its pruning mark belong to the mirror syncer, which
		// prunes in the background whenever it likes (with no mirror
		// configured, everything delivered): a refused plan writes no
		// outbox row, but the mark may move between two dumps.
		if tb == "outbox" || tb == "outbox_pruned" {
			continue
		}
		r, err := db.Query(`SELECT * FROM "` + tb + `"`)
		if err != nil {
			t.Fatalf("reading table %s: %v", tb, err)
		}
		cols, _ := r.Columns()
		var lines []string
		for r.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := r.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for i, v := range vals {
				if i > 0 {
					b.WriteByte('|')
				}
				fmt.Fprintf(&b, "%q", fmt.Sprint(v))
			}
			lines = append(lines, b.String())
		}
		r.Close()
		sort.Strings(lines)
		total += len(lines)
		fmt.Fprintf(&out, "== %s (%d rows)\n%s\n", tb, len(lines), strings.Join(lines, "\n"))
	}
	return out.String(), total
}

// The same kind of plan with one cycle added (four tasks, each depending on
// the next, around): nothing is written — every table of tasks.db reads the
// same before and after — and the refusal names every member of the cycle.
func TestPlanWithACycleWritesNothingAndNamesEveryMember(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 31))
	project := newProject(t)
	p := start(t, procOpts{dir: project})
	ctx := ctxT(t)
	// Something in the database first, so that "nothing written" is about a
	// store with tasks, dependencies and history in it.
	first := newDAGPlan(rng, "pre", 50, 60, 2, nil)
	var pre planOut
	p.ok(ctx, "task_plan", map[string]any{"workspace": project, "tasks": first.args()}, &pre)

	plan := newDAGPlan(rng, "c", 500, 800, 20, []string{pre.IDs["pre-000"], pre.IDs["pre-049"]})
	// The cycle: c0 <- c1 <- c2 <- c3 <- c0 (x <- y: y depends on x). Each of
	// c0..c2 keeps only the one dependent of the cycle, so that the cycle is
	// the only one and its members are exactly these four.
	members := []string{plan.refs[100], plan.refs[130], plan.refs[160], plan.refs[190]}
	for _, r := range plan.refs {
		for k := range 3 {
			if r == members[k+1] {
				continue
			}
			plan.deps[r] = slices.DeleteFunc(plan.deps[r], func(d string) bool { return d == members[k] })
		}
	}
	for k := 1; k < 4; k++ {
		if !slices.Contains(plan.deps[members[k]], members[k-1]) {
			plan.deps[members[k]] = append(plan.deps[members[k]], members[k-1])
		}
	}
	plan.deps[members[0]] = append(plan.deps[members[0]], members[3])

	before, n := dumpTables(t, project)
	res, _, took := callPlan(t, ctx, p, project, plan.args(), "cycle")
	if !res.IsError {
		t.Fatalf("a plan with a cycle %v was written: %s", members, truncate(toolText(res), 300))
	}
	msg := text(res)
	t.Logf("refused in %v: %s", took.Round(time.Millisecond), msg)
	if !strings.HasPrefix(msg, "dependency_cycle: ") {
		t.Errorf("refusal of a plan whose only problem is a cycle: %q; want it to start with dependency_cycle: ", msg)
	}
	for _, m := range members {
		if !strings.Contains(msg, `"`+m+`"`) {
			t.Errorf("the refusal does not name cycle member %q: %s", m, msg)
		}
	}
	for _, r := range []string{plan.refs[0], plan.refs[499]} {
		if strings.Contains(msg, `"`+r+`"`) {
			t.Errorf("the refusal names %q, which is on no cycle: %s", r, msg)
		}
	}
	after, _ := dumpTables(t, project)
	if after != before {
		t.Fatalf("a refused plan changed tasks.db:\n%s", firstDiff(before, after))
	}
	t.Logf("tasks.db identical before and after the refused plan (%d rows in every table together)", n)
	if len(allTasks(t, ctx, p, project, nil)) != 50 {
		t.Fatalf("task_list does not show the 50 tasks planned before")
	}
}

// firstDiff shows where two dumps part.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range max(len(al), len(bl)) {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\nbefore: %s\nafter:  %s", i+1, truncate(x, 400), truncate(y, 400))
		}
	}
	return "(identical)"
}

// A plan with several problems of different kinds is refused with every one
// of them listed, by index and ref, in one error; nothing is written.
func TestPlanRefusalListsEveryProblem(t *testing.T) {
	project := newProject(t)
	p := start(t, procOpts{dir: project})
	ctx := ctxT(t)
	var existing taskOut
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "already there"}, &existing)

	tasks := []map[string]any{
		{"ref": "good", "title": "fine"},
		{"ref": "dup", "title": "first of two"},
		{"ref": "dup", "title": "second of two"},
		{"ref": "orphan", "title": "waits for nothing real", "depends_on": []string{"no-such-ref"}},
		{"ref": "tsk_0123456789abcdef", "title": "a ref shaped like an id"},
		{"ref": "lost-child", "title": "child of nothing", "parent": "missing-parent"},
		{"ref": "uses-existing", "title": "fine too", "depends_on": []string{existing.Task.ID, "good"}},
		{"ref": "untitled", "title": ""},
	}
	before, _ := dumpTables(t, project)
	res, _, _ := callPlan(t, ctx, p, project, tasks, "bad")
	if !res.IsError {
		t.Fatalf("a plan with six problems was written: %s", truncate(toolText(res), 300))
	}
	msg := text(res)
	t.Logf("refusal: %s", msg)
	lead := regexp.MustCompile(`^invalid_argument: the plan was not written: (\d+) problems: `)
	if m := lead.FindStringSubmatch(msg); m == nil {
		t.Errorf("refusal %q; want it to start %q", msg, "invalid_argument: the plan was not written: N problems: ")
	} else if m[1] != "5" && m[1] != "6" {
		// The duplicate may be counted once (for the second) or for both.
		t.Errorf("refusal counts %s problems; the plan has a duplicate ref, an unknown dependency ref, an id-shaped ref, an unknown parent and an empty title", m[1])
	}
	for _, want := range []string{
		`tasks[2] (ref "dup")`,
		`tasks[3] (ref "orphan")`, `no-such-ref`,
		`tasks[4] (ref "tsk_0123456789abcdef")`,
		`tasks[5] (ref "lost-child")`, `missing-parent`,
		`tasks[7] (ref "untitled")`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("the refusal does not say %s: %s", want, msg)
		}
	}
	for _, not := range []string{`(ref "good")`, `(ref "uses-existing")`} {
		if strings.Contains(msg, not) {
			t.Errorf("the refusal blames a good task %s: %s", not, msg)
		}
	}
	if after, _ := dumpTables(t, project); after != before {
		t.Fatalf("a refused plan changed tasks.db:\n%s", firstDiff(before, after))
	}

	// An id that looks right but names no task: refused, named, nothing written.
	res, _, _ = callPlan(t, ctx, p, project, []map[string]any{
		{"ref": "a", "title": "a", "depends_on": []string{"tsk_ffffffffffffffff"}},
		{"ref": "b", "title": "b", "parent": "tsk_eeeeeeeeeeeeeeee"},
	}, "missing-ids")
	if !res.IsError {
		t.Fatalf("a plan naming missing task ids was written: %s", truncate(toolText(res), 300))
	}
	msg = text(res)
	t.Logf("refusal: %s", msg)
	for _, want := range []string{"tsk_ffffffffffffffff", "tsk_eeeeeeeeeeeeeeee"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the refusal does not name the missing task %s: %s", want, msg)
		}
	}
	if after, _ := dumpTables(t, project); after != before {
		t.Fatalf("a refused plan changed tasks.db:\n%s", firstDiff(before, after))
	}
}
