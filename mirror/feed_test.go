package mirror_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/mirror"
)

// The two mirrors share their reads of the outbox and the tasks, yet each
// delivers every change that woke it: a read one mirror began before the
// other was woken (an empty one, say) is never taken for the other's, and
// both end each round at the outbox's last event with the tasks' states.
func TestEveryMirrorDeliversEachWakeUpsChanges(t *testing.T) {
	for _, linger := range []time.Duration{-1, 0} {
		t.Run(fmt.Sprint("linger=", linger), func(t *testing.T) {
			ctx := context.Background()
			ts, vs, gs := project(t)
			idle := make(chan [2]int64, 64)
			cfg := mirror.Config{Store: ts, Logger: quiet, Poll: time.Hour, Linger: linger, Targets: []mirror.Target{
				mirror.VectorTarget{Borrow: lend(vs)}, mirror.GraphTarget{Borrow: lend(gs)}}}
			mirror.OnIdle(&cfg, func(m string, c int64) {
				i := int64(0)
				if m == mirror.Graph {
					i = 1
				}
				select {
				case idle <- [2]int64{i, c}:
				default:
				}
			})
			sy := mirror.Start(cfg) // woken by the test only: no poll, no OnOutbox
			defer sy.Stop(ctx)
			var ids []string
			for round := range 12 {
				if round%2 == 0 || len(ids) == 0 {
					tk, err := ts.Create(ctx, sqlite.NewTask{Title: fmt.Sprint("round ", round)})
					if err != nil {
						t.Fatal(err)
					}
					ids = append(ids, tk.ID)
				} else if _, err := ts.Update(ctx, ids[round%len(ids)], 0, sqlite.Patch{Title: ptr(fmt.Sprint("round ", round))}); err != nil {
					t.Fatal(err)
				}
				st, err := ts.MirrorState(ctx, mirror.Vector)
				if err != nil {
					t.Fatal(err)
				}
				sy.Wake()
				var at [2]int64
				timeout := time.After(20 * time.Second)
				for at[0] < st.MaxSeq || at[1] < st.MaxSeq {
					select {
					case i := <-idle:
						at[i[0]] = max(at[i[0]], i[1])
					case <-timeout:
						t.Fatalf("round %d: the mirrors stopped at %v (vector, graph) after a wake-up; the outbox ends at %d", round, at, st.MaxSeq)
					}
				}
			}
			tasks, err := ts.TasksByID(ctx, ids)
			if err != nil {
				t.Fatal(err)
			}
			for _, tk := range tasks {
				doc, ok := vectorDoc(t, vs, tk.ID)
				if !ok || doc.Text != mirror.DocumentText(tk) {
					t.Errorf("vector document of %s = %+v, %v; want the text %q", tk.ID, doc, ok, mirror.DocumentText(tk))
				}
			}
			if got := keys(t, gs); len(got) != len(ids) {
				t.Errorf("graph keys = %v, want %d tasks", got, len(ids))
			}
		})
	}
}
