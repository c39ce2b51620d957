package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/clienterr"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// RunComplete checks Complete: outcomes, what a completion makes ready,
// the parent rule, artifacts, and the use-cases written against the
// Completer and Claimer ports.
func RunComplete(t *testing.T, open func(t *testing.T) work.Store) {
	runAll(t, open, []test{
		{"CompleteFinishesAndSaysWhatBecameReady", completeReady},
		{"OnlyPendingOrInProgressTasksComplete", completeStatuses},
		{"AParentWithOpenSubtasksIsRefused", completeParent},
		{"TheArtifactIsRecorded", completeArtifact},
		{"UseCasesThroughTheCompleterAndClaimerPorts", completePorts},
	})
}

func completeReady(e *env) {
	parent := e.create(work.NewTask{Title: "parent"})
	dep := e.create(work.NewTask{Title: "dep", ParentID: parent.ID})
	other := e.create(work.NewTask{Title: "other"})
	t1 := e.create(work.NewTask{Title: "t1", DependsOn: []string{dep.ID}})
	t2 := e.create(work.NewTask{Title: "t2", DependsOn: []string{dep.ID, other.ID}})
	blocked := e.create(work.NewTask{Title: "blocked", DependsOn: []string{dep.ID}})
	e.update(blocked.ID, 0, work.Patch{Status: ptr("blocked")})

	a := e.claim(work.ClaimRequest{Agent: "agent-a"})
	if a == nil || a.ID != dep.ID {
		e.t.Fatalf("claim = %v, want %s", a, dep.ID)
	}
	done, ready := e.complete(dep.ID, work.Completion{Agent: "agent-a", Summary: "done"})
	want := *a
	want.Status, want.Summary, want.LeaseExpiresAt, want.Version = work.Completed, ptr("done"), nil, a.Version+1
	want.CompletedAt, want.UpdatedAt = done.CompletedAt, done.UpdatedAt
	e.sameTask("the completed task (its assignee kept)", done, want)
	if done.CompletedAt == nil || !recent(*done.CompletedAt) || done.UpdatedAt.Before(a.UpdatedAt) {
		e.t.Fatalf("completed_at %v, updated_at %v", done.CompletedAt, done.UpdatedAt)
	}
	e.sameTask("Get of the completed task", e.task(dep.ID), done)
	// t2 still waits for other; a blocked dependent is not ready.
	e.wantIDs("the tasks the completion made ready", ready, sorted(parent.ID, t1.ID)...)

	// A failure makes the parent ready (its last open subtask is finished)
	// but not the dependents.
	p2 := e.create(work.NewTask{Title: "p2"})
	x := e.create(work.NewTask{Title: "x", ParentID: p2.ID})
	e.create(work.NewTask{Title: "waits for x", DependsOn: []string{x.ID}})
	failed, ready := e.complete(x.ID, work.Completion{Outcome: "failed", Summary: "broke"})
	if failed.Status != work.Failed || failed.CompletedAt == nil || failed.Summary == nil || *failed.Summary != "broke" {
		e.t.Fatalf("the failed task = %s", show(failed))
	}
	e.wantIDs("the tasks the failure made ready", ready, p2.ID)
	_, ready = e.complete(other.ID, work.Completion{})
	e.wantIDs("ready after t2's last dependency", ready, t2.ID)
	lone := e.create(work.NewTask{Title: "lone"})
	if _, ready = e.complete(lone.ID, work.Completion{}); ready == nil || len(ready) != 0 {
		e.t.Fatalf("ready after a task nothing waits for = %#v, want an empty list", ready)
	}
}

func completeStatuses(e *env) {
	done := e.create(work.NewTask{Title: "done"})
	e.complete(done.ID, work.Completion{})
	_, _, err := e.s.Complete(e.ctx, done.ID, work.Completion{})
	e.wantErr("completing a completed task", err, clienterr.InvalidTransition,
		"task "+done.ID+" is completed; only a pending or in_progress task can be completed")

	failed := e.create(work.NewTask{Title: "failed"})
	e.complete(failed.ID, work.Completion{Outcome: "failed"})
	_, _, err = e.s.Complete(e.ctx, failed.ID, work.Completion{})
	e.wantErr("completing a failed task", err, clienterr.InvalidTransition, "task "+failed.ID+
		" is failed; only a pending or in_progress task can be completed; to retry it, move it back to pending with task_update")

	blocked := e.create(work.NewTask{Title: "blocked"})
	blocked = e.update(blocked.ID, 0, work.Patch{Status: ptr("blocked")})
	_, _, err = e.s.Complete(e.ctx, blocked.ID, work.Completion{})
	e.wantErr("completing a blocked task", err, clienterr.InvalidTransition, "task "+blocked.ID+
		" is blocked; only a pending or in_progress task can be completed; move it to pending or in_progress with task_update first")
	_, _, err = e.s.Complete(e.ctx, blocked.ID, work.Completion{Outcome: "maybe"})
	e.wantErr("an unknown outcome", err, clienterr.InvalidArgument, "")
	_, _, err = e.s.Complete(e.ctx, "tsk_00000000000000ff", work.Completion{})
	e.wantErr("completing an unknown task", err, clienterr.NotFound, "")
	e.sameTask("the blocked task after refused completions", e.task(blocked.ID), blocked)
}

