package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/clienterr"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// RunClaims checks which task Claim hands out, and that two claimers never
// get the same one.
func RunClaims(t *testing.T, open func(t *testing.T) work.Store) {
	runAll(t, open, []test{
		{"HighestPriorityThenOldestFirst", claimOrder},
		{"WaitingTasksAreNotHandedOut", claimSkipsWaiting},
		{"RolesBindTasksToAgents", claimRoles},
		{"LabelsFilterTheClaim", claimLabels},
		{"ConcurrentClaimersNeverShareATask", claimConcurrent},
		{"BadRequestsAreRefused", claimRefused},
	})
}

func claimOrder(e *env) {
	low := e.create(work.NewTask{Title: "low", Priority: "low"})
	high1 := e.create(work.NewTask{Title: "high 1", Priority: "high"})
	medium := e.create(work.NewTask{Title: "medium"})
	high2 := e.create(work.NewTask{Title: "high 2", Priority: "high"})
	critical := e.create(work.NewTask{Title: "critical", Priority: "critical"})

	const lease = 90 * time.Second
	got := e.claim(work.ClaimRequest{Agent: "agent-a", Lease: lease})
	if got == nil || got.ID != critical.ID {
		e.t.Fatalf("first claim = %v, want the critical task %s", got, critical.ID)
	}
	if got.Status != work.InProgress || got.Assignee == nil || *got.Assignee != "agent-a" || got.Version != 2 ||
		got.StartedAt == nil || !recent(*got.StartedAt) || got.LeaseExpiresAt == nil || got.CompletedAt != nil {
		e.t.Fatalf("claimed task = %s", show(*got))
	}
	if d := got.LeaseExpiresAt.Sub(*got.StartedAt); d != lease {
		e.t.Fatalf("lease_expires_at - started_at = %v, want the lease asked for, %v", d, lease)
	}
	e.sameTask("Get of the claimed task", e.task(got.ID), *got)

	var order []string
	for range 4 {
		order = append(order, e.claimID("agent-b"))
	}
	e.wantIDs("the claims after it", order, high1.ID, high2.ID, medium.ID, low.ID)
	if id := e.claimID("agent-b"); id != "" {
		e.t.Fatalf("a claim with nothing left = %s, want none", id)
	}
}

func claimSkipsWaiting(e *env) {
	dep := e.create(work.NewTask{Title: "dep"})
	waits := e.create(work.NewTask{Title: "waits for dep", DependsOn: []string{dep.ID}, Priority: "critical"})
	parent := e.create(work.NewTask{Title: "parent", Priority: "critical"})
	kid := e.create(work.NewTask{Title: "kid", ParentID: parent.ID})
	broke := e.create(work.NewTask{Title: "broke"})
	e.complete(broke.ID, work.Completion{Outcome: "failed"})
	e.create(work.NewTask{Title: "waits for a failed task", DependsOn: []string{broke.ID}, Priority: "critical"})

	e.wantIDs("the claimable tasks", []string{e.claimID("a1"), e.claimID("a2")}, dep.ID, kid.ID)
	if id := e.claimID("a3"); id != "" {
		e.t.Fatalf("claimed %s: it waits for a dependency or a subtask", id)
	}
	if _, ready := e.complete(dep.ID, work.Completion{Agent: "a1"}); !slices.Equal(ready, []string{waits.ID}) {
		e.t.Fatalf("completing dep made ready %v, want [%s]", ready, waits.ID)
	}
	if id := e.claimID("a3"); id != waits.ID {
		e.t.Fatalf("claim after its dependency completed = %q, want %s", id, waits.ID)
	}
	e.complete(kid.ID, work.Completion{Agent: "a2"})
	if id := e.claimID("a4"); id != parent.ID {
		e.t.Fatalf("claim after the last subtask completed = %q, want the parent %s", id, parent.ID)
	}
	if id := e.claimID("a5"); id != "" {
		e.t.Fatalf("claimed %s, which waits for a failed task", id)
	}
}

