package tools

import (
	"context"
	"errors"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// Completions answers completion/complete: any resource template argument
// named id completes to task ids (from a prefix of the id or of the title),
// and plan_work's label and role complete to the project's labels and roles.
// Other arguments get no values.
//
// The project is the one a tool call would use: the workspace argument in
// the request's context (context.arguments.workspace) if the client sent
// it, else the client's roots, TASK_ORCHESTRATOR_WORKSPACE, the working
// directory. A 2026-07-28 client cannot be asked for its roots inside a
// completion (that takes a round trip only a tool call has), so without a
// workspace argument it gets the server's default project.
//
// A completion is a convenience: when the project cannot be opened (or the
// store fails) the answer is an empty list, logged at debug, never an error
// a user must read.
type Completions struct{ d *Deps }

// NewCompletions returns the completion provider for both prompts and
// resource templates (server.WithPromptCompletionProvider and
// server.WithResourceCompletionProvider).
func NewCompletions(d *Deps) *Completions { return &Completions{d: d} }

var (
	_ server.PromptCompletionProvider   = (*Completions)(nil)
	_ server.ResourceCompletionProvider = (*Completions)(nil)
)

// CompleteResourceArgument completes the id of any task resource template.
func (c *Completions) CompleteResourceArgument(ctx context.Context, uri string, arg mcp.CompleteArgument, cc mcp.CompleteContext) (*mcp.Completion, error) {
	if arg.Name != "id" || !strings.HasPrefix(uri, "task-orchestrator://") {
		return none(), nil
	}
	return c.complete(ctx, cc, "id", func(ctx context.Context, s work.Store) (work.Suggestions, error) {
		return s.CompleteIDs(ctx, strings.TrimSpace(arg.Value), work.MaxCompletions)
	})
}

// CompletePromptArgument completes plan_work's label and role.
func (c *Completions) CompletePromptArgument(ctx context.Context, prompt string, arg mcp.CompleteArgument, cc mcp.CompleteContext) (*mcp.Completion, error) {
	if prompt != PromptPlanWork {
		return none(), nil
	}
	value := strings.TrimSpace(arg.Value)
	switch arg.Name {
	case "label":
		return c.complete(ctx, cc, "label", func(ctx context.Context, s work.Store) (work.Suggestions, error) {
			return s.CompleteLabels(ctx, value, work.MaxCompletions)
		})
	case "role":
		return c.complete(ctx, cc, "role", func(ctx context.Context, s work.Store) (work.Suggestions, error) {
			return s.CompleteRoles(ctx, value, work.MaxCompletions)
		})
	}
	return none(), nil
}

func (c *Completions) complete(ctx context.Context, cc mcp.CompleteContext, what string, fn func(context.Context, work.Store) (work.Suggestions, error)) (*mcp.Completion, error) {
	ctx = pooling.WithHolder(ctx, "completion of "+what)
	root, err := c.d.completionRoot(ctx, cc.Arguments["workspace"])
	if err != nil {
		c.d.logger().Debug("completion: no project", "argument", what, "err", err)
		return none(), nil
	}
	store, _, release, err := c.d.taskStore(ctx, root)
	if err != nil {
		c.d.logger().Debug("completion: the task store cannot be opened", "argument", what, "err", err)
		return none(), nil
	}
	defer release()
	got, err := fn(ctx, store)
	if err != nil {
		c.d.logger().Debug("completion failed", "argument", what, "err", err)
		return none(), nil
	}
	return &mcp.Completion{Values: got.Values, Total: got.Total, HasMore: got.HasMore()}, nil
}

// completionRoot resolves the project of a completion the way a tool call
// resolves its own (call.workspace), except that a 2026-07-28 client is not
// asked for its roots: that needs the input round trip of a tool call.
func (d *Deps) completionRoot(ctx context.Context, arg string) (workspace.Root, error) {
	c := &call{deps: d, name: "completion"}
	root, err := c.workspace(ctx, strings.TrimSpace(arg))
	if errors.Is(err, errNeedRoots) {
		return d.Resolver.Resolve("", nil)
	}
	return root, err
}

func none() *mcp.Completion { return &mcp.Completion{Values: []string{}} }
