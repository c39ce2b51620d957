package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// envNames are the variables the configuration reads, shown so the user sees
// what the environment decided. Secrets are shown as set, never by value.
var envNames = []string{
	"CHROMA_URL", "CHROMA_TENANT", "CHROMA_TOKEN", "TASK_ORCHESTRATOR_CHROMA_COMMAND",
	"NEO4J_URI", "NEO4J_USERNAME", "NEO4J_PASSWORD", "NEO4J_DATABASE",
	"TASK_ORCHESTRATOR_EMBEDDINGS_PROVIDER", "TASK_ORCHESTRATOR_EMBEDDINGS_MODEL", "TASK_ORCHESTRATOR_EMBEDDINGS_URL",
	"TASK_ORCHESTRATOR_MAX_WORKSPACES", "TASK_ORCHESTRATOR_LOG_LEVEL",
}

// checkGlobalConfig loads defaults < global file < environment as the server
// would. When that fails it reports every violation and carries on with
// defaults and the environment, so the other checks still run; broken is then
// true, and the checks of what that file would configure say they could not tell.
func checkGlobalConfig(rep *Report, path string, env Env) (cfg workspace.Config, file string, broken bool) {
	const check = "global config"
	file = path
	if file == "" {
		file = workspace.DefaultGlobalPath(env.getenv)
	} else if abs, err := filepath.Abs(file); err == nil {
		file = abs
	}
	cfg, files, err := workspace.LoadGlobal(workspace.LoadOptions{GlobalPath: path, Env: env.getenv})
	var set []string
	for _, n := range envNames {
		if env.getenv(n) != "" {
			set = append(set, n)
		}
	}
	fromEnv := "no configuration variables in the environment"
	if len(set) > 0 {
		fromEnv = "from the environment: " + strings.Join(set, ", ")
	}
	if err == nil {
		if len(files) == 0 {
			rep.add(ok(check, fmt.Sprintf("no file at %s (optional): defaults; %s", file, fromEnv)))
		} else {
			rep.add(ok(check, fmt.Sprintf("%s is valid; %s", files[0], fromEnv)))
		}
		return cfg, file, false
	}
	data, _ := os.ReadFile(file)
	for _, f := range configFindings(check, file, data, nil, err) {
		rep.add(f)
	}
	// Carry on as if the file were absent: the environment still applies.
	noFile := func(k string) string {
		if k == "XDG_CONFIG_HOME" {
			return string(filepath.Separator) + "nonexistent-mcp-task-orchestrator-doctor"
		}
		return env.getenv(k)
	}
	if cfg, _, err = workspace.LoadGlobal(workspace.LoadOptions{Env: noFile}); err != nil {
		cfg = workspace.Defaults()
	}
	return cfg, file, true
}

// configFindings turns a config loading error into one finding per problem,
// each with the line it is on. other is a second file to look for a key in
// (the global file, for a value the project file's merge broke).
func configFindings(check, file string, data []byte, other map[string][]byte, err error) []Finding {
	var se *workspace.ConfigSyntaxError
	var ve *workspace.ValidationError
	switch {
	case errors.Is(err, workspace.ErrConfigFileRefused):
		return []Finding{fail(check, err.Error(), "make "+file+" a regular file holding only the settings you change: at most 1 MiB for the global file; for a project at most 64 KiB, 8 levels and 256 keys, and not a link")}
	case errors.As(err, &se):
		return []Finding{fail(check, se.Error(),
			fmt.Sprintf("fix the JSON syntax at line %d, column %d of %s", se.Line, se.Column, se.File))}
	case errors.As(err, &ve):
		var out []Finding
		for _, v := range ve.Violations {
			where, line := file, v.Line
			if line == 0 {
				line, _ = locateKey(data, v.Path)
			}
			for f, d := range other {
				if line == 0 {
					if line, _ = locateKey(d, v.Path); line > 0 {
						where = f
					}
				}
			}
			rule := fixFor(v)
			detail := v.String()
			fix := ""
			switch {
			case strings.Contains(v.Rule, "(set by $"):
				fix = "change the environment variable: " + rule
			case line > 0:
				if v.Line == 0 || where != file {
					detail += fmt.Sprintf(" (%s line %d)", where, line)
				}
				fix = fmt.Sprintf("edit %s line %d: %s", where, line, rule)
			default:
				fix = fmt.Sprintf("edit %s: %s", where, rule)
			}
			out = append(out, fail(check, detail, fix))
		}
		return out
	case errors.Is(err, fs.ErrNotExist):
		return []Finding{fail(check, err.Error(), "give --config the path of an existing file, or leave it out")}
	}
	return []Finding{fail(check, err.Error(), "make "+file+" readable by this user")}
}

