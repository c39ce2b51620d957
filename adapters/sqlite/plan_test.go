package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// rawDB opens the store's file through a connection of its own (busy
// timeout 5 s), for reading every table and for setting up states no
// store call makes directly. Closed at cleanup.
func rawDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// fullDump renders every row of every table of the database (outbox,
// history and lease columns included), sorted, as text.
func fullDump(t testing.TB, db *sql.DB) string {
	t.Helper()
	var tables []string
	rows, err := db.Query(`SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, tb := range tables {
		rows, err := db.Query(`SELECT * FROM "` + tb + `"`)
		if err != nil {
			t.Fatalf("dump %s: %v", tb, err)
		}
		cols, _ := rows.Columns()
		vals, ptrs := make([]any, len(cols)), make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		var lines []string
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, fmt.Sprintln(vals...))
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		slices.Sort(lines)
		fmt.Fprintf(&b, "== %s (%d rows)\n%s", tb, len(lines), strings.Join(lines, ""))
	}
	return b.String()
}

// resolve does what work.Plan does before it calls CreatePlan, for plans
// already in order: a parent or dependency shaped like a task id names an
// existing task, anything else a ref of the plan.
func resolve(tasks []work.PlanTask) []work.ResolvedPlanTask {
	out := make([]work.ResolvedPlanTask, len(tasks))
	isID := func(v string) bool { return strings.HasPrefix(v, "tsk_") }
	for i, pt := range tasks {
		r := work.ResolvedPlanTask{Index: i, Task: pt}
		if pt.Parent != "" {
			if isID(pt.Parent) {
				r.ParentID = pt.Parent
			} else {
				r.ParentRef = pt.Parent
			}
		}
		for _, d := range pt.DependsOn {
			if isID(d) {
				r.DependsIDs = append(r.DependsIDs, d)
			} else {
				r.DependsRefs = append(r.DependsRefs, d)
			}
		}
		out[i] = r
	}
	return out
}

// bigPlan is a plan of n tasks with exactly deps dependencies between them
// (each on an earlier task, none twice), a parent every tenth task, and
// the first task depending on existing and under an existing parent.
func bigPlan(n, deps int, existing string) []work.PlanTask {
	rng := rand.New(rand.NewPCG(13, 13))
	tasks := make([]work.PlanTask, n)
	for i := range tasks {
		tasks[i] = work.PlanTask{Ref: fmt.Sprintf("r%d", i), Title: fmt.Sprintf("planned task %d", i),
			Description: "part of a big plan", Labels: []string{"plan", fmt.Sprintf("wave-%d", i%4)}}
		if i%10 != 0 {
			tasks[i].Parent = fmt.Sprintf("r%d", i/10*10)
		}
	}
	tasks[0].Parent, tasks[0].DependsOn = existing, []string{existing}
	tasks[1].Priority, tasks[1].Role, tasks[1].Metadata = "high", "writer", json.RawMessage(`{ "k": 1 }`)
	have := map[[2]int]bool{}
	for len(have) < deps {
		i := 1 + rng.IntN(n-1)
		j := rng.IntN(i)
		if !have[[2]int{i, j}] {
			have[[2]int{i, j}] = true
			tasks[i].DependsOn = append(tasks[i].DependsOn, fmt.Sprintf("r%d", j))
		}
	}
	return tasks
}

func TestCreatePlanWrites500TasksWith800DependenciesInOneCall(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tasks.db")
	s := openAt(t, path)
	db := rawDB(t, path)
	existing := mustCreate(t, s, sqlite.NewTask{Title: "already there"})
	plan := bigPlan(500, 800, existing.ID)

	res, err := s.CreatePlan(ctx, resolve(plan), "agent-planner")
	if err != nil {
		t.Fatalf("CreatePlan: %v", err)
	}
	if len(res.IDs) != 500 || len(res.Tasks) != 500 {
		t.Fatalf("CreatePlan mapped %d refs and returned %d tasks, want 500 of each", len(res.IDs), len(res.Tasks))
	}
	refOf := map[string]string{existing.ID: existing.ID}
	for ref, id := range res.IDs {
		if _, dup := refOf[id]; dup {
			t.Fatalf("id %s given twice", id)
		}
		refOf[id] = ref
	}

	// Every dependency and parent as planned, read back from the tables.
	wantDeps, gotDeps := []string{}, []string{}
	for _, pt := range plan {
		for _, d := range pt.DependsOn {
			wantDeps = append(wantDeps, pt.Ref+"->"+d)
		}
	}
	rows, err := db.Query(`SELECT task_id, depends_on_id FROM task_dependencies`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var a, b string
		if err := rows.Scan(&a, &b); err != nil {
			t.Fatal(err)
		}
		gotDeps = append(gotDeps, refOf[a]+"->"+refOf[b])
	}
	rows.Close()
	slices.Sort(wantDeps)
	slices.Sort(gotDeps)
	if len(wantDeps) != 801 || !slices.Equal(gotDeps, wantDeps) {
		t.Errorf("stored %d dependencies, want the %d planned; first stored %v", len(gotDeps), len(wantDeps), gotDeps[:3])
	}

	// Read back through the store: each task as CreatePlan returned it, in plan order.
	var prev sqlite.Task
	for i, got := range res.Tasks {
		if got.ID != res.IDs[plan[i].Ref] {
			t.Fatalf("Tasks[%d] is %s, want the task of ref %s", i, got.ID, plan[i].Ref)
		}
		stored := mustGet(t, s, got.ID).Task
		if !reflect.DeepEqual(stored, got) {
			t.Fatalf("task %d as stored:\n%+v\nas CreatePlan returned it:\n%+v", i, stored, got)
		}
		wantParent := plan[i].Parent
		if p := got.ParentID; (p == nil) != (wantParent == "") || (p != nil && refOf[*p] != wantParent) {
			t.Errorf("task %s has parent %v, want ref %q", plan[i].Ref, p, wantParent)
		}
		if i > 0 && !got.CreatedAt.After(prev.CreatedAt) {
			t.Errorf("created_at of task %d (%s) is not after task %d's (%s)", i, got.CreatedAt, i-1, prev.CreatedAt)
		}
		prev = got
	}
	if t1 := res.Tasks[1]; t1.Priority != "high" || t1.Role == nil || *t1.Role != "writer" || string(t1.Metadata) != `{"k":1}` ||
		!reflect.DeepEqual(t1.Labels, []string{"plan", "wave-1"}) {
		t.Errorf("task r1 = %+v, want priority high, role writer, compacted metadata, sorted labels", t1)
	}

	// One history event and one outbox event per task.
	var created, byPlanner, outbox int
	if err := db.QueryRow(`SELECT count(*), count(*) FILTER (WHERE actor = 'agent-planner' AND note = 'plan')
		FROM task_history WHERE event = 'created'`).Scan(&created, &byPlanner); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT count(*) FROM outbox WHERE kind = 'create' AND task_id <> ?`, existing.ID).Scan(&outbox); err != nil {
		t.Fatal(err)
	}
	if byPlanner != 500 || outbox != 500 {
		t.Errorf("history has %d created events by the planner (of %d), outbox %d create events; want 500 each", byPlanner, created, outbox)
	}
}

