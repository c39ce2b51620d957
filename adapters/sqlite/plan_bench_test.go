package sqlite_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// chainPlan is n tasks under one parent, each depending on the one before,
// with two labels: what an agent lays out for a feature.
func chainPlan(n int) []work.PlanTask {
	tasks := make([]work.PlanTask, n)
	tasks[0] = work.PlanTask{Ref: "r0", Title: "feature", Labels: []string{"bench", "plan"}}
	for i := 1; i < n; i++ {
		tasks[i] = work.PlanTask{Ref: fmt.Sprintf("r%d", i), Title: fmt.Sprintf("step %d", i), Parent: "r0",
			Description: "benchmark step", Labels: []string{"bench", "plan"}}
		if i > 1 {
			tasks[i].DependsOn = []string{fmt.Sprintf("r%d", i-1)}
		}
	}
	return tasks
}

// BenchmarkPlan100 lays out the same 100-task plan with one CreatePlan call
// and with 100 Create calls (each naming the ids the earlier calls returned),
// in the same run. ns/op is per plan of 100.
func BenchmarkPlan100(b *testing.B) {
	ctx := context.Background()
	plan := chainPlan(100)
	b.Run("create-calls", func(b *testing.B) {
		s := openStore(b)
		for b.Loop() {
			ids := map[string]string{}
			for _, pt := range plan {
				nt := sqlite.NewTask{Title: pt.Title, Description: pt.Description, Labels: pt.Labels, ParentID: ids[pt.Parent]}
				for _, d := range pt.DependsOn {
					nt.DependsOn = append(nt.DependsOn, ids[d])
				}
				t, err := s.Create(ctx, nt)
				if err != nil {
					b.Fatal(err)
				}
				ids[pt.Ref] = t.ID
			}
		}
		b.ReportMetric(nsPerOp(b)/100, "ns/task")
	})
	b.Run("one-plan", func(b *testing.B) {
		s := openStore(b)
		resolved := resolve(plan)
		for b.Loop() {
			if _, err := s.CreatePlan(ctx, resolved, "bench"); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(nsPerOp(b)/100, "ns/task")
	})
}

// BenchmarkPlan500x800 writes the big plan: 500 tasks, 800
// dependencies among them, a parent every tenth task.
func BenchmarkPlan500x800(b *testing.B) {
	ctx := context.Background()
	s := openStore(b)
	existing := mustCreate(b, s, sqlite.NewTask{Title: "already there"})
	resolved := resolve(bigPlan(500, 800, existing.ID))
	for b.Loop() {
		if _, err := s.CreatePlan(ctx, resolved, "bench"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(nsPerOp(b)/500, "ns/task")
}

// BenchmarkSummary1000 reads the default summary of the 1,000-task project
// of summary_test.go.
func BenchmarkSummary1000(b *testing.B) {
	ctx := context.Background()
	p := buildProject(b, 1000, 0)
	for b.Loop() {
		if _, err := p.s.Summary(ctx, work.SummaryOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
