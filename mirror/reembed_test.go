package mirror_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/chroma"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/mirror"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// vectorProject opens the task store of a new project and a Chroma store per
// embedding size given (the same project's database, two configurations).
func vectorProject(t *testing.T, dims ...int) (*sqlite.Store, []*chroma.Store) {
	t.Helper()
	dir, layout, defs, ts := taskStore(t)
	ctx := context.Background()
	var stores []*chroma.Store
	for _, d := range dims {
		vs, err := chroma.Open(ctx, chroma.Options{Workspace: dir, Layout: layout, Settings: defs.DatabasePools.Vector,
			Backends:   workspace.Backends{ChromaURL: env(t, "TASK_ORCHESTRATOR_TEST_CHROMA_URL")},
			Embeddings: workspace.Embeddings{Provider: "lexical", Dimensions: d}, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, vs)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		_ = stores[0].DropCollection(ctx, mirror.Collection)
		_ = stores[0].DropCollection(ctx, "notes")
		for _, vs := range stores {
			_ = vs.Close(ctx)
		}
		_ = ts.Close(ctx)
	})
	return ts, stores
}

func startVector(t *testing.T, ts *sqlite.Store, vs *chroma.Store) *mirror.Syncer {
	t.Helper()
	sy := mirror.Start(mirror.Config{Store: ts, Logger: quiet, MinBackoff: 10 * time.Millisecond,
		Targets: []mirror.Target{mirror.VectorTarget{Borrow: lend(vs)}}})
	ts.OnOutbox(sy.Wake)
	return sy
}

