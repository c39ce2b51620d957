package chroma_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/chroma"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// A real Chroma, never a mock: integration/test-all.sh installs the pinned
// chromadb, starts a shared server and exports both variables.
var (
	chromaCommand string // the `chroma` executable (managed mode, outage test)
	chromaURL     string // a running server shared by the remote-mode tests
)

func TestMain(m *testing.M) {
	chromaCommand = os.Getenv("TASK_ORCHESTRATOR_TEST_CHROMA_COMMAND")
	chromaURL = os.Getenv("TASK_ORCHESTRATOR_TEST_CHROMA_URL")
	if chromaCommand == "" || chromaURL == "" {
		fmt.Fprintln(os.Stderr, "adapters/chroma: these tests need a real Chroma server, and "+
			"TASK_ORCHESTRATOR_TEST_CHROMA_COMMAND / TASK_ORCHESTRATOR_TEST_CHROMA_URL are not set.\n"+
			"Run `bash integration/test-all.sh` (it installs and starts one), or start one yourself:\n"+
			"  export TASK_ORCHESTRATOR_TEST_CHROMA_COMMAND=$(bash integration/chroma.sh install)\n"+
			"  read TASK_ORCHESTRATOR_TEST_CHROMA_URL PID < <(bash integration/chroma.sh start /tmp/chroma-test)\n"+
			"  export TASK_ORCHESTRATOR_TEST_CHROMA_URL")
		os.Exit(2)
	}
	goleak.VerifyTestMain(m)
}

var quiet = slog.New(slog.DiscardHandler)

// lexicalEmbeddings is the offline provider the tests use.
var lexicalEmbeddings = workspace.Embeddings{Provider: "lexical", Timeout: 30}

// project makes a fresh project root (its own database on the shared server).
func project(t testing.TB) workspace.Layout {
	t.Helper()
	root := filepath.Join(t.TempDir(), "proj")
	layout, err := workspace.Ensure(root)
	if err != nil {
		if mkErr := os.MkdirAll(root, 0o700); mkErr != nil {
			t.Fatal(mkErr)
		}
		if layout, err = workspace.Ensure(root); err != nil {
			t.Fatalf("workspace.Ensure(%s): %v", root, err)
		}
	}
	return layout
}

func noChroma(string) (string, error) { return "", errors.New("not found") }

// remoteOptions reaches the shared test server, one database per layout.
func remoteOptions(layout workspace.Layout, emb workspace.Embeddings) chroma.Options {
	return chroma.Options{
		Workspace:  layout.Root,
		Layout:     layout,
		Settings:   workspace.Defaults().DatabasePools.Vector,
		Backends:   workspace.Backends{ChromaURL: chromaURL},
		Embeddings: emb,
		Logger:     quiet,
		LookPath:   noChroma,
	}
}

func open(t testing.TB, opts chroma.Options) *chroma.Store {
	t.Helper()
	s, err := chroma.Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// wantKind fails unless err is a *chroma.Error of kind k whose message holds every part.
func wantKind(t testing.TB, err error, k chroma.Kind, parts ...string) *chroma.Error {
	t.Helper()
	var e *chroma.Error
	if !errors.As(err, &e) || e.Kind != k {
		t.Fatalf("error = %v (%T), want kind %s", err, err, k)
	}
	for _, p := range parts {
		if !strings.Contains(e.Msg, p) {
			t.Errorf("message %q does not mention %q", e.Msg, p)
		}
	}
	return e
}

func count(t testing.TB, s *chroma.Store, collection string) int {
	t.Helper()
	cols, err := s.Collections(context.Background())
	if err != nil {
		t.Fatalf("Collections: %v", err)
	}
	for _, c := range cols {
		if c.Name == collection {
			return c.Count
		}
	}
	return -1
}

func docs(n int, prefix string) []chroma.Document {
	out := make([]chroma.Document, n)
	for i := range out {
		out[i] = chroma.Document{
			ID:       fmt.Sprintf("%s-%03d", prefix, i),
			Text:     fmt.Sprintf("%s document number %d", prefix, i),
			Metadata: map[string]any{"n": i, "even": i%2 == 0, "prefix": prefix},
		}
	}
	return out
}
