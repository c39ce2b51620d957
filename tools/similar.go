package tools

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/chroma"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/mirror"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// maxSimilarText bounds task_similar's text (an embedding model reads a few
// hundred tokens at most).
const maxSimilarText = 8 << 10

// taskStatuses are the statuses a task can have (adapters/sqlite's schema).
var taskStatuses = []string{"pending", "in_progress", "blocked", "completed", "failed", "cancelled"}

type taskSimilarArgs struct {
	Workspace string   `json:"workspace,omitempty"`
	Text      string   `json:"text" jsonschema:"What you are looking for, in words: the tasks closest in meaning are returned"`
	Status    []string `json:"status,omitempty" jsonschema:"Only tasks in these statuses"`
	Limit     *int     `json:"limit,omitempty" jsonschema:"At most this many tasks, 1 to 100 (default 10)"`
}

// SimilarTask is one task close in meaning to the text.
type SimilarTask struct {
	ID       string  `json:"id"`
	Title    string  `json:"title"`
	Status   string  `json:"status" jsonschema:"The task's current status, from the task database"`
	Priority string  `json:"priority"`
	Distance float64 `json:"distance" jsonschema:"Cosine distance to the text: 0 is the same meaning, larger is further"`
}

// TaskSimilarResult is task_similar's answer.
type TaskSimilarResult struct {
	Tasks []SimilarTask `json:"tasks" jsonschema:"Nearest first"`
	// Stale counts matches the vector mirror still holds but the task
	// database no longer does, or holds in a status the filter excludes:
	// they are left out.
	Stale int `json:"stale" jsonschema:"Matches left out because the vector mirror lags the task database"`
}

func checkStatusFilter(ss []string) error {
	for i, s := range ss {
		if !slices.Contains(taskStatuses, s) {
			return badArg("argument \"status[%d]\" is %q; statuses are %s", i, truncate(s, 40), strings.Join(taskStatuses, ", "))
		}
	}
	return nil
}

// vectorReady says why the project's tasks cannot be searched by meaning, or "".
func (d *Deps) vectorReady(root string) string {
	layout := workspace.LayoutFor(root)
	cfg, _, err := d.projectConfig(layout)
	if err != nil {
		return "the project's configuration could not be read: " + err.Error()
	}
	if !cfg.DatabasePools.Vector.IsEnabled() {
		return "task_similar needs the vector mirror, but this project turns its vector pool off: remove database_pools.vector.enabled " +
			"false from its .task_orchestrator/configs/config.json"
	}
	if mode, reason := chroma.Resolve(d.chromaOptions(root, layout, cfg, nil)); mode == chroma.ModeNone {
		return "task_similar needs the vector mirror, and " + reason
	}
	if strings.TrimSpace(d.Config.Embeddings.Provider) == "" {
		return "task_similar needs an embedding provider to turn text into vectors, and none is configured: set embeddings.provider " +
			"in the global config (local for the offline semantic model that `mcp-task-orchestrator embedder install` sets up, openai with " +
			"embeddings.base_url for any OpenAI-compatible server, ollama, or lexical for offline word-overlap vectors); " +
			"see docs/users/adding-vector-and-graph.md"
	}
	return ""
}

