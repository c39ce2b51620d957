// Package storetest is the contract of a task store: a test suite that any
// implementation of work.Store must pass, whatever its engine (SQLite today,
// PostgreSQL next: issue 18). It checks behaviour through the interface
// only, never a table or a statement, on a real store: no mocks, no fakes.
//
// It is a test-helper package, like net/http/httptest: import it only from
// _test files. An adapter runs the whole contract from one test, with a
// function that opens a new, empty store for each subtest and closes it at
// the subtest's cleanup:
//
//	func TestStoreContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) work.Store {
//			s := openEmptyStore(t) // closed by t.Cleanup
//			return s
//		})
//	}
//
// Each part (RunTasks, RunList, RunClaims, …) may also be run on its own
// while an adapter is being built. The suite asserts exact values, the error
// kinds of internal/clienterr and, where the client reads them, the error
// sentences the SQLite store answers with: a second store must say the same.
// Only the lease-expiry cases wait (about 1.2 s each, two of them).
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/clienterr"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// Opener opens a new, empty store for one test; the store must be closed
// by t's cleanup.
type Opener = func(t *testing.T) work.Store

// Run runs the whole contract against the stores open makes.
func Run(t *testing.T, open func(t *testing.T) work.Store) {
	t.Run("Tasks", func(t *testing.T) { RunTasks(t, open) })
	t.Run("List", func(t *testing.T) { RunList(t, open) })
	t.Run("Claims", func(t *testing.T) { RunClaims(t, open) })
	t.Run("Leases", func(t *testing.T) { RunLeases(t, open) })
	t.Run("Complete", func(t *testing.T) { RunComplete(t, open) })
	t.Run("Plans", func(t *testing.T) { RunPlans(t, open) })
	t.Run("History", func(t *testing.T) { RunHistory(t, open) })
	t.Run("Reads", func(t *testing.T) { RunReads(t, open) })
	t.Run("Outbox", func(t *testing.T) { RunOutbox(t, open) })
}

// env is one test's store and what the test needs around it.
type env struct {
	t   *testing.T
	s   work.Store
	ctx context.Context
}

// test is one case of a part: it gets a fresh store.
type test struct {
	name string
	fn   func(e *env)
}

func runAll(t *testing.T, open Opener, tests []test) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			if s == nil {
				t.Fatal("open returned a nil store")
			}
			tc.fn(&env{t: t, s: s, ctx: t.Context()})
		})
	}
}

func ptr[T any](v T) *T { return &v }

// create stores nt and fails the test on an error.
func (e *env) create(nt work.NewTask) work.Task {
	e.t.Helper()
	task, err := e.s.Create(e.ctx, nt)
	if err != nil {
		e.t.Fatalf("Create(%q): %v", nt.Title, err)
	}
	return task
}

// get reads a task's detail and fails the test on an error.
func (e *env) get(id string) work.TaskDetail {
	e.t.Helper()
	d, err := e.s.Get(e.ctx, id)
	if err != nil {
		e.t.Fatalf("Get(%s): %v", id, err)
	}
	return d
}

func (e *env) task(id string) work.Task {
	e.t.Helper()
	return e.get(id).Task
}

func (e *env) update(id string, version int64, p work.Patch) work.Task {
	e.t.Helper()
	task, err := e.s.Update(e.ctx, id, version, p)
	if err != nil {
		e.t.Fatalf("Update(%s): %v", id, err)
	}
	return task
}

// claim asks for work; nil when nothing is claimable.
func (e *env) claim(req work.ClaimRequest) *work.Task {
	e.t.Helper()
	if req.Lease == 0 {
		req.Lease = time.Minute
	}
	task, err := e.s.Claim(e.ctx, req)
	if err != nil {
		e.t.Fatalf("Claim(%+v): %v", req, err)
	}
	return task
}

// claimID claims for agent (no role, no labels) and returns the id, "" for none.
func (e *env) claimID(agent string) string {
	e.t.Helper()
	task := e.claim(work.ClaimRequest{Agent: agent})
	if task == nil {
		return ""
	}
	return task.ID
}

func (e *env) complete(id string, c work.Completion) (work.Task, []string) {
	e.t.Helper()
	task, ready, err := e.s.Complete(e.ctx, id, c)
	if err != nil {
		e.t.Fatalf("Complete(%s, %+v): %v", id, c, err)
	}
	return task, ready
}

func (e *env) count() int {
	e.t.Helper()
	n, err := e.s.CountTasks(e.ctx)
	if err != nil {
		e.t.Fatalf("CountTasks: %v", err)
	}
	return n
}

