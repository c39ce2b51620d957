package integration

import (
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/argcases"
)

// checkClientSentence fails when msg leaks internals or is not one line.
func checkClientSentence(t *testing.T, msg string) {
	t.Helper()
	if p := argcases.Problem(msg, ""); p != "" {
		t.Error(p)
	}
}

// Over the real binary (stdio, or HTTP with IT_TRANSPORT=http): for every
// tool it lists, every kind of mistake its schema can say (argcases.For:
// missing, unknown, wrong-typed, out of range, too long, too many, outside an
// enum) gets a tool error naming the argument, in one sentence with no Go
// dump; a sample is checked word for word.
func TestBadArgsTableOverTheBinary(t *testing.T) {
	project := newProject(t)
	p := start(t, procOpts{dir: project})
	ctx := ctxT(t)
	list, err := p.c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Tools) < 10 {
		t.Fatalf("only %d tools listed", len(list.Tools))
	}
	cases, err := argcases.For(list.Tools, project)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range cases {
		n++
		t.Run(c.Name, func(t *testing.T) {
			res := p.call(ctx, c.Tool, c.Args)
			if pr := c.Check(text(res), res.IsError); pr != "" {
				t.Error(pr)
			}
		})
	}
	t.Logf("%d bad calls over %d tools", n, len(list.Tools))

	ws := project
	whole := []struct {
		tool string
		args map[string]any
		want string
	}{
		{"task_create", map[string]any{"workspace": ws}, `argument "title" is required: pass it as a string`},
		{"task_create", map[string]any{"workspace": ws, "title": 42}, `argument "title" must be a string, not the number 42`},
		{"task_create", map[string]any{"workspace": ws, "title": "t", "priority": "urgent"}, `argument "priority" must be one of low, medium, high or critical, not the string "urgent"; pass one of those`},
		{"task_create", map[string]any{"workspace": ws, "title": "t", "bogus": 1}, `unknown argument "bogus"; this tool accepts: depends_on, description, labels, metadata, parent_id, priority, role, title, workspace`},
		{"task_list", map[string]any{"workspace": ws, "limit": "ten"}, `argument "limit" must be an integer, not the string "ten"`},
		{"task_create", map[string]any{"workspace": ws, "title": "t", "depends_on": []any{"a", "b", 7}}, `argument "depends_on[2]" must be a string, not the number 7`},
	}
	for _, c := range whole {
		res := p.call(ctx, c.tool, c.args)
		if got := text(res); !res.IsError || got != c.want {
			t.Errorf("%s(%v):\ngot  %q (isError %v)\nwant %q", c.tool, c.args, got, res.IsError, c.want)
		}
	}
}
