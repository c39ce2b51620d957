package work_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/clienterr"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

func refsOf(rs []work.ResolvedPlanTask) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Task.Ref)
	}
	return out
}

// planError returns the client error of a refused plan and its message.
func planError(t *testing.T, err error, kind clienterr.Kind) string {
	t.Helper()
	var ce *clienterr.Error
	if !errors.As(err, &ce) || ce.Kind != kind {
		t.Fatalf("error %v; want a client error of kind %s", err, kind)
	}
	return ce.Msg
}

func TestCheckPlanOrdersParentsAndDependenciesFirstAndKeepsPlanOrderOtherwise(t *testing.T) {
	existing := "tsk_0123456789abcdef"
	tasks := []work.PlanTask{
		{Ref: "test", Title: "test", DependsOn: []string{"build", "build"}},
		{Ref: "build", Title: "build", Parent: "epic", DependsOn: []string{existing}},
		{Ref: "docs", Title: "docs"},
		{Ref: "epic", Title: "epic", Parent: "task_003856c5"},
	}
	rs, err := work.CheckPlan(tasks, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := refsOf(rs); !slices.Equal(got, []string{"docs", "epic", "build", "test"}) {
		t.Fatalf("order %v; want [docs epic build test]", got)
	}
	byRef := map[string]work.ResolvedPlanTask{}
	for _, r := range rs {
		byRef[r.Task.Ref] = r
	}
	if b := byRef["build"]; b.Index != 1 || b.ParentRef != "epic" || b.ParentID != "" || !slices.Equal(b.DependsIDs, []string{existing}) {
		t.Fatalf("build resolved as %+v", b)
	}
	if e := byRef["epic"]; e.ParentID != "task_003856c5" || e.ParentRef != "" {
		t.Fatalf("a Python task id as parent resolved as %+v", e)
	}
	if te := byRef["test"]; !slices.Equal(te.DependsRefs, []string{"build"}) {
		t.Fatalf("a repeated dependency: %+v", te.DependsRefs)
	}
}

func TestCheckPlanListsEveryProblemByRef(t *testing.T) {
	long := strings.Repeat("r", 65)
	fields := func(nt work.NewTask) error {
		if nt.Title == "" {
			return &clienterr.Error{Kind: clienterr.InvalidArgument, Field: "title", Msg: "title is required"}
		}
		return nil
	}
	tasks := []work.PlanTask{
		{Ref: "a", Title: "a", DependsOn: []string{"a", "nope"}}, // 0: itself, unknown
		{Ref: "", Title: "no ref"},                               // 1
		{Ref: long, Title: "long"},                               // 2
		{Ref: "bad ref!", Title: "bad"},                          // 3
		{Ref: "tsk_0123456789abcdef", Title: "id shaped"},        // 4
		{Ref: "a", Title: "dup"},                                 // 5
		{Ref: "b", Parent: "b"},                                  // 6: own parent, no title
		{Ref: "c", Title: "c", Parent: "tsk_123"},                // 7: parent neither ref nor id
	}
	_, err := work.CheckPlan(tasks, fields)
	msg := planError(t, err, clienterr.InvalidArgument)
	want := []string{
		`tasks[0] (ref "a"): a task cannot depend on itself`,
		`tasks[0] (ref "a"): depends_on "nope" names no ref of this plan and is not a task id`,
		`tasks[1]: ref is required`,
		`tasks[2] (ref "` + long[:64] + `…"): ref is 65 characters; use at most 64`,
		`tasks[3] (ref "bad ref!"): ref "bad ref!" may hold only letters, digits and _ . : -`,
		`tasks[4] (ref "tsk_0123456789abcdef"): ref "tsk_0123456789abcdef" has the shape of a task id`,
		`tasks[5] (ref "a"): ref "a" is already the ref of tasks[0]`,
		`tasks[6] (ref "b"): a task cannot be its own parent`,
		`tasks[6] (ref "b"): title is required`,
		`tasks[7] (ref "c"): parent "tsk_123" names no ref of this plan and is not a task id`,
	}
	if !strings.HasPrefix(msg, fmt.Sprintf("the plan was not written: %d problems: ", len(want))) {
		t.Fatalf("message starts %q", msg[:min(len(msg), 80)])
	}
	last := -1
	for _, w := range want {
		i := strings.Index(msg, w)
		if i < 0 {
			t.Fatalf("the message does not say %q:\n%s", w, msg)
		}
		if i < last {
			t.Fatalf("%q is out of task order in:\n%s", w, msg)
		}
		last = i
	}
}

func TestCheckPlanNamesEveryMemberOfEachCycle(t *testing.T) {
	tasks := []work.PlanTask{
		{Ref: "ok", Title: "ok"},
		{Ref: "a", Title: "a", DependsOn: []string{"c"}},
		{Ref: "b", Title: "b", DependsOn: []string{"a"}},
		{Ref: "c", Title: "c", DependsOn: []string{"b"}},
		{Ref: "after", Title: "after the cycle", DependsOn: []string{"c"}},
		{Ref: "p", Title: "p", Parent: "q"},
		{Ref: "q", Title: "q", Parent: "p"},
	}
	_, err := work.CheckPlan(tasks, nil)
	msg := planError(t, err, clienterr.DependencyCycle)
	for _, w := range []string{
		"the plan was not written: 2 problems: ",
		`tasks[1] (ref "a"): its dependencies and parents form a cycle through the refs "a", "b", "c"`,
		`tasks[5] (ref "p"): its dependencies and parents form a cycle through the refs "p", "q"`,
	} {
		if !strings.Contains(msg, w) {
			t.Fatalf("the message does not say %q:\n%s", w, msg)
		}
	}
	if strings.Contains(msg, `"after"`) || strings.Contains(msg, `"ok"`) {
		t.Fatalf("a task that is not on a cycle is named as a member:\n%s", msg)
	}
	// A cycle beside another problem is an invalid argument.
	tasks = append(tasks, work.PlanTask{Ref: "x", Title: "x", DependsOn: []string{"missing"}})
	_, err = work.CheckPlan(tasks, nil)
	planError(t, err, clienterr.InvalidArgument)
}

func TestCheckPlanRefusesDependenciesAlongTheParentChain(t *testing.T) {
	tasks := []work.PlanTask{
		{Ref: "epic", Title: "epic", DependsOn: []string{"leaf"}},
		{Ref: "mid", Title: "mid", Parent: "epic"},
		{Ref: "leaf", Title: "leaf", Parent: "mid", DependsOn: []string{"epic"}},
	}
	_, err := work.CheckPlan(tasks, nil)
	msg := planError(t, err, clienterr.InvalidArgument)
	for _, w := range []string{
		`tasks[0] (ref "epic"): depends_on "leaf" names its own subtask`,
		`tasks[2] (ref "leaf"): depends_on "epic" names its own parent`,
	} {
		if !strings.Contains(msg, w) {
			t.Fatalf("the message does not say %q:\n%s", w, msg)
		}
	}
}

func TestCheckPlanCapsTheListOfProblems(t *testing.T) {
	tasks := make([]work.PlanTask, 80)
	for i := range tasks {
		tasks[i] = work.PlanTask{Ref: fmt.Sprintf("r%d", i), Title: "t", DependsOn: []string{"missing"}}
	}
	_, err := work.CheckPlan(tasks, nil)
	msg := planError(t, err, clienterr.InvalidArgument)
	if !strings.HasPrefix(msg, "the plan was not written: 80 problems: ") || !strings.HasSuffix(msg, "; and 30 more") ||
		!strings.Contains(msg, `tasks[49] (ref "r49")`) || strings.Contains(msg, `tasks[50] (ref "r50")`) {
		t.Fatalf("message of 80 problems:\n%s", msg)
	}
}

func TestCheckPlanRefusesAnEmptyOrOversizedPlan(t *testing.T) {
	_, err := work.CheckPlan(nil, nil)
	if msg := planError(t, err, clienterr.InvalidArgument); msg != "the plan has no tasks; pass 1 to 500 tasks" {
		t.Fatalf("empty plan: %q", msg)
	}
	big := make([]work.PlanTask, work.MaxPlanTasks+1)
	_, err = work.CheckPlan(big, nil)
	if msg := planError(t, err, clienterr.InvalidArgument); !strings.HasPrefix(msg, "the plan has 501 tasks; the limit is 500 per call") {
		t.Fatalf("oversized plan: %q", msg)
	}
}

func TestLooksLikeIDKnowsBothServersIDs(t *testing.T) {
	for s, want := range map[string]bool{"tsk_0123456789abcdef": true, "task_003856c5": true, "tsk_0123": false,
		"TSK_0123456789ABCDEF": false, "design_cli": false, "step-1": false} {
		if work.LooksLikeID(s) != want {
			t.Errorf("LooksLikeID(%q) = %v", s, !want)
		}
	}
}

// TestPlanWritesAWholeTreeInOneCall runs Plan end to end against a real task
// store: refs become ids, parents and dependencies point at the new tasks,
// progress reaches the end; a refused plan writes nothing.
func TestPlanWritesAWholeTreeInOneCall(t *testing.T) {
	p := newProject(t)
	ctx := context.Background()
	existing := p.create(t, work.NewTask{Title: "already there"})
	tasks := []work.PlanTask{
		{Ref: "test", Title: "test it", DependsOn: []string{"build"}},
		{Ref: "build", Title: "build it", Parent: "epic", DependsOn: []string{existing.ID}},
		{Ref: "epic", Title: "the epic", Labels: []string{"plan"}},
	}
	var steps [][2]int
	res, err := work.Plan(ctx, p.store, tasks, "agent-a", func(done, total int) { steps = append(steps, [2]int{done, total}) })
	if err != nil && strings.Contains(err.Error(), "not implemented yet") {
		// The store's CreatePlan and CheckNewTask are written by another
		// helper of issue 13 in parallel; this test runs once they land.
		t.Skip("sqlite.Store.CheckNewTask and CreatePlan are still stubs on this branch")
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(res.IDs) != 3 || len(steps) < 2 || steps[0][0] != 0 || steps[len(steps)-1][0] != steps[len(steps)-1][1] {
		t.Fatalf("ids %v, progress %v", res.IDs, steps)
	}
	build, err := p.store.Get(ctx, res.IDs["build"])
	if err != nil {
		t.Fatal(err)
	}
	if build.Task.ParentID == nil || *build.Task.ParentID != res.IDs["epic"] || !slices.Equal(build.Task.DependsOn, []string{existing.ID}) {
		t.Fatalf("build written as %+v", build.Task)
	}
	test, _ := p.store.Get(ctx, res.IDs["test"])
	if !slices.Equal(test.Task.DependsOn, []string{res.IDs["build"]}) {
		t.Fatalf("test depends on %v", test.Task.DependsOn)
	}

	before, _ := p.store.CountTasks(ctx)
	_, err = work.Plan(ctx, p.store, []work.PlanTask{{Ref: "x", Title: "x", DependsOn: []string{"y"}}, {Ref: "y", Title: "y", DependsOn: []string{"x"}}}, "agent-a", nil)
	planError(t, err, clienterr.DependencyCycle)
	if after, _ := p.store.CountTasks(ctx); after != before {
		t.Fatalf("a refused plan changed the task count from %d to %d", before, after)
	}
}