func TestCreatePlanNamingMissingTasksWritesNothingAndNamesEach(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tasks.db")
	s := openAt(t, path)
	db := rawDB(t, path)
	there := mustCreate(t, s, sqlite.NewTask{Title: "there"})
	before := fullDump(t, db)

	plan := []work.PlanTask{
		{Ref: "api", Title: "api", DependsOn: []string{there.ID}},
		{Ref: "ui", Title: "ui", Parent: "tsk_00000000000000aa", DependsOn: []string{"api"}},
		{Ref: "docs", Title: "docs"},
		{Ref: "db", Title: "db", DependsOn: []string{"tsk_00000000000000bb", there.ID, "tsk_00000000000000cc"}},
	}
	_, err := s.CreatePlan(ctx, resolve(plan), "a")
	e := wantKind(t, err, sqlite.KindInvalid)
	want := `the plan was not written (nothing was created) because it names tasks that do not exist ` +
		`(fix or drop those ids: see task_list): ` +
		`tasks[1] (ref "ui"): parent names tsk_00000000000000aa which does not exist; ` +
		`tasks[3] (ref "db"): depends_on names tsk_00000000000000bb which does not exist; ` +
		`tasks[3] (ref "db"): depends_on names tsk_00000000000000cc which does not exist`
	if e.Field != "tasks" || e.Msg != want {
		t.Errorf("error (field %q):\n%s\nwant (field tasks):\n%s", e.Field, e.Msg, want)
	}
	if after := fullDump(t, db); after != before {
		t.Errorf("the refused plan changed the database:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func TestCreatePlanListsEveryInvalidTaskAndWritesNothing(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tasks.db")
	s := openAt(t, path)
	db := rawDB(t, path)
	before := fullDump(t, db)
	plan := []work.PlanTask{
		{Ref: "ok", Title: "fine"},
		{Ref: "untitled", Title: "  "},
		{Ref: "urgent", Title: "x", Priority: "urgent"},
		{Ref: "ok", Title: "again"},
		{Ref: "meta", Title: "x", Metadata: json.RawMessage(`[1]`)},
	}
	_, err := s.CreatePlan(ctx, resolve(plan), "a")
	e := wantKind(t, err, sqlite.KindInvalid)
	want := `the plan was not written (nothing was created) because some tasks are not valid: ` +
		`tasks[1] (ref "untitled"): title is required: give the task a short title; ` +
		`tasks[2] (ref "urgent"): priority "urgent" is not one of: low, medium, high, critical; ` +
		`tasks[3] (ref "ok"): ref "ok" is used by an earlier task; give every task a ref of its own; ` +
		`tasks[4] (ref "meta"): metadata must be a JSON object, like {"key": "value"}`
	if e.Field != "tasks" || e.Msg != want {
		t.Errorf("error (field %q):\n%s\nwant:\n%s", e.Field, e.Msg, want)
	}
	if after := fullDump(t, db); after != before {
		t.Errorf("the refused plan changed the database")
	}
}

func TestCreatePlanGivesSubtasksTheirPlannedParents(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	plan := []work.PlanTask{
		{Ref: "epic", Title: "release 2"},
		{Ref: "story", Title: "login", Parent: "epic"},
		{Ref: "impl", Title: "implement login", Parent: "story"},
		{Ref: "test", Title: "test login", Parent: "story", DependsOn: []string{"impl"}},
		{Ref: "notes", Title: "release notes", Parent: "epic", DependsOn: []string{"story", "test", "impl"}},
	}
	res, err := s.CreatePlan(ctx, resolve(plan), "")
	if err != nil {
		t.Fatal(err)
	}
	sub := func(ref string) []string {
		var out []string
		for _, st := range mustGet(t, s, res.IDs[ref]).Subtasks {
			out = append(out, st.ID)
		}
		return out
	}
	id := res.IDs
	if got, want := sub("epic"), []string{id["story"], id["notes"]}; !slices.Equal(got, want) {
		t.Errorf("epic's subtasks = %v, want story, notes = %v", got, want)
	}
	if got, want := sub("story"), []string{id["impl"], id["test"]}; !slices.Equal(got, want) {
		t.Errorf("story's subtasks = %v, want impl, test = %v", got, want)
	}
	wantDeps := []string{id["impl"], id["story"], id["test"]}
	slices.Sort(wantDeps)
	if got := mustGet(t, s, id["notes"]).Task.DependsOn; !slices.Equal(got, wantDeps) {
		t.Errorf("notes depends on %v, want %v (sorted)", got, wantDeps)
	}
	if p := res.Tasks[0].ParentID; p != nil {
		t.Errorf("epic has parent %s, want none", *p)
	}
}

// CheckNewTask must say exactly what task_create says about a task's
// fields, and accept what it accepts.
func TestCheckNewTaskAppliesTaskCreatesFieldRules(t *testing.T) {
	s := openStore(t)
	parent := mustCreate(t, s, sqlite.NewTask{Title: "parent"})
	long := strings.Repeat("x", 501)
	for _, nt := range []sqlite.NewTask{
		{Title: ""},
		{Title: long},
		{Title: "t", Description: strings.Repeat("d", 20001)},
		{Title: "t", Priority: "urgent"},
		{Title: "t", Labels: []string{"has space"}},
		{Title: "t", Role: "writer\x00"},
		{Title: "t", Metadata: json.RawMessage(`"text"`)},
		{Title: "t", ParentID: strings.Repeat("p", 200)},
		{Title: "t", DependsOn: []string{""}},
		{Title: "t", DependsOn: func() []string {
			var ids []string
			for i := range 101 {
				ids = append(ids, fmt.Sprintf("tsk_%016x", i))
			}
			return ids
		}()},
		{Title: "  fine  ", Priority: "low", Labels: []string{"b", "a"}, Role: "writer", ParentID: parent.ID,
			Metadata: json.RawMessage(`{"a": 1}`)},
	} {
		checked := s.CheckNewTask(nt)
		_, created := s.Create(context.Background(), nt)
		if checked == nil && created == nil {
			continue
		}
		if checked == nil || created == nil || checked.Error() != created.Error() {
			t.Errorf("for %.80v\nCheckNewTask: %v\nCreate:       %v", nt, checked, created)
		}
		var ce, cr *sqlite.Error
		if errorsAs(checked, &ce) && errorsAs(created, &cr) && (ce.Kind != cr.Kind || ce.Field != cr.Field) {
			t.Errorf("CheckNewTask says %s/%s, Create %s/%s", ce.Kind, ce.Field, cr.Kind, cr.Field)
		}
	}
}