func claimRoles(e *env) {
	reviewer := e.create(work.NewTask{Title: "review", Role: "reviewer", Priority: "critical"})
	plain := e.create(work.NewTask{Title: "plain"})
	if id := e.claim(work.ClaimRequest{Agent: "a"}); id == nil || id.ID != plain.ID {
		e.t.Fatalf("a claim without a role = %v, want the task without a role %s", id, plain.ID)
	}
	if got := e.claim(work.ClaimRequest{Agent: "a"}); got != nil {
		e.t.Fatalf("a claim without a role took %s (role %v)", got.ID, got.Role)
	}
	if got := e.claim(work.ClaimRequest{Agent: "c", Role: "coder"}); got != nil {
		e.t.Fatalf("a coder took %s (role %v)", got.ID, got.Role)
	}
	if got := e.claim(work.ClaimRequest{Agent: "r", Role: "reviewer"}); got == nil || got.ID != reviewer.ID {
		e.t.Fatalf("a reviewer's claim = %v, want %s", got, reviewer.ID)
	}
	// A claim with a role takes tasks without one too.
	plain2 := e.create(work.NewTask{Title: "plain 2"})
	if got := e.claim(work.ClaimRequest{Agent: "r", Role: "reviewer"}); got == nil || got.ID != plain2.ID {
		e.t.Fatalf("a reviewer's claim with only a task without role left = %v, want %s", got, plain2.ID)
	}
}

func claimLabels(e *env) {
	a := e.create(work.NewTask{Title: "a", Labels: []string{"go"}})
	ab := e.create(work.NewTask{Title: "ab", Labels: []string{"go", "db"}})
	none := e.create(work.NewTask{Title: "none"})
	for _, tc := range []struct {
		labels []string
		want   string
	}{
		{[]string{"db", "go"}, ab.ID},
		{[]string{"db"}, ""},
		{[]string{"go"}, a.ID},
		{[]string{"go"}, ""},
		{nil, none.ID},
	} {
		got := e.claim(work.ClaimRequest{Agent: "x", Labels: tc.labels})
		id := ""
		if got != nil {
			id = got.ID
		}
		if id != tc.want {
			e.t.Fatalf("claim with labels %v = %q, want %q", tc.labels, id, tc.want)
		}
	}
}

func claimConcurrent(e *env) {
	const tasks, claimers = 8, 16
	var want []string
	for i := range tasks {
		want = append(want, e.create(work.NewTask{Title: fmt.Sprintf("job %d", i)}).ID)
	}
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		got   = make([]*work.Task, claimers)
		errs  = make([]error, claimers)
	)
	for i := range claimers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			got[i], errs[i] = e.s.Claim(e.ctx, work.ClaimRequest{Agent: fmt.Sprintf("agent-%d", i), Lease: time.Minute})
		}()
	}
	close(start)
	wg.Wait()
	holder := map[string]string{}
	for i, task := range got {
		if errs[i] != nil {
			e.t.Fatalf("claimer %d: %v", i, errs[i])
		}
		if task == nil {
			continue
		}
		agent := fmt.Sprintf("agent-%d", i)
		if prev, dup := holder[task.ID]; dup {
			e.t.Fatalf("%s was handed to %s and to %s", task.ID, prev, agent)
		}
		if task.Assignee == nil || *task.Assignee != agent {
			e.t.Fatalf("%s claimed by %s has assignee %v", task.ID, agent, task.Assignee)
		}
		holder[task.ID] = agent
	}
	var claimed []string
	for id, agent := range holder {
		claimed = append(claimed, id)
		if a := e.task(id).Assignee; a == nil || *a != agent {
			e.t.Fatalf("stored assignee of %s = %v, want %s", id, a, agent)
		}
	}
	e.wantIDs("the tasks claimed", sorted(claimed...), sorted(want...)...)
}