// wantErr checks that err is a client error of kind k and, unless msg is
// "", that its sentence is msg exactly.
func (e *env) wantErr(what string, err error, k clienterr.Kind, msg string) *clienterr.Error {
	e.t.Helper()
	var ce *clienterr.Error
	if !clienterr.IsKind(err, k) || !errors.As(err, &ce) {
		e.t.Fatalf("%s: error = %v (%T), want kind %s", what, err, err, k)
	}
	if ce.Msg == "" {
		e.t.Fatalf("%s: error of kind %s has no sentence", what, k)
	}
	if msg != "" && ce.Msg != msg {
		e.t.Fatalf("%s: error sentence\n got %q\nwant %q", what, ce.Msg, msg)
	}
	return ce
}

// norm makes a task comparable with reflect.DeepEqual: every time in UTC
// (the instant is what counts, not the location).
func norm(t work.Task) work.Task {
	utc := func(p *time.Time) *time.Time {
		if p == nil {
			return nil
		}
		v := p.UTC()
		return &v
	}
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	t.StartedAt, t.CompletedAt, t.LeaseExpiresAt = utc(t.StartedAt), utc(t.CompletedAt), utc(t.LeaseExpiresAt)
	return t
}

// sameTask fails unless got and want are the same task, field by field.
func (e *env) sameTask(what string, got, want work.Task) {
	e.t.Helper()
	if g, w := norm(got), norm(want); !reflect.DeepEqual(g, w) {
		e.t.Fatalf("%s:\n got %s\nwant %s", what, show(g), show(w))
	}
}

// show prints a task with its pointers followed.
func show(t work.Task) string {
	s := func(p *string) any {
		if p == nil {
			return nil
		}
		return *p
	}
	tm := func(p *time.Time) any {
		if p == nil {
			return nil
		}
		return p.Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("{id %s title %q description %q status %s priority %s labels %q role %v assignee %v parent %v "+
		"depends_on %q version %d created %s updated %s started %v completed %v lease %v summary %v metadata %s}",
		t.ID, t.Title, t.Description, t.Status, t.Priority, t.Labels, s(t.Role), s(t.Assignee), s(t.ParentID),
		t.DependsOn, t.Version, t.CreatedAt.Format(time.RFC3339Nano), t.UpdatedAt.Format(time.RFC3339Nano),
		tm(t.StartedAt), tm(t.CompletedAt), tm(t.LeaseExpiresAt), s(t.Summary), t.Metadata)
}

// ids returns the ids of tasks, in order.
func ids(tasks []work.Task) []string {
	out := make([]string, len(tasks))
	for i, t := range tasks {
		out[i] = t.ID
	}
	return out
}

// sorted returns a sorted copy of v.
func sorted(v ...string) []string {
	out := slices.Clone(v)
	slices.Sort(out)
	return out
}

// wantIDs fails unless got equals want (order matters; nil and empty are equal).
func (e *env) wantIDs(what string, got []string, want ...string) {
	e.t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		e.t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

// recent reports whether at is within a minute of now: a time the store set
// just now (its clock may be another machine's).
func recent(at time.Time) bool {
	d := time.Since(at)
	return !at.IsZero() && d > -time.Minute && d < time.Minute
}

// openStatuses are the statuses of unfinished work, as the graph reads take them.
var openStatuses = work.StatusNames(work.OpenStatuses)

// history reads every event of task id, oldest first.
func (e *env) history(id string) []work.HistoryEvent {
	e.t.Helper()
	var out []work.HistoryEvent
	cursor := ""
	for {
		page, next, err := e.s.History(e.ctx, id, 200, cursor)
		if err != nil {
			e.t.Fatalf("History(%s): %v", id, err)
		}
		out = append(out, page...)
		if next == "" {
			return out
		}
		cursor = next
	}
}

// wantEvents checks task id's history, each event as "event actor".
func (e *env) wantEvents(id string, want ...string) {
	e.t.Helper()
	var got []string
	for _, ev := range e.history(id) {
		got = append(got, ev.Event+" "+ev.Actor)
	}
	if !slices.Equal(got, want) {
		e.t.Fatalf("history of %s:\n got %q\nwant %q", id, got, want)
	}
}

func (e *env) changeMark() int64 {
	e.t.Helper()
	m, err := e.s.ChangeMark(e.ctx)
	if err != nil {
		e.t.Fatalf("ChangeMark: %v", err)
	}
	return m
}

// lastOutboxSeq is the last outbox seq ever written.
func (e *env) lastOutboxSeq() int64 {
	e.t.Helper()
	st, err := e.s.MirrorState(e.ctx, "storetest")
	if err != nil {
		e.t.Fatalf("MirrorState: %v", err)
	}
	return st.MaxSeq
}
