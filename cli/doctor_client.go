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
	ClaudeCode string   `json:"claude_code"`
	Notes      []string `json:"notes,omitempty"`
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
