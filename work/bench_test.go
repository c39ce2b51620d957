package work_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// plan500 is the large plan: 500 tasks, 800 dependencies (each on
// an earlier task, so no cycle), every tenth task a parent of the next nine.
func plan500() []work.PlanTask {
	r := rand.New(rand.NewPCG(42, 42))
	tasks := make([]work.PlanTask, 500)
	for i := range tasks {
		tasks[i] = work.PlanTask{Ref: fmt.Sprintf("step-%d", i), Title: fmt.Sprint("step ", i)}
		if i%10 != 0 {
			tasks[i].Parent = fmt.Sprintf("step-%d", i-i%10)
		}
	}
	for n := 0; n < 800; {
		i := 1 + r.IntN(499)
		j := r.IntN(i)
		if j == i-i%10 && i%10 != 0 { // not its own parent
			continue
		}
		tasks[i].DependsOn = append(tasks[i].DependsOn, fmt.Sprintf("step-%d", j))
		n++
	}
	// Sent in reverse, so the order has to be worked out.
	for i, j := 0, len(tasks)-1; i < j; i, j = i+1, j-1 {
		tasks[i], tasks[j] = tasks[j], tasks[i]
	}
	return tasks
}

func BenchmarkCheckPlan500Tasks800Dependencies(b *testing.B) {
	tasks := plan500()
	if _, err := work.CheckPlan(tasks, nil); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		_, _ = work.CheckPlan(tasks, nil)
	}
}

func BenchmarkCheckPlan500WithACycle(b *testing.B) {
	tasks := plan500()
	tasks[len(tasks)-1].DependsOn = append(tasks[len(tasks)-1].DependsOn, "step-499") // step-0 waits for the last
	if _, err := work.CheckPlan(tasks, nil); err == nil {
		b.Fatal("no cycle found")
	}
	for b.Loop() {
		_, _ = work.CheckPlan(tasks, nil)
	}
}
