package cli

import (
	"os"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

func TestLocateKeyFindsNestedKeysByLine(t *testing.T) {
	doc, err := os.ReadFile("../testdata/configs/bad/global-nested-keys.json")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][2]int{
		"database_pools.vector.max_connections": {6, 7},
		"database_pools.vector":                 {4, 5},
		"server.log_level":                      {2, 14},
		"database_pools.graph.max_connections":  {0, 0},
	}
	for path, want := range cases {
		if l, c := locateKey(doc, path); l != want[0] || c != want[1] {
			t.Errorf("%s: line %d column %d, want %v", path, l, c, want)
		}
	}
	if l, _ := locateKey([]byte("{not json"), "a"); l != 0 {
		t.Errorf("invalid JSON located a key")
	}
}

func TestFixForSaysWhatToChange(t *testing.T) {
	cases := map[string]workspace.Violation{
		`rename "max_conections" to "max_connections"`:   {Path: "database_pools.vector.max_conections", Rule: `unknown key; did you mean "max_connections"?`},
		"max_connections must be between 1 and 1000":     {Path: "database_pools.vector.max_connections", Rule: "must be between 1 and 1000"},
		`remove "backends" from the project config (set`: {Path: "backends", Rule: "not allowed in a project config (set it in the global config or environment); a project config may only set database_pools"},
	}
	for want, v := range cases {
		if got := fixFor(v); len(got) < len(want) || got[:len(want)] != want {
			t.Errorf("fixFor(%s: %s) = %q, want it to start with %q", v.Path, v.Rule, got, want)
		}
	}
}
