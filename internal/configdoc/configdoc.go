// Package configdoc generates the configuration reference
// (docs/users/configuration-reference.md) from the config structs themselves:
// the keys from their json tags, the meanings from their doc comments, the
// defaults from workspace.Defaults and the environment variables from
// workspace.EnvVars. A test regenerates it and fails when the committed file
// differs, so the reference cannot drift from the code.
package configdoc

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// comments maps "Type.Field" to the field's doc comment, read from the Go
// files of the workspace package in dir.
func comments(dir string) (map[string]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	out := map[string]string{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		file, err := parser.ParseFile(fset, f, src, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		ast.Inspect(file, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return false
			}
			for _, fld := range st.Fields.List {
				if fld.Doc == nil {
					continue
				}
				for _, name := range fld.Names {
					out[ts.Name.Name+"."+name.Name] = strings.Join(strings.Fields(fld.Doc.Text()), " ")
				}
			}
			return false
		})
	}
	return out, nil
}

// key is one configuration key.
type key struct {
	path, typ, def, env, doc string
	allowed                  string // the range of a numeric key, from workspace.LimitOf
	project                  bool   // a project's own file may set it
}

var (
	secondsType = reflect.TypeOf(workspace.Seconds(0))
	secretType  = reflect.TypeOf(workspace.Secret(""))
)

func typeName(t reflect.Type) string {
	switch {
	case t == secondsType:
		return "seconds"
	case t == secretType:
		return "secret"
	case t.Kind() == reflect.Pointer:
		return typeName(t.Elem())
	case t.Kind() == reflect.Slice:
		return "list of " + typeName(t.Elem()) + "s"
	case t.Kind() == reflect.Bool:
		return "boolean"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return "integer"
	case t.Kind() == reflect.Float64:
		return "number"
	}
	return t.Kind().String()
}

func defaultOf(v reflect.Value) string {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return "(absent)"
		}
		v = v.Elem()
	}
	if v.Type() == secretType {
		return `""`
	}
	if v.Kind() == reflect.Slice && v.Len() == 0 {
		return "[]"
	}
	b, err := json.Marshal(v.Interface())
	if err != nil {
		return "?"
	}
	return string(b)
}

// walk collects the keys of struct value v under prefix.
func walk(v reflect.Value, prefix string, docs map[string]string, env map[string]string, out *[]key) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		path := prefix + name
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != secondsType {
			walk(fv, path+".", docs, env, out)
			continue
		}
		k := key{
			path: path, typ: typeName(f.Type), def: defaultOf(fv), env: env[path],
			doc: docs[t.Name()+"."+f.Name], project: strings.HasPrefix(path, "database_pools."),
		}
		if l, ok := workspace.LimitOf(path); ok {
			k.allowed = l.String()
		}
		*out = append(*out, k)
	}
}

// Generate renders the reference from the workspace package's sources in dir.
func Generate(dir string) (string, error) {
	docs, err := comments(dir)
	if err != nil {
		return "", err
	}
	env := map[string]string{}
	for _, e := range workspace.EnvVars() {
		env[e.Path] = e.Name
	}
	var keys []key
	walk(reflect.ValueOf(workspace.Defaults()), "", docs, env, &keys)

	var missing []string
	for _, k := range keys {
		if k.doc == "" {
			missing = append(missing, k.path)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return "", fmt.Errorf("these config keys have no doc comment on their struct field: %s", strings.Join(missing, ", "))
	}

	var b strings.Builder
	b.WriteString(`# Configuration reference

<!-- Generated from workspace/config.go by internal/configdoc; do not edit by hand.
     Regenerate with: UPDATE_DOCS=1 go test ./internal/configdoc/ -->

Every key the server reads, with its type, default, environment variable and meaning. Durations are seconds (fractions
allowed). Layers, each overriding the one before: defaults, the global file (` + "`--config`" + ` or
` + "`$XDG_CONFIG_HOME/task-orchestrator/config.json`" + `), the environment, and the project's own
` + "`.task_orchestrator/configs/config.json`" + `, which may set only the keys marked "project" (it is untrusted: it can
tune pools and turn a backend off, never point the server at another database). Every number must stay in its "allowed"
range; a project's pools are also capped by ` + "`server.max_project_connections`" + ` (max_connections + max_overflow).
A project's file is refused unread if it is not a regular file (a symlink included) or over 64 KiB, and unparsed if it
nests deeper than 8 levels or has more than 256 keys. Validation rules, modes and examples are in
[configuration.md](../configuration.md); ` + "`mcp-task-orchestrator doctor`" + ` checks every file it finds.
`)
	section := ""
	for _, k := range keys {
		parts := strings.Split(k.path, ".")
		sec := parts[0]
		if sec == "database_pools" {
			sec = parts[0] + "." + parts[1]
		}
		if sec != section {
			section = sec
			fmt.Fprintf(&b, "\n## `%s`\n\n%s\n\n| key | type | default | allowed | env | set in | meaning |\n|---|---|---|---|---|---|---|\n", sec, sectionIntro(sec))
		}
		where := "global, env"
		if k.env == "" {
			where = "global"
		}
		if k.project {
			where = "global, project"
		}
		envCol := ""
		if k.env != "" {
			envCol = "`" + k.env + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s | %s | %s | %s |\n", parts[len(parts)-1], k.typ, k.def, k.allowed, envCol, where, strings.ReplaceAll(k.doc, "|", `\|`))
	}
	return b.String(), nil
}

func sectionIntro(sec string) string {
	switch sec {
	case "database_pools.operational":
		return "The SQLite task store of each project (`.task_orchestrator/databases/tasks.db`): one writer connection plus read-only readers; these keys size the readers."
	case "database_pools.vector":
		return "The pool in front of Chroma (vector search): it bounds in-flight requests per project and trips a circuit breaker when Chroma is down."
	case "database_pools.graph":
		return "The pool in front of Neo4j (graph): it bounds concurrent sessions per project and sizes the driver's Bolt pool."
	case "security":
		return "Per-client limits over HTTP and the size limits of what one call may write."
	case "server":
		return "The process as a whole."
	case "backends":
		return "Where Chroma and Neo4j are: a shared server, or a command that starts a managed one per project. Empty means not configured."
	case "embeddings":
		return "How text becomes vectors for the vector tools and the task mirror."
	case "tasks":
		return "Claim leases and task history (see the task tools in the README)."
	}
	return ""
}
