package cli

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// ClientConfig is how an MCP client on this machine starts this binary.
type ClientConfig struct {
	// ClaudeDesktopFile is where Claude Desktop reads its servers on this OS.
	ClaudeDesktopFile string `json:"claude_desktop_file"`
	// ClaudeDesktopJSON is the "mcpServers" entry to merge into that file.
	ClaudeDesktopJSON string `json:"claude_desktop_json"`
	// ClaudeCode is the command that registers the server with Claude Code.
	ClaudeCode string `json:"claude_code"`
	// TeamJSON is a .mcp.json to commit at the project's root: it names the
	// binary by name (each teammate installs it on PATH) and no project (Claude
	// Code starts a project's servers in its folder), so it holds no path of
	// this machine.
	TeamJSON string   `json:"team_json"`
	Notes    []string `json:"notes,omitempty"`
}

// binaryName is how a team configuration names the server: found on PATH.
const binaryName = "mcp-task-orchestrator"

// modulePath is this server's module, to recognise its own source tree.
const modulePath = "github.com/mcp-task-orchestrator/mcp-task-orchestrator"

// checkSnippets judges what the printed snippets would point a client at:
// the server's own source tree instead of the user's project (doctor run in
// the clone), and which mcp-task-orchestrator the team .mcp.json would start.
func checkSnippets(rep *Report, exe, root string, env Env) {
	const check = "client snippets"
	if root != "" && isOwnSource(root) {
		rep.add(warn(check, root+" is the source tree of mcp-task-orchestrator itself, so the snippets below would point your client at it",
			"cd to your own project and run mcp-task-orchestrator doctor there (or pass --workspace YOUR_PROJECT)"))
		return
	}
	onPath := lookPath(binaryName, env.getenv("PATH"))
	if onPath != "" && exe != binaryName && onPath != exe {
		rep.add(warn(check, binaryName+" on your PATH is "+onPath+", not this binary ("+exe+"): the team .mcp.json would start that one",
			"install this build where PATH finds it (go build -o ~/.local/bin/mcp-task-orchestrator . in the clone), or remove the other"))
	}
}

// isOwnSource reports whether dir holds the go.mod of this server's module.
func isOwnSource(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	first, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(first) == "module "+modulePath
}

// lookPath finds name in the folders of path (as a shell would) and returns
// it with links resolved, or "".
func lookPath(name, path string) string {
	for _, dir := range filepath.SplitList(path) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			continue
		}
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return real
		}
		return p
	}
	return ""
}

// passedEnv are the variables worth handing to a server started by an MCP
// client, which does not inherit your shell's environment.
var passedEnv = []string{
	"CHROMA_URL", "CHROMA_TENANT", "TASK_ORCHESTRATOR_CHROMA_COMMAND",
	"NEO4J_URI", "NEO4J_USERNAME", "NEO4J_DATABASE",
	"TASK_ORCHESTRATOR_EMBEDDINGS_PROVIDER", "TASK_ORCHESTRATOR_EMBEDDINGS_MODEL", "TASK_ORCHESTRATOR_EMBEDDINGS_URL",
}

