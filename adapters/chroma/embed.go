package chroma

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/amikos-tech/chroma-go/pkg/embeddings"
	"github.com/amikos-tech/chroma-go/pkg/embeddings/ollama"
	"github.com/amikos-tech/chroma-go/pkg/embeddings/openai"
	"github.com/amikos-tech/chroma-go/pkg/embeddings/ort"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/embedder"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/progress"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// Labels recorded in a collection's "embedding" metadata.
const (
	labelCaller  = "caller"
	labelHash    = "hash"    // the old provider, before lexical-v1: see labelHashV0
	labelUnknown = "unknown" // a collection created elsewhere, without our metadata
)

const (
	defaultOpenAIModel    = "text-embedding-3-small"
	defaultOpenAIBaseURL  = "https://api.openai.com/v1"
	defaultOllamaModel    = "nomic-embed-text"
	defaultOllamaBaseURL  = "http://127.0.0.1:11434"
	defaultONNXModel      = "all-MiniLM-L6-v2"
	defaultEmbedTimeout   = 30 * time.Second
	defaultHashDimensions = 384
	// embedBatch is how many texts go to the provider in one request.
	embedBatch = 100
)

const msgNoProvider = "no embedding provider is configured: set embeddings.provider in the global config " +
	"(lexical for offline vectors where shared words make texts near, local for the offline semantic model that `mcp-task-orchestrator embedder install` sets up, " +
	"openai for any OpenAI-compatible endpoint, ollama, or default for chroma-go's ONNX model), " +
	"or send an \"embedding\" vector"

const msgDefaultUnavailable = "the default ONNX embedding model could not be loaded (it is downloaded on first use; this machine " +
	"cannot reach the internet): configure embeddings.provider openai/ollama/lexical, or send embeddings"

// provider is the configured embedding provider of a store.
type provider struct {
	name    string // lexical, openai, ollama, default ("hash" is read as lexical)
	label   string // recorded in collection metadata: lexical-v1, openai:MODEL, ollama:MODEL, default:MODEL
	dims    int    // known before the first call (lexical, default), else 0
	baseURL string // for messages (no credentials)
	timeout time.Duration
	ef      embeddings.EmbeddingFunction // nil for default and local: loaded or started on first use
	err     *Error                       // the provider is misconfigured: every embedding call answers this
	local   *localEmbedder               // local: the project's embedder process (local.go)
}

// newProvider builds the configured provider; nil when none is configured.
// A misconfiguration is kept in provider.err so that calls that bring their
// own vectors still work.
func newProvider(e workspace.Embeddings) *provider {
	name := strings.ToLower(strings.TrimSpace(e.Provider))
	if name == "" {
		return nil
	}
	p := &provider{name: name, timeout: e.Timeout.Duration()}
	if p.timeout <= 0 {
		p.timeout = defaultEmbedTimeout
	}
	model := strings.TrimSpace(e.Model)
	bad := func(format string, args ...any) *provider {
		p.err = &Error{Kind: KindEmbedding, Field: "embeddings", Msg: fmt.Sprintf(format, args...)}
		return p
	}
	var err error
	switch name {
	case "lexical", "hash":
		// "hash" is the deprecated name of lexical: the whole-text hash it
		// once meant made vectors that were near by chance only. Its old
		// collections are labelled "hash", ours lexical-v1, so the two never mix.
		p.name, p.label, p.dims = "lexical", labelLexical, defaultHashDimensions
		if e.Dimensions > 0 {
			p.dims = e.Dimensions
		}
		p.ef = lexicalEF{dims: p.dims}
	case "openai":
		if model == "" {
			model = defaultOpenAIModel
		}
		p.label = "openai:" + model
		p.baseURL = strings.TrimSpace(e.BaseURL)
		if p.baseURL == "" {
			p.baseURL = defaultOpenAIBaseURL
		}
		key := ""
		if env := strings.TrimSpace(e.APIKeyEnv); env != "" {
			if key = os.Getenv(env); key == "" {
				return bad("embeddings.api_key_env names %s, but that environment variable is empty: set it to the API key "+
					"of %s before starting the server", env, sanitizeURL(p.baseURL))
			}
		} else if key = os.Getenv("OPENAI_API_KEY"); key == "" {
			key = "none" // local OpenAI-compatible servers (vLLM, llama.cpp, LM Studio) need no key
		}
		opts := []openai.Option{openai.WithBaseURL(p.baseURL), openai.WithModelString(model)}
		if e.Dimensions > 0 {
			opts = append(opts, openai.WithDimensions(e.Dimensions))
		}
		if u, perr := url.Parse(p.baseURL); perr == nil && u.Scheme == "http" {
			opts = append(opts, openai.WithInsecure()) // the operator configured plain http on purpose
		}
		p.ef, err = openai.NewOpenAIEmbeddingFunction(key, opts...)
	case "ollama":
		if model == "" {
			model = defaultOllamaModel
		}
		p.label = "ollama:" + model
		p.baseURL = strings.TrimSpace(e.BaseURL)
		if p.baseURL == "" {
			p.baseURL = defaultOllamaBaseURL
		}
		p.ef, err = ollama.NewOllamaEmbeddingFunction(ollama.WithBaseURL(p.baseURL), ollama.WithModel(embeddings.EmbeddingModel(model)))
	case "default":
		p.label, p.dims = "default:"+defaultONNXModel, 384
	case "local":
		// The offline semantic embedder (adapters/embedder), started for the
		// project on first use; its vectors come through the openai path.
		p.label, p.dims = embedder.Label, embedder.Dimensions
		python, cerr := embedder.Command(e.Command, os.Getenv)
		if cerr != nil {
			return bad("embeddings.provider local: %s", cerr.Error())
		}
		p.local = newLocalEmbedder(python)
	default:
		return bad("embeddings.provider %q is not known: use lexical, local, openai, ollama or default (or leave it empty and send embeddings)", e.Provider)
	}
	if err != nil {
		return bad("embeddings.provider %s could not be set up (%s): check embeddings.base_url and embeddings.model",
			name, workspace.Redact(err.Error()))
	}
	return p
}

