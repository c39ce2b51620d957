package project

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// The lease timer's bounds (variables for tests): it looks again at least
// every leaseMaxWait (another process may have claimed a task with a shorter
// lease meanwhile), never more often than every leaseMinWait, and after a
// failure waits leaseRetry.
var (
	leaseMaxWait = 30 * time.Second
	leaseMinWait = 200 * time.Millisecond
	leaseRetry   = 30 * time.Second
	leaseJitter  = 100 * time.Millisecond
)

// LeaseStore is what the lease timer needs of the task store.
type LeaseStore interface {
	// NextLeaseExpiry is the earliest expiry not recorded yet; ok is false
	// when no lease is running.
	NextLeaseExpiry(ctx context.Context) (at time.Time, ok bool, err error)
	// ExpireLeases records, once across every process, each lease that has
	// run out, and returns them.
	ExpireLeases(ctx context.Context) ([]work.LeaseExpiry, error)
}

// LeaseListener is told about leases the timer found expired and recorded.
// root is the project's root. It runs on the timer's goroutine: it must not
// block (hand the news to a goroutine of its own, or drop it).
type LeaseListener func(root string, expired []work.LeaseExpiry)

// listenerSet is a set of listeners (lease listeners, event listeners), safe
// for concurrent use: subscribing, unsubscribing and publishing may race.
// Listeners are called under the read lock, so an unsubscribe waits for the
// calls under way.
type listenerSet[F any] struct {
	mu   sync.RWMutex
	next int
	fns  map[int]F
}

func (l *listenerSet[F]) add(fn F) func() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fns == nil {
		l.fns = make(map[int]F)
	}
	id := l.next
	l.next++
	l.fns[id] = fn
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			delete(l.fns, id)
			l.mu.Unlock()
		})
	}
}

// each calls call with every listener, under the read lock.
func (l *listenerSet[F]) each(call func(F)) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, fn := range l.fns {
		call(fn)
	}
}

// publishLeases tells every lease listener about the expiries of root.
func (r *Registry) publishLeases(root string, expired []work.LeaseExpiry) {
	r.leaseListeners.each(func(fn LeaseListener) { fn(root, expired) })
}

// OnLeaseExpired subscribes fn to the expiries every open project's lease
// timer records (the server turns them into resource updates and the
// board's feed). Every listener gets the same slice: read it, never change
// it. cancel unsubscribes (calling it again does nothing): it waits for a
// call of fn under way, and fn is never called after it returns (so fn must
// not call cancel itself).
func (r *Registry) OnLeaseExpired(fn LeaseListener) (cancel func()) {
	if fn == nil {
		return func() {}
	}
	return r.leaseListeners.add(fn)
}

// leaseTimer is a project's one lease timer: a goroutine that records lease
// expiries in the task history as they happen (claims see an expired lease
// without it; the history and the listeners need it). It runs while the
// project's task store is open. Several server processes on one project each
// run one; the store records each expiry once.
type leaseTimer struct {
	store   LeaseStore
	root    string
	log     *slog.Logger
	publish func(root string, expired []work.LeaseExpiry)

	wake   chan struct{} // a write in this process may have started a lease
	cancel context.CancelFunc
	done   chan struct{}
}

// startLeaseTimer starts the timer and returns how to stop it.
func startLeaseTimer(store LeaseStore, root string, logger *slog.Logger, publish func(string, []work.LeaseExpiry)) *leaseTimer {
	ctx, cancel := context.WithCancel(pooling.WithHolder(context.Background(), "lease timer"))
	lt := &leaseTimer{store: store, root: root, log: logger, publish: publish,
		wake: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	go lt.loop(ctx)
	return lt
}

// Wake makes the timer look again for the next expiry (a task of this process
// was just claimed or written). It never blocks.
func (lt *leaseTimer) Wake() {
	select {
	case lt.wake <- struct{}{}:
	default:
	}
}

// Stop ends the timer and waits for it (or for ctx).
func (lt *leaseTimer) Stop(ctx context.Context) error {
	lt.cancel()
	select {
	case <-lt.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (lt *leaseTimer) loop(ctx context.Context) {
	defer close(lt.done)
	failing := map[string]bool{} // failures logged since the last success: each once
	fail := func(what string, err error) {
		if msg := what + ": " + err.Error(); !failing[msg] {
			failing[msg] = true
			lt.log.Debug("lease timer: cannot read the leases; trying again later", "step", what, "err", err, "retry", leaseRetry.String())
		}
	}
	// next is when to record expiries, from the store's earliest unrecorded
	// one: soon after it (never sooner than leaseMinWait from now, so the
	// loop never spins), at most leaseMaxWait away (another process may start
	// a shorter lease meanwhile), leaseRetry away after a failure. The
	// jitter keeps the timers of several processes on one project apart.
	next := func() (time.Time, bool) {
		now := time.Now()
		at, ok, err := lt.store.NextLeaseExpiry(ctx)
		if err != nil {
			if ctx.Err() == nil {
				fail("next expiry", err)
			}
			return now.Add(leaseRetry), false
		}
		wait := leaseMaxWait
		if ok {
			wait = min(max(at.Sub(now), 0), leaseMaxWait)
		}
		return now.Add(max(wait, leaseMinWait) + rand.N(leaseJitter+1)), true
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	sleep := func(d time.Duration) bool { // false once stopped
		timer.Reset(d)
		select {
		case <-ctx.Done():
			return false
		case <-timer.C:
			return true
		}
	}
	for {
		due, _ := next()
	wait:
		for {
			timer.Reset(time.Until(due))
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
				break wait
			case <-lt.wake:
				// A write of this process may have started a lease shorter
				// than the wait: look again, at most every leaseMinWait
				// whatever the rate of writes, and only ever move due
				// earlier (so a stream of writes cannot put expiry off).
				if !sleep(leaseMinWait) {
					return
				}
				if sooner, ok := next(); ok && sooner.Before(due) {
					due = sooner
				}
			}
		}
		expired, err := lt.store.ExpireLeases(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			fail("record expiries", err)
			if !sleep(leaseRetry) {
				return
			}
			continue
		}
		clear(failing)
		for _, e := range expired {
			lt.log.Info("lease expired", "task", e.TaskID, "agent", e.Agent, "expired_at", e.ExpiredAt.UTC().Format(time.RFC3339))
		}
		if len(expired) > 0 && lt.publish != nil {
			lt.publish(lt.root, expired)
		}
	}
}
