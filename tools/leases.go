package tools

import (
	"context"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/authctx"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// maxAgentName bounds an agent's name (the tokens file allows the same).
const maxAgentName = 128

// agentArg is the agent a call acts as. Over HTTP with a named token (from
// --auth-tokens-file) the token decides: an "agent" argument must be its
// name, and an omitted one is taken to be it. Otherwise the argument is
// taken as given, and must be present when must is set.
func agentArg(ctx context.Context, given string, must bool) (string, error) {
	given = strings.TrimSpace(given)
	if len(given) > maxAgentName {
		return "", badArg("argument \"agent\" is %d bytes; an agent's name is at most %d", len(given), maxAgentName)
	}
	if name, ok := authctx.Agent(ctx); ok {
		switch given {
		case "", name:
			return name, nil
		}
		return "", badArg("argument \"agent\" is %q, but this connection is authenticated as %q; pass agent %q (each token acts as one agent)", truncate(given, 80), name, name)
	}
	if must && given == "" {
		return "", badArg("argument \"agent\" is required: pass the name you claim tasks with")
	}
	return given, nil
}

// leaseArg turns lease_seconds into a lease (0 = the global default).
func leaseArg(d *Deps, secs *int) (int, error) {
	if secs == nil {
		if n := d.Config.Tasks.LeaseSeconds; n > 0 {
			return n, nil
		}
		return workspace.DefaultLeaseSeconds, nil
	}
	lo, hi := int(work.MinLease.Seconds()), int(work.MaxLease.Seconds())
	if *secs < lo || *secs > hi {
		return 0, badArg("argument \"lease_seconds\" must be between %d and %d, not %d", lo, hi, *secs)
	}
	return *secs, nil
}

// HistoryResult is task_history's answer.
type HistoryResult struct {
	Events     []work.HistoryEvent `json:"events"`
	NextCursor string              `json:"next_cursor" jsonschema:"Empty at the end"`
}

type taskHeartbeatArgs struct {
	Workspace string `json:"workspace,omitempty"`
	ID        string `json:"id" jsonschema:"The task you hold"`
	Agent     string `json:"agent,omitempty" jsonschema:"Your agent name, as claimed"`
}

type taskReleaseArgs struct {
	Workspace string `json:"workspace,omitempty"`
	ID        string `json:"id" jsonschema:"The task you hold"`
	Agent     string `json:"agent,omitempty" jsonschema:"Your agent name, as claimed"`
	Reason    string `json:"reason,omitempty" jsonschema:"Why (kept in the history)"`
}

type taskHistoryArgs struct {
	Workspace string `json:"workspace,omitempty"`
	ID        string `json:"id" jsonschema:"Task id (deleted tasks too)"`
	Limit     *int   `json:"limit,omitempty" jsonschema:"Page size (default 50)"`
	Cursor    string `json:"cursor,omitempty" jsonschema:"next_cursor from the previous page"`
}

const maxReason = 2000

func taskHeartbeat(d *Deps) server.ServerTool {
	tool := newTool("task_heartbeat", "Renew a claim",
		"Renew your lease on a task you hold.",
		hints{readOnly: false, destructive: false, idempotent: true, openWorld: false},
		inputSchema[taskHeartbeatArgs](), outputSchema[TaskResult]())
	return server.ServerTool{Tool: fixOutputSchema(tool), Handler: handle(d, tool.Name, func(ctx context.Context, c *call, a taskHeartbeatArgs) (any, string, error) {
		if err := checkID("id", a.ID); err != nil {
			return nil, "", err
		}
		agent, err := agentArg(ctx, a.Agent, true)
		if err != nil {
			return nil, "", err
		}
		t, err := withStore(ctx, c, a.Workspace, func(s work.Store, _ workspace.Layout) (work.Task, error) {
			return s.Heartbeat(ctx, a.ID, agent)
		})
		if err != nil {
			return nil, "", err
		}
		return TaskResult{Task: t}, "Renewed " + describe(t) + leaseText(t), nil
	})}
}

func taskRelease(d *Deps) server.ServerTool {
	tool := newTool("task_release", "Give a claimed task back",
		"Give back a task you hold: it becomes pending and unassigned.",
		hints{readOnly: false, destructive: false, idempotent: false, openWorld: false},
		inputSchema[taskReleaseArgs](), outputSchema[TaskResult](),
		bounds(map[string]map[string]any{"reason": {"maxLength": 2000}}))
	return server.ServerTool{Tool: fixOutputSchema(tool), Handler: handle(d, tool.Name, func(ctx context.Context, c *call, a taskReleaseArgs) (any, string, error) {
		if err := checkID("id", a.ID); err != nil {
			return nil, "", err
		}
		agent, err := agentArg(ctx, a.Agent, true)
		if err != nil {
			return nil, "", err
		}
		if n := len([]rune(a.Reason)); n > maxReason {
			return nil, "", badArg("argument \"reason\" is %d characters; keep it under %d", n, maxReason)
		}
		t, err := withStore(ctx, c, a.Workspace, func(s work.Store, _ workspace.Layout) (work.Task, error) {
			return s.Release(ctx, a.ID, agent, a.Reason)
		})
		if err != nil {
			return nil, "", err
		}
		return TaskResult{Task: t}, "Released " + describe(t), nil
	})}
}

func taskHistory(d *Deps) server.ServerTool {
	tool := newTool("task_history", "Task history",
		"Every change of a task, oldest first: who, when, what. Pages with next_cursor.",
		readHints, inputSchema[taskHistoryArgs](), outputSchema[HistoryResult](),
		bounds(map[string]map[string]any{"limit": {"minimum": 1, "maximum": 200}}))
	return server.ServerTool{Tool: fixOutputSchema(tool), Handler: handle(d, tool.Name, func(ctx context.Context, c *call, a taskHistoryArgs) (any, string, error) {
		if err := checkID("id", a.ID); err != nil {
			return nil, "", err
		}
		limit := 0
		if a.Limit != nil {
			if *a.Limit < 1 || *a.Limit > 200 {
				return nil, "", badArg("argument \"limit\" must be between 1 and 200, not %d", *a.Limit)
			}
			limit = *a.Limit
		}
		if len(a.Cursor) > 200 {
			return nil, "", badArg("argument \"cursor\" is not a cursor from task_history; pass the next_cursor of the previous page, or omit it to start from the first event")
		}
		res, err := withStore(ctx, c, a.Workspace, func(s work.Store, _ workspace.Layout) (HistoryResult, error) {
			evs, next, err := s.History(ctx, a.ID, limit, a.Cursor)
			return HistoryResult{Events: evs, NextCursor: next}, err
		})
		if err != nil {
			return nil, "", err
		}
		if res.Events == nil {
			res.Events = []work.HistoryEvent{}
		}
		text := fmt.Sprintf("%d events of %s", len(res.Events), a.ID)
		if res.NextCursor != "" {
			text += " (more: pass next_cursor)"
		}
		return res, text, nil
	})}
}

// leaseText says until when the holder's lease runs, for the short text.
func leaseText(t work.Task) string {
	if t.LeaseExpiresAt == nil {
		return ""
	}
	return "; lease until " + t.LeaseExpiresAt.UTC().Format("2006-01-02T15:04:05Z07:00")
}
