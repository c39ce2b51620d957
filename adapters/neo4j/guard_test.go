package neo4j_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/neo4j"
)

// fingerprint is what the hostile statements of the guard test could change:
// the test label's nodes with their labels and properties, the relationships
// touching them, the indexes and constraints, and the users.
func fingerprint(t *testing.T, label string) string {
	t.Helper()
	g := adminRun(t, "MATCH (n:"+label+") OPTIONAL MATCH (n)-[r]-() WITH n, count(r) AS rels "+
		"ORDER BY n.name RETURN collect([labels(n), properties(n), rels]) AS nodes", nil)
	idx := adminRun(t, "SHOW INDEXES YIELD name RETURN collect(name) AS names", nil)
	users := adminRun(t, "SHOW USERS YIELD user RETURN collect(user) AS users", nil)
	b, err := json.Marshal([]any{g, idx, users})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// hostileStatement is one line of testdata/cypher/hostile.txt: a statement
// graph_query must refuse, the kind of the refusal and words its message holds.
type hostileStatement struct {
	cypher string
	kind   neo4j.Kind
	says   string
}

// readHostileCypher reads the shared list of hostile statements (its format is
// in the file's header).
func readHostileCypher(t *testing.T, path string) []hostileStatement {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []hostileStatement
	for i, line := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.SplitN(line, "\t", 3)
		if len(f) != 3 || f[0] == "" || f[1] == "" || f[2] == "" {
			t.Fatalf("%s:%d: want kind<TAB>words<TAB>statement, got %q", path, i+1, line)
		}
		out = append(out, hostileStatement{cypher: strings.ReplaceAll(f[2], `\n`, "\n"), kind: neo4j.Kind(f[0]), says: f[1]})
	}
	return out
}

// The read-only guard of graph_query against the real server: Neo4j's own
// plan decides, LOAD CSV and administration are refused even when the plan
// says read, and not one of these statements changes anything.
func TestQueryGuardRefusesEveryHostileStatement(t *testing.T) {
	ctx := context.Background()
	s := open(t, sharedOptions(project(t), true))
	g := randomName("Guard")
	t.Cleanup(func() { adminRun(t, "MATCH (n:"+g+") DETACH DELETE n", nil) })
	res, err := s.Write(ctx, "CREATE (a:"+g+" {name: 'a', n: 1})-[:LINK {w: 1}]->(b:"+g+" {name: 'b', n: 2}), (:"+g+" {name: 'c'}) "+
		"RETURN a.name AS a", nil)
	if err != nil || res.Counters["nodes_created"] != 3 || res.Counters["relationships_created"] != 1 {
		t.Fatalf("Write = %+v, %v", res, err)
	}
	before := fingerprint(t, g)
	label := strings.NewReplacer(":G", ":"+g, "_G", "_"+g) // the test's own label and names

	hostile := readHostileCypher(t, "../../testdata/cypher/hostile.txt")
	for _, h := range hostile {
		cypher := label.Replace(h.cypher)
		_, err := s.Query(ctx, cypher, nil)
		if err == nil {
			t.Errorf("graph_query ran %q", cypher)
			continue
		}
		e := wantKind(t, err, h.kind, h.says)
		if strings.Contains(e.Msg, neo4jPassword) {
			t.Errorf("the message shows the password: %q", e.Msg)
		}
	}
	if got := len(hostile); got < 25 {
		t.Fatalf("only %d hostile statements", got)
	}
	if after := fingerprint(t, g); after != before {
		t.Errorf("the hostile statements changed the database:\nbefore %s\nafter  %s", before, after)
	}

	// What reads passes, including the allowed procedures and SHOW commands.
	for _, cypher := range []string{
		"MATCH (n:G) RETURN n.name AS name ORDER BY name",
		"CALL db.labels() YIELD label RETURN label",
		"CALL db.schema.nodeTypeProperties()",
		"SHOW INDEXES YIELD name RETURN name",
		"MATCH (n:G) WHERE n.name = 'load csv' OR n.name CONTAINS 'CALL dbms.x(' RETURN n",
		"// CREATE (:G)\nMATCH p = (:G)-[:LINK]->(:G) RETURN p",
	} {
		if _, err := s.Query(ctx, label.Replace(cypher), nil); err != nil {
			t.Errorf("graph_query(%q) = %v; want it to run", cypher, err)
		}
	}
	res, err = s.Query(ctx, "MATCH (n:"+g+") RETURN n.name AS name ORDER BY name", nil)
	if err != nil || len(res.Rows) != 3 || res.Rows[0]["name"] != "a" || res.Truncated || strings.Join(res.Columns, ",") != "name" {
		t.Errorf("read = %+v, %v", res, err)
	}

	// graph_write refuses what reaches outside the database too.
	for _, cypher := range []string{
		"LOAD CSV FROM 'file:///etc/passwd' AS l CREATE (:G {line: l[0]})",
		"CALL dbms.listConfig() YIELD name RETURN name",
		"CREATE USER intruder_G SET PASSWORD 'pw-pw-pw'",
		"SHOW SETTINGS",
	} {
		_, err := s.Write(ctx, label.Replace(cypher), nil)
		wantKind(t, err, neo4j.KindForbidden, "graph_write refuses")
	}
	if after := fingerprint(t, g); after != before {
		t.Errorf("the refused writes changed the database:\nbefore %s\nafter  %s", before, after)
	}
}

