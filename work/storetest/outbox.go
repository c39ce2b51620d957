package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// RunOutbox checks what the mirror syncer reads: the outbox of every write
// in commit order, the mirrors' cursors and pruning, the syncer's lease,
// the bulk reads of tasks, and the outbox listener.
func RunOutbox(t *testing.T, open func(t *testing.T) work.Store) {
	runAll(t, open, []test{
		{"EveryWriteIsInTheOutboxInOrder", outboxEvents},
		{"MirrorCursorsAndPruning", outboxCursors},
		{"AMirrorLeaseHasOneHolder", outboxLease},
		{"SnapshotAndBulkReads", outboxReads},
		{"OnOutboxIsCalledAfterAWrite", outboxListener},
		{"ProjectIDIsStable", projectID},
	})
}

// wantOutbox checks the events after *after, as "kind:task", and moves
// *after to the last one.
func (e *env) wantOutbox(after *int64, want ...string) {
	e.t.Helper()
	evs, err := e.s.OutboxAfter(e.ctx, *after, 1000)
	if err != nil {
		e.t.Fatalf("OutboxAfter(%d): %v", *after, err)
	}
	var got []string
	last := *after
	for _, ev := range evs {
		got = append(got, ev.Kind+":"+ev.TaskID)
		if ev.Seq <= last {
			e.t.Fatalf("outbox seq %d after %d: want strictly increasing", ev.Seq, last)
		}
		if !recent(ev.CreatedAt) {
			e.t.Fatalf("outbox event %+v: created_at is not now", ev)
		}
		last = ev.Seq
	}
	e.wantIDs(fmt.Sprintf("the outbox after %d", *after), got, want...)
	*after = last
}

