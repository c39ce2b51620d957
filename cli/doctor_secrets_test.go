package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// credentialEnv is an environment whose database URLs carry a user and
// password (a closed port: only what doctor prints matters here).
func credentialEnv(t *testing.T) (Env, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	vars := map[string]string{
		"XDG_CONFIG_HOME": t.TempDir(),
		"HOME":            t.TempDir(),
		"CHROMA_URL":      "http://chroma-user:ChromaPw-in-URL@127.0.0.1:1",
		"NEO4J_URI":       "bolt://neo4j:Neo4jPw-in-URL@127.0.0.1:1",
		"NEO4J_PASSWORD":  "Neo4jPw-in-variable",
	}
	var stdout, stderr bytes.Buffer
	return Env{Stdout: &stdout, Stderr: &stderr, Version: "test", Getenv: func(k string) string { return vars[k] },
		Executable: func() (string, error) { return "/usr/local/bin/mcp-task-orchestrator", nil }}, &stdout, &stderr
}

func assertNoPasswords(t *testing.T, what, out string) {
	t.Helper()
	for _, pw := range []string{"ChromaPw-in-URL", "Neo4jPw-in-URL", "Neo4jPw-in-variable"} {
		if strings.Contains(out, pw) {
			t.Errorf("%s prints the password %s:\n%s", what, pw, out)
		}
	}
}

// The client snippets hand CHROMA_URL and NEO4J_URI on to the MCP client;
// a user:password inside them is masked there (with a note saying so), and
// nowhere else in the report either, text or JSON.
func TestDoctorNeverPrintsAPasswordInsideAURL(t *testing.T) {
	proj := t.TempDir()
	if err := os.Mkdir(filepath.Join(proj, ".git"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, format := range [][]string{nil, {"--json"}} {
		env, stdout, stderr := credentialEnv(t)
		Doctor(append([]string{"--workspace", proj, "--timeout", "1s"}, format...), env)
		out := stdout.String() + stderr.String()
		assertNoPasswords(t, "doctor "+strings.Join(format, " "), out)
		for _, want := range []string{"http://***@127.0.0.1:1", "bolt://***@127.0.0.1:1", "NEO4J_URI holds a credential, shown as ***"} {
			if !strings.Contains(out, want) {
				t.Errorf("doctor %s: want %q in:\n%s", strings.Join(format, " "), want, out)
			}
		}
	}
}

// status --http with a user:password in the address: the failure names the
// server without them.
func TestStatusNeverPrintsAPasswordInsideItsAddress(t *testing.T) {
	env, stdout, stderr := credentialEnv(t)
	Status([]string{"--http", "http://admin:StatusPw-in-URL@127.0.0.1:1"}, env)
	out := stdout.String() + stderr.String()
	if strings.Contains(out, "StatusPw-in-URL") || !strings.Contains(out, "http://***@127.0.0.1:1/mcp does not answer MCP") {
		t.Fatalf("status printed:\n%s", out)
	}
}
