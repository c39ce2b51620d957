package pooling

import (
	"errors"
	"fmt"
	"time"
)

// ErrCircuitOpen is wrapped by every error an Acquire returns while the pool's
// circuit breaker is open; errors.As with *CircuitOpenError gives the details.
var ErrCircuitOpen = errors.New("backend is unavailable (circuit breaker open)")

// CircuitOpenError is returned by Acquire while the breaker is open: the backend
// failed too many times in a row, so the pool fails fast instead of calling it.
type CircuitOpenError struct {
	// Pool names the pool and workspace, as in "pool chroma for /path".
	Pool string
	// RetryAfter is how long the breaker keeps failing fast.
	RetryAfter time.Duration
	// LastErr is the last backend failure, sanitized.
	LastErr string
}

func (e *CircuitOpenError) Error() string {
	return fmt.Sprintf("%s: backend is unavailable (circuit breaker open); last error: %s; retry after %s",
		e.Pool, e.LastErr, e.RetryAfter.Round(time.Millisecond))
}

// Is makes errors.Is(err, ErrCircuitOpen) true.
func (e *CircuitOpenError) Is(target error) bool { return target == ErrCircuitOpen }

const (
	defaultBreakerThreshold = 5
	defaultBreakerCooldown  = 5 * time.Second
	maxBreakerCooldown      = time.Minute
	// halfOpenRetry is the retry-after given while a trial call is in flight.
	halfOpenRetry = time.Second
)

// breaker counts consecutive backend failures (Open, pre-ping) and, past the
// threshold, opens: callers fail fast until openUntil. After that exactly one
// call at a time is let through as a trial (half-open); its success closes the
// breaker, its failure re-opens it with twice the cooldown (capped at a minute).
//
// breaker has no lock of its own: every method must be called with the owning
// pool's mu held.
type breaker struct {
	threshold int
	base      time.Duration // cooldown after a trip

	open        bool
	consecutive int           // failures in a row; reset by any success
	cooldown    time.Duration // current cooldown; doubles on each failed trial
	openUntil   int64         // pool clock; fail fast before it
	trialActive bool          // a trial call is in flight
	trialGen    uint64        // identifies the current trial; 0 is never a trial
	lastErr     string        // last failure, sanitized
}

// admit decides whether a call may reach the backend now. It returns a nonzero
// trial generation when the caller is the half-open trial, and an error when
// the caller must fail fast.
func (b *breaker) admit(now int64, pool string) (trial uint64, err *CircuitOpenError) {
	if !b.open {
		return 0, nil
	}
	if now < b.openUntil {
		return 0, &CircuitOpenError{Pool: pool, RetryAfter: time.Duration(b.openUntil - now), LastErr: b.lastErr}
	}
	if b.trialActive {
		return 0, &CircuitOpenError{Pool: pool, RetryAfter: min(halfOpenRetry, b.cooldown), LastErr: b.lastErr}
	}
	b.trialActive = true
	b.trialGen++
	return b.trialGen, nil
}

// success records a backend call that worked. It reports whether this closed
// an open breaker.
func (b *breaker) success() (recovered bool) {
	b.consecutive = 0
	if !b.open {
		return false
	}
	b.open = false
	b.trialActive = false
	b.cooldown = b.base
	return true
}

// failure records a backend call that failed. Only the current trial decides
// while the breaker is open; failures of calls that started before the trip do
// not push the retry-after further out. decisive=false (a failed pre-ping that
// the caller follows with an Open) only counts. It reports whether the breaker
// tripped (went from closed to open) and whether it re-opened after a trial.
func (b *breaker) failure(now int64, msg string, trial uint64, decisive bool) (tripped, reopened bool) {
	b.consecutive++
	b.lastErr = msg
	if !decisive {
		return false, false
	}
	if b.open {
		if trial != 0 && b.trialActive && trial == b.trialGen {
			b.trialActive = false
			b.cooldown = min(2*b.cooldown, maxBreakerCooldown)
			b.openUntil = now + int64(b.cooldown)
			return false, true
		}
		return false, false
	}
	if b.consecutive >= b.threshold {
		b.open = true
		b.cooldown = b.base
		b.openUntil = now + int64(b.cooldown)
		return true, false
	}
	return false, false
}

// abandon ends a trial that gave up without reaching the backend (the caller's
// context ended, or no connection was free), so the next caller can try.
func (b *breaker) abandon(trial uint64) {
	if trial != 0 && b.trialActive && trial == b.trialGen {
		b.trialActive = false
	}
}

// retryAfter is how long callers will keep failing fast (0 when closed).
func (b *breaker) retryAfter(now int64) time.Duration {
	if !b.open {
		return 0
	}
	if now < b.openUntil {
		return time.Duration(b.openUntil - now)
	}
	if b.trialActive {
		return min(halfOpenRetry, b.cooldown)
	}
	return 0
}

// halfOpen reports whether the cooldown has passed and the breaker lets a trial through.
func (b *breaker) halfOpen(now int64) bool { return b.open && now >= b.openUntil }
