package chroma_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/chroma"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// Provider local whose embedder is not installed: every call that needs text
// embedded answers why and the one step that fixes it; calls that bring
// their own vectors still work, and nothing is started.
func TestLocalProviderWithoutAnInstallSaysHowToInstallIt(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_DATA_HOME", "")
	ctx := context.Background()
	layout := project(t)
	s := open(t, remoteOptions(layout, workspace.Embeddings{Provider: "local", Timeout: 30}))
	if got := chroma.ProviderLabel(s); got != "local:all-MiniLM-L6-v2" {
		t.Errorf("provider local records %q, want local:all-MiniLM-L6-v2", got)
	}
	_, err := s.Upsert(ctx, "notes", []chroma.Document{{ID: "a", Text: "the nightly backup did not run"}})
	e := wantKind(t, err, chroma.KindEmbedding)
	want := "embeddings.provider local: the local embedder is not installed in " +
		filepath.Join(home, ".local", "share", "mcp-task-orchestrator", "embedder") +
		": run `mcp-task-orchestrator embedder install` (one step, about 230 MB on disk), or set embeddings.command to the python " +
		"of an embedder installed elsewhere"
	if e.Msg != want {
		t.Errorf("upsert with the embedder missing:\n%s\nwant\n%s", e.Msg, want)
	}
	vec := make([]float32, 384)
	vec[0] = 1
	if _, err := s.Upsert(ctx, "own", []chroma.Document{{ID: "a", Text: "brings its vector", Embedding: vec}}); err != nil {
		t.Errorf("upsert with its own vector under a missing embedder: %v", err)
	}

	missing := filepath.Join(t.TempDir(), "bin", "python")
	s2 := open(t, remoteOptions(project(t), workspace.Embeddings{Provider: "local", Command: missing, Timeout: 30}))
	_, err = s2.Upsert(ctx, "notes", []chroma.Document{{ID: "a", Text: "backup"}})
	wantKind(t, err, chroma.KindEmbedding, "embeddings.command "+missing+" is not a python that can be run (no such file)",
		"mcp-task-orchestrator embedder install --dir "+filepath.Dir(filepath.Dir(missing)))
}