// fixFor says in a few words what to change for one violation.
func fixFor(v workspace.Violation) string {
	key := v.Path[strings.LastIndex(v.Path, ".")+1:]
	r := v.Rule
	switch {
	case strings.HasPrefix(r, "unknown key"):
		if i := strings.Index(r, `did you mean "`); i >= 0 {
			want := strings.TrimSuffix(strings.TrimSuffix(r[i+len(`did you mean "`):], "?"), `"`)
			return fmt.Sprintf("rename %q to %q", key, want)
		}
		return fmt.Sprintf("remove %q (%s)", key, strings.TrimPrefix(strings.TrimPrefix(r, "unknown key"), "; "))
	case strings.HasPrefix(r, "not allowed in a project config"):
		return fmt.Sprintf("remove %q from the project config (set it in the global config or the environment instead)", key)
	case strings.HasPrefix(r, "appears more than once"):
		return fmt.Sprintf("keep one %q", key)
	case strings.HasPrefix(r, "must"), strings.HasPrefix(r, "is "):
		return key + " " + r
	}
	return key + ": " + r
}

// locateKey finds the dotted key path in a JSON document and returns its
// 1-based line and column, or 0, 0 when it is not there (or data is not JSON).
func locateKey(data []byte, path string) (line, col int) {
	if path == "" || !json.Valid(data) {
		return 0, 0
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	at := findKey(dec, data, strings.Split(path, "."))
	if at < 0 {
		return 0, 0
	}
	line, col = 1, 1
	for _, c := range string(data[:at]) {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// findKey expects an object next in dec; it returns the offset of the key
// want[0] (recursing for the rest of want), or -1.
func findKey(dec *json.Decoder, data []byte, want []string) int {
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return -1
	}
	for dec.More() {
		at := int(dec.InputOffset())
		for at < len(data) && strings.IndexByte(" \t\r\n,", data[at]) >= 0 {
			at++
		}
		tok, err := dec.Token()
		if err != nil {
			return -1
		}
		if key, _ := tok.(string); key == want[0] {
			if len(want) == 1 {
				return at
			}
			return findKey(dec, data, want[1:])
		}
		if err := dec.Decode(new(json.RawMessage)); err != nil {
			return -1
		}
	}
	return -1
}

// checkBinary reports this binary and returns its absolute path.
func checkBinary(rep *Report, env Env) string {
	const check = "binary"
	exe, err := env.executable()
	if err == nil {
		exe, err = filepath.EvalSymlinks(exe)
	}
	if err != nil {
		rep.add(warn(check, "cannot tell where this binary is: "+err.Error(), "use the absolute path of mcp-task-orchestrator in your MCP client's config"))
		return "mcp-task-orchestrator"
	}
	if strings.Contains(exe, string(filepath.Separator)+"go-build") {
		rep.add(warn(check, exe+" is a temporary build (go run): it is gone when go run ends",
			"build it to a stable place (in the clone: go build -o ~/.local/bin/mcp-task-orchestrator .), put ~/.local/bin on PATH, and run doctor with that binary"))
		return exe
	}
	rep.add(ok(check, fmt.Sprintf("%s, version %s", exe, rep.Version)))
	return exe
}

// checkRoot resolves the project as the server would with no tool argument
// and no MCP roots (the flag stands for the "workspace" argument).
func checkRoot(rep *Report, dir string, allowRoots []string, env Env) (workspace.Root, bool) {
	const check = "project root"
	r := &workspace.Resolver{Env: env.getenv, AllowRoots: allowRoots}
	if dir != "" {
		if abs, err := filepath.Abs(dir); err == nil {
			dir = abs
		}
	}
	root, err := r.Resolve(dir, nil)
	if err != nil {
		var re *workspace.RootError
		fix := "run doctor from inside your project, or pass --workspace DIR"
		if errors.As(err, &re) && re.Hint != "" {
			fix = strings.Replace(re.Hint, `pass a project folder (any path inside your project) as the "workspace" argument`,
				"pass --workspace DIR (tools: the \"workspace\" argument)", 1)
		}
		rep.add(fail(check, err.Error(), fix))
		return root, false
	}
	from := map[workspace.Source]string{
		workspace.SourceArgument: "--workspace",
		workspace.SourceEnv:      "$" + workspace.EnvWorkspace,
		workspace.SourceCwd:      "the working directory",
	}[root.Source]
	if root.Marker == "" {
		rep.add(warn(check, fmt.Sprintf("%s (from %s): no project marker (.task_orchestrator, .git, go.mod, package.json, pyproject.toml, Cargo.toml) in it or above, so the folder itself is the project", root.Path, from),
			"if this is a subfolder, run doctor from the project's top folder, or create .git there (git init)"))
		return root, true
	}
	detail := fmt.Sprintf("%s (%s found, starting from %s)", root.Path, root.Marker, from)
	if root.Source == workspace.SourceCwd {
		detail += "; an MCP client normally sends its roots, which decide instead"
	}
	rep.add(ok(check, detail))
	return root, true
}

// checkLayout judges the project's .task_orchestrator/ folder without creating it.
func checkLayout(rep *Report, l workspace.Layout) {
	const check = "data folder"
	if _, err := os.Lstat(l.Dir); errors.Is(err, fs.ErrNotExist) {
		rep.add(ok(check, l.Dir+" does not exist yet: it is created (mode 0700) on the first task call"))
		return
	}
	err := l.Validate()
	if err == nil {
		rep.add(ok(check, l.Dir+": databases/, artifacts/, configs/, logs/ present, mode 0700, owned by you"))
		return
	}
	var errs []error
	if j, isJoin := err.(interface{ Unwrap() []error }); isJoin {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	var missing []string
	for _, e := range errs {
		msg := strings.TrimPrefix(e.Error(), workspace.ErrBadLayout.Error()+": ")
		if strings.Contains(msg, "is missing") {
			missing = append(missing, msg[:strings.Index(msg, " is missing")])
			continue
		}
		detail, fix := msg, "remove "+l.Dir+" if it holds nothing you need: it is recreated on the next call"
		if i := strings.Index(msg, "; "); i > 0 {
			detail, fix = msg[:i], msg[i+2:]
			fix = strings.TrimPrefix(fix, "fix with: ")
		}
		rep.add(fail(check, detail, fix))
	}
	if len(missing) > 0 {
		names := make([]string, len(missing))
		for i, d := range missing {
			names[i] = filepath.Base(d) + "/"
		}
		rep.add(warn(check, l.Dir+" lacks "+strings.Join(names, ", "),
			"nothing to do: they are created (mode 0700) on the next tool call; or: mkdir -m 700 "+strings.Join(missing, " ")))
	}
}

// checkProjectConfig validates the project's own config file over cfg and
// returns the merged configuration (cfg itself when the file is bad).
func checkProjectConfig(rep *Report, cfg workspace.Config, l workspace.Layout, globalFile string) workspace.Config {
	const check = "project config"
	path := filepath.Join(l.Configs, workspace.ConfigFileName)
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		rep.add(ok(check, "no "+path+" (optional): the global settings apply"))
		return cfg
	}
	merged, _, err := workspace.ApplyProject(cfg, l)
	if err != nil {
		var data []byte
		if !errors.Is(err, workspace.ErrConfigFileRefused) { // a refused file may be a FIFO: reading it would block
			data, _ = os.ReadFile(path)
		}
		other := map[string][]byte{}
		if g, gerr := os.ReadFile(globalFile); gerr == nil {
			other[globalFile] = g
		}
		for _, f := range configFindings(check, path, data, other, err) {
			rep.add(f)
		}
		return cfg
	}
	var off []string
	pools := merged.DatabasePools
	for i, p := range []workspace.PoolSettings{pools.Operational, pools.Vector, pools.Graph} {
		if !p.IsEnabled() {
			off = append(off, workspace.BackendNames()[i])
		}
	}
	detail := path + " is valid"
	if len(off) > 0 {
		detail += "; it turns off: " + strings.Join(off, ", ")
	}
	rep.add(ok(check, detail))
	return merged
}

// GlobalConfigProblems turns the error LoadGlobal gave for the global config
// file (path as given to --config, "" for the default) into the sentences
// doctor prints for it, one per problem: what is wrong, where, and the fix.
// The server answers tool calls with them when it starts on a broken config.
func GlobalConfigProblems(path string, getenv func(string) string, err error) []string {
	if getenv == nil {
		getenv = os.Getenv
	}
	file := path
	if file == "" {
		file = workspace.DefaultGlobalPath(getenv)
	} else if abs, aerr := filepath.Abs(file); aerr == nil {
		file = abs
	}
	data, _ := os.ReadFile(file)
	var out []string
	for _, f := range configFindings("global config", file, data, nil, err) {
		s := strings.TrimSuffix(f.Detail, ".")
		if f.Fix != "" {
			s += "; fix: " + strings.TrimSuffix(f.Fix, ".")
		}
		out = append(out, s+".")
	}
	return out
}