func outboxEvents(e *env) {
	var seq int64
	e.wantOutbox(&seq)
	a := e.create(work.NewTask{Title: "a"})
	b := e.create(work.NewTask{Title: "b", DependsOn: []string{a.ID}})
	e.wantOutbox(&seq, "create:"+a.ID, "create:"+b.ID)

	e.update(a.ID, 0, work.Patch{Title: ptr("a2")})
	e.update(a.ID, 0, work.Patch{Title: ptr("a2")}) // no change: no event
	e.update(b.ID, 0, work.Patch{Status: ptr("blocked")})
	e.wantOutbox(&seq, "update:"+a.ID, "status:"+b.ID)

	if id := e.claimID("agent"); id != a.ID {
		e.t.Fatalf("claim = %q, want %s", id, a.ID)
	}
	if _, err := e.s.Heartbeat(e.ctx, a.ID, "agent"); err != nil { // no event
		e.t.Fatal(err)
	}
	e.complete(a.ID, work.Completion{Agent: "agent"})
	e.wantOutbox(&seq, "status:"+a.ID, "status:"+a.ID)

	c := e.create(work.NewTask{Title: "c"})
	for range 2 { // the second adds nothing: no event
		if _, err := e.s.AddDependency(e.ctx, c.ID, b.ID); err != nil {
			e.t.Fatal(err)
		}
	}
	if _, err := e.s.RemoveDependency(e.ctx, c.ID, b.ID); err != nil {
		e.t.Fatal(err)
	}
	e.wantOutbox(&seq, "create:"+c.ID, "dependency:"+c.ID, "dependency:"+c.ID)

	// Refused writes write nothing.
	if _, err := e.s.AddDependency(e.ctx, a.ID, b.ID); err == nil {
		e.t.Fatal("a cycle was accepted")
	}
	if _, err := e.s.Update(e.ctx, c.ID, 1, work.Patch{Title: ptr("stale")}); err == nil {
		e.t.Fatal("a stale update was accepted")
	}
	e.wantOutbox(&seq)

	if id := e.claimID("agent"); id != c.ID {
		e.t.Fatalf("claim = %q, want %s", id, c.ID)
	}
	if _, err := e.s.Release(e.ctx, c.ID, "agent", ""); err != nil {
		e.t.Fatal(err)
	}
	e.wantOutbox(&seq, "status:"+c.ID, "status:"+c.ID)

	res, err := work.Plan(e.ctx, e.s, []work.PlanTask{{Ref: "x", Title: "x"}, {Ref: "y", Title: "y", DependsOn: []string{"x"}}}, "", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	e.wantOutbox(&seq, "create:"+res.IDs["x"], "create:"+res.IDs["y"])

	// A cascade: a task outside the subtree that depended on it changes.
	p := e.create(work.NewTask{Title: "p"})
	kid := e.create(work.NewTask{Title: "kid", ParentID: p.ID})
	out := e.create(work.NewTask{Title: "outside", DependsOn: []string{kid.ID}})
	e.wantOutbox(&seq, "create:"+p.ID, "create:"+kid.ID, "create:"+out.ID)
	deleted, err := e.s.Delete(e.ctx, p.ID, true)
	if err != nil {
		e.t.Fatal(err)
	}
	want := []string{"dependency:" + out.ID}
	for _, id := range deleted {
		want = append(want, "delete:"+id)
	}
	e.wantOutbox(&seq, want...)

	// OutboxAfter pages by limit.
	first, err := e.s.OutboxAfter(e.ctx, 0, 2)
	if err != nil || len(first) != 2 || first[0].TaskID != a.ID || first[1].TaskID != b.ID {
		e.t.Fatalf("OutboxAfter(0, 2) = %+v, %v", first, err)
	}
	next, err := e.s.OutboxAfter(e.ctx, first[1].Seq, 1)
	if err != nil || len(next) != 1 || next[0].Kind+":"+next[0].TaskID != "update:"+a.ID {
		e.t.Fatalf("OutboxAfter(second, 1) = %+v, %v", next, err)
	}
}

func (e *env) mirrorState(mirror string) work.OutboxState {
	e.t.Helper()
	st, err := e.s.MirrorState(e.ctx, mirror)
	if err != nil {
		e.t.Fatalf("MirrorState(%s): %v", mirror, err)
	}
	return st
}

func (e *env) outbox() []work.OutboxEvent {
	e.t.Helper()
	evs, err := e.s.OutboxAfter(e.ctx, 0, 1000)
	if err != nil {
		e.t.Fatalf("OutboxAfter: %v", err)
	}
	return evs
}

func outboxCursors(e *env) {
	if st := e.mirrorState("graph"); st != (work.OutboxState{}) {
		e.t.Fatalf("MirrorState on an empty outbox = %+v, want the zero state", st)
	}
	for _, title := range []string{"a", "b", "c"} {
		e.create(work.NewTask{Title: title})
	}
	evs := e.outbox()
	if len(evs) != 3 {
		e.t.Fatalf("outbox = %+v, want 3 events", evs)
	}
	s1, s2, s3 := evs[0].Seq, evs[1].Seq, evs[2].Seq
	st := e.mirrorState("graph")
	if st.HasCursor || st.Cursor != 0 || st.Pending != 3 || st.MaxSeq != s3 || st.PrunedThrough != 0 ||
		!st.Oldest.Equal(evs[0].CreatedAt) || st.Behind() {
		e.t.Fatalf("MirrorState of a mirror never synced = %+v", st)
	}
	if err := e.s.AdvanceCursor(e.ctx, "graph", s2); err != nil {
		e.t.Fatal(err)
	}
	if err := e.s.AdvanceCursor(e.ctx, "graph", s1); err != nil { // never moves back
		e.t.Fatal(err)
	}
	st = e.mirrorState("graph")
	if !st.HasCursor || st.Cursor != s2 || st.Pending != 1 || !st.Oldest.Equal(evs[2].CreatedAt) || st.MaxSeq != s3 {
		e.t.Fatalf("MirrorState after AdvanceCursor(%d) then (%d) = %+v", s2, s1, st)
	}
	if err := e.s.AdvanceCursor(e.ctx, "graph", -1); err == nil {
		e.t.Fatal("AdvanceCursor(-1) was accepted")
	}

	// A mirror that never synced holds every event back.
	if n, err := e.s.PruneOutbox(e.ctx, []string{"graph", "vector"}); err != nil || n != 0 {
		e.t.Fatalf("PruneOutbox with vector never synced = %d, %v; want 0", n, err)
	}
	if err := e.s.AdvanceCursor(e.ctx, "vector", s3); err != nil {
		e.t.Fatal(err)
	}
	if n, err := e.s.PruneOutbox(e.ctx, []string{"graph", "vector"}); err != nil || n != 2 {
		e.t.Fatalf("PruneOutbox = %d, %v; want the 2 events both mirrors have", n, err)
	}
	if left := e.outbox(); len(left) != 1 || left[0].Seq != s3 {
		e.t.Fatalf("outbox after pruning = %+v, want the last event alone", left)
	}
	st = e.mirrorState("graph")
	if st.PrunedThrough != s2 || st.Behind() || st.Pending != 1 || st.MaxSeq != s3 {
		e.t.Fatalf("MirrorState(graph) after pruning = %+v", st)
	}
	if st := e.mirrorState("search"); !st.Behind() || st.HasCursor || st.PrunedThrough != s2 {
		e.t.Fatalf("MirrorState of a mirror that missed pruned events = %+v; want Behind", st)
	}
	// With no mirror, every event goes.
	if n, err := e.s.PruneOutbox(e.ctx, nil); err != nil || n != 1 {
		e.t.Fatalf("PruneOutbox(no mirror) = %d, %v; want 1", n, err)
	}
	if st := e.mirrorState("vector"); st.Pending != 0 || st.MaxSeq != s3 || !st.Oldest.IsZero() || st.PrunedThrough != s3 {
		e.t.Fatalf("MirrorState after pruning everything = %+v", st)
	}
	d := e.create(work.NewTask{Title: "d"})
	if evs := e.outbox(); len(evs) != 1 || evs[0].Seq <= s3 || evs[0].TaskID != d.ID {
		e.t.Fatalf("outbox after a new write = %+v, want one event after %d", evs, s3)
	}
}

func outboxLease(e *env) {
	alive := func(string) bool { return false }
	acquire := func(mirror, owner string, ttl time.Duration, dead func(string) bool) bool {
		e.t.Helper()
		ok, err := e.s.AcquireLease(e.ctx, mirror, owner, ttl, dead)
		if err != nil {
			e.t.Fatalf("AcquireLease(%s, %s): %v", mirror, owner, err)
		}
		return ok
	}
	if !acquire("graph", "a", time.Minute, alive) || !acquire("graph", "a", time.Minute, alive) {
		e.t.Fatal("a could not take, then renew, a free lease")
	}
	if acquire("graph", "b", time.Minute, alive) {
		e.t.Fatal("b took the lease a holds")
	}
	if !acquire("vector", "b", time.Minute, alive) {
		e.t.Fatal("b could not take the lease of another mirror")
	}
	if err := e.s.AdvanceCursorLeased(e.ctx, "graph", "a", time.Minute, 7); err != nil {
		e.t.Fatalf("AdvanceCursorLeased by the holder: %v", err)
	}
	// a's process is gone: b takes over, and a can no longer move the cursor.
	if !acquire("graph", "b", time.Minute, func(owner string) bool { return owner == "a" }) {
		e.t.Fatal("b could not take the lease of a dead owner")
	}
	if err := e.s.AdvanceCursorLeased(e.ctx, "graph", "a", time.Minute, 9); !errors.Is(err, work.ErrLeaseLost) {
		e.t.Fatalf("AdvanceCursorLeased by the old owner = %v, want work.ErrLeaseLost", err)
	}
	if st := e.mirrorState("graph"); st.Cursor != 7 || !st.HasCursor {
		e.t.Fatalf("cursor = %+v, want 7 (the lost owner's advance refused)", st)
	}
	// A released lease goes to the next at once; an expired one to anyone.
	if acquire("graph", "c", -time.Second, alive) {
		e.t.Fatal("c took the lease b holds")
	}
	if err := e.s.ReleaseLease(e.ctx, "graph", "c"); err != nil { // not c's: nothing happens
		e.t.Fatal(err)
	}
	if acquire("graph", "c", time.Minute, alive) {
		e.t.Fatal("c took b's lease after releasing a lease it did not hold")
	}
	if err := e.s.ReleaseLease(e.ctx, "graph", "b"); err != nil {
		e.t.Fatal(err)
	}
	if !acquire("graph", "c", -time.Second, alive) {
		e.t.Fatal("c could not take a released lease")
	}
	if !acquire("graph", "d", time.Minute, alive) {
		e.t.Fatal("d could not take c's expired lease")
	}
}

func outboxReads(e *env) {
	a := e.create(work.NewTask{Title: "a", Labels: []string{"x"}})
	b := e.create(work.NewTask{Title: "b", DependsOn: []string{a.ID}, Role: "coder"})
	c := e.create(work.NewTask{Title: "c"})
	if _, err := e.s.Delete(e.ctx, c.ID, false); err != nil {
		e.t.Fatal(err)
	}
	b = e.update(b.ID, 0, work.Patch{Priority: ptr("high")})

	tasks, seq, err := e.s.Snapshot(e.ctx)
	if err != nil {
		e.t.Fatalf("Snapshot: %v", err)
	}
	if last := e.lastOutboxSeq(); seq != last {
		e.t.Fatalf("Snapshot's seq = %d, want the last outbox seq %d", seq, last)
	}
	e.wantIDs("Snapshot's tasks (oldest first)", ids(tasks), a.ID, b.ID)
	e.sameTask("Snapshot's a", tasks[0], a)
	e.sameTask("Snapshot's b", tasks[1], b)

	const nope = "tsk_00000000000000ff"
	got, err := e.s.TasksByID(e.ctx, []string{b.ID, nope, c.ID, a.ID})
	if err != nil {
		e.t.Fatalf("TasksByID: %v", err)
	}
	e.wantIDs("TasksByID (the ones that exist, oldest first)", ids(got), a.ID, b.ID)
	e.sameTask("TasksByID's b", got[1], b)
	if got, err := e.s.TasksByID(e.ctx, nil); err != nil || len(got) != 0 {
		e.t.Fatalf("TasksByID(none) = %v, %v", got, err)
	}
	all, err := e.s.TaskIDs(e.ctx)
	if err != nil {
		e.t.Fatalf("TaskIDs: %v", err)
	}
	e.wantIDs("TaskIDs", all, a.ID, b.ID)
	if n := e.count(); n != 2 {
		e.t.Fatalf("CountTasks = %d, want 2", n)
	}
	gts, err := e.s.GraphTasks(e.ctx, []string{b.ID, nope})
	want := map[string]work.GraphTask{b.ID: {ID: b.ID, Title: "b", Status: "pending", Priority: "high"}}
	if err != nil || !reflect.DeepEqual(gts, want) {
		e.t.Fatalf("GraphTasks = %+v, %v; want %+v", gts, err, want)
	}
	if gts, err := e.s.GraphTasks(e.ctx, nil); err != nil || len(gts) != 0 {
		e.t.Fatalf("GraphTasks(none) = %v, %v", gts, err)
	}
}

func outboxListener(e *env) {
	var calls atomic.Int64
	e.s.OnOutbox(func() { calls.Add(1) })
	// waitCalls waits (a few seconds at most) for the listener to have been
	// called more than n times: a store may call it from another goroutine.
	waitCalls := func(what string, n int64) int64 {
		e.t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for calls.Load() <= n {
			if time.Now().After(deadline) {
				e.t.Fatalf("OnOutbox's function was not called after %s", what)
			}
			time.Sleep(time.Millisecond)
		}
		return calls.Load()
	}
	a := e.create(work.NewTask{Title: "a"})
	n := waitCalls("Create", 0)
	b := e.create(work.NewTask{Title: "b"})
	n = waitCalls("a second Create", n)
	if _, err := e.s.AddDependency(e.ctx, b.ID, a.ID); err != nil {
		e.t.Fatal(err)
	}
	n = waitCalls("AddDependency", n)
	e.claimID("agent")
	n = waitCalls("Claim", n)
	e.complete(a.ID, work.Completion{Agent: "agent"})
	n = waitCalls("Complete", n)
	if _, err := e.s.Delete(e.ctx, b.ID, false); err != nil {
		e.t.Fatal(err)
	}
	n = waitCalls("Delete", n)

	e.s.OnOutbox(nil)
	e.create(work.NewTask{Title: "c"})
	if got := calls.Load(); got != n {
		e.t.Fatalf("OnOutbox's function was called %d times after OnOutbox(nil)", got-n)
	}
}

func projectID(e *env) {
	id := e.s.ProjectID()
	if id == "" {
		e.t.Fatal("ProjectID is empty")
	}
	e.create(work.NewTask{Title: "a"})
	if again := e.s.ProjectID(); again != id {
		e.t.Fatalf("ProjectID changed from %q to %q", id, again)
	}
}
