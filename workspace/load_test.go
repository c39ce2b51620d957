package workspace_test

import (
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// globalFile writes a global config under a fake XDG_CONFIG_HOME and returns the env for it.
func globalFile(t *testing.T, content string, extra map[string]string) (path string, getenv func(string) string) {
	t.Helper()
	xdg := tempDir(t)
	path = filepath.Join(xdg, "task-orchestrator", "config.json")
	writeFile(t, path, content)
	kv := map[string]string{"XDG_CONFIG_HOME": xdg}
	for k, v := range extra {
		kv[k] = v
	}
	return path, env(kv)
}

// configFixture is the text of a sample config under testdata/configs/
// (good/ or bad/; its README says what each shows).
func configFixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "configs", filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// projectLayout creates a project with .task_orchestrator and, if content != "", its config file.
func projectLayout(t testing.TB, content string) workspace.Layout {
	t.Helper()
	l, err := workspace.Ensure(tempDir(t))
	if err != nil {
		t.Fatal(err)
	}
	if content != "" {
		writeFile(t, filepath.Join(l.Configs, "config.json"), content)
	}
	return l
}

func violationPaths(t *testing.T, err error) []string {
	t.Helper()
	var ve *workspace.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error = %v, want a *ValidationError", err)
	}
	if !errors.Is(err, workspace.ErrInvalidConfig) {
		t.Fatal("ValidationError does not match ErrInvalidConfig")
	}
	var paths []string
	for _, v := range ve.Violations {
		paths = append(paths, v.Path)
	}
	return paths
}

func TestDefaultsAreValid(t *testing.T) {
	if err := workspace.Defaults().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigPrecedenceIsDefaultsThenGlobalThenEnvThenProject(t *testing.T) {
	path, getenv := globalFile(t, configFixture(t, "good/global-precedence.json"), map[string]string{"TASK_ORCHESTRATOR_MAX_WORKSPACES": "9"})
	global, files, err := workspace.LoadGlobal(workspace.LoadOptions{Env: getenv})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(files, []string{path}) {
		t.Fatalf("files read = %v, want [%s]", files, path)
	}
	l := projectLayout(t, configFixture(t, "good/project-vector-pool.json"))
	cfg, projFile, err := workspace.ApplyProject(global, l)
	if err != nil {
		t.Fatal(err)
	}
	if projFile != filepath.Join(l.Configs, "config.json") {
		t.Fatalf("project file = %q", projFile)
	}
	def := workspace.Defaults()
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"graph.max_connections (default)", cfg.DatabasePools.Graph.MaxConnections, def.DatabasePools.Graph.MaxConnections},
		{"operational.max_connections (global)", cfg.DatabasePools.Operational.MaxConnections, 4},
		{"operational.min_connections (default kept beside a global key)", cfg.DatabasePools.Operational.MinConnections, def.DatabasePools.Operational.MinConnections},
		{"server.roots_timeout (global)", cfg.Server.RootsTimeout, workspace.Seconds(7)},
		{"server.max_workspaces (env over global)", cfg.Server.MaxWorkspaces, 9},
		{"vector.max_connections (project over global)", cfg.DatabasePools.Vector.MaxConnections, 12},
		{"vector.min_connections (global kept beside a project key)", cfg.DatabasePools.Vector.MinConnections, 2},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestLoadGlobalFindsTheDefaultFile(t *testing.T) {
	home := tempDir(t)
	viaHome := filepath.Join(home, ".config", "task-orchestrator", "config.json")
	writeFile(t, viaHome, `{"server": {"max_workspaces": 2}}`)
	cfg, files, err := workspace.LoadGlobal(workspace.LoadOptions{Env: env(map[string]string{"HOME": home})})
	if err != nil || cfg.Server.MaxWorkspaces != 2 || !slices.Equal(files, []string{viaHome}) {
		t.Fatalf("via HOME: max_workspaces %d, files %v, err %v", cfg.Server.MaxWorkspaces, files, err)
	}
	// A relative XDG_CONFIG_HOME is ignored, as the XDG spec says.
	_, files, err = workspace.LoadGlobal(workspace.LoadOptions{Env: env(map[string]string{"HOME": home, "XDG_CONFIG_HOME": "rel"})})
	if err != nil || !slices.Equal(files, []string{viaHome}) {
		t.Fatalf("relative XDG: files %v, err %v", files, err)
	}
	path, getenv := globalFile(t, `{"server": {"max_workspaces": 5}}`, map[string]string{"HOME": home})
	cfg, files, err = workspace.LoadGlobal(workspace.LoadOptions{Env: getenv})
	if err != nil || cfg.Server.MaxWorkspaces != 5 || !slices.Equal(files, []string{path}) {
		t.Fatalf("via XDG_CONFIG_HOME: max_workspaces %d, files %v, err %v", cfg.Server.MaxWorkspaces, files, err)
	}
}

func TestLoadGlobalMissingDefaultFileIsFineButMissingExplicitFileIsAnError(t *testing.T) {
	noFile := env(map[string]string{"XDG_CONFIG_HOME": tempDir(t)})
	cfg, files, err := workspace.LoadGlobal(workspace.LoadOptions{Env: noFile})
	if err != nil || len(files) != 0 || !reflect.DeepEqual(cfg.Server, workspace.Defaults().Server) {
		t.Fatalf("no default file: files %v, err %v", files, err)
	}
	missing := filepath.Join(tempDir(t), "nope.json")
	_, _, err = workspace.LoadGlobal(workspace.LoadOptions{GlobalPath: missing, Env: noFile})
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "--config") {
		t.Fatalf("missing --config file: error = %v, want fs.ErrNotExist naming the file and --config", err)
	}
}

