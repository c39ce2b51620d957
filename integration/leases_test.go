package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
)

// Claim leases over the real binary (issue 13): an agent that goes silent
// loses its task to the next claim once its lease runs out, and its late
// write is refused with a sentence that says so and changes nothing; a
// heartbeat keeps a claim alive; a release gives it back; an expired claim
// nobody took over may still be completed by its holder, recorded as late.

// leasedTask is the part of a task the lease, plan and rule tests read.
type leasedTask struct {
	ID             string          `json:"id"`
	Title          string          `json:"title"`
	Status         string          `json:"status"`
	Priority       string          `json:"priority"`
	Labels         []string        `json:"labels"`
	Role           *string         `json:"role"`
	Assignee       *string         `json:"assignee"`
	ParentID       *string         `json:"parent_id"`
	DependsOn      []string        `json:"depends_on"`
	Version        int64           `json:"version"`
	StartedAt      *time.Time      `json:"started_at"`
	CompletedAt    *time.Time      `json:"completed_at"`
	LeaseExpiresAt *time.Time      `json:"lease_expires_at"`
	Summary        *string         `json:"summary"`
	Metadata       json.RawMessage `json:"metadata"`
}

type leasedOut struct {
	Task *leasedTask `json:"task"`
}

// historyEvent is one event of task_history.
type historyEvent struct {
	Seq     int64                      `json:"seq"`
	At      time.Time                  `json:"at"`
	Actor   string                     `json:"actor"`
	Event   string                     `json:"event"`
	Changes map[string]json.RawMessage `json:"changes"`
	Late    bool                       `json:"late"`
	Note    string                     `json:"note"`
}

func (e historyEvent) String() string {
	s := e.Event
	if e.Actor != "" {
		s += "(" + e.Actor + ")"
	}
	if e.Late {
		s += "[late]"
	}
	return s
}

// taskHistory reads every event of a task, page by page, oldest first.
func taskHistory(t testing.TB, ctx context.Context, p *proc, project, id string) []historyEvent {
	t.Helper()
	var all []historyEvent
	cursor := ""
	for range 1000 {
		args := map[string]any{"workspace": project, "id": id, "limit": 200}
		if cursor != "" {
			args["cursor"] = cursor
		}
		var out struct {
			Events     []historyEvent `json:"events"`
			NextCursor string         `json:"next_cursor"`
		}
		p.ok(ctx, "task_history", args, &out)
		all = append(all, out.Events...)
		if out.NextCursor == "" {
			for i := 1; i < len(all); i++ {
				if all[i].Seq <= all[i-1].Seq {
					t.Fatalf("task_history(%s): events out of order: seq %d after %d", id, all[i].Seq, all[i-1].Seq)
				}
			}
			return all
		}
		cursor = out.NextCursor
	}
	t.Fatalf("task_history(%s): more than 1000 pages", id)
	return nil
}

func eventKinds(evs []historyEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Event
	}
	return out
}

// refused calls a tool that must fail and returns its message.
func (p *proc) refused(ctx context.Context, name string, args map[string]any) string {
	p.t.Helper()
	res := p.call(ctx, name, args)
	if !res.IsError {
		b, _ := json.Marshal(res.StructuredContent)
		p.t.Fatalf("%s(%v) succeeded, want a refusal: %s", name, args, b)
	}
	return text(res)
}

// claim claims the next task for agent with a lease; nil when none is ready.
func (p *proc) claim(ctx context.Context, project, agent string, leaseSeconds int, extra map[string]any) *leasedTask {
	p.t.Helper()
	args := map[string]any{"workspace": project, "agent": agent, "lease_seconds": leaseSeconds}
	for k, v := range extra {
		args[k] = v
	}
	var out leasedOut
	p.ok(ctx, "task_claim", args, &out)
	if out.Task != nil {
		if out.Task.Status != "in_progress" || out.Task.Assignee == nil || *out.Task.Assignee != agent {
			p.t.Fatalf("task_claim by %s answered %+v: want in_progress assigned to %s", agent, *out.Task, agent)
		}
		if out.Task.LeaseExpiresAt == nil {
			p.t.Fatalf("task_claim by %s answered task %s without lease_expires_at", agent, out.Task.ID)
		}
	}
	return out.Task
}