func claimRefused(e *env) {
	e.create(work.NewTask{Title: "a"})
	_, err := e.s.Claim(e.ctx, work.ClaimRequest{Agent: "", Lease: time.Minute})
	e.wantErr("a claim without an agent", err, clienterr.InvalidArgument,
		"agent is required: pass a name that identifies the agent claiming work")
	_, err = e.s.Claim(e.ctx, work.ClaimRequest{Agent: "a", Lease: 500 * time.Millisecond})
	e.wantErr("a lease under a second", err, clienterr.InvalidArgument, "")
	_, err = e.s.Claim(e.ctx, work.ClaimRequest{Agent: "a", Lease: 25 * time.Hour})
	e.wantErr("a lease over a day", err, clienterr.InvalidArgument, "")
	if got, _, err := e.s.List(e.ctx, work.Filter{Status: []string{"in_progress"}}); err != nil || len(got) != 0 {
		e.t.Fatalf("in-progress tasks after refused claims = %v, %v", ids(got), err)
	}
}

// RunLeases checks the leases of claims: renewal, the holder's rights,
// release, expiry and takeover, and a person's overrides.
func RunLeases(t *testing.T, open func(t *testing.T) work.Store) {
	runAll(t, open, []test{
		{"HeartbeatRenewsForTheHolderOnly", heartbeat},
		{"OnlyTheHolderWritesUnderALiveLease", holderOnly},
		{"ReleaseReturnsTheTaskToPending", release},
		{"AnExpiredLeaseIsTakenOverAndTheOldHolderRefused", expiredTakeover},
		{"TheOldHolderMayFinishLateWhenNobodyTookOver", expiredLate},
		{"OverridesActWhoeverHoldsTheTask", overrides},
	})
}

// heldSentence is the refusal of a write to a task another agent holds.
func heldSentence(id, agent string, until time.Time) string {
	return fmt.Sprintf("task %s is held by agent %s until %s; only its holder may change it "+
		"(or claim it after the lease expires)", id, agent, until.UTC().Format(time.RFC3339))
}

func heartbeat(e *env) {
	task := e.create(work.NewTask{Title: "work"})
	a := e.claim(work.ClaimRequest{Agent: "agent-a", Lease: time.Minute})
	mark := e.changeMark()
	seq := e.lastOutboxSeq()

	hb, err := e.s.Heartbeat(e.ctx, task.ID, "agent-a")
	if err != nil {
		e.t.Fatalf("the holder's heartbeat: %v", err)
	}
	if hb.LeaseExpiresAt == nil || !hb.LeaseExpiresAt.After(*a.LeaseExpiresAt) {
		e.t.Fatalf("lease after the heartbeat = %v, want later than %v", hb.LeaseExpiresAt, a.LeaseExpiresAt)
	}
	want := *a
	want.LeaseExpiresAt = hb.LeaseExpiresAt
	e.sameTask("the task after a heartbeat (only the lease moves: no new version)", hb, want)
	e.sameTask("Get after a heartbeat", e.task(task.ID), want)
	if m := e.changeMark(); m != mark {
		e.t.Fatalf("ChangeMark moved from %d to %d on a heartbeat, which changes nothing the history shows", mark, m)
	}
	if s := e.lastOutboxSeq(); s != seq {
		e.t.Fatalf("a heartbeat wrote outbox events (last seq %d -> %d)", seq, s)
	}

	_, err = e.s.Heartbeat(e.ctx, task.ID, "agent-b")
	e.wantErr("another agent's heartbeat", err, clienterr.LeaseHeld, heldSentence(task.ID, "agent-a", *hb.LeaseExpiresAt))
	_, err = e.s.Heartbeat(e.ctx, task.ID, "")
	e.wantErr("a heartbeat without an agent", err, clienterr.InvalidArgument, "")
	pending := e.create(work.NewTask{Title: "pending"})
	_, err = e.s.Heartbeat(e.ctx, pending.ID, "agent-a")
	e.wantErr("a heartbeat on a pending task", err, clienterr.InvalidTransition,
		"task "+pending.ID+" is pending; only an in_progress task has a lease to renew: claim work with task_claim")
	e.sameTask("the task after refused heartbeats", e.task(task.ID), want)
}

