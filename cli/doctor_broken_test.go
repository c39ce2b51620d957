package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// With a global config that is not valid, doctor cannot tell what it would
// configure: the backends' checks say so rather than "not configured →
// pip install chromadb", which would send the user the wrong way.
func TestDoctorOnABrokenGlobalConfigDoesNotCallTheBackendsUnconfigured(t *testing.T) {
	t.Setenv("PATH", "") // no chroma found on PATH by accident
	cfg := filepath.Join(t.TempDir(), "config.json")
	doc := "{\n  \"backends\": {\"chroma_command\": \"/opt/chroma/bin/chroma\"},\n  \"server\": {\"max_workspaces\": 0}\n}\n"
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	project := t.TempDir()
	if err := os.Mkdir(filepath.Join(project, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	env := Env{Stdout: &out, Stderr: &errOut, Version: "test", Getenv: func(k string) string {
		if k == "XDG_CONFIG_HOME" {
			return t.TempDir()
		}
		return ""
	}}
	if code := Doctor([]string{"--json", "--config", cfg, "--workspace", project}, env); code != ExitProblem {
		t.Fatalf("exit %d, want %d; stderr %s", code, ExitProblem, errOut.String())
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, out.String())
	}
	want := Finding{Level: LevelWarning,
		Detail: "not checked: " + cfg + " is not valid (see above), so what it configures is unknown",
		Fix:    "fix the global config as shown above, then run doctor again"}
	seen := map[string]bool{}
	for _, f := range rep.Findings {
		switch f.Check {
		case "vector (Chroma)", "graph (Neo4j)", "embeddings":
			seen[f.Check] = true
			want.Check = f.Check
			if f != want {
				t.Errorf("got  %+v\nwant %+v", f, want)
			}
		}
	}
	if len(seen) != 3 {
		t.Errorf("backend findings %v, want vector, graph and embeddings", seen)
	}
}
