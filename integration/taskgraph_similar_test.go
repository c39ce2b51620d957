package integration

import (
	"slices"
	"strings"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
)

type similarOut struct {
	Tasks []struct {
		ID       string  `json:"id"`
		Title    string  `json:"title"`
		Status   string  `json:"status"`
		Distance float64 `json:"distance"`
	} `json:"tasks"`
	Stale int `json:"stale"`
}

// task_similar on a real embedding model (all-MiniLM-L6-v2, integration/embedder.sh):
// a task worded differently but meaning the same ranks above unrelated tasks;
// the status shown is the task database's current one; a status filter works;
// a task deleted since it was mirrored is left out and counted.
func TestTaskSimilarRanksByMeaning(t *testing.T) {
	project := newProject(t)
	p := start(t, procOpts{dir: project, env: append([]string{"CHROMA_URL=" + chromaURL(t)}, embedderEnv(t)...)})
	ctx := ctxT(t)
	titles := slices.Clip(unrelatedTitles[:7])
	ids := make([]string, len(titles))
	versions := make([]int64, len(titles))
	for i, title := range titles {
		var out taskOut
		p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": title}, &out)
		ids[i], versions[i] = out.Task.ID, out.Task.Version
	}
	m := fillMirrors(t, p, project, mirrorTargets{vector: true})
	byID := map[string]sqlite.Task{}
	for _, tk := range m.tasks {
		byID[tk.ID] = tk
	}

	// Few words in common with the target; none with most of the others.
	var res similarOut
	p.ok(ctx, "task_similar", map[string]any{"workspace": project, "text": "users cannot log in: the app breaks if they submit no passphrase", "limit": 7}, &res)
	if len(res.Tasks) != 7 || res.Tasks[0].ID != ids[0] {
		t.Fatalf("nearest tasks: %+v, want %s first", res.Tasks, ids[0])
	}
	if gap := res.Tasks[1].Distance - res.Tasks[0].Distance; gap < 0.2 {
		t.Fatalf("the matching task is only %.3f nearer than the next (%+v)", gap, res.Tasks[:2])
	}
	t.Logf("distances: match %.3f, next %.3f, furthest %.3f", res.Tasks[0].Distance, res.Tasks[1].Distance, res.Tasks[6].Distance)

	// The status comes from SQLite, not from the mirror's copy (still pending there).
	p.ok(ctx, "task_update", map[string]any{"workspace": project, "id": ids[0], "version": versions[0], "status": "in_progress"}, nil)
	m.lagVector(t, byID[ids[0]])
	p.ok(ctx, "task_similar", map[string]any{"workspace": project, "text": "login form blows up with a blank secret", "limit": 1}, &res)
	if len(res.Tasks) != 1 || res.Tasks[0].ID != ids[0] || res.Tasks[0].Status != "in_progress" {
		t.Fatalf("after the update: %+v", res.Tasks)
	}
	// The filter uses the mirror's status and then the current one: the
	// mirror still says pending, SQLite says in_progress, so it is stale.
	p.ok(ctx, "task_similar", map[string]any{"workspace": project, "text": "login form blows up with a blank secret", "status": []string{"pending"}, "limit": 3}, &res)
	for _, m := range res.Tasks {
		if m.ID == ids[0] || m.Status != "pending" {
			t.Fatalf("status filter pending returned %+v", m)
		}
	}
	if res.Stale != 1 {
		t.Fatalf("stale = %d, want 1 (the task whose status changed since it was mirrored)", res.Stale)
	}
	// A task deleted from SQLite but still in the mirror is left out.
	p.ok(ctx, "task_delete", map[string]any{"workspace": project, "id": ids[4]}, nil)
	m.lagVector(t, byID[ids[4]])
	p.ok(ctx, "task_similar", map[string]any{"workspace": project, "text": "translate the documentation to German", "limit": 7}, &res)
	for _, m := range res.Tasks {
		if m.ID == ids[4] {
			t.Fatalf("a deleted task was returned: %+v", m)
		}
	}
	if res.Stale != 1 || len(res.Tasks) != 6 {
		t.Fatalf("after deleting a task: %d tasks, stale %d; want 6 and 1", len(res.Tasks), res.Stale)
	}

	for _, tc := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"text": " "}, "\"text\" is required"},
		{map[string]any{"text": "x", "status": []string{"done"}}, "statuses are"},
		{map[string]any{"text": "x", "limit": 0}, "between 1 and 100"},
	} {
		tc.args["workspace"] = project
		r := p.call(ctx, "task_similar", tc.args)
		if msg := text(r); !r.IsError || !strings.Contains(msg, tc.want) {
			t.Fatalf("task_similar %v: %v %q, want an error with %q", tc.args, r.IsError, msg, tc.want)
		}
	}
}

// Without the vector mirror or an embedding provider, task_similar says what to configure.
func TestTaskSimilarNamesTheMissingPiece(t *testing.T) {
	project := newProject(t)
	ctx := ctxT(t)
	noProvider := start(t, procOpts{dir: project, env: []string{"CHROMA_URL=" + chromaURL(t), "TASK_ORCHESTRATOR_EMBEDDINGS_PROVIDER="}})
	r := noProvider.call(ctx, "task_similar", map[string]any{"workspace": project, "text": "anything"})
	if msg := text(r); !r.IsError || !strings.Contains(msg, "embeddings.provider") || !strings.Contains(msg, "base_url") {
		t.Fatalf("without an embedding provider: %v %q", r.IsError, msg)
	}
	noChroma := start(t, procOpts{dir: project, env: append([]string{"CHROMA_URL=", "TASK_ORCHESTRATOR_CHROMA_COMMAND=", "PATH=/usr/bin:/bin"}, embedderEnv(t)...)})
	r = noChroma.call(ctx, "task_similar", map[string]any{"workspace": project, "text": "anything"})
	if msg := text(r); !r.IsError || !strings.Contains(msg, "CHROMA_URL") {
		t.Fatalf("without Chroma: %v %q", r.IsError, msg)
	}
	// Configured, but nothing mirrored yet.
	empty := start(t, procOpts{dir: project, env: append([]string{"CHROMA_URL=" + chromaURL(t)}, embedderEnv(t)...)})
	r = empty.call(ctx, "task_similar", map[string]any{"workspace": project, "text": "anything"})
	if msg := text(r); !r.IsError || !strings.Contains(msg, "task_reconcile") {
		t.Fatalf("with an empty mirror: %v %q", r.IsError, msg)
	}
}

// unrelatedTitles are task titles on topics far apart: a semantic search for
// one of them, reworded, should find it first.
var unrelatedTitles = []string{
	"Fix the crash on the sign-in page when the password field is left empty",
	"Write the quarterly marketing newsletter",
	"Upgrade the disks of the database server",
	"Plan the team offsite in Lisbon",
	"Translate the user guide into German",
	"Add a dark mode to the settings screen",
	"Speed up the nightly backup job",
	"Rotate the TLS certificates of the public API",
}
