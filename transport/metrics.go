package transport

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
)

const namespace = "task_orchestrator"

// metrics lives in its own registry, so two Servers in one process (tests) or
// a library user's global registry never collide.
type metrics struct {
	reg          *prometheus.Registry
	toolCalls    *prometheus.CounterVec   // tool, outcome, agent
	toolDuration *prometheus.HistogramVec // tool
	httpRequests *prometheus.CounterVec   // path, code
	rejections   *prometheus.CounterVec   // reason, agent
	reloads      *prometheus.CounterVec   // result
	sessions     prometheus.GaugeFunc
}

// The agent label is an agent's name from the tokens file, "token" for the
// --auth-token-file token or "anonymous" (no valid token): only configured
// names, so a client cannot grow the metric set.

func newMetrics(pools func() []pooling.Metrics, sessions func() float64) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		toolCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "tool_calls_total",
			Help: "Tool calls by tool, outcome (ok, tool_error, error) and agent.",
		}, []string{"tool", "outcome", "agent"}),
		toolDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "tool_call_duration_seconds",
			Help:    "Tool call latency by tool.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"tool"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http_requests_total",
			Help: "HTTP requests by path and status code.",
		}, []string{"path", "code"}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "limit_rejections_total",
			Help: "Requests and tool calls refused by a limit or check, by reason (rate, blacklist, concurrency, auth, origin, host, body, workspace, session) and agent.",
		}, []string{"reason", "agent"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "auth_tokens_reloads_total",
			Help: "Reloads of the auth tokens file by result (ok, error: the previous agents were kept).",
		}, []string{"result"}),
		sessions: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Name: "http_sessions",
			Help: "Open MCP sessions of session-based protocol versions (2025-11-25, 2025-06-18); idle ones expire.",
		}, sessions),
	}
	for _, r := range []string{reasonRate, reasonBlacklist, reasonConcurrency, reasonAuth, reasonOrigin, reasonHost, reasonBody, reasonWorkspace, reasonSession} {
		m.rejections.WithLabelValues(r, agentAnonymous) // export zeros, so rate() works from the start
	}
	m.reloads.WithLabelValues("ok")
	m.reloads.WithLabelValues("error")
	m.reg.MustRegister(m.toolCalls, m.toolDuration, m.httpRequests, m.rejections, m.reloads, m.sessions,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newPoolCollector(pools))
	return m
}

// forgetAgents drops the series of agents removed from the tokens file, so
// that the label set stays the configured names.
func (m *metrics) forgetAgents(names []string) {
	for _, n := range names {
		m.toolCalls.DeletePartialMatch(prometheus.Labels{"agent": n})
		m.rejections.DeletePartialMatch(prometheus.Labels{"agent": n})
	}
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// pathLabel keeps the path label's cardinality fixed: a scanner probing
// random URLs must not grow the metric set.
func pathLabel(p string) string {
	switch p {
	case "/mcp", "/healthz", "/readyz", "/metrics":
		return p
	}
	return "other"
}

// poolCollector reads every pool's metrics at scrape time.
type poolCollector struct {
	pools   func() []pooling.Metrics
	gauges  []poolValue
	state   *prometheus.Desc
	p50     *prometheus.Desc
	p99     *prometheus.Desc
	retryAf *prometheus.Desc
}

type poolValue struct {
	desc *prometheus.Desc
	kind prometheus.ValueType
	get  func(m *pooling.Metrics) float64
}

var poolLabels = []string{"workspace", "backend", "pool"}

var poolStates = []pooling.State{pooling.StateHealthy, pooling.StateDegraded, pooling.StateDown, pooling.StateNotConfigured, pooling.StateClosed}

func newPoolCollector(pools func() []pooling.Metrics) *poolCollector {
	d := func(name, help string, extra ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "pool", name), help, append(append([]string{}, poolLabels...), extra...), nil)
	}
	g := func(name, help string, get func(m *pooling.Metrics) int) poolValue {
		return poolValue{d(name, help), prometheus.GaugeValue, func(m *pooling.Metrics) float64 { return float64(get(m)) }}
	}
	c := func(name, help string, get func(m *pooling.Metrics) int64) poolValue {
		return poolValue{d(name, help), prometheus.CounterValue, func(m *pooling.Metrics) float64 { return float64(get(m)) }}
	}
	return &poolCollector{
		pools: pools,
		gauges: []poolValue{
			g("connections_total", "Open connections plus those being opened.", func(m *pooling.Metrics) int { return m.Total }),
			g("connections_in_use", "Connections checked out.", func(m *pooling.Metrics) int { return m.InUse }),
			g("connections_idle", "Connections idle in the pool.", func(m *pooling.Metrics) int { return m.Idle }),
			g("waiting", "Acquire calls waiting for a connection.", func(m *pooling.Metrics) int { return m.Waiting }),
			g("overflow_in_use", "Checked-out connections beyond max (closed on release).", func(m *pooling.Metrics) int { return m.OverflowInUse }),
			g("max_connections", "The pool's max_connections.", func(m *pooling.Metrics) int { return m.Max }),
			c("acquires_total", "Successful acquires.", func(m *pooling.Metrics) int64 { return m.Acquires }),
			c("timeouts_total", "Acquires that timed out.", func(m *pooling.Metrics) int64 { return m.Timeouts }),
			c("created_total", "Connections opened.", func(m *pooling.Metrics) int64 { return m.Created }),
			c("closed_total", "Connections closed.", func(m *pooling.Metrics) int64 { return m.Closed }),
			c("recycled_total", "Connections closed for age.", func(m *pooling.Metrics) int64 { return m.Recycled }),
			c("ping_failures_total", "Failed pre-pings and health checks.", func(m *pooling.Metrics) int64 { return m.PingFailures }),
			c("errors_total", "Failed open, reset and close hooks.", func(m *pooling.Metrics) int64 { return m.Errors }),
			c("leaks_total", "Connections held longer than the leak threshold.", func(m *pooling.Metrics) int64 { return m.Leaks }),
		},
		p50:     d("acquire_wait_p50_seconds", "Median acquire wait over recent acquires."),
		p99:     d("acquire_wait_p99_seconds", "99th percentile acquire wait over recent acquires."),
		retryAf: d("retry_after_seconds", "How long the open circuit breaker keeps failing fast (0 when closed)."),
		state:   d("state", "1 for the pool's current state, 0 for the others.", "state"),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, g := range c.gauges {
		ch <- g.desc
	}
	ch <- c.p50
	ch <- c.p99
	ch <- c.retryAf
	ch <- c.state
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	if c.pools == nil {
		return
	}
	seen := make(map[[3]string]bool)
	for _, m := range c.pools() {
		key := [3]string{m.Workspace, m.Backend, m.Name}
		if seen[key] { // a duplicate label set would fail the whole scrape
			continue
		}
		seen[key] = true
		lv := key[:]
		for _, g := range c.gauges {
			ch <- prometheus.MustNewConstMetric(g.desc, g.kind, g.get(&m), lv...)
		}
		ch <- prometheus.MustNewConstMetric(c.p50, prometheus.GaugeValue, m.AcquireWaitP50.Seconds(), lv...)
		ch <- prometheus.MustNewConstMetric(c.p99, prometheus.GaugeValue, m.AcquireWaitP99.Seconds(), lv...)
		ch <- prometheus.MustNewConstMetric(c.retryAf, prometheus.GaugeValue, m.RetryAfter.Seconds(), lv...)
		for _, st := range poolStates {
			v := 0.0
			if m.State == st {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, v, append(lv, string(st))...)
		}
	}
}
