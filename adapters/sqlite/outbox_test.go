package sqlite_test

import (
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"

	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
)

// events returns the outbox after seq as "kind:id" strings.
func events(t *testing.T, s *sqlite.Store, after int64) ([]string, int64) {
	t.Helper()
	evs, err := s.OutboxAfter(context.Background(), after, 1000)
	if err != nil {
		t.Fatalf("OutboxAfter: %v", err)
	}
	out := []string{}
	last := after
	for _, e := range evs {
		if e.Seq <= last {
			t.Fatalf("outbox not in seq order: %d after %d", e.Seq, last)
		}
		last = e.Seq
		out = append(out, e.Kind+":"+e.TaskID)
	}
	return out, last
}

func wantEvents(t *testing.T, s *sqlite.Store, after *int64, want ...string) {
	t.Helper()
	got, last := events(t, s, *after)
	if !slices.Equal(got, want) {
		t.Fatalf("outbox after %d = %v, want %v", *after, got, want)
	}
	*after = last
}

func TestOutboxRecordsEveryTaskChangeInItsTransaction(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	var woken atomic.Int64
	s.OnOutbox(func() { woken.Add(1) })
	var seq int64

	a := mustCreate(t, s, sqlite.NewTask{Title: "a"})
	b := mustCreate(t, s, sqlite.NewTask{Title: "b", DependsOn: []string{a.ID}})
	wantEvents(t, s, &seq, "create:"+a.ID, "create:"+b.ID)

	if _, err := s.Update(ctx, a.ID, 0, sqlite.Patch{Title: ptr("a2")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, a.ID, 0, sqlite.Patch{Title: ptr("a2")}); err != nil { // no change: no event
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, b.ID, 0, sqlite.Patch{Status: ptr("blocked")}); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, s, &seq, "update:"+a.ID, "status:"+b.ID)

	claimed, err := s.Claim(ctx, work.ClaimRequest{Agent: "agent", Role: "", Labels: nil})
	if err != nil || claimed == nil || claimed.ID != a.ID {
		t.Fatalf("Claim = %v, %v; want %s", claimed, err, a.ID)
	}
	if _, _, err := s.Complete(ctx, a.ID, sqlite.Completion{Summary: "done", Agent: "agent"}); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, s, &seq, "status:"+a.ID, "status:"+a.ID)

	c := mustCreate(t, s, sqlite.NewTask{Title: "c"})
	if _, err := s.AddDependency(ctx, c.ID, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddDependency(ctx, c.ID, b.ID); err != nil { // exists: no event
		t.Fatal(err)
	}
	if _, err := s.RemoveDependency(ctx, c.ID, b.ID); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, s, &seq, "create:"+c.ID, "dependency:"+c.ID, "dependency:"+c.ID)

	// A refused change writes nothing.
	if _, err := s.AddDependency(ctx, a.ID, b.ID); !sqlite.IsKind(err, sqlite.KindCycle) {
		t.Fatalf("AddDependency closing a cycle: %v", err)
	}
	wantEvents(t, s, &seq)

	// Cascade: the subtree's tasks are deleted, a task outside it that
	// depended on one of them changes.
	p := mustCreate(t, s, sqlite.NewTask{Title: "parent"})
	kid := mustCreate(t, s, sqlite.NewTask{Title: "kid", ParentID: p.ID})
	out := mustCreate(t, s, sqlite.NewTask{Title: "outside", DependsOn: []string{kid.ID}})
	wantEvents(t, s, &seq, "create:"+p.ID, "create:"+kid.ID, "create:"+out.ID)
	deleted, err := s.Delete(ctx, p.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"dependency:" + out.ID}
	for _, id := range deleted {
		want = append(want, "delete:"+id)
	}
	wantEvents(t, s, &seq, want...)

	if got := woken.Load(); got < 10 {
		t.Errorf("outbox listener called %d times, want one per committed change (at least 10)", got)
	}
}

