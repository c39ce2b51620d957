package workspace

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Seconds is a duration written in configuration files as a number of seconds
// (fractions allowed), the way the Python seed wrote them.
type Seconds float64

// Duration converts s to a time.Duration.
func (s Seconds) Duration() time.Duration { return time.Duration(float64(s) * float64(time.Second)) }

// PoolSettings is one pool's configuration, as written under
// database_pools.<name> in a config file. A pool freezes a copy when it is created.
type PoolSettings struct {
	// Enabled turns the backend off for the project when false (absent = on).
	Enabled *bool `json:"enabled,omitempty"`
	// MinConnections is how many warm connections are kept open (SQLite: readers; its single writer is always open).
	MinConnections int `json:"min_connections"`
	// MaxConnections is the most connections at once (SQLite: readers; Chroma: in-flight requests; Neo4j: sessions).
	MaxConnections int `json:"max_connections"`
	// MaxOverflow is how many extra connections may open beyond MaxConnections under load; they close on release.
	MaxOverflow int `json:"max_overflow"`
	// PoolPrePing checks a connection before handing it out (Chroma heartbeat, Neo4j connectivity, SQLite ping).
	PoolPrePing bool `json:"pool_pre_ping"`
	// PoolRecycle closes connections older than this (0 = never).
	PoolRecycle Seconds `json:"pool_recycle"`
	// PoolTimeout is how long a call waits for a free connection before a clear timeout error.
	PoolTimeout Seconds `json:"pool_timeout"`
	// PoolResetOnReturn rolls back anything a call left open when its connection comes back.
	PoolResetOnReturn bool `json:"pool_reset_on_return"`
	// PoolUseLIFO hands out the most recently used idle connection first (else the oldest).
	PoolUseLIFO bool `json:"pool_use_lifo"`
	// IdleTimeout closes idle connections after this long (never below MinConnections; 0 = never).
	IdleTimeout Seconds `json:"idle_timeout"`
	// HealthCheckInterval is how often the monitor pings idle connections, refills to MinConnections and evicts idle ones (0 = off).
	HealthCheckInterval Seconds `json:"health_check_interval"`
	// LeakDetectionThreshold logs a connection held longer than this, naming the tool that holds it (0 = off).
	LeakDetectionThreshold Seconds `json:"leak_detection_threshold"`
}

// IsEnabled reports whether the backend is turned on.
func (p PoolSettings) IsEnabled() bool { return p.Enabled == nil || *p.Enabled }

// DatabasePools holds the three pools' settings.
type DatabasePools struct {
	Operational PoolSettings `json:"operational"`
	Vector      PoolSettings `json:"vector"`
	Graph       PoolSettings `json:"graph"`
}

// Security holds the limits the seed called PoolSecurityConfig, and the
// limits on what one tool call may write.
type Security struct {
	// MaxConnectionsPerClient is how many tool calls one HTTP client may have in flight at once, across projects (0 = no limit).
	MaxConnectionsPerClient int `json:"max_connections_per_client"`
	// ConnectionRateLimit is each HTTP client's requests per minute (token bucket; HTTP 429 with Retry-After; 0 = no limit).
	ConnectionRateLimit int `json:"connection_rate_limit"`
	// BlacklistThreshold is how many rejected requests in a minute make an HTTP client refused for a cool-down (0 = never).
	BlacklistThreshold int `json:"blacklist_threshold"`
	// MaxArtifactBytes is the largest one artifact file may be, in bytes.
	MaxArtifactBytes int64 `json:"max_artifact_bytes"`
	// MaxMetadataBytes is the largest a task's metadata object may be, in bytes of JSON.
	MaxMetadataBytes int `json:"max_metadata_bytes"`
}

