package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/testclock"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// newClock is a test clock shared by the stores of one test: time moves
// only when the test says so.
func newClock() *testclock.Clock { return testclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) }

// openClocked opens a store on path that reads the time from clk.
func openClocked(t *testing.T, path string, clk *testclock.Clock, opts ...func(*sqlite.Options)) *sqlite.Store {
	t.Helper()
	o := options(path)
	for _, f := range opts {
		f(&o)
	}
	s, err := sqlite.Open(context.Background(), o)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	s.SetClock(clk.Now)
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// near says whether a time equals want, give or take the nanoseconds the
// store adds to keep its clock strictly increasing.
func near[T time.Time | *time.Time](got T, want time.Time) bool {
	var g time.Time
	switch v := any(got).(type) {
	case time.Time:
		g = v
	case *time.Time:
		if v == nil {
			return false
		}
		g = *v
	}
	d := g.Sub(want)
	return d >= 0 && d < time.Microsecond
}

func newDB(t *testing.T) string { return filepath.Join(t.TempDir(), "tasks.db") }

func claim(t *testing.T, s *sqlite.Store, agent, role string, lease time.Duration) *sqlite.Task {
	t.Helper()
	got, err := s.Claim(context.Background(), work.ClaimRequest{Agent: agent, Role: role, Lease: lease})
	if err != nil {
		t.Fatalf("Claim(%s): %v", agent, err)
	}
	return got
}

// events returns a task's whole history as "event actor [late]" lines.
func histLines(t *testing.T, s *sqlite.Store, id string) []string {
	t.Helper()
	var out []string
	cursor := ""
	for {
		page, next, err := s.History(context.Background(), id, 0, cursor)
		if err != nil {
			t.Fatalf("History(%s): %v", id, err)
		}
		for _, e := range page {
			line := e.Event + " " + e.Actor
			if e.Late {
				line += " late"
			}
			out = append(out, line)
		}
		if next == "" {
			return out
		}
		cursor = next
	}
}

func history(t *testing.T, s *sqlite.Store, id string) []work.HistoryEvent {
	t.Helper()
	page, _, err := s.History(context.Background(), id, 200, "")
	if err != nil {
		t.Fatalf("History(%s): %v", id, err)
	}
	return page
}

func wantLines(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%s:\n got %q\nwant %q", what, got, want)
	}
}

func TestClaimGivesALeaseOfTheAskedLength(t *testing.T) {
	clk := newClock()
	s := openClocked(t, newDB(t), clk)
	a := mustCreate(t, s, sqlite.NewTask{Title: "a"})
	b := mustCreate(t, s, sqlite.NewTask{Title: "b"})

	got := claim(t, s, "alice", "", 30*time.Second)
	if got == nil || got.ID != a.ID || got.LeaseExpiresAt == nil || !near(got.LeaseExpiresAt, clk.Now().Add(30*time.Second)) {
		t.Fatalf("claim with a 30 s lease = %+v", got)
	}
	got = claim(t, s, "bob", "", 0)
	if got == nil || got.ID != b.ID || !near(got.LeaseExpiresAt, clk.Now().Add(work.DefaultLease)) {
		t.Fatalf("claim with the default lease = %+v, want expiry now+%s", got, work.DefaultLease)
	}

	for _, d := range []time.Duration{time.Millisecond, 24*time.Hour + time.Second, -time.Second} {
		_, err := s.Claim(context.Background(), work.ClaimRequest{Agent: "carol", Lease: d})
		e := wantKind(t, err, sqlite.KindInvalid)
		if e.Field != "lease_seconds" || !strings.HasPrefix(e.Msg, "lease_seconds ") ||
			!strings.Contains(e.Msg, "use 1 to 86400 seconds (default 900)") {
			t.Fatalf("lease %s: %s (field %s)", d, e.Msg, e.Field)
		}
	}
}

func TestClaimUsesTheStoresDefaultLease(t *testing.T) {
	clk := newClock()
	s := openClocked(t, newDB(t), clk, func(o *sqlite.Options) { o.DefaultLease = 42 * time.Second })
	mustCreate(t, s, sqlite.NewTask{Title: "a"})
	got := claim(t, s, "alice", "", 0)
	if !near(got.LeaseExpiresAt, clk.Now().Add(42*time.Second)) {
		t.Fatalf("lease_expires_at = %v, want now+42s", got.LeaseExpiresAt)
	}
}

