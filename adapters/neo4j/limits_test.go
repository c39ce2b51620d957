package neo4j_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/neo4j"
)

// Results are bounded while they stream, and Neo4j's errors say whose they are.

// A first row larger than the byte cap is refused with a sentence that says
// what to return instead (not an empty "truncated" result); rows that fit
// before a row that does not are returned, truncated; and the store answers
// normally afterwards.
func TestRowsLargerThanTheByteCapAreRefusedOrCut(t *testing.T) {
	ctx := context.Background()
	s := open(t, sharedOptions(project(t), true)) // MaxBytes: 1 MiB
	_, err := s.Query(ctx, "RETURN range(1, 2000000) AS xs", nil)
	e := wantKind(t, err, neo4j.KindTooLarge, "a single row of the result is larger than graph_query's byte cap (1 MiB of JSON)",
		"columns: xs", "return less per row")
	if e.Err == nil {
		t.Errorf("the error keeps no cause for the logs")
	}
	// Many huge rows: the first one is refused and the others never read.
	_, err = s.Query(ctx, "UNWIND range(1, 50) AS i RETURN i, range(1, 500000) AS xs", nil)
	wantKind(t, err, neo4j.KindTooLarge, "graph_query's byte cap")
	// Rows of ~200 KB: the first five fit, the sixth does not.
	res, err := s.Query(ctx, "UNWIND range(1, 50) AS i RETURN i, range(1, 30000) AS xs", nil)
	if err != nil || !res.Truncated || len(res.Rows) == 0 || len(res.Rows) > 6 {
		t.Fatalf("rows of ~200 KB: %d rows, truncated %v, %v", len(res.Rows), res.Truncated, err)
	}
	if b, _ := json.Marshal(res.Rows); len(b) > 1<<20 {
		t.Errorf("the rows returned are %d bytes of JSON, over the 1 MiB cap", len(b))
	}
	// graph_write commits what it did and cuts only the rows it returns.
	g := randomName("Big")
	t.Cleanup(func() { adminRun(t, "MATCH (n:"+g+") DETACH DELETE n", nil) })
	res, err = s.Write(ctx, "UNWIND range(1, 3) AS i CREATE (n:"+g+" {i: i}) RETURN range(1, 500000) AS xs", nil)
	if err != nil || !res.Truncated || len(res.Rows) != 0 || res.Counters["nodes_created"] != 3 {
		t.Fatalf("a write returning huge rows: %+v, %v", res, err)
	}
	if n := adminRun(t, "MATCH (n:"+g+") RETURN count(n) AS c", nil)[0]["c"]; n != int64(3) {
		t.Errorf("the write committed %v nodes, want 3", n)
	}
	res, err = s.Query(ctx, "RETURN 1 AS one", nil)
	if err != nil || len(res.Rows) != 1 {
		t.Errorf("after the huge rows: %+v, %v", res, err)
	}
}

// The estimate of a row's JSON size, which decides the byte cap before
// anything is converted, is never below the size of the JSON returned.
func TestTheByteCapsEstimateIsNeverBelowTheJSON(t *testing.T) {
	ctx := context.Background()
	opts := sharedOptions(project(t), true)
	s := open(t, opts)
	g := randomName("Est")
	t.Cleanup(func() { adminRun(t, "MATCH (n:"+g+") DETACH DELETE n", nil) })
	if _, err := s.Write(ctx, "CREATE (a:"+g+" {name: '<a&b>\"\\\\', born: date('2024-01-02'), at: datetime('2024-01-02T03:04:05.123456789Z'), "+
		"took: duration('P1DT2H'), where: point({x: 1.5, y: 2, z: 3}), tags: ['x', 'y'], f: 0.1, big: 12345678901234, "+
		"ctl: '\u0001\u2028é'})-[:R {w: 1.25}]->(b:"+g+" {name: 'b'})", nil); err != nil {
		t.Fatal(err)
	}
	q := "MATCH p = (a:" + g + ")-[r:R]->(b) RETURN a, r, p, a.born AS born, a.at AS at, a.took AS took, a.where AS pt, " +
		"0.0 / 0.0 AS nan, localtime('12:30') AS lt, [1, 'two', 3.5, null, true, {k: [1, 2]}] AS mixed, null AS nothing"
	full, err := s.Query(ctx, q, nil)
	if err != nil || len(full.Rows) != 1 {
		t.Fatalf("Query = %+v, %v", full, err)
	}
	b, _ := json.Marshal(full.Rows[0])
	// MaxBytes covers the brackets of the rows' list, then the row: one
	// byte short of the row's JSON, it must be refused (the estimate is not
	// below the JSON); at twice the JSON it must pass (nor far above it).
	opts.MaxBytes = len(b) + 1
	_, err = open(t, opts).Query(ctx, q, nil)
	wantKind(t, err, neo4j.KindTooLarge, "byte cap")
	opts.MaxBytes = 2*len(b) + 2
	if res, err := open(t, opts).Query(ctx, q, nil); err != nil || len(res.Rows) != 1 {
		t.Errorf("a row of %d bytes of JSON under a byte cap of %d: %+v, %v", len(b), opts.MaxBytes, res, err)
	}
}