// Server holds settings for the process as a whole (global file, env and flags only).
type Server struct {
	// MaxWorkspaces bounds how many projects have open pools at once (beyond it, the least recently used project's pools close).
	MaxWorkspaces int `json:"max_workspaces"`
	// MaxProjectConnections is the most connections one pool of a project may open (max_connections + max_overflow, and min_connections); a project's own config cannot go above it.
	MaxProjectConnections int `json:"max_project_connections"`
	// WorkspaceIdleTimeout closes a project's pools after it has not been used for this long.
	WorkspaceIdleTimeout Seconds `json:"workspace_idle_timeout"`
	// CircuitBreakerThreshold is how many consecutive failures to connect trip the breaker.
	CircuitBreakerThreshold int `json:"circuit_breaker_threshold"`
	// CircuitBreakerCooldown is how long a tripped breaker fails fast before a trial call.
	CircuitBreakerCooldown Seconds `json:"circuit_breaker_cooldown"`
	// RootsTimeout bounds how long a tool call waits for the client's roots.
	RootsTimeout Seconds `json:"roots_timeout"`
	// SQLiteBusyTimeout is how long SQLite itself waits on a locked database file (its busy_timeout), for the rare lock the server does not queue.
	SQLiteBusyTimeout Seconds `json:"sqlite_busy_timeout"`
	// LogLevel is how much the server logs to stderr: "debug", "info", "warn" or "error" ("" = info); --log-level overrides it.
	LogLevel string `json:"log_level"`
	// Toolsets are the toolsets tools/list shows: tasks, coordination, ops, vector, graph, or "all"; empty (or "default") lists tasks, coordination and ops, and vector/graph only where Chroma/Neo4j is configured; "dynamic" lists tasks (and any named) plus toolset_enable, with which a client adds the others. --toolsets overrides it.
	Toolsets []string `json:"toolsets"`
}

// Backends says where the remote database servers are. Empty values mean
// "not configured" (a managed local server, or the backend stays off).
// Global file and environment only: a project file may never set these.
type Backends struct {
	// ChromaURL is a remote Chroma server shared by projects (one database per project).
	ChromaURL string `json:"chroma_url"`
	// ChromaToken is sent as a bearer token to a remote Chroma; prints as "****".
	ChromaToken Secret `json:"chroma_token"`
	// ChromaTenant is the tenant that holds the projects' databases on a remote Chroma ("" = default_tenant).
	ChromaTenant string `json:"chroma_tenant"`
	// ChromaCommand is the `chroma` executable for managed local servers ("" = look it up on PATH).
	ChromaCommand string `json:"chroma_command"`
	// ChromaStartTimeout bounds how long a managed Chroma may take to answer its heartbeat.
	ChromaStartTimeout Seconds `json:"chroma_start_timeout"`
	// Neo4jURI is a Neo4j server (bolt:// or neo4j:// for a cluster).
	Neo4jURI string `json:"neo4j_uri"`
	// Neo4jUsername is the user the server logs in as ("" = neo4j).
	Neo4jUsername string `json:"neo4j_username"`
	// Neo4jPassword is the password of backends.neo4j_username; logs, doctor and status show it as "****", never its value.
	Neo4jPassword Secret `json:"neo4j_password"`
	// Neo4jDatabase is the database on the server ("" = the server's default).
	Neo4jDatabase string `json:"neo4j_database"`
	// Neo4jDedicatedProjects lists project roots to which the shared Neo4j server is
	// dedicated: only they may run raw Cypher (graph_query, graph_write) on it.
	Neo4jDedicatedProjects []string `json:"neo4j_dedicated_projects"`
	// Neo4jCommand launches a managed Neo4j per project: the program and its arguments,
	// one list item each, with the placeholders {data_dir}, {port} and {password}. Empty = no managed Neo4j.
	Neo4jCommand []string `json:"neo4j_command"`
	// Neo4jStartTimeout bounds how long a managed Neo4j may take to accept Bolt connections.
	Neo4jStartTimeout Seconds `json:"neo4j_start_timeout"`
}

// Embeddings says how text becomes vectors for the vector tools. Global file and
// environment only. Provider "" means none: callers must send embeddings.
type Embeddings struct {
	// Provider is empty (none: callers send their own vectors), "lexical" (offline: shared words and word pieces make texts
	// near; not meaning), "local" (offline meaning: the all-MiniLM-L6-v2 model that mcp-task-orchestrator embedder install
	// sets up, run per project by the server), "openai" (any OpenAI-compatible endpoint, such as a local model server),
	// "ollama" or "default" (Chroma's built-in ONNX model, downloaded from the internet on first use). "hash" is the old name
	// of lexical and is read as lexical.
	Provider string `json:"provider"`
	// Model is the provider's model name.
	Model string `json:"model"`
	// BaseURL is the provider's endpoint (openai: .../v1, ollama: http://127.0.0.1:11434).
	BaseURL string `json:"base_url"`
	// APIKeyEnv names the environment variable that holds the API key (never the key itself).
	APIKeyEnv string `json:"api_key_env"`
	// Dimensions is the vector size for providers that let you choose it (lexical, openai; 0 = provider default, 384 for lexical).
	Dimensions int `json:"dimensions"`
	// Timeout bounds one embedding request.
	Timeout Seconds `json:"timeout"`
	// Command is the python of the offline semantic embedder for provider "local", an absolute path
	// ("" = the one `mcp-task-orchestrator embedder install` put in its default folder).
	Command string `json:"command"`
}