func holderOnly(e *env) {
	task := e.create(work.NewTask{Title: "work"})
	a := e.claim(work.ClaimRequest{Agent: "agent-a", Lease: time.Minute})
	want := heldSentence(task.ID, "agent-a", *a.LeaseExpiresAt)
	for _, agent := range []string{"agent-b", ""} {
		_, err := e.s.Update(e.ctx, task.ID, 0, work.Patch{Agent: agent, Priority: ptr("high")})
		e.wantErr(fmt.Sprintf("Update by %q", agent), err, clienterr.LeaseHeld, want)
		_, _, err = e.s.Complete(e.ctx, task.ID, work.Completion{Agent: agent})
		e.wantErr(fmt.Sprintf("Complete by %q", agent), err, clienterr.LeaseHeld, want)
	}
	_, err := e.s.Release(e.ctx, task.ID, "agent-b", "mine now")
	e.wantErr("Release by another agent", err, clienterr.LeaseHeld, want)
	e.sameTask("the task after refused writes", e.task(task.ID), *a)

	// The holder's write renews the lease.
	got := e.update(task.ID, a.Version, work.Patch{Agent: "agent-a", Priority: ptr("high")})
	if got.Priority != "high" || got.Version != a.Version+1 || got.Assignee == nil || *got.Assignee != "agent-a" ||
		got.Status != work.InProgress || got.LeaseExpiresAt == nil || !got.LeaseExpiresAt.After(*a.LeaseExpiresAt) {
		e.t.Fatalf("the holder's update = %s; want it applied and the lease renewed", show(got))
	}
}

func release(e *env) {
	task := e.create(work.NewTask{Title: "work"})
	a := e.claim(work.ClaimRequest{Agent: "agent-a", Lease: time.Minute})
	got, err := e.s.Release(e.ctx, task.ID, "agent-a", "stuck on credentials")
	if err != nil {
		e.t.Fatalf("the holder's release: %v", err)
	}
	want := *a
	want.Status, want.Assignee, want.StartedAt, want.LeaseExpiresAt = work.Pending, nil, nil, nil
	want.Version, want.UpdatedAt = a.Version+1, got.UpdatedAt
	e.sameTask("the released task", got, want)
	h := e.history(task.ID)
	if last := h[len(h)-1]; last.Event != work.EventReleased || last.Actor != "agent-a" || last.Note != "stuck on credentials" {
		e.t.Fatalf("the release's history event = %+v", last)
	}
	if id := e.claimID("agent-b"); id != task.ID {
		e.t.Fatalf("claim after the release = %q, want %s", id, task.ID)
	}
	pending := e.create(work.NewTask{Title: "pending"})
	_, err = e.s.Release(e.ctx, pending.ID, "agent-a", "")
	e.wantErr("Release of a pending task", err, clienterr.InvalidTransition,
		"task "+pending.ID+" is pending; only an in_progress task can be released")
}

// waitPast sleeps until t has passed (by a margin), for the lease-expiry cases.
func waitPast(t time.Time) {
	time.Sleep(time.Until(t) + 200*time.Millisecond)
}