// The story: A claims and goes silent; after expiry B takes the task
// over; A's completion is refused with the sentence and changes nothing.
func TestExpiredClaimIsTakenOverAndTheOldHolderIsRefused(t *testing.T) {
	clk := newClock()
	s := openClocked(t, newDB(t), clk)
	ctx := context.Background()
	task := mustCreate(t, s, sqlite.NewTask{Title: "work", Actor: "planner"})

	a := claim(t, s, "agent-a", "", time.Second)
	if a == nil || a.ID != task.ID {
		t.Fatalf("A's claim = %+v", a)
	}
	if got := claim(t, s, "agent-b", "", time.Second); got != nil {
		t.Fatalf("B claimed %s under A's live lease", got.ID)
	}
	clk.Advance(2 * time.Second)
	b := claim(t, s, "agent-b", "", time.Minute)
	if b == nil || b.ID != task.ID || *b.Assignee != "agent-b" || b.Status != work.InProgress {
		t.Fatalf("B's takeover = %+v", b)
	}

	before := mustGet(t, s, task.ID).Task
	_, _, err := s.Complete(ctx, task.ID, sqlite.Completion{Agent: "agent-a", Summary: "done by A"})
	e := wantKind(t, err, sqlite.KindLeaseHeld)
	want := fmt.Sprintf("your claim on %s expired at %s; it is now held by agent agent-b", task.ID,
		a.LeaseExpiresAt.UTC().Format(time.RFC3339))
	if !strings.HasPrefix(e.Msg, want+";") || !strings.Contains(e.Msg, "task_claim") {
		t.Fatalf("A's completion: %q\nwant it to start with %q and point to task_claim", e.Msg, want)
	}
	_, err = s.Update(ctx, task.ID, 0, sqlite.Patch{Agent: "agent-a", Title: ptr("A renames it")})
	if e := wantKind(t, err, sqlite.KindLeaseHeld); !strings.HasPrefix(e.Msg, want+";") {
		t.Fatalf("A's update: %q", e.Msg)
	}
	if _, err := s.Heartbeat(ctx, task.ID, "agent-a"); !strings.HasPrefix(wantKind(t, err, sqlite.KindLeaseHeld).Msg, want+";") {
		t.Fatalf("A's heartbeat: %v", err)
	}
	if after := mustGet(t, s, task.ID).Task; after.Version != before.Version || *after.Assignee != "agent-b" || after.Summary != nil {
		t.Fatalf("A's refused writes changed the task: %+v", after)
	}

	done, _, err := s.Complete(ctx, task.ID, sqlite.Completion{Agent: "agent-b", Summary: "done by B"})
	if err != nil || done.Status != work.Completed || done.LeaseExpiresAt != nil {
		t.Fatalf("B's completion = %+v, %v", done, err)
	}
	wantLines(t, "history", histLines(t, s, task.ID),
		"created planner", "claimed agent-a", "lease_expired agent-a", "reclaimed agent-b", "completed agent-b")
	h := history(t, s, task.ID)
	if h[2].At != *a.LeaseExpiresAt {
		t.Errorf("lease_expired at %v, want the moment the lease ran out %v", h[2].At, a.LeaseExpiresAt)
	}
	if fmt.Sprint(h[3].Changes["assignee"]) != "[agent-a agent-b]" {
		t.Errorf("reclaimed changes = %v", h[3].Changes)
	}
	// No task is ever completed twice.
	_, _, err = s.Complete(ctx, task.ID, sqlite.Completion{Agent: "agent-b"})
	wantKind(t, err, sqlite.KindTransition)
}

func TestOtherAgentsCannotChangeATaskUnderALiveLease(t *testing.T) {
	clk := newClock()
	s := openClocked(t, newDB(t), clk)
	ctx := context.Background()
	task := mustCreate(t, s, sqlite.NewTask{Title: "work"})
	a := claim(t, s, "agent-a", "", time.Minute)
	want := fmt.Sprintf("task %s is held by agent agent-a until %s; only its holder may change it "+
		"(or claim it after the lease expires)", task.ID, a.LeaseExpiresAt.Format(time.RFC3339))
	for _, agent := range []string{"agent-b", ""} {
		_, err := s.Update(ctx, task.ID, 0, sqlite.Patch{Agent: agent, Priority: ptr("high")})
		if e := wantKind(t, err, sqlite.KindLeaseHeld); e.Msg != want {
			t.Fatalf("update by %q: %q\nwant %q", agent, e.Msg, want)
		}
		_, _, err = s.Complete(ctx, task.ID, sqlite.Completion{Agent: agent})
		if e := wantKind(t, err, sqlite.KindLeaseHeld); e.Msg != want {
			t.Fatalf("complete by %q: %q", agent, e.Msg)
		}
		_, err = s.Release(ctx, task.ID, "agent-b", "")
		if e := wantKind(t, err, sqlite.KindLeaseHeld); e.Msg != want {
			t.Fatalf("release by agent-b: %q", e.Msg)
		}
	}
	// The holder's write renews the lease by the task's own lease length.
	clk.Advance(50 * time.Second)
	got, err := s.Update(ctx, task.ID, 0, sqlite.Patch{Agent: "agent-a", Priority: ptr("high")})
	if err != nil || !near(got.LeaseExpiresAt, clk.Now().Add(time.Minute)) {
		t.Fatalf("holder's update = %+v, %v; want the lease renewed to now+1m", got.LeaseExpiresAt, err)
	}
	h := history(t, s, task.ID)
	if last := h[len(h)-1]; last.Event != work.EventUpdated || last.Actor != "agent-a" ||
		fmt.Sprint(last.Changes) != "map[priority:[medium high]]" {
		t.Fatalf("last event = %+v", last)
	}
}