func (p *proc) getTask(ctx context.Context, project, id string) leasedTask {
	p.t.Helper()
	var out struct {
		Task leasedTask `json:"task"`
	}
	p.ok(ctx, "task_get", map[string]any{"workspace": project, "id": id}, &out)
	return out.Task
}

// rawGet is task_get's whole structured answer, for before/after comparisons.
func (p *proc) rawGet(ctx context.Context, project, id string) string {
	p.t.Helper()
	res := p.call(ctx, "task_get", map[string]any{"workspace": project, "id": id})
	if res.IsError {
		p.t.Fatalf("task_get(%s): %s", id, text(res))
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		p.t.Fatal(err)
	}
	return string(b)
}

func sleepUntil(t time.Time) {
	if d := time.Until(t); d > 0 {
		time.Sleep(d)
	}
}

func strp(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// A claims with a 2-second lease and goes silent; B, on another server
// process of the project, takes the task over once the lease has run out; A's late complete, update and heartbeat are refused
// with the lease_held sentence and change nothing; B completes; the history
// reads claimed(A), lease_expired, reclaimed(B), completed(B).
func TestLeaseExpiredClaimIsTakenOverAndTheOldHolderIsRefused(t *testing.T) {
	project := newProject(t)
	// A works through one server process, B through another: the lease,
	// its expiry and the takeover are the project's, not a process's.
	ps := startProcs(t, project, 2, procOpts{})
	p, pb := ps[0], ps[1]
	ctx := ctxT(t)
	var created taskOut
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "the only ready task"}, &created)
	id := created.Task.ID

	t0 := time.Now()
	a := p.claim(ctx, project, "agent-A", 2, nil)
	if a == nil || a.ID != id {
		t.Fatalf("agent-A's claim answered %+v, want task %s", a, id)
	}
	if a.StartedAt == nil {
		t.Fatalf("claimed task has no started_at: %+v", *a)
	}
	if d := a.LeaseExpiresAt.Sub(*a.StartedAt); d < 2*time.Second-time.Millisecond || d > 2*time.Second+time.Second {
		t.Fatalf("lease_seconds 2 gave lease_expires_at %v, %v after started_at %v; want 2 s", *a.LeaseExpiresAt, d, *a.StartedAt)
	}
	leaseA := *a.LeaseExpiresAt
	t.Logf("agent-A claimed %s at %s, lease until %s", id, a.StartedAt.Format(time.RFC3339Nano), leaseA.Format(time.RFC3339Nano))

	// While A's lease is live, B gets nothing and may not touch the task.
	if b := pb.claim(ctx, project, "agent-B", 60, nil); b != nil {
		t.Fatalf("agent-B claimed %s while agent-A's lease was live", b.ID)
	}
	before := p.rawGet(ctx, project, id)
	msg := pb.refused(ctx, "task_complete", map[string]any{"workspace": project, "id": id, "agent": "agent-B", "summary": "not mine"})
	t.Logf("agent-B completing agent-A's live claim: %s", msg)
	if !strings.HasPrefix(msg, "lease_held: ") || !strings.Contains(msg, id) || !strings.Contains(msg, "agent-A") {
		t.Errorf("agent-B completing a task under agent-A's live lease: %q; want a lease_held sentence naming %s and agent-A", msg, id)
	}
	if after := p.rawGet(ctx, project, id); after != before {
		t.Fatalf("a refused task_complete changed the task:\nbefore %s\nafter  %s", before, after)
	}

	// A goes silent. Once the lease has run out the task is ready again.
	sleepUntil(leaseA.Add(300 * time.Millisecond))
	var ready listOut
	pb.ok(ctx, "task_list", map[string]any{"workspace": project, "ready": true}, &ready)
	if len(ready.Tasks) != 1 || ready.Tasks[0].ID != id {
		t.Errorf("task_list ready=true after agent-A's lease expired: %+v; want exactly %s", ready.Tasks, id)
	}
	b := pb.claim(ctx, project, "agent-B", 60, nil)
	if b == nil || b.ID != id {
		t.Fatalf("agent-B's claim after agent-A's lease expired answered %+v, want the task %s", b, id)
	}
	if !b.LeaseExpiresAt.After(leaseA) {
		t.Errorf("agent-B's lease %v is not after agent-A's expired one %v", *b.LeaseExpiresAt, leaseA)
	}

	// A wakes up: every write of it is refused with the exact sentence and
	// changes nothing (task_get and the whole database are as B left them).
	before = p.rawGet(ctx, project, id)
	dbBefore, _ := dumpTables(t, project)
	want := regexp.MustCompile(`^lease_held: your claim on ` + regexp.QuoteMeta(id) +
		` expired at (\S+); it is now held by agent agent-B\b`)
	for _, call := range []struct {
		tool string
		args map[string]any
	}{
		{"task_complete", map[string]any{"workspace": project, "id": id, "agent": "agent-A", "summary": "done by A, late"}},
		{"task_update", map[string]any{"workspace": project, "id": id, "agent": "agent-A", "description": "A was here"}},
		{"task_heartbeat", map[string]any{"workspace": project, "id": id, "agent": "agent-A"}},
		{"task_release", map[string]any{"workspace": project, "id": id, "agent": "agent-A", "reason": "A gives up"}},
	} {
		msg := p.refused(ctx, call.tool, call.args)
		t.Logf("agent-A's %s after the takeover: %s", call.tool, msg)
		m := want.FindStringSubmatch(msg)
		if m == nil {
			t.Errorf("agent-A's %s after agent-B took the task over: %q\nwant it to match %s", call.tool, msg, want)
			continue
		}
		at, err := time.Parse(time.RFC3339, strings.TrimRight(m[1], ".,;"))
		if err != nil {
			t.Errorf("agent-A's %s: the expiry %q is not RFC 3339: %v", call.tool, m[1], err)
		} else if d := at.Sub(leaseA); d < -time.Second || d > time.Second {
			t.Errorf("agent-A's %s: says the claim expired at %v; its lease_expires_at was %v", call.tool, at, leaseA)
		}
	}
	if after := p.rawGet(ctx, project, id); after != before {
		t.Fatalf("agent-A's refused writes changed the task:\nbefore %s\nafter  %s", before, after)
	}
	if dbAfter, _ := dumpTables(t, project); dbAfter != dbBefore {
		t.Fatalf("agent-A's refused writes changed the database:\n%s", firstDiff(dbBefore, dbAfter))
	}
	got := p.getTask(ctx, project, id)
	if got.Status != "in_progress" || strp(got.Assignee) != "agent-B" {
		t.Fatalf("after agent-A's refused writes the task is %s held by %s; want in_progress held by agent-B", got.Status, strp(got.Assignee))
	}

	var done struct {
		Task leasedTask `json:"task"`
	}
	pb.ok(ctx, "task_complete", map[string]any{"workspace": project, "id": id, "agent": "agent-B", "summary": "done by B"}, &done)
	if done.Task.Status != "completed" || strp(done.Task.Assignee) != "agent-B" || strp(done.Task.Summary) != "done by B" {
		t.Fatalf("agent-B's task_complete answered %+v", done.Task)
	}
	// Completed is final: A cannot complete it afterwards either.
	msg = p.refused(ctx, "task_complete", map[string]any{"workspace": project, "id": id, "agent": "agent-A", "summary": "twice"})
	t.Logf("agent-A completing the completed task: %s", msg)

	evs := taskHistory(t, ctx, p, project, id)
	t.Logf("history of %s: %v", id, evs)
	var kinds []string
	for _, e := range evs {
		if e.Event != "created" {
			kinds = append(kinds, e.Event)
		}
	}
	if !slices.Equal(kinds, []string{"claimed", "lease_expired", "reclaimed", "completed"}) {
		t.Fatalf("history of %s: %v; want created, then claimed(agent-A), lease_expired, reclaimed(agent-B), completed(agent-B)", id, evs)
	}
	if evs[0].Event != "created" {
		t.Errorf("history of %s starts with %v, want created", id, evs[0])
	}
	by := map[string]historyEvent{}
	for _, e := range evs {
		by[e.Event] = e
	}
	if by["claimed"].Actor != "agent-A" || by["reclaimed"].Actor != "agent-B" || by["completed"].Actor != "agent-B" {
		t.Errorf("history actors: claimed by %q, reclaimed by %q, completed by %q; want agent-A, agent-B, agent-B",
			by["claimed"].Actor, by["reclaimed"].Actor, by["completed"].Actor)
	}
	if by["completed"].Late {
		t.Errorf("agent-B's completion under its own live lease is marked late")
	}
	if at := by["lease_expired"].At; at.Before(leaseA.Add(-time.Second)) {
		t.Errorf("lease_expired recorded at %v, before the lease ran out at %v", at, leaseA)
	}
	t.Logf("from agent-A's claim to agent-B's completion: %v", time.Since(t0).Round(time.Millisecond))
}

