package storetest

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/clienterr"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// RunPlans checks CreatePlan (through work.Plan, as task_plan calls it):
// refs resolved to ids, and all or nothing.
func RunPlans(t *testing.T, open func(t *testing.T) work.Store) {
	runAll(t, open, []test{
		{"APlanIsWrittenWithItsRefsResolved", planResolved},
		{"APlanNamingAMissingTaskWritesNothing", planAllOrNothing},
	})
}

func planResolved(e *env) {
	existing := e.create(work.NewTask{Title: "existing"})
	res, err := work.Plan(e.ctx, e.s, []work.PlanTask{
		{Ref: "epic", Title: "Epic", Labels: []string{"q3"}},
		{Ref: "build", Title: "Build", Parent: "epic", DependsOn: []string{"design", existing.ID}, Role: "coder", Priority: "high"},
		{Ref: "design", Title: "Design", Parent: "epic", Description: "sketch it", Metadata: json.RawMessage(`{"a": 1}`)},
	}, "planner", nil)
	if err != nil {
		e.t.Fatalf("Plan: %v", err)
	}
	epic, build, design := res.IDs["epic"], res.IDs["build"], res.IDs["design"]
	if len(res.IDs) != 3 || !work.LooksLikeID(epic) || !work.LooksLikeID(build) || !work.LooksLikeID(design) {
		e.t.Fatalf("plan ids = %v", res.IDs)
	}
	// Written in an order where each task comes after what it names.
	e.wantIDs("the plan's tasks", ids(res.Tasks), epic, design, build)
	for _, task := range res.Tasks {
		e.sameTask("Get of a planned task", e.task(task.ID), task)
		e.wantEvents(task.ID, "created planner")
		if h := e.history(task.ID); h[0].Note != "plan" {
			e.t.Fatalf("the created event of a planned task has note %q, want plan", h[0].Note)
		}
	}
	b := res.Tasks[2]
	e.sameTask("the planned build task", b, work.Task{
		ID: build, Title: "Build", Status: work.Pending, Priority: "high", Labels: []string{}, Role: ptr("coder"),
		ParentID: ptr(epic), DependsOn: sorted(design, existing.ID), Version: 1, CreatedAt: b.CreatedAt,
		UpdatedAt: b.CreatedAt, Metadata: json.RawMessage(`{}`),
	})
	d := res.Tasks[1]
	if d.Description != "sketch it" || string(d.Metadata) != `{"a":1}` || d.ParentID == nil || *d.ParentID != epic {
		e.t.Fatalf("the planned design task = %s", show(d))
	}
	if l := res.Tasks[0].Labels; len(l) != 1 || l[0] != "q3" {
		e.t.Fatalf("the epic's labels = %v", l)
	}
	e.wantIDs("the epic's subtasks", ids(e.get(epic).Subtasks), design, build)
	e.wantIDs("the existing task's dependents", ids(e.get(existing.ID).Dependents), build)
	if n := e.count(); n != 4 {
		e.t.Fatalf("CountTasks = %d, want 4", n)
	}
	if err := e.s.CheckNewTask(work.NewTask{Title: "fine", Priority: "low"}); err != nil {
		e.t.Fatalf("CheckNewTask of a valid task: %v", err)
	}
	e.wantErr("CheckNewTask of a bad priority", e.s.CheckNewTask(work.NewTask{Title: "x", Priority: "urgent"}),
		clienterr.InvalidArgument, "")
}

func planAllOrNothing(e *env) {
	existing := e.create(work.NewTask{Title: "existing"})
	mark, seq := e.changeMark(), e.lastOutboxSeq()
	const noParent, noDep = "tsk_00000000000000aa", "tsk_00000000000000bb"
	_, err := work.Plan(e.ctx, e.s, []work.PlanTask{
		{Ref: "a", Title: "A", DependsOn: []string{existing.ID}},
		{Ref: "b", Title: "B", Parent: noParent, DependsOn: []string{"a", noDep}},
	}, "planner", nil)
	e.wantErr("a plan naming missing tasks", err, clienterr.InvalidArgument,
		`the plan was not written (nothing was created) because it names tasks that do not exist `+
			`(fix or drop those ids: see task_list): tasks[1] (ref "b"): parent names `+noParent+` which does not exist; `+
			`tasks[1] (ref "b"): depends_on names `+noDep+` which does not exist`)
	if n := e.count(); n != 1 {
		e.t.Fatalf("CountTasks after a refused plan = %d, want 1", n)
	}
	if m, s := e.changeMark(), e.lastOutboxSeq(); m != mark || s != seq {
		e.t.Fatalf("a refused plan moved the change mark (%d -> %d) or the outbox (%d -> %d)", mark, m, seq, s)
	}
	e.wantIDs("the existing task's dependents", ids(e.get(existing.ID).Dependents))
}

