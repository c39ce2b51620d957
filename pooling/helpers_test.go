package pooling_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
)

// testConn is the resource these tests pool: an id and flags, nothing more.
type testConn struct {
	id      int64
	broken  atomic.Bool  // Ping fails
	closed  atomic.Bool  // Close was called
	holders atomic.Int32 // callers holding it right now (stress test)
}

// testBackend makes testConns and counts what the pool does with them.
type testBackend struct {
	opens, closes, pings, resets atomic.Int64
	down                         atomic.Bool // Open fails
	resetFails                   atomic.Bool // Reset fails
	// gate, when set before the pool is made, makes Open wait for it (or ctx);
	// entered receives a value each time Open starts waiting.
	gate    chan struct{}
	entered chan struct{}

	mu    sync.Mutex
	conns []*testConn
}

// errRefused carries credentials on purpose: the pool must not repeat them.
// maskHunter2 stands in for the caller's Sanitize hook.
func maskHunter2(s string) string { return strings.ReplaceAll(s, "hunter2", "***") }

const errRefused = "dial tcp 127.0.0.1:8000: connection refused (url http://admin:hunter2@127.0.0.1:8000, password=hunter2)"

func (b *testBackend) hooks() pooling.Hooks[*testConn] {
	return pooling.Hooks[*testConn]{
		Open: func(ctx context.Context) (*testConn, error) {
			if b.gate != nil {
				if b.entered != nil {
					b.entered <- struct{}{}
				}
				select {
				case <-b.gate:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
			n := b.opens.Add(1)
			if b.down.Load() {
				return nil, errors.New(errRefused)
			}
			c := &testConn{id: n}
			b.mu.Lock()
			b.conns = append(b.conns, c)
			b.mu.Unlock()
			return c, nil
		},
		Close: func(c *testConn) error {
			if c.closed.Swap(true) {
				panic("connection closed twice")
			}
			b.closes.Add(1)
			return nil
		},
		Ping: func(ctx context.Context, c *testConn) error {
			b.pings.Add(1)
			if c.broken.Load() {
				return errors.New("connection reset by peer")
			}
			return nil
		},
		Reset: func(ctx context.Context, c *testConn) error {
			b.resets.Add(1)
			if b.resetFails.Load() {
				return errors.New("rollback failed: database is locked")
			}
			return nil
		},
	}
}

// conn returns the i-th connection opened (0-based).
func (b *testBackend) conn(i int) *testConn {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.conns[i]
}

// open counts connections opened and not yet closed.
func (b *testBackend) open() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := int64(0)
	for _, c := range b.conns {
		if !c.closed.Load() {
			n++
		}
	}
	return n
}

// baseConfig is a small pool with no background activity.
func baseConfig() pooling.Config {
	return pooling.Config{
		Name:           "test.pool",
		Backend:        "operational",
		Workspace:      "/ws",
		MaxConns:       2,
		AcquireTimeout: 5 * time.Second,
		LIFO:           true,
		Logger:         slog.New(slog.DiscardHandler),
	}
}

// newPool makes a pool closed at the end of the test.
func newPool(t testing.TB, cfg pooling.Config, b *testBackend) *pooling.Pool[*testConn] {
	t.Helper()
	p, err := pooling.New(cfg, b.hooks())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

func mustAcquire(t testing.TB, p *pooling.Pool[*testConn]) *pooling.Conn[*testConn] {
	t.Helper()
	c, err := p.Acquire(context.Background())
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	return c
}

// eventually polls cond until it holds, failing the test after 5s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// acquireAsync starts an Acquire in a goroutine; the result arrives on the channel.
func acquireAsync(ctx context.Context, p *pooling.Pool[*testConn]) <-chan acquireResult {
	ch := make(chan acquireResult, 1)
	go func() {
		c, err := p.Acquire(ctx)
		ch <- acquireResult{c, err}
	}()
	return ch
}

type acquireResult struct {
	c   *pooling.Conn[*testConn]
	err error
}

func receive[T any](t testing.TB, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("nothing received within 5s")
		panic("unreachable")
	}
}