// A claim renewed by heartbeats outlives its lease several times over: no
// other agent can take it meanwhile, and its completion is not late.
func TestLeaseHeartbeatKeepsAClaimAlivePastItsLength(t *testing.T) {
	project := newProject(t)
	p := start(t, procOpts{dir: project})
	ctx := ctxT(t)
	var created taskOut
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "a long job"}, &created)
	id := created.Task.ID

	a := p.claim(ctx, project, "agent-A", 2, nil)
	if a == nil || a.ID != id {
		t.Fatalf("claim answered %+v, want %s", a, id)
	}
	first := *a.LeaseExpiresAt
	last := first
	beats := 0
	until := first.Add(4 * time.Second) // three lease lengths after the claim
	for time.Now().Before(until) {
		time.Sleep(500 * time.Millisecond)
		if b := p.claim(ctx, project, "agent-B", 60, nil); b != nil {
			t.Fatalf("agent-B claimed %s while agent-A kept heartbeating (%d heartbeats, last lease %v)", b.ID, beats, last)
		}
		var hb leasedOut
		p.ok(ctx, "task_heartbeat", map[string]any{"workspace": project, "id": id, "agent": "agent-A"}, &hb)
		if hb.Task == nil || hb.Task.LeaseExpiresAt == nil || strp(hb.Task.Assignee) != "agent-A" || hb.Task.Status != "in_progress" {
			t.Fatalf("task_heartbeat answered %+v", hb.Task)
		}
		if !hb.Task.LeaseExpiresAt.After(last) {
			t.Fatalf("heartbeat %d: lease_expires_at %v did not move past %v", beats+1, *hb.Task.LeaseExpiresAt, last)
		}
		last = *hb.Task.LeaseExpiresAt
		beats++
	}
	// A heartbeat from anyone else is refused.
	msg := p.refused(ctx, "task_heartbeat", map[string]any{"workspace": project, "id": id, "agent": "agent-B"})
	if !strings.HasPrefix(msg, "lease_held: ") {
		t.Errorf("agent-B heartbeating agent-A's claim: %q, want a lease_held refusal", msg)
	}
	t.Logf("agent-B heartbeating agent-A's claim: %s", msg)
	if !time.Now().After(first.Add(2 * time.Second)) {
		t.Fatalf("the test did not run past twice the first lease")
	}
	var done leasedOut
	p.ok(ctx, "task_complete", map[string]any{"workspace": project, "id": id, "agent": "agent-A", "summary": "finished"}, &done)
	if done.Task.Status != "completed" {
		t.Fatalf("task_complete answered %+v", done.Task)
	}
	evs := taskHistory(t, ctx, p, project, id)
	t.Logf("%d heartbeats kept a 2 s lease alive for %v; history %v", beats, last.Sub(*a.StartedAt).Round(time.Millisecond), evs)
	for _, e := range evs {
		switch {
		case e.Event == "lease_expired" || e.Event == "reclaimed":
			t.Errorf("history of a heartbeaten claim holds %v", e)
		case e.Event == "completed" && (e.Late || e.Actor != "agent-A"):
			t.Errorf("completion recorded as %v, want completed(agent-A), not late", e)
		}
	}
	if k := eventKinds(evs); !slices.Contains(k, "completed") || !slices.Contains(k, "claimed") {
		t.Errorf("history %v lacks the claim or the completion", evs)
	}
}