func taskSimilar(d *Deps) server.ServerTool {
	tool := newTool("task_similar", "Tasks similar in meaning",
		"The tasks closest in meaning to a text, nearest first, with their current status (from the task database) and "+
			"distance. Searches the vector mirror of the tasks (title, description, labels); needs Chroma and an embedding provider.",
		hints{readOnly: true, destructive: false, idempotent: true, openWorld: vectorOpenWorld(d)},
		inputSchema[taskSimilarArgs](), outputSchema[TaskSimilarResult]())
	return server.ServerTool{Tool: tool, Handler: handle(d, tool.Name, func(ctx context.Context, c *call, a taskSimilarArgs) (any, string, error) {
		if strings.TrimSpace(a.Text) == "" {
			return nil, "", badArg("argument \"text\" is required: describe the task you are looking for, e.g. \"fix the login crash\"")
		}
		if len(a.Text) > maxSimilarText {
			return nil, "", badArg("argument \"text\" is %d bytes; the limit is %d", len(a.Text), maxSimilarText)
		}
		limit, err := optInt("limit", a.Limit, 1, chroma.MaxNResults, 10)
		if err != nil {
			return nil, "", err
		}
		if err := checkStatusFilter(a.Status); err != nil {
			return nil, "", err
		}
		root, err := c.workspace(ctx, a.Workspace)
		if err != nil {
			return nil, "", err
		}
		if why := d.vectorReady(root.Path); why != "" {
			return nil, "", badArg("%s", why)
		}
		q := chroma.QueryRequest{Collection: mirror.Collection, Text: a.Text, NResults: limit}
		switch len(a.Status) {
		case 0:
		case 1:
			q.Where = map[string]any{mirror.MetaStatus: a.Status[0]}
		default:
			in := make([]any, len(a.Status))
			for i, s := range a.Status {
				in[i] = s
			}
			q.Where = map[string]any{mirror.MetaStatus: map[string]any{"$in": in}}
		}
		vs, vrelease, err := d.vectorStore(ctx, root)
		if err != nil {
			return nil, "", err
		}
		matches, err := vs.Query(ctx, q)
		drift := "vectors of another embedding than the configured one"
		if chroma.IsMixedEmbedding(err) {
			if dr, derr := vs.EmbeddingDrift(ctx, mirror.Collection); derr == nil && dr.Stale() {
				drift = dr.String()
			}
		}
		vrelease()
		if chroma.IsKind(err, chroma.KindNotFound) {
			return nil, "", badArg("the vector mirror of this project's tasks is empty (collection %q does not exist yet): "+
				"it is filled as tasks change once the vector backend is configured; task_reconcile rebuilds it from the task database",
				mirror.Collection)
		}
		if chroma.IsMixedEmbedding(err) {
			return nil, "", &chroma.Error{Kind: chroma.KindEmbedding, Field: "text", Msg: fmt.Sprintf("the vector mirror "+
				"(collection %q) holds %s: the server rebuilds the mirror by itself; run task_reconcile with mirror \"vector\" to do it now, and if pool_status shows the mirror in standby, "+
				"give every server process on this project the same embeddings settings", mirror.Collection, drift)}
		}
		if err != nil {
			return nil, "", err
		}
		// The status shown is the task database's, not the mirror's copy.
		ids := make([]string, len(matches))
		for i, m := range matches {
			ids[i] = m.ID
		}
		store, _, release, err := d.taskStore(ctx, root)
		if err != nil {
			return nil, "", err
		}
		current, err := store.GraphTasks(ctx, ids)
		release()
		if err != nil {
			return nil, "", err
		}
		res := TaskSimilarResult{Tasks: []SimilarTask{}}
		for _, m := range matches {
			t, ok := current[m.ID]
			if !ok || (len(a.Status) > 0 && !slices.Contains(a.Status, t.Status)) {
				res.Stale++
				continue
			}
			res.Tasks = append(res.Tasks, similarOf(t, m.Distance))
		}
		return res, describeSimilar(res), nil
	})}
}

func similarOf(t work.GraphTask, distance float64) SimilarTask {
	return SimilarTask{ID: t.ID, Title: t.Title, Status: t.Status, Priority: t.Priority, Distance: distance}
}

func describeSimilar(r TaskSimilarResult) string {
	if len(r.Tasks) == 0 {
		return "no similar task found"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d similar task(s); nearest: %s %q [%s] at distance %.3f", len(r.Tasks), r.Tasks[0].ID, r.Tasks[0].Title,
		r.Tasks[0].Status, r.Tasks[0].Distance)
	if r.Stale > 0 {
		fmt.Fprintf(&b, "; %d stale match(es) left out", r.Stale)
	}
	return b.String()
}
