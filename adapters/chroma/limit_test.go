package chroma_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/chroma"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// A read whose answer is larger than the bound stops at the bound with the
// caller's error saying what to ask for instead; a smaller read of the same
// collection still works, and so does the store afterwards.
func TestAnswersLargerThanTheBoundAreRefusedWhileRead(t *testing.T) {
	ctx := context.Background()
	s := open(t, chroma.WithMaxResponseBytes(remoteOptions(project(t), workspace.Embeddings{}), 64<<10))
	big := strings.Repeat("x", 8<<10)
	var docs []chroma.Document
	for i := range 20 { // 20 × 8 KiB of text: about 160 KiB in a whole read
		docs = append(docs, chroma.Document{ID: fmt.Sprintf("d%02d", i), Text: big, Embedding: []float32{float32(i), 1, 0}})
	}
	if _, err := s.Upsert(ctx, "big", docs); err != nil {
		t.Fatal(err)
	}
	_, err := s.Get(ctx, chroma.GetRequest{Collection: "big", Limit: 20})
	e := wantKind(t, err, chroma.KindInvalid)
	for _, w := range []string{"the answer while reading collection big is larger than 64 KiB", "a smaller limit or n_results"} {
		if !strings.Contains(e.Msg, w) {
			t.Errorf("message %q lacks %q", e.Msg, w)
		}
	}
	_, err = s.Query(ctx, chroma.QueryRequest{Collection: "big", Embedding: []float32{1, 1, 0}, NResults: 20})
	wantKind(t, err, chroma.KindInvalid)

	got, err := s.Get(ctx, chroma.GetRequest{Collection: "big", Limit: 3})
	if err != nil || len(got) != 3 || got[0].Text != big {
		t.Fatalf("a read under the bound: %d documents, %v", len(got), err)
	}
	if m := s.PoolMetrics(); len(m) == 0 || m[0].State != "healthy" {
		t.Errorf("the pool after refusals: %+v (the caller's errors must not trip the breaker)", m)
	}
}
