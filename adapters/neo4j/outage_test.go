package neo4j_test

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/neo4j"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Neo4j stops during a burst of calls: they fail fast with a clear error, the
// breaker opens, goroutines stay bounded; a new server on the same port with
// the same data comes up: calls recover on the same store, data intact.
func TestOutageFailsFastTripsTheBreakerAndRecoversWithoutReopening(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "neo4j")
	port := freePort(t)
	const password = "outage-test-pw"
	server := runServer(t, dir, port, password)

	layout := project(t)
	opts := sharedOptions(layout, false)
	opts.Backends.Neo4jURI = fmt.Sprintf("bolt://127.0.0.1:%d", port)
	opts.Backends.Neo4jPassword = workspace.Secret(password)
	opts.Settings.PoolTimeout = 30
	opts.Breaker, opts.Cooldown = 3, 2*time.Second
	s := open(t, opts)

	hub := neo4j.NodeRef{Label: "Hub", Key: "h"}
	merge(t, s, hub.Label, hub.Key, nil)
	for i := range 5 {
		leaf := neo4j.NodeRef{Label: "Leaf", Key: strconv.Itoa(i)}
		merge(t, s, leaf.Label, leaf.Key, nil)
		relate(t, s, hub, leaf, "HAS", nil)
	}
	neighbors := func() error {
		ns, _, err := s.Neighbors(ctx, neo4j.NeighborsRequest{From: hub})
		if err == nil && len(ns) != 5 {
			return fmt.Errorf("%d neighbours, want 5", len(ns))
		}
		return err
	}
	goroutinesBefore := runtime.NumGoroutine()

	var ok, failed atomic.Int64
	var mu sync.Mutex
	var unexpected []error
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				err := neighbors()
				switch {
				case err == nil:
					ok.Add(1)
				case neo4j.IsKind(err, neo4j.KindUnavailable):
					failed.Add(1)
				default:
					mu.Lock()
					unexpected = append(unexpected, err)
					mu.Unlock()
					failed.Add(1)
				}
			}
		}()
	}
	waitFor(t, "calls to succeed", func() bool { return ok.Load() >= 20 })
	server.stop()
	waitFor(t, "calls to fail", func() bool { return failed.Load() >= 30 })
	close(stop)
	wg.Wait()
	for _, err := range unexpected {
		t.Errorf("during the outage: %v (%T), want KindUnavailable", err, err)
	}

	// Now every call fails fast, and the breaker is open.
	var tripped *neo4j.Error
	for range 10 {
		start := time.Now()
		err := neighbors()
		if elapsed := time.Since(start); elapsed > 10*time.Second {
			t.Errorf("a call took %s while the server was down (pool_timeout 30s): not failing fast", elapsed)
		}
		e := wantKind(t, err, neo4j.KindUnavailable, "127.0.0.1:"+strconv.Itoa(port))
		if e.RetryAfter > 0 {
			tripped = e
			break
		}
	}
	if tripped == nil {
		t.Fatal("the circuit breaker did not open")
	}
	wantKind(t, tripped, neo4j.KindUnavailable, "fail fast", "retry after", "NEO4J_URI")
	t.Logf("while down: %s", tripped.Msg)
	if m := s.PoolMetrics()[0]; m.State != pooling.StateDown || m.RetryAfter <= 0 || m.InUse != 0 || m.Name != "neo4j" || m.Backend != "graph" {
		t.Errorf("pool metrics while down = %+v, want state down with a retry-after and nothing in use", m)
	}
	if n := runtime.NumGoroutine(); n > goroutinesBefore+10 {
		t.Errorf("%d goroutines while the server is down, %d before the outage", n, goroutinesBefore)
	}

	// A new server on the same port, same data and password: the same store recovers.
	runServer(t, dir, port, password)
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := neighbors()
		if err == nil {
			break
		}
		if !neo4j.IsKind(err, neo4j.KindUnavailable) {
			t.Fatalf("after the restart: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no call succeeded within 60s of the restart: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if m := s.PoolMetrics()[0]; m.State == pooling.StateDown {
		t.Errorf("pool still down after a successful call: %+v", m)
	}
}

// waitFor polls cond (every 10ms, up to 60s).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
