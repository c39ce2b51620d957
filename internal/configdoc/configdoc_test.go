package configdoc

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

const refPath = "../../docs/users/configuration-reference.md"

// TestReferenceUpToDate fails when the committed reference differs from what
// the config structs generate. UPDATE_DOCS=1 rewrites it.
func TestReferenceUpToDate(t *testing.T) {
	got, err := Generate("../../workspace")
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("UPDATE_DOCS") != "" {
		if err := os.MkdirAll(filepath.Dir(refPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(refPath, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(refPath)
	if err != nil {
		t.Fatalf("%v (generate it with UPDATE_DOCS=1 go test ./internal/configdoc/)", err)
	}
	if string(want) != got {
		t.Fatalf("docs/users/configuration-reference.md is out of date with workspace/config.go: run UPDATE_DOCS=1 go test ./internal/configdoc/")
	}
}

// TestEveryKeyListed checks the reference against the config's own JSON:
// every leaf key of a marshalled Config appears in a table row, and every
// environment variable appears beside its key.
func TestEveryKeyListed(t *testing.T) {
	got, err := Generate("../../workspace")
	if err != nil {
		t.Fatal(err)
	}
	var leaves []string
	var collect func(v reflect.Value, prefix string)
	collect = func(v reflect.Value, prefix string) {
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.Type.Kind() == reflect.Struct && f.Type != secondsType {
				collect(v.Field(i), prefix+name+".")
				continue
			}
			leaves = append(leaves, prefix+name)
		}
	}
	collect(reflect.ValueOf(workspace.Defaults()), "")
	if len(leaves) < 40 {
		t.Fatalf("only %d keys found in Config; the walk is broken", len(leaves))
	}
	sections := strings.Split(got, "\n## ")
	for _, leaf := range leaves {
		i := strings.LastIndex(leaf, ".")
		sec, name := leaf[:i], leaf[i+1:]
		found := false
		for _, s := range sections {
			if strings.HasPrefix(s, "`"+sec+"`") && strings.Contains(s, "| `"+name+"` |") {
				found = true
			}
		}
		if !found {
			t.Errorf("key %s is missing from the reference", leaf)
		}
	}
	for _, e := range workspace.EnvVars() {
		if !strings.Contains(got, "`"+e.Name+"`") {
			t.Errorf("environment variable %s (%s) is missing from the reference", e.Name, e.Path)
		}
	}
}