func TestValidationErrorListsEveryViolationOnePerLine(t *testing.T) {
	path, getenv := globalFile(t, configFixture(t, "bad/global-three-violations.json"), nil)
	_, _, err := workspace.LoadGlobal(workspace.LoadOptions{Env: getenv})
	got := violationPaths(t, err)
	want := []string{"database_pools.vector.max_connections", "database_pools.graph.min_connections", "database_pools.graph.pool_timeout"}
	if !slices.Equal(got, want) {
		t.Fatalf("violations = %v, want %v", got, want)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 3 {
		t.Fatalf("Error() has %d lines, want 3:\n%s", len(lines), err)
	}
	for i, line := range lines {
		if !strings.HasPrefix(line, path+": "+want[i]) {
			t.Fatalf("line %q should start with the file and %s", line, want[i])
		}
	}
	if !strings.Contains(lines[0], "= 0: must be between 1 and 32 (the ceiling server.max_project_connections sets in the global config) (line 2, column 33)") {
		t.Fatalf("line %q should give the value and the rule", lines[0])
	}
}

func TestValidateChecksEveryRule(t *testing.T) {
	tests := []struct {
		path   string
		mutate func(*workspace.Config)
	}{
		{"database_pools.operational.min_connections", func(c *workspace.Config) { c.DatabasePools.Operational.MinConnections = 9 }}, // > max 8
		{"database_pools.operational.min_connections", func(c *workspace.Config) { c.DatabasePools.Operational.MinConnections = -1 }},
		{"database_pools.vector.max_connections", func(c *workspace.Config) { c.DatabasePools.Vector.MaxConnections = 1001 }},
		{"database_pools.vector.max_overflow", func(c *workspace.Config) { c.DatabasePools.Vector.MaxOverflow = -1 }},
		{"database_pools.vector.max_overflow", func(c *workspace.Config) { c.DatabasePools.Vector.MaxOverflow = 1001 }},
		{"database_pools.graph.pool_timeout", func(c *workspace.Config) { c.DatabasePools.Graph.PoolTimeout = -1 }},
		{"database_pools.graph.pool_recycle", func(c *workspace.Config) { c.DatabasePools.Graph.PoolRecycle = -1 }},
		{"database_pools.graph.idle_timeout", func(c *workspace.Config) { c.DatabasePools.Graph.IdleTimeout = -0.5 }},
		{"database_pools.graph.health_check_interval", func(c *workspace.Config) { c.DatabasePools.Graph.HealthCheckInterval = -1 }},
		{"database_pools.graph.leak_detection_threshold", func(c *workspace.Config) { c.DatabasePools.Graph.LeakDetectionThreshold = -1 }},
		{"security.max_connections_per_client", func(c *workspace.Config) { c.Security.MaxConnectionsPerClient = -1 }},
		{"security.connection_rate_limit", func(c *workspace.Config) { c.Security.ConnectionRateLimit = -1 }},
		{"security.blacklist_threshold", func(c *workspace.Config) { c.Security.BlacklistThreshold = -1 }},
		{"security.max_metadata_bytes", func(c *workspace.Config) { c.Security.MaxMetadataBytes = -1 }},
		{"security.max_artifact_bytes", func(c *workspace.Config) { c.Security.MaxArtifactBytes = 0 }},
		{"security.max_artifact_bytes", func(c *workspace.Config) { c.Security.MaxArtifactBytes = 1<<30 + 1 }},
		{"server.max_workspaces", func(c *workspace.Config) { c.Server.MaxWorkspaces = 0 }},
		{"server.workspace_idle_timeout", func(c *workspace.Config) { c.Server.WorkspaceIdleTimeout = -1 }},
		{"server.circuit_breaker_threshold", func(c *workspace.Config) { c.Server.CircuitBreakerThreshold = 0 }},
		{"server.circuit_breaker_cooldown", func(c *workspace.Config) { c.Server.CircuitBreakerCooldown = 0 }},
		{"server.roots_timeout", func(c *workspace.Config) { c.Server.RootsTimeout = 0 }},
		{"server.sqlite_busy_timeout", func(c *workspace.Config) { c.Server.SQLiteBusyTimeout = -1 }},
		{"server.log_level", func(c *workspace.Config) { c.Server.LogLevel = "chatty" }},
		// Floors and ceilings (issue 11): no interval under a second, nothing unbounded.
		{"database_pools.graph.health_check_interval", func(c *workspace.Config) { c.DatabasePools.Graph.HealthCheckInterval = 1e-9 }},
		{"database_pools.graph.health_check_interval", func(c *workspace.Config) { c.DatabasePools.Graph.HealthCheckInterval = 86401 }},
		{"database_pools.graph.pool_timeout", func(c *workspace.Config) { c.DatabasePools.Graph.PoolTimeout = 0.5 }},
		{"database_pools.graph.pool_timeout", func(c *workspace.Config) { c.DatabasePools.Graph.PoolTimeout = 1e300 }},
		{"database_pools.graph.pool_recycle", func(c *workspace.Config) { c.DatabasePools.Graph.PoolRecycle = 0.1 }},
		{"database_pools.graph.idle_timeout", func(c *workspace.Config) { c.DatabasePools.Graph.IdleTimeout = workspace.Seconds(math.Inf(1)) }},
		{"database_pools.graph.leak_detection_threshold", func(c *workspace.Config) {
			c.DatabasePools.Graph.LeakDetectionThreshold = workspace.Seconds(math.NaN())
		}},
		{"database_pools.vector.max_connections", func(c *workspace.Config) { c.DatabasePools.Vector.MaxConnections = 33 }},
		{"database_pools.vector.max_overflow", func(c *workspace.Config) { c.DatabasePools.Vector.MaxOverflow = 23 }}, // 10 + 23 > 32
		{"server.max_project_connections", func(c *workspace.Config) { c.Server.MaxProjectConnections = 0 }},
		{"server.max_project_connections", func(c *workspace.Config) { c.Server.MaxProjectConnections = 1001 }},
		{"server.max_workspaces", func(c *workspace.Config) { c.Server.MaxWorkspaces = 1_000_000 }},
		{"server.roots_timeout", func(c *workspace.Config) { c.Server.RootsTimeout = 0.2 }},
		{"server.circuit_breaker_cooldown", func(c *workspace.Config) { c.Server.CircuitBreakerCooldown = 1e9 }},
		{"server.sqlite_busy_timeout", func(c *workspace.Config) { c.Server.SQLiteBusyTimeout = 0.001 }},
		{"backends.chroma_start_timeout", func(c *workspace.Config) { c.Backends.ChromaStartTimeout = 0.001 }},
		{"embeddings.timeout", func(c *workspace.Config) { c.Embeddings.Timeout = 1e-9 }},
		{"security.max_metadata_bytes", func(c *workspace.Config) { c.Security.MaxMetadataBytes = 1 << 30 }},
		{"backends.chroma_url", func(c *workspace.Config) { c.Backends.ChromaURL = "ftp://chroma:8000" }},
		{"backends.neo4j_uri", func(c *workspace.Config) { c.Backends.Neo4jURI = "http://neo4j:7474" }},
		{"tasks.lease_seconds", func(c *workspace.Config) { c.Tasks.LeaseSeconds = 0 }},
		{"tasks.lease_seconds", func(c *workspace.Config) { c.Tasks.LeaseSeconds = 86401 }},
		{"tasks.history_limit", func(c *workspace.Config) { c.Tasks.HistoryLimit = 0 }},
		{"tasks.history_limit", func(c *workspace.Config) { c.Tasks.HistoryLimit = 100_001 }},
	}
	for _, tt := range tests {
		c := workspace.Defaults()
		tt.mutate(&c)
		got := violationPaths(t, c.Validate())
		if !slices.Equal(got, []string{tt.path}) {
			t.Errorf("violations = %v, want exactly [%s]", got, tt.path)
		}
	}
	// The edges are allowed.
	c := workspace.Defaults()
	c.Server.MaxProjectConnections = 1000
	c.DatabasePools.Vector = workspace.PoolSettings{MinConnections: 1000, MaxConnections: 1000, MaxOverflow: 0, PoolTimeout: 1}
	c.DatabasePools.Graph = workspace.PoolSettings{MinConnections: 0, MaxConnections: 1, MaxOverflow: 999, PoolTimeout: 3600,
		PoolRecycle: 86400, IdleTimeout: 1, HealthCheckInterval: 86400, LeakDetectionThreshold: 1}
	c.Security.MaxArtifactBytes = 1 << 30
	c.Server.LogLevel = "WARN"
	c.Server.WorkspaceIdleTimeout, c.Server.RootsTimeout, c.Server.SQLiteBusyTimeout = 7*86400, 300, 0
	c.Backends = workspace.Backends{ChromaURL: "https://chroma.example:8000", Neo4jURI: "neo4j+s://db.example:7687", ChromaStartTimeout: 1, Neo4jStartTimeout: 3600}
	c.Tasks = workspace.Tasks{LeaseSeconds: 86400, HistoryLimit: 1}
	if err := c.Validate(); err != nil {
		t.Fatalf("edge values rejected: %v", err)
	}
	c.Tasks = workspace.Tasks{LeaseSeconds: 1, HistoryLimit: 100_000}
	if err := c.Validate(); err != nil {
		t.Fatalf("edge values rejected: %v", err)
	}
}

func TestUnknownKeyIsNamedWithItsPathPositionAndASuggestion(t *testing.T) {
	path, getenv := globalFile(t, configFixture(t, "bad/global-unknown-keys.json"), nil)
	_, _, err := workspace.LoadGlobal(workspace.LoadOptions{Env: getenv})
	got := violationPaths(t, err)
	want := []string{"database_pools.vector.max_conections", "database_pools.vector.Max_Overflow", "colour"}
	if !slices.Equal(got, want) {
		t.Fatalf("violations = %v, want %v", got, want)
	}
	msg := err.Error()
	for _, s := range []string{
		path + `: database_pools.vector.max_conections: unknown key; did you mean "max_connections"? (line 3, column 16)`,
		`did you mean "max_overflow"?`,
		"colour: unknown key; known keys here: database_pools, security, server, backends, embeddings, tasks (line 5, column 3)",
	} {
		if !strings.Contains(msg, s) {
			t.Fatalf("error\n%s\ndoes not contain\n%s", msg, s)
		}
	}
}

func TestSyntaxErrorGivesFileLineAndColumn(t *testing.T) {
	path, getenv := globalFile(t, configFixture(t, "bad/global-double-comma.json"), nil)
	_, _, err := workspace.LoadGlobal(workspace.LoadOptions{Env: getenv})
	var se *workspace.ConfigSyntaxError
	if !errors.As(err, &se) || !errors.Is(err, workspace.ErrInvalidConfig) {
		t.Fatalf("error = %v, want a *ConfigSyntaxError", err)
	}
	if se.File != path || se.Line != 3 || se.Column != 25 {
		t.Fatalf("syntax error at %s:%d:%d, want %s:3:25", se.File, se.Line, se.Column, path)
	}
	if !strings.Contains(err.Error(), path+": line 3, column 25: ") {
		t.Fatalf("message %q should name the file, line and column", err)
	}
	// Truncated file; column counts characters, not bytes.
	_, getenv = globalFile(t, configFixture(t, "bad/global-truncated.json"), nil)
	_, _, err = workspace.LoadGlobal(workspace.LoadOptions{Env: getenv})
	if !errors.As(err, &se) || se.Line != 1 || se.Column != 49 {
		t.Fatalf("error = %v, want line 1 column 49", err)
	}
}

func TestMistypedAndRepeatedValuesAreViolations(t *testing.T) {
	_, getenv := globalFile(t, configFixture(t, "bad/global-mistyped-and-repeated.json"), nil)
	_, _, err := workspace.LoadGlobal(workspace.LoadOptions{Env: getenv})
	got := violationPaths(t, err)
	want := []string{"database_pools.vector.max_connections", "database_pools.vector.enabled", "database_pools.vector.pool_timeout",
		"database_pools.vector.min_connections", "database_pools.graph", "server.max_workspaces", "backends.chroma_url"}
	if !slices.Equal(got, want) {
		t.Fatalf("violations = %v, want %v", got, want)
	}
	for _, s := range []string{"must be a whole number, not a string", "must be true or false, not a string", "must be a number of seconds, not a boolean",
		"must be a whole number, not the number 1.5", "must be an object, not the number 3", "appears more than once", "must be a string, not the number 8000"} {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("error\n%s\ndoes not contain %q", err, s)
		}
	}
}