func TestTheOldHolderMayFinishLateWhenNobodyTookItOver(t *testing.T) {
	clk := newClock()
	s := openClocked(t, newDB(t), clk)
	ctx := context.Background()
	task := mustCreate(t, s, sqlite.NewTask{Title: "work"})
	claim(t, s, "agent-a", "", time.Second)
	clk.Advance(5 * time.Second)
	got, err := s.Update(ctx, task.ID, 0, sqlite.Patch{Agent: "agent-a", Description: ptr("progress")})
	if err != nil || !near(got.LeaseExpiresAt, clk.Now().Add(time.Second)) {
		t.Fatalf("late update = %+v, %v; want the lease renewed", got, err)
	}
	clk.Advance(5 * time.Second)
	done, _, err := s.Complete(ctx, task.ID, sqlite.Completion{Agent: "agent-a", Summary: "late but done"})
	if err != nil || done.Status != work.Completed {
		t.Fatalf("late completion = %+v, %v", done, err)
	}
	wantLines(t, "history", histLines(t, s, task.ID), "created ", "claimed agent-a",
		"lease_expired agent-a", "updated agent-a late", "lease_expired agent-a", "completed agent-a late")
	// The expiry, recorded by the write that met it, is not recorded again.
	if exp, err := s.ExpireLeases(ctx); err != nil || len(exp) != 0 {
		t.Fatalf("ExpireLeases after = %v, %v", exp, err)
	}
}

func TestAnyoneMayChangeAnExpiredClaimNobodyTookOver(t *testing.T) {
	clk := newClock()
	s := openClocked(t, newDB(t), clk)
	ctx := context.Background()
	task := mustCreate(t, s, sqlite.NewTask{Title: "work"})
	a := claim(t, s, "agent-a", "", time.Second)
	clk.Advance(2 * time.Second)
	got, err := s.Update(ctx, task.ID, 0, sqlite.Patch{Agent: "lead", Priority: ptr("critical")})
	if err != nil || got.Priority != "critical" || !near(got.LeaseExpiresAt, *a.LeaseExpiresAt) {
		t.Fatalf("update by another agent of an expired claim = %+v, %v; want it applied and the lease left", got, err)
	}
	// The expiry was recorded once, by that write.
	if exp, err := s.ExpireLeases(ctx); err != nil || len(exp) != 0 {
		t.Fatalf("ExpireLeases = %v, %v; want nothing left to record", exp, err)
	}
	wantLines(t, "history", histLines(t, s, task.ID), "created ", "claimed agent-a", "lease_expired agent-a", "updated lead")
}

func TestHeartbeatRenewsTheLeaseWithoutANewVersion(t *testing.T) {
	clk := newClock()
	s := openClocked(t, newDB(t), clk)
	ctx := context.Background()
	task := mustCreate(t, s, sqlite.NewTask{Title: "work"})
	pending := mustCreate(t, s, sqlite.NewTask{Title: "not claimed", Priority: "low"})
	a := claim(t, s, "agent-a", "", 10*time.Second)

	clk.Advance(8 * time.Second)
	got, err := s.Heartbeat(ctx, task.ID, "agent-a")
	if err != nil || !near(got.LeaseExpiresAt, clk.Now().Add(10*time.Second)) || got.Version != a.Version {
		t.Fatalf("Heartbeat = %+v, %v; want lease now+10s at version %d", got, err, a.Version)
	}
	_, err = s.Heartbeat(ctx, task.ID, "agent-b")
	if e := wantKind(t, err, sqlite.KindLeaseHeld); !strings.HasPrefix(e.Msg, "task "+task.ID+" is held by agent agent-a until ") {
		t.Fatalf("B's heartbeat: %q", e.Msg)
	}
	_, err = s.Heartbeat(ctx, pending.ID, "agent-a")
	if e := wantKind(t, err, sqlite.KindTransition); e.Msg != "task "+pending.ID+" is pending; only an in_progress task has a lease to renew: claim work with task_claim" {
		t.Fatalf("heartbeat of a pending task: %q", e.Msg)
	}
	_, err = s.Heartbeat(ctx, task.ID, "")
	wantKind(t, err, sqlite.KindInvalid)

	// Past the renewed expiry: without the heartbeat the lease would have
	// run out at +10 s; it has not.
	clk.Advance(5 * time.Second)
	if got := claim(t, s, "agent-b", "", time.Second); got != nil && got.ID == task.ID {
		t.Fatalf("B took over a task whose lease was renewed")
	}
	// An expired lease nobody took over is revived by the holder's heartbeat.
	clk.Advance(time.Hour)
	if exp, err := s.ExpireLeases(ctx); err != nil || len(exp) != 2 {
		t.Fatalf("ExpireLeases = %v, %v; want A's and B's expiries", exp, err)
	}
	if got, err = s.Heartbeat(ctx, task.ID, "agent-a"); err != nil || !got.LeaseExpiresAt.After(clk.Now()) {
		t.Fatalf("reviving heartbeat = %+v, %v", got, err)
	}
	if next, ok, err := s.NextLeaseExpiry(ctx); err != nil || !ok || !near(next, *got.LeaseExpiresAt) {
		t.Fatalf("NextLeaseExpiry = %v, %v, %v; want the revived lease %v", next, ok, err, got.LeaseExpiresAt)
	}
	// The heartbeat in time was not recorded; the reviving one is, as late.
	wantLines(t, "history", histLines(t, s, task.ID), "created ", "claimed agent-a", "lease_expired agent-a",
		"lease_renewed agent-a late")
	ev := history(t, s, task.ID)[3]
	if ch := ev.Changes["lease_expires_at"]; len(ch) != 2 || ch[0] == nil || ch[1] == nil || ch[0] == ch[1] {
		t.Fatalf("the renewal's changes = %v; want the old and the new expiry", ev.Changes)
	}

	// The revived lease runs out too: a second expiry of a second lease,
	// then B takes the task over.
	clk.Advance(time.Hour)
	if exp, err := s.ExpireLeases(ctx); err != nil || len(exp) != 1 || exp[0].TaskID != task.ID {
		t.Fatalf("ExpireLeases after the revived lease ran out = %v, %v", exp, err)
	}
	if got := claim(t, s, "agent-c", "", time.Minute); got == nil || got.ID != task.ID {
		t.Fatalf("C's claim = %+v; want the expired task", got)
	}
	wantLines(t, "history", histLines(t, s, task.ID), "created ", "claimed agent-a", "lease_expired agent-a",
		"lease_renewed agent-a late", "lease_expired agent-a", "reclaimed agent-c")
}