// Rows are capped by count and by approximate JSON size, values come back
// JSON-friendly, parameters that are whole JSON numbers are integers, and
// writes report their counters.
func TestQueryResultsAreCappedAndJSONFriendly(t *testing.T) {
	ctx := context.Background()
	opts := sharedOptions(project(t), true)
	opts.MaxRows, opts.MaxBytes = 5, 1000
	s := open(t, opts)
	g := randomName("Vals")
	t.Cleanup(func() { adminRun(t, "MATCH (n:"+g+") DETACH DELETE n", nil) })

	res, err := s.Query(ctx, "UNWIND range(1, 20) AS i RETURN i", nil)
	if err != nil || len(res.Rows) != 5 || !res.Truncated || res.Rows[4]["i"] != int64(5) {
		t.Errorf("by rows: %+v, %v", res, err)
	}
	res, err = s.Query(ctx, "UNWIND range(1, 5) AS i RETURN i", nil)
	if err != nil || len(res.Rows) != 5 || res.Truncated {
		t.Errorf("exactly MaxRows: %+v, %v", res, err)
	}
	res, err = s.Query(ctx, "UNWIND range(1, 5) AS i RETURN i, $pad AS pad", map[string]any{"pad": strings.Repeat("x", 300)})
	if b, _ := json.Marshal(res.Rows); err != nil || len(res.Rows) != 3 || !res.Truncated || len(b) > 1000 {
		t.Errorf("by bytes: %d rows (%d bytes), truncated %v, %v", len(res.Rows), len(b), res.Truncated, err)
	}
	res, err = s.Query(ctx, "UNWIND range(1, 100) AS i RETURN i LIMIT $n", map[string]any{"n": float64(3)})
	if err != nil || len(res.Rows) != 3 {
		t.Errorf("LIMIT $n with a JSON number: %+v, %v", res, err)
	}

	res, err = s.Write(ctx, "CREATE (a:"+g+" {name: 'a', born: date('2024-01-02'), at: datetime('2024-01-02T03:04:05Z'), "+
		"took: duration('P1DT2H'), where: point({x: 1.5, y: 2}), tags: ['x', 'y'], _project: 'x'})-[:R {w: 1}]->(b:"+g+" {name: 'b'}) "+
		"RETURN a.name AS name", nil)
	if err != nil || res.Counters["nodes_created"] != 2 || res.Counters["relationships_created"] != 1 ||
		res.Counters["properties_set"] != 9 || res.Rows[0]["name"] != "a" {
		t.Fatalf("Write = %+v, %v", res, err)
	}
	res, err = s.Query(ctx, "MATCH p = (a:"+g+")-[r:R]->(b) RETURN a, r, p, a.born AS born, a.at AS at, a.took AS took, "+
		"a.where AS pt, 0.0 / 0.0 AS nan, localtime('12:30') AS lt", nil)
	if err != nil || len(res.Rows) != 1 {
		t.Fatalf("Query = %+v, %v", res, err)
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatalf("the result does not encode as JSON: %v", err)
	}
	got := string(b)
	for _, want := range []string{
		`"a":{"labels":["` + g + `"],"properties":{`, `"r":{"properties":{"w":1},"type":"R"}`,
		`"p":{"nodes":[{"labels"`, `"born":"2024-01-02"`, `"at":"2024-01-02T03:04:05Z"`, `"took":"P0M1DT7200S"`,
		`"pt":{"srid":7203,"x":1.5,"y":2}`, `"nan":"NaN"`, `"lt":"12:30:00"`, `"tags":["x","y"]`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("result JSON lacks %s:\n%s", want, got)
		}
	}
	if strings.Contains(got, "_project") {
		t.Errorf("the result shows _project: %s", got)
	}
}

func TestCypherErrorsAreQueryErrorsWithTheServersMessage(t *testing.T) {
	ctx := context.Background()
	opts := sharedOptions(project(t), true)
	opts.QueryTimeout = time.Second
	s := open(t, opts)
	_, err := s.Query(ctx, "MATCH (n RETURN n", nil)
	e := wantKind(t, err, neo4j.KindQuery, "Neo.ClientError.Statement.SyntaxError", "Invalid input")
	if strings.Contains(e.Msg, neo4jPassword) {
		t.Errorf("message shows the password: %q", e.Msg)
	}
	_, err = s.Write(ctx, "RETURN undefinedVariable", nil)
	wantKind(t, err, neo4j.KindQuery, "undefinedVariable")
	_, err = s.Query(ctx, "RETURN $missing AS m", nil)
	wantKind(t, err, neo4j.KindQuery, "missing")
	_, err = s.Query(ctx, "   ", nil)
	wantKind(t, err, neo4j.KindInvalid, "cypher is required")
	// The server's own transaction timeout stops a runaway read.
	_, err = s.Query(ctx, "UNWIND range(1, 1000000000) AS i WITH i WHERE i < 0 RETURN count(i) AS c", nil)
	wantKind(t, err, neo4j.KindTimeout, "ran longer than the 1s transaction timeout")
	// The store still works.
	if _, err := s.Query(ctx, "RETURN 1 AS one", nil); err != nil {
		t.Errorf("after the errors: %v", err)
	}
}

// A wrong password is a clear error that never shows the password. (Another
// user than neo4j: Neo4j locks a user out for a while after failed logins.)
func TestWrongCredentialsAreClearAndSecretFree(t *testing.T) {
	opts := sharedOptions(project(t), false)
	opts.Backends.Neo4jUsername = "task_orchestrator_nobody"
	opts.Backends.Neo4jPassword = "wrong-password-4711"
	opts.Breaker = 1
	s := open(t, opts)
	_, err := s.MergeNode(context.Background(), neo4j.NodeRef{Label: "File", Key: "k"}, nil)
	e := wantKind(t, err, neo4j.KindUnavailable, "NEO4J_PASSWORD")
	if strings.Contains(e.Msg, "wrong-password-4711") || strings.Contains(fmt.Sprint(s.PoolMetrics()), "wrong-password-4711") {
		t.Errorf("the password leaked: %q", e.Msg)
	}
}
