package integration

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// updateTestdata rewrites the generated files under testdata/ instead of
// comparing with them: go test ./integration -run TestName -update-testdata.
var updateTestdata = flag.Bool("update-testdata", false, "rewrite the generated files under ../testdata instead of comparing with them")

// graph500 is the 500-task project of seed 42 that the task_graph tests build.
const graph500 = "../testdata/tasks/graph-500-seed42.json"

// planTask is one task of a generated project: its title, the tasks it
// depends on and its parent (indexes into the plan, parent -1 for none), and
// the status it is moved to after every task exists ("" stays pending).
type planTask struct {
	Title     string `json:"title"`
	DependsOn []int  `json:"depends_on,omitempty"`
	Parent    int    `json:"parent"`
	Status    string `json:"status,omitempty"`
}

// graphPlan is a generated project, as stored in testdata/tasks/.
type graphPlan struct {
	Generator string     `json:"generator"`
	Tasks     []planTask `json:"tasks"`
}

// randomPlan is the project generator: a random DAG of n tasks (each depends
// on up to three of the 30 tasks made before it, every tenth is a subtask of
// an earlier one), 45% of them left pending and the rest moved once, all from
// a fixed seed.
func randomPlan(n int, seed uint64) graphPlan {
	rng := rand.New(rand.NewPCG(seed, 7))
	plan := graphPlan{Generator: fmt.Sprintf("randomPlan(%d, %d) in integration/taskgraph_seed_test.go", n, seed)}
	for i := range n {
		tk := planTask{Title: fmt.Sprintf("task %03d", i), Parent: -1}
		if i > 0 {
			for range rng.IntN(4) {
				d := max(0, i-30) + rng.IntN(min(i, 30))
				if !slices.Contains(tk.DependsOn, d) {
					tk.DependsOn = append(tk.DependsOn, d)
				}
			}
		}
		if i > 0 && i%10 == 0 {
			tk.Parent = rng.IntN(i)
		}
		plan.Tasks = append(plan.Tasks, tk)
	}
	moves := []string{"completed", "completed", "completed", "completed", "in_progress", "in_progress", "blocked", "blocked",
		"cancelled", "cancelled", "failed"}
	for i := range plan.Tasks {
		if rng.IntN(100) < 45 {
			continue
		}
		plan.Tasks[i].Status = moves[rng.IntN(len(moves))]
	}
	return plan
}

// encode writes the plan one task a line, so a change to the generator is a
// readable diff of the file.
func (g graphPlan) encode() []byte {
	var b bytes.Buffer
	gen, _ := json.Marshal(g.Generator)
	fmt.Fprintf(&b, "{\"generator\": %s,\n\"tasks\": [\n", gen)
	for i, tk := range g.Tasks {
		line, _ := json.Marshal(tk)
		b.Write(line)
		if i < len(g.Tasks)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("]}\n")
	return b.Bytes()
}

// readGraphPlan reads a generated project from testdata/tasks/.
func readGraphPlan(t testing.TB, path string) graphPlan {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var g graphPlan
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for i, tk := range g.Tasks {
		for _, d := range tk.DependsOn {
			if d < 0 || d >= i {
				t.Fatalf("%s: task %d depends on task %d, which is not made before it", path, i, d)
			}
		}
		if tk.Parent < -1 || tk.Parent >= i {
			t.Fatalf("%s: task %d has parent %d, which is not made before it", path, i, tk.Parent)
		}
	}
	return g
}

// TestTaskGraphSeedOutputIsTestdata regenerates the 500-task project of seed
// 42 and compares it with testdata/tasks/graph-500-seed42.json, which the
// task_graph tests build: a change to the generator (or to math/rand/v2's
// PCG) shows as a diff of that file, rewritten with -update-testdata.
func TestTaskGraphSeedOutputIsTestdata(t *testing.T) {
	got := randomPlan(500, 42).encode()
	if *updateTestdata {
		if err := os.WriteFile(graph500, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(graph500)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		dir := t.TempDir()
		_ = os.WriteFile(filepath.Join(dir, "got.json"), got, 0o644)
		t.Fatalf("randomPlan(500, 42) no longer writes %s (its output is in %s/got.json); "+
			"if the change is meant, run this test with -update-testdata and commit the diff", graph500, dir)
	}
	g := readGraphPlan(t, graph500)
	counts := map[string]int{}
	subtasks, deps := 0, 0
	for _, tk := range g.Tasks {
		counts[tk.Status]++
		deps += len(tk.DependsOn)
		if tk.Parent >= 0 {
			subtasks++
		}
	}
	if len(g.Tasks) != 500 || subtasks != 49 || deps < 500 || counts[""] < 150 || counts["completed"] < 50 {
		t.Errorf("the plan has %d tasks, %d subtasks, %d dependencies, statuses %v", len(g.Tasks), subtasks, deps, counts)
	}
}
