package sqlite_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// A change written through one store is seen by another store on the same
// file: the mark moves, and ChangedSince names the task once.
func TestChangedSinceSeesAnotherStoresWrites(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tasks.db")
	a, b := openAt(t, path), openAt(t, path)
	mark, err := a.ChangeMark(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids, next, err := a.ChangedSince(ctx, mark)
	if err != nil || len(ids) != 0 || next != mark {
		t.Fatalf("ChangedSince with nothing new = %v, %d, %v; want none, %d, nil", ids, next, err, mark)
	}
	t1 := mustCreate(t, b, sqlite.NewTask{Title: "one"})
	t2 := mustCreate(t, b, sqlite.NewTask{Title: "two"})
	if _, err := b.Claim(ctx, work.ClaimRequest{Agent: "agent"}); err != nil { // claims t1, the oldest
		t.Fatal(err)
	}
	ids, next, err = a.ChangedSince(ctx, mark)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{t1.ID, t2.ID}; !slices.Equal(ids, want) {
		t.Fatalf("ChangedSince = %v, want %v (each task once, by first change)", ids, want)
	}
	if m, _ := a.ChangeMark(ctx); next != m || next <= mark {
		t.Fatalf("ChangedSince's mark %d, ChangeMark %d, before %d", next, m, mark)
	}
	if ids, again, _ := a.ChangedSince(ctx, next); len(ids) != 0 || again != next {
		t.Fatalf("ChangedSince(%d) again = %v, %d", next, ids, again)
	}
}
