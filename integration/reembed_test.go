package integration

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/chroma"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/mirror"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

type collectionsOut struct {
	Collections []chroma.CollectionInfo `json:"collections"`
}

func collectionInfo(t *testing.T, p *proc, project, name string) chroma.CollectionInfo {
	t.Helper()
	var cols collectionsOut
	p.ok(ctxT(t), "vector_collections", map[string]any{"workspace": project}, &cols)
	for _, c := range cols.Collections {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no collection %q among %+v", name, cols.Collections)
	return chroma.CollectionInfo{}
}

type reconcileOut struct {
	Mirrors []mirror.ReconcileResult `json:"mirrors"`
}

// Changing the embedding provider of a mirrored project: the task mirror
// (the server's own collection) is rebuilt under the new provider, by the
// start-up and by task_reconcile, and task_similar answers with it; nothing
// is lost; a user's collection filled under the old provider still refuses
// the new one, with the steps to move it.
func TestChangingTheEmbeddingRebuildsTheTaskMirror(t *testing.T) {
	project := newProject(t)
	ctx := ctxT(t)
	offline := []string{"CHROMA_URL=" + chromaURL(t), "TASK_ORCHESTRATOR_EMBEDDINGS_PROVIDER=lexical"}
	model := append([]string{"CHROMA_URL=" + chromaURL(t)}, embedderEnv(t)...)
	newLabel := "openai:" + embedderModel

	// Provider A (offline): tasks mirrored, and a collection of the user's.
	a := start(t, procOpts{dir: project, env: offline})
	titles := unrelatedTitles
	ids := map[string]string{}
	for _, title := range titles {
		var out taskOut
		a.ok(ctx, "task_create", map[string]any{"workspace": project, "title": title}, &out)
		ids[title] = out.Task.ID
	}
	a.ok(ctx, "vector_upsert", map[string]any{"workspace": project, "collection": "notes",
		"documents": []map[string]any{{"id": "n1", "text": "the staging database is slow on Mondays"}}}, nil)
	waitForSyncer(t, a, project, mirrorTargets{vector: true})
	underA := collectionInfo(t, a, project, mirror.Collection)
	notesA := collectionInfo(t, a, project, "notes")
	if underA.Count != len(titles) || underA.Embedding == newLabel || notesA.Embedding != underA.Embedding {
		t.Fatalf("under provider A: tasks %+v, notes %+v; want %d tasks and both from the offline provider", underA, notesA, len(titles))
	}
	t.Logf("provider A: tasks collection %s, %d dimensions, %d documents", underA.Embedding, underA.Dimensions, underA.Count)
	a.close()

	// Restarted with provider B (the local model): the documented fix.
	b := start(t, procOpts{dir: project, env: model})
	var rec reconcileOut
	b.ok(ctx, "task_reconcile", map[string]any{"workspace": project, "mirror": "vector"}, &rec)
	if len(rec.Mirrors) != 1 || rec.Mirrors[0].State != "done" || rec.Mirrors[0].Tasks != len(titles) {
		t.Fatalf("task_reconcile after the restart = %+v, want done with %d tasks", rec.Mirrors, len(titles))
	}
	// The start-up or the reconcile, whichever ran first, rebuilt it.
	checkRebuilt := func(when string) {
		t.Helper()
		waitForSyncer(t, b, project, mirrorTargets{vector: true})
		in := collectionInfo(t, b, project, mirror.Collection)
		sqliteTasks := projectTasks(t, project)
		if in.Embedding != newLabel || in.Dimensions != 384 || in.Count != len(sqliteTasks) || len(sqliteTasks) != len(titles) {
			t.Fatalf("%s: tasks collection %+v, %d tasks in SQLite; want %s, 384 dimensions, %d documents",
				when, in, len(sqliteTasks), newLabel, len(titles))
		}
		for _, title := range []string{titles[0], titles[4], titles[7]} {
			var res similarOut
			b.ok(ctx, "task_similar", map[string]any{"workspace": project, "text": title, "limit": 3}, &res)
			if len(res.Tasks) == 0 || res.Tasks[0].ID != ids[title] {
				t.Fatalf("%s: task_similar with the exact title %q = %+v, want %s first", when, title, res.Tasks, ids[title])
			}
		}
		t.Logf("%s: tasks collection %s, %d dimensions, %d documents = %d tasks in SQLite", when, in.Embedding, in.Dimensions, in.Count, len(sqliteTasks))
	}
	checkRebuilt("after the restart")

	// Deterministically through task_reconcile: the collection filled with
	// provider A's vectors again, behind the server's back.
	layout := workspace.LayoutFor(project)
	old, err := chroma.Open(context.Background(), chroma.Options{Workspace: project, Layout: layout,
		Settings: workspace.Defaults().DatabasePools.Vector, Backends: workspace.Backends{ChromaURL: chromaURL(t)},
		Embeddings: workspace.Embeddings{Provider: "lexical"}, Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.close()
		for _, c := range []string{mirror.Collection, "notes"} {
			if err := old.DropCollection(context.Background(), c); err != nil && !chroma.IsKind(err, chroma.KindNotFound) {
				t.Errorf("dropping %s: %v", c, err)
			}
		}
		_ = old.Close(context.Background())
	})
	if err := old.ResetCollection(ctx, mirror.Collection); err != nil {
		t.Fatal(err)
	}
	var docs []chroma.Document
	for _, tk := range projectTasks(t, project) {
		docs = append(docs, mirror.Document(tk))
	}
	if _, err := old.Upsert(ctx, mirror.Collection, docs); err != nil {
		t.Fatal(err)
	}
	// Until it is rebuilt, task_similar says what is wrong and what to do.
	res := b.call(ctx, "task_similar", map[string]any{"workspace": project, "text": titles[0]})
	wantSimilar := `embedding_error: the vector mirror (collection "tasks") holds vectors from ` + underA.Embedding + " (" +
		strconv.Itoa(underA.Dimensions) + " dimensions), but the configured embedding provider is " + newLabel +
		`: the server rebuilds the mirror by itself; run task_reconcile with mirror "vector" to do it now, and if pool_status ` +
		"shows the mirror in standby, give every server process on this project the same embeddings settings"
	if got := text(res); !res.IsError || got != wantSimilar {
		t.Fatalf("task_similar over provider A's vectors: %v\n%s\nwant\n%s", res.IsError, got, wantSimilar)
	}
	var msg string
	res = b.call(ctx, "task_reconcile", map[string]any{"workspace": project, "mirror": "vector"})
	if msg = text(res); res.IsError {
		t.Fatalf("task_reconcile over provider A's vectors failed: %s", msg)
	}
	decode(t, res, &rec)
	wantDetail := "the tasks collection held vectors from " + underA.Embedding + " (" + strconv.Itoa(underA.Dimensions) +
		" dimensions), but the configured embedding provider is " + newLabel + "; rebuilt it with " + newLabel
	if len(rec.Mirrors) != 1 || rec.Mirrors[0].State != "done" || rec.Mirrors[0].Detail != wantDetail {
		t.Fatalf("task_reconcile over provider A's vectors = %+v, want done with detail %q", rec.Mirrors, wantDetail)
	}
	if !strings.Contains(msg, wantDetail) {
		t.Fatalf("task_reconcile's text %q does not say %q", msg, wantDetail)
	}
	t.Logf("task_reconcile: %s", msg)
	checkRebuilt("after task_reconcile")

	// The user's collection was not touched, and refuses provider B with the steps.
	notes := collectionInfo(t, b, project, "notes")
	if notes.Embedding != notesA.Embedding || notes.Count != 1 {
		t.Fatalf("the user's collection after the provider change = %+v, want %+v", notes, notesA)
	}
	res = b.call(ctx, "vector_upsert", map[string]any{"workspace": project, "collection": "notes",
		"documents": []map[string]any{{"id": "n2", "text": "the backup job overlaps with the report export"}}})
	want := `embedding_error: collection "notes" holds vectors from ` + notesA.Embedding + ", but the configured embedding provider is " +
		newLabel + ", and vectors of different models cannot be compared: to move the collection to " + newLabel +
		", read its documents with vector_get (1000 per call, paged with offset), drop it with vector_drop_collection, " +
		"then vector_upsert them again without embeddings; or set embeddings.provider/model back to " + notesA.Embedding
	if got := text(res); !res.IsError || got != want {
		t.Fatalf("vector_upsert into the user's collection under B: %v\n%s\nwant\n%s", res.IsError, got, want)
	}
	ids2 := slices.Sorted(maps.Values(ids))
	var got []string
	for _, tk := range projectTasks(t, project) {
		got = append(got, tk.ID)
	}
	slices.Sort(got)
	if !slices.Equal(got, ids2) {
		t.Fatalf("tasks in SQLite after all this = %v, want %v", got, ids2)
	}
}
