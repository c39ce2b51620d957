package tools

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"

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
		mcp.WithArgument("label", mcp.ArgumentDescription("A label to put on every task of the plan, e.g. the feature's name (optional; the project's labels are offered as completions)")),
		mcp.WithArgument("role", mcp.ArgumentDescription("The role of the agents that should take the plan's tasks (optional; the project's roles are offered as completions)")),
		mcp.WithArgument("workspace", mcp.ArgumentDescription("Any absolute path inside the project (optional; default: the client's roots)")),
	)
	return []server.ServerPrompt{{Prompt: p, Handler: planWork}}
}

// planWork renders the plan_work prompt. Bad arguments are errors that say how to fix them.
func planWork(_ context.Context, req mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	args := req.Params.Arguments
	for k := range args {
		if !slices.Contains(planWorkArgs, k) {
			return nil, fmt.Errorf("plan_work has no argument %q; its arguments are goal (required), agents, label, role and workspace", k)
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
	label := strings.TrimSpace(args["label"])
	if label != "" && !work.ValidLabel(label) {
		return nil, fmt.Errorf("plan_work: label must be 1 to %d characters from A-Z a-z 0-9 _ . : -, got %q; pick one of the labels the completion offers or write a new one in those characters", work.MaxLabelLen, label)
	}
	role := strings.TrimSpace(args["role"])
	if utf8.RuneCountInString(role) > maxRoleRunes || !utf8.ValidString(role) || strings.ContainsFunc(role, unicode.IsControl) {
		return nil, fmt.Errorf("plan_work: role must be printable text of at most %d characters, got %q; pick one of the roles the completion offers", maxRoleRunes, clipRunes(role, 40))
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
		[]mcp.PromptMessage{mcp.NewPromptMessage(mcp.RoleUser, mcp.NewTextContent(planText(goal, agents, wsArg, label, role)))}), nil
}

// planWorkArgs are plan_work's arguments, in the order they are listed.
var planWorkArgs = []string{"goal", "agents", "label", "role", "workspace"}

const maxRoleRunes = 100 // as the task store's roles

func clipRunes(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

func planText(goal string, agents int, wsArg, label, role string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Goal: %s\n\n", goal)
	b.WriteString("Plan this goal in the project's task list (mcp-task-orchestrator), then carry it out." + wsArg + "\n\n")
	if label != "" {
		fmt.Fprintf(&b, "Put the label %q on every task of the plan (labels: [%q]), so task_list {label: %q} finds them together.\n", label, label, label)
	}
	if role != "" {
		fmt.Fprintf(&b, "Give the tasks only an agent of role %q should do the role %q; agents pass role %q to task_claim to take them.\n", role, role, role)
	}
	if label != "" || role != "" {
		b.WriteString("\n")
	}
	b.WriteString(`1. Look first. Call task_summary (counts, ready, blocked, who holds what) and task_list with text set to the goal's key words, so you do not plan work that is already planned or done.
2. Write the whole plan in ONE task_plan call. Give every task a short ref of your own (e.g. "goal", "design", "api", "tests"; not shaped like a task id) and a title that starts with a verb; its description says what "done" means. A good task is one agent's work in one sitting.
   - One task for the goal itself; every other task sets parent to its ref (parent may also be the id of an existing task).
   - depends_on lists the refs (or existing ids) that must be completed before a task can start. Only real ordering constraints: tasks without dependencies run in parallel.
   - Set priority (critical, high, medium, low) by what blocks the most work; labels or role where only some agents should take a task.
   (task_create adds a single task later, with parent_id and depends_on as ids.) The plan is all or nothing: if the answer lists problems (by ref: a cycle, an unknown or duplicate ref, a bad field), fix them all and send the whole plan again. The answer maps each ref to its task id.
3. Know the rules. A parent with open subtasks is not ready: nobody can claim it or complete it until its subtasks are completed (failing or cancelling it leaves them as they are). A task with a role is claimed only by an agent that passes that role to task_claim; an agent with a role may also take tasks with no role.
4. Check the plan: task_graph on the goal's task shows what blocks it and the critical path of the open work; the longest chain is where extra agents will not help.
`)
	if agents > 1 {
		fmt.Fprintf(&b, "5. Work with %d agents. Each agent, in a loop: task_claim with its own agent name (and role/labels if it has them) atomically takes the highest-priority ready task, so two agents never get the same one; when nothing is ready, wait and try again, or look at task_summary.\n", agents)
	} else {
		b.WriteString("5. Work through it in a loop: task_claim with your agent name takes the highest-priority ready task (all dependencies completed, no open subtask).\n")
	}
	b.WriteString(`6. A claim is a lease (lease_seconds, default 900 s): while you work, call task_heartbeat {id, agent} before lease_expires_at; any task_update or task_complete of yours renews it too. Pass your agent name to task_update and task_complete on a task you hold: only the holder may change it. If your lease runs out, another agent may take the task over, and then your writes are refused; if you cannot finish, task_release {id, agent, reason} gives it back at once.
7. Finish each task with task_complete (a summary of what was done, outcome completed or failed, and an artifact file when there is one): its answer lists the tasks that became ready. If a task turns out bigger, plan subtasks for it with task_plan (parent: its id) instead of stretching it; if it is blocked by something outside the plan, task_update its status to blocked with the reason in the description.
8. When every subtask is completed, the goal's task becomes ready: claim it and complete it with a summary of the whole goal. task_history {id} shows who did what on any task.`)
	return b.String()
}
