package mirror_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/chroma"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/neo4j"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/mirror"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"))
}

var quiet = slog.New(slog.DiscardHandler)

func env(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: run the tests with `bash integration/test-all.sh` (or source the env it writes), which starts Chroma and Neo4j", name)
	}
	return v
}

// taskStore creates a new project and opens its task store (closed by the
// caller's cleanup): its folder, layout and the defaults.
func taskStore(t testing.TB) (string, workspace.Layout, workspace.Config, *sqlite.Store) {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	layout, err := workspace.Ensure(dir)
	if err != nil {
		t.Fatal(err)
	}
	defs := workspace.Defaults()
	ts, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(layout.Databases, "tasks.db"), Workspace: dir,
		Settings: defs.DatabasePools.Operational, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return dir, layout, defs, ts
}

// project opens a task store and the real Chroma and Neo4j stores of a new project.
func project(t testing.TB) (*sqlite.Store, *chroma.Store, *neo4j.Store) {
	t.Helper()
	dir, layout, defs, ts := taskStore(t)
	ctx := context.Background()
	vs, err := chroma.Open(ctx, chroma.Options{Workspace: dir, Layout: layout, Settings: defs.DatabasePools.Vector,
		Backends:   workspace.Backends{ChromaURL: env(t, "TASK_ORCHESTRATOR_TEST_CHROMA_URL")},
		Embeddings: workspace.Embeddings{Provider: "lexical"}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	gs, err := neo4j.Open(ctx, neo4j.Options{Workspace: dir, Layout: layout, Settings: defs.DatabasePools.Graph, Logger: quiet,
		Backends: workspace.Backends{Neo4jURI: env(t, "TASK_ORCHESTRATOR_TEST_NEO4J_URI"), Neo4jUsername: "neo4j",
			Neo4jPassword: workspace.Secret(env(t, "TASK_ORCHESTRATOR_TEST_NEO4J_PASSWORD"))}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		_, _ = gs.DeleteNodes(ctx, mirror.TaskLabel, keys(t, gs))
		_ = vs.DropCollection(ctx, mirror.Collection)
		_ = gs.Close(ctx)
		_ = vs.Close(ctx)
		_ = ts.Close(ctx)
	})
	return ts, vs, gs
}

func keys(t testing.TB, gs *neo4j.Store) []string {
	k, err := gs.NodeKeys(context.Background(), mirror.TaskLabel)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func lend[T any](v T) mirror.Borrow[T] {
	return func(context.Context) (T, func(), error) { return v, func() {}, nil }
}

func start(t testing.TB, ts *sqlite.Store, vs *chroma.Store, gs *neo4j.Store) *mirror.Syncer {
	sy := mirror.Start(mirror.Config{Store: ts, Logger: quiet, Targets: []mirror.Target{
		mirror.VectorTarget{Borrow: lend(vs)}, mirror.GraphTarget{Borrow: lend(gs)}}})
	ts.OnOutbox(sy.Wake)
	t.Cleanup(func() {
		ts.OnOutbox(nil)
		if err := sy.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return sy
}

// drained waits until both mirrors have delivered every event.
func drained(t testing.TB, sy *mirror.Syncer) time.Duration {
	t.Helper()
	t0 := time.Now()
	for {
		st := sy.Status(context.Background())
		done := len(st) == 2
		for _, s := range st {
			if s.State != mirror.StateOK || s.Pending != 0 {
				done = false
			}
		}
		if done {
			return time.Since(t0)
		}
		if time.Since(t0) > time.Minute {
			t.Fatalf("mirrors not drained after a minute: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func vectorDoc(t testing.TB, vs *chroma.Store, id string) (chroma.Document, bool) {
	t.Helper()
	docs, err := vs.Get(context.Background(), chroma.GetRequest{Collection: mirror.Collection, IDs: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) == 0 {
		return chroma.Document{}, false
	}
	return docs[0], true
}

func vectorIDs(t testing.TB, vs *chroma.Store) []string {
	t.Helper()
	docs, err := vs.Get(context.Background(), chroma.GetRequest{Collection: mirror.Collection, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range docs {
		out = append(out, d.ID)
	}
	slices.Sort(out)
	return out
}

func edges(t testing.TB, gs *neo4j.Store) []string {
	t.Helper()
	es, err := mirror.GraphEdges(context.Background(), gs)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, e := range es {
		out = append(out, e.From+" "+e.Type+" "+e.To)
	}
	return out
}

func sorted(ids ...string) []string { s := slices.Clone(ids); slices.Sort(s); return s }

func ptr[T any](v T) *T { return &v }

func TestSyncerMirrorsEachTaskCurrentStateAndItsRelationships(t *testing.T) {
	ctx := context.Background()
	ts, vs, gs := project(t)
	sy := start(t, ts, vs, gs)
	a, err := ts.Create(ctx, sqlite.NewTask{Title: "design the schema", Role: "dev", Labels: []string{"db"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ts.Create(ctx, sqlite.NewTask{Title: "write the migration", DependsOn: []string{a.ID}})
	c, _ := ts.Create(ctx, sqlite.NewTask{Title: "review it", ParentID: a.ID})
	drained(t, sy)

	doc, ok := vectorDoc(t, vs, a.ID)
	if !ok || doc.Metadata[mirror.MetaRole] != "dev" || doc.Metadata[mirror.MetaStatus] != string(work.Pending) || doc.Text != mirror.DocumentText(a) {
		t.Fatalf("vector document of %s = %+v, %v", a.ID, doc, ok)
	}
	want := sorted(b.ID+" DEPENDS_ON "+a.ID, c.ID+" SUBTASK_OF "+a.ID)
	if got := edges(t, gs); !slices.Equal(got, want) {
		t.Fatalf("graph edges = %v, want %v", got, want)
	}

	// The role goes, the dependency goes, a subtask is deleted, a status changes.
	if _, err := ts.Update(ctx, a.ID, 0, sqlite.Patch{Role: ptr(""), Status: ptr(string(work.InProgress))}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.RemoveDependency(ctx, b.ID, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Delete(ctx, c.ID, false); err != nil {
		t.Fatal(err)
	}
	drained(t, sy)
	doc, _ = vectorDoc(t, vs, a.ID)
	if _, has := doc.Metadata[mirror.MetaRole]; has || doc.Metadata[mirror.MetaStatus] != string(work.InProgress) {
		t.Fatalf("after the role was cleared, the document's metadata is %v; want no role, status in_progress", doc.Metadata)
	}
	if got := edges(t, gs); len(got) != 0 {
		t.Fatalf("graph edges after removing them = %v", got)
	}
	live := sorted(a.ID, b.ID)
	if got := vectorIDs(t, vs); !slices.Equal(got, live) {
		t.Fatalf("vector ids = %v, want %v", got, live)
	}
	if got := keys(t, gs); !slices.Equal(got, live) {
		t.Fatalf("graph keys = %v, want %v", got, live)
	}

	// Someone else writes a stray task entry into both mirrors; reconcile removes it.
	stray := "tsk_00000000000000ff"
	if _, err := vs.Upsert(ctx, mirror.Collection, []chroma.Document{{ID: stray, Text: "stray"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := gs.MergeNode(ctx, mirror.NodeRef(stray), map[string]any{"title": "stray"}); err != nil {
		t.Fatal(err)
	}
	res, err := sy.Reconcile(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 {
		t.Fatalf("Reconcile = %+v", res)
	}
	for _, r := range res {
		if r.State != "done" || r.Tasks != 2 || r.Removed != 1 {
			t.Errorf("Reconcile(%s) = %+v, want 2 tasks written and 1 stale entry removed", r.Mirror, r)
		}
	}
	if got := vectorIDs(t, vs); !slices.Equal(got, live) {
		t.Fatalf("vector ids after reconcile = %v, want %v", got, live)
	}
	if got := keys(t, gs); !slices.Equal(got, live) {
		t.Fatalf("graph keys after reconcile = %v, want %v", got, live)
	}
}

// A batch of 256 changed tasks is delivered in a few round trips per mirror.
func TestSyncerDeliversLargeBatches(t *testing.T) {
	ctx := context.Background()
	ts, vs, gs := project(t)
	var prev string
	for i := range 1000 {
		nt := sqlite.NewTask{Title: fmt.Sprintf("task %d", i)}
		if prev != "" {
			nt.DependsOn = []string{prev}
		}
		task, err := ts.Create(ctx, nt)
		if err != nil {
			t.Fatal(err)
		}
		prev = task.ID
	}
	sy := start(t, ts, vs, gs)
	took := drained(t, sy)
	t.Logf("1000 tasks and 999 dependencies mirrored from a cold start in %v", took)
	if n := len(keys(t, gs)); n != 1000 {
		t.Fatalf("graph holds %d tasks, want 1000", n)
	}
	if n := len(edges(t, gs)); n != 999 {
		t.Fatalf("graph holds %d edges, want 999", n)
	}
	// The same through the outbox: 1000 more tasks while the syncer runs.
	t0 := time.Now()
	for i := range 1000 {
		if _, err := ts.Create(ctx, sqlite.NewTask{Title: fmt.Sprintf("more %d", i), DependsOn: []string{prev}}); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("1000 more tasks created in %v; mirrors drained %v later", time.Since(t0), drained(t, sy))
	if n := len(keys(t, gs)); n != 2000 {
		t.Fatalf("graph holds %d tasks, want 2000", n)
	}
	if n := len(edges(t, gs)); n != 1999 {
		t.Fatalf("graph holds %d edges, want 1999", n)
	}
}

// With no mirror configured nobody reads the outbox: it is emptied, and the
// syncer stops cleanly.
func TestSyncerWithoutMirrorsEmptiesTheOutbox(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ts, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, "tasks.db"), Workspace: dir,
		Settings: workspace.Defaults().DatabasePools.Operational, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close(ctx)
	for i := range 3 {
		if _, err := ts.Create(ctx, sqlite.NewTask{Title: fmt.Sprint("t", i)}); err != nil {
			t.Fatal(err)
		}
	}
	sy := mirror.Start(mirror.Config{Store: ts, Logger: quiet, Skipped: map[string]string{mirror.Vector: "no chroma", mirror.Graph: "no neo4j"}})
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs, err := ts.OutboxAfter(ctx, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox still holds %d events", len(evs))
		}
		time.Sleep(10 * time.Millisecond)
	}
	st := sy.Status(ctx)
	if len(st) != 2 || st[0].State != mirror.StateNotConfigured || st[0].Note != "no neo4j" && st[0].Note != "no chroma" {
		t.Fatalf("Status = %+v", st)
	}
	res, err := sy.Reconcile(ctx, []string{mirror.Vector})
	if err != nil || len(res) != 1 || res[0].State != mirror.StateNotConfigured {
		t.Fatalf("Reconcile(vector) = %+v, %v; want not configured", res, err)
	}
	if err := sy.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// At start-up a mirror found empty while SQLite has tasks, or whose cursor is
// behind pruned events, is rebuilt from SQLite.
func TestSyncerRebuildsAnEmptyOrStaleMirrorAtStartUp(t *testing.T) {
	ctx := context.Background()
	ts, vs, gs := project(t)
	a, _ := ts.Create(ctx, sqlite.NewTask{Title: "a"})
	b, _ := ts.Create(ctx, sqlite.NewTask{Title: "b", DependsOn: []string{a.ID}})
	live := sorted(a.ID, b.ID)
	run := func() {
		sy := mirror.Start(mirror.Config{Store: ts, Logger: quiet, Targets: []mirror.Target{
			mirror.VectorTarget{Borrow: lend(vs)}, mirror.GraphTarget{Borrow: lend(gs)}}})
		drained(t, sy)
		if err := sy.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		if got := vectorIDs(t, vs); !slices.Equal(got, live) {
			t.Fatalf("vector ids = %v, want %v", got, live)
		}
		if got := edges(t, gs); !slices.Equal(got, []string{b.ID + " DEPENDS_ON " + a.ID}) {
			t.Fatalf("graph edges = %v", got)
		}
	}
	run()

	// Both mirrors wiped behind the syncer's back: the cursors say all was
	// delivered, yet the mirrors are empty.
	if err := vs.DropCollection(ctx, mirror.Collection); err != nil {
		t.Fatal(err)
	}
	if _, err := gs.DeleteNodes(ctx, mirror.TaskLabel, keys(t, gs)); err != nil {
		t.Fatal(err)
	}
	run()

	// Events pruned before the mirrors saw them (as when no mirror was
	// configured for a while): the cursors are behind the pruned mark.
	c, _ := ts.Create(ctx, sqlite.NewTask{Title: "c", ParentID: a.ID})
	if _, err := ts.PruneOutbox(ctx, nil); err != nil {
		t.Fatal(err)
	}
	st, err := ts.MirrorState(ctx, mirror.Vector)
	if err != nil || !st.Behind() {
		t.Fatalf("after pruning, vector state = %+v, %v; want behind", st, err)
	}
	live = sorted(a.ID, b.ID, c.ID)
	sy := mirror.Start(mirror.Config{Store: ts, Logger: quiet, Targets: []mirror.Target{
		mirror.VectorTarget{Borrow: lend(vs)}, mirror.GraphTarget{Borrow: lend(gs)}}})
	drained(t, sy)
	if err := sy.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if got := vectorIDs(t, vs); !slices.Equal(got, live) {
		t.Fatalf("vector ids after a rebuild past pruned events = %v, want %v", got, live)
	}
	if got := edges(t, gs); !slices.Equal(got, sorted(b.ID+" DEPENDS_ON "+a.ID, c.ID+" SUBTASK_OF "+a.ID)) {
		t.Fatalf("graph edges after a rebuild past pruned events = %v", got)
	}
}

// Two syncers on one task database (two server processes on one project):
// one delivers, the other stands by, and takes over when the first stops.
func TestOnlyOneSyncerDeliversToAMirrorAtATime(t *testing.T) {
	ctx := context.Background()
	ts, vs, gs := project(t)
	targets := []mirror.Target{mirror.VectorTarget{Borrow: lend(vs)}, mirror.GraphTarget{Borrow: lend(gs)}}
	first := mirror.Start(mirror.Config{Store: ts, Logger: quiet, Targets: targets})
	a, _ := ts.Create(ctx, sqlite.NewTask{Title: "a"})
	first.Wake()
	drained(t, first)
	second := mirror.Start(mirror.Config{Store: ts, Logger: quiet, Targets: targets, Poll: 50 * time.Millisecond})
	defer second.Stop(ctx)
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := second.Status(ctx)
		if st[0].State == mirror.StateStandby && st[1].State == mirror.StateStandby {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("second syncer: %+v, want both mirrors on standby", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	res, err := second.Reconcile(ctx, []string{mirror.Graph})
	if err != nil || len(res) != 1 || res[0].State != mirror.StateStandby {
		t.Fatalf("Reconcile on the standby syncer = %+v, %v", res, err)
	}
	if err := first.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	b, _ := ts.Create(ctx, sqlite.NewTask{Title: "b", DependsOn: []string{a.ID}})
	drained(t, second)
	if got := vectorIDs(t, vs); !slices.Equal(got, sorted(a.ID, b.ID)) {
		t.Fatalf("after the takeover, vector ids = %v", got)
	}
	if got := edges(t, gs); !slices.Equal(got, []string{b.ID + " DEPENDS_ON " + a.ID}) {
		t.Fatalf("after the takeover, graph edges = %v", got)
	}
}
