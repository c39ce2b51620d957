package project_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/project"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// records is a slog handler that keeps every record, for asserting logs.
type records struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *records) Enabled(context.Context, slog.Level) bool { return true }
func (h *records) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}
func (h *records) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *records) WithGroup(string) slog.Handler      { return h }

// matching returns the records with message msg, each as its attributes.
func (h *records) matching(msg string) []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []map[string]any
	for _, r := range h.recs {
		if r.Message != msg {
			continue
		}
		attrs := map[string]any{"level": r.Level}
		r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.Any(); return true })
		out = append(out, attrs)
	}
	return out
}

// claimWithLease creates a task in p's store and has agent claim it with lease.
func claimWithLease(t *testing.T, store work.Store, agent string, lease time.Duration) sqlite.Task {
	t.Helper()
	ctx := context.Background()
	created, err := store.Create(ctx, sqlite.NewTask{Title: "leased work"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := store.Claim(ctx, work.ClaimRequest{Agent: agent, Lease: lease})
	if err != nil {
		t.Fatal(err)
	}
	if got == nil || got.ID != created.ID {
		t.Fatalf("claim took %v, want the task %s just created", got, created.ID)
	}
	return *got
}

func leaseExpiredEvents(t *testing.T, store work.Store, id string) int {
	t.Helper()
	events, _, err := store.History(context.Background(), id, 200, "")
	if err != nil {
		t.Fatalf("History(%s): %v", id, err)
	}
	n := 0
	for _, e := range events {
		if e.Event == work.EventLeaseExpired {
			n++
		}
	}
	return n
}

// Passes once the lease store (NextLeaseExpiry, ExpireLeases, History) is merged.
func TestLeaseTimerRecordsAnExpiryLogsItAndTellsTheListeners(t *testing.T) {
	logs := &records{}
	r := newProjects(t, project.RegistryConfig{LogHandler: logs})
	got := make(chan []work.LeaseExpiry, 4)
	cancel := r.OnLeaseExpired(func(root string, expired []work.LeaseExpiry) {
		got <- append([]work.LeaseExpiry(nil), expired...)
	})
	defer cancel()
	root := newRoot(t)
	p, release := acquire(t, r, root)
	defer release()
	store, err := p.Tasks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The timer's longest wait stays 30 s: the claim itself must wake it.
	task := claimWithLease(t, store, "agent-a", time.Second)

	expired := receive(t, got)
	if len(expired) != 1 || expired[0].TaskID != task.ID || expired[0].Agent != "agent-a" {
		t.Fatalf("listener got %+v, want one expiry of %s held by agent-a", expired, task.ID)
	}
	if task.LeaseExpiresAt == nil || !expired[0].ExpiredAt.Equal(*task.LeaseExpiresAt) {
		t.Errorf("expiry at %v, want the claim's lease_expires_at %v", expired[0].ExpiredAt, task.LeaseExpiresAt)
	}
	recs := logs.matching("lease expired")
	if len(recs) != 1 || recs[0]["task"] != task.ID || recs[0]["agent"] != "agent-a" || recs[0]["level"] != slog.LevelInfo {
		t.Errorf("log records %v, want one info record naming task %s and agent-a", recs, task.ID)
	}
	file, err := os.ReadFile(filepath.Join(p.Layout().Logs, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(file), `"msg":"lease expired"`) || !strings.Contains(string(file), task.ID) {
		t.Errorf("the project's server.log does not record the expiry of %s:\n%s", task.ID, file)
	}
	if n := leaseExpiredEvents(t, store, task.ID); n != 1 {
		t.Errorf("history holds %d lease_expired events, want 1", n)
	}
}

// Two registries on one project are two server processes: each runs a timer,
// and the expiry is recorded and announced once. Passes once the lease store
// is merged.
func TestLeaseTimersOfTwoProcessesRecordAnExpiryOnce(t *testing.T) {
	project.SetLeaseTiming(t, 100*time.Millisecond, 20*time.Millisecond, 100*time.Millisecond)
	root := newRoot(t)
	var announced atomic.Int64
	first := make(chan struct{}, 1)
	listen := func(_ string, expired []work.LeaseExpiry) {
		announced.Add(int64(len(expired)))
		select {
		case first <- struct{}{}:
		default:
		}
	}
	var stores []work.Store
	for range 2 {
		r := newProjects(t, project.RegistryConfig{})
		defer r.OnLeaseExpired(listen)()
		p, release := acquire(t, r, root)
		defer release()
		s, err := p.Tasks(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, s)
	}
	task := claimWithLease(t, stores[0], "agent-a", time.Second)
	receive(t, first)
	// Let both timers go round several more times after the expiry.
	time.Sleep(20 * 100 * time.Millisecond)
	if n := announced.Load(); n != 1 {
		t.Errorf("the expiry was announced %d times by the two processes, want once", n)
	}
	if n := leaseExpiredEvents(t, stores[1], task.ID); n != 1 {
		t.Errorf("history holds %d lease_expired events, want 1", n)
	}
}

// The timer is the project's: it starts with the task store and is gone once
// the project closes.
func TestLeaseTimerStopsWithItsProject(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	r := project.NewRegistry(project.RegistryConfig{Logger: discard, Server: workspace.Defaults()})
	p, release := acquire(t, r, newRoot(t))
	if _, err := p.Tasks(context.Background()); err != nil {
		t.Fatal(err)
	}
	err := goleak.Find(ignore)
	if err == nil || !strings.Contains(err.Error(), "leaseTimer") {
		t.Fatalf("no lease timer goroutine runs while the task store is open; goroutines started: %v", err)
	}
	release()
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t, ignore)
}

// countingStore counts the timer's calls on a real store.
type countingStore struct {
	*sqlite.Store
	calls atomic.Int64
}

func (c *countingStore) NextLeaseExpiry(ctx context.Context) (time.Time, bool, error) {
	c.calls.Add(1)
	return c.Store.NextLeaseExpiry(ctx)
}

func (c *countingStore) ExpireLeases(ctx context.Context) ([]work.LeaseExpiry, error) {
	c.calls.Add(1)
	return c.Store.ExpireLeases(ctx)
}

// A store that keeps failing (here: closed under the timer) is retried, each
// failure logged once at debug, never at a louder level.
func TestLeaseTimerRetriesAFailingStoreAndLogsEachFailureOnce(t *testing.T) {
	project.SetLeaseTiming(t, 20*time.Millisecond, 5*time.Millisecond, 10*time.Millisecond)
	dir := newRoot(t).Path
	layout, err := workspace.Ensure(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(layout.Databases, "tasks.db"), Workspace: dir,
		Settings: workspace.Defaults().DatabasePools.Operational, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	logs := &records{}
	cs := &countingStore{Store: s}
	stop := project.StartLeaseTimer(cs, dir, slog.New(logs), nil)
	eventually(t, "the timer asked the failing store 10 times", func() bool { return cs.calls.Load() >= 10 })
	if err := stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, rec := range logs.matching("lease timer: cannot read the leases; trying again later") {
		key := rec["step"].(string) + ": " + rec["err"].(error).Error()
		if seen[key] {
			t.Errorf("the failure %q was logged more than once", key)
		}
		seen[key] = true
		if rec["level"] != slog.LevelDebug {
			t.Errorf("the failure %q was logged at %v, want debug", key, rec["level"])
		}
	}
	if len(seen) == 0 {
		t.Error("the failing store was never logged")
	}
	logs.mu.Lock()
	defer logs.mu.Unlock()
	if len(logs.recs) != len(seen) {
		t.Errorf("the timer logged %d records, want only the %d failures", len(logs.recs), len(seen))
	}
}