// task_release gives a claim back: only its holder may, the task is pending
// and unassigned again, the next claim gets it, and the reason is kept.
func TestLeaseReleaseGivesTheTaskBack(t *testing.T) {
	project := newProject(t)
	p := start(t, procOpts{dir: project})
	ctx := ctxT(t)
	var created taskOut
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "released"}, &created)
	id := created.Task.ID

	if a := p.claim(ctx, project, "agent-A", 600, nil); a == nil || a.ID != id {
		t.Fatalf("claim answered %+v", a)
	}
	before := p.rawGet(ctx, project, id)
	msg := p.refused(ctx, "task_release", map[string]any{"workspace": project, "id": id, "agent": "agent-B", "reason": "not mine"})
	t.Logf("agent-B releasing agent-A's claim: %s", msg)
	if !strings.HasPrefix(msg, "lease_held: ") {
		t.Errorf("agent-B releasing agent-A's live claim: %q, want a lease_held refusal", msg)
	}
	if after := p.rawGet(ctx, project, id); after != before {
		t.Fatalf("a refused release changed the task:\nbefore %s\nafter  %s", before, after)
	}
	const reason = "blocked on a design question; handing it back"
	var rel leasedOut
	p.ok(ctx, "task_release", map[string]any{"workspace": project, "id": id, "agent": "agent-A", "reason": reason}, &rel)
	if rel.Task == nil || rel.Task.Status != "pending" || rel.Task.Assignee != nil || rel.Task.LeaseExpiresAt != nil {
		t.Fatalf("task_release answered %+v; want pending, no assignee, no lease", rel.Task)
	}
	b := p.claim(ctx, project, "agent-B", 600, nil)
	if b == nil || b.ID != id {
		t.Fatalf("agent-B's claim after the release answered %+v, want %s", b, id)
	}
	evs := taskHistory(t, ctx, p, project, id)
	t.Logf("history: %v", evs)
	var kinds []string
	for _, e := range evs[1:] {
		kinds = append(kinds, e.Event)
	}
	if !slices.Equal(kinds, []string{"claimed", "released", "claimed"}) {
		t.Fatalf("history %v; want created, claimed(agent-A), released(agent-A), claimed(agent-B)", evs)
	}
	rl := evs[2]
	if rl.Actor != "agent-A" || !strings.Contains(rl.Note, reason) {
		t.Errorf("released event %+v; want actor agent-A and the reason %q in its note", rl, reason)
	}
	if evs[3].Actor != "agent-B" {
		t.Errorf("second claim recorded for %q, want agent-B", evs[3].Actor)
	}
}