// The holder renewing a lease that ran out before any timer noted it: the
// expiry is noted first, then the renewal, so that the next expiry is never
// the same lease recorded twice (two processes' timers, or a timer and a
// write, on one file).
func TestALateRenewalNotesTheExpiryBeforeIt(t *testing.T) {
	clk := newClock()
	path := newDB(t)
	s1 := openClocked(t, path, clk)
	s2 := openClocked(t, path, clk)
	ctx := context.Background()
	task := mustCreate(t, s1, sqlite.NewTask{Title: "work"})
	claim(t, s1, "agent-a", "", 10*time.Second)
	clk.Advance(11 * time.Second)
	// A write that changes nothing renews the holder's lease like a heartbeat.
	if _, err := s2.Update(ctx, task.ID, 0, sqlite.Patch{Agent: "agent-a"}); err != nil {
		t.Fatalf("the holder's late empty update: %v", err)
	}
	if exp, err := s1.ExpireLeases(ctx); err != nil || len(exp) != 0 {
		t.Fatalf("ExpireLeases after the renewal = %v, %v; want nothing", exp, err)
	}
	clk.Advance(11 * time.Second)
	if _, err := s1.Heartbeat(ctx, task.ID, "agent-a"); err != nil {
		t.Fatalf("the holder's late heartbeat: %v", err)
	}
	clk.Advance(11 * time.Second)
	for _, s := range []*sqlite.Store{s1, s2, s1} {
		if _, err := s.ExpireLeases(ctx); err != nil {
			t.Fatal(err)
		}
	}
	wantLines(t, "history", histLines(t, s2, task.ID), "created ", "claimed agent-a",
		"lease_expired agent-a", "lease_renewed agent-a late",
		"lease_expired agent-a", "lease_renewed agent-a late",
		"lease_expired agent-a")
}

func TestReleaseGivesTheTaskBack(t *testing.T) {
	clk := newClock()
	s := openClocked(t, newDB(t), clk)
	ctx := context.Background()
	task := mustCreate(t, s, sqlite.NewTask{Title: "work"})
	claim(t, s, "agent-a", "", time.Minute)

	_, err := s.Release(ctx, task.ID, "agent-a", strings.Repeat("x", 1001))
	if e := wantKind(t, err, sqlite.KindInvalid); e.Field != "reason" {
		t.Fatalf("long reason: %+v", e)
	}
	got, err := s.Release(ctx, task.ID, "agent-a", "out of budget")
	if err != nil || got.Status != work.Pending || got.Assignee != nil || got.LeaseExpiresAt != nil || got.StartedAt != nil {
		t.Fatalf("Release = %+v, %v", got, err)
	}
	h := history(t, s, task.ID)
	if last := h[len(h)-1]; last.Event != work.EventReleased || last.Note != "out of budget" || last.Actor != "agent-a" {
		t.Fatalf("released event = %+v", last)
	}
	_, err = s.Release(ctx, task.ID, "agent-a", "")
	wantKind(t, err, sqlite.KindTransition)

	// Once the lease has run out anyone may release it.
	claim(t, s, "agent-b", "", time.Second)
	clk.Advance(2 * time.Second)
	if got, err = s.Release(ctx, task.ID, "lead", "agent-b is gone"); err != nil || got.Status != work.Pending {
		t.Fatalf("release of an expired claim by another agent = %+v, %v", got, err)
	}
	wantLines(t, "history", histLines(t, s, task.ID), "created ", "claimed agent-a", "released agent-a",
		"claimed agent-b", "lease_expired agent-b", "released lead")
}

