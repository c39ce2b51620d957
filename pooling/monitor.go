package pooling

import (
	"context"
	"time"
)

// monitor is the pool's health monitor goroutine, owned by the pool: it runs
// until Close cancels baseCtx. It first fills the pool to MinConns, then runs
// a health check every HealthCheckInterval (without an interval it stops after
// the fill).
func (p *Pool[T]) monitor() {
	defer close(p.monitorDone)
	p.fill(p.baseCtx, 0)
	if p.cfg.HealthCheckInterval <= 0 {
		return
	}
	t := time.NewTicker(p.cfg.HealthCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-p.baseCtx.Done():
			return
		case <-t.C:
			p.healthCheck(p.baseCtx)
		}
	}
}

type leakReport struct {
	holder string
	held   time.Duration
}

// healthCheck reports leaks, closes idle connections that are too old or idle
// too long (never going below MinConns), pings connections idle for a whole
// interval, replaces the dead ones, refills to MinConns and probes a tripped
// breaker whose cooldown has passed.
func (p *Pool[T]) healthCheck(ctx context.Context) {
	now := p.now()
	var leaks []leakReport
	var retire []*entry[T] // closed without replacement
	var check []*entry[T]  // taken out of the idle list to be pinged

	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.clockSeen = max(p.clockSeen, now)
	// Connections released since the last pass have no idle timestamp yet.
	// Stamping them now keeps the idle list (nearly) sorted by it; eviction and
	// pings below work from the front and stop at the first one not due, so a
	// misplaced entry is handled late, never early.
	for i := range p.idle.len() {
		if e := p.idle.at(i); e.lastUsed == 0 {
			e.lastUsed = now
		}
	}
	if p.cfg.LeakThreshold > 0 {
		for _, e := range p.all {
			if e.out && !e.leakReported && now-e.acquiredAt >= int64(p.cfg.LeakThreshold) {
				e.leakReported = true
				p.leaks++
				leaks = append(leaks, leakReport{holder: e.holder, held: time.Duration(now - e.acquiredAt)})
			}
		}
	}
	if p.cfg.Recycle > 0 {
		n := len(retire)
		retire = p.idle.removeIf(func(e *entry[T]) bool { return p.expired(e, now) }, retire)
		p.recycled += int64(len(retire) - n)
	}
	if p.cfg.IdleTimeout > 0 {
		// The front of the idle list has been idle longest.
		for p.total-len(retire) > p.cfg.MinConns {
			e := p.idle.front()
			if e == nil || now-e.lastUsed < int64(p.cfg.IdleTimeout) {
				break
			}
			retire = append(retire, p.idle.popFront())
		}
	}
	for _, e := range retire {
		p.forgetLocked(e)
		p.freeSlotLocked()
	}
	if p.hooks.Ping != nil {
		// Recently returned connections just proved themselves; ping the rest.
		cutoff := now - int64(p.cfg.HealthCheckInterval)
		for e := p.idle.front(); e != nil && e.lastUsed <= cutoff; e = p.idle.front() {
			check = append(check, p.idle.popFront())
		}
	}
	p.mu.Unlock()

	for _, l := range leaks {
		holder := l.holder
		if holder == "" {
			holder = "unknown (no WithHolder on the context)"
		}
		p.log.Warn("connection held longer than the leak threshold: is it released on every path?",
			"holder", holder, "held", l.held.Round(time.Millisecond), "threshold", p.cfg.LeakThreshold)
	}
	for _, e := range retire {
		p.closeValue(e.val)
	}

	dead := 0
	alive := check[:0]
	for _, e := range check {
		pctx, cancel := context.WithTimeout(ctx, p.cfg.AcquireTimeout)
		err := p.hooks.Ping(pctx, e.val)
		cancel()
		if err == nil {
			alive = append(alive, e)
			continue
		}
		dead++
		p.mu.Lock()
		if ctx.Err() == nil {
			p.pingFailures++
			p.lastErr = "health check ping: " + p.cfg.Sanitize(err.Error())
		}
		p.forgetLocked(e)
		p.freeSlotLocked()
		p.mu.Unlock()
		p.closeValue(e.val)
	}
	if len(alive) > 0 {
		var toClose []*entry[T]
		p.mu.Lock()
		// Back to the front, in their order: they have been idle longest.
		for i := len(alive) - 1; i >= 0; i-- {
			e := alive[i]
			switch {
			case p.closed:
				p.forgetLocked(e)
				p.freeSlotLocked()
				toClose = append(toClose, e)
			case p.waiters.n > 0:
				p.waiters.pop().ch <- handoff[T]{e: e}
			default:
				p.idle.pushFront(e)
			}
		}
		p.mu.Unlock()
		for _, e := range toClose {
			p.closeValue(e.val)
		}
	}
	p.fill(ctx, dead)
}

// fill opens idle connections: replace of them (for dead ones), then as many
// as MinConns needs, never beyond MaxConns. When the breaker's cooldown has
// passed it opens one as the trial even if none is needed, so a pool recovers
// without traffic. It stops at the first failure.
func (p *Pool[T]) fill(ctx context.Context, replace int) {
	for ; ; replace-- {
		now := p.now()
		p.mu.Lock()
		probe := p.brk.halfOpen(now) && !p.brk.trialActive
		if p.closed || p.total >= p.cfg.MaxConns || (replace <= 0 && p.total >= p.cfg.MinConns && !probe) {
			p.mu.Unlock()
			return
		}
		trial, cerr := p.brk.admit(now, p.label)
		if cerr != nil {
			p.mu.Unlock()
			return
		}
		p.total++
		p.mu.Unlock()

		e, err := p.openEntry(ctx, trial)
		if err != nil {
			return
		}
		var closeIt bool
		p.mu.Lock()
		if p.closed {
			p.forgetLocked(e)
			p.freeSlotLocked()
			closeIt = true
		} else {
			closeIt = p.returnLocked(e, p.now(), false)
		}
		p.mu.Unlock()
		if closeIt {
			p.closeValue(e.val)
		}
	}
}
