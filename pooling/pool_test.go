package pooling_test

import (
	"context"
	"errors"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/logcapture"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
)

func TestNewRejectsInvalidConfig(t *testing.T) {
	cases := []struct {
		name   string
		change func(*pooling.Config)
		want   string
	}{
		{"no connections", func(c *pooling.Config) { c.MaxConns = 0 }, "max_connections must be at least 1"},
		{"negative min", func(c *pooling.Config) { c.MinConns = -1 }, "min_connections must be between 0 and max_connections"},
		{"min above max", func(c *pooling.Config) { c.MinConns = 3 }, "min_connections must be between 0 and max_connections (2), got 3"},
		{"negative overflow", func(c *pooling.Config) { c.MaxOverflow = -1 }, "max_overflow must not be negative"},
		{"no timeout", func(c *pooling.Config) { c.AcquireTimeout = 0 }, "pool_timeout must be more than 0"},
		{"negative recycle", func(c *pooling.Config) { c.Recycle = -time.Second }, "must not be negative"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig()
			tc.change(&cfg)
			b := &testBackend{}
			p, err := pooling.New(cfg, b.hooks())
			if err == nil {
				_ = p.Close(context.Background())
				t.Fatal("New accepted an invalid configuration")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "test.pool") {
				t.Fatalf("error %q does not name the pool and say %q", err, tc.want)
			}
		})
	}
}

func TestNewRejectsMissingHooks(t *testing.T) {
	_, err := pooling.New(baseConfig(), pooling.Hooks[*testConn]{})
	if err == nil || !strings.Contains(err.Error(), "Open and Close are required") {
		t.Fatalf("got %v, want an error about the missing hooks", err)
	}
}

func TestAcquireReusesReleasedConnection(t *testing.T) {
	b := &testBackend{}
	p := newPool(t, baseConfig(), b)
	c := mustAcquire(t, p)
	first := c.Value().id
	c.Release()
	c = mustAcquire(t, p)
	defer c.Release()
	if c.Value().id != first {
		t.Fatalf("got connection %d, want the released %d", c.Value().id, first)
	}
	m := p.Metrics()
	if m.Created != 1 || m.Acquires != 2 || m.InUse != 1 || m.Idle != 0 || m.Total != 1 {
		t.Fatalf("metrics %+v: want created 1, acquires 2, in use 1, idle 0, total 1", m)
	}
}

func TestExhaustionServesOrTimesOutEveryCaller(t *testing.T) {
	cfg := baseConfig()
	cfg.MaxConns = 2
	cfg.AcquireTimeout = 20 * time.Millisecond
	b := &testBackend{}
	p := newPool(t, cfg, b)

	var served, timedOut, holding, maxHolding atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			c, err := p.Acquire(context.Background())
			if err != nil {
				if !errors.Is(err, pooling.ErrTimeout) {
					errs <- err
				}
				timedOut.Add(1)
				return
			}
			n := holding.Add(1)
			for {
				m := maxHolding.Load()
				if n <= m || maxHolding.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			holding.Add(-1)
			served.Add(1)
			c.Release()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Acquire failed with %v, want a connection or ErrTimeout", err)
	}
	if served.Load()+timedOut.Load() != 50 || served.Load() < 2 {
		t.Fatalf("served %d, timed out %d: want 50 in all and at least 2 served", served.Load(), timedOut.Load())
	}
	if maxHolding.Load() > 2 {
		t.Fatalf("%d callers held a connection at once, MaxConns is 2", maxHolding.Load())
	}
	m := p.Metrics()
	if m.InUse != 0 || m.Waiting != 0 || m.Total > 2 || m.Timeouts != timedOut.Load() {
		t.Fatalf("metrics %+v: want nothing in use or waiting, total <= 2, timeouts %d", m, timedOut.Load())
	}
}

func TestAcquireTimeoutErrorSaysWhatToRaise(t *testing.T) {
	cfg := baseConfig()
	cfg.Name = "sqlite.readers"
	cfg.MaxConns = 1
	cfg.AcquireTimeout = 10 * time.Millisecond
	p := newPool(t, cfg, &testBackend{})
	held := mustAcquire(t, p)
	defer held.Release()

	_, err := p.Acquire(context.Background())
	if !errors.Is(err, pooling.ErrTimeout) {
		t.Fatalf("got %v, want ErrTimeout", err)
	}
	want := "pool sqlite.readers for /ws: no free connection within 10ms (max 1, overflow 0, 1 in use); raise max_connections or pool_timeout"
	if err.Error() != want {
		t.Fatalf("got %q\nwant %q", err, want)
	}
	m := p.Metrics()
	if m.Timeouts != 1 || m.State != pooling.StateDegraded || m.LastError != want {
		t.Fatalf("metrics %+v: want 1 timeout, degraded, last error = the timeout", m)
	}
}