func completeParent(e *env) {
	parent := e.create(work.NewTask{Title: "parent"})
	c1 := e.create(work.NewTask{Title: "c1", ParentID: parent.ID})
	c2 := e.create(work.NewTask{Title: "c2", ParentID: parent.ID})
	c3 := e.create(work.NewTask{Title: "c3", ParentID: parent.ID})
	e.complete(c3.ID, work.Completion{})
	open := []string{c1.ID, c2.ID}
	want := "task " + parent.ID + " has 2 open subtasks (" + c1.ID + ", " + c2.ID + "), so it cannot be completed; " +
		"complete or cancel them first; failing or cancelling " + parent.ID + " leaves them as they are"
	if got := work.OpenSubtasksError(parent.ID, "outcome", open).Error(); got != want {
		e.t.Fatalf("work.OpenSubtasksError = %q, want %q", got, want)
	}
	_, _, err := e.s.Complete(e.ctx, parent.ID, work.Completion{})
	if ce := e.wantErr("completing a parent with open subtasks", err, clienterr.InvalidTransition, want); ce.Field != "outcome" {
		e.t.Errorf("field = %q, want outcome", ce.Field)
	}
	_, err = e.s.Update(e.ctx, parent.ID, 0, work.Patch{Status: ptr("completed")})
	if ce := e.wantErr("moving a parent with open subtasks to completed", err, clienterr.InvalidTransition, want); ce.Field != "status" {
		e.t.Errorf("field = %q, want status", ce.Field)
	}
	e.sameTask("the parent after refused completions", e.task(parent.ID), parent)

	// Failing it is allowed, and leaves the subtasks as they are.
	failed, _ := e.complete(parent.ID, work.Completion{Outcome: "failed"})
	if failed.Status != work.Failed {
		e.t.Fatalf("failing the parent = %s", show(failed))
	}
	for _, id := range open {
		if st := e.task(id).Status; st != work.Pending {
			e.t.Fatalf("subtask %s is %s after its parent failed, want pending", id, st)
		}
	}
}

func completeArtifact(e *env) {
	task := e.create(work.NewTask{Title: "report"})
	rec := work.ArtifactRecord{
		Name: "report.md", Path: ".task_orchestrator/artifacts/" + task.ID + "/report.md", Size: 42,
		SHA256:    strings.Repeat("ab", 32),
		CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	e.complete(task.ID, work.Completion{Summary: "written", Artifact: &rec})
	d := e.get(task.ID)
	if len(d.Artifacts) != 1 {
		e.t.Fatalf("artifacts = %+v, want the one recorded", d.Artifacts)
	}
	got := d.Artifacts[0]
	if got.Name != rec.Name || got.Path != rec.Path || got.Size != rec.Size || got.SHA256 != rec.SHA256 || !got.CreatedAt.Equal(rec.CreatedAt) {
		e.t.Fatalf("artifact = %+v, want %+v", got, rec)
	}
	bad := rec
	bad.SHA256 = "nope"
	other := e.create(work.NewTask{Title: "other"})
	_, _, err := e.s.Complete(e.ctx, other.ID, work.Completion{Artifact: &bad})
	e.wantErr("an artifact with a bad sha256", err, clienterr.InvalidArgument, "")
	if st := e.task(other.ID).Status; st != work.Pending {
		e.t.Fatalf("a refused completion left the task %s", st)
	}
}

// completePorts drives the store through the narrow ports the domain's
// use-cases are written against.
func completePorts(e *env) {
	var (
		claimer   work.Claimer   = e.s
		completer work.Completer = e.s
	)
	parent := e.create(work.NewTask{Title: "parent"})
	kid := e.create(work.NewTask{Title: "kid", ParentID: parent.ID})

	// The domain refuses, before any file is written, what the store would:
	// files is nil, so a write would panic.
	_, _, err := work.CompleteWithArtifact(e.ctx, completer, nil, parent.ID, work.Completion{},
		&work.ArtifactInput{Name: "notes.md", Content: []byte("x")})
	ce := e.wantErr("CompleteWithArtifact of a parent with an open subtask", err, clienterr.InvalidTransition,
		work.OpenSubtasksError(parent.ID, "id", []string{kid.ID}).Error())
	if ce.Field != "id" {
		e.t.Errorf("field = %q, want id", ce.Field)
	}

	got, err := claimer.Claim(e.ctx, work.ClaimRequest{Agent: "agent-a", Lease: time.Minute})
	if err != nil || got == nil || got.ID != kid.ID {
		e.t.Fatalf("Claim through the Claimer port = %v, %v; want %s", got, err, kid.ID)
	}
	done, ready, err := work.CompleteWithArtifact(e.ctx, completer, nil, kid.ID, work.Completion{Agent: "agent-a"}, nil)
	if err != nil || done.Status != work.Completed {
		e.t.Fatalf("CompleteWithArtifact without an artifact = %s, %v", show(done), err)
	}
	e.wantIDs("ready through the Completer port", ready, parent.ID)
	det, err := completer.Get(e.ctx, parent.ID)
	if err != nil || len(det.Subtasks) != 1 || det.Subtasks[0].Status != work.Completed {
		e.t.Fatalf("Get through the Completer port = %+v, %v", det, err)
	}
	_, _, err = completer.Complete(e.ctx, kid.ID, work.Completion{})
	if !errors.As(err, &ce) || ce.Kind != clienterr.InvalidTransition {
		e.t.Fatalf("completing twice through the port: %v", err)
	}
}
