package tools_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/tools"
)

// Tool schemas are part of the contract: a change must be a visible diff in
// __toolsnaps__/. Regenerate on purpose with UPDATE_TOOLSNAPS=1 go test ./tools/.
func TestToolSchemasMatchSnapshots(t *testing.T) {
	for _, st := range tools.New(&tools.Deps{}).Tools(false) {
		t.Run(st.Tool.Name, func(t *testing.T) {
			got, err := json.MarshalIndent(st.Tool, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("__toolsnaps__", st.Tool.Name+".snap")
			if os.Getenv("UPDATE_TOOLSNAPS") != "" {
				if err := os.MkdirAll("__toolsnaps__", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("no snapshot for %s (run UPDATE_TOOLSNAPS=1 go test ./tools/): %v", st.Tool.Name, err)
			}
			if string(want) != string(got)+"\n" {
				t.Fatalf("the schema of %s changed; if on purpose, run UPDATE_TOOLSNAPS=1 go test ./tools/\ngot:\n%s", st.Tool.Name, got)
			}
		})
	}
}

func TestReadListRefusesAWriteTool(t *testing.T) {
	all := tools.New(&tools.Deps{}).Tools(false)
	var write = all[len(all)-1] // the last tools are the write list
	defer func() {
		if recover() == nil {
			t.Fatalf("adding write tool %s to the read list did not panic", write.Tool.Name)
		}
	}()
	(&tools.Toolset{}).AddRead(write)
}

func TestWriteListRefusesAReadOnlyTool(t *testing.T) {
	read := tools.New(&tools.Deps{}).Tools(true)[0]
	defer func() {
		if recover() == nil {
			t.Fatalf("adding read tool %s to the write list did not panic", read.Tool.Name)
		}
	}()
	(&tools.Toolset{}).AddWrite(read)
}
