package mirror_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/mirror"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// downTarget is a mirror whose backend is down while down is set.
type downTarget struct{ down atomic.Bool }

var errDown = errors.New("the backend is down")

func (d *downTarget) Name() string { return mirror.Vector }
func (d *downTarget) Apply(context.Context, []sqlite.Task, []string) error {
	if d.down.Load() {
		return errDown
	}
	return nil
}
func (d *downTarget) Keys(context.Context) ([]string, error) {
	if d.down.Load() {
		return nil, errDown
	}
	return nil, nil
}
func (d *downTarget) Empty(context.Context) (bool, error) {
	if d.down.Load() {
		return false, errDown
	}
	return false, nil
}

// A mirror whose deliveries keep failing is reported once its oldest change
// has waited LagWarning, once per spell of failures: a delivery that
// succeeds re-arms the report.
func TestMirrorFallingBehindIsReportedOncePerSpell(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ts, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, "tasks.db"), Workspace: dir,
		Settings: workspace.Defaults().DatabasePools.Operational, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close(ctx)
	target := &downTarget{}
	var (
		mu   sync.Mutex
		lags []mirror.Lag
	)
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(lags) }
	sy := mirror.Start(mirror.Config{Store: ts, Logger: quiet, Targets: []mirror.Target{target},
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, Poll: 20 * time.Millisecond,
		LagWarning: 200 * time.Millisecond,
		OnLag:      func(l mirror.Lag) { mu.Lock(); lags = append(lags, l); mu.Unlock() }})
	defer sy.Stop(ctx)
	ts.OnOutbox(sy.Wake)

	target.down.Store(true)
	start := time.Now()
	if _, err := ts.Create(ctx, sqlite.NewTask{Title: "waits for the mirror"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first report", func() bool { return count() == 1 })
	mu.Lock()
	first := lags[0]
	mu.Unlock()
	if first.Mirror != mirror.Vector || first.Pending != 1 || first.Oldest < 200*time.Millisecond || time.Since(start) < 200*time.Millisecond {
		t.Errorf("report %+v after %v: want vector, 1 pending, oldest at least 200ms", first, time.Since(start))
	}
	time.Sleep(300 * time.Millisecond) // still failing: no second report
	if n := count(); n != 1 {
		t.Fatalf("%d reports in one spell of failures, want 1", n)
	}

	target.down.Store(false) // delivered: the report is re-armed
	waitFor(t, "the mirror to catch up", func() bool { return sy.Status(ctx)[0].Pending == 0 })
	target.down.Store(true)
	if _, err := ts.Create(ctx, sqlite.NewTask{Title: "waits again"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the second report", func() bool { return count() == 2 })
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
