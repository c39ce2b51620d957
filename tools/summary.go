package tools

import (
	"context"
	"fmt"

	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// maxSummaryLimit is the most entries per list of task_summary. Without a
// limit the store's default (4) applies: it keeps the answer for a
// 1,000-task project under 2 KB of JSON.
const maxSummaryLimit = 10

type taskSummaryArgs struct {
	Workspace string `json:"workspace,omitempty"`
	Limit     *int   `json:"limit,omitempty" jsonschema:"Entries per list (default 3)"`
}

func taskSummary(d *Deps) server.ServerTool {
	tool := newTool("task_summary", "Project at a glance",
		"Where the project stands: what is ready, blocked, held, expired and stale.",
		readHints, inputSchema[taskSummaryArgs](), outputSchema[work.Summary](),
		bounds(map[string]map[string]any{"limit": {"minimum": 1, "maximum": 10}}))
	return server.ServerTool{Tool: fixOutputSchema(tool), Handler: handle(d, tool.Name, func(ctx context.Context, c *call, a taskSummaryArgs) (any, string, error) {
		limit := 0 // the store's default
		if a.Limit != nil {
			if *a.Limit < 1 || *a.Limit > maxSummaryLimit {
				return nil, "", badArg("argument \"limit\" must be between 1 and %d, not %d", maxSummaryLimit, *a.Limit)
			}
			limit = *a.Limit
		}
		sum, err := withStore(ctx, c, a.Workspace, func(s work.Store, _ workspace.Layout) (work.Summary, error) {
			return s.Summary(ctx, work.SummaryOptions{ListLimit: limit})
		})
		if err != nil {
			return nil, "", err
		}
		nonNil(&sum)
		text := fmt.Sprintf("%d tasks, %d ready, %d blocked, %d agents at work, %d expired leases",
			sum.Total, sum.Ready, len(sum.Blocked)+sum.BlockedMore, len(sum.Agents)+sum.AgentsMore, len(sum.Expired)+sum.ExpiredMore)
		return sum, text, nil
	})}
}

// nonNil makes every list of the summary non-nil, so the answer shows []
// (and matches its output schema) rather than null.
func nonNil(s *work.Summary) {
	if s.Counts == nil {
		s.Counts = map[work.Status]int{}
	}
	if s.Blocked == nil {
		s.Blocked = []work.BlockedEntry{}
	}
	for i := range s.Blocked {
		if s.Blocked[i].WaitingOn == nil {
			s.Blocked[i].WaitingOn = []string{}
		}
	}
	if s.Agents == nil {
		s.Agents = []work.AgentWork{}
	}
	for i := range s.Agents {
		if s.Agents[i].Tasks == nil {
			s.Agents[i].Tasks = []string{}
		}
	}
	if s.Expired == nil {
		s.Expired = []work.ExpiredLease{}
	}
	if s.Parents == nil {
		s.Parents = []work.ParentRollup{}
	}
	if s.Oldest == nil {
		s.Oldest = []work.OpenEntry{}
	}
}
