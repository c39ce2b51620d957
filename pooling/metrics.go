package pooling

import (
	"slices"
	"time"
)

// State of a pool, as shown by the pool_status tool.
type State string

const (
	// StateHealthy: the pool serves connections and nothing failed recently.
	StateHealthy State = "healthy"
	// StateDegraded: the breaker is half-open (probing a backend that was down)
	// or an error or timeout happened within the last minute.
	StateDegraded State = "degraded"
	// StateDown: the breaker is open; Acquire fails fast until the retry-after.
	StateDown State = "down"
	// StateNotConfigured is for backends that are turned off; a Pool never reports it.
	StateNotConfigured State = "not configured"
	// StateClosed: the pool was closed.
	StateClosed State = "closed"
)

// recentWindow is how long an error or a timeout keeps a pool "degraded".
const recentWindow = time.Minute

// Metrics is a snapshot of one pool.
type Metrics struct {
	Name, Backend, Workspace string
	State                    State
	// Total counts open connections plus those being opened; InUse those checked
	// out; Idle those waiting in the pool; Waiting the Acquire calls queued for one;
	// OverflowInUse the checked-out connections beyond Max (closed on release).
	Total, InUse, Idle, Waiting, OverflowInUse, Max int
	// Cumulative counters since the pool was created. Errors counts failed Open,
	// Reset and Close hooks; ping failures and timeouts have their own counters.
	Acquires, Timeouts, Created, Closed, Recycled, PingFailures, Errors int64
	// Leaks counts connections that were held longer than LeakThreshold (each
	// checkout is reported at most once).
	Leaks int64
	// AcquireWaitP50 and AcquireWaitP99 cover the last waitSamples successful
	// acquires: the time from calling Acquire to getting the connection.
	AcquireWaitP50, AcquireWaitP99 time.Duration
	// LastError is the most recent failure, sanitized (no credentials).
	LastError string
	// RetryAfter is how long the open circuit breaker keeps failing fast; 0 when closed.
	RetryAfter time.Duration
}

// waitSamples is the size of the ring of recent acquire wait times. It is a
// power of two so the ring index is a mask.
const waitSamples = 1024

// waitRing keeps the most recent acquire wait times. It is not safe for
// concurrent use: the pool guards it with its mutex.
type waitRing struct {
	buf [waitSamples]time.Duration
	n   uint64 // samples ever recorded; the next slot is n % waitSamples
}

func (r *waitRing) add(d time.Duration) {
	r.buf[r.n&(waitSamples-1)] = d
	r.n++
}

// snapshot copies the recorded samples so they can be sorted outside the lock.
func (r *waitRing) snapshot() []time.Duration {
	n := min(r.n, waitSamples)
	return slices.Clone(r.buf[:n])
}

// percentiles returns the 50th and 99th percentile (nearest rank) of samples,
// sorting them in place.
func percentiles(samples []time.Duration) (p50, p99 time.Duration) {
	n := len(samples)
	if n == 0 {
		return 0, 0
	}
	slices.Sort(samples)
	rank := func(pct int) time.Duration { return samples[(n*pct+99)/100-1] }
	return rank(50), rank(99)
}