// Tasks holds the task rules that are the server's to set. Global file only.
type Tasks struct {
	// LeaseSeconds is the lease task_claim gives when the call passes no lease_seconds: the holder must heartbeat or write within it, or the task may be claimed by another agent.
	LeaseSeconds int `json:"lease_seconds"`
	// HistoryLimit is how many history events each task keeps (task_history); older ones are dropped first.
	HistoryLimit int `json:"history_limit"`
}

// Config is the merged configuration:
// defaults < global file < environment < project file (pool tuning and "enabled" only).
type Config struct {
	DatabasePools DatabasePools `json:"database_pools"`
	Security      Security      `json:"security"`
	Server        Server        `json:"server"`
	Backends      Backends      `json:"backends"`
	Embeddings    Embeddings    `json:"embeddings"`
	Tasks         Tasks         `json:"tasks"`
}

// Defaults of the tasks section (the task store uses the same figures when
// it is given none).
const (
	DefaultLeaseSeconds = 900
	DefaultHistoryLimit = 1000
)

// Defaults returns the configuration used when no file says otherwise.
func Defaults() Config {
	return Config{
		DatabasePools: DatabasePools{
			// SQLite: one writer plus readers; max_connections bounds the readers.
			Operational: PoolSettings{
				MinConnections: 1, MaxConnections: 8, MaxOverflow: 0,
				PoolPrePing: false, PoolRecycle: 3600, PoolTimeout: 30,
				PoolResetOnReturn: true, PoolUseLIFO: true, IdleTimeout: 300,
				HealthCheckInterval: 30, LeakDetectionThreshold: 60,
			},
			Vector: PoolSettings{
				MinConnections: 0, MaxConnections: 10, MaxOverflow: 5,
				PoolPrePing: true, PoolRecycle: 3600, PoolTimeout: 30,
				PoolResetOnReturn: false, PoolUseLIFO: true, IdleTimeout: 300,
				HealthCheckInterval: 30, LeakDetectionThreshold: 60,
			},
			Graph: PoolSettings{
				MinConnections: 0, MaxConnections: 10, MaxOverflow: 5,
				PoolPrePing: true, PoolRecycle: 3600, PoolTimeout: 30,
				PoolResetOnReturn: false, PoolUseLIFO: true, IdleTimeout: 300,
				HealthCheckInterval: 30, LeakDetectionThreshold: 60,
			},
		},
		Security: Security{
			MaxConnectionsPerClient: 8,
			ConnectionRateLimit:     600,
			BlacklistThreshold:      20,
			MaxArtifactBytes:        10 << 20,
			MaxMetadataBytes:        64 << 10,
		},
		Server: Server{
			MaxWorkspaces:           16,
			MaxProjectConnections:   32,
			WorkspaceIdleTimeout:    1800,
			CircuitBreakerThreshold: 5,
			CircuitBreakerCooldown:  5,
			RootsTimeout:            2,
			SQLiteBusyTimeout:       5,
		},
		Backends:   Backends{ChromaStartTimeout: 60, Neo4jStartTimeout: 180},
		Embeddings: Embeddings{Timeout: 30},
		Tasks:      Tasks{LeaseSeconds: DefaultLeaseSeconds, HistoryLimit: DefaultHistoryLimit},
	}
}

// ToolsetNames are the toolsets server.toolsets and --toolsets may name
// (besides "all" and "default").
func ToolsetNames() []string {
	return []string{"tasks", "coordination", "ops", "vector", "graph"}
}

// ChromaConfigured says whether the server-wide config says how to reach
// Chroma (a remote URL, or a managed server's command).
func ChromaConfigured(c Config) bool {
	return c.Backends.ChromaURL != "" || c.Backends.ChromaCommand != ""
}

// Neo4jConfigured says whether the server-wide config says how to reach Neo4j.
func Neo4jConfigured(c Config) bool {
	return c.Backends.Neo4jURI != "" || len(c.Backends.Neo4jCommand) > 0
}

// CheckToolsets returns a sentence naming key and the bad value when a
// toolset name is unknown, or nil.
func CheckToolsets(key string, names []string) error {
	valid := append(ToolsetNames(), "all", "default", "dynamic")
	for _, n := range names {
		if !slices.Contains(valid, n) {
			return fmt.Errorf("%s names the toolset %q, which does not exist; use some of %s", key, n, strings.Join(valid, ", "))
		}
	}
	return nil
}