func TestTopLevelMustBeAnObjectAndEmptyFileSetsNothing(t *testing.T) {
	_, getenv := globalFile(t, `[1, 2]`, nil)
	_, _, err := workspace.LoadGlobal(workspace.LoadOptions{Env: getenv})
	if got := violationPaths(t, err); !slices.Equal(got, []string{"(top level)"}) {
		t.Fatalf("violations = %v", got)
	}
	_, getenv = globalFile(t, " \n", nil)
	cfg, _, err := workspace.LoadGlobal(workspace.LoadOptions{Env: getenv})
	if err != nil || !reflect.DeepEqual(cfg.Server, workspace.Defaults().Server) {
		t.Fatalf("empty file: %v", err)
	}
}

func TestEnvironmentSetsBackendsAndReportsBadValuesByName(t *testing.T) {
	_, getenv := globalFile(t, `{"backends": {"chroma_url": "http://from-file:8000"}}`, map[string]string{
		"CHROMA_URL": "http://chroma:8000", "NEO4J_URI": "neo4j://graph:7687", "NEO4J_USERNAME": "neo4j", "NEO4J_PASSWORD": "hunter2",
		"TASK_ORCHESTRATOR_LOG_LEVEL": "debug",
	})
	cfg, _, err := workspace.LoadGlobal(workspace.LoadOptions{Env: getenv})
	if err != nil {
		t.Fatal(err)
	}
	want := workspace.Backends{ChromaURL: "http://chroma:8000", Neo4jURI: "neo4j://graph:7687", Neo4jUsername: "neo4j", Neo4jPassword: "hunter2",
		ChromaStartTimeout: workspace.Defaults().Backends.ChromaStartTimeout, Neo4jStartTimeout: workspace.Defaults().Backends.Neo4jStartTimeout}
	if !reflect.DeepEqual(cfg.Backends, want) || cfg.Server.LogLevel != "debug" {
		t.Fatalf("backends %+v, log level %q; want %+v and debug", cfg.Backends, cfg.Server.LogLevel, want)
	}

	_, getenv = globalFile(t, `{}`, map[string]string{"TASK_ORCHESTRATOR_MAX_WORKSPACES": "lots", "TASK_ORCHESTRATOR_LOG_LEVEL": "loud"})
	_, _, err = workspace.LoadGlobal(workspace.LoadOptions{Env: getenv})
	if got := violationPaths(t, err); !slices.Equal(got, []string{"server.max_workspaces", "server.log_level"}) {
		t.Fatalf("violations = %v", got)
	}
	for _, s := range []string{"$TASK_ORCHESTRATOR_MAX_WORKSPACES must be a whole number", "(set by $TASK_ORCHESTRATOR_LOG_LEVEL)"} {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("error %q does not contain %q", err, s)
		}
	}
}

