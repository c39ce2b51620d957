package chroma_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/chroma"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// chromaProcess is a Chroma server this test owns, on a port it chooses.
type chromaProcess struct {
	cmd *exec.Cmd
	log *os.File
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// runChroma starts `chroma run` on port with its data in dir and waits for its heartbeat.
func runChroma(t *testing.T, dir string, port int) *chromaProcess {
	t.Helper()
	logf, err := os.OpenFile(filepath.Join(dir, "chroma.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(chromaCommand, "run", "--path", filepath.Join(dir, "data"), "--host", "127.0.0.1", "--port", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start chroma: %v", err)
	}
	p := &chromaProcess{cmd: cmd, log: logf}
	t.Cleanup(p.stop)
	url := fmt.Sprintf("http://127.0.0.1:%d/api/v2/heartbeat", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("chroma on port %d did not answer its heartbeat in 30s; log:\n%s", port, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM to the server's process group and waits for it. Idempotent.
func (p *chromaProcess) stop() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	p.log.Close()
}

func TestOutageFailsFastTripsTheBreakerAndRecoversWithoutReopening(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	port := freePort(t)
	server := runChroma(t, dir, port)

	layout := project(t)
	opts := remoteOptions(layout, workspace.Embeddings{})
	opts.Backends.ChromaURL = fmt.Sprintf("http://127.0.0.1:%d", port)
	opts.Settings.PoolTimeout = 30
	opts.Breaker, opts.Cooldown = 3, 2
	s := open(t, opts)

	var in []chroma.Document
	for i := range 10 {
		in = append(in, chroma.Document{ID: fmt.Sprintf("v%d", i), Embedding: []float32{float32(i), 1, 0}})
	}
	if _, err := s.Upsert(ctx, "vecs", in); err != nil {
		t.Fatal(err)
	}
	query := func() error {
		m, err := s.Query(ctx, chroma.QueryRequest{Collection: "vecs", Embedding: []float32{9, 1, 0}, NResults: 2})
		if err == nil && (len(m) != 2 || m[0].ID != "v9") {
			return fmt.Errorf("wrong matches %+v", m)
		}
		return err
	}
	goroutinesBefore := runtime.NumGoroutine()

	// A burst of queries while the server is stopped.
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
				err := query()
				switch {
				case err == nil:
					ok.Add(1)
				case chroma.IsKind(err, chroma.KindUnavailable):
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
	waitFor(t, "queries to succeed", func() bool { return ok.Load() >= 20 })
	server.stop()
	waitFor(t, "queries to fail", func() bool { return failed.Load() >= 50 })
	close(stop)
	wg.Wait()
	for _, err := range unexpected {
		t.Errorf("during the outage: %v (%T), want KindUnavailable", err, err)
	}

	// Now every call fails fast, and the breaker is open.
	var tripped *chroma.Error
	for range 10 {
		start := time.Now()
		err := query()
		if elapsed := time.Since(start); elapsed > 10*time.Second {
			t.Errorf("a call took %s while the server was down (pool_timeout 30s): not failing fast", elapsed)
		}
		e := wantKind(t, err, chroma.KindUnavailable, "127.0.0.1:"+strconv.Itoa(port))
		if e.RetryAfter > 0 {
			tripped = e
			break
		}
	}
	if tripped == nil {
		t.Fatal("the circuit breaker did not open")
	}
	wantKind(t, tripped, chroma.KindUnavailable, "fail fast", "retry after")
	t.Logf("while down: %s", tripped.Msg)
	if m := s.PoolMetrics()[0]; m.State != pooling.StateDown || m.RetryAfter <= 0 || m.InUse != 0 {
		t.Errorf("pool metrics while down = %+v, want state down with a retry-after and nothing in use", m)
	}
	if n := runtime.NumGoroutine(); n > goroutinesBefore+10 {
		t.Errorf("%d goroutines while the server is down, %d before the outage", n, goroutinesBefore)
	}

	// The server comes back on the same port: calls succeed again, same store.
	runChroma(t, dir, port)
	deadline := time.Now().Add(40 * time.Second)
	for {
		err := query()
		if err == nil {
			break
		}
		if !chroma.IsKind(err, chroma.KindUnavailable) {
			t.Fatalf("after the restart: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no call succeeded within 40s of the restart: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if m := s.PoolMetrics()[0]; m.State == pooling.StateDown {
		t.Errorf("pool still down after a successful call: %+v", m)
	}
	if c := count(t, s, "vecs"); c != 10 {
		t.Errorf("count after the restart = %d, want 10", c)
	}
}

// waitFor polls cond (every 10ms, up to 30s).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
