package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every secret the server is configured with — the Neo4j password (right and
// wrong), a Chroma token, an embedding API key — stays out of every tool
// result, error, stderr line and project log, across all three backends.
func TestSecretsNeverLeak(t *testing.T) {
	project := newProject(t)
	ctx := ctxT(t)
	const (
		chromaToken = "chroma-token-SECRET-4f1d"
		apiKey      = "sk-api-key-SECRET-77aa"
		wrongPass   = "wrong-password-SECRET-9c2e"
	)
	neo4jPass := neo4jEnvVar(t, "TASK_ORCHESTRATOR_TEST_NEO4J_PASSWORD")
	secrets := []string{chromaToken, apiKey, wrongPass, neo4jPass}
	var outputs []string
	record := func(name string, args map[string]any, p *proc) {
		res := p.call(ctx, name, args)
		b, _ := json.Marshal(res)
		outputs = append(outputs, string(b))
	}
	env := append(sharedNeo4jEnv(t), "CHROMA_URL="+chromaURL(t), "CHROMA_TOKEN="+chromaToken,
		"TASK_ORCHESTRATOR_EMBEDDINGS_PROVIDER=hash", "MY_EMBED_KEY="+apiKey)
	cfg := jsonConfig(t, map[string]any{"embeddings": map[string]any{"provider": "hash", "api_key_env": "MY_EMBED_KEY"}})
	p := start(t, procOpts{dir: project, env: env, globalConfig: cfg, args: []string{"--log-level", "debug"}})
	record("workspace_info", map[string]any{"workspace": project}, p)
	record("task_create", map[string]any{"workspace": project, "title": "t"}, p)
	record("vector_upsert", map[string]any{"workspace": project, "collection": "secrets-test", "documents": []map[string]any{{"id": "a", "text": "x"}}}, p)
	record("vector_query", map[string]any{"workspace": project, "collection": "secrets-test", "text": "x"}, p)
	record("graph_merge_node", map[string]any{"workspace": project, "label": "SecretTest", "key": "k"}, p)
	record("graph_query", map[string]any{"workspace": project, "cypher": "RETURN 1"}, p)
	record("pool_status", map[string]any{"all": true}, p)
	record("graph_delete_node", map[string]any{"workspace": project, "label": "SecretTest", "key": "k"}, p)
	stderr1 := p.stderr.String()
	p.close()

	// The same with a wrong Neo4j password: the error must not echo it.
	bad := append([]string{}, env...)
	for i, e := range bad {
		if strings.HasPrefix(e, "NEO4J_PASSWORD=") {
			bad[i] = "NEO4J_PASSWORD=" + wrongPass
		}
	}
	p2 := start(t, procOpts{dir: project, env: bad, globalConfig: cfg, args: []string{"--log-level", "debug"}})
	record("graph_merge_node", map[string]any{"workspace": project, "label": "SecretTest", "key": "k"}, p2)
	record("pool_status", map[string]any{"workspace": project}, p2)
	record("workspace_info", map[string]any{"workspace": project}, p2)
	stderr2 := p2.stderr.String()
	p2.close()

	logs, _ := filepath.Glob(filepath.Join(project, ".task_orchestrator", "logs", "*"))
	var logText strings.Builder
	for _, f := range logs {
		b, _ := os.ReadFile(f)
		logText.Write(b)
	}
	all := map[string]string{"tool results": strings.Join(outputs, "\n"), "stderr": stderr1 + stderr2, "project logs": logText.String()}
	for where, text := range all {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("a secret (%s…) appears in the %s", s[:6], where)
			}
		}
	}
	if !strings.Contains(strings.Join(outputs, "\n"), "unavailable") {
		t.Errorf("the wrong password did not produce an error the test could inspect: %s", truncate(strings.Join(outputs, "\n"), 500))
	}
}