func TestValidationNeverEchoesACredentialInAURL(t *testing.T) {
	_, getenv := globalFile(t, `{}`, map[string]string{"NEO4J_URI": "http://neo4j:hunter2@graph:7474", "CHROMA_URL": "http://u:hunter2@[bad"})
	_, _, err := workspace.LoadGlobal(workspace.LoadOptions{Env: getenv})
	if got := violationPaths(t, err); !slices.Equal(got, []string{"backends.chroma_url", "backends.neo4j_uri"}) {
		t.Fatalf("violations = %v", got)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error leaks the password: %s", err)
	}
}

func TestProjectConfigMayOnlyTunePools(t *testing.T) {
	l := projectLayout(t, configFixture(t, "bad/project-forbidden-keys.json"))
	_, file, err := workspace.ApplyProject(workspace.Defaults(), l)
	if file != filepath.Join(l.Configs, "config.json") {
		t.Fatalf("file = %q", file)
	}
	got := violationPaths(t, err)
	want := []string{"backends", "server", "security", "command", "database_pools.vector.uri"}
	if !slices.Equal(got, want) {
		t.Fatalf("violations = %v, want %v", got, want)
	}
	msg := err.Error()
	if n := strings.Count(msg, "not allowed in a project config (set it in the global config or environment)"); n != 4 {
		t.Fatalf("%d refusals, want 4:\n%s", n, msg)
	}
	if strings.Contains(msg, "hunter2") || strings.Contains(msg, "evil") {
		t.Fatalf("error echoes the refused values:\n%s", msg)
	}
}