// RunHistory checks a task's history, the project's recent history and the
// change marks.
func RunHistory(t *testing.T, open func(t *testing.T) work.Store) {
	runAll(t, open, []test{
		{"EveryChangeIsRecordedInOrderWithItsActor", historyOrder},
		{"HistoryPages", historyPaging},
		{"RecentHistoryIsNewestFirstAcrossTasks", historyRecent},
		{"ChangedSinceReportsTheChangedTasks", historyChanges},
	})
}

func historyOrder(e *env) {
	task := e.create(work.NewTask{Title: "T", Actor: "planner"})
	e.claim(work.ClaimRequest{Agent: "agent-a"})
	e.update(task.ID, 0, work.Patch{Agent: "agent-a", Title: ptr("T2")})
	e.complete(task.ID, work.Completion{Agent: "agent-a"})
	h := e.history(task.ID)
	e.wantEvents(task.ID, "created planner", "claimed agent-a", "updated agent-a", "completed agent-a")
	want := []map[string][2]any{
		{"title": {nil, "T"}},
		{"status": {"pending", "in_progress"}, "assignee": {nil, "agent-a"}},
		{"title": {"T", "T2"}},
		{"status": {"in_progress", "completed"}},
	}
	for i, ev := range h {
		if !reflect.DeepEqual(ev.Changes, want[i]) {
			e.t.Fatalf("event %d (%s) changes = %#v, want %#v", i, ev.Event, ev.Changes, want[i])
		}
		if ev.Late || !recent(ev.At) {
			e.t.Fatalf("event %d = %+v", i, ev)
		}
		if i > 0 && (ev.Seq <= h[i-1].Seq || ev.At.Before(h[i-1].At)) {
			e.t.Fatalf("event %d (seq %d at %v) is not after event %d (seq %d at %v)", i, ev.Seq, ev.At, i-1, h[i-1].Seq, h[i-1].At)
		}
	}
	e.update(task.ID, 0, work.Patch{}) // no change, no event
	if n := len(e.history(task.ID)); n != 4 {
		e.t.Fatalf("%d events after an update that changed nothing, want 4", n)
	}
	_, _, err := e.s.History(e.ctx, "tsk_00000000000000ff", 0, "")
	e.wantErr("History of an unknown task", err, clienterr.NotFound, "")
}

func historyPaging(e *env) {
	task := e.create(work.NewTask{Title: "v0"})
	for _, title := range []string{"v1", "v2", "v3", "v4"} {
		e.update(task.ID, 0, work.Patch{Title: ptr(title)})
	}
	all := e.history(task.ID)
	if len(all) != 5 {
		e.t.Fatalf("%d events, want 5", len(all))
	}
	var got []work.HistoryEvent
	cursor, pages := "", 0
	for {
		page, next, err := e.s.History(e.ctx, task.ID, 2, cursor)
		if err != nil {
			e.t.Fatalf("History page %d: %v", pages, err)
		}
		pages++
		got = append(got, page...)
		if next == "" {
			break
		}
		if pages > 5 {
			e.t.Fatal("more than 5 pages of 2 for 5 events")
		}
		cursor = next
	}
	if pages != 3 || !reflect.DeepEqual(got, all) {
		e.t.Fatalf("%d pages of 2 gave %+v, want 3 pages giving %+v", pages, got, all)
	}
	_, _, err := e.s.History(e.ctx, task.ID, 201, "")
	e.wantErr("History with limit 201", err, clienterr.InvalidArgument, "")

	// The history outlives the task.
	if _, err := e.s.Delete(e.ctx, task.ID, false); err != nil {
		e.t.Fatal(err)
	}
	h := e.history(task.ID)
	if len(h) != 6 || h[5].Event != work.EventDeleted {
		e.t.Fatalf("history of a deleted task ends with %+v, want 6 events ending with deleted", h[len(h)-1])
	}
}

