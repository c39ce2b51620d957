package sqlite_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// BenchmarkClaimWithABacklog is one claim in a project with a backlog: n
// pending low-priority tasks and n completed critical ones. Each op claims
// the critical task created for it outside the timer, so its cost should not
// grow with the backlog.
func BenchmarkClaimWithABacklog(b *testing.B) {
	for _, n := range []int{0, 1000} {
		b.Run(fmt.Sprintf("backlog=%d", n), func(b *testing.B) {
			s := openStore(b)
			ctx := context.Background()
			for i := range n {
				mustCreate(b, s, sqlite.NewTask{Title: fmt.Sprintf("waiting %d", i), Priority: "low"})
				done := mustCreate(b, s, sqlite.NewTask{Title: fmt.Sprintf("done %d", i), Priority: "critical"})
				if _, _, err := s.Complete(ctx, done.ID, sqlite.Completion{Summary: "done"}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				want := mustCreate(b, s, sqlite.NewTask{Title: "to claim", Priority: "critical"})
				b.StartTimer()
				got, err := s.Claim(ctx, work.ClaimRequest{Agent: "bench"})
				if err != nil || got == nil || got.ID != want.ID {
					b.Fatalf("claimed %+v, %v; want %s", got, err, want.ID)
				}
			}
		})
	}
}

// BenchmarkCompleteWithABacklog is one completion (of a claimed task with a
// pending dependent, which it makes ready) beside the same backlog.
func BenchmarkCompleteWithABacklog(b *testing.B) {
	for _, n := range []int{0, 1000} {
		b.Run(fmt.Sprintf("backlog=%d", n), func(b *testing.B) {
			s := openStore(b)
			ctx := context.Background()
			for i := range n {
				mustCreate(b, s, sqlite.NewTask{Title: fmt.Sprintf("waiting %d", i), Priority: "low"})
			}
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				first := mustCreate(b, s, sqlite.NewTask{Title: "first", Priority: "critical"})
				mustCreate(b, s, sqlite.NewTask{Title: "then", Priority: "critical", DependsOn: []string{first.ID}})
				if got, err := s.Claim(ctx, work.ClaimRequest{Agent: "bench"}); err != nil || got == nil || got.ID != first.ID {
					b.Fatalf("claimed %+v, %v; want %s", got, err, first.ID)
				}
				b.StartTimer()
				_, ready, err := s.Complete(ctx, first.ID, sqlite.Completion{Agent: "bench", Summary: "done"})
				if err != nil || len(ready) != 1 {
					b.Fatalf("complete: ready %v, %v", ready, err)
				}
				b.StopTimer()
				if _, _, err := s.Complete(ctx, ready[0], sqlite.Completion{Summary: "done"}); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}
