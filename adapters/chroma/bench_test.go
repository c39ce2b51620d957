package chroma_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/chroma"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// BenchmarkQuery compares one query (64-dimensional caller vector, 10
// results, 500 documents) through the store's pool and keep-alive transport
// with the same query through a new http.Transport and chroma-go client per
// call (the baseline: a new TCP connection and a collection lookup each time).
// pooled pre-pings (a heartbeat before each call, the default); the
// without-pre-ping variant shows what that costs.
//
//	go test -run '^$' -bench Query -benchtime 2s ./adapters/chroma/
func BenchmarkQuery(b *testing.B) {
	ctx := context.Background()
	opts := remoteOptions(project(b), workspace.Embeddings{})
	s := open(b, opts)
	opts.Settings.PoolPrePing = false
	noPing := open(b, opts) // same project and collection
	rng := rand.New(rand.NewPCG(1, 2))
	vec := func() []float32 {
		v := make([]float32, 64)
		for i := range v {
			v[i] = rng.Float32()
		}
		return v
	}
	in := make([]chroma.Document, 500)
	for i := range in {
		in[i] = chroma.Document{ID: fmt.Sprintf("d%03d", i), Text: fmt.Sprintf("document %d", i), Embedding: vec()}
	}
	if _, err := s.Upsert(ctx, "bench", in); err != nil {
		b.Fatal(err)
	}
	q := chroma.QueryRequest{Collection: "bench", Embedding: vec(), NResults: 10}
	for _, bc := range []struct {
		name  string
		store *chroma.Store
	}{
		{"pooled", s},
		{"pooled-without-pre-ping", noPing},
		{"new-client-per-call", chroma.NewFresh(s)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				m, err := bc.store.Query(ctx, q)
				if err != nil || len(m) != 10 {
					b.Fatalf("Query = %d matches, %v", len(m), err)
				}
			}
		})
	}
}

// BenchmarkManagedColdStart is a project's first vector call in managed mode:
// Open (start `chroma run`, wait for its heartbeat) and a first upsert, then
// Close (stop the server). Each iteration is a fresh project.
//
//	go test -run '^$' -bench ManagedColdStart -benchtime 3x ./adapters/chroma/
func BenchmarkManagedColdStart(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		opts := managedOptions(project(b))
		b.StartTimer()
		s, err := chroma.Open(ctx, opts)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Upsert(ctx, "notes", docs(1, "c")); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := s.Close(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