func TestAcquireReturnsCallerCancellationWhileWaiting(t *testing.T) {
	cfg := baseConfig()
	cfg.MaxConns = 1
	cfg.AcquireTimeout = time.Minute
	p := newPool(t, cfg, &testBackend{})
	held := mustAcquire(t, p)

	ctx, cancel := context.WithCancel(context.Background())
	res := acquireAsync(ctx, p)
	eventually(t, "the caller waits", func() bool { return p.Metrics().Waiting == 1 })
	cancel()
	r := receive(t, res)
	if !errors.Is(r.err, context.Canceled) || errors.Is(r.err, pooling.ErrTimeout) {
		t.Fatalf("got %v, want context.Canceled", r.err)
	}
	if m := p.Metrics(); m.Waiting != 0 || m.Timeouts != 0 {
		t.Fatalf("metrics %+v: want no waiter and no timeout", m)
	}
	held.Release()
	if m := p.Metrics(); m.Idle != 1 || m.Total != 1 {
		t.Fatalf("metrics %+v: the released connection should be idle", m)
	}
}

func TestAcquireReturnsCallerDeadlineBeforePoolTimeout(t *testing.T) {
	cfg := baseConfig()
	cfg.MaxConns = 1
	cfg.AcquireTimeout = time.Minute
	p := newPool(t, cfg, &testBackend{})
	held := mustAcquire(t, p)
	defer held.Release()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := p.Acquire(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, pooling.ErrTimeout) {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
}

func TestAcquireWithDoneContextFailsWithoutTouchingThePool(t *testing.T) {
	b := &testBackend{}
	p := newPool(t, baseConfig(), b)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Acquire(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if b.opens.Load() != 0 {
		t.Fatal("Open was called for a canceled caller")
	}
}

func TestWaitersAreServedInArrivalOrder(t *testing.T) {
	cfg := baseConfig()
	cfg.MaxConns = 1
	p := newPool(t, cfg, &testBackend{})
	held := mustAcquire(t, p)

	first := acquireAsync(context.Background(), p)
	eventually(t, "the first caller waits", func() bool { return p.Metrics().Waiting == 1 })
	second := acquireAsync(context.Background(), p)
	eventually(t, "the second caller waits", func() bool { return p.Metrics().Waiting == 2 })

	held.Release()
	r := receive(t, first)
	if r.err != nil {
		t.Fatalf("first waiter: %v", r.err)
	}
	select {
	case <-second:
		t.Fatal("the second waiter was served before the first released")
	default:
	}
	r.c.Release()
	r = receive(t, second)
	if r.err != nil {
		t.Fatalf("second waiter: %v", r.err)
	}
	r.c.Release()
}

func TestOverflowConnectionsAreClosedOnRelease(t *testing.T) {
	cfg := baseConfig()
	cfg.MaxConns = 1
	cfg.MaxOverflow = 1
	cfg.AcquireTimeout = 10 * time.Millisecond
	b := &testBackend{}
	p := newPool(t, cfg, b)
	a := mustAcquire(t, p)
	o := mustAcquire(t, p)
	if m := p.Metrics(); m.Total != 2 || m.OverflowInUse != 1 {
		t.Fatalf("metrics %+v: want total 2 with 1 overflow in use", m)
	}
	if _, err := p.Acquire(context.Background()); !errors.Is(err, pooling.ErrTimeout) {
		t.Fatalf("third Acquire got %v, want ErrTimeout (max 1 + overflow 1)", err)
	}
	o.Release()
	a.Release()
	m := p.Metrics()
	if m.Closed != 1 || m.Idle != 1 || m.Total != 1 || m.OverflowInUse != 0 || b.closes.Load() != 1 {
		t.Fatalf("metrics %+v: want the overflow connection closed and one idle", m)
	}
}

func TestRecycleClosesOldConnectionOnAcquire(t *testing.T) {
	cfg := baseConfig()
	cfg.Recycle = time.Hour
	b := &testBackend{}
	p := newPool(t, cfg, b)
	c := mustAcquire(t, p)
	old := c.Value()
	c.Release()

	pooling.AdvanceClock(p, 2*time.Hour)
	c = mustAcquire(t, p)
	defer c.Release()
	if c.Value() == old || !old.closed.Load() {
		t.Fatal("an expired idle connection was handed out instead of being closed")
	}
	if m := p.Metrics(); m.Recycled != 1 || m.Created != 2 || m.Total != 1 {
		t.Fatalf("metrics %+v: want 1 recycled, 2 created, total 1", m)
	}
}

func TestRecycleClosesOldConnectionOnRelease(t *testing.T) {
	cfg := baseConfig()
	cfg.Recycle = time.Hour
	b := &testBackend{}
	p := newPool(t, cfg, b)
	c := mustAcquire(t, p)
	pooling.AdvanceClock(p, 2*time.Hour)
	// Release reads no clock of its own; any later pool activity (here another
	// Acquire, in a quiet pool the monitor or Metrics) tells it the time.
	other := mustAcquire(t, p)
	defer other.Release()
	c.Release()
	if !c.Value().closed.Load() {
		t.Fatal("an expired connection went back to the pool")
	}
	if m := p.Metrics(); m.Recycled != 1 || m.Idle != 0 || m.Total != 1 {
		t.Fatalf("metrics %+v: want 1 recycled and only the other connection left", m)
	}
}

func TestHealthCheckRecyclesExpiredIdleConnectionsAndRefills(t *testing.T) {
	cfg := baseConfig()
	cfg.MinConns = 1
	cfg.MaxConns = 3
	cfg.LIFO = false
	cfg.Recycle = time.Hour
	cfg.HealthCheckInterval = time.Hour
	b := &testBackend{}
	p := newPool(t, cfg, b)
	eventually(t, "MinConns are open", func() bool { return p.Metrics().Idle == 1 })
	cs := []*pooling.Conn[*testConn]{mustAcquire(t, p), mustAcquire(t, p), mustAcquire(t, p)}
	for _, c := range cs {
		c.Release()
	}
	pooling.AdvanceClock(p, 2*time.Hour)
	pooling.HealthCheck(p)
	for _, c := range cs {
		if !c.Value().closed.Load() {
			t.Fatalf("expired idle connection %d is still open", c.Value().id)
		}
	}
	if m := p.Metrics(); m.Recycled != 3 || m.Idle != 1 || m.Created != 4 {
		t.Fatalf("metrics %+v: want 3 recycled and one fresh connection for MinConns", m)
	}
}

func TestLeakDetectionLogsHolderOnce(t *testing.T) {
	log, records := logcapture.New()
	cfg := baseConfig()
	cfg.Logger = log
	cfg.LeakThreshold = 5 * time.Millisecond
	cfg.HealthCheckInterval = 2 * time.Millisecond
	p := newPool(t, cfg, &testBackend{})

	c, err := p.Acquire(pooling.WithHolder(context.Background(), "task_claim"))
	if err != nil {
		t.Fatal(err)
	}
	// The monitor goroutine finds it on its own.
	eventually(t, "the leak is logged", func() bool { return len(records.Matching("leak threshold")) > 0 })
	// More passes must not report the same checkout again.
	pooling.HealthCheck(p)
	pooling.HealthCheck(p)
	leaks := records.Matching("leak threshold")
	if len(leaks) != 1 {
		t.Fatalf("leak logged %d times, want once", len(leaks))
	}
	r := leaks[0]
	if r.Attrs["holder"] != "task_claim" || r.Attrs["held"] == "" || r.Attrs["pool"] != "test.pool" {
		t.Fatalf("leak record %+v: want holder task_claim, held, pool", r)
	}
	if r.Level.String() != "WARN" {
		t.Fatalf("leak logged at %s, want WARN", r.Level)
	}
	if m := p.Metrics(); m.Leaks != 1 {
		t.Fatalf("Leaks = %d, want 1", m.Leaks)
	}

	// A new checkout held too long is a new leak.
	c.Release()
	c = mustAcquire(t, p)
	defer c.Release()
	pooling.AdvanceClock(p, time.Second)
	pooling.HealthCheck(p)
	if m := p.Metrics(); m.Leaks != 2 {
		t.Fatalf("Leaks = %d, want 2", m.Leaks)
	}
}

func TestHealthCheckReplacesConnectionWhosePingFails(t *testing.T) {
	cfg := baseConfig()
	cfg.MinConns = 2
	cfg.MaxConns = 4
	cfg.HealthCheckInterval = time.Hour // passes are run by the test
	b := &testBackend{}
	p := newPool(t, cfg, b)
	eventually(t, "MinConns are open", func() bool { return p.Metrics().Idle == 2 })

	dead := b.conn(0)
	dead.broken.Store(true)
	pooling.AdvanceClock(p, 2*time.Hour) // idle for more than an interval: due for a ping
	pooling.HealthCheck(p)

	if !dead.closed.Load() {
		t.Fatal("the connection whose ping failed is still open")
	}
	m := p.Metrics()
	if m.PingFailures != 1 || m.Created != 3 || m.Idle != 2 || m.Total != 2 {
		t.Fatalf("metrics %+v: want 1 ping failure, 3 created, 2 idle", m)
	}
	if !strings.Contains(m.LastError, "connection reset by peer") {
		t.Fatalf("LastError %q does not say why the ping failed", m.LastError)
	}
}

func TestHealthMonitorReplacesDeadConnectionOnItsOwn(t *testing.T) {
	cfg := baseConfig()
	cfg.MinConns = 1
	cfg.HealthCheckInterval = 2 * time.Millisecond
	b := &testBackend{}
	p := newPool(t, cfg, b)
	eventually(t, "MinConns are open", func() bool { return p.Metrics().Idle == 1 })
	b.conn(0).broken.Store(true)
	eventually(t, "the dead connection is replaced", func() bool {
		m := p.Metrics()
		return b.conn(0).closed.Load() && m.Idle == 1 && m.Created >= 2
	})
}

func TestMinConnsAreFilledWithoutBlockingNew(t *testing.T) {
	cfg := baseConfig()
	cfg.MinConns = 2
	cfg.MaxConns = 3
	b := &testBackend{gate: make(chan struct{})}
	p := newPool(t, cfg, b) // would hang here if New waited for Open
	if m := p.Metrics(); m.Created != 0 {
		t.Fatalf("created %d before Open was allowed to finish", m.Created)
	}
	close(b.gate)
	eventually(t, "MinConns are open", func() bool { m := p.Metrics(); return m.Idle == 2 && m.Total == 2 })
}

func TestIdleEvictionKeepsMinConns(t *testing.T) {
	cfg := baseConfig()
	cfg.MinConns = 1
	cfg.MaxConns = 3
	cfg.IdleTimeout = time.Minute
	cfg.HealthCheckInterval = time.Hour
	b := &testBackend{}
	p := newPool(t, cfg, b)
	eventually(t, "MinConns are open", func() bool { return p.Metrics().Idle == 1 })
	cs := []*pooling.Conn[*testConn]{mustAcquire(t, p), mustAcquire(t, p), mustAcquire(t, p)}
	for _, c := range cs {
		c.Release()
	}
	pooling.HealthCheck(p) // nothing idle long enough yet
	if m := p.Metrics(); m.Idle != 3 {
		t.Fatalf("idle %d, want 3 before the idle timeout", m.Idle)
	}
	pooling.AdvanceClock(p, 2*time.Minute)
	pooling.HealthCheck(p)
	m := p.Metrics()
	if m.Idle != 1 || m.Total != 1 || m.Closed != 2 || b.open() != 1 {
		t.Fatalf("metrics %+v: want idle connections closed down to MinConns 1", m)
	}
}

func TestPrePingDiscardsDeadIdleConnection(t *testing.T) {
	cfg := baseConfig()
	cfg.PrePing = true
	b := &testBackend{}
	p := newPool(t, cfg, b)
	c := mustAcquire(t, p)
	dead := c.Value()
	c.Release()
	dead.broken.Store(true)

	c = mustAcquire(t, p)
	defer c.Release()
	if c.Value() == dead || !dead.closed.Load() {
		t.Fatal("a connection that failed its pre-ping was handed out or left open")
	}
	if m := p.Metrics(); m.PingFailures != 1 || m.Created != 2 || m.Total != 1 {
		t.Fatalf("metrics %+v: want 1 ping failure, 2 created, total 1", m)
	}
}

func TestIdleOrder(t *testing.T) {
	for _, tc := range []struct {
		name string
		lifo bool
		want int // index of the released connection handed out next
	}{
		{"LIFO hands out the most recently released", true, 2},
		{"FIFO hands out the longest idle", false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig()
			cfg.MaxConns = 3
			cfg.LIFO = tc.lifo
			p := newPool(t, cfg, &testBackend{})
			cs := []*pooling.Conn[*testConn]{mustAcquire(t, p), mustAcquire(t, p), mustAcquire(t, p)}
			for _, c := range cs {
				c.Release()
			}
			c := mustAcquire(t, p)
			defer c.Release()
			if c.Value() != cs[tc.want].Value() {
				t.Fatalf("got connection %d, want %d", c.Value().id, cs[tc.want].Value().id)
			}
		})
	}
}

func TestResetOnReturnResetsBeforeReuse(t *testing.T) {
	cfg := baseConfig()
	cfg.ResetOnReturn = true
	b := &testBackend{}
	p := newPool(t, cfg, b)
	c := mustAcquire(t, p)
	c.Release()
	if b.resets.Load() != 1 {
		t.Fatalf("Reset called %d times, want 1", b.resets.Load())
	}
	if m := p.Metrics(); m.Idle != 1 || m.Errors != 0 {
		t.Fatalf("metrics %+v: want the reset connection idle", m)
	}
}

func TestFailingResetClosesConnection(t *testing.T) {
	cfg := baseConfig()
	cfg.ResetOnReturn = true
	b := &testBackend{}
	b.resetFails.Store(true)
	p := newPool(t, cfg, b)
	c := mustAcquire(t, p)
	c.Release()
	if !c.Value().closed.Load() {
		t.Fatal("a connection whose reset failed went back to the pool")
	}
	m := p.Metrics()
	if m.Idle != 0 || m.Total != 0 || m.Errors != 1 || !strings.Contains(m.LastError, "database is locked") {
		t.Fatalf("metrics %+v: want the connection gone and the reset error recorded", m)
	}
}

func TestDiscardClosesConnection(t *testing.T) {
	b := &testBackend{}
	p := newPool(t, baseConfig(), b)
	c := mustAcquire(t, p)
	c.Discard()
	if !c.Value().closed.Load() {
		t.Fatal("Discard left the connection open")
	}
	if m := p.Metrics(); m.Total != 0 || m.Idle != 0 || m.InUse != 0 || m.Closed != 1 {
		t.Fatalf("metrics %+v: want an empty pool", m)
	}
}

func TestSecondReleaseOrDiscardDoesNothing(t *testing.T) {
	b := &testBackend{}
	p := newPool(t, baseConfig(), b)
	c := mustAcquire(t, p)
	c.Release()
	c.Release()
	c.Discard()
	m := p.Metrics()
	if m.Idle != 1 || m.InUse != 0 || m.Total != 1 || b.closes.Load() != 0 {
		t.Fatalf("metrics %+v (closes %d): a repeated Release/Discard changed the pool", m, b.closes.Load())
	}
}

func TestCircuitBreakerTripsAndFailsFast(t *testing.T) {
	cfg := baseConfig()
	cfg.Sanitize = maskHunter2 // the caller's masking reaches every error and metric
	cfg.BreakerThreshold = 3
	cfg.BreakerCooldown = time.Minute
	b := &testBackend{}
	b.down.Store(true)
	p := newPool(t, cfg, b)

	for i := range 3 {
		_, err := p.Acquire(context.Background())
		if err == nil || errors.Is(err, pooling.ErrCircuitOpen) {
			t.Fatalf("attempt %d: got %v, want the Open error", i+1, err)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Fatalf("error leaks a credential: %v", err)
		}
	}
	_, err := p.Acquire(context.Background())
	if !errors.Is(err, pooling.ErrCircuitOpen) {
		t.Fatalf("got %v, want ErrCircuitOpen", err)
	}
	if b.opens.Load() != 3 {
		t.Fatalf("Open called %d times, want 3: an open breaker must not call the backend", b.opens.Load())
	}
	var coe *pooling.CircuitOpenError
	if !errors.As(err, &coe) || coe.RetryAfter <= 0 || coe.RetryAfter > time.Minute {
		t.Fatalf("got %#v, want a *CircuitOpenError with a retry-after within the cooldown", err)
	}
	for _, s := range []string{err.Error(), coe.LastErr} {
		if !strings.Contains(s, "connection refused") || strings.Contains(s, "hunter2") {
			t.Fatalf("%q: want the sanitized last error", s)
		}
	}
	if !strings.Contains(err.Error(), "backend is unavailable") || !strings.Contains(err.Error(), "retry after") {
		t.Fatalf("message %q does not say the backend is unavailable and when to retry", err)
	}
	m := p.Metrics()
	if m.State != pooling.StateDown || m.RetryAfter <= 0 || m.Errors != 3 || strings.Contains(m.LastError, "hunter2") {
		t.Fatalf("metrics %+v: want down, a retry-after, 3 errors, sanitized last error", m)
	}
}

// tripBreaker makes three failing Acquires against a down backend.
func tripBreaker(t *testing.T, p *pooling.Pool[*testConn], b *testBackend) {
	t.Helper()
	b.down.Store(true)
	for range 3 {
		if _, err := p.Acquire(context.Background()); err == nil {
			t.Fatal("Acquire worked against a down backend")
		}
	}
	if _, err := p.Acquire(context.Background()); !errors.Is(err, pooling.ErrCircuitOpen) {
		t.Fatalf("got %v, want ErrCircuitOpen", err)
	}
}

func breakerConfig() pooling.Config {
	cfg := baseConfig()
	cfg.BreakerThreshold = 3
	cfg.BreakerCooldown = time.Second
	return cfg
}

func TestCircuitBreakerTrialSuccessClosesIt(t *testing.T) {
	b := &testBackend{}
	p := newPool(t, breakerConfig(), b)
	tripBreaker(t, p, b)

	b.down.Store(false)
	pooling.AdvanceClock(p, time.Second) // cooldown over: half-open
	if m := p.Metrics(); m.State != pooling.StateDegraded {
		t.Fatalf("state %s after the cooldown, want degraded (half-open)", m.State)
	}
	c := mustAcquire(t, p) // the trial
	c.Release()
	c = mustAcquire(t, p)
	c.Release()
	if m := p.Metrics(); m.RetryAfter != 0 || m.State == pooling.StateDown {
		t.Fatalf("metrics %+v: want the breaker closed", m)
	}
}

func TestCircuitBreakerFailedTrialDoublesCooldown(t *testing.T) {
	b := &testBackend{}
	p := newPool(t, breakerConfig(), b)
	tripBreaker(t, p, b)

	pooling.AdvanceClock(p, time.Second)
	_, err := p.Acquire(context.Background()) // the trial, still down
	if err == nil || errors.Is(err, pooling.ErrCircuitOpen) {
		t.Fatalf("trial got %v, want the Open error", err)
	}
	_, err = p.Acquire(context.Background())
	var coe *pooling.CircuitOpenError
	if !errors.As(err, &coe) || coe.RetryAfter <= time.Second || coe.RetryAfter > 2*time.Second {
		t.Fatalf("got %v, want a retry-after of about 2s (doubled cooldown)", err)
	}
	if m := p.Metrics(); m.State != pooling.StateDown {
		t.Fatalf("state %s, want down", m.State)
	}
}

func TestCircuitBreakerLetsOneTrialThroughAtATime(t *testing.T) {
	cfg := breakerConfig()
	b := &testBackend{gate: make(chan struct{}), entered: make(chan struct{}, 10)}
	close(b.gate) // Open passes while tripping
	p := newPool(t, cfg, b)
	tripBreaker(t, p, b)
	for len(b.entered) > 0 {
		<-b.entered
	}

	b.gate = make(chan struct{}) // the trial's Open now waits
	b.down.Store(false)
	pooling.AdvanceClock(p, time.Second)
	trial := acquireAsync(context.Background(), p)
	receive(t, b.entered)
	if _, err := p.Acquire(context.Background()); !errors.Is(err, pooling.ErrCircuitOpen) {
		t.Fatalf("second caller during the trial got %v, want ErrCircuitOpen", err)
	}
	close(b.gate)
	r := receive(t, trial)
	if r.err != nil {
		t.Fatalf("trial: %v", r.err)
	}
	r.c.Release()
	c := mustAcquire(t, p)
	c.Release()
}

func TestCircuitBreakerTrialThatGivesUpLetsTheNextCallerTry(t *testing.T) {
	b := &testBackend{gate: make(chan struct{}), entered: make(chan struct{}, 10)}
	close(b.gate)
	p := newPool(t, breakerConfig(), b)
	tripBreaker(t, p, b)
	for len(b.entered) > 0 {
		<-b.entered
	}

	b.gate = make(chan struct{})
	pooling.AdvanceClock(p, time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	trial := acquireAsync(ctx, p)
	receive(t, b.entered)
	cancel() // the trial caller gives up inside Open
	if r := receive(t, trial); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("trial got %v, want context.Canceled", r.err)
	}
	close(b.gate)
	b.down.Store(false)
	c := mustAcquire(t, p) // the next caller is the new trial
	c.Release()
	if m := p.Metrics(); m.RetryAfter != 0 || m.State == pooling.StateDown {
		t.Fatalf("metrics %+v: want the breaker closed", m)
	}
}

func TestCircuitBreakerRecoversWithoutTraffic(t *testing.T) {
	cfg := breakerConfig()
	cfg.BreakerCooldown = 5 * time.Millisecond
	cfg.HealthCheckInterval = 2 * time.Millisecond
	b := &testBackend{}
	p := newPool(t, cfg, b)
	tripBreaker(t, p, b)

	b.down.Store(false)
	// The monitor probes after the cooldown; no Acquire is made meanwhile.
	eventually(t, "the monitor closes the breaker", func() bool {
		m := p.Metrics()
		return m.State != pooling.StateDown && m.RetryAfter == 0 && m.Created >= 1
	})
	c := mustAcquire(t, p)
	c.Release()
}

func TestCircuitBreakerTripFailsWaiters(t *testing.T) {
	cfg := breakerConfig()
	cfg.BreakerThreshold = 1
	cfg.MaxConns = 1
	cfg.AcquireTimeout = time.Minute
	b := &testBackend{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	b.down.Store(true)
	p := newPool(t, cfg, b)

	opener := acquireAsync(context.Background(), p) // takes the only slot, waits in Open
	receive(t, b.entered)
	waiter := acquireAsync(context.Background(), p)
	eventually(t, "the second caller waits", func() bool { return p.Metrics().Waiting == 1 })
	close(b.gate) // Open fails and trips the breaker
	if r := receive(t, opener); r.err == nil || errors.Is(r.err, pooling.ErrCircuitOpen) {
		t.Fatalf("opener got %v, want the Open error", r.err)
	}
	if r := receive(t, waiter); !errors.Is(r.err, pooling.ErrCircuitOpen) {
		t.Fatalf("waiter got %v, want ErrCircuitOpen", r.err)
	}
}

func TestCloseWakesWaitersAndDrains(t *testing.T) {
	cfg := baseConfig()
	cfg.MaxConns = 1
	cfg.AcquireTimeout = time.Minute
	b := &testBackend{}
	p := newPool(t, cfg, b)
	held := mustAcquire(t, p)
	waiter := acquireAsync(context.Background(), p)
	eventually(t, "the caller waits", func() bool { return p.Metrics().Waiting == 1 })

	closed := make(chan error, 1)
	go func() { closed <- p.Close(context.Background()) }()
	if r := receive(t, waiter); !errors.Is(r.err, pooling.ErrClosed) {
		t.Fatalf("waiter got %v, want ErrClosed", r.err)
	}
	if _, err := p.Acquire(context.Background()); !errors.Is(err, pooling.ErrClosed) {
		t.Fatalf("Acquire after Close got %v, want ErrClosed", err)
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a connection was still checked out", err)
	default:
	}
	held.Release()
	if err := receive(t, closed); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if !held.Value().closed.Load() {
		t.Fatal("the connection released during Close was not closed")
	}
	if m := p.Metrics(); m.State != pooling.StateClosed || m.Total != 0 {
		t.Fatalf("metrics %+v: want closed and empty", m)
	}
}

func TestCloseClosesIdleConnectionsAndIsIdempotent(t *testing.T) {
	b := &testBackend{}
	p, err := pooling.New(baseConfig(), b.hooks())
	if err != nil {
		t.Fatal(err)
	}
	a, c := mustAcquire(t, p), mustAcquire(t, p)
	a.Release()
	c.Release()
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if b.closes.Load() != 2 || b.open() != 0 {
		t.Fatalf("%d closed, %d still open: want both idle connections closed once", b.closes.Load(), b.open())
	}
}

func TestCloseGivesUpWhenContextEndsAndReleaseClosesLater(t *testing.T) {
	b := &testBackend{}
	p, err := pooling.New(baseConfig(), b.hooks())
	if err != nil {
		t.Fatal(err)
	}
	held := mustAcquire(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := p.Close(ctx); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "1 checked-out") {
		t.Fatalf("Close got %v, want a deadline error naming 1 checked-out connection", err)
	}
	if held.Value().closed.Load() {
		t.Fatal("Close closed a connection that is still in use")
	}
	held.Release()
	if !held.Value().closed.Load() {
		t.Fatal("Release after Close did not close the connection")
	}
}

func TestMetricsReportAcquireWaitPercentiles(t *testing.T) {
	cfg := baseConfig()
	cfg.MaxConns = 1
	cfg.AcquireTimeout = time.Minute
	p := newPool(t, cfg, &testBackend{})
	held := mustAcquire(t, p)
	waiter := acquireAsync(context.Background(), p)
	eventually(t, "the caller waits", func() bool { return p.Metrics().Waiting == 1 })
	pooling.AdvanceClock(p, 100*time.Millisecond) // the waiter has now waited 100ms on the pool clock
	held.Release()
	r := receive(t, waiter)
	if r.err != nil {
		t.Fatal(r.err)
	}
	r.c.Release()
	for range 8 {
		mustAcquire(t, p).Release()
	}
	m := p.Metrics()
	if m.Acquires != 10 || m.AcquireWaitP50 >= 100*time.Millisecond || m.AcquireWaitP99 < 100*time.Millisecond {
		t.Fatalf("metrics %+v: want 10 acquires, p50 under 100ms, p99 at least 100ms", m)
	}
}

// TestSanitizeHookMasksWhatThePoolKeeps: the pool knows no credentials; the
// caller's Sanitize hook decides what of a backend's error text it keeps.
func TestSanitizeHookMasksWhatThePoolKeeps(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sanitize func(string) string
		want     string
	}{
		{"no hook keeps the text", nil, "http://admin:hunter2@db"},
		{"the hook's mask is kept", func(s string) string { return strings.ReplaceAll(s, "admin:hunter2@", "***@") }, "http://***@db"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig()
			cfg.Sanitize = tc.sanitize
			p, err := pooling.New(cfg, pooling.Hooks[int]{
				Open:  func(context.Context) (int, error) { return 0, errors.New("dial http://admin:hunter2@db refused") },
				Close: func(int) error { return nil },
			})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close(context.Background())
			if _, err := p.Acquire(context.Background()); err == nil {
				t.Fatal("Acquire succeeded with a backend that refuses every open")
			}
			if got := p.Metrics().LastError; !strings.Contains(got, tc.want) {
				t.Fatalf("LastError = %q, want it to contain %q", got, tc.want)
			}
		})
	}
}

