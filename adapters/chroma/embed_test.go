package chroma_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/amikos-tech/chroma-go/pkg/embeddings"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/chroma"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

var defaultEmbeddings = workspace.Embeddings{Provider: "default", Timeout: 2}

func TestDefaultModelThatCannotBeDownloadedIsAnEmbeddingError(t *testing.T) {
	restore := chroma.SetLoadONNX(func() (embeddings.EmbeddingFunction, error) {
		return nil, errors.New("failed to make HTTP request: dial tcp: lookup chroma-onnx-models.s3.amazonaws.com: no such host")
	})
	defer restore()
	ctx := context.Background()
	s := open(t, remoteOptions(project(t), defaultEmbeddings))
	_, err := s.Upsert(ctx, "notes", docs(2, "d"))
	wantKind(t, err, chroma.KindEmbedding, "the default ONNX embedding model could not be loaded",
		"configure embeddings.provider openai/ollama/lexical, or send embeddings", "no such host")
	if c := count(t, s, "notes"); c != -1 {
		t.Errorf("a refused upsert created the collection (%d documents)", c)
	}
}

func TestDefaultModelStillLoadingFailsWithinTheEmbeddingTimeout(t *testing.T) {
	release := make(chan struct{})
	restore := chroma.SetLoadONNX(func() (embeddings.EmbeddingFunction, error) {
		<-release // a download that hangs
		return nil, errors.New("gave up")
	})
	defer restore()
	ctx := context.Background()
	s, err := chroma.Open(ctx, remoteOptions(project(t), defaultEmbeddings))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = s.Upsert(ctx, "notes", docs(1, "d"))
	elapsed := time.Since(start)
	wantKind(t, err, chroma.KindEmbedding, "could not be loaded", "still loading after 2s")
	if elapsed > 20*time.Second {
		t.Errorf("the call took %s; the embedding timeout is 2s", elapsed)
	}
	close(release)
	// Close waits for the loading goroutine the store started.
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestDefaultModelThatLoadsIsUsedAndRecorded(t *testing.T) {
	restore := chroma.SetLoadONNX(func() (embeddings.EmbeddingFunction, error) {
		return embeddings.NewConsistentHashEmbeddingFunction(), nil // 384 dimensions, like all-MiniLM-L6-v2
	})
	defer restore()
	ctx := context.Background()
	s := open(t, remoteOptions(project(t), defaultEmbeddings))
	res, err := s.Upsert(ctx, "notes", docs(3, "d"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Embedding != "default:all-MiniLM-L6-v2" || res.Dimensions != 384 {
		t.Errorf("Upsert = %+v", res)
	}
	m, err := s.Query(ctx, chroma.QueryRequest{Collection: "notes", Text: "d document number 2", NResults: 1})
	if err != nil || len(m) != 1 || m[0].ID != "d-002" {
		t.Errorf("Query = %+v, %v", m, err)
	}
}

// TestDefaultModelOnThisMachine tries the real loader. Where the internet
// cannot be reached (these test machines) it must fail within the embedding
// timeout with the message that says what to configure instead.
func TestDefaultModelOnThisMachine(t *testing.T) {
	if _, err := net.LookupHost("chroma-onnx-models.s3.amazonaws.com"); err == nil {
		t.Log("the model host resolves here: the real download is not exercised (the stubbed loaders above cover the paths)")
		return
	}
	t.Setenv("HOME", t.TempDir()) // chroma-go caches the runtime and model under $HOME/.cache/chroma
	ctx := context.Background()
	s := open(t, remoteOptions(project(t), defaultEmbeddings))
	start := time.Now()
	_, err := s.Query(ctx, chroma.QueryRequest{Collection: "notes", Text: "x"})
	wantKind(t, err, chroma.KindNotFound) // no collection yet: refused before embedding
	_, err = s.Upsert(ctx, "notes", docs(1, "d"))
	wantKind(t, err, chroma.KindEmbedding, "the default ONNX embedding model could not be loaded", "cannot reach the internet")
	if elapsed := time.Since(start); elapsed > 20*time.Second {
		t.Errorf("the call took %s; the embedding timeout is 2s", elapsed)
	}
}

func TestUnreachableProviderIsAnEmbeddingError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	ctx := context.Background()
	for _, emb := range []workspace.Embeddings{
		{Provider: "ollama", BaseURL: "http://" + addr, Timeout: 5},
		{Provider: "openai", BaseURL: "http://" + addr + "/v1", Model: "m", Timeout: 5},
	} {
		s := open(t, remoteOptions(project(t), emb))
		_, err := s.Upsert(ctx, "notes", docs(1, "d"))
		wantKind(t, err, chroma.KindEmbedding, "failed", addr, "send embeddings")
		if c := count(t, s, "notes"); c != -1 {
			t.Errorf("%s: a refused upsert created the collection", emb.Provider)
		}
	}
	t.Setenv("TEST_EMPTY_KEY", "")
	s := open(t, remoteOptions(project(t), workspace.Embeddings{Provider: "openai", APIKeyEnv: "TEST_EMPTY_KEY", Timeout: 5}))
	_, err = s.Upsert(ctx, "notes", docs(1, "d"))
	wantKind(t, err, chroma.KindEmbedding, "TEST_EMPTY_KEY", "empty")
	// Caller vectors still work with a broken provider configured.
	if _, err := s.Upsert(ctx, "mine", []chroma.Document{{ID: "v", Embedding: []float32{1, 2, 3}}}); err != nil {
		t.Errorf("caller vectors with a misconfigured provider: %v", err)
	}
}
