package workspace

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
)

// Limits enforced by Validate.
const (
	MaxPoolConnections = 1000    // max_connections and max_overflow ceiling
	MaxArtifactLimit   = 1 << 30 // security.max_artifact_bytes ceiling (1 GiB)
)

// ErrInvalidConfig matches every *ValidationError.
var ErrInvalidConfig = errors.New("invalid configuration")

// Violation is one broken rule in a configuration.
type Violation struct {
	Path  string // dotted JSON path, e.g. database_pools.vector.max_connections
	Value any    // the offending value; nil when it is not shown (unknown keys, possible credentials)
	Rule  string // what is required, e.g. "must be between 1 and 1000"
	// Line and Column locate the key in the file (1-based); 0 when the
	// violation is about the merged result rather than a spot in a file.
	Line, Column int
}

func (v Violation) String() string {
	var b strings.Builder
	b.WriteString(v.Path)
	switch val := v.Value.(type) {
	case nil:
	case string:
		fmt.Fprintf(&b, " = %q", val)
	default:
		fmt.Fprintf(&b, " = %v", val)
	}
	b.WriteString(": ")
	b.WriteString(v.Rule)
	if v.Line > 0 {
		fmt.Fprintf(&b, " (line %d, column %d)", v.Line, v.Column)
	}
	return b.String()
}

// ValidationError lists every violation found in one configuration.
type ValidationError struct {
	File       string // the file the violations are in; "" for the merged configuration
	Violations []Violation
}

// Error returns one line per violation, each prefixed with the file.
func (e *ValidationError) Error() string {
	prefix := e.File
	if prefix == "" {
		prefix = "configuration"
	}
	lines := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		lines[i] = prefix + ": " + v.String()
	}
	return strings.Join(lines, "\n")
}

// Is makes errors.Is(err, ErrInvalidConfig) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidConfig }

// Validate checks every rule and returns a *ValidationError naming every
// violation, or nil.
func (c Config) Validate() error {
	if vs := c.violations(); len(vs) > 0 {
		return &ValidationError{Violations: vs}
	}
	return nil
}

// rules collects violations; each check names the field's JSON path.
type rules struct{ vs []Violation }

func (r *rules) add(path string, value any, rule string) {
	r.vs = append(r.vs, Violation{Path: path, Value: value, Rule: rule})
}

func (r *rules) intRange(path string, v, lo, hi int) {
	if v < lo || v > hi {
		r.add(path, v, fmt.Sprintf("must be between %d and %d", lo, hi))
	}
}

func (r *rules) intMin(path string, v, lo int) {
	if v < lo {
		r.add(path, v, fmt.Sprintf("must be >= %d", lo))
	}
}

// Written as !(v > 0) so that NaN fails too.
func (r *rules) positive(path string, v Seconds) {
	if !(v > 0) {
		r.add(path, float64(v), "must be > 0 (seconds)")
	}
}

func (r *rules) nonNegative(path string, v Seconds) {
	if !(v >= 0) {
		r.add(path, float64(v), "must be >= 0 (seconds)")
	}
}

