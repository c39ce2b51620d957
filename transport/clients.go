package transport

import (
	"container/list"
	"context"
	"runtime"
	"sync"
	"time"
)

// clientTable keeps what the limits remember about each client: its token
// bucket, its recent rejections, its blacklist cool-down and its concurrency
// slots. It is bounded: at most max entries, the least recently seen idle one
// is forgotten first, and the Server's sweeper drops clients idle long enough
// that forgetting them changes nothing.
type clientTable struct {
	max   int
	slots int // MaxConnectionsPerClient; <= 0 = unlimited

	mu  sync.Mutex // guards everything below; never held while waiting
	lru *list.List // of *client, most recently seen first
	m   map[string]*list.Element

	// running counts tool calls past acquire, all clients; changed is closed
	// (and forgotten) when one ends, waking calls that yield (see acquire).
	running int
	changed chan struct{}
	busy    int           // running calls from which the server counts as saturated (GOMAXPROCS)
	yield   time.Duration // fairYield (tests change it)
}

type client struct {
	id       string
	lastSeen time.Time

	// Token bucket: refilled at rate per minute, capacity burstSeconds of it.
	tokens float64
	filled time.Time // when tokens was last brought up to date

	strikes      []time.Time // rejections within the window, oldest first
	blockedUntil time.Time

	sem      chan struct{} // concurrency slots; nil when unlimited
	inflight int           // tool calls holding or waiting for a slot; pins the entry
	running  int           // tool calls past acquire
}

func newClientTable(maxClients, slots int) *clientTable {
	return &clientTable{max: maxClients, slots: slots, lru: list.New(), m: make(map[string]*list.Element),
		busy: runtime.GOMAXPROCS(0), yield: fairYield}
}

// get returns the client's entry, creating it if needed, and marks it seen.
// Callers hold t.mu.
func (t *clientTable) get(id string, now time.Time) *client {
	if e, ok := t.m[id]; ok {
		t.lru.MoveToFront(e)
		c := e.Value.(*client)
		c.lastSeen = now
		return c
	}
	if t.lru.Len() >= t.max {
		t.evictOne()
	}
	c := &client{id: id, lastSeen: now, tokens: -1}
	if t.slots > 0 {
		c.sem = make(chan struct{}, t.slots)
	}
	t.m[id] = t.lru.PushFront(c)
	return c
}

// evictOne forgets the least recently seen client without calls in flight
// (their slots must survive). It looks at a few entries only; when all of them
// are busy the table grows past max for a while, bounded by the calls in flight.
func (t *clientTable) evictOne() {
	e := t.lru.Back()
	for i := 0; e != nil && i < 16; i++ {
		if e.Value.(*client).inflight == 0 {
			t.lru.Remove(e)
			delete(t.m, e.Value.(*client).id)
			return
		}
		e = e.Prev()
	}
}

// blocked reports whether id is in a blacklist cool-down, and until when. It
// does not create an entry.
func (t *clientTable) blocked(id string, now time.Time) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[id]
	if !ok {
		return time.Time{}, false
	}
	t.lru.MoveToFront(e) // a blacklisted client that keeps knocking stays remembered
	c := e.Value.(*client)
	c.lastSeen = now
	if now.Before(c.blockedUntil) {
		return c.blockedUntil, true
	}
	return time.Time{}, false
}

// burstSeconds is how much of its rate a client may spend at once: the
// bucket holds 10 seconds of tokens (a sixth of the per-minute rate, at least
// one). A full minute's worth at once would let one client run hundreds of
// calls back to back and starve the others' CPU for a second or two.
const burstSeconds = 10

// burst is the bucket capacity for a rate per minute.
func burst(ratePerMinute int) float64 {
	return max(1, float64(ratePerMinute)*burstSeconds/60)
}