// A holder whose lease ran out while nobody took the task over may still
// complete it: the work counts, and the history marks it late.
func TestLeaseLateCompletionByTheOldHolderCountsWhenNobodyReclaimed(t *testing.T) {
	project := newProject(t)
	p := start(t, procOpts{dir: project})
	ctx := ctxT(t)
	var created taskOut
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "slow but done"}, &created)
	id := created.Task.ID

	a := p.claim(ctx, project, "agent-A", 1, nil)
	if a == nil || a.ID != id {
		t.Fatalf("claim answered %+v", a)
	}
	sleepUntil(a.LeaseExpiresAt.Add(500 * time.Millisecond))
	var done struct {
		Task      leasedTask `json:"task"`
		Unblocked []string   `json:"unblocked"`
	}
	p.ok(ctx, "task_complete", map[string]any{"workspace": project, "id": id, "agent": "agent-A", "summary": "late but done"}, &done)
	if done.Task.Status != "completed" || strp(done.Task.Assignee) != "agent-A" || done.Task.LeaseExpiresAt != nil {
		t.Fatalf("agent-A's late task_complete answered %+v; want completed by agent-A with no lease left", done.Task)
	}
	evs := taskHistory(t, ctx, p, project, id)
	t.Logf("history: %v", evs)
	var comp *historyEvent
	for i := range evs {
		if evs[i].Event == "completed" {
			if comp != nil {
				t.Fatalf("two completed events: %v", evs)
			}
			comp = &evs[i]
		}
		if evs[i].Event == "reclaimed" {
			t.Fatalf("history shows a reclaim nobody made: %v", evs)
		}
	}
	if comp == nil || !comp.Late || comp.Actor != "agent-A" {
		t.Fatalf("history %v: want a completed(agent-A) event marked late", evs)
	}
	if b := p.claim(ctx, project, "agent-B", 60, nil); b != nil {
		t.Fatalf("agent-B claimed %s after it was completed", b.ID)
	}
}

