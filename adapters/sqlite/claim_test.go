package sqlite_test

import (
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"

	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
)

func TestClaimTakesHighestPriorityThenOldest(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	lowOld := mustCreate(t, s, sqlite.NewTask{Title: "low old", Priority: "low"})
	highOld := mustCreate(t, s, sqlite.NewTask{Title: "high old", Priority: "high"})
	critBlocked := mustCreate(t, s, sqlite.NewTask{Title: "critical but blocked", Priority: "critical", DependsOn: []string{lowOld.ID}})
	highNew := mustCreate(t, s, sqlite.NewTask{Title: "high new", Priority: "high"})
	medium := mustCreate(t, s, sqlite.NewTask{Title: "medium"})

	want := []string{highOld.ID, highNew.ID, medium.ID, lowOld.ID}
	for i, id := range want {
		got, err := s.Claim(ctx, work.ClaimRequest{Agent: "agent-1", Role: "", Labels: nil})
		if err != nil {
			t.Fatal(err)
		}
		if got == nil || got.ID != id {
			t.Fatalf("claim %d = %+v, want %s", i, got, id)
		}
		if got.Status != "in_progress" || got.Assignee == nil || *got.Assignee != "agent-1" || got.StartedAt == nil || got.Version != 2 {
			t.Errorf("claimed task = %+v", got)
		}
	}
	if got, err := s.Claim(ctx, work.ClaimRequest{Agent: "agent-1", Role: "", Labels: nil}); err != nil || got != nil {
		t.Fatalf("claim with only a blocked task left = %+v, %v; want nil", got, err)
	}
	if _, unblocked, err := s.Complete(ctx, lowOld.ID, sqlite.Completion{Summary: "done", Agent: "agent-1"}); err != nil ||
		!reflect.DeepEqual(unblocked, []string{critBlocked.ID}) {
		t.Fatalf("Complete = %v, %v; want [%s]", unblocked, err, critBlocked.ID)
	}
	if got, err := s.Claim(ctx, work.ClaimRequest{Agent: "agent-1", Role: "", Labels: nil}); err != nil || got == nil || got.ID != critBlocked.ID {
		t.Fatalf("claim after its dependency completed = %+v, %v", got, err)
	}
}

func TestClaimFiltersByRoleAndLabels(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	reviewer := mustCreate(t, s, sqlite.NewTask{Title: "review", Role: "reviewer", Labels: []string{"go"}})
	anyRole := mustCreate(t, s, sqlite.NewTask{Title: "any role", Labels: []string{"go", "db"}})
	coder := mustCreate(t, s, sqlite.NewTask{Title: "code", Role: "coder", Labels: []string{"go", "db"}, Priority: "low"})

	got, err := s.Claim(ctx, work.ClaimRequest{Agent: "a", Role: "coder", Labels: []string{"db", "go"}})
	if err != nil || got == nil || got.ID != anyRole.ID {
		t.Fatalf("coder with go+db = %+v, %v; want the role-less task %s", got, err, anyRole.ID)
	}
	got, err = s.Claim(ctx, work.ClaimRequest{Agent: "a", Role: "coder", Labels: []string{"go"}})
	if err != nil || got == nil || got.ID != coder.ID {
		t.Fatalf("coder with go = %+v, %v; want %s (reviewer's task is not for a coder)", got, err, coder.ID)
	}
	if got, err = s.Claim(ctx, work.ClaimRequest{Agent: "a", Role: "coder", Labels: nil}); err != nil || got != nil {
		t.Fatalf("coder with nothing left for coders = %+v, %v", got, err)
	}
	if got, err = s.Claim(ctx, work.ClaimRequest{Agent: "a", Role: "", Labels: []string{"rust"}}); err != nil || got != nil {
		t.Fatalf("label nobody has = %+v, %v", got, err)
	}
	if got, err = s.Claim(ctx, work.ClaimRequest{Agent: "a", Role: "", Labels: nil}); err != nil || got != nil {
		t.Fatalf("an agent without a role took a task with one: %+v, %v", got, err)
	}
	if got, err = s.Claim(ctx, work.ClaimRequest{Agent: "a", Role: "reviewer", Labels: nil}); err != nil || got == nil || got.ID != reviewer.ID {
		t.Fatalf("reviewer = %+v, %v; want %s", got, err, reviewer.ID)
	}
}