// TestStressKeepsBooksStraight runs many callers against a small pool with
// every feature on; run it with -race. Afterwards the books must balance and
// no connection may have been held by two callers at once.
func TestStressKeepsBooksStraight(t *testing.T) {
	cfg := baseConfig()
	cfg.MinConns = 1
	cfg.MaxConns = 3
	cfg.MaxOverflow = 2
	cfg.PrePing = true
	cfg.ResetOnReturn = true
	cfg.IdleTimeout = time.Millisecond
	cfg.HealthCheckInterval = time.Millisecond
	cfg.LeakThreshold = time.Millisecond
	cfg.AcquireTimeout = 50 * time.Millisecond
	cfg.LIFO = false
	b := &testBackend{}
	p, err := pooling.New(cfg, b.hooks())
	if err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	var doubleHeld atomic.Int64
	for g := range 8 {
		wg.Go(func() {
			for i := range 300 {
				ctx, cancel := context.WithCancel(context.Background())
				if (g+i)%17 == 0 {
					cancel() // some callers give up at once
				}
				c, err := p.Acquire(ctx)
				cancel()
				if err != nil {
					continue
				}
				if c.Value().holders.Add(1) != 1 {
					doubleHeld.Add(1)
				}
				if i%5 == 0 {
					time.Sleep(50 * time.Microsecond)
				}
				c.Value().holders.Add(-1)
				switch {
				case i%23 == 0:
					c.Value().broken.Store(true) // found by the next pre-ping or health check
					c.Release()
				case i%11 == 0:
					c.Discard()
				default:
					c.Release()
				}
				if i%37 == 0 {
					_ = p.Metrics()
				}
			}
		})
	}
	wg.Wait()
	if doubleHeld.Load() != 0 {
		t.Fatalf("%d times a connection was handed to a second caller while held", doubleHeld.Load())
	}
	m := p.Metrics()
	if m.InUse != 0 || m.Waiting != 0 || m.Total > cfg.MaxConns {
		t.Fatalf("metrics %+v: want nothing in use or waiting and no overflow left", m)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	m = p.Metrics()
	if m.Total != 0 || m.Created != m.Closed || b.open() != 0 || int64(len(b.conns)) != m.Created {
		t.Fatalf("metrics %+v, %d left open: books do not balance after Close", m, b.open())
	}
}
