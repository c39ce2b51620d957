package configdoc

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
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
		sec := leaf[:strings.LastIndex(leaf, ".")]
		found := false
		for _, s := range sections {
			if strings.HasPrefix(s, "`"+sec+"`") && strings.Contains(s, "\n| `"+leaf+"` |") {
				found = true
			}
		}
		if !found {
			t.Errorf("key %s is missing from the reference (its row must name the whole key)", leaf)
		}
	}
	for _, e := range workspace.EnvVars() {
		if !strings.Contains(got, "`"+e.Name+"`") {
			t.Errorf("environment variable %s (%s) is missing from the reference", e.Name, e.Path)
		}
	}
}

// goWords are the Go names a reader of the reference must never meet: every
// CamelCase field and type name of the config structs (MaxConnections,
// PoolSettings), and the config's own Go types (Seconds, Secret).
func goWords() map[string]bool {
	words := map[string]bool{"Seconds": true, "Secret": true}
	camel := regexp.MustCompile(`^[A-Z][A-Za-z0-9]*[a-z0-9][A-Z]|^[A-Z]{2,}[a-z]`)
	var collect func(t reflect.Type)
	collect = func(t reflect.Type) {
		if camel.MatchString(t.Name()) {
			words[t.Name()] = true
		}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if camel.MatchString(f.Name) {
				words[f.Name] = true
			}
			if f.Type.Kind() == reflect.Struct {
				collect(f.Type)
			}
		}
	}
	collect(reflect.TypeOf(workspace.Config{}))
	return words
}

// goSyntax is Go written out: a slice or map type, a func, a selector or a
// method call (.Reveal, Duration()), a pointer type, a Go-only number type.
var goSyntax = regexp.MustCompile(`\[\][A-Za-z*]|map\[|\bfunc\b|\.[A-Z][A-Za-z]*\b|\b[A-Za-z_]\w*\(\)|\*[A-Z]?[a-z]+\b|\b(?:int64|float64|time\.Duration)\b`)

// goSpeak says what Go the row speaks ("" for none).
func goSpeak(row string, words map[string]bool) string {
	if m := goSyntax.FindString(row); m != "" {
		return m
	}
	for _, w := range regexp.MustCompile(`\b[A-Za-z][A-Za-z0-9]*\b`).FindAllString(row, -1) {
		if words[w] {
			return w
		}
	}
	return ""
}

// Every row of the reference speaks the user's language: keys, not the Go
// fields they are read into; types in words, not Go types; no method calls.
func TestReferenceSpeaksNoGo(t *testing.T) {
	got, err := Generate("../../workspace")
	if err != nil {
		t.Fatal(err)
	}
	words := goWords()
	if !words["MaxConnections"] || !words["APIKeyEnv"] || !words["PoolSettings"] {
		t.Fatalf("the Go names were not collected: %v", words)
	}
	rows := 0
	for _, line := range strings.Split(got, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		rows++
		if w := goSpeak(line, words); w != "" {
			t.Errorf("this row speaks Go (%q); say the key, a type in words, or what it does:\n%s", w, line)
		}
	}
	if rows < 40 {
		t.Fatalf("only %d rows in the reference", rows)
	}
	for row, want := range map[string]string{
		"| `x` | list of strings | x | Replaces MaxConnections |": "MaxConnections",
		"| `x` | []string | x | y |":                              "[]s",
		"| `x` | Secret | x | Reveal gives the value |":           "Secret",
		"| `x` | secret | x | s.Reveal gives the value |":         ".Reveal",
		"| `x` | integer | x | a map[string]any |":                "map[",
		"| `x` | seconds | x | see Duration() |":                  "Duration()",
	} {
		if got := goSpeak(row, words); got != want {
			t.Errorf("goSpeak(%q) = %q, want %q", row, got, want)
		}
	}
}
