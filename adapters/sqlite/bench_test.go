package sqlite_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
)

// seed creates a database with n tasks (labels, a parent and a dependency
// each, so Get does all its queries) and returns its path and the ids.
// The store is closed again: each variant opens what it needs.
func seed(b *testing.B, n int) (string, []string) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "tasks.db")
	s, err := sqlite.Open(context.Background(), options(path))
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, 0, n)
	for i := range n {
		nt := sqlite.NewTask{Title: fmt.Sprintf("seeded task %d", i), Description: "benchmark data",
			Labels: []string{"bench", fmt.Sprintf("l%d", i%7)}}
		if i > 0 {
			nt.ParentID = ids[i/2]
			nt.DependsOn = []string{ids[i-1]}
		}
		t, err := s.Create(context.Background(), nt)
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, t.ID)
	}
	if err := s.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	return path, ids
}

// freshStore returns a store whose every call opens and closes its own connection.
func freshStore(b *testing.B, path string) *sqlite.Store {
	b.Helper()
	s := openAt(b, path) // for its options; its pools stay idle or are closed
	fresh, closeFresh, err := sqlite.NewFresh(s)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = closeFresh() })
	return fresh
}

// nsPerOp of the fresh variants, for the pooled variant's "saved" metrics.
// Sub-benchmarks run in order, so the fresh figures are there when pooled runs.
type baseline struct{ cold, kept float64 }

func nsPerOp(b *testing.B) float64 { return float64(b.Elapsed().Nanoseconds()) / float64(b.N) }

// compare runs op three ways: a fresh connection per call with no other
// connection open (the WAL is checkpointed and deleted after every call),
// a fresh connection per call while another connection keeps the WAL, and
// the store's pools.
func compare(b *testing.B, path string, op func(s *sqlite.Store, i int) error) {
	var base baseline
	b.Run("fresh-cold", func(b *testing.B) {
		s := openAt(b, path)
		fresh, closeFresh, err := sqlite.NewFresh(s)
		if err != nil {
			b.Fatal(err)
		}
		defer closeFresh()
		if err := s.Close(context.Background()); err != nil { // nothing else may hold the file open
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := range b.N {
			if err := op(fresh, i); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		base.cold = nsPerOp(b)
	})
	b.Run("fresh-wal-kept", func(b *testing.B) {
		s := openAt(b, path)
		fresh, closeFresh, err := sqlite.NewFresh(s)
		if err != nil {
			b.Fatal(err)
		}
		defer closeFresh()
		if err := s.Close(context.Background()); err != nil {
			b.Fatal(err)
		}
		release, err := sqlite.KeepOpen(context.Background(), s)
		if err != nil {
			b.Fatal(err)
		}
		defer release()
		b.ResetTimer()
		for i := range b.N {
			if err := op(fresh, i); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		base.kept = nsPerOp(b)
	})
	b.Run("pooled", func(b *testing.B) {
		s := openAt(b, path)
		b.ResetTimer()
		for i := range b.N {
			if err := op(s, i); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		pooled := nsPerOp(b)
		if base.kept > 0 {
			b.ReportMetric(100*(1-pooled/base.kept), "%saved-vs-wal-kept")
		}
		if base.cold > 0 {
			b.ReportMetric(100*(1-pooled/base.cold), "%saved-vs-cold")
		}
	})
}

func BenchmarkTaskRead(b *testing.B) {
	path, ids := seed(b, 200)
	compare(b, path, func(s *sqlite.Store, i int) error {
		_, err := s.Get(context.Background(), ids[i%len(ids)])
		return err
	})
}

func BenchmarkTaskWrite(b *testing.B) {
	path, _ := seed(b, 200)
	compare(b, path, func(s *sqlite.Store, i int) error {
		_, err := s.Create(context.Background(), sqlite.NewTask{Title: "benchmark write", Labels: []string{"bench"}})
		return err
	})
}

// BenchmarkMixed8020 runs 64 goroutines doing 80% reads (Get, List) and 20%
// writes (Create, Update) and fails on any SQLITE_BUSY.
func BenchmarkMixed8020(b *testing.B) {
	path, ids := seed(b, 500)
	b.Run("64-goroutines", func(b *testing.B) {
		s := openAt(b, path)
		ctx := context.Background()
		const goroutines = 64
		b.SetParallelism((goroutines + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
		var busy, failed atomic.Int64
		var firstErr atomic.Value
		var seq atomic.Uint64
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			r := rand.New(rand.NewPCG(seq.Add(1), 2))
			for pb.Next() {
				var err error
				id := ids[r.IntN(len(ids))]
				switch n := r.IntN(10); {
				case n < 4:
					_, err = s.Get(ctx, id)
				case n < 8:
					_, _, err = s.List(ctx, sqlite.Filter{Label: "l3", Limit: 20})
				case n < 9:
					_, err = s.Create(ctx, sqlite.NewTask{Title: "mixed write", Labels: []string{"bench"}})
				default:
					_, err = s.Update(ctx, id, 0, sqlite.Patch{Description: ptr(fmt.Sprintf("rev %d", r.Uint32()))})
				}
				if err != nil {
					if sqlite.IsBusy(err) {
						busy.Add(1)
					}
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		})
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		b.ReportMetric(float64(busy.Load()), "busy-errors")
		if busy.Load() > 0 || failed.Load() > 0 {
			b.Fatalf("%d errors, %d of them SQLITE_BUSY; first: %v", failed.Load(), busy.Load(), firstErr.Load())
		}
	})
}

// BenchmarkConnectionOverhead isolates what pooling saves: obtaining a
// connection and giving it back, with no statement. "fresh" opens a connection
// with the same DSN and pragmas and closes it (another connection keeps the WAL,
// as in fresh-wal-kept); "pooled" acquires from and releases to the pool.
func BenchmarkConnectionOverhead(b *testing.B) {
	path, _ := seed(b, 10)
	s := openAt(b, path)
	ctx := context.Background()
	for _, write := range []bool{false, true} {
		kind := "reader"
		if write {
			kind = "writer"
		}
		b.Run(kind+"/fresh", func(b *testing.B) {
			fresh, closeFresh, err := sqlite.NewFresh(s)
			if err != nil {
				b.Fatal(err)
			}
			defer closeFresh()
			for b.Loop() {
				if err := fresh.ConnectRelease(ctx, write); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(kind+"/pooled", func(b *testing.B) {
			for b.Loop() {
				if err := s.ConnectRelease(ctx, write); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
