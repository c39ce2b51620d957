package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

// The same secrets as TestSecretsNeverLeak, plus the HTTP auth token, over
// Streamable HTTP: no tool result, refusal body, /metrics or /readyz answer,
// stderr line or project log carries any of them — also when a client sends
// the token in the wrong header or a near-miss of it.
func TestSecretsNeverLeakOverHTTP(t *testing.T) {
	root, _ := filepath.EvalSymlinks(t.TempDir())
	project := filepath.Join(root, "proj")
	if err := os.MkdirAll(filepath.Join(project, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	const (
		authToken   = "http-auth-token-SECRET-51b0"
		chromaToken = "chroma-token-SECRET-4f1d"
		apiKey      = "sk-api-key-SECRET-77aa"
	)
	neo4jPass := neo4jEnvVar(t, "TASK_ORCHESTRATOR_TEST_NEO4J_PASSWORD")
	secrets := []string{authToken, chromaToken, apiKey, neo4jPass}
	env := append(sharedNeo4jEnv(t), "CHROMA_URL="+chromaURL(t), "CHROMA_TOKEN="+chromaToken,
		"TASK_ORCHESTRATOR_EMBEDDINGS_PROVIDER=hash", "MY_EMBED_KEY="+apiKey)
	cfg := jsonConfig(t, map[string]any{"embeddings": map[string]any{"provider": "hash", "api_key_env": "MY_EMBED_KEY"}})
	h := startHTTPServer(t, procOpts{env: env, globalConfig: cfg, args: []string{"--log-level", "debug"}}, root, authToken)

	var outputs []string
	get := func(path string, hdr map[string]string) {
		req, _ := http.NewRequest(http.MethodGet, h.base+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		outputs = append(outputs, string(b))
	}
	post := func(hdr map[string]string) int {
		req, _ := http.NewRequest(http.MethodPost, h.base+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("POST /mcp: %v", err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		outputs = append(outputs, res.Header.Get("WWW-Authenticate")+string(b))
		return res.StatusCode
	}
	// The token in the wrong header, a near miss, and under the wrong scheme.
	for _, hdr := range []map[string]string{
		{"X-Api-Key": authToken},
		{"Authorization": "Bearer " + authToken[:len(authToken)-1]},
		{"Authorization": "Basic " + authToken},
	} {
		if st := post(hdr); st != http.StatusUnauthorized {
			t.Fatalf("a request without the right token got %d, want 401", st)
		}
	}

	c, err := h.connect(t, "2025-11-25", nil)
	if err != nil {
		t.Fatalf("initialize: %v\n%s", err, h.stderr.String())
	}
	defer c.Close()
	for _, call := range []struct {
		name string
		args map[string]any
	}{
		{"workspace_info", map[string]any{"workspace": project}},
		{"task_create", map[string]any{"workspace": project, "title": "t"}},
		{"vector_upsert", map[string]any{"workspace": project, "collection": "secrets-http-test", "documents": []map[string]any{{"id": "a", "text": "x"}}}},
		{"vector_query", map[string]any{"workspace": project, "collection": "secrets-http-test", "text": "x"}},
		{"graph_merge_node", map[string]any{"workspace": project, "label": "SecretHTTPTest", "key": "k"}},
		{"graph_query", map[string]any{"workspace": project, "cypher": "RETURN 1"}},
		{"graph_delete_node", map[string]any{"workspace": project, "label": "SecretHTTPTest", "key": "k"}},
		{"pool_status", map[string]any{"all": true}},
		{"task_create", map[string]any{"workspace": newProject(t), "title": "outside --allow-root"}},
	} {
		req := mcp.CallToolRequest{}
		req.Params.Name, req.Params.Arguments = call.name, call.args
		res, err := c.CallTool(ctx, req)
		if err != nil {
			t.Fatalf("%s: %v", call.name, err)
		}
		b, _ := json.Marshal(res)
		outputs = append(outputs, string(b))
	}
	auth := map[string]string{"Authorization": "Bearer " + authToken}
	get("/metrics", auth)
	get("/readyz", auth)
	get("/metrics", nil) // refused: the refusal body
	h.stop()

	logs, _ := filepath.Glob(filepath.Join(project, ".task_orchestrator", "logs", "*"))
	var logText strings.Builder
	for _, f := range logs {
		b, _ := os.ReadFile(f)
		logText.Write(b)
	}
	all := map[string]string{"HTTP answers": strings.Join(outputs, "\n"), "stderr": h.stderr.String(), "project logs": logText.String()}
	for where, text := range all {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("a secret (%s…) appears in the %s", s[:8], where)
			}
		}
	}
	// The test must have seen real output: the tools ran, the logs exist.
	joined := strings.Join(outputs, "\n")
	for _, want := range []string{"task_orchestrator_tool_calls_total", `"status":"ready"`, "outside every --allow-root tree", "http request"} {
		if !strings.Contains(joined+h.stderr.String(), want) {
			t.Errorf("expected %q in the answers or the log; the test did not exercise what it checks", want)
		}
	}
}