// function returns the provider's embedding function, loading the default
// ONNX model on first use (bounded by the embedding timeout).
func (s *Store) function(ctx context.Context) (embeddings.EmbeddingFunction, error) {
	p := s.provider
	if p.err != nil {
		return nil, p.err
	}
	if p.ef != nil {
		return p.ef, nil
	}
	if p.local != nil {
		return s.localFunction(ctx)
	}
	return s.defaultFunction(ctx)
}

// embedTexts turns texts into vectors with the configured provider, in
// requests of embedBatch texts, each bounded by the embedding timeout.
// what names the texts for progress messages ("documents", "query").
func (s *Store) embedTexts(ctx context.Context, texts []string) ([][]float32, error) {
	p := s.provider
	ef, err := s.function(ctx)
	if err != nil {
		return nil, err
	}
	out := make([][]float32, 0, len(texts))
	retries := 0
	for start := 0; start < len(texts); start += embedBatch {
		chunk := texts[start:min(start+embedBatch, len(texts))]
		ectx, cancel := context.WithTimeout(ctx, p.timeout)
		embs, err := ef.EmbedDocuments(ectx, chunk)
		timedOut := ectx.Err() != nil
		cancel()
		if err != nil && !timedOut && p.local != nil && retries < localRetries && s.localMoved(ctx, err) {
			// The project's embedder died or moved (its owner process exited):
			// ask again where it is, which restarts or takes it over.
			retries++
			if ef, err = s.localFunction(ctx); err != nil {
				return nil, err
			}
			start -= embedBatch
			continue
		}
		if err != nil {
			return nil, s.embedFail(ctx, err, timedOut)
		}
		if len(embs) != len(chunk) {
			return nil, &Error{Kind: KindEmbedding, Msg: fmt.Sprintf(
				"embedding provider %s returned %d vectors for %d texts; check the provider", p.label, len(embs), len(chunk))}
		}
		for _, e := range embs {
			var v []float32
			if e != nil {
				v = e.ContentAsFloat32()
			}
			if len(v) == 0 {
				return nil, &Error{Kind: KindEmbedding, Msg: fmt.Sprintf(
					"embedding provider %s returned an empty vector; check the model name (embeddings.model)", p.label)}
			}
			out = append(out, v)
		}
		if len(texts) > embedBatch {
			progress.Report(ctx, fmt.Sprintf("embedded %d of %d texts with %s", len(out), len(texts), p.label),
				float64(len(out)), float64(len(texts)))
		}
	}
	return out, nil
}

func (s *Store) embedFail(ctx context.Context, err error, timedOut bool) error {
	p := s.provider
	if ctx.Err() != nil {
		return s.fail(ctx, "computing embeddings", ctx.Err())
	}
	at := ""
	if p.baseURL != "" {
		at = " at " + sanitizeURL(p.baseURL)
	}
	if timedOut {
		return &Error{Kind: KindEmbedding, Err: err, Msg: fmt.Sprintf(
			"embedding provider %s%s did not answer within %s (embeddings.timeout): check that it is running and reachable, "+
				"raise embeddings.timeout, or send embeddings", p.label, at, p.timeout)}
	}
	return &Error{Kind: KindEmbedding, Err: err, Msg: fmt.Sprintf(
		"embedding provider %s%s failed (%s): check that it is running and reachable and that embeddings.model exists, "+
			"or send embeddings", p.label, at, s.clean(err.Error()))}
}