// A syntax, type or run-time error in the statement is the caller's: a
// query_error that says so, quotes the server and never blames the server;
// these errors never discard a session slot, so they cannot open the breaker.
func TestStatementErrorsAreTheCallersAndKeepTheBreakerClosed(t *testing.T) {
	ctx := context.Background()
	opts := sharedOptions(project(t), true)
	opts.Breaker = 2
	s := open(t, opts)
	for _, c := range []struct{ cypher, want string }{
		{"MATCH (n RETURN n", "Neo.ClientError.Statement.SyntaxError"},
		{"RETURN 1 + $b AS x", "Type mismatch"},
		{"UNWIND [1, 0] AS d RETURN 10 / d AS q", "Neo.ClientError.Statement.ArithmeticError"},
		{"RETURN toInteger([1]) AS x", "Neo.ClientError.Statement."},
	} {
		for range 3 {
			_, err := s.Query(ctx, c.cypher, map[string]any{"b": true})
			e := wantKind(t, err, neo4j.KindQuery, "the Cypher statement has an error", c.want, "fix the statement and retry")
			for _, bad := range []string{"NEO4J_URI", "did not answer", "unavailable"} {
				if strings.Contains(e.Msg, bad) {
					t.Errorf("%q: the message blames the server: %q", c.cypher, e.Msg)
				}
			}
		}
	}
	m := s.PoolMetrics()[0]
	if m.PingFailures != 0 || m.Errors != 0 {
		t.Errorf("statement errors counted against the server: %+v", m)
	}
	if _, err := s.Query(ctx, "RETURN 1 AS one", nil); err != nil {
		t.Errorf("after the statement errors: %v", err)
	}
}

