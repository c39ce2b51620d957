package integration

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// Raw Cypher results are bounded while they stream, and so is the memory the
// server spends on them; Neo4j's errors are classified honestly: the caller's
// statement, a timeout and an unreachable server each say what they are.

// dedicatedProject is a project whose raw Cypher may run on the shared test
// Neo4j (listed in backends.neo4j_dedicated_projects), served by its own
// server process.
func dedicatedProject(t *testing.T, env ...string) (*proc, string) {
	t.Helper()
	project := newProject(t)
	cfg := jsonConfig(t, map[string]any{"backends": map[string]any{"neo4j_dedicated_projects": []string{project}}})
	p := start(t, procOpts{dir: project, env: append(sharedNeo4jEnv(t), env...), globalConfig: cfg})
	return p, project
}

// procMemory reads a field of /proc/PID/status (VmRSS, VmHWM) in bytes.
func procMemory(t testing.TB, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("reading the server's /proc status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("%s in /proc/%d/status: %q", field, pid, line)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// rssSampler records the highest VmRSS of a process until stopped.
func rssSampler(t testing.TB, pid int) (stop func() int64) {
	var peak int64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			if rss := procMemory(t, pid, "VmRSS"); rss > peak {
				peak = rss
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() int64 {
		close(done)
		<-finished
		return peak
	}
}

const mib = 1 << 20

// Four graph_query calls at once, each returning a list of ten million
// integers (one record of ~50 MB on the wire): each answers with the clear
// sentence of the byte cap rather than eating memory or blaming the server,
// and the server answers normally afterwards. The process's peak RSS is
// measured and logged, not asserted.
func TestGraphQueryOfHugeRecordsIsCappedAndTheServerStaysUsable(t *testing.T) {
	p, project := dedicatedProject(t)
	ctx := ctxT(t)
	var one cypherOut
	p.ok(ctx, "graph_query", map[string]any{"workspace": project, "cypher": "RETURN 1 AS one"}, &one)
	pid := p.cmd.Process.Pid
	before := procMemory(t, pid, "VmRSS")
	sample := rssSampler(t, pid)
	start := time.Now()
	var wg sync.WaitGroup
	msgs := make([]string, 4)
	isErr := make([]bool, 4)
	for i := range 4 {
		wg.Go(func() {
			res := p.call(ctx, "graph_query", map[string]any{"workspace": project, "cypher": "RETURN range(1, 10000000) AS xs"})
			msgs[i], isErr[i] = text(res), res.IsError
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	peak := sample()
	t.Logf("four parallel RETURN range(1,10000000): %.1fs; server RSS before %d MiB, peak sampled %d MiB, VmHWM %d MiB, after %d MiB",
		elapsed.Seconds(), before/mib, peak/mib, procMemory(t, pid, "VmHWM")/mib, procMemory(t, pid, "VmRSS")/mib)
	for i, msg := range msgs {
		t.Logf("answer %d (error %v): %s", i, isErr[i], truncate(msg, 400))
		// The byte cap's sentence; or, on a slow machine (the driver reads
		// the ~50 MB record in seconds), the gate's for a call that waited
		// behind the others longer than pool_timeout, or the client
		// deadline's for a record still arriving after 35 s.
		capped := strings.HasPrefix(msg, "result_too_large: a single row of the result is larger than graph_query's byte cap (1 MiB of JSON)") &&
			strings.Contains(msg, "return less per row")
		busy := strings.HasPrefix(msg, "busy: graph_query waited") && strings.Contains(msg, "one statement at a time per project")
		late := strings.HasPrefix(msg, "timed_out: the statement did not finish within 35s (the 30s transaction timeout plus 5s")
		if !isErr[i] || !(capped || busy || late) {
			t.Errorf("answer %d is not the byte cap's sentence (nor the gate's, nor the deadline's): %v %q", i, isErr[i], truncate(msg, 400))
		}
		if strings.Contains(msg, "unavailable") || strings.Contains(msg, "NEO4J_URI") {
			t.Errorf("answer %d blames the server: %q", i, truncate(msg, 400))
		}
	}
	time.Sleep(time.Second)
	t.Logf("server RSS one second later: %d MiB", procMemory(t, pid, "VmRSS")/mib)
	one = cypherOut{}
	p.ok(ctx, "graph_query", map[string]any{"workspace": project, "cypher": "RETURN 1 AS one"}, &one)
	if len(one.Rows) != 1 || one.Rows[0]["one"] != float64(1) {
		t.Fatalf("after the huge reads, RETURN 1 gave %+v", one)
	}
	// Many rows are cut at the row cap, and rows that fit are kept.
	var many cypherOut
	p.ok(ctx, "graph_query", map[string]any{"workspace": project, "cypher": "UNWIND range(1, 100000) AS i RETURN i"}, &many)
	if !many.Truncated || len(many.Rows) != 1000 || many.Rows[999]["i"] != float64(1000) {
		t.Fatalf("100,000 rows: truncated %v, %d rows", many.Truncated, len(many.Rows))
	}
}

// A statement the server rejects is the caller's: the answer says it is an
// error in the Cypher statement, quotes the server's reason, and does not
// send the caller to check the server.
func TestGraphQueryStatementErrorsAreTheCallers(t *testing.T) {
	p, project := dedicatedProject(t)
	ctx := ctxT(t)
	cases := []struct {
		name, tool, cypher string
		params             map[string]any
		want               []string
	}{
		{"syntax", "graph_query", "MATCH (n RETURN n", nil,
			[]string{"query_error: ", "the Cypher statement has an error", "Neo.ClientError.Statement.SyntaxError", "fix the statement"}},
		{"syntax in graph_write", "graph_write", "CREATE (n:LimitsTest {x: }) RETURN n", nil,
			[]string{"query_error: ", "the Cypher statement has an error", "Neo.ClientError.Statement.SyntaxError"}},
		{"type", "graph_query", "RETURN 1 + $s AS x", map[string]any{"s": true},
			[]string{"query_error: ", "the Cypher statement has an error", "Type mismatch"}},
		{"division by zero at run time", "graph_query", "UNWIND [1, 0] AS d RETURN 10 / d AS q", nil,
			[]string{"query_error: ", "the Cypher statement has an error", "Neo.ClientError.Statement.ArithmeticError"}},
	}
	for _, c := range cases {
		args := map[string]any{"workspace": project, "cypher": c.cypher}
		if c.params != nil {
			args["params"] = c.params
		}
		res := p.call(ctx, c.tool, args)
		msg := text(res)
		if !res.IsError {
			t.Errorf("%s: not an error: %q", c.name, truncate(msg, 300))
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: %q does not say %q", c.name, truncate(msg, 400), w)
			}
		}
		for _, bad := range []string{"unavailable", "NEO4J_URI", "did not answer", "is running"} {
			if strings.Contains(msg, bad) {
				t.Errorf("%s: %q blames the server (%q)", c.name, truncate(msg, 400), bad)
			}
		}
	}
	// The caller's errors do not open the circuit breaker: after more of
	// them than its threshold, a good statement still runs.
	for range 8 {
		p.call(ctx, "graph_query", map[string]any{"workspace": project, "cypher": "RETURN nope("})
	}
	var one cypherOut
	p.ok(ctx, "graph_query", map[string]any{"workspace": project, "cypher": "RETURN 1 AS one"}, &one)
}

// A statement that runs past the transaction timeout says it timed out, and
// which limit: graph_write waits for a lock this test holds.
func TestGraphWriteThatOutlastsTheTransactionTimeoutSaysItTimedOut(t *testing.T) {
	p, project := dedicatedProject(t)
	ctx := ctxT(t)
	key := fmt.Sprintf("timeout-%d", time.Now().UnixNano())
	p.ok(ctx, "graph_write", map[string]any{"workspace": project, "cypher": "CREATE (n:LimitsTest {key: $key})", "params": map[string]any{"key": key}}, nil)
	t.Cleanup(func() {
		p.call(context.Background(), "graph_write", map[string]any{"workspace": project,
			"cypher": "MATCH (n:LimitsTest {key: $key}) DETACH DELETE n", "params": map[string]any{"key": key}})
	})
	d, err := driver.NewDriverWithContext(neo4jEnvVar(t, "TASK_ORCHESTRATOR_TEST_NEO4J_URI"),
		driver.BasicAuth("neo4j", neo4jEnvVar(t, "TASK_ORCHESTRATOR_TEST_NEO4J_PASSWORD"), ""))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	sess := d.NewSession(ctx, driver.SessionConfig{AccessMode: driver.AccessModeWrite})
	defer sess.Close(context.Background())
	tx, err := sess.BeginTransaction(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Run(ctx, "MATCH (n:LimitsTest {key: $key}) SET n.locked = true", map[string]any{"key": key}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res := p.call(ctx, "graph_write", map[string]any{"workspace": project,
		"cypher": "MATCH (n:LimitsTest {key: $key}) SET n.v = 1 RETURN n.v AS v", "params": map[string]any{"key": key}})
	msg := text(res)
	t.Logf("after %.1fs: %s", time.Since(start).Seconds(), truncate(msg, 400))
	if !res.IsError || !strings.Contains(msg, "timed_out: ") || !strings.Contains(msg, "ran longer than the 30s transaction timeout") ||
		!strings.Contains(msg, "nothing was committed") {
		t.Errorf("the statement that waited for a lock past the timeout: %v %q", res.IsError, truncate(msg, 400))
	}
	for _, bad := range []string{"unavailable", "NEO4J_URI", "did not answer"} {
		if strings.Contains(msg, bad) {
			t.Errorf("the timeout blames the server (%q): %q", bad, truncate(msg, 400))
		}
	}
}

// Only a server that does not answer is "unavailable".
func TestGraphQueryOnANeo4jThatIsDownSaysUnavailable(t *testing.T) {
	project := newProject(t)
	cfg := jsonConfig(t, map[string]any{"backends": map[string]any{"neo4j_dedicated_projects": []string{project}}})
	p := start(t, procOpts{dir: project, globalConfig: cfg,
		env: []string{"NEO4J_URI=bolt://127.0.0.1:" + strconv.Itoa(freePort(t)), "NEO4J_USERNAME=neo4j", "NEO4J_PASSWORD=x"}})
	ctx := ctxT(t)
	res := p.call(ctx, "graph_query", map[string]any{"workspace": project, "cypher": "RETURN 1 AS one"})
	msg := text(res)
	if !res.IsError || !strings.HasPrefix(msg, "unavailable: ") || !strings.Contains(msg, "NEO4J_URI") {
		t.Errorf("graph_query with Neo4j down: %v %q", res.IsError, truncate(msg, 400))
	}
	if strings.Contains(msg, "query_error") || strings.Contains(msg, "Cypher statement") {
		t.Errorf("graph_query with Neo4j down blames the statement: %q", truncate(msg, 400))
	}
}
