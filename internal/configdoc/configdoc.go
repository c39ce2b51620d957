// Package configdoc generates the configuration reference
// (docs/users/configuration-reference.md) from the config structs themselves:
// the keys from their json tags, the meanings from their doc comments, the
// defaults from workspace.Defaults and the environment variables from
// workspace.EnvVars. A test regenerates it and fails when the committed file
// differs, so the reference cannot drift from the code.
//
// The reference is for users, who write JSON and environment variables: a
// row names the whole key (backends.chroma_command), a type in words and
// which file may set it. A doc comment is written for Go readers
// ("MaxOverflow is how many … beyond MaxConnections"); the generator drops
// the leading field name and writes any other field named as its key, and a
// test fails when a row still speaks Go (a field name, []string, .Reveal).
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
	"regexp"
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
	field                    string // the Go field it is read into, e.g. MaxConnections
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
		return "secret (never shown)"
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

// defaultOf says a default as a user reads it: a JSON value in code
// quotes, or a word for nothing set (absent, none, empty).
func defaultOf(v reflect.Value) string {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return "absent"
		}
		v = v.Elem()
	}
	switch {
	case v.Type() == secretType:
		return "none"
	case v.Kind() == reflect.Slice && v.Len() == 0:
		return "empty list"
	case v.Kind() == reflect.String && v.Len() == 0:
		return "empty"
	}
	b, err := json.Marshal(v.Interface())
	if err != nil {
		return "?"
	}
	return "`" + string(b) + "`"
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
			path: path, typ: typeName(f.Type), def: defaultOf(fv), env: env[path], field: f.Name,
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

Every key the server reads, with its type, default, environment variable and meaning. A key is written as its path in
the JSON file: ` + "`backends.chroma_command`" + ` is ` + "`\"chroma_command\"`" + ` inside ` + "`\"backends\"`" + `. Durations are seconds
(fractions allowed). Layers, each overriding the one before: defaults, the global file (` + "`--config`" + ` or
` + "`$XDG_CONFIG_HOME/task-orchestrator/config.json`" + `), the environment, and the project's own
` + "`.task_orchestrator/configs/config.json`" + `, which may set only the keys whose file column says "global or project"
(it is untrusted: it can tune pools and turn a backend off, never point the server at another database). A secret is
never shown: logs, ` + "`doctor`" + ` and ` + "`status`" + ` print it as ` + "`****`" + `. Every number must stay in its "allowed"
range; a project's pools are also capped by ` + "`server.max_project_connections`" + ` (max_connections + max_overflow).
A project's file is refused unread if it is not a regular file (a symlink included) or over 64 KiB, and unparsed if it
nests deeper than 8 levels or has more than 256 keys. Validation rules, modes and examples are in
[configuration.md](../configuration.md); ` + "`mcp-task-orchestrator doctor`" + ` checks every file it finds.
`)
	// Go field name -> its key, to say keys where a comment names fields.
	// The pools share one struct, so a pool field resolves to the last
	// pool's key; meaning finds the one in the row's own section.
	fields := map[string]string{}
	paths := map[string]bool{}
	for _, k := range keys {
		fields[k.field] = k.path
		paths[k.path] = true
	}
	section := ""
	for _, k := range keys {
		sec := sectionOf(k.path)
		if sec != section {
			section = sec
			fmt.Fprintf(&b, "\n## `%s`\n\n%s\n\n| key | type | default | allowed | env | file | meaning |\n|---|---|---|---|---|---|---|\n", sec, sectionIntro(sec))
		}
		file := "global only"
		if k.project {
			file = "global or project"
		}
		envCol := ""
		if k.env != "" {
			envCol = "`" + k.env + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s |\n", k.path, k.typ, k.def, k.allowed, envCol, file,
			strings.ReplaceAll(meaning(k, fields, paths), "|", `\|`))
	}
	return b.String(), nil
}

// sectionOf is the heading a key is listed under: its first part, or the
// pool's own for database_pools.<pool>.<key>.
func sectionOf(path string) string {
	parts := strings.Split(path, ".")
	if parts[0] == "database_pools" && len(parts) > 2 {
		return parts[0] + "." + parts[1]
	}
	return parts[0]
}

// fieldWord matches a word that may be a Go field name.
var fieldWord = regexp.MustCompile(`\b[A-Z][A-Za-z0-9]*\b`)

// meaning turns k's doc comment, written for Go readers ("MaxOverflow is how
// many extra connections may open beyond MaxConnections"), into the user's
// words: the leading field name goes ("How many extra connections may open
// beyond `max_connections`"), and any other field named becomes its key
// (only the last part when the key is in the row's own section).
func meaning(k key, fields map[string]string, paths map[string]bool) string {
	doc := strings.TrimPrefix(k.doc, k.field+" ")
	for _, verb := range []string{"is ", "are "} {
		if rest, ok := strings.CutPrefix(doc, verb); ok {
			doc = rest
			break
		}
	}
	if doc != "" {
		doc = strings.ToUpper(doc[:1]) + doc[1:]
	}
	return fieldWord.ReplaceAllStringFunc(doc, func(w string) string {
		path, ok := fields[w]
		if !ok {
			return w
		}
		leaf := path[strings.LastIndex(path, ".")+1:]
		if paths[sectionOf(k.path)+"."+leaf] {
			return "`" + leaf + "`"
		}
		return "`" + path + "`"
	})
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