// take spends one token of id's bucket. When it is empty it returns how long
// until the next token.
func (t *clientTable) take(id string, ratePerMinute int, now time.Time) (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.get(id, now)
	capacity := burst(ratePerMinute)
	perSecond := float64(ratePerMinute) / 60
	if c.tokens < 0 { // new client: full bucket
		c.tokens = capacity
	} else if el := now.Sub(c.filled).Seconds(); el > 0 {
		c.tokens = min(capacity, c.tokens+el*perSecond)
	}
	c.filled = now
	if c.tokens >= 1 {
		c.tokens--
		return 0, true
	}
	return time.Duration((1 - c.tokens) / perSecond * float64(time.Second)), false
}

// strike records a rejection. When it is the threshold-th within window, the
// client is blocked for cooldown and started is true (exactly once per
// cool-down, so the caller logs once). Rejections during a cool-down do not
// extend it.
func (t *clientTable) strike(id string, now time.Time, threshold int, window, cooldown time.Duration) (until time.Time, started bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.get(id, now)
	if now.Before(c.blockedUntil) {
		return c.blockedUntil, false
	}
	cut := 0
	for cut < len(c.strikes) && now.Sub(c.strikes[cut]) >= window {
		cut++
	}
	c.strikes = append(c.strikes[cut:], now)
	if len(c.strikes) < threshold {
		return time.Time{}, false
	}
	c.strikes = c.strikes[:0]
	c.blockedUntil = now.Add(cooldown)
	return c.blockedUntil, true
}

// fairYield is the longest a call yields to other clients' calls (see acquire).
const fairYield = 100 * time.Millisecond

// acquire takes one of id's concurrency slots, waiting at most wait. The
// returned release must be called once the call is over.
//
// Fair share: while the server is saturated (at least GOMAXPROCS calls
// running) and other clients have calls running, a call that would be its
// client's second or later running call yields until one of them ends, for
// at most fairYield (and within wait), then runs anyway. A client making one
// call at a time never yields; one firing max_connections_per_client calls
// in parallel cannot take every core from the others, yet has an idle
// server to itself.
func (t *clientTable) acquire(ctx context.Context, id string, now time.Time, wait time.Duration) (release func(), ok bool) {
	t.mu.Lock()
	c := t.get(id, now)
	if c.sem == nil {
		t.mu.Unlock()
		return func() {}, true
	}
	c.inflight++
	sem := c.sem
	t.mu.Unlock()

	fail := func() (func(), bool) {
		t.mu.Lock()
		c.inflight--
		t.mu.Unlock()
		return nil, false
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case sem <- struct{}{}:
	default:
		select {
		case sem <- struct{}{}:
		case <-timer.C:
			return fail()
		case <-ctx.Done():
			return fail()
		}
	}

	var yieldEnd <-chan time.Time
	t.mu.Lock()
	for c.running > 0 && t.running > c.running && t.running >= t.busy {
		if yieldEnd == nil {
			yt := time.NewTimer(t.yield)
			defer yt.Stop()
			yieldEnd = yt.C
		}
		if t.changed == nil {
			t.changed = make(chan struct{})
		}
		changed := t.changed
		t.mu.Unlock()
		select {
		case <-changed:
		case <-yieldEnd:
			t.mu.Lock()
			goto run // yielded long enough: run beside the others
		case <-timer.C:
			t.mu.Lock()
			goto run
		case <-ctx.Done():
			<-sem
			return fail()
		}
		t.mu.Lock()
	}
run:
	c.running++
	t.running++
	t.mu.Unlock()
	return func() {
		t.mu.Lock()
		c.running--
		t.running--
		c.inflight--
		if t.changed != nil {
			close(t.changed)
			t.changed = nil
		}
		t.mu.Unlock()
		<-sem
	}, true
}

// sweep forgets clients unseen for idle that hold no slot and are not
// blacklisted: their bucket is full again and their strikes have expired.
func (t *clientTable) sweep(now time.Time, idle time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for e := t.lru.Back(); e != nil; {
		prev := e.Prev()
		c := e.Value.(*client)
		if now.Sub(c.lastSeen) < idle {
			break // the rest were seen more recently
		}
		if c.inflight == 0 && !now.Before(c.blockedUntil) {
			t.lru.Remove(e)
			delete(t.m, c.id)
		}
		e = prev
	}
}

// size is the number of clients remembered (for tests).
func (t *clientTable) size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lru.Len()
}
