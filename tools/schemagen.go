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

// inputSchema is mcp.WithInputSchema[T], skipped for a tool whose schema is built.
func inputSchema[T any]() mcp.ToolOption {
	return func(t *mcp.Tool) {
		if _, ok := builtFor(t.Name); !ok {
			mcp.WithInputSchema[T]()(t)
		}
	}
}

// outputSchema is mcp.WithOutputSchema[T], skipped for a tool whose schema is built.
func outputSchema[T any]() mcp.ToolOption {
	return func(t *mcp.Tool) {
		if _, ok := builtFor(t.Name); !ok {
			mcp.WithOutputSchema[T]()(t)
		}
	}
}

// withBuiltSchemas gives t its built schemas; ok is false when it has none.
func withBuiltSchemas(t mcp.Tool) (mcp.Tool, bool) {
	b, ok := builtFor(t.Name)
	if !ok {
		return t, false
	}
	t.InputSchema = mcp.ToolInputSchema{} // mcp.NewTool's default; the raw one replaces it
	t.RawInputSchema = b.In
	t.OutputSchema = mcp.ToolOutputSchema{}
	if len(b.Out) > 0 {
		if err := json.Unmarshal(b.Out, &t.OutputSchema); err != nil {
			panic(fmt.Sprintf("tools: schemas.json, the output schema of %s: %v", t.Name, err))
		}
	}
	return t, true
}
