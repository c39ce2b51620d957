package project

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// Subscribing and unsubscribing race with publishing (run with -race); a
// listener that has unsubscribed is not called by a later publish.
func TestLeaseListenersSubscribeAndCancelWhilePublishing(t *testing.T) {
	var l listenerSet[LeaseListener]
	publish := func(root string, e []work.LeaseExpiry) { l.each(func(fn LeaseListener) { fn(root, e) }) }
	expired := []work.LeaseExpiry{{TaskID: "tsk_1", Agent: "a"}}
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		for !stop.Load() {
			publish("/p", expired)
		}
	})
	for range 200 {
		var calls atomic.Int64
		cancel := l.add(func(root string, got []work.LeaseExpiry) {
			if root != "/p" || len(got) != 1 || got[0].TaskID != "tsk_1" {
				t.Errorf("listener got %s %+v", root, got)
			}
			calls.Add(1)
		})
		cancel()
		cancel() // twice does nothing
		after := calls.Load()
		publish("/p", expired)
		if calls.Load() != after {
			t.Fatal("a listener was called after it unsubscribed")
		}
	}
	stop.Store(true)
	wg.Wait()
	var r Registry
	if cancel := r.OnLeaseExpired(nil); cancel == nil {
		t.Fatal("OnLeaseExpired(nil) returned no cancel function")
	}
}