// Expiry needs no call to be recorded: each open project runs a timer that
// writes the expiry into the task's history. A claim left to run out with
// nobody calling shows lease_expired in the history (once, though two
// server processes have the project open), and task_summary lists it.
func TestLeaseExpiryIsRecordedWithoutAnyCall(t *testing.T) {
	project := newProject(t)
	ps := startProcs(t, project, 2, procOpts{})
	ctx := ctxT(t)
	warm(t, ctx, ps, project)
	var created taskOut
	ps[0].ok(ctx, "task_create", map[string]any{"workspace": project, "title": "left to expire"}, &created)
	id := created.Task.ID
	a := ps[0].claim(ctx, project, "agent-A", 1, nil)
	if a == nil || a.ID != id {
		t.Fatalf("claim answered %+v", a)
	}
	// Nobody calls anything until well after the lease has run out.
	sleepUntil(a.LeaseExpiresAt.Add(2500 * time.Millisecond))
	evs := taskHistory(t, ctx, ps[1], project, id)
	t.Logf("history 2.5 s after the lease ran out, no call in between: %v", evs)
	n := 0
	for _, e := range evs {
		if e.Event == "lease_expired" {
			n++
			if e.At.Before(a.LeaseExpiresAt.Add(-time.Second)) {
				t.Errorf("lease_expired recorded at %v, before the lease ran out at %v", e.At, *a.LeaseExpiresAt)
			}
		}
	}
	if n != 1 {
		t.Errorf("history %v: %d lease_expired events, want exactly 1 (recorded by the project's timer)", evs, n)
	}
	var sum summaryOut
	ps[1].ok(ctx, "task_summary", map[string]any{"workspace": project}, &sum)
	if len(sum.Expired) != 1 || sum.Expired[0].ID != id || sum.Expired[0].Agent != "agent-A" {
		t.Errorf("task_summary's expired_leases: %+v; want %s held by agent-A", sum.Expired, id)
	}
	if sum.Ready != 1 {
		t.Errorf("task_summary's ready: %d; the expired claim makes the task ready again", sum.Ready)
	}
}

// toolText renders a result for messages.
func toolText(res *mcp.CallToolResult) string {
	if res.IsError {
		return "error: " + text(res)
	}
	b, _ := json.Marshal(res.StructuredContent)
	return fmt.Sprintf("%s", b)
}