func (c Config) violations() []Violation {
	var r rules
	for _, p := range []struct {
		name string
		s    PoolSettings
	}{{"operational", c.DatabasePools.Operational}, {"vector", c.DatabasePools.Vector}, {"graph", c.DatabasePools.Graph}} {
		pre := "database_pools." + p.name + "."
		s := p.s
		r.intMin(pre+"min_connections", s.MinConnections, 0)
		if s.MinConnections > s.MaxConnections && s.MinConnections >= 0 {
			r.add(pre+"min_connections", s.MinConnections, fmt.Sprintf("must be <= max_connections (%d)", s.MaxConnections))
		}
		r.intRange(pre+"max_connections", s.MaxConnections, 1, MaxPoolConnections)
		r.intRange(pre+"max_overflow", s.MaxOverflow, 0, MaxPoolConnections)
		r.positive(pre+"pool_timeout", s.PoolTimeout)
		r.nonNegative(pre+"pool_recycle", s.PoolRecycle)
		r.nonNegative(pre+"idle_timeout", s.IdleTimeout)
		r.nonNegative(pre+"health_check_interval", s.HealthCheckInterval)
		r.nonNegative(pre+"leak_detection_threshold", s.LeakDetectionThreshold)
	}

	sec := c.Security
	r.intMin("security.max_connections_per_client", sec.MaxConnectionsPerClient, 0)
	r.intMin("security.connection_rate_limit", sec.ConnectionRateLimit, 0)
	r.intMin("security.blacklist_threshold", sec.BlacklistThreshold, 0)
	if sec.MaxArtifactBytes < 1 || sec.MaxArtifactBytes > MaxArtifactLimit {
		r.add("security.max_artifact_bytes", sec.MaxArtifactBytes, fmt.Sprintf("must be between 1 and %d (1 GiB)", MaxArtifactLimit))
	}
	r.intMin("security.max_metadata_bytes", sec.MaxMetadataBytes, 0)

	srv := c.Server
	r.intMin("server.max_workspaces", srv.MaxWorkspaces, 1)
	r.nonNegative("server.workspace_idle_timeout", srv.WorkspaceIdleTimeout)
	r.intMin("server.circuit_breaker_threshold", srv.CircuitBreakerThreshold, 1)
	r.positive("server.circuit_breaker_cooldown", srv.CircuitBreakerCooldown)
	r.positive("server.roots_timeout", srv.RootsTimeout)
	r.nonNegative("server.sqlite_busy_timeout", srv.SQLiteBusyTimeout)
	if srv.LogLevel != "" {
		var lvl slog.Level
		if err := lvl.UnmarshalText([]byte(srv.LogLevel)); err != nil {
			r.add("server.log_level", srv.LogLevel, `must be one of "debug", "info", "warn", "error"`)
		}
	}

	b := c.Backends
	r.serverURL("backends.chroma_url", b.ChromaURL, "http", "https")
	r.serverURL("backends.neo4j_uri", b.Neo4jURI, "neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc")
	r.positive("backends.chroma_start_timeout", b.ChromaStartTimeout)
	r.positive("backends.neo4j_start_timeout", b.Neo4jStartTimeout)
	if len(b.Neo4jCommand) > 0 {
		if !filepath.IsAbs(b.Neo4jCommand[0]) {
			r.add("backends.neo4j_command", b.Neo4jCommand[0], "the first element must be an absolute path to the executable")
		}
		if !strings.Contains(strings.Join(b.Neo4jCommand, " "), "{port}") {
			r.add("backends.neo4j_command", nil, "must contain the {port} placeholder (the server binds 127.0.0.1:{port})")
		}
	}
	for i, p := range b.Neo4jDedicatedProjects {
		if !filepath.IsAbs(p) {
			r.add(fmt.Sprintf("backends.neo4j_dedicated_projects[%d]", i), p, "must be an absolute project path")
		}
	}
	if b.Neo4jDatabase != "" && !identRe.MatchString(strings.ReplaceAll(b.Neo4jDatabase, ".", "-")) {
		r.add("backends.neo4j_database", b.Neo4jDatabase, "must be a database name (letters, digits, ., _ or -)")
	}
	if b.ChromaCommand != "" && !filepath.IsAbs(b.ChromaCommand) {
		r.add("backends.chroma_command", b.ChromaCommand, "must be an absolute path to the chroma executable")
	}
	if b.ChromaTenant != "" && !identRe.MatchString(b.ChromaTenant) {
		r.add("backends.chroma_tenant", b.ChromaTenant, "must be 1-63 characters of letters, digits, _ or -")
	}

	e := c.Embeddings
	switch e.Provider {
	case "", "hash", "openai", "ollama", "default":
	default:
		r.add("embeddings.provider", e.Provider, `must be one of "" (none: callers send vectors), "hash", "openai", "ollama", "default"`)
	}
	if e.Provider == "openai" || e.Provider == "ollama" {
		if e.Model == "" {
			r.add("embeddings.model", e.Model, "is required for provider "+e.Provider)
		}
		if e.BaseURL == "" && e.Provider == "ollama" {
			r.add("embeddings.base_url", e.BaseURL, "is required for provider ollama (e.g. http://127.0.0.1:11434)")
		}
	}
	r.serverURL("embeddings.base_url", e.BaseURL, "http", "https")
	if e.APIKeyEnv != "" && !envNameRe.MatchString(e.APIKeyEnv) {
		r.add("embeddings.api_key_env", e.APIKeyEnv, "must be the name of an environment variable (e.g. OPENAI_API_KEY), not a key")
	}
	r.intRange("embeddings.dimensions", e.Dimensions, 0, 65536)
	r.positive("embeddings.timeout", e.Timeout)
	return r.vs
}

var (
	identRe   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,63}$`)
	envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
)

// serverURL checks an optional server address. The value is only ever shown
// with its password redacted, and not at all when it does not parse (the raw
// text may hold credentials).
func (r *rules) serverURL(path, raw string, schemes ...string) {
	if raw == "" {
		return
	}
	want := "must be a URL like " + schemes[0] + "://host:port (scheme one of " + strings.Join(schemes, ", ") + ")"
	u, err := url.Parse(raw)
	if err != nil {
		r.add(path, nil, want)
		return
	}
	for _, s := range schemes {
		if u.Scheme == s && u.Host != "" {
			return
		}
	}
	r.add(path, Redact(raw), want)
}

// Redacted returns a copy safe to log or show: the password is replaced by
// "****" (even for Reveal) and credentials inside URLs are masked by Redact.
func (c Config) Redacted() Config {
	if c.Backends.Neo4jPassword != "" {
		c.Backends.Neo4jPassword = redactedMark
	}
	if c.Backends.ChromaToken != "" {
		c.Backends.ChromaToken = redactedMark
	}
	c.Embeddings.BaseURL = redactURL(c.Embeddings.BaseURL)
	c.Backends.ChromaURL = redactURL(c.Backends.ChromaURL)
	c.Backends.Neo4jURI = redactURL(c.Backends.Neo4jURI)
	return c
}

func redactURL(raw string) string { return Redact(raw) }
