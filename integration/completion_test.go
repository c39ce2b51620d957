package integration

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

// complete asks completion/complete for one argument of ref.
func (p *proc) complete(ctx context.Context, ref any, arg, value string, context map[string]string) mcp.Completion {
	p.t.Helper()
	req := mcp.CompleteRequest{}
	req.Params.Ref = ref
	req.Params.Argument.Name = arg
	req.Params.Argument.Value = value
	req.Params.Context.Arguments = context
	res, err := p.c.Complete(ctx, req)
	if err != nil {
		p.t.Fatalf("completion/complete %s=%q: %v", arg, value, err)
	}
	return res.Completion
}

// The completion test: a prefix of a task's title completes to its
// id (for the id of the task resource templates), on both protocol
// generations; plan_work's label and role complete to the project's own.
func TestTitlePrefixCompletesToTaskID(t *testing.T) {
	for _, proto := range []string{"2025-11-25", ""} {
		name := proto
		if name == "" {
			name = "2026-07-28"
		}
		t.Run(name, func(t *testing.T) {
			ctx := ctxT(t)
			project := newProject(t)
			p := start(t, procOpts{dir: project, protocol: proto})
			var parser, docs taskOut
			p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "Write the parser", "labels": []string{"backend", "parser"}, "role": "coder"}, &parser)
			p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "write the docs", "labels": []string{"docs"}, "role": "writer"}, &docs)
			p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "Review the parser", "labels": []string{"backend"}, "role": "coder"}, nil)
			ws := map[string]string{"workspace": project}
			artifact := mcp.ResourceReference{Type: "ref/resource", URI: "task-orchestrator://tasks/{id}/artifacts/{name}{?workspace}"}

			got := p.complete(ctx, artifact, "id", "write the p", ws)
			if !slices.Equal(got.Values, []string{parser.Task.ID}) || got.Total != 1 || got.HasMore {
				t.Errorf("id from title prefix %q = %+v, want [%s]", "write the p", got, parser.Task.ID)
			}
			// Both "write the …" tasks, the one updated last first.
			got = p.complete(ctx, artifact, "id", "WRITE", ws)
			if want := []string{docs.Task.ID, parser.Task.ID}; !slices.Equal(got.Values, want) || got.Total != 2 {
				t.Errorf("id from title prefix WRITE = %+v, want %v", got, want)
			}
			// An id prefix completes to that id; any template's id argument does.
			perTask := mcp.ResourceReference{Type: "ref/resource", URI: "task-orchestrator://tasks/{id}"}
			got = p.complete(ctx, perTask, "id", docs.Task.ID[:10], ws)
			if !slices.Contains(got.Values, docs.Task.ID) {
				t.Errorf("id from id prefix %q = %+v, want it to contain %s", docs.Task.ID[:10], got, docs.Task.ID)
			}
			// Without a workspace in the context: the project a tool call would
			// use (here the server's working directory).
			got = p.complete(ctx, artifact, "id", "Review", nil)
			if len(got.Values) != 1 {
				t.Errorf("id from title prefix Review without a workspace = %+v, want the one task", got)
			}
			if got := p.complete(ctx, artifact, "name", "x", ws); len(got.Values) != 0 {
				t.Errorf("name = %+v, want no values", got)
			}

			plan := mcp.PromptReference{Type: "ref/prompt", Name: "plan_work"}
			if got := p.complete(ctx, plan, "label", "", ws); !slices.Equal(got.Values, []string{"backend", "docs", "parser"}) || got.Total != 3 {
				t.Errorf("plan_work label = %+v, want backend (on two tasks) first, then docs and parser", got)
			}
			if got := p.complete(ctx, plan, "role", "w", ws); !slices.Equal(got.Values, []string{"writer"}) {
				t.Errorf("plan_work role w = %+v, want [writer]", got)
			}
			if got := p.complete(ctx, plan, "goal", "a", ws); len(got.Values) != 0 {
				t.Errorf("plan_work goal = %+v, want no values", got)
			}
		})
	}
}

// At most 100 values, the total counted honestly.
func TestCompletionStopsAtAHundredValues(t *testing.T) {
	ctx := ctxT(t)
	project := newProject(t)
	p := start(t, procOpts{dir: project})
	tasks := make([]map[string]any, 120)
	for i := range tasks {
		tasks[i] = map[string]any{"ref": fmt.Sprintf("r%d", i), "title": fmt.Sprintf("step %03d", i)}
	}
	p.ok(ctx, "task_plan", map[string]any{"workspace": project, "tasks": tasks}, nil)
	got := p.complete(ctx, mcp.ResourceReference{Type: "ref/resource", URI: "task-orchestrator://tasks/{id}"}, "id", "step", map[string]string{"workspace": project})
	if len(got.Values) != 100 || got.Total != 120 || !got.HasMore {
		t.Errorf("completion of 120 matches: %d values, total %d, hasMore %v; want 100, 120, true", len(got.Values), got.Total, got.HasMore)
	}
}