func historyRecent(e *env) {
	a := e.create(work.NewTask{Title: "alpha", Actor: "x"})
	b := e.create(work.NewTask{Title: "beta", Actor: "y"})
	e.update(a.ID, 0, work.Patch{Title: ptr("alpha2"), Agent: "z"})
	if _, err := e.s.Delete(e.ctx, b.ID, false); err != nil {
		e.t.Fatal(err)
	}
	got, err := e.s.RecentHistory(e.ctx, 3)
	if err != nil {
		e.t.Fatalf("RecentHistory: %v", err)
	}
	type row struct{ task, event, actor, title string }
	var rows []row
	for _, ev := range got {
		rows = append(rows, row{ev.TaskID, ev.Event, ev.Actor, ev.Title})
	}
	want := []row{
		{b.ID, work.EventDeleted, "", ""}, // a deleted task's title is ""
		{a.ID, work.EventUpdated, "z", "alpha2"},
		{b.ID, work.EventCreated, "y", ""},
	}
	if !reflect.DeepEqual(rows, want) {
		e.t.Fatalf("RecentHistory(3) = %+v, want %+v", rows, want)
	}
	if got[0].Seq <= got[1].Seq || got[1].Seq <= got[2].Seq {
		e.t.Fatalf("RecentHistory seqs %d, %d, %d: want newest first", got[0].Seq, got[1].Seq, got[2].Seq)
	}
	all, err := e.s.RecentHistory(e.ctx, 200)
	if err != nil || len(all) != 4 || all[3].TaskID != a.ID || all[3].Event != work.EventCreated || all[3].Title != "alpha2" {
		e.t.Fatalf("RecentHistory(200) = %+v, %v; want 4 events ending with alpha's creation", all, err)
	}
	_, err = e.s.RecentHistory(e.ctx, 0)
	e.wantErr("RecentHistory(0)", err, clienterr.InvalidArgument, "")
}

func historyChanges(e *env) {
	m0 := e.changeMark()
	if ids, next, err := e.s.ChangedSince(e.ctx, m0); err != nil || len(ids) != 0 || next != m0 {
		e.t.Fatalf("ChangedSince(mark) with no change = %v, %d, %v; want nothing and the same mark", ids, next, err)
	}
	a := e.create(work.NewTask{Title: "a"})
	b := e.create(work.NewTask{Title: "b"})
	e.update(a.ID, 0, work.Patch{Title: ptr("a2")})
	got, m1, err := e.s.ChangedSince(e.ctx, m0)
	if err != nil {
		e.t.Fatalf("ChangedSince: %v", err)
	}
	e.wantIDs("ChangedSince (each task once, in the order of its first change)", got, a.ID, b.ID)
	if mark := e.changeMark(); m1 != mark || m1 <= m0 {
		e.t.Fatalf("ChangedSince's next mark %d, ChangeMark %d, first mark %d: want the current mark, after the first", m1, mark, m0)
	}
	if got, next, err := e.s.ChangedSince(e.ctx, m1); err != nil || len(got) != 0 || next != m1 {
		e.t.Fatalf("ChangedSince(current mark) = %v, %d, %v", got, next, err)
	}
	// Failed writes change nothing; claims, completions and deletes do.
	if _, err := e.s.Update(e.ctx, a.ID, 1, work.Patch{Title: ptr("stale")}); err == nil {
		e.t.Fatal("a stale update was accepted")
	}
	c := e.create(work.NewTask{Title: "c", Priority: "critical"})
	e.claim(work.ClaimRequest{Agent: "agent", Lease: time.Minute})
	if _, err := e.s.Delete(e.ctx, b.ID, false); err != nil {
		e.t.Fatal(err)
	}
	got, m2, err := e.s.ChangedSince(e.ctx, m1)
	if err != nil || m2 <= m1 {
		e.t.Fatalf("ChangedSince = %v, %d, %v", got, m2, err)
	}
	e.wantIDs("ChangedSince after a create, a claim and a delete", got, c.ID, b.ID)
}
