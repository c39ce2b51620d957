package chroma

import (
	"github.com/amikos-tech/chroma-go/pkg/embeddings"
)

// WithMaxBatch caps the server's max_batch_size at n for the store opened with the result.
func WithMaxBatch(opts Options, n int) Options {
	opts.maxBatch = n
	return opts
}

// NewFresh returns a view of s whose every call builds a new http.Transport
// and chroma-go client and drops them afterwards (no pool): the benchmarks'
// baseline. It shares s's server and settings; do not Close it.
func NewFresh(s *Store) *Store {
	return &Store{
		opts: s.opts, log: s.log, mode: s.mode, tenant: s.tenant, database: s.database,
		remoteURL: s.remoteURL, server: s.server, provider: s.provider,
		transport: s.transport, hc: s.hc, pool: s.pool, fresh: true, dbReady: true,
		// Shares what s knows about its collections (so both run the same
		// checks without a request); the handles come from each call's own client.
		cur: s.current(),
	}
}

func (s *Store) current() *client {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// SetLoadONNX replaces the loader of the default ONNX embedding function
// (and forgets a loaded one); the returned func restores the real loader.
func SetLoadONNX(fn func() (embeddings.EmbeddingFunction, error)) (restore func()) {
	onnx.mu.Lock()
	old := loadONNX
	loadONNX = fn
	onnx.ef = nil
	onnx.mu.Unlock()
	return func() {
		onnx.mu.Lock()
		loadONNX = old
		onnx.ef = nil
		onnx.mu.Unlock()
	}
}

// WithMaxResponseBytes bounds the answers the store opened with the result reads at n bytes.
func WithMaxResponseBytes(opts Options, n int64) Options {
	opts.maxResponseBytes = n
	return opts
}
