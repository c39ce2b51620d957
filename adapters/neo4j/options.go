package neo4j

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// Mode is how the project reaches Neo4j.
type Mode string

const (
	ModeManaged Mode = "managed" // a Neo4j per project, data under .task_orchestrator/databases/neo4j
	ModeShared  Mode = "shared"  // NEO4J_URI: nodes carry the project id
	ModeNone    Mode = "none"
)

// Options configure one project's graph store.
type Options struct {
	Workspace string
	Layout    workspace.Layout
	Settings  workspace.PoolSettings
	Backends  workspace.Backends
	// Breaker is how many failed connectivity checks in a row open the circuit
	// breaker (0 = the pool's default, 5); Cooldown how long it then fails fast.
	Breaker      int
	Cooldown     time.Duration
	OnBreaker    func(pooling.BreakerEvent) // the pool's breaker changes (pooling.Config.OnBreaker)
	QueryTimeout time.Duration              // 0 = 30s; bounds every transaction
	MaxRows      int                        // 0 = 1000; rows one Query or Write returns
	MaxBytes     int                        // 0 = 1 MiB; approximate JSON size of those rows
	Logger       *slog.Logger
}

const (
	defaultQueryTimeout = 30 * time.Second
	defaultMaxRows      = 1000
	defaultMaxBytes     = 1 << 20
)

func (o Options) root() string {
	if o.Layout.Root != "" {
		return o.Layout.Root
	}
	return o.Workspace
}

func (o Options) dataDir() string { return filepath.Join(o.Layout.Databases, workspace.DatabaseNeo4j) }

func (o Options) logFile() string { return filepath.Join(o.Layout.Logs, "neo4j.log") }

func (o Options) queryTimeout() time.Duration {
	if o.QueryTimeout > 0 {
		return o.QueryTimeout
	}
	return defaultQueryTimeout
}

func (o Options) maxRows() int {
	if o.MaxRows > 0 {
		return o.MaxRows
	}
	return defaultMaxRows
}

func (o Options) maxBytes() int {
	if o.MaxBytes > 0 {
		return o.MaxBytes
	}
	return defaultMaxBytes
}

// dedicated reports whether the shared server is dedicated to this project:
// its root (symlinks resolved) is listed in backends.neo4j_dedicated_projects.
func (o Options) dedicated() bool {
	root := realPath(o.root())
	return slices.ContainsFunc(o.Backends.Neo4jDedicatedProjects, func(p string) bool {
		return strings.TrimSpace(p) != "" && realPath(p) == root
	})
}

func realPath(p string) string {
	p = filepath.Clean(p)
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

// ProjectID is the value of _project on this project's nodes on a shared
// server: the first 24 hex digits of SHA-256 of the project root (symlinks
// resolved), so it is stable across runs and two roots never share one.
func ProjectID(root string) string {
	sum := sha256.Sum256([]byte(realPath(root)))
	return hex.EncodeToString(sum[:])[:24]
}

// msgNotConfigured is what Open answers when there is no way to reach Neo4j.
const msgNotConfigured = "the graph tools are not configured: set NEO4J_URI (and NEO4J_USERNAME/NEO4J_PASSWORD) " +
	"to a Neo4j 5 server, or configure backends.neo4j_command in the global config to run one per project"

// msgForbiddenRaw is why raw Cypher is refused on a shared server.
const msgForbiddenRaw = "raw Cypher cannot be confined to one project on a shared Neo4j server; list this project in " +
	"backends.neo4j_dedicated_projects in the global config if the server is dedicated to it"

// command checks the managed launch command (global config only): its first
// element must be an executable given by absolute path, and {port} must
// appear, since the server has to bind the port it is given.
func (o Options) command() ([]string, error) {
	argv := o.Backends.Neo4jCommand
	if len(argv) == 0 {
		return nil, fmt.Errorf("%s", msgNotConfigured)
	}
	exe := argv[0]
	if !filepath.IsAbs(exe) {
		return nil, fmt.Errorf("backends.neo4j_command[0] %q is not an absolute path: give the full path of the executable in the global config", exe)
	}
	fi, err := os.Stat(exe)
	if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		why := "is not an executable file"
		if err != nil {
			why = "cannot be found"
		}
		return nil, fmt.Errorf("backends.neo4j_command[0] %s %s: fix the path in the global config", exe, why)
	}
	if !slices.ContainsFunc(argv, func(a string) bool { return strings.Contains(a, "{port}") }) {
		return nil, fmt.Errorf("backends.neo4j_command must contain the {port} placeholder: the server has to listen for Bolt on 127.0.0.1:{port}")
	}
	return argv, nil
}

// Resolve says which mode Options lead to and why, in one line, without
// starting or contacting anything.
func Resolve(opts Options) (Mode, string) {
	if u := strings.TrimSpace(opts.Backends.Neo4jURI); u != "" {
		db := opts.Backends.Neo4jDatabase
		if db == "" {
			db = "the server's default"
		}
		raw := "off (list this project in backends.neo4j_dedicated_projects to allow it)"
		if opts.dedicated() {
			raw = "allowed (the server is dedicated to this project)"
		}
		return ModeShared, fmt.Sprintf("NEO4J_URI is set: a shared Neo4j at %s, database %s; this project's nodes carry _project %s; "+
			"raw Cypher %s", sanitizeURI(u), db, ProjectID(opts.root()), raw)
	}
	if len(opts.Backends.Neo4jCommand) == 0 {
		return ModeNone, msgNotConfigured
	}
	if _, err := opts.command(); err != nil {
		return ModeNone, err.Error()
	}
	return ModeManaged, fmt.Sprintf("backends.neo4j_command (%s): a Neo4j server is started for this project on first use, "+
		"bound to 127.0.0.1, data in %s", filepath.Base(opts.Backends.Neo4jCommand[0]), opts.dataDir())
}

// sanitizeURI drops userinfo, query and fragment from a URI for display.
func sanitizeURI(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return workspace.Redact(raw)
	}
	u.User = nil
	u.RawQuery, u.Fragment = "", ""
	return u.String()
}
