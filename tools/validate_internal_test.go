package tools

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

// The cost validation adds to a call: task_create's full arguments, valid
// (the wrapped handler does nothing) and with a bad priority.
func BenchmarkValidateTaskCreateArgs(b *testing.B) {
	st := taskCreate(&Deps{})
	st.Handler = func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) { return nil, nil }
	h := validated(st).Handler
	for _, bc := range []struct {
		name string
		raw  string
	}{
		{"valid", `{"workspace":"/home/u/project","title":"Write the migration","description":"Add the column and backfill it","priority":"high","labels":["backend","db"],"depends_on":["tsk_a","tsk_b"],"role":"dev","metadata":{"k":"v"}}`},
		{"bad_priority", `{"workspace":"/home/u/project","title":"Write the migration","description":"Add the column and backfill it","priority":"urgent","labels":["backend","db"],"depends_on":["tsk_a","tsk_b"],"role":"dev","metadata":{"k":"v"}}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := mcp.CallToolRequest{}
			req.Params.Name = "task_create"
			req.Params.RawArguments = json.RawMessage(bc.raw)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				res, _ := h(ctx, req)
				if (res != nil) != (bc.name != "valid") {
					b.Fatalf("unexpected result %v", res)
				}
			}
		})
	}
	// Baseline in the same run: the strict decode every handler does anyway.
	b.Run("decode_only_baseline", func(b *testing.B) {
		raw := json.RawMessage(`{"workspace":"/home/u/project","title":"Write the migration","description":"Add the column and backfill it","priority":"high","labels":["backend","db"],"depends_on":["tsk_a","tsk_b"],"role":"dev","metadata":{"k":"v"}}`)
		b.ReportAllocs()
		for b.Loop() {
			var a taskCreateArgs
			if err := decodeArgs(raw, &a); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Every tool's input schema compiles: validated compiles them on first call,
// so this is where a schema that does not compile is caught.
func TestEveryInputSchemaCompiles(t *testing.T) {
	all := New(&Deps{}).Tools(false)
	if len(all) < 27 {
		t.Fatalf("only %d tools", len(all))
	}
	for _, st := range all {
		if _, err := compileArgSchema(st.Tool); err != nil {
			t.Errorf("%s: %v", st.Tool.Name, err)
		}
	}
}
