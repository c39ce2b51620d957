package pooling_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
)

// OnBreaker hears the breaker open once (failed trials re-open it without a
// new event) and close once, with the sanitized last error.
func TestOnBreakerIsToldWhenTheBreakerOpensAndCloses(t *testing.T) {
	var (
		mu     sync.Mutex
		events []pooling.BreakerEvent
	)
	cfg := breakerConfig()
	cfg.Sanitize = maskHunter2
	cfg.OnBreaker = func(e pooling.BreakerEvent) { mu.Lock(); events = append(events, e); mu.Unlock() }
	b := &testBackend{}
	p := newPool(t, cfg, b)
	tripBreaker(t, p, b)
	pooling.AdvanceClock(p, time.Second) // half-open: the trial fails, the breaker re-opens
	if _, err := p.Acquire(t.Context()); err == nil {
		t.Fatal("the trial worked against a down backend")
	}
	b.down.Store(false)
	pooling.AdvanceClock(p, 2*time.Second)
	mustAcquire(t, p).Release()

	mu.Lock()
	defer mu.Unlock()
	if len(events) != 2 || !events[0].Open || events[1].Open {
		t.Fatalf("events %+v: want one opening, then one closing", events)
	}
	open := events[0]
	if open.Pool != cfg.Name || open.Backend != cfg.Backend || open.Workspace != cfg.Workspace || open.RetryAfter != time.Second ||
		!strings.Contains(open.LastError, "connection refused") || strings.Contains(open.LastError, "hunter2") {
		t.Errorf("opening %+v: want the pool's names, the 1s cooldown and the sanitized last error", open)
	}
}
