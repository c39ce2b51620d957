package neo4j_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/neo4j"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/progress"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// managedOptions runs the project's own Neo4j from the pinned jars. The
// password reaches the server through NEO4J_AUTH, never its command line
// (which Neo4j copies into its debug.log, and `ps` shows).
func managedOptions(t testing.TB, layout workspace.Layout) neo4j.Options {
	java := javaServer(t)
	quoted := make([]string, len(java))
	for i, a := range java {
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	script := `NEO4J_TEST_SERVER_PASSWORD="${NEO4J_AUTH#neo4j/}" exec ` + strings.Join(quoted, " ") + ` "$0" "$1"`
	return neo4j.Options{
		Workspace: layout.Root,
		Layout:    layout,
		Settings:  workspace.Defaults().DatabasePools.Graph,
		Backends: workspace.Backends{
			Neo4jCommand:      []string{"/bin/sh", "-c", script, "{data_dir}", "{port}"},
			Neo4jStartTimeout: 180,
		},
		Logger: quiet,
	}
}

func processGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// processesUsing counts live processes whose command line names dir.
func processesUsing(dir string) int {
	entries, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(b), dir) {
			continue
		}
		if st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil && strings.Contains(string(st), ") Z ") {
			continue
		}
		n++
	}
	return n
}

// A managed Neo4j per project: started by Open with its data and a 0600
// password file under the project, raw Cypher allowed, data kept across
// Close and Open, and no Java process left after Close.
func TestManagedServerPerProjectPersistsAndLeavesNoProcess(t *testing.T) {
	layout := project(t)
	opts := managedOptions(t, layout)
	var mu sync.Mutex
	var reports []string
	ctx := progress.With(context.Background(), func(msg string, _, _ float64) {
		mu.Lock()
		reports = append(reports, msg)
		mu.Unlock()
	})
	dataDir := filepath.Join(layout.Databases, "neo4j")

	s, err := neo4j.Open(ctx, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	info := s.Info()
	if info.Mode != neo4j.ModeManaged || info.DataDir != dataDir || info.PID <= 0 || !strings.HasPrefix(info.URI, "bolt://127.0.0.1:") ||
		!info.RawCypher || info.ProjectID != "" {
		t.Errorf("Info = %+v, want a managed server on 127.0.0.1 with data in %s", info, dataDir)
	}
	mu.Lock()
	if len(reports) == 0 || !strings.Contains(reports[0], "starting the project's Neo4j server") {
		t.Errorf("progress while starting = %q", reports)
	}
	mu.Unlock()
	pwFile := filepath.Join(dataDir, ".password")
	fi, err := os.Stat(pwFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("password file %s: %v, mode %v; want 0600", pwFile, err, fi.Mode())
	}
	pw, _ := os.ReadFile(pwFile)
	if _, err := os.Stat(filepath.Join(dataDir, "data", "databases")); err != nil {
		t.Errorf("the server's data is not under %s: %v", dataDir, err)
	}
	if _, err := os.Stat(filepath.Join(layout.Logs, "neo4j.log")); err != nil {
		t.Errorf("no server log in %s: %v", layout.Logs, err)
	}

	merge(t, s, "Decision", "use-neo4j", map[string]any{"why": "cypher"})
	merge(t, s, "Decision", "use-go", nil)
	relate(t, s, neo4j.NodeRef{Label: "Decision", Key: "use-neo4j"}, neo4j.NodeRef{Label: "Decision", Key: "use-go"}, "FOLLOWS", nil)
	res, err := s.Query(ctx, "MATCH (d:Decision) RETURN d.key AS key, d.why AS why ORDER BY key", nil)
	if err != nil || len(res.Rows) != 2 || res.Rows[1]["why"] != "cypher" {
		t.Fatalf("graph_query on the managed server = %+v, %v", res, err)
	}
	if _, err := s.Write(ctx, "CREATE (:Note {text: $t})", map[string]any{"t": "raw cypher is fine here"}); err != nil {
		t.Fatalf("graph_write on the managed server: %v", err)
	}
	sc, err := s.Schema(ctx)
	if err != nil || !slices.Equal(sc.Labels, []string{"Decision", "Note"}) || !slices.Equal(sc.RelationshipTypes, []string{"FOLLOWS"}) ||
		!slices.Contains(sc.PropertyKeys, "why") {
		t.Errorf("Schema = %+v, %v", sc, err)
	}
	_, err = s.Query(ctx, "LOAD CSV FROM 'file:///etc/passwd' AS l RETURN l", nil)
	wantKind(t, err, neo4j.KindNotReadOnly, "LOAD CSV")

	pid := info.PID
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if !processGone(pid) || processesUsing(dataDir) != 0 {
		t.Fatalf("Neo4j (pid %d) or another process using %s still runs after Close", pid, dataDir)
	}
	for _, path := range []string{filepath.Join(layout.Logs, "neo4j.log"), filepath.Join(dataDir, "logs", "debug.log")} {
		if b, err := os.ReadFile(path); err == nil && strings.Contains(string(b), strings.TrimSpace(string(pw))) {
			t.Errorf("%s holds the project's Neo4j password", path)
		}
	}

	s2, err := neo4j.Open(ctx, opts)
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	defer func() {
		pid := s2.Info().PID
		if err := s2.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		if !processGone(pid) || processesUsing(dataDir) != 0 {
			t.Errorf("Neo4j (pid %d) still runs after Close", pid)
		}
	}()
	if pw2, _ := os.ReadFile(pwFile); string(pw2) != string(pw) {
		t.Errorf("the password changed across restarts")
	}
	ns, _, err := s2.Neighbors(ctx, neo4j.NeighborsRequest{From: neo4j.NodeRef{Label: "Decision", Key: "use-neo4j"}})
	if err != nil || len(ns) != 1 || ns[0].Node.Key != "use-go" || !slices.Equal(ns[0].Via, []string{"FOLLOWS"}) {
		t.Fatalf("after a restart Neighbors = %+v, %v", ns, err)
	}
	res, err = s2.Query(ctx, "MATCH (n:Note) RETURN n.text AS text", nil)
	if err != nil || len(res.Rows) != 1 {
		t.Fatalf("after a restart the raw write is gone: %+v, %v", res, err)
	}
}