func expiredTakeover(e *env) {
	if _, ok, err := e.s.NextLeaseExpiry(e.ctx); err != nil || ok {
		e.t.Fatalf("NextLeaseExpiry with no lease = %v, %v; want none", ok, err)
	}
	task := e.create(work.NewTask{Title: "work", Actor: "planner"})
	a := e.claim(work.ClaimRequest{Agent: "agent-a", Lease: time.Second})
	if at, ok, err := e.s.NextLeaseExpiry(e.ctx); err != nil || !ok || !at.Equal(*a.LeaseExpiresAt) {
		e.t.Fatalf("NextLeaseExpiry = %v, %v, %v; want %v", at, ok, err, a.LeaseExpiresAt)
	}
	if got := e.claim(work.ClaimRequest{Agent: "agent-b"}); got != nil {
		e.t.Fatalf("agent-b claimed %s under agent-a's live lease", got.ID)
	}
	if exp, err := e.s.ExpireLeases(e.ctx); err != nil || len(exp) != 0 {
		e.t.Fatalf("ExpireLeases before the lease ran out = %v, %v", exp, err)
	}

	waitPast(*a.LeaseExpiresAt)
	exp, err := e.s.ExpireLeases(e.ctx)
	if err != nil || len(exp) != 1 || exp[0].TaskID != task.ID || exp[0].Agent != "agent-a" || !exp[0].ExpiredAt.Equal(*a.LeaseExpiresAt) {
		e.t.Fatalf("ExpireLeases = %+v, %v; want the one expiry of %s by agent-a at %v", exp, err, task.ID, a.LeaseExpiresAt)
	}
	if exp, err := e.s.ExpireLeases(e.ctx); err != nil || len(exp) != 0 {
		e.t.Fatalf("ExpireLeases again = %+v, %v; want nothing (each expiry is recorded once)", exp, err)
	}
	if at, ok, err := e.s.NextLeaseExpiry(e.ctx); err != nil || ok {
		e.t.Fatalf("NextLeaseExpiry after the expiry was recorded = %v, %v, %v; want none", at, ok, err)
	}

	b := e.claim(work.ClaimRequest{Agent: "agent-b", Lease: time.Minute})
	if b == nil || b.ID != task.ID || b.Assignee == nil || *b.Assignee != "agent-b" || b.Status != work.InProgress ||
		b.Version != a.Version+1 {
		e.t.Fatalf("agent-b's takeover = %v", b)
	}
	refused := fmt.Sprintf("your claim on %s expired at %s; it is now held by agent agent-b; nothing was changed: "+
		"leave this task and call task_claim for other work", task.ID, a.LeaseExpiresAt.UTC().Format(time.RFC3339))
	_, _, err = e.s.Complete(e.ctx, task.ID, work.Completion{Agent: "agent-a", Summary: "done by A"})
	e.wantErr("the old holder's completion", err, clienterr.LeaseHeld, refused)
	_, err = e.s.Update(e.ctx, task.ID, 0, work.Patch{Agent: "agent-a", Title: ptr("A renames it")})
	e.wantErr("the old holder's update", err, clienterr.LeaseHeld, refused)
	_, err = e.s.Heartbeat(e.ctx, task.ID, "agent-a")
	e.wantErr("the old holder's heartbeat", err, clienterr.LeaseHeld, refused)
	e.sameTask("the task after the old holder's refused writes", e.task(task.ID), *b)

	e.wantEvents(task.ID, "created planner", "claimed agent-a", "lease_expired agent-a", "reclaimed agent-b")
	if h := e.history(task.ID); !h[2].At.Equal(*a.LeaseExpiresAt) {
		e.t.Fatalf("lease_expired at %v, want the moment the lease ran out, %v", h[2].At, a.LeaseExpiresAt)
	}
	done, _ := e.complete(task.ID, work.Completion{Agent: "agent-b", Summary: "done by B"})
	if done.Status != work.Completed || done.LeaseExpiresAt != nil {
		e.t.Fatalf("agent-b's completion = %s", show(done))
	}
}

