package chroma

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/amikos-tech/chroma-go/pkg/embeddings"
	"github.com/amikos-tech/chroma-go/pkg/embeddings/openai"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/embedder"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/progress"
)

// localRetries bounds how often one embedding request is sent again after
// the project's embedder vanished under it (its owner process exited).
const localRetries = 3

// localEmbedder is provider "local": the project's embedder process
// (adapters/embedder), started on the first embedding call and shared with
// the project's other server processes. Its vectors come through chroma-go's
// OpenAI-compatible function, rebuilt when the embedder moves to a new port.
type localEmbedder struct {
	python string
	start  chan struct{} // capacity 1: one start (or Stop) at a time, bounded by the caller's context

	mu     sync.Mutex // guards the fields below; never held during I/O
	srv    *embedder.Server
	closed bool
	url    string                       // the base URL ef was built for
	ef     embeddings.EmbeddingFunction // for url
}

func newLocalEmbedder(python string) *localEmbedder {
	return &localEmbedder{python: python, start: make(chan struct{}, 1)}
}

// localFunction returns the embedding function of the project's embedder,
// starting it (or attaching to another process's) on first use.
func (s *Store) localFunction(ctx context.Context) (embeddings.EmbeddingFunction, error) {
	l := s.provider.local
	srv, err := s.localServer(ctx)
	if err != nil {
		return nil, err
	}
	base, err := srv.URL(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, s.fail(ctx, "waiting for the project's local embedder", ctx.Err())
		}
		return nil, s.localFailure(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ef != nil && l.url == base {
		return l.ef, nil
	}
	ef, err := openai.NewOpenAIEmbeddingFunction("local", openai.WithBaseURL(base),
		openai.WithModelString(embedder.Model), openai.WithInsecure())
	if err != nil {
		return nil, &Error{Kind: KindEmbedding, Err: err, Msg: fmt.Sprintf(
			"the project's local embedder at %s cannot be used (%s); run `mcp-task-orchestrator doctor`", base, s.clean(err.Error()))}
	}
	l.url, l.ef = base, ef
	return ef, nil
}

// localServer starts the project's embedder once; concurrent first calls wait for that start.
func (s *Store) localServer(ctx context.Context) (*embedder.Server, error) {
	l := s.provider.local
	l.mu.Lock()
	srv, closed := l.srv, l.closed
	l.mu.Unlock()
	if srv != nil {
		return srv, nil
	}
	if closed {
		return nil, &Error{Kind: KindUnavailable, Msg: "the vector store of this project is closing; retry"}
	}
	select {
	case l.start <- struct{}{}:
	case <-ctx.Done():
		return nil, s.fail(ctx, "waiting for the project's local embedder to start", ctx.Err())
	}
	defer func() { <-l.start }()
	l.mu.Lock()
	srv, closed = l.srv, l.closed
	l.mu.Unlock()
	switch {
	case srv != nil:
		return srv, nil
	case closed:
		return nil, &Error{Kind: KindUnavailable, Msg: "the vector store of this project is closing; retry"}
	}
	progress.Report(ctx, "starting the project's local embedder ("+embedder.Model+")", 0, 0)
	began := time.Now()
	srv, err := embedder.Start(ctx, embedder.Options{Python: l.python, Layout: s.opts.Layout, Logger: s.log})
	if err != nil {
		if ctx.Err() != nil {
			return nil, s.fail(ctx, "starting the project's local embedder", err)
		}
		return nil, s.localFailure(err)
	}
	l.mu.Lock()
	l.srv = srv
	l.mu.Unlock()
	progress.Report(ctx, "the project's local embedder is ready", 1, 1)
	s.log.Info("embedder: the project's local embedder is ready", "pid", srv.PID(), "owned", srv.Owned(),
		"took", time.Since(began).Round(time.Millisecond))
	return srv, nil
}

func (s *Store) localFailure(err error) error {
	return &Error{Kind: KindEmbedding, Err: err, Msg: fmt.Sprintf(
		"the project's local embedder (%s) did not start: %s; read %s, run `mcp-task-orchestrator doctor`, "+
			"or run `%s` again", s.provider.local.python, s.clean(err.Error()), embedder.LogFile(s.opts.Layout), embedder.InstallHint)}
}

// localMoved reports whether err is a failure of the connection to the
// embedder (refused or reset: it died or moved), after which asking again
// where it is may help; it pauses 100 ms first, so that a dying embedder is
// seen gone. Embedding is idempotent: sending a request again is safe.
func (s *Store) localMoved(ctx context.Context, err error) bool {
	var ue *url.Error
	if ctx.Err() != nil || !errors.As(err, &ue) {
		return false
	}
	t := time.NewTimer(100 * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// stopLocal ends this store's use of the project's embedder (the process
// that started it stops it).
func (s *Store) stopLocal(ctx context.Context) error {
	if s.provider == nil || s.provider.local == nil {
		return nil
	}
	l := s.provider.local
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	select {
	case l.start <- struct{}{}: // a start in progress has finished
		defer func() { <-l.start }()
	case <-ctx.Done():
		return fmt.Errorf("stop the project's local embedder: a start is still in progress: %w", ctx.Err())
	}
	l.mu.Lock()
	srv := l.srv
	l.srv = nil
	l.mu.Unlock()
	if srv == nil {
		return nil
	}
	if err := srv.Stop(ctx); err != nil {
		return fmt.Errorf("stop the project's local embedder: %w", err)
	}
	return nil
}
