package chroma

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// Mode is how the project reaches Chroma.
type Mode string

const (
	ModeManaged Mode = "managed" // a local server started for the project, data in .task_orchestrator/databases/chroma
	ModeRemote  Mode = "remote"  // CHROMA_URL: one database per project on a shared server
	ModeNone    Mode = "none"
)

// DefaultTenant holds the projects' databases on a remote server unless
// Backends.ChromaTenant says otherwise.
const DefaultTenant = "default_tenant"

// managedDatabase is the database a managed (per-project) server uses: the
// whole server belongs to the project.
const managedDatabase = "default_database"

// Options configure one project's vector store.
type Options struct {
	Workspace  string
	Layout     workspace.Layout
	Settings   workspace.PoolSettings
	Backends   workspace.Backends
	Embeddings workspace.Embeddings
	Breaker    int
	Cooldown   float64                    // seconds
	OnBreaker  func(pooling.BreakerEvent) // the pool's breaker changes (pooling.Config.OnBreaker)
	Logger     *slog.Logger
	// LookPath finds the chroma executable when Backends.ChromaCommand is empty (nil = exec.LookPath).
	LookPath func(string) (string, error)

	// maxBatch, when > 0, caps the server's pre-flight max_batch_size (tests).
	maxBatch int
	// maxResponseBytes, when > 0, replaces defaultMaxResponseBytes (tests).
	maxResponseBytes int64
}

func (o Options) lookPath(file string) (string, error) {
	if o.LookPath != nil {
		return o.LookPath(file)
	}
	return exec.LookPath(file)
}

func (o Options) root() string {
	if o.Layout.Root != "" {
		return o.Layout.Root
	}
	return o.Workspace
}

func (o Options) tenant() string {
	if t := strings.TrimSpace(o.Backends.ChromaTenant); t != "" {
		return t
	}
	return DefaultTenant
}

func (o Options) dataDir() string { return filepath.Join(o.Layout.Databases, workspace.DatabaseChroma) }

func (o Options) cooldown() time.Duration {
	return time.Duration(o.Cooldown * float64(time.Second))
}

// command finds the chroma executable for managed mode: Backends.ChromaCommand
// (global config or flag only) or `chroma` on PATH. how says which it was.
func (o Options) command() (path, how string, err error) {
	if c := strings.TrimSpace(o.Backends.ChromaCommand); c != "" {
		p, err := o.lookPath(c)
		if err != nil {
			return "", "", fmt.Errorf("chroma_command %q cannot be run (%v): fix the path in the global config, "+
				"or install Chroma with `pip install chromadb`", c, err)
		}
		return absPath(p), "chroma_command", nil
	}
	p, err := o.lookPath("chroma")
	if err != nil {
		return "", "", err
	}
	return absPath(p), "`chroma` found on PATH", nil
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// Resolve says which mode Options lead to and why, without starting or contacting anything.
func Resolve(opts Options) (Mode, string) {
	if u := strings.TrimSpace(opts.Backends.ChromaURL); u != "" {
		return ModeRemote, fmt.Sprintf("CHROMA_URL is set: a shared Chroma at %s, this project's database %s in tenant %s",
			sanitizeURL(u), DatabaseName(opts.root()), opts.tenant())
	}
	cmd, how, err := opts.command()
	if err != nil {
		if strings.TrimSpace(opts.Backends.ChromaCommand) != "" {
			return ModeNone, err.Error()
		}
		return ModeNone, msgNotConfigured
	}
	return ModeManaged, fmt.Sprintf("%s (%s): a local Chroma server is started for this project on first use, data in %s",
		how, cmd, opts.dataDir())
}

// DatabaseName is the Chroma database that holds a project's collections on a
// shared server: "proj_" + 24 hex digits of SHA-256 of the project root (so two
// roots never share one) + "_" + the root's base name made safe (so a person
// listing databases can tell them apart). Chroma's rule for database names is
// its rule for collection names: 3-512 characters from [a-zA-Z0-9._-],
// starting and ending with a letter or digit.
func DatabaseName(root string) string {
	sum := sha256.Sum256([]byte(filepath.Clean(root)))
	name := "proj_" + hex.EncodeToString(sum[:])[:24]
	if base := safeBase(filepath.Base(root)); base != "" {
		name += "_" + base
	}
	return name
}

// safeBase keeps a readable, valid tail for a database name: characters
// outside [a-zA-Z0-9._-] become '-', runs of dots shrink to one, at most 32
// characters, ending with a letter or digit ("" when nothing is left).
func safeBase(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 128 && (isAlnum(byte(r)) || r == '_' || r == '-'):
			b.WriteRune(r)
		case r == '.' && !strings.HasSuffix(b.String(), "."):
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	out := b.String()
	if len(out) > 32 {
		out = out[:32]
	}
	return strings.TrimFunc(out, func(r rune) bool { return r >= 128 || !isAlnum(byte(r)) })
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// sanitizeURL drops userinfo, query and fragment from a URL for display.
func sanitizeURL(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return workspace.Redact(raw)
	}
	u.User = nil
	u.RawQuery, u.Fragment = "", ""
	return u.String()
}
