package sqlite_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
)

// BenchmarkHistoryPrune measures an Update (one history event each) of a task
// whose history is full (at HistoryLimit, so every event prunes one), against
// the same Update when the limit is far away (the prune finds nothing).
func BenchmarkHistoryPrune(b *testing.B) {
	for _, c := range []struct {
		name  string
		limit int
	}{{"full-1000", 1000}, {"limit-far", 1 << 30}} {
		b.Run(c.name, func(b *testing.B) {
			o := options(newBenchDB(b))
			o.HistoryLimit = c.limit
			s, err := sqlite.Open(context.Background(), o)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close(context.Background())
			ctx := context.Background()
			task, err := s.Create(ctx, sqlite.NewTask{Title: "busy"})
			if err != nil {
				b.Fatal(err)
			}
			for i := range 1200 { // a full history, and others' events between
				if _, err := s.Update(ctx, task.ID, 0, sqlite.Patch{Description: ptr(fmt.Sprint("seed ", i))}); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if _, err := s.Update(ctx, task.ID, 0, sqlite.Patch{Description: ptr(fmt.Sprint("rev ", i))}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func newBenchDB(b *testing.B) string { return b.TempDir() + "/tasks.db" }