func TestProjectConfigCanTurnABackendOffWithoutChangingTheBase(t *testing.T) {
	on := true
	base := workspace.Defaults()
	base.DatabasePools.Graph.Enabled = &on
	l := projectLayout(t, configFixture(t, "good/project-graph-off.json"))
	cfg, _, err := workspace.ApplyProject(base, l)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DatabasePools.Graph.IsEnabled() {
		t.Fatal("project config did not turn the graph backend off")
	}
	if !base.DatabasePools.Graph.IsEnabled() || !on {
		t.Fatal("ApplyProject wrote through to the base config")
	}
}

func TestProjectConfigValuesAreValidated(t *testing.T) {
	l := projectLayout(t, configFixture(t, "bad/project-min-over-max.json"))
	_, _, err := workspace.ApplyProject(workspace.Defaults(), l)
	if got := violationPaths(t, err); !slices.Equal(got, []string{"database_pools.operational.min_connections"}) {
		t.Fatalf("violations = %v", got)
	}
	// Issue 11: the file is named relative to the project (the client may not know the root), with the key's line and column.
	want := ".task_orchestrator/configs/config.json: database_pools.operational.min_connections = 50: must be between 0 and 32 (the ceiling server.max_project_connections sets in the global config) (line 1, column 37)"
	if err.Error() != want {
		t.Fatalf("error\n%s\nwant\n%s", err, want)
	}
}

