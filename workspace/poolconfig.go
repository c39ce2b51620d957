package workspace

import "github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"

// PoolConfig maps a pool's settings from a config file onto a pooling.Config:
// sizes clamped to what pooling.New accepts, durations converted, and the
// server's one masking function (Redact) as the pool's Sanitize hook, so a
// pool never keeps a credential a driver put in an error. The caller adds
// what the settings do not say (name, backend, workspace, breaker, logger).
//
// It lives here, not in pooling, because pooling is generic: it knows neither
// this module's config file nor its secrets.
func (st PoolSettings) PoolConfig() pooling.Config {
	maxConns := max(st.MaxConnections, 1)
	return pooling.Config{
		MinConns:            min(max(st.MinConnections, 0), maxConns),
		MaxConns:            maxConns,
		MaxOverflow:         max(st.MaxOverflow, 0),
		PrePing:             st.PoolPrePing,
		Recycle:             st.PoolRecycle.Duration(),
		AcquireTimeout:      st.PoolTimeout.Duration(),
		ResetOnReturn:       st.PoolResetOnReturn,
		LIFO:                st.PoolUseLIFO,
		IdleTimeout:         st.IdleTimeout.Duration(),
		HealthCheckInterval: st.HealthCheckInterval.Duration(),
		LeakThreshold:       st.LeakDetectionThreshold.Duration(),
		Sanitize:            Redact,
	}
}
