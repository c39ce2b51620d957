package workspace

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits enforced by Validate.
const (
	MaxPoolConnections = 1000    // ceiling of server.max_project_connections, and of a pool in the global config
	MaxArtifactLimit   = 1 << 30 // security.max_artifact_bytes ceiling (1 GiB)

	day  = 24 * 60 * 60
	hour = 60 * 60
)

// Limit is the range a numeric setting must stay in. Validate enforces it and
// the generated configuration reference prints it, so the two cannot differ.
// Every duration has a floor of one second: a smaller interval is a busy loop
// (a health check every nanosecond burnt two cores), never a tuning choice.
type Limit struct {
	Min, Max float64
	// ZeroOff: 0 is allowed too, and turns the feature off (or means "never").
	ZeroOff bool
	// Seconds: the setting is a duration in seconds.
	Seconds bool
	// MaxKey names the setting whose value is the ceiling instead of Max
	// (a project's pools are capped by server.max_project_connections).
	MaxKey string
}

func (l Limit) String() string {
	hi := strconv.FormatFloat(l.Max, 'f', -1, 64)
	if l.MaxKey != "" {
		hi = l.MaxKey
	}
	s := "between " + strconv.FormatFloat(l.Min, 'f', -1, 64) + " and " + hi
	if l.Seconds {
		s += " seconds"
	}
	if l.ZeroOff {
		s = "0 (off) or " + s
	}
	return s
}

// poolLimits are the ranges of each pool's numeric keys, by key.
var poolLimits = map[string]Limit{
	"min_connections":          {Min: 0, Max: MaxPoolConnections, MaxKey: "server.max_project_connections"},
	"max_connections":          {Min: 1, Max: MaxPoolConnections, MaxKey: "server.max_project_connections"},
	"max_overflow":             {Min: 0, Max: MaxPoolConnections, MaxKey: "server.max_project_connections"},
	"pool_recycle":             {Min: 1, Max: day, ZeroOff: true, Seconds: true},
	"pool_timeout":             {Min: 1, Max: hour, Seconds: true},
	"idle_timeout":             {Min: 1, Max: day, ZeroOff: true, Seconds: true},
	"health_check_interval":    {Min: 1, Max: day, ZeroOff: true, Seconds: true},
	"leak_detection_threshold": {Min: 1, Max: day, ZeroOff: true, Seconds: true},
}

// otherLimits are the ranges of the numeric keys outside database_pools.
var otherLimits = map[string]Limit{
	"security.max_connections_per_client": {Min: 0, Max: 10000},
	"security.connection_rate_limit":      {Min: 0, Max: 1_000_000},
	"security.blacklist_threshold":        {Min: 0, Max: 1_000_000},
	"security.max_artifact_bytes":         {Min: 1, Max: MaxArtifactLimit},
	"security.max_metadata_bytes":         {Min: 0, Max: 16 << 20},
	"server.max_workspaces":               {Min: 1, Max: 1000},
	"server.max_project_connections":      {Min: 1, Max: MaxPoolConnections},
	"server.workspace_idle_timeout":       {Min: 1, Max: 7 * day, ZeroOff: true, Seconds: true},
	"server.circuit_breaker_threshold":    {Min: 1, Max: 1000},
	"server.circuit_breaker_cooldown":     {Min: 1, Max: hour, Seconds: true},
	"server.roots_timeout":                {Min: 1, Max: 300, Seconds: true},
	"server.sqlite_busy_timeout":          {Min: 1, Max: hour, ZeroOff: true, Seconds: true},
	"backends.chroma_start_timeout":       {Min: 1, Max: hour, Seconds: true},
	"backends.neo4j_start_timeout":        {Min: 1, Max: hour, Seconds: true},
	"embeddings.dimensions":               {Min: 0, Max: 65536},
	"embeddings.timeout":                  {Min: 1, Max: hour, Seconds: true},
	"tasks.lease_seconds":                 {Min: 1, Max: day, Seconds: true},
	"tasks.history_limit":                 {Min: 1, Max: 100_000},
}

// LimitOf returns the range of the numeric setting at a dotted JSON path
// (database_pools.vector.max_connections, server.roots_timeout), if it has one.
func LimitOf(path string) (Limit, bool) {
	if rest, ok := strings.CutPrefix(path, "database_pools."); ok {
		if _, key, ok := strings.Cut(rest, "."); ok {
			l, found := poolLimits[key]
			return l, found
		}
		return Limit{}, false
	}
	l, ok := otherLimits[path]
	return l, ok
}

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