// Two stores on one file stand for two server processes: each expiry is
// recorded exactly once, whichever process sees it first.
func TestExpireLeasesRecordsEachExpiryOnceAcrossTwoStores(t *testing.T) {
	clk := newClock()
	path := newDB(t)
	s1 := openClocked(t, path, clk)
	s2 := openClocked(t, path, clk)
	ctx := context.Background()
	var ids []string
	for i := range 5 {
		ids = append(ids, mustCreate(t, s1, sqlite.NewTask{Title: fmt.Sprint("t", i)}).ID)
	}
	for i := range 5 {
		claim(t, s1, fmt.Sprint("agent-", i), "", time.Duration(i+1)*time.Second)
	}
	if exp, err := s2.ExpireLeases(ctx); err != nil || len(exp) != 0 {
		t.Fatalf("ExpireLeases before any expiry = %v, %v", exp, err)
	}
	if next, ok, err := s2.NextLeaseExpiry(ctx); err != nil || !ok || !near(next, clk.Now().Add(time.Second)) {
		t.Fatalf("NextLeaseExpiry = %v, %v, %v", next, ok, err)
	}
	clk.Advance(10 * time.Second)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		found = map[string]int{}
	)
	for round := range 4 {
		for _, s := range []*sqlite.Store{s1, s2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				exp, err := s.ExpireLeases(ctx)
				if err != nil {
					t.Errorf("round %d: ExpireLeases: %v", round, err)
				}
				mu.Lock()
				defer mu.Unlock()
				for _, e := range exp {
					found[e.TaskID+" "+e.Agent]++
				}
			}()
		}
	}
	wg.Wait()
	if len(found) != 5 {
		t.Fatalf("expiries found = %v, want 5", found)
	}
	for k, n := range found {
		if n != 1 {
			t.Errorf("%s reported %d times", k, n)
		}
	}
	for i, id := range ids {
		wantLines(t, id, histLines(t, s2, id), "created ", fmt.Sprint("claimed agent-", i), fmt.Sprint("lease_expired agent-", i))
	}
	if _, ok, err := s1.NextLeaseExpiry(ctx); err != nil || ok {
		t.Fatalf("NextLeaseExpiry after = %v, %v; want none", ok, err)
	}
}

// A lease runs out in real time too (no test clock).
func TestALeaseRunsOutInRealTime(t *testing.T) {
	s := openStore(t)
	task := mustCreate(t, s, sqlite.NewTask{Title: "work"})
	claim(t, s, "agent-a", "", time.Second)
	time.Sleep(1100 * time.Millisecond)
	if got := claim(t, s, "agent-b", "", time.Second); got == nil || got.ID != task.ID {
		t.Fatalf("claim after the lease ran out = %+v", got)
	}
}

