package tools

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// slowSchemas builds every tool's schemas from the Go types, as the server
// did at every start before schemas.json, with the deps given.
func slowSchemas(t *testing.T, d *Deps) map[string]builtSchemas {
	t.Helper()
	useBuilt = false
	defer func() { useBuilt = true }()
	out := map[string]builtSchemas{}
	tools := New(d).Tools(false)
	tools = append(tools, (&dynamic{}).tool(d))
	for _, st := range tools {
		b := builtSchemas{In: st.Tool.RawInputSchema}
		if st.Tool.OutputSchema.Type != "" {
			raw, err := json.Marshal(st.Tool.OutputSchema)
			if err != nil {
				t.Fatal(err)
			}
			b.Out = raw
		}
		out[st.Tool.Name] = b
	}
	return out
}

// The embedded schemas are exactly what the Go types give, for every tool,
// whatever the server's configuration (the schemas must not depend on it).
func TestEmbeddedSchemasMatchTheGoTypes(t *testing.T) {
	want := slowSchemas(t, &Deps{})
	cfg := workspace.Defaults()
	cfg.Backends.ChromaURL = "http://127.0.0.1:1"
	cfg.Backends.Neo4jURI = "bolt://127.0.0.1:1"
	if other := slowSchemas(t, &Deps{Config: cfg, ReadOnly: true}); !equalSchemas(want, other) {
		t.Fatal("the tools' schemas depend on the configuration; schemas.json cannot hold them")
	}
	if os.Getenv("UPDATE_TOOLSNAPS") != "" {
		var buf bytes.Buffer
		buf.WriteString("{\n")
		names := make([]string, 0, len(want))
		for n := range want {
			names = append(names, n)
		}
		slices.Sort(names)
		for i, n := range names {
			entry, err := json.Marshal(want[n])
			if err != nil {
				t.Fatal(err)
			}
			sep := ","
			if i == len(names)-1 {
				sep = ""
			}
			buf.WriteString("  " + string(mustJSON(t, n)) + ": " + string(entry) + sep + "\n")
		}
		buf.WriteString("}\n")
		if err := os.WriteFile("schemas.json", buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	var got map[string]builtSchemas
	if err := json.Unmarshal(schemasJSON, &got); err != nil {
		t.Fatalf("schemas.json: %v", err)
	}
	if !equalSchemas(want, got) {
		for n, w := range want {
			g, ok := got[n]
			switch {
			case !ok:
				t.Errorf("%s is not in schemas.json", n)
			case !bytes.Equal(w.In, g.In) || !bytes.Equal(w.Out, g.Out):
				t.Errorf("the schemas of %s changed", n)
			}
		}
		for n := range got {
			if _, ok := want[n]; !ok {
				t.Errorf("schemas.json has %s, which is no tool", n)
			}
		}
		t.Fatal("schemas.json is stale: run UPDATE_TOOLSNAPS=1 go test ./tools/")
	}
	// A tool straight from its constructor (before AddRead/AddWrite) is
	// whole too: a validator built on it checks the built schema.
	for _, st := range []server.ServerTool{taskCreate(&Deps{}), taskList(&Deps{}), taskClaim(&Deps{})} {
		if !bytes.Equal(st.Tool.RawInputSchema, want[st.Tool.Name].In) {
			t.Errorf("%s from its constructor: the input schema is not the built one", st.Tool.Name)
		}
		out, _ := json.Marshal(st.Tool.OutputSchema)
		if w := want[st.Tool.Name].Out; len(w) > 0 && !bytes.Equal(out, w) {
			t.Errorf("%s from its constructor: the output schema is not the built one", st.Tool.Name)
		}
	}
	// And the server as built uses them: the same tools, the same schemas.
	for _, st := range New(&Deps{}).Tools(false) {
		if !bytes.Equal(st.Tool.RawInputSchema, want[st.Tool.Name].In) {
			t.Errorf("%s: the served input schema is not the built one", st.Tool.Name)
		}
		out, _ := json.Marshal(st.Tool.OutputSchema)
		if w := want[st.Tool.Name].Out; len(w) > 0 && !bytes.Equal(out, w) {
			t.Errorf("%s: the served output schema is not the built one", st.Tool.Name)
		}
	}
}

func equalSchemas(a, b map[string]builtSchemas) bool {
	if len(a) != len(b) {
		return false
	}
	for n, x := range a {
		y, ok := b[n]
		if !ok || !bytes.Equal(x.In, y.In) || !bytes.Equal(x.Out, y.Out) {
			return false
		}
	}
	return true
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every field of a record that an ops tool's output schema describes in words
// (summarised) is listed in docs/users/context-and-toolsets.md, under the
// record's path: the list is the contract those fields keep.
func TestSummarisedRecordsAreDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/users/context-and-toolsets.md")
	if err != nil {
		t.Fatal(err)
	}
	saved := summarised
	summarised = nil
	defer func() { summarised = saved }()
	full := slowSchemas(t, &Deps{})
	for tool, paths := range saved {
		var root map[string]any
		if err := json.Unmarshal(full[tool].Out, &root); err != nil {
			t.Fatal(err)
		}
		for path := range paths {
			// The documented line: "- `tool` `path`: `field`, `field`, ...".
			prefix := "- `" + tool + "` `" + path + "`: "
			var line string
			for l := range strings.SplitSeq(string(doc), "\n") {
				if strings.HasPrefix(l, prefix) {
					line = l
				}
			}
			if line == "" {
				t.Errorf("the doc has no line starting %q", prefix)
				continue
			}
			props, _ := recordAt(tool, root, path)["properties"].(map[string]any)
			if len(props) == 0 {
				t.Errorf("%s %s has no fields in the full schema", tool, path)
			}
			for name := range props {
				if !strings.Contains(line, "`"+name+"`") {
					t.Errorf("the doc's line for %s %s lacks the field %s", tool, path, name)
				}
			}
			if n := strings.Count(line[len(prefix):], "`") / 2; n != len(props) {
				t.Errorf("the doc's line for %s %s names %d fields; the record has %d", tool, path, n, len(props))
			}
		}
	}
}
