package tools

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// PromptPlanWork is the prompt that teaches an agent to plan with the task tools.
const PromptPlanWork = "plan_work"

const (
	maxGoalRunes = 4000
	maxAgents    = 64
)

// Prompts returns the prompts of this server.
func Prompts() []server.ServerPrompt {
	p := mcp.NewPrompt(PromptPlanWork,
		mcp.WithPromptTitle("Plan work as tasks"),
		mcp.WithPromptDescription("Break a goal into tasks with dependencies in this project's task list, then claim and finish them one at a time (alone or with other agents)."),
		mcp.WithArgument("goal", mcp.ArgumentDescription("What should be achieved, in a sentence or a paragraph"), mcp.RequiredArgument()),
		mcp.WithArgument("agents", mcp.ArgumentDescription("How many agents will work on it at once (1 to 64; default 1)")),
		mcp.WithArgument("workspace", mcp.ArgumentDescription("Any absolute path inside the project (optional; default: the client's roots)")),
	)
	return []server.ServerPrompt{{Prompt: p, Handler: planWork}}
}

// planWork renders the plan_work prompt. Bad arguments are errors that say how to fix them.
func planWork(_ context.Context, req mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	args := req.Params.Arguments
	for k := range args {
		if k != "goal" && k != "agents" && k != "workspace" {
			return nil, fmt.Errorf("plan_work has no argument %q; its arguments are goal (required), agents and workspace", k)
		}
	}
	goal := strings.TrimSpace(args["goal"])
	switch {
	case goal == "":
		return nil, fmt.Errorf("plan_work needs a goal: pass the argument goal, e.g. \"add CSV export to the reports page\"")
	case !utf8.ValidString(goal):
		return nil, fmt.Errorf("plan_work: goal is not valid UTF-8 text")
	case utf8.RuneCountInString(goal) > maxGoalRunes:
		return nil, fmt.Errorf("plan_work: goal is %d characters; keep it under %d and put the details in the tasks' descriptions", utf8.RuneCountInString(goal), maxGoalRunes)
	}
	agents := 1
	if a := strings.TrimSpace(args["agents"]); a != "" {
		n, err := strconv.Atoi(a)
		if err != nil || n < 1 || n > maxAgents {
			return nil, fmt.Errorf("plan_work: agents must be a whole number from 1 to %d, got %q", maxAgents, a)
		}
		agents = n
	}
	ws := strings.TrimSpace(args["workspace"])
	wsArg := ""
	if ws != "" {
		if !strings.HasPrefix(ws, "/") && !(len(ws) > 2 && ws[1] == ':') {
			return nil, fmt.Errorf("plan_work: workspace must be an absolute path inside the project, got %q", ws)
		}
		wsArg = fmt.Sprintf(" Pass \"workspace\": %q to every tool call.", ws)
	}
	return mcp.NewGetPromptResult("Plan the goal as tasks with dependencies, then work through them",
		[]mcp.PromptMessage{mcp.NewPromptMessage(mcp.RoleUser, mcp.NewTextContent(planText(goal, agents, wsArg)))}), nil
}

func planText(goal string, agents int, wsArg string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Goal: %s\n\n", goal)
	b.WriteString("Plan this goal in the project's task list (mcp-task-orchestrator), then carry it out." + wsArg + "\n\n")
	b.WriteString(`1. Look first. Read the resource task-orchestrator://tasks/open (or call task_list with status ["pending","in_progress","blocked"]) and task_list with text set to the goal's key words, so you do not plan work that is already planned or done.
2. Break the goal down. Create one parent task for the goal with task_create, then its subtasks with parent_id set to the parent's id. A good task is one agent's work in one sitting, with a title that starts with a verb and a description that says what "done" means.
3. Order them. Give a task depends_on for every task that must be completed before it can start (task_create's depends_on, or task_dependency later). Only real ordering constraints: tasks without dependencies can run in parallel. The server refuses cycles.
4. Set priority (critical, high, medium, low) by what blocks the most work, and labels or role where only some agents should take a task.
5. Check the plan: task_graph on the parent shows what blocks it and the critical path of the open work; the longest chain is where extra agents will not help.
`)
	if agents > 1 {
		fmt.Fprintf(&b, "6. Work with %d agents. Each agent, in a loop: task_claim with its own agent name (and role/labels if it has them) atomically takes the highest-priority ready task, so two agents never get the same one; when nothing is ready, wait and try again or help by reviewing finished work.\n", agents)
	} else {
		b.WriteString("6. Work through it: task_claim with your agent name takes the highest-priority task whose dependencies are all completed.\n")
	}
	b.WriteString(`7. Finish each task with task_complete (a summary of what was done, outcome completed or failed, and an artifact file when there is one): its answer lists the tasks that became ready. If a task turns out bigger, create subtasks for it instead of stretching it; if it is blocked by something outside the plan, task_update its status to blocked with the reason in the description.
8. When every subtask is completed, complete the parent with a summary of the whole goal.`)
	return b.String()
}