func expiredLate(e *env) {
	t1 := e.create(work.NewTask{Title: "one"})
	t2 := e.create(work.NewTask{Title: "two"})
	a1 := e.claim(work.ClaimRequest{Agent: "agent-a", Lease: time.Second})
	a2 := e.claim(work.ClaimRequest{Agent: "agent-a", Lease: time.Second})
	if a1 == nil || a2 == nil || a1.ID != t1.ID || a2.ID != t2.ID {
		e.t.Fatalf("agent-a's claims = %v, %v", a1, a2)
	}
	waitPast(*a2.LeaseExpiresAt)

	sum, err := e.s.Summary(e.ctx, work.SummaryOptions{ListLimit: 10})
	if err != nil {
		e.t.Fatalf("Summary: %v", err)
	}
	if len(sum.Expired) != 2 || sum.Expired[0].ID != t1.ID || sum.Expired[1].ID != t2.ID ||
		sum.Expired[0].Agent != "agent-a" || sum.Expired[0].ExpiredS < 0 || len(sum.Agents) != 0 || sum.Ready != 2 {
		e.t.Fatalf("Summary with two expired leases: expired %+v, agents %+v, ready %d", sum.Expired, sum.Agents, sum.Ready)
	}

	// Nobody took t1 over: its old holder may still finish it, late.
	done, _ := e.complete(t1.ID, work.Completion{Agent: "agent-a", Summary: "late but done"})
	if done.Status != work.Completed || done.Summary == nil || *done.Summary != "late but done" {
		e.t.Fatalf("the late completion = %s", show(done))
	}
	e.wantEvents(t1.ID, "created ", "claimed agent-a", "lease_expired agent-a", "completed agent-a")
	if h := e.history(t1.ID); !h[3].Late || h[2].Late {
		e.t.Fatalf("late flags = %v, %v; want the completion alone marked late", h[2].Late, h[3].Late)
	}

	// A claim of t2 records its expiry itself, once.
	if id := e.claimID("agent-b"); id != t2.ID {
		e.t.Fatalf("agent-b's claim = %q, want %s", id, t2.ID)
	}
	e.wantEvents(t2.ID, "created ", "claimed agent-a", "lease_expired agent-a", "reclaimed agent-b")
	if exp, err := e.s.ExpireLeases(e.ctx); err != nil || len(exp) != 0 {
		e.t.Fatalf("ExpireLeases after both expiries were recorded = %+v, %v", exp, err)
	}
}

func overrides(e *env) {
	task := e.create(work.NewTask{Title: "work"})
	a := e.claim(work.ClaimRequest{Agent: "agent-a", Lease: time.Minute})
	got, err := e.s.OverrideRelease(e.ctx, task.ID, "human:board", "reassigning")
	if err != nil {
		e.t.Fatalf("OverrideRelease: %v", err)
	}
	if got.Status != work.Pending || got.Assignee != nil || got.LeaseExpiresAt != nil || got.Version != a.Version+1 {
		e.t.Fatalf("OverrideRelease = %s", show(got))
	}
	if id := e.claimID("agent-b"); id != task.ID {
		e.t.Fatalf("claim after the override = %q", id)
	}
	got, err = e.s.OverrideCancel(e.ctx, task.ID, "human:board", "not needed")
	if err != nil {
		e.t.Fatalf("OverrideCancel: %v", err)
	}
	if got.Status != work.Cancelled || got.LeaseExpiresAt != nil {
		e.t.Fatalf("OverrideCancel = %s", show(got))
	}
	e.wantEvents(task.ID, "created ", "claimed agent-a", "released human:board", "claimed agent-b", "status human:board")
	h := e.history(task.ID)
	if h[2].Note != "reassigning" || h[4].Note != "not needed" {
		e.t.Fatalf("override notes = %q, %q", h[2].Note, h[4].Note)
	}
	_, err = e.s.OverrideCancel(e.ctx, task.ID, "human:board", "")
	e.wantErr("OverrideCancel of a cancelled task", err, clienterr.InvalidTransition,
		"task "+task.ID+" is cancelled; only a pending, in_progress, blocked or failed task can be cancelled")
	_, err = e.s.OverrideRelease(e.ctx, task.ID, "human:board", "")
	e.wantErr("OverrideRelease of a cancelled task", err, clienterr.InvalidTransition,
		"task "+task.ID+" is cancelled; only an in_progress task can be released")
	_, err = e.s.OverrideRelease(e.ctx, task.ID, "", "")
	e.wantErr("an override without an actor", err, clienterr.InvalidArgument, "")
}