// Bounds on how much a configuration error says: a hostile file can hold
// thousands of problems, and the whole error goes back to the client.
const (
	// MaxReportedProblems is how many problems an error lists; the rest are counted.
	MaxReportedProblems = 10
	// MaxConfigErrorBytes caps ValidationError.Error(), leaving room under
	// 4 KiB for the sentence a tool error puts before it.
	MaxConfigErrorBytes = 3584
	maxShownKey         = 80 // bytes of a key or value quoted in a message
)

func (v Violation) String() string {
	var b strings.Builder
	b.WriteString(clip(v.Path, maxShownKey))
	switch val := v.Value.(type) {
	case nil:
	case string:
		fmt.Fprintf(&b, " = %q", clip(val, maxShownKey))
	case float64:
		b.WriteString(" = " + strconv.FormatFloat(val, 'g', -1, 64))
	default:
		fmt.Fprintf(&b, " = %v", val)
	}
	if v.Path != "" || v.Value != nil {
		b.WriteString(": ")
	}
	b.WriteString(v.Rule)
	if v.Line > 0 {
		fmt.Fprintf(&b, " (line %d, column %d)", v.Line, v.Column)
	}
	return b.String()
}

// clip shortens s to at most n bytes (on a rune boundary), marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// ValidationError lists the problems found in one configuration: every
// violation of a small file, or the first MaxReportedProblems and a count
// of the rest. A problem with the file as a whole (not a regular file, too
// large, too deep, not JSON) is a single violation with no path, and Unwrap
// gives its cause (ErrConfigFileRefused, *ConfigSyntaxError).
type ValidationError struct {
	File       string // the file the violations are in; "" for the merged configuration
	Violations []Violation
	// More counts the problems found beyond Violations.
	More  int
	cause error
}

// Error returns one line per violation, each prefixed with the file, and a
// last line counting the problems not listed; never more than MaxConfigErrorBytes.
func (e *ValidationError) Error() string {
	prefix := e.File
	if prefix == "" {
		prefix = "configuration"
	}
	vs, more := e.Violations, e.More
	if len(vs) > MaxReportedProblems {
		vs, more = vs[:MaxReportedProblems], more+len(vs)-MaxReportedProblems
	}
	lines := make([]string, 0, len(vs)+1)
	for _, v := range vs {
		lines = append(lines, prefix+": "+v.String())
	}
	if more > 0 {
		noun := "problems"
		if more == 1 {
			noun = "problem"
		}
		lines = append(lines, prefix+": … and "+thousands(more)+" more "+noun)
	}
	return clip(strings.Join(lines, "\n"), MaxConfigErrorBytes)
}

// Unwrap gives the cause of a problem with the file as a whole, or nil.
func (e *ValidationError) Unwrap() error { return e.cause }

// thousands writes n with comma separators: 96,319.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
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

// limit checks value (an int, int64 or Seconds) against the range of the
// setting at path; ceiling replaces Max when the limit names another setting
// (MaxKey). Written so that NaN fails too.
func (r *rules) limit(path string, value any, ceiling float64) {
	l, ok := LimitOf(path)
	if !ok {
		panic("workspace: no limit for " + path) // a rule without a range is a bug in this file
	}
	var v float64
	switch n := value.(type) {
	case int:
		v = float64(n)
	case int64:
		v = float64(n)
	case Seconds:
		v, value = float64(n), float64(n)
	default:
		panic(fmt.Sprintf("workspace: limit of %s given a %T", path, value))
	}
	hi := l.Max
	if l.MaxKey != "" {
		hi = ceiling
	}
	if (l.ZeroOff && v == 0) || (v >= l.Min && v <= hi) {
		return
	}
	rule := "must be " + l.String()
	if l.MaxKey != "" {
		rule = fmt.Sprintf("must be between %v and %v (the ceiling %s sets in the global config)", l.Min, ceiling, l.MaxKey)
	}
	r.add(path, value, rule)
}