func TestProjectConfigMissingGivesTheBase(t *testing.T) {
	base := workspace.Defaults()
	base.DatabasePools.Vector.MaxConnections = 3
	cfg, file, err := workspace.ApplyProject(base, projectLayout(t, ""))
	if err != nil || file != "" || cfg.DatabasePools.Vector.MaxConnections != 3 {
		t.Fatalf("ApplyProject without a file = %d, %q, %v", cfg.DatabasePools.Vector.MaxConnections, file, err)
	}
}

// Issue 11 changed this rule: a symlinked project config is refused even when
// it points inside the project (it used to be followed when it stayed inside);
// the file is opened with O_NOFOLLOW, so nothing outside is ever read.
func TestProjectConfigSymlinkIsRefusedWhereverItPoints(t *testing.T) {
	outside := filepath.Join(tempDir(t), "elsewhere.json")
	writeFile(t, outside, `{"database_pools": {"vector": {"max_connections": 3}}}`)
	l := projectLayout(t, "")
	symlink(t, outside, filepath.Join(l.Configs, "config.json"))
	_, _, err := workspace.ApplyProject(workspace.Defaults(), l)
	want := ".task_orchestrator/configs/config.json: is a symbolic link; a project config must be a regular file"
	if !errors.Is(err, workspace.ErrConfigFileRefused) || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error = %v, want ErrConfigFileRefused starting %q", err, want)
	}

	l = projectLayout(t, "")
	inside := filepath.Join(l.Root, "orchestrator.json")
	writeFile(t, inside, `{"database_pools": {"vector": {"max_connections": 3}}}`)
	symlink(t, "../../orchestrator.json", filepath.Join(l.Configs, "config.json"))
	if _, _, err := workspace.ApplyProject(workspace.Defaults(), l); !errors.Is(err, workspace.ErrConfigFileRefused) || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("link inside the project: error = %v, want the same refusal", err)
	}
}

