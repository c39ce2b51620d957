package tools

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
)

// The tools' schemas are generated from Go types (jsonschema reflection),
// then bounded, made plain and lean (schema.go). Doing that at every start
// was most of the server's start-up: about 1 ms of CPU per tool. The result
// depends only on the types, so it is done once, by the tests, and embedded:
// schemas.json holds each tool's final input and output schema, and a tool
// listed there skips the reflection and the rewriting at start-up.
// TestEmbeddedSchemasMatchTheGoTypes builds every tool without the file and
// compares; UPDATE_TOOLSNAPS=1 go test ./tools/ rewrites it.
//
//go:embed schemas.json
var schemasJSON []byte

type builtSchemas struct {
	In  json.RawMessage `json:"in"`
	Out json.RawMessage `json:"out,omitempty"`
}

// useBuilt is false while the test builds the schemas the slow way.
var useBuilt = true

var builtSchemaSet = sync.OnceValue(func() map[string]builtSchemas {
	var m map[string]builtSchemas
	if err := json.Unmarshal(schemasJSON, &m); err != nil {
		panic(fmt.Sprintf("tools: schemas.json: %v", err)) // embedded at build time: a test keeps it valid
	}
	return m
})

func builtFor(name string) (builtSchemas, bool) {
	if !useBuilt {
		return builtSchemas{}, false
	}
	b, ok := builtSchemaSet()[name]
	return b, ok
}

// inputSchema is mcp.WithInputSchema[T], or the built schema of a tool
// that has one (already bounded and plain: bounds and lean leave it be).
func inputSchema[T any]() mcp.ToolOption {
	return func(t *mcp.Tool) {
		b, ok := builtFor(t.Name)
		if !ok {
			mcp.WithInputSchema[T]()(t)
			return
		}
		t.InputSchema = mcp.ToolInputSchema{} // mcp.NewTool's default; the raw one replaces it
		t.RawInputSchema = b.In
	}
}

// outputSchema is mcp.WithOutputSchema[T], or the built (lean) schema of a
// tool that has one.
func outputSchema[T any]() mcp.ToolOption {
	return func(t *mcp.Tool) {
		b, ok := builtFor(t.Name)
		if !ok {
			mcp.WithOutputSchema[T]()(t)
			return
		}
		t.OutputSchema = mcp.ToolOutputSchema{}
		if len(b.Out) > 0 {
			if err := json.Unmarshal(b.Out, &t.OutputSchema); err != nil {
				panic(fmt.Sprintf("tools: schemas.json, the output schema of %s: %v", t.Name, err))
			}
		}
	}
}

// withBuiltSchemas reports whether t has built schemas, and gives t any the
// options did not (a tool is whole from its constructor; lean and bounds
// leave a built tool as it is).
func withBuiltSchemas(t mcp.Tool) (mcp.Tool, bool) {
	b, ok := builtFor(t.Name)
	if !ok {
		return t, false
	}
	if len(t.RawInputSchema) == 0 {
		inputSchema[struct{}]()(&t)
	}
	if len(b.Out) > 0 && t.OutputSchema.Type == "" {
		outputSchema[struct{}]()(&t)
	}
	return t, true
}
