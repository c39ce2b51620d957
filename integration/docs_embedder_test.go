package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
)

// The documented step of docs/users/offline-semantic-search.md, run as
// written in the docs test's home: `embedder install` puts the embedder in
// the default folder and prints the config line; with exactly that line in
// the global config, doctor finds the local embedder working.
func init() {
	docRules = append(docRules, docRule{"the offline semantic embedder", func(c string) bool {
		return c == "mcp-task-orchestrator embedder install"
	}, func(e *docEnv, cmd string) {
		out, errOut, code := e.run(e.cwd, "", nil, strings.Fields(cmd)...)
		if code != 0 {
			if os.Getenv("CI") == "" && (strings.Contains(errOut, "python3 was not found") || strings.Contains(errOut, "pip could not reach PyPI")) {
				e.t.Skipf("%s cannot run on this machine: %s", cmd, tail(errOut, 1000))
			}
			e.t.Fatalf("%s: exit %d\n%s\n%s", cmd, code, out, tail(errOut, 3000))
		}
		const line = `{"embeddings":{"provider":"local"}}`
		if !strings.Contains(out, "\n"+line+"\n") {
			e.t.Fatalf("%s printed\n%s\nwithout the config line %s", cmd, out, line)
		}
		python := filepath.Join(e.home, ".local", "share", "mcp-task-orchestrator", "embedder", "bin", "python")
		if _, err := os.Stat(python); err != nil {
			e.t.Fatalf("%s did not install into the documented default folder: %v", cmd, err)
		}
		cfgHome := filepath.Join(e.dir, "config-with-local")
		if err := os.MkdirAll(filepath.Join(cfgHome, "task-orchestrator"), 0o700); err != nil {
			e.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(cfgHome, "task-orchestrator", "config.json"), []byte(line), 0o600); err != nil {
			e.t.Fatal(err)
		}
		dout, derr, _ := e.run(e.cwd, "", []string{"XDG_CONFIG_HOME=" + cfgHome, "CHROMA_URL=", "NEO4J_URI="},
			"mcp-task-orchestrator", "doctor", "--json")
		var rep doctorReport
		if err := json.Unmarshal([]byte(dout), &rep); err != nil {
			e.t.Fatalf("doctor --json after %s: %v\n%s\n%s", cmd, err, dout, derr)
		}
		if f, ok := findingOf(rep, "embeddings"); !ok || f.Level != "ok" ||
			!strings.HasPrefix(f.Detail, "local: offline semantic search with all-MiniLM-L6-v2 ("+filepath.Dir(filepath.Dir(python))+")") {
			e.t.Fatalf("doctor after %s and the printed config line: embeddings finding %+v", cmd, f)
		}
	}})
}