func TestConcurrentClaimsTakeEachTaskExactlyOnce(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	const tasks, agents = 200, 32
	want := map[string]bool{}
	for i := range tasks {
		want[mustCreate(t, s, sqlite.NewTask{Title: fmt.Sprintf("job %d", i)}).ID] = true
	}
	var (
		mu      sync.Mutex
		claimed = map[string]string{}
		errs    []error
		wg      sync.WaitGroup
	)
	for a := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			agent := fmt.Sprintf("agent-%d", a)
			for {
				task, err := s.Claim(ctx, work.ClaimRequest{Agent: agent, Role: "", Labels: nil})
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				if task == nil {
					mu.Unlock()
					return
				}
				if prev, dup := claimed[task.ID]; dup {
					errs = append(errs, fmt.Errorf("%s claimed by %s and %s", task.ID, prev, agent))
				}
				claimed[task.ID] = agent
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	busy := 0
	for _, err := range errs {
		if sqlite.IsBusy(err) {
			busy++
		}
		t.Error(err)
	}
	if busy > 0 {
		t.Errorf("%d SQLITE_BUSY errors: writes must queue in Go", busy)
	}
	if len(claimed) != tasks {
		t.Errorf("claimed %d tasks, want %d", len(claimed), tasks)
	}
	for id := range want {
		if _, ok := claimed[id]; !ok {
			t.Errorf("%s was never claimed", id)
		}
	}
	if m := s.PoolMetrics()[0]; m.Total != 1 {
		t.Errorf("writer pool has %d connections, want exactly 1", m.Total)
	}
}

func TestCompleteRecordsOutcomeArtifactAndUnblocked(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	a := mustCreate(t, s, sqlite.NewTask{Title: "a"})
	b := mustCreate(t, s, sqlite.NewTask{Title: "b"})
	onA := mustCreate(t, s, sqlite.NewTask{Title: "needs a", DependsOn: []string{a.ID}})
	onAB := mustCreate(t, s, sqlite.NewTask{Title: "needs a and b", DependsOn: []string{a.ID, b.ID}})
	onA2 := mustCreate(t, s, sqlite.NewTask{Title: "needs a too", DependsOn: []string{a.ID}})
	if _, err := s.Update(ctx, onA2.ID, 0, sqlite.Patch{Status: ptr("blocked")}); err != nil {
		t.Fatal(err)
	}
	sum := "0000000000000000000000000000000000000000000000000000000000000000"
	done, unblocked, err := s.Complete(ctx, a.ID, sqlite.Completion{Summary: "did a",
		Artifact: &sqlite.ArtifactRecord{Name: "report.md", Path: ".task_orchestrator/artifacts/x/report.md", Size: 3, SHA256: sum}})
	if err != nil {
		t.Fatal(err)
	}
	if done.Status != "completed" || done.Summary == nil || *done.Summary != "did a" || done.CompletedAt == nil || done.Version != 2 {
		t.Errorf("completed task = %+v", done)
	}
	if !reflect.DeepEqual(unblocked, []string{onA.ID}) {
		t.Errorf("unblocked = %v, want only %s (the other waits for b, the blocked one is not pending)", unblocked, onA.ID)
	}
	// The same artifact name again replaces the row.
	_, unblocked, err = s.Complete(ctx, b.ID, sqlite.Completion{Outcome: "failed", Summary: "no"})
	if err != nil || len(unblocked) != 0 || unblocked == nil {
		t.Errorf("failing b = %v, %v; a failure unblocks nothing", unblocked, err)
	}
	d := mustGet(t, s, a.ID)
	if len(d.Artifacts) != 1 || d.Artifacts[0].Name != "report.md" || d.Artifacts[0].SHA256 != sum {
		t.Errorf("artifacts = %+v", d.Artifacts)
	}
	_, _, err = s.Complete(ctx, a.ID, sqlite.Completion{})
	wantKind(t, err, sqlite.KindTransition)
	_, _, err = s.Complete(ctx, onA2.ID, sqlite.Completion{})
	wantKind(t, err, sqlite.KindTransition)
	_ = onAB
}
