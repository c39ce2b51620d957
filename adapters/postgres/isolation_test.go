package postgres_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/clienterr"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// TestTwoProjectsOnOneDatabaseNeverSeeEachOther: two stores with different
// project ids on one database see only their own tasks, through every read,
// and cannot reach the other's tasks through a write.
func TestTwoProjectsOnOneDatabaseNeverSeeEachOther(t *testing.T) {
	ctx := context.Background()
	dbURL := freshDatabase(t)
	pa, pb := workspace.NewProjectID(), workspace.NewProjectID()
	a, b := openProject(t, dbURL, pa), openProject(t, dbURL, pb)

	// Both projects use the word "parser", and the same label and role.
	a1 := mustCreate(t, a, work.NewTask{Title: "write the parser", Labels: []string{"core"}, Role: "dev"})
	a2 := mustCreate(t, a, work.NewTask{Title: "a's child", ParentID: a1.ID, DependsOn: []string{a1.ID}})
	b1 := mustCreate(t, b, work.NewTask{Title: "fix the parser", Description: "parser crash", Labels: []string{"core"}, Role: "dev"})

	for _, c := range []struct {
		name  string
		own   []string
		other []string
	}{{"a", []string{a1.ID, a2.ID}, []string{b1.ID}}, {"b", []string{b1.ID}, []string{a1.ID, a2.ID}}} {
		s := a
		if c.name == "b" {
			s = b
		}
		t.Run(c.name, func(t *testing.T) {
			for _, id := range c.other {
				if _, err := s.Get(ctx, id); !clienterr.IsKind(err, clienterr.NotFound) {
					t.Errorf("Get(other's %s) = %v, want not found", id, err)
				}
				if ok, err := s.Exists(ctx, id); ok || err != nil {
					t.Errorf("Exists(other's %s) = %v, %v", id, ok, err)
				}
			}
			for _, f := range []work.Filter{{}, {Text: "parser"}, {Label: "core"}, {Role: "dev"}, {Status: []string{"pending"}}, {Ready: true}} {
				for _, id := range listAll(t, s, f) {
					if !slices.Contains(c.own, id) {
						t.Errorf("List(%+v) shows the other project's %s", f, id)
					}
				}
			}
			if got := listAll(t, s, work.Filter{Text: "parser"}); len(got) != 1 || got[0] != c.own[0] {
				t.Errorf("text search for the shared word = %v, want only [%s]", got, c.own[0])
			}
			ids, err := s.TaskIDs(ctx)
			if err != nil || !slices.Equal(ids, c.own) {
				t.Errorf("TaskIDs = %v, %v; want %v", ids, err, c.own)
			}
			if n, err := s.CountTasks(ctx); err != nil || n != len(c.own) {
				t.Errorf("CountTasks = %d, %v; want %d", n, err, len(c.own))
			}
			if got, err := s.TasksByID(ctx, append(slices.Clone(c.own), c.other...)); err != nil || len(got) != len(c.own) {
				t.Errorf("TasksByID(own and other's) = %d tasks, %v; want %d", len(got), err, len(c.own))
			}
			// Writes naming the other's tasks are not found, and change nothing.
			_, err = s.AddDependency(ctx, c.own[0], c.other[0])
			wantKind(t, err, clienterr.NotFound, c.other[0])
			_, err = s.AddDependency(ctx, c.other[0], c.own[0])
			wantKind(t, err, clienterr.NotFound, c.other[0])
			_, err = s.Create(ctx, work.NewTask{Title: "x", ParentID: c.other[0]})
			wantKind(t, err, clienterr.NotFound, c.other[0])
			_, err = s.Create(ctx, work.NewTask{Title: "x", DependsOn: []string{c.other[0]}})
			wantKind(t, err, clienterr.NotFound, c.other[0])
			_, err = s.Update(ctx, c.other[0], 0, work.Patch{Title: ptr("hijacked")})
			wantKind(t, err, clienterr.NotFound)
			_, err = s.Update(ctx, c.own[0], 0, work.Patch{ParentID: ptr(c.other[0])})
			wantKind(t, err, clienterr.NotFound, c.other[0])
			_, err = s.Delete(ctx, c.other[0], true)
			wantKind(t, err, clienterr.NotFound)
		})
	}
	// Nothing of b changed; a's cascade delete leaves b alone.
	if got := mustGet(t, b, b1.ID).Task; got.Version != 1 || got.Title != "fix the parser" {
		t.Errorf("b's task = %+v", got)
	}
	if _, err := a.Delete(ctx, a1.ID, true); err != nil {
		t.Fatal(err)
	}
	if n, _ := b.CountTasks(ctx); n != 1 {
		t.Errorf("b's tasks after a's delete = %d, want 1", n)
	}
	// a: two creates, then two deletes (no dependency row: the dependent went too); b: one create.
	for pid, want := range map[string]int{pa: 4, pb: 1} {
		if got := outboxKinds(t, dbURL, pid); len(got) != want {
			t.Errorf("outbox of %s = %v, want %d rows", pid, got, want)
		}
	}
}

// TestConcurrentUpdatesExactlyOneWinsPerVersion: 16 goroutines update one
// task, each round with the version they read: exactly one succeeds per
// version, the others get VersionConflict; the task ends at the last version.
func TestConcurrentUpdatesExactlyOneWinsPerVersion(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	task := mustCreate(t, s, work.NewTask{Title: "contended"})
	const workers, rounds = 16, 10
	version := task.Version
	for round := range rounds {
		var (
			wg        sync.WaitGroup
			mu        sync.Mutex
			wins      int
			conflicts int
			others    []error
		)
		start := make(chan struct{})
		for w := range workers {
			wg.Go(func() {
				<-start
				_, err := s.Update(ctx, task.ID, version, work.Patch{Title: ptr("round " + string(rune('a'+round)) + string(rune('a'+w)))})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case clienterr.IsKind(err, clienterr.VersionConflict):
					conflicts++
				default:
					others = append(others, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if wins != 1 || conflicts != workers-1 || len(others) > 0 {
			t.Fatalf("round %d at version %d: %d wins, %d conflicts, others %v; want 1 and %d", round, version, wins, conflicts, others, workers-1)
		}
		version++
	}
	if got := mustGet(t, s, task.ID).Task; got.Version != version {
		t.Errorf("final version = %d, want %d", got.Version, version)
	}
	if m := s.PoolMetrics()[0]; m.InUse != 0 || m.Total > max(m.Max, workers) {
		t.Errorf("pool after the race: %+v", m)
	}
}
