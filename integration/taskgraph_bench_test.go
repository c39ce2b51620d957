package integration

import (
	"context"
	"testing"
)

// task_graph on the 500-task random project of the comparison test, through
// the real binary over stdio: the same call answered from SQLite (the
// baseline) and from the Neo4j mirror, in the same run. Every tenth task is
// asked about in turn, so the walk and the answer size vary as in use.
// Run with IT_NO_RACE=1.
func BenchmarkTaskGraph(b *testing.B) {
	project := newProject(b)
	p := start(b, procOpts{dir: project, env: sharedNeo4jEnv(b), fast: true})
	buildProject(b, p, project, readGraphPlan(b, graph500))
	m := fillMirrors(b, p, project, mirrorTargets{graph: true})
	var ids []string
	for i, tk := range m.tasks {
		if i%10 == 0 {
			ids = append(ids, tk.ID)
		}
	}
	ctx := context.Background()
	for _, source := range []string{"sqlite", "neo4j"} {
		for _, what := range []string{"task", "critical-path-only"} {
			b.Run(source+"/"+what, func(b *testing.B) {
				for i := 0; b.Loop(); i++ {
					args := map[string]any{"workspace": project, "source": source}
					if what == "task" {
						args["id"] = ids[i%len(ids)]
					}
					p.ok(ctx, "task_graph", args, nil)
				}
			})
		}
	}
}