func stopVector(t *testing.T, ts *sqlite.Store, sy *mirror.Syncer) {
	t.Helper()
	ts.OnOutbox(nil)
	if err := sy.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// vectorDrained waits until the vector mirror has delivered every event.
func vectorDrained(t *testing.T, sy *mirror.Syncer) {
	t.Helper()
	t0 := time.Now()
	for {
		st := sy.Status(context.Background())
		if len(st) == 1 && st[0].State == mirror.StateOK && st[0].Pending == 0 {
			return
		}
		if time.Since(t0) > time.Minute {
			t.Fatalf("vector mirror not drained after a minute: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func tasksInfo(t *testing.T, vs *chroma.Store) chroma.CollectionInfo {
	t.Helper()
	infos, err := vs.Collections(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range infos {
		if in.Name == mirror.Collection {
			return in
		}
	}
	t.Fatalf("no %s collection among %+v", mirror.Collection, infos)
	return chroma.CollectionInfo{}
}

// The task mirror follows a change of embedding by itself: at start-up, on
// task_reconcile, and when an ordinary delivery meets vectors of another
// embedding; a user's collection keeps refusing.
func TestVectorMirrorIsRebuiltUnderANewEmbedding(t *testing.T) {
	ctx := context.Background()
	ts, stores := vectorProject(t, 384, 128)
	a, b := stores[0], stores[1]
	var ids []string
	for _, title := range []string{"health endpoint", "login page", "rate limiter"} {
		tk, err := ts.Create(ctx, sqlite.NewTask{Title: title})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tk.ID)
	}
	slices.Sort(ids)
	if _, err := a.Upsert(ctx, "notes", []chroma.Document{{ID: "n1", Text: "a note"}}); err != nil {
		t.Fatal(err)
	}

	// Provider A mirrors the tasks.
	sy := startVector(t, ts, a)
	vectorDrained(t, sy)
	stopVector(t, ts, sy)
	if in := tasksInfo(t, a); in.Dimensions != 384 || in.Count != 3 {
		t.Fatalf("under A: %+v, want 384 dimensions and 3 tasks", in)
	}

	// Restarted with B: the start-up finds the drift and rebuilds.
	sy = startVector(t, ts, b)
	vectorDrained(t, sy)
	if in := tasksInfo(t, b); in.Dimensions != 128 || in.Count != 3 {
		t.Fatalf("after a start-up under B: %+v, want 128 dimensions and 3 tasks", in)
	}
	if got := vectorIDs(t, b); !slices.Equal(got, ids) {
		t.Fatalf("ids after the start-up rebuild = %v, want %v", got, ids)
	}

	// Another configuration re-creates the collection behind the syncer's
	// back (a process with other settings): task_reconcile rebuilds it.
	if err := a.ResetCollection(ctx, mirror.Collection); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Upsert(ctx, mirror.Collection, []chroma.Document{{ID: ids[0], Text: "health endpoint"}}); err != nil {
		t.Fatal(err)
	}
	res, err := sy.Reconcile(ctx, []string{mirror.Vector})
	if err != nil {
		t.Fatal(err)
	}
	want := "the tasks collection held vectors from lexical-v1 (384 dimensions), but the configured embedding provider is " +
		"lexical-v1 (128 dimensions); rebuilt it with lexical-v1"
	if len(res) != 1 || res[0].State != "done" || res[0].Tasks != 3 || res[0].Detail != want {
		t.Fatalf("reconcile = %+v, want done, 3 tasks, detail %q", res, want)
	}
	if in := tasksInfo(t, b); in.Dimensions != 128 || in.Count != 3 {
		t.Fatalf("after task_reconcile: %+v, want 128 dimensions and 3 tasks", in)
	}

	// Again behind its back, then an ordinary delivery: it meets the other
	// embedding and the syncer rebuilds instead of retrying forever.
	if err := a.ResetCollection(ctx, mirror.Collection); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Upsert(ctx, mirror.Collection, []chroma.Document{{ID: ids[0], Text: "health endpoint"}}); err != nil {
		t.Fatal(err)
	}
	c, err := ts.Create(ctx, sqlite.NewTask{Title: "cache warmer"})
	if err != nil {
		t.Fatal(err)
	}
	ids = append(ids, c.ID)
	slices.Sort(ids)
	vectorDrained(t, sy)
	stopVector(t, ts, sy)
	if in := tasksInfo(t, b); in.Dimensions != 128 || in.Count != 4 {
		t.Fatalf("after a delivery met the other embedding: %+v, want 128 dimensions and 4 tasks", in)
	}
	if got := vectorIDs(t, b); !slices.Equal(got, ids) {
		t.Fatalf("ids after the delivery rebuild = %v, want %v", got, ids)
	}

	// The user's collection was left alone and still refuses B.
	_, err = b.Upsert(ctx, "notes", []chroma.Document{{ID: "n2", Text: "another note"}})
	wantErr := `collection "notes" holds 384-dimensional vectors but lexical-v1 now gives 128 dimensions: ` +
		"set embeddings.dimensions back, or use a new collection"
	if err == nil || err.Error() != wantErr {
		t.Fatalf("upsert into the user's collection under B = %v, want %q", err, wantErr)
	}
	if docs, err := b.Get(ctx, chroma.GetRequest{Collection: "notes"}); err != nil || len(docs) != 1 {
		t.Fatalf("user collection after all this = %v, %v; want its one document", docs, err)
	}
}

// A syncer in standby (another process delivers) never drops the mirror,
// even when its own configuration differs.
func TestStandbySyncerNeverResetsTheMirror(t *testing.T) {
	ctx := context.Background()
	ts, stores := vectorProject(t, 384, 128)
	a, b := stores[0], stores[1]
	if _, err := ts.Create(ctx, sqlite.NewTask{Title: "health endpoint"}); err != nil {
		t.Fatal(err)
	}
	first := startVector(t, ts, a)
	vectorDrained(t, first)
	second := mirror.Start(mirror.Config{Store: ts, Logger: quiet, Targets: []mirror.Target{mirror.VectorTarget{Borrow: lend(b)}}})
	res, err := second.Reconcile(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].State != mirror.StateStandby {
		t.Fatalf("reconcile on the standby syncer = %+v, want standby", res)
	}
	if err := second.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	stopVector(t, ts, first)
	if in := tasksInfo(t, a); in.Dimensions != 384 || in.Count != 1 {
		t.Fatalf("after the standby's reconcile: %+v, want the first syncer's 384 dimensions and 1 task", in)
	}
	if !strings.Contains(res[0].Detail, "another server process") {
		t.Fatalf("standby detail = %q", res[0].Detail)
	}
}
