package sqlite

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// BenchmarkRecord measures record alone (insert and prune, no commit) inside
// one write transaction that is rolled back: for a task whose history is
// full (every event prunes one), and with the limit far away (no prune).
func BenchmarkRecord(b *testing.B) {
	for _, c := range []struct {
		name  string
		limit int
	}{{"full-1000", 1000}, {"limit-far", 1 << 30}} {
		b.Run(c.name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "tasks.db")
			s, err := Open(context.Background(), Options{Path: path, Workspace: filepath.Dir(path),
				Settings: workspace.Defaults().DatabasePools.Operational, Logger: slog.New(slog.DiscardHandler),
				HistoryLimit: c.limit})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close(context.Background())
			ctx := context.Background()
			e := historyEntry{taskID: "tsk_0000000000000001", actor: "a", event: work.EventUpdated,
				changes: map[string][2]any{"description": {"x", "y"}}}
			if err := s.write(ctx, func(c *conn) error {
				for range 1200 {
					if err := s.record(ctx, c, fmtTime(s.now()), e); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
			rollback := errors.New("rollback")
			err = s.write(ctx, func(c *conn) error {
				b.ResetTimer()
				for b.Loop() {
					if err := s.record(ctx, c, fmtTime(s.now()), e); err != nil {
						return err
					}
				}
				b.StopTimer()
				return rollback
			})
			if !errors.Is(err, rollback) {
				b.Fatal(err)
			}
		})
	}
}
