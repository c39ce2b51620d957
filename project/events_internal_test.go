package project

import (
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/mirror"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// OnEvent hears both sources, lease expiries (one event per task) and the
// other events, and nothing after cancel.
func TestOnEventHearsLeaseExpiriesAndMirrorLagUntilCancelled(t *testing.T) {
	r := NewRegistry(RegistryConfig{Logger: slog.New(slog.DiscardHandler)})
	defer r.Close(t.Context())
	var got []Event
	cancel := r.OnEvent(func(e Event) { got = append(got, e) })
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r.publishLeases("/p", []work.LeaseExpiry{{TaskID: "tsk_1", Agent: "a", ExpiredAt: at}, {TaskID: "tsk_2", Agent: "b", ExpiredAt: at}})
	p := newProject(r, workspace.Root{Path: "/p"})
	p.mirrorLag(mirror.Lag{Mirror: mirror.Graph, Pending: 3, Oldest: 90 * time.Second})
	breaker := r.breakerEvents("/p")
	breaker(pooling.BreakerEvent{Pool: "chroma", Backend: BackendVector, Open: true, RetryAfter: 5 * time.Second, LastError: "dial /opt/chroma/bin: refused"})
	breaker(pooling.BreakerEvent{Pool: "chroma", Backend: BackendVector})
	cancel()
	cancel() // again: nothing
	r.publishLeases("/p", []work.LeaseExpiry{{TaskID: "tsk_3", Agent: "c", ExpiredAt: at}})
	p.mirrorLag(mirror.Lag{Mirror: mirror.Vector, Pending: 1, Oldest: time.Minute})

	var kinds []string
	for _, e := range got {
		kinds = append(kinds, string(e.Kind)+":"+e.TaskID+e.Mirror+e.Backend)
		if want := slog.LevelWarn; e.Root != "/p" || e.Level != want && e.Kind != EventBackendRecovered {
			t.Errorf("event %+v: want root /p at level warn", e)
		}
	}
	if want := []string{"lease_expired:tsk_1", "lease_expired:tsk_2", "mirror_behind:graph", "backend_down:vector", "backend_recovered:vector"}; !slices.Equal(kinds, want) {
		t.Fatalf("events %v, want %v", kinds, want)
	}
	if want := `the lease of agent "a" on task tsk_1 expired at 2026-01-02T03:04:05Z before it finished; the task can be claimed again`; got[0].Message != want {
		t.Errorf("lease message %q\nwant %q", got[0].Message, want)
	}
	if want := "the graph mirror is falling behind: 3 task changes wait for it, the oldest for 1m30s, and its deliveries keep failing; " +
		"task_similar and task_graph read stale data until it catches up (pool_status shows why it fails)"; got[2].Message != want {
		t.Errorf("lag message %q\nwant %q", got[2].Message, want)
	}
	if want := "the vector backend (pool chroma) is down: it failed too many times in a row, so calls to it fail fast for 5s before the server tries it again; " +
		"pool_status shows its last error"; got[3].Message != want {
		t.Errorf("breaker message %q\nwant %q (the last error, which may name a path outside the project, is left out)", got[3].Message, want)
	}
	if got[4].Level != slog.LevelInfo || got[4].Message != "the vector backend (pool chroma) answers again: its circuit breaker closed" {
		t.Errorf("recovery %+v: want level info and its sentence", got[4])
	}
}