// A statement the server stops at the transaction timeout says it timed out
// and which limit; so does one that waits that long for a lock; and a result
// so large that it is still arriving at the client's deadline (the timeout
// plus a grace) says that, instead of "the server did not answer".
func TestTimeoutsSayWhichLimitTheyHit(t *testing.T) {
	ctx := context.Background()
	opts := sharedOptions(project(t), true)
	opts.QueryTimeout = 2 * time.Second
	s := open(t, opts)

	_, err := s.Query(ctx, "UNWIND range(1, 10000000000) AS i WITH i WHERE i < 0 RETURN count(i) AS c", nil)
	wantKind(t, err, neo4j.KindTimeout, "ran longer than the 2s transaction timeout", "nothing was committed")

	g := randomName("Lock")
	t.Cleanup(func() { adminRun(t, "MATCH (n:"+g+") DETACH DELETE n", nil) })
	adminRun(t, "CREATE (:"+g+" {k: 1})", nil)
	d, err := driver.NewDriverWithContext(neo4jURI, driver.BasicAuth("neo4j", neo4jPassword, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	sess := d.NewSession(ctx, driver.SessionConfig{})
	defer sess.Close(ctx)
	tx, err := sess.BeginTransaction(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Run(ctx, "MATCH (n:"+g+") SET n.locked = true", nil); err != nil {
		t.Fatal(err)
	}
	_, err = s.Write(ctx, "MATCH (n:"+g+") SET n.v = 1", nil)
	_ = tx.Rollback(ctx)
	wantKind(t, err, neo4j.KindTimeout, "ran longer than the 2s transaction timeout", "waiting for a lock")

	// Thirty million integers: ~150 MB on the wire, which the driver reads
	// (and decodes whole) far slower than 2s + 5s.
	_, err = s.Query(ctx, "RETURN range(1, 30000000) AS xs", nil)
	e := wantKind(t, err, neo4j.KindTimeout, "did not finish within 7s (the 2s transaction timeout plus 5s")
	if strings.Contains(e.Msg, "NEO4J_URI") || strings.Contains(e.Msg, "did not answer") {
		t.Errorf("the client's deadline blames the server: %q", e.Msg)
	}
	if _, err := s.Query(ctx, "RETURN 1 AS one", nil); err != nil {
		t.Errorf("after the timeouts: %v", err)
	}
}

// Raw Cypher runs one statement at a time per project: while one runs, a
// second waits at most pool_timeout and then says why it is busy, while the
// structured tools are not held up.
func TestRawCypherOfOneProjectRunsOneStatementAtATime(t *testing.T) {
	ctx := context.Background()
	opts := sharedOptions(project(t), false)
	opts.Backends.Neo4jDedicatedProjects = []string{opts.Layout.Root}
	opts.Settings.PoolTimeout = 1
	opts.QueryTimeout = 4 * time.Second
	s := open(t, opts)
	slow := make(chan error, 1)
	go func() {
		_, err := s.Query(ctx, "UNWIND range(1, 10000000000) AS i WITH i WHERE i < 0 RETURN count(i) AS c", nil)
		slow <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); !neo4j.RawGateHeld(s); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the slow statement did not take the raw Cypher gate within 10 s")
		}
	}
	_, err := s.Query(ctx, "RETURN 1 AS one", nil)
	wantKind(t, err, neo4j.KindBusy, "graph_query waited 1s (pool_timeout)", "one statement at a time per project")
	if _, err := s.MergeNode(ctx, neo4j.NodeRef{Label: "File", Key: "k"}, nil); err != nil {
		t.Errorf("a structured call while raw Cypher runs: %v", err)
	}
	wantKind(t, <-slow, neo4j.KindTimeout, "transaction timeout")
	if _, err := s.Query(ctx, "RETURN 1 AS one", nil); err != nil {
		t.Errorf("once the slow statement ended: %v", err)
	}
}

// The project's own Neo4j runs with a transaction memory limit: a statement
// that needs more memory on the server is the caller's query_error, and the
// server goes on answering.
func TestManagedServerRefusesATransactionOverItsMemoryLimit(t *testing.T) {
	ctx := context.Background()
	layout := project(t)
	s, err := neo4j.Open(ctx, managedOptions(t, layout))
	if err != nil {
		t.Fatalf("Open (managed): %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	// graph_query refuses SHOW SETTINGS: ask the server directly.
	pw, err := os.ReadFile(filepath.Join(layout.Databases, "neo4j", ".password"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := driver.NewDriverWithContext(s.Info().URI, driver.BasicAuth("neo4j", strings.TrimSpace(string(pw)), ""))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	got, err := driver.ExecuteQuery(ctx, d, "SHOW SETTINGS YIELD name, value WHERE name = 'db.memory.transaction.max' RETURN value",
		nil, driver.EagerResultTransformer)
	if err != nil || len(got.Records) != 1 {
		t.Fatalf("SHOW SETTINGS: %+v, %v", got, err)
	}
	if v := fmt.Sprint(got.Records[0].Values[0]); v != "256.00MiB" {
		t.Errorf("db.memory.transaction.max of the managed server = %s, want 256.00MiB", v)
	}
	_, err = s.Query(ctx, "UNWIND range(1, 20000000) AS i WITH collect(toString(i)) AS xs RETURN size(xs) AS n", nil)
	e := wantKind(t, err, neo4j.KindQuery, "the Cypher statement needs more memory than", "allows a transaction", "narrow it")
	t.Logf("the refusal: %s", e.Msg)
	if strings.Contains(e.Msg, "did not answer") {
		t.Errorf("the memory refusal blames the server: %q", e.Msg)
	}
	if res, err := s.Query(ctx, "RETURN 1 AS one", nil); err != nil || len(res.Rows) != 1 {
		t.Errorf("after the refusal: %+v, %v", res, err)
	}
}
