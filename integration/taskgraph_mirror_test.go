package integration

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/chroma"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/neo4j"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/mirror"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// The tests of the mirror readers (task_graph, task_similar, task_link) need
// mirrors that hold a project's tasks. Until the outbox syncer lands, fillMirrors
// writes them here, strictly through mirror/contract.go: the same documents,
// nodes and relationships the syncer writes. To use the real syncer, replace
// the body of fillMirrors with "wait until pool_status reports no lag".

// embedderModel is the model integration/embedder.sh serves.
const embedderModel = "all-MiniLM-L6-v2"

func embedderURL(t testing.TB) string {
	t.Helper()
	v := os.Getenv("TASK_ORCHESTRATOR_TEST_EMBEDDER_URL")
	if v == "" {
		t.Fatal("TASK_ORCHESTRATOR_TEST_EMBEDDER_URL is not set: run the tests with `bash integration/test-all.sh`, " +
			"which installs and starts the local embedding model (integration/embedder.sh start)")
	}
	return v
}

// embedderEnv configures the server's embeddings with the local model.
func embedderEnv(t testing.TB) []string {
	return []string{"TASK_ORCHESTRATOR_EMBEDDINGS_PROVIDER=openai", "TASK_ORCHESTRATOR_EMBEDDINGS_URL=" + embedderURL(t),
		"TASK_ORCHESTRATOR_EMBEDDINGS_MODEL=" + embedderModel}
}

// mirrorTargets says which mirrors fillMirrors writes.
type mirrorTargets struct {
	graph  bool // the shared test Neo4j (what sharedNeo4jEnv gives the server)
	vector bool // the shared test Chroma with the local embedder (CHROMA_URL + embedderEnv)
}

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// projectTasks reads every task of a project from its SQLite file.
func projectTasks(t testing.TB, project string) []sqlite.Task {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(project, ".task_orchestrator", "databases", "tasks.db"),
		Workspace: project, Settings: workspace.Defaults().DatabasePools.Operational, BusyTimeout: 5 * time.Second, Logger: quietLog})
	if err != nil {
		t.Fatalf("opening the project's task database: %v", err)
	}
	defer s.Close(ctx)
	var all []sqlite.Task
	cursor := ""
	for {
		page, next, err := s.List(ctx, sqlite.Filter{Limit: 200, Cursor: cursor})
		if err != nil {
			t.Fatalf("listing tasks: %v", err)
		}
		all = append(all, page...)
		if next == "" {
			return all
		}
		cursor = next
	}
}

// mirrored is what fillMirrors wrote, and the graph store it wrote with.
type mirrored struct {
	tasks  []sqlite.Task
	graph  *neo4j.Store  // nil unless the graph was filled
	vector *chroma.Store // nil unless the vectors were filled
}

// lagVector makes the vector mirror lag behind SQLite for one task: it puts
// back the task's document as it was mirrored (old), once a syncer, where
// there is one, has delivered the task's later change (it waits up to 2 s
// for the document to change or go). With no further change to the task,
// nothing overwrites it.
func (m mirrored) lagVector(t testing.TB, old sqlite.Task) {
	t.Helper()
	ctx := context.Background()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		docs, err := m.vector.Get(ctx, chroma.GetRequest{Collection: mirror.Collection, IDs: []string{old.ID}})
		if err != nil {
			t.Fatal(err)
		}
		if len(docs) == 0 || fmt.Sprint(docs[0].Metadata[mirror.MetaVersion]) != fmt.Sprint(old.Version) {
			break
		}
	}
	if _, err := m.vector.Upsert(ctx, mirror.Collection, []chroma.Document{mirror.Document(old)}); err != nil {
		t.Fatal(err)
	}
}

// waitForSyncer waits until every mirror in to that the server's own syncer
// reports (pool_status "mirrors", once the outbox syncer is in) has delivered
// everything: state ok, nothing pending. Without a syncer it returns at once.
func waitForSyncer(t testing.TB, p *proc, project string, to mirrorTargets) {
	t.Helper()
	want := map[string]bool{"vector": to.vector, "graph": to.graph}
	var last []map[string]any
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var st struct {
			Workspaces []struct {
				Mirrors []map[string]any `json:"mirrors"`
			} `json:"workspaces"`
		}
		p.ok(ctxT(t), "pool_status", map[string]any{"workspace": project}, &st)
		if len(st.Workspaces) == 0 {
			continue
		}
		last = st.Workspaces[0].Mirrors
		seen := map[string]bool{}
		done := true
		for _, m := range last {
			name, _ := m["mirror"].(string)
			seen[name] = true
			if want[name] && (m["state"] != "ok" || m["pending"] != float64(0)) {
				done = false
			}
		}
		for name, w := range want {
			if w && !seen[name] {
				done = false // the server does not mirror there (yet)
			}
		}
		if done {
			return
		}
	}
	t.Fatalf("the server's mirrors did not catch up within 2 minutes: %v", last)
}

// fillMirrors waits until the server's own syncer has delivered every task
// of the project into the chosen mirrors, and opens them for the test to
// read. When the test ends it stops the server p (so that nothing writes the
// mirrors any more) and removes the project's mirror data.
func fillMirrors(t testing.TB, p *proc, project string, to mirrorTargets) mirrored {
	t.Helper()
	ctx := context.Background()
	waitForSyncer(t, p, project, to)
	tasks := projectTasks(t, project)
	out := mirrored{tasks: tasks}
	layout := workspace.LayoutFor(project)
	if to.graph {
		opts := neo4j.Options{Workspace: project, Layout: layout, Settings: workspace.Defaults().DatabasePools.Graph,
			Backends: workspace.Backends{Neo4jURI: neo4jEnvVar(t, "TASK_ORCHESTRATOR_TEST_NEO4J_URI"), Neo4jUsername: "neo4j",
				Neo4jPassword:          workspace.Secret(neo4jEnvVar(t, "TASK_ORCHESTRATOR_TEST_NEO4J_PASSWORD")),
				Neo4jDedicatedProjects: []string{project}}, // raw Cypher, for the clean-up only
			Logger: quietLog}
		gs, err := neo4j.Open(ctx, opts)
		if err != nil {
			t.Fatalf("opening the graph mirror: %v", err)
		}
		out.graph = gs
		t.Cleanup(func() {
			p.close()
			if _, err := gs.Write(context.Background(), "MATCH (n) WHERE n._project = $p DETACH DELETE n",
				map[string]any{"p": neo4j.ProjectID(project)}); err != nil {
				t.Errorf("removing the test's nodes from the shared Neo4j: %v", err)
			}
			_ = gs.Close(context.Background())
		})
	}
	if to.vector {
		vs, err := chroma.Open(ctx, chroma.Options{Workspace: project, Layout: layout, Settings: workspace.Defaults().DatabasePools.Vector,
			Backends:   workspace.Backends{ChromaURL: chromaURL(t)},
			Embeddings: workspace.Embeddings{Provider: "openai", BaseURL: embedderURL(t), Model: embedderModel},
			Logger:     quietLog})
		if err != nil {
			t.Fatalf("opening the vector mirror: %v", err)
		}
		out.vector = vs
		t.Cleanup(func() {
			p.close()
			if err := vs.DropCollection(context.Background(), mirror.Collection); err != nil && !chroma.IsKind(err, chroma.KindNotFound) {
				t.Errorf("dropping the test's collection: %v", err)
			}
			_ = vs.Close(context.Background())
		})
	}
	return out
}