func (c Config) violations() []Violation {
	var r rules
	srv := c.Server
	// The ceiling of a project's pools; checked first, since the pool rules use it.
	r.limit("server.max_project_connections", srv.MaxProjectConnections, 0)
	ceiling := float64(srv.MaxProjectConnections)
	if srv.MaxProjectConnections < 1 || srv.MaxProjectConnections > MaxPoolConnections {
		ceiling = MaxPoolConnections // reported above; do not blame every pool for it
	}
	for _, p := range []struct {
		name string
		s    PoolSettings
	}{{BackendOperational, c.DatabasePools.Operational}, {BackendVector, c.DatabasePools.Vector}, {BackendGraph, c.DatabasePools.Graph}} {
		pre := "database_pools." + p.name + "."
		s := p.s
		r.limit(pre+"min_connections", s.MinConnections, ceiling)
		if s.MinConnections > s.MaxConnections && s.MinConnections >= 0 && float64(s.MinConnections) <= ceiling {
			r.add(pre+"min_connections", s.MinConnections, fmt.Sprintf("must be <= max_connections (%d)", s.MaxConnections))
		}
		r.limit(pre+"max_connections", s.MaxConnections, ceiling)
		r.limit(pre+"max_overflow", s.MaxOverflow, ceiling)
		inRange := func(n int) bool { return n >= 0 && float64(n) <= ceiling }
		if sum := s.MaxConnections + s.MaxOverflow; inRange(s.MaxConnections) && inRange(s.MaxOverflow) && float64(sum) > ceiling {
			r.add(pre+"max_overflow", s.MaxOverflow, fmt.Sprintf("with max_connections %d must stay within %v connections in all (the ceiling server.max_project_connections sets in the global config); lower one of them", s.MaxConnections, ceiling))
		}
		r.limit(pre+"pool_timeout", s.PoolTimeout, 0)
		r.limit(pre+"pool_recycle", s.PoolRecycle, 0)
		r.limit(pre+"idle_timeout", s.IdleTimeout, 0)
		r.limit(pre+"health_check_interval", s.HealthCheckInterval, 0)
		r.limit(pre+"leak_detection_threshold", s.LeakDetectionThreshold, 0)
	}

	sec := c.Security
	r.limit("security.max_connections_per_client", sec.MaxConnectionsPerClient, 0)
	r.limit("security.connection_rate_limit", sec.ConnectionRateLimit, 0)
	r.limit("security.blacklist_threshold", sec.BlacklistThreshold, 0)
	r.limit("security.max_artifact_bytes", sec.MaxArtifactBytes, 0)
	r.limit("security.max_metadata_bytes", sec.MaxMetadataBytes, 0)

	r.limit("server.max_workspaces", srv.MaxWorkspaces, 0)
	r.limit("server.workspace_idle_timeout", srv.WorkspaceIdleTimeout, 0)
	r.limit("server.circuit_breaker_threshold", srv.CircuitBreakerThreshold, 0)
	r.limit("server.circuit_breaker_cooldown", srv.CircuitBreakerCooldown, 0)
	r.limit("server.roots_timeout", srv.RootsTimeout, 0)
	r.limit("server.sqlite_busy_timeout", srv.SQLiteBusyTimeout, 0)
	if srv.LogLevel != "" {
		var lvl slog.Level
		if err := lvl.UnmarshalText([]byte(srv.LogLevel)); err != nil {
			r.add("server.log_level", srv.LogLevel, `must be one of "debug", "info", "warn", "error"`)
		}
	}
	for _, n := range srv.Toolsets {
		if !slices.Contains(append(ToolsetNames(), "all", "default"), n) {
			r.add("server.toolsets", n, "must name toolsets among "+strings.Join(append(ToolsetNames(), "all", "default"), ", "))
		}
	}

	b := c.Backends
	r.serverURL("backends.chroma_url", b.ChromaURL, "http", "https")
	r.serverURL("backends.neo4j_uri", b.Neo4jURI, "neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc")
	r.limit("backends.chroma_start_timeout", b.ChromaStartTimeout, 0)
	r.limit("backends.neo4j_start_timeout", b.Neo4jStartTimeout, 0)
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
	case "", "lexical", "hash", "local", "openai", "ollama", "default": // hash: the old name of lexical
	default:
		r.add("embeddings.provider", e.Provider, `must be one of "" (none: callers send vectors), "lexical", "local", "openai", "ollama", "default"`)
	}
	if e.Command != "" && !filepath.IsAbs(e.Command) {
		r.add("embeddings.command", e.Command, "must be an absolute path to the python that `mcp-task-orchestrator embedder install` prints")
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
	r.limit("embeddings.dimensions", e.Dimensions, 0)
	r.limit("embeddings.timeout", e.Timeout, 0)

	r.limit("tasks.lease_seconds", c.Tasks.LeaseSeconds, 0)
	r.limit("tasks.history_limit", c.Tasks.HistoryLimit, 0)
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
