package pooling_test

import (
	"context"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
)

// chanPool is the baseline: the smallest pool that works, a buffered channel
// of connections opened up front. Acquire receives, release sends.
type chanPool[T any] struct {
	conns chan T
}

func newChanPool[T any](n int, open func() T) *chanPool[T] {
	p := &chanPool[T]{conns: make(chan T, n)}
	for range n {
		p.conns <- open()
	}
	return p
}

func (p *chanPool[T]) acquire(ctx context.Context) (T, error) {
	select {
	case c := <-p.conns:
		return c, nil
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

func (p *chanPool[T]) release(c T) { p.conns <- c }

// benchConfig is a pool as the SQLite readers use it, minus what needs a
// backend round trip (pre-ping, reset): LIFO, recycle and leak tracking on, no
// monitor ticking during the run.
func benchConfig(maxConns int) pooling.Config {
	return pooling.Config{
		Name: "bench", Backend: "operational", Workspace: "/bench",
		MaxConns: maxConns, AcquireTimeout: 30 * time.Second, LIFO: true,
		Recycle: time.Hour, LeakThreshold: time.Minute,
		Logger: slog.New(slog.DiscardHandler),
	}
}

// parallelism makes b.RunParallel use 8 goroutines in all.
func parallelism() int { return max(1, 8/runtime.GOMAXPROCS(0)) }

func BenchmarkAcquireRelease(b *testing.B) {
	ctx := context.Background()
	b.Run("uncontended/pool", func(b *testing.B) {
		p := newPool(b, benchConfig(1), &testBackend{})
		b.ReportAllocs()
		for b.Loop() {
			c, err := p.Acquire(ctx)
			if err != nil {
				b.Fatal(err)
			}
			c.Release()
		}
	})
	b.Run("uncontended/chan", func(b *testing.B) {
		p := newChanPool(1, func() *testConn { return &testConn{} })
		b.ReportAllocs()
		for b.Loop() {
			c, err := p.acquire(ctx)
			if err != nil {
				b.Fatal(err)
			}
			p.release(c)
		}
	})
	b.Run("parallel-8-on-4/pool", func(b *testing.B) {
		p := newPool(b, benchConfig(4), &testBackend{})
		b.ReportAllocs()
		b.SetParallelism(parallelism())
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c, err := p.Acquire(ctx)
				if err != nil {
					b.Error(err)
					return
				}
				c.Release()
			}
		})
	})
	b.Run("parallel-8-on-4/chan", func(b *testing.B) {
		p := newChanPool(4, func() *testConn { return &testConn{} })
		b.ReportAllocs()
		b.SetParallelism(parallelism())
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c, err := p.acquire(ctx)
				if err != nil {
					b.Error(err)
					return
				}
				p.release(c)
			}
		})
	})
}