// The default ONNX function is process-wide: its runtime environment is
// global in chroma-go (closing one instance tears it down for all), so it is
// loaded once, shared by every store, and never closed.
var onnx struct {
	mu      sync.Mutex
	ef      embeddings.EmbeddingFunction
	attempt *onnxAttempt // the load in progress, if any
}

type onnxAttempt struct {
	done chan struct{}
	err  error // set before done is closed
}

// loadONNX is ort.NewDefaultEmbeddingFunction; tests replace it.
var loadONNX = func() (embeddings.EmbeddingFunction, error) {
	ef, _, err := ort.NewDefaultEmbeddingFunction()
	if err != nil {
		return nil, err
	}
	return ef, nil
}

// defaultFunction returns the default ONNX function, starting a load (which
// downloads a runtime and a model on first use, without a context of its own)
// in a goroutine the store owns and waiting for it at most the embedding
// timeout. A load that fails is retried by the next call.
func (s *Store) defaultFunction(ctx context.Context) (embeddings.EmbeddingFunction, error) {
	onnx.mu.Lock()
	if onnx.ef != nil {
		ef := onnx.ef
		onnx.mu.Unlock()
		return ef, nil
	}
	a := onnx.attempt
	if a == nil {
		a = &onnxAttempt{done: make(chan struct{})}
		onnx.attempt = a
		s.background.Add(1)
		go func() {
			defer s.background.Done()
			ef, err := loadONNX()
			onnx.mu.Lock()
			if err == nil {
				onnx.ef = ef
			}
			a.err = err
			onnx.attempt = nil
			onnx.mu.Unlock()
			close(a.done)
		}()
	}
	onnx.mu.Unlock()

	progress.Report(ctx, "loading the default ONNX embedding model (downloaded on first use)", 0, 0)
	timer := time.NewTimer(s.provider.timeout)
	defer timer.Stop()
	select {
	case <-a.done:
		if a.err != nil {
			return nil, &Error{Kind: KindEmbedding, Err: a.err, Msg: msgDefaultUnavailable + " (cause: " + s.clean(a.err.Error()) + ")"}
		}
		onnx.mu.Lock()
		ef := onnx.ef
		onnx.mu.Unlock()
		return ef, nil
	case <-timer.C:
		return nil, &Error{Kind: KindEmbedding, Err: errors.New("default embedding model still loading"),
			Msg: fmt.Sprintf("%s (still loading after %s, embeddings.timeout)", msgDefaultUnavailable, s.provider.timeout)}
	case <-ctx.Done():
		return nil, s.fail(ctx, "loading the default embedding model", ctx.Err())
	}
}

// refuseEF is the embedding function handed to chroma-go. This package always
// computes vectors itself, so chroma-go never needs one; but without one it
// builds its default ONNX function at once (which downloads from the
// internet), and with one that embeds it could send documents whose vectors
// we did not check. Should chroma-go ever try to embed, the request fails
// before anything is sent: documents never reach Chroma without embeddings.
type refuseEF struct{}

var errRefuse = errors.New("chroma adapter: vectors are computed before chroma-go is called; refusing to embed here")

func (refuseEF) EmbedDocuments(context.Context, []string) ([]embeddings.Embedding, error) {
	return nil, errRefuse
}
func (refuseEF) EmbedQuery(context.Context, string) (embeddings.Embedding, error) {
	return nil, errRefuse
}
func (refuseEF) EmbedContents(context.Context, []embeddings.Content) ([]embeddings.Embedding, error) {
	return nil, errRefuse
}
func (refuseEF) EmbedContent(context.Context, embeddings.Content) (embeddings.Embedding, error) {
	return nil, errRefuse
}
func (refuseEF) Name() string { return "task_orchestrator_external" }
func (refuseEF) GetConfig() embeddings.EmbeddingFunctionConfig {
	return embeddings.EmbeddingFunctionConfig{}
}
func (refuseEF) DefaultSpace() embeddings.DistanceMetric { return embeddings.COSINE }
func (refuseEF) SupportedSpaces() []embeddings.DistanceMetric {
	return []embeddings.DistanceMetric{embeddings.COSINE, embeddings.L2, embeddings.IP}
}

// toEmbeddings wraps vectors for chroma-go.
func toEmbeddings(vs [][]float32) []embeddings.Embedding {
	out := make([]embeddings.Embedding, len(vs))
	for i, v := range vs {
		out[i] = embeddings.NewEmbeddingFromFloat32(v)
	}
	return out
}