func TestConfigFilesOver1MiBAreRefused(t *testing.T) {
	big := `{"database_pools": {}}` + strings.Repeat(" ", workspace.MaxConfigBytes)
	l := projectLayout(t, big)
	_, _, err := workspace.ApplyProject(workspace.Defaults(), l)
	if !errors.Is(err, workspace.ErrConfigFileRefused) || !strings.Contains(err.Error(), "over the 64 KiB limit") {
		t.Fatalf("project: error = %v, want ErrConfigFileRefused", err)
	}
	_, getenv := globalFile(t, big, nil)
	if _, _, err := workspace.LoadGlobal(workspace.LoadOptions{Env: getenv}); !errors.Is(err, workspace.ErrConfigFileRefused) {
		t.Fatalf("global: error = %v, want ErrConfigFileRefused", err)
	}
}

func TestConfigPathThatIsAFolderIsRefused(t *testing.T) {
	dir := tempDir(t)
	_, _, err := workspace.LoadGlobal(workspace.LoadOptions{GlobalPath: dir, Env: env(nil)})
	if !errors.Is(err, workspace.ErrConfigFileRefused) {
		t.Fatalf("error = %v, want ErrConfigFileRefused", err)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
}

// tasks.lease_seconds and tasks.history_limit are read from the global file,
// refused out of range with the key's path and range, and never taken from
// a project's own file (an untrusted project must not hand itself day-long
// leases or unbounded history).
func TestTasksKeysComeFromTheGlobalFileOnly(t *testing.T) {
	c := workspace.Defaults()
	if c.Tasks.LeaseSeconds != 900 || c.Tasks.HistoryLimit != 1000 {
		t.Fatalf("defaults = %+v, want lease 900, history 1000", c.Tasks)
	}
	c.Tasks.LeaseSeconds = 0
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "tasks.lease_seconds = 0: must be between 1 and 86400 seconds") {
		t.Fatalf("lease 0: %v", err)
	}
	dir := t.TempDir()
	global := filepath.Join(dir, "config.json")
	if err := os.WriteFile(global, []byte(`{"tasks": {"lease_seconds": 60, "history_limit": 50}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := workspace.LoadGlobal(workspace.LoadOptions{GlobalPath: global, Env: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Tasks.LeaseSeconds != 60 || cfg.Tasks.HistoryLimit != 50 {
		t.Fatalf("tasks from the global file = %+v", cfg.Tasks)
	}
	l := workspace.LayoutFor(t.TempDir())
	if err := os.MkdirAll(l.Configs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(l.Configs, "config.json"), []byte(`{"tasks": {"lease_seconds": 86400}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = workspace.ApplyProject(cfg, l)
	if err == nil || !strings.Contains(err.Error(), "tasks: not allowed in a project config (set it in the global config or environment)") {
		t.Fatalf("a project file setting tasks: %v", err)
	}
}