func TestAParentWithOpenSubtasksIsNeitherClaimedNorCompleted(t *testing.T) {
	clk := newClock()
	s := openClocked(t, newDB(t), clk)
	ctx := context.Background()
	parent := mustCreate(t, s, sqlite.NewTask{Title: "parent", Priority: "critical"})
	var kids []string
	for i := range 7 {
		kids = append(kids, mustCreate(t, s, sqlite.NewTask{Title: fmt.Sprint("kid ", i), ParentID: parent.ID}).ID)
	}
	want := fmt.Sprintf("task %s has 7 open subtasks (%s and 2 more), so it cannot be completed; "+
		"complete or cancel them first; failing or cancelling %s leaves them as they are",
		parent.ID, strings.Join(kids[:5], ", "), parent.ID)
	_, _, err := s.Complete(ctx, parent.ID, sqlite.Completion{Summary: "all done?"})
	if e := wantKind(t, err, sqlite.KindTransition); e.Msg != want {
		t.Fatalf("Complete of the parent: %q\nwant %q", e.Msg, want)
	}
	_, err = s.Update(ctx, parent.ID, 0, sqlite.Patch{Status: ptr("completed")})
	if e := wantKind(t, err, sqlite.KindTransition); e.Msg != want {
		t.Fatalf("task_update status completed: %q", e.Msg)
	}
	if list, _, err := s.List(ctx, sqlite.Filter{Ready: true}); err != nil || len(list) != 7 {
		t.Fatalf("ready = %d tasks, %v; want the 7 subtasks only", len(list), err)
	}
	// The critical parent is never handed out while a subtask is open.
	for i := range 7 {
		got := claim(t, s, "agent", "", time.Minute)
		if got == nil || got.ID == parent.ID {
			t.Fatalf("claim %d = %+v; want a subtask", i, got)
		}
		if i < 6 {
			if _, _, err := s.Complete(ctx, got.ID, sqlite.Completion{Agent: "agent"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := claim(t, s, "agent", "", time.Minute); got != nil {
		t.Fatalf("claimed %s while the last subtask is in progress", got.ID)
	}
	_, _, err = s.Complete(ctx, parent.ID, sqlite.Completion{})
	if e := wantKind(t, err, sqlite.KindTransition); !strings.Contains(e.Msg, "has 1 open subtask (") {
		t.Fatalf("one open subtask: %q", e.Msg)
	}
	// The last subtask done: the parent is made ready.
	_, unblocked, err := s.Complete(ctx, kids[6], sqlite.Completion{Agent: "agent"})
	if err != nil || fmt.Sprint(unblocked) != fmt.Sprint([]string{parent.ID}) {
		t.Fatalf("completing the last subtask: unblocked %v, %v; want the parent", unblocked, err)
	}
	if got := claim(t, s, "agent", "", time.Minute); got == nil || got.ID != parent.ID {
		t.Fatalf("claim after every subtask is done = %+v", got)
	}
}

func TestFailingOrCancellingAParentLeavesItsSubtasks(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	p1 := mustCreate(t, s, sqlite.NewTask{Title: "p1"})
	k1 := mustCreate(t, s, sqlite.NewTask{Title: "k1", ParentID: p1.ID})
	p2 := mustCreate(t, s, sqlite.NewTask{Title: "p2"})
	k2 := mustCreate(t, s, sqlite.NewTask{Title: "k2", ParentID: p2.ID})
	if got, _, err := s.Complete(ctx, p1.ID, sqlite.Completion{Outcome: "failed", Summary: "gave up"}); err != nil || got.Status != work.Failed {
		t.Fatalf("failing a parent = %+v, %v", got, err)
	}
	if got, err := s.Update(ctx, p2.ID, 0, sqlite.Patch{Status: ptr("cancelled")}); err != nil || got.Status != work.Cancelled {
		t.Fatalf("cancelling a parent = %+v, %v", got, err)
	}
	for _, k := range []string{k1.ID, k2.ID} {
		if st := mustGet(t, s, k).Task.Status; st != work.Pending {
			t.Fatalf("subtask %s is %s, want pending", k, st)
		}
	}
}

func TestARoleBoundTaskGoesOnlyToThatRole(t *testing.T) {
	s := openStore(t)
	writer := mustCreate(t, s, sqlite.NewTask{Title: "write", Role: "writer", Priority: "critical"})
	plain := mustCreate(t, s, sqlite.NewTask{Title: "plain", Priority: "low"})
	if got := claim(t, s, "no-role", "", 0); got == nil || got.ID != plain.ID {
		t.Fatalf("agent without a role = %+v, want the role-less task", got)
	}
	if got := claim(t, s, "no-role", "", 0); got != nil {
		t.Fatalf("agent without a role took %s (role %v)", got.ID, *got.Role)
	}
	if got := claim(t, s, "coder", "coder", 0); got != nil {
		t.Fatalf("a coder took %s (role %v)", got.ID, *got.Role)
	}
	if got := claim(t, s, "w", "writer", 0); got == nil || got.ID != writer.ID {
		t.Fatalf("writer = %+v", got)
	}
}

func TestTheHistoryTellsEveryChange(t *testing.T) {
	clk := newClock()
	s := openClocked(t, newDB(t), clk)
	ctx := context.Background()
	dep := mustCreate(t, s, sqlite.NewTask{Title: "dep"})
	task := mustCreate(t, s, sqlite.NewTask{Title: "task", Labels: []string{"a"}, Actor: "planner"})
	steps := []func() error{
		func() error {
			_, err := s.Update(ctx, task.ID, 0, sqlite.Patch{Agent: "ed", Title: ptr("task 2"), Labels: &[]string{"a", "b"},
				Metadata: []byte(`{"k":1}`), Role: ptr("coder")})
			return err
		},
		func() error {
			_, err := s.Update(ctx, task.ID, 0, sqlite.Patch{Agent: "ed", Title: ptr("task 2")})
			return err
		}, // no change
		func() error { _, err := s.AddDependency(ctx, task.ID, dep.ID); return err },
		func() error { _, err := s.RemoveDependency(ctx, task.ID, dep.ID); return err },
		func() error { _, err := s.AddDependency(ctx, task.ID, dep.ID); return err },
		func() error {
			_, err := s.Update(ctx, task.ID, 0, sqlite.Patch{Agent: "ed", Status: ptr("in_progress"), Priority: ptr("high")})
			return err
		},
		func() error {
			_, err := s.Update(ctx, task.ID, 0, sqlite.Patch{Agent: "ed", Status: ptr("blocked")})
			return err
		},
		func() error { _, err := s.Delete(ctx, dep.ID, false); return err },
		func() error { _, err := s.Delete(ctx, task.ID, false); return err },
	}
	for i, f := range steps {
		clk.Advance(time.Second)
		if err := f(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	h := history(t, s, task.ID)
	var got []string
	for _, e := range h {
		got = append(got, fmt.Sprintf("%s %s %v", e.Event, e.Actor, e.Changes))
	}
	wantLines(t, "history of a deleted task", got,
		"created planner map[title:[<nil> task]]",
		"updated ed map[labels:[[a] [a b]] metadata:[… …] role:[<nil> coder] title:[task task 2]]",
		"dependency  map[depends_on:[<nil> "+dep.ID+"]]",
		"dependency  map[depends_on:["+dep.ID+" <nil>]]",
		"dependency  map[depends_on:[<nil> "+dep.ID+"]]",
		"status ed map[assignee:[<nil> ed] priority:[medium high] status:[pending in_progress]]",
		"status ed map[status:[in_progress blocked]]",
		"dependency  map[depends_on:["+dep.ID+" <nil>]]",
		"deleted  map[]",
	)
	for i := 1; i < len(h); i++ {
		if h[i].Seq <= h[i-1].Seq || h[i].At.Before(h[i-1].At) {
			t.Fatalf("events out of order: %+v then %+v", h[i-1], h[i])
		}
	}
	wantLines(t, "history of the deleted dependency", histLines(t, s, dep.ID), "created ", "deleted ")

	// Paging: oldest first, by cursor.
	p1, next, err := s.History(ctx, task.ID, 4, "")
	if err != nil || len(p1) != 4 || next == "" {
		t.Fatalf("page 1 = %d events, %q, %v", len(p1), next, err)
	}
	p2, next2, err := s.History(ctx, task.ID, 4, next)
	if err != nil || len(p2) != 4 || p2[0].Seq != h[4].Seq {
		t.Fatalf("page 2 = %+v, %v", p2, err)
	}
	p3, next3, err := s.History(ctx, task.ID, 4, next2)
	if err != nil || len(p3) != 1 || next3 != "" {
		t.Fatalf("page 3 = %d events, %q, %v", len(p3), next3, err)
	}

	_, _, err = s.History(ctx, "tsk_0000000000000000", 0, "")
	wantKind(t, err, sqlite.KindNotFound)
	_, _, err = s.History(ctx, task.ID, 201, "")
	if e := wantKind(t, err, sqlite.KindInvalid); e.Msg != "limit 201 is out of range; use 1 to 200 (default 50) and page with cursor" {
		t.Fatalf("limit 201: %q", e.Msg)
	}
	_, _, err = s.History(ctx, task.ID, 0, "nope")
	if e := wantKind(t, err, sqlite.KindInvalid); e.Field != "cursor" || !strings.Contains(e.Msg, "task_history") {
		t.Fatalf("bad cursor: %+v", e)
	}
}

func TestTheHistoryKeepsTheLastHistoryLimitEvents(t *testing.T) {
	clk := newClock()
	s := openClocked(t, newDB(t), clk, func(o *sqlite.Options) { o.HistoryLimit = 5 })
	ctx := context.Background()
	task := mustCreate(t, s, sqlite.NewTask{Title: "t"})
	other := mustCreate(t, s, sqlite.NewTask{Title: "other"})
	for i := range 12 {
		if _, err := s.Update(ctx, task.ID, 0, sqlite.Patch{Description: ptr(fmt.Sprint("rev ", i))}); err != nil {
			t.Fatal(err)
		}
	}
	h := history(t, s, task.ID)
	if len(h) != 5 {
		t.Fatalf("kept %d events, want 5", len(h))
	}
	for i, e := range h {
		if want := fmt.Sprint("rev ", 7+i); e.Changes["description"][1] != want {
			t.Fatalf("event %d = %v, want the change to %q (the newest five)", i, e.Changes, want)
		}
	}
	wantLines(t, "another task's history is untouched", histLines(t, s, other.ID), "created ")
}

// Migration 3 gives a task claimed before leases existed the default lease
// from its last change, so a stale claim becomes claimable again.
func TestMigrationGivesOldClaimsTheDefaultLease(t *testing.T) {
	path := newDB(t)
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range sqlite.MigrationSQL()[:2] {
		if _, err := db.Exec(m); err != nil {
			t.Fatal(err)
		}
	}
	stmts := []string{
		`PRAGMA user_version = 2`,
		`INSERT INTO tasks (id, seq, title, status, assignee, created_at, updated_at, started_at)
		 VALUES ('tsk_00000000000000a1', 1, 'held', 'in_progress', 'old-agent',
		 '2026-01-02T03:04:05.123456789Z', '2026-01-02T03:04:05.123456789Z', '2026-01-02T03:04:05.123456789Z')`,
		`INSERT INTO tasks (id, seq, title, status, created_at, updated_at)
		 VALUES ('tsk_00000000000000a2', 2, 'free', 'pending', '2026-01-02T03:04:06.000000000Z', '2026-01-02T03:04:06.000000000Z')`,
	}
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s := openAt(t, path)
	held := mustGet(t, s, "tsk_00000000000000a1").Task
	want := time.Date(2026, 1, 2, 3, 19, 5, 123000000, time.UTC)
	if held.LeaseExpiresAt == nil || !near(held.LeaseExpiresAt, want) {
		t.Fatalf("migrated lease_expires_at = %v, want %v (updated_at + 900 s)", held.LeaseExpiresAt, want)
	}
	if free := mustGet(t, s, "tsk_00000000000000a2").Task; free.LeaseExpiresAt != nil {
		t.Fatalf("a pending task got a lease: %v", free.LeaseExpiresAt)
	}
	// The stale claim is claimable again: its expiry is recorded, then the takeover.
	if got := claim(t, s, "new-agent", "", 0); got == nil || got.ID != "tsk_00000000000000a1" {
		t.Fatalf("claim = %+v, want the stale claim taken over", got)
	}
	wantLines(t, "history", histLines(t, s, "tsk_00000000000000a1"), "lease_expired old-agent", "reclaimed new-agent")
	// A task with no history at all (made before it existed) still answers.
	if h, _, err := s.History(context.Background(), "tsk_00000000000000a2", 0, ""); err != nil || len(h) != 0 {
		t.Fatalf("History of an old task = %v, %v", h, err)
	}
}

// With a larger limit the prune runs now and then (see record): the history
// stays near the limit and what it keeps is always the newest events.
func TestTheHistoryStaysNearALargeLimit(t *testing.T) {
	s := openClocked(t, newDB(t), newClock(), func(o *sqlite.Options) { o.HistoryLimit = 100 })
	ctx := context.Background()
	task := mustCreate(t, s, sqlite.NewTask{Title: "t"})
	const updates = 400
	for i := range updates {
		if _, err := s.Update(ctx, task.ID, 0, sqlite.Patch{Description: ptr(fmt.Sprint("rev ", i))}); err != nil {
			t.Fatal(err)
		}
	}
	var all []work.HistoryEvent
	for cursor := ""; ; {
		page, next, err := s.History(ctx, task.ID, 200, cursor)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if cursor = next; next == "" {
			break
		}
	}
	// The prune runs on one event in three: 40 more is a chance of (2/3)^40.
	if len(all) < 100 || len(all) > 140 {
		t.Fatalf("kept %d events, want 100 to 140", len(all))
	}
	for i, e := range all {
		if want := fmt.Sprint("rev ", updates-len(all)+i); e.Changes["description"][1] != want {
			t.Fatalf("event %d = %v, want the change to %q", i, e.Changes, want)
		}
	}
}

// An imported claim gets the default lease from its last change, so a stale
// one is claimable again (as migration 3 does for old claims).
func TestAnImportedClaimGetsTheDefaultLease(t *testing.T) {
	s := openStore(t)
	updated := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	who := "old-agent"
	task := sqlite.ImportTask{Task: sqlite.Task{ID: "tsk_00000000000000b1", Title: "held elsewhere", Status: work.InProgress,
		Priority: "medium", Assignee: &who, CreatedAt: updated, UpdatedAt: updated, StartedAt: &updated,
		Metadata: []byte("{}")}}
	if _, err := s.Import(context.Background(), []sqlite.ImportTask{task}); err != nil {
		t.Fatal(err)
	}
	got := mustGet(t, s, task.ID).Task
	if got.LeaseExpiresAt == nil || !got.LeaseExpiresAt.Equal(updated.Add(work.DefaultLease)) {
		t.Fatalf("imported lease_expires_at = %v, want %v", got.LeaseExpiresAt, updated.Add(work.DefaultLease))
	}
	if c := claim(t, s, "new-agent", "", 0); c == nil || c.ID != task.ID {
		t.Fatalf("claim = %+v, want the stale imported claim taken over", c)
	}
}

// A claim weighs pending tasks and tasks whose lease ran out in one order
// (priority, then age): the expired one wins when it ranks higher, a pending
// one when it does, and among equals the older; tasks that do not qualify
// (completed, under a live lease, another role) are passed over wherever
// they rank.
func TestClaimWeighsPendingAndExpiredTasksInOneOrder(t *testing.T) {
	clk := newClock()
	s := openClocked(t, newDB(t), clk)
	ctx := context.Background()
	mustCreate(t, s, sqlite.NewTask{Title: "critical, another role", Priority: "critical", Role: "ops"})
	done := mustCreate(t, s, sqlite.NewTask{Title: "critical, completed", Priority: "critical"})
	if _, _, err := s.Complete(ctx, done.ID, sqlite.Completion{Summary: "done"}); err != nil {
		t.Fatal(err)
	}
	high := mustCreate(t, s, sqlite.NewTask{Title: "high", Priority: "high"})
	if got := claim(t, s, "agent-a", "", time.Second); got == nil || got.ID != high.ID {
		t.Fatalf("first claim = %+v, want %s", got, high.ID)
	}
	low := mustCreate(t, s, sqlite.NewTask{Title: "low", Priority: "low"})
	clk.Advance(2 * time.Second) // high's lease runs out; it still outranks low
	if got := claim(t, s, "agent-b", "", time.Minute); got == nil || got.ID != high.ID {
		t.Fatalf("after the lease ran out: claimed %+v, want the expired %s before the pending %s", got, high.ID, low.ID)
	}
	live := mustCreate(t, s, sqlite.NewTask{Title: "medium", Priority: "medium"})
	if got := claim(t, s, "agent-c", "", time.Second); got == nil || got.ID != live.ID {
		t.Fatalf("claimed %+v, want the pending %s before the low one", got, live.ID)
	}
	clk.Advance(2 * time.Second) // medium's lease runs out; it outranks low
	mustCreate(t, s, sqlite.NewTask{Title: "low, newer", Priority: "low"})
	if got := claim(t, s, "agent-d", "", time.Minute); got == nil || got.ID != live.ID {
		t.Fatalf("claimed %+v, want the expired medium %s", got, live.ID)
	}
	if got := claim(t, s, "agent-e", "", time.Minute); got == nil || got.ID != low.ID {
		t.Fatalf("claimed %+v, want the older low %s", got, low.ID)
	}
}
