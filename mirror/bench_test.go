package mirror_test

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/mirror"
)

// BenchmarkSyncerPerChangedTask is what the syncer costs this process per
// changed task it delivers to the real Chroma and Neo4j: reading the outbox
// and the tasks, embedding the text, the requests to both backends, the
// cursor write. One op is one changed task; the tasks change in rounds of
// batch (half created, half updated), written while the syncer sleeps, then
// the syncer is woken and the round ends when both mirrors are idle again
// with every change delivered. Only the delivery is timed: cpu-µs/task is
// the user+system CPU of the whole process over the deliveries, divided by
// the tasks delivered (the servers are other processes). batch=1 is the hot
// path of one task call at a time; larger batches are bursts.
func BenchmarkSyncerPerChangedTask(b *testing.B) {
	for _, batch := range []int{1, 32} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) { benchSyncer(b, batch) })
	}
}

type idleAt struct {
	mirror string
	cursor int64
}

func benchSyncer(b *testing.B, batch int) {
	ctx := context.Background()
	ts, vs, gs := project(b)
	// Some tasks to depend on and to update, mirrored by the start-up rebuild.
	var pool []string
	roles := []string{"dev", "", "qa", ""}
	create := func(i int) {
		nt := sqlite.NewTask{
			Title: fmt.Sprintf("task %d: wire the %s handler to the queue", i, []string{"login", "export", "billing", "search"}[i%4]),
			Description: strings.Repeat(fmt.Sprintf("Step %d of the rollout: check the retries, the timeouts and the logs. ", i), 3) +
				"Done when the dashboards are green.",
			Labels: []string{"backend", fmt.Sprintf("area-%d", i%5)},
			Role:   roles[i%len(roles)],
		}
		if len(pool) > 0 {
			nt.DependsOn = []string{pool[(i*7)%len(pool)]}
		}
		if len(pool) > 3 && i%3 == 0 {
			nt.ParentID = pool[(i*5)%len(pool)]
		}
		t, err := ts.Create(ctx, nt)
		if err != nil {
			b.Fatal(err)
		}
		pool = append(pool, t.ID)
	}
	for i := range 64 {
		create(i)
	}
	idle := make(chan idleAt, 64)
	cfg := mirror.Config{Store: ts, Logger: quiet, Poll: time.Hour, Targets: []mirror.Target{
		mirror.VectorTarget{Borrow: lend(vs)}, mirror.GraphTarget{Borrow: lend(gs)}}}
	mirror.OnIdle(&cfg, func(m string, c int64) {
		select {
		case idle <- idleAt{m, c}:
		default:
		}
	})
	sy := mirror.Start(cfg) // no OnOutbox: only the benchmark wakes it
	b.Cleanup(func() {
		if err := sy.Stop(context.Background()); err != nil {
			b.Error(err)
		}
	})
	// last is the outbox's last event (read outside the measured part).
	last := func() int64 {
		st, err := ts.MirrorState(ctx, mirror.Vector)
		if err != nil {
			b.Fatal(err)
		}
		return st.MaxSeq
	}
	// waitIdle waits until both mirrors are idle with every event up to seq
	// delivered: the syncer tells it, without polling.
	waitIdle := func(seq int64) {
		at := map[string]int64{}
		timeout := time.After(time.Minute)
		for at[mirror.Vector] < seq || at[mirror.Graph] < seq {
			select {
			case i := <-idle:
				at[i.mirror] = max(at[i.mirror], i.cursor)
			case <-timeout:
				b.Fatalf("mirrors not idle at %d after a minute: %v", seq, at)
			}
		}
	}
	waitIdle(last())

	next, updated := len(pool), 0
	var cpu time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		b.StopTimer()
		n := min(batch, b.N-done)
		for j := range n {
			if (done+j)%2 == 0 {
				create(next)
				next++
				continue
			}
			// Distinct tasks in a round: each is one changed task.
			id := pool[updated%len(pool)]
			updated++
			p := sqlite.Patch{Description: ptr(fmt.Sprintf("Revised %d: the retries go, the timeouts stay.", updated))}
			switch updated % 4 {
			case 1:
				p.Priority = ptr([]string{"low", "medium", "high"}[updated%3])
			case 2:
				p.Role = ptr(roles[updated%len(roles)])
			case 3:
				p.Labels = &[]string{"backend", fmt.Sprintf("round-%d", updated)}
			}
			if _, err := ts.Update(ctx, id, 0, p); err != nil {
				b.Fatal(err)
			}
		}
		seq := last()
		before := cpuTime()
		b.StartTimer()
		sy.Wake()
		waitIdle(seq)
		b.StopTimer()
		cpu += cpuTime() - before
		done += n
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/task")
	if got, want := len(keys(b, gs)), len(pool); got != want {
		b.Fatalf("the graph mirror holds %d tasks, want %d", got, want)
	}
	vkeys, err := mirror.VectorTarget{Borrow: lend(vs)}.Keys(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if got, want := len(vkeys), len(pool); got != want {
		b.Fatalf("the vector mirror holds %d tasks, want %d", got, want)
	}
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