// clientConfig builds the snippets for this binary and this environment. It
// never writes a secret: where one is set in the environment, a placeholder
// and a note stand in for it; credentials inside a URL (CHROMA_URL=
// http://user:password@host) are masked as *** with a note.
func clientConfig(exe, configPath, root string, allowRoots []string, cfg workspace.Config, vs vectorSetup, env Env) ClientConfig {
	cc := ClientConfig{ClaudeDesktopFile: claudeDesktopFile(env)}
	var args []string
	if configPath != "" {
		if abs, err := filepath.Abs(configPath); err == nil {
			configPath = abs
		}
		args = []string{"--config", configPath}
	}
	for _, a := range allowRoots {
		if abs, err := filepath.Abs(a); err == nil {
			a = abs
		}
		args = append(args, "--allow-root", a)
	}
	vars := map[string]string{}
	for _, n := range passedEnv {
		v := env.getenv(n)
		if v == "" {
			continue
		}
		vars[n] = workspace.Redact(v)
		if vars[n] != v {
			cc.Notes = append(cc.Notes, n+" holds a credential, shown as ***: put it back in the snippet yourself, or better keep the URL without it and set the credential in the global config ("+
				firstNonEmpty(configPath, workspace.DefaultGlobalPath(env.getenv))+", mode 0600)")
		}
	}
	if vs.pathChroma != "" {
		vars["TASK_ORCHESTRATOR_CHROMA_COMMAND"] = vs.pathChroma
		cc.Notes = append(cc.Notes, "chroma was found on your shell's PATH; MCP clients start servers with a shorter PATH, so the snippet names it by absolute path")
	}
	for _, n := range []string{"NEO4J_PASSWORD", "CHROMA_TOKEN"} {
		if env.getenv(n) != "" {
			vars[n] = "<your " + n + ">"
			cc.Notes = append(cc.Notes, n+" is set in your shell: put the real value in place of the placeholder, or better in the global config ("+
				firstNonEmpty(configPath, workspace.DefaultGlobalPath(env.getenv))+", mode 0600)")
		}
	}
	if k := strings.TrimSpace(cfg.Embeddings.APIKeyEnv); k != "" {
		vars[k] = "<your API key>"
	}
	entry := struct {
		Command string            `json:"command"`
		Args    []string          `json:"args"`
		Env     map[string]string `json:"env,omitempty"`
	}{Command: exe, Args: nonNilStrings(args)}
	desktopVars := maps.Clone(vars)
	if root != "" {
		// Claude Desktop sends no roots: without this the server's working
		// directory (often / or home, which are refused) would decide.
		desktopVars[workspace.EnvWorkspace] = root
		cc.Notes = append(cc.Notes, "Claude Desktop sends no MCP roots, so its snippet names this project in "+workspace.EnvWorkspace+
			"; agents can still pass \"workspace\" to reach another project")
	}
	if len(desktopVars) > 0 {
		entry.Env = desktopVars
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // "<your NEO4J_PASSWORD>" stays readable
	enc.SetIndent("", "  ")
	_ = enc.Encode(map[string]any{"mcpServers": map[string]any{"task-orchestrator": entry}})
	cc.ClaudeDesktopJSON = strings.TrimSpace(b.String())
	code := "claude mcp add task-orchestrator"
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		code += " -e " + shellQuote(k+"="+vars[k])
	}
	code += " -- " + shellQuote(exe)
	for _, a := range args {
		code += " " + shellQuote(a)
	}
	cc.ClaudeCode = code

	// The team file: the binary by name, no flags naming this machine's files
	// and no variables (each machine's backends and credentials belong in its
	// own global config).
	b.Reset()
	_ = enc.Encode(map[string]any{"mcpServers": map[string]any{"task-orchestrator": struct {
		Command string   `json:"command"`
		Args    []string `json:"args"`
	}{binaryName, []string{}}}})
	cc.TeamJSON = strings.TrimSpace(b.String())
	switch onPath := lookPath(binaryName, env.getenv("PATH")); {
	case strings.Contains(exe, string(filepath.Separator)+"go-build"):
		cc.Notes = append(cc.Notes, "this is a temporary build (go run): the snippets name a file that is deleted when go run ends; "+
			"build the binary to a stable place (go build -o ~/.local/bin/mcp-task-orchestrator . in the clone) and run doctor with it")
	case onPath == "":
		cc.Notes = append(cc.Notes, binaryName+" is not on your PATH, so the team .mcp.json (which names it without a path) would not start it: "+
			"put "+filepath.Dir(exe)+" on PATH, or use the snippets above, which name it by absolute path")
	}
	return cc
}

// claudeDesktopFile is claude_desktop_config.json's place on this OS.
func claudeDesktopFile(env Env) string {
	home := env.getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	switch runtime.GOOS {
	case "darwin":
		return filepath.Join(home, "Library", "Application Support", "Claude", "claude_desktop_config.json")
	case "windows":
		return filepath.Join(env.getenv("APPDATA"), "Claude", "claude_desktop_config.json")
	}
	base := env.getenv("XDG_CONFIG_HOME")
	if base == "" || !filepath.IsAbs(base) {
		base = filepath.Join(home, ".config")
	}
	return filepath.Join(base, "Claude", "claude_desktop_config.json")
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r == '=' || r == ':' || r == ',' ||
			r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