func TestOutboxCursorsAndPruning(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	for i := range 5 {
		mustCreate(t, s, sqlite.NewTask{Title: fmt.Sprint("t", i)})
	}
	st, err := s.MirrorState(ctx, "vector")
	if err != nil {
		t.Fatal(err)
	}
	if st.HasCursor || st.Pending != 5 || st.MaxSeq != 5 || st.Oldest.IsZero() || st.Behind() {
		t.Fatalf("fresh mirror state = %+v, want no cursor, 5 pending, max 5", st)
	}
	if err := s.AdvanceCursor(ctx, "vector", 3); err != nil {
		t.Fatal(err)
	}
	if err := s.AdvanceCursor(ctx, "vector", 2); err != nil { // never back
		t.Fatal(err)
	}
	// graph has no cursor yet: nothing can be pruned.
	if n, err := s.PruneOutbox(ctx, []string{"vector", "graph"}); err != nil || n != 0 {
		t.Fatalf("PruneOutbox with a mirror never synced = %d, %v; want 0", n, err)
	}
	if err := s.AdvanceCursor(ctx, "graph", 4); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneOutbox(ctx, []string{"vector", "graph"}); err != nil || n != 3 {
		t.Fatalf("PruneOutbox = %d, %v; want 3 (the slowest mirror is at 3)", n, err)
	}
	st, _ = s.MirrorState(ctx, "vector")
	if !st.HasCursor || st.Cursor != 3 || st.Pending != 2 || st.PrunedThrough != 3 || st.Behind() {
		t.Fatalf("vector state = %+v", st)
	}
	// With no mirror configured everything goes; a mirror added later is behind.
	if n, err := s.PruneOutbox(ctx, nil); err != nil || n != 2 {
		t.Fatalf("PruneOutbox(nil) = %d, %v; want 2", n, err)
	}
	st, _ = s.MirrorState(ctx, "vector")
	if !st.Behind() || st.Pending != 0 {
		t.Fatalf("after pruning past it, vector state = %+v, want Behind", st)
	}
	// Seqs are never reused after pruning.
	mustCreate(t, s, sqlite.NewTask{Title: "late"})
	evs, err := s.OutboxAfter(ctx, 0, 10)
	if err != nil || len(evs) != 1 || evs[0].Seq != 6 {
		t.Fatalf("after pruning, outbox = %+v, %v; want one event with seq 6", evs, err)
	}
	tasks, seq, err := s.Snapshot(ctx)
	if err != nil || len(tasks) != 6 || seq != 6 {
		t.Fatalf("Snapshot = %d tasks at %d, %v; want 6 at 6", len(tasks), seq, err)
	}
}

func TestMirrorStateOfANeverSyncedMirrorWithNothingPending(t *testing.T) {
	s := openStore(t)
	st, err := s.MirrorState(context.Background(), "graph")
	if err != nil || st.HasCursor || st.Pending != 0 || !st.Oldest.IsZero() || st.Behind() {
		t.Fatalf("MirrorState on an empty outbox = %+v, %v; want a zero state and no error", st, err)
	}
}

func TestMirrorLeaseHasOneHolder(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	alive := func(string) bool { return false }
	if ok, err := s.AcquireLease(ctx, "graph", "a", time.Minute, alive); err != nil || !ok {
		t.Fatalf("first AcquireLease = %v, %v", ok, err)
	}
	if ok, err := s.AcquireLease(ctx, "graph", "a", time.Minute, alive); err != nil || !ok {
		t.Fatalf("renewal = %v, %v", ok, err)
	}
	if ok, err := s.AcquireLease(ctx, "graph", "b", time.Minute, alive); err != nil || ok {
		t.Fatalf("AcquireLease by another owner while held = %v, %v; want refused", ok, err)
	}
	if ok, _ := s.AcquireLease(ctx, "vector", "b", time.Minute, alive); !ok {
		t.Fatal("a lease on another mirror is independent")
	}
	if err := s.AdvanceCursorLeased(ctx, "graph", "a", time.Minute, 7); err != nil {
		t.Fatal(err)
	}
	// a's process died: b takes over, and a can no longer move the cursor.
	dead := func(owner string) bool { return owner == "a" }
	if ok, err := s.AcquireLease(ctx, "graph", "b", time.Minute, dead); err != nil || !ok {
		t.Fatalf("AcquireLease over a dead owner = %v, %v", ok, err)
	}
	if err := s.AdvanceCursorLeased(ctx, "graph", "a", time.Minute, 9); !errors.Is(err, sqlite.ErrLeaseLost) {
		t.Fatalf("AdvanceCursorLeased by the old owner = %v, want ErrLeaseLost", err)
	}
	st, _ := s.MirrorState(ctx, "graph")
	if st.Cursor != 7 {
		t.Fatalf("cursor = %d, want 7 (the lost owner's advance refused)", st.Cursor)
	}
	// An expired lease goes to whoever asks; a released one at once.
	if ok, _ := s.AcquireLease(ctx, "graph", "c", -time.Second, alive); ok {
		t.Fatal("c took a lease b holds")
	}
	if err := s.ReleaseLease(ctx, "graph", "b"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.AcquireLease(ctx, "graph", "c", -time.Second, alive); !ok {
		t.Fatal("c could not take a released lease")
	}
	if ok, _ := s.AcquireLease(ctx, "graph", "d", time.Minute, alive); !ok {
		t.Fatal("d could not take c's expired lease")
	}
}
