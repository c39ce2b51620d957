package pooling

import (
	"context"
	"time"
)

// AdvanceClock moves p's clock forward by d, so tests of recycle, idle and
// leak thresholds and breaker cooldowns need not sleep.
func AdvanceClock[T any](p *Pool[T], d time.Duration) { p.skew.Add(int64(d)) }

// HealthCheck runs one health-monitor pass synchronously.
func HealthCheck[T any](p *Pool[T]) { p.healthCheck(context.Background()) }
