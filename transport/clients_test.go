package transport

import (
	"context"
	"testing"
	"time"
)

// On a saturated server a client's second running call yields to other
// clients' calls: it starts when one of them ends (or after the yield),
// while a client's first call, and extra calls on an idle server, never wait.
func TestExtraCallsYieldToOtherClientsWhenSaturated(t *testing.T) {
	tab := newClientTable(100, 4)
	tab.busy = 2          // saturated from 2 running calls, whatever this machine's cores
	tab.yield = time.Hour // the test ends the yield itself
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	acquire := func(id string, wait time.Duration) <-chan func() {
		got := make(chan func(), 1)
		go func() {
			release, ok := tab.acquire(ctx, id, now, wait)
			if !ok {
				t.Errorf("acquire %s refused", id)
				release = func() {}
			}
			got <- release
		}()
		return got
	}
	recv := func(ch <-chan func(), what string) func() {
		t.Helper()
		select {
		case r := <-ch:
			return r
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not start", what)
			return nil
		}
	}

	// Alone, a client runs its calls side by side.
	a1 := recv(acquire("a", time.Minute), "a's first call")
	a2 := recv(acquire("a", time.Minute), "a's second call on an otherwise idle server")
	a2()

	// b's first call never waits, even beside a's.
	b1 := recv(acquire("b", time.Minute), "b's first call")

	// Saturated (2 running) with b running: a's second call yields until b's ends.
	pending := acquire("a", time.Minute)
	select {
	case r := <-pending:
		r()
		t.Fatal("a's second call started while the server was saturated and b had a call running")
	case <-time.After(100 * time.Millisecond):
	}
	b1()
	a2 = recv(pending, "a's second call once b's ended")
	a2()

	// The yield is bounded by the call's wait: with b busy, a's extra call
	// runs after it (and is not refused).
	b1 = recv(acquire("b", time.Minute), "b's call")
	a2 = recv(acquire("a", 50*time.Millisecond), "a's second call after its wait")
	a2()
	b1()
	a1()

	tab.mu.Lock()
	defer tab.mu.Unlock()
	if tab.running != 0 {
		t.Fatalf("running = %d after every release, want 0", tab.running)
	}
}
