package cli

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/config"
	_ "modernc.org/sqlite" // the "sqlite" driver, for the read-only integrity check

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/chroma"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/embedder"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/neo4j"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// checkTasksDB opens the project's tasks.db read-only and runs SQLite's
// integrity check. A missing database is fine: it is created on first use.
func checkTasksDB(ctx context.Context, rep *Report, l workspace.Layout, cfg workspace.Config) {
	const check = "tasks (SQLite)"
	if !cfg.DatabasePools.Operational.IsEnabled() {
		rep.add(warn(check, "turned off by the project config: the task tools answer that they are off",
			"remove database_pools.operational.enabled from "+filepath.Join(l.Configs, workspace.ConfigFileName)))
		return
	}
	path := filepath.Join(l.Databases, "tasks.db")
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		rep.add(ok(check, path+" does not exist yet: it is created on the first task call"))
		return
	}
	if err != nil {
		rep.add(fail(check, err.Error(), "make "+path+" readable and writable by this user (chmod 600)"))
		return
	}
	damaged := "stop the server, then restore the file from a backup, or salvage it: sqlite3 " + path + " .recover | sqlite3 recovered.db"
	facts, err := readDBFacts(ctx, path, true)
	if err != nil {
		msg := workspace.Redact(err.Error())
		if strings.Contains(msg, "malformed") || strings.Contains(msg, "not a database") {
			rep.add(fail(check, fmt.Sprintf("%s is damaged: %s", path, msg), damaged))
			return
		}
		rep.add(fail(check, fmt.Sprintf("%s cannot be read: %s", path, msg),
			"check its permissions (the server's user must own it); if another program locks it, stop that program"))
		return
	}
	if facts.Integrity != "ok" {
		rep.add(fail(check, fmt.Sprintf("%s is damaged: integrity_check says %s", path, fit(facts.Integrity, 300)), damaged))
		return
	}
	rep.add(ok(check, fmt.Sprintf("%s: integrity ok, %s, schema version %d, journal %s, %s",
		path, plural(facts.Tasks, "task"), facts.SchemaVersion, facts.JournalMode, humanBytes(fi.Size()+facts.WALBytes))))
}

// DBFacts are what a person wants to know about a project's tasks.db.
type DBFacts struct {
	Path          string         `json:"path"`
	Bytes         int64          `json:"bytes"`
	WALBytes      int64          `json:"wal_bytes"`
	JournalMode   string         `json:"journal_mode"`
	SchemaVersion int            `json:"schema_version"`
	Tasks         int            `json:"tasks"`
	ByStatus      map[string]int `json:"by_status"`
	Ready         int            `json:"ready"`
	Integrity     string         `json:"integrity,omitempty"`
}

// readDBFacts opens path read-only (never creating it, never writing) and
// reads its counts; integrity adds PRAGMA integrity_check, which reads every page.
func readDBFacts(ctx context.Context, path string, integrity bool) (DBFacts, error) {
	f := DBFacts{Path: path, ByStatus: map[string]int{}}
	// SQLite follows links itself: a cloned repository's tasks.db (or -wal,
	// -shm, -journal) that is a link would have doctor and status read, or
	// create files, wherever it points. The server refuses those; so do we.
	if l, ok := workspace.LayoutOf(path); ok {
		for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
			if _, err := workspace.CheckProjectFile(l, p); err != nil {
				return f, err
			}
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		return f, err
	}
	f.Bytes = fi.Size()
	if wi, err := os.Stat(path + "-wal"); err == nil {
		f.WALBytes = wi.Size()
	}
	dsn := "file:" + (&url.URL{Path: filepath.ToSlash(path)}).EscapedPath() +
		"?mode=ro&_pragma=busy_timeout(5000)&_pragma=query_only(1)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return f, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		return f, err
	}
	defer conn.Close()
	if integrity {
		rows, err := conn.QueryContext(ctx, "PRAGMA integrity_check")
		if err != nil {
			return f, err
		}
		var lines []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				rows.Close()
				return f, err
			}
			lines = append(lines, s)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return f, err
		}
		f.Integrity = strings.Join(lines, "; ")
	}
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&f.JournalMode); err != nil {
		return f, err
	}
	if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&f.SchemaVersion); err != nil {
		return f, err
	}
	if f.SchemaVersion == 0 {
		return f, nil // no tables yet
	}
	rows, err := conn.QueryContext(ctx, "SELECT status, count(*) FROM tasks GROUP BY status")
	if err != nil {
		return f, err
	}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			rows.Close()
			return f, err
		}
		f.ByStatus[s] = n
		f.Tasks += n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return f, err
	}
	err = conn.QueryRowContext(ctx, `SELECT count(*) FROM tasks t WHERE t.status = 'pending' AND NOT EXISTS (
		SELECT 1 FROM task_dependencies d JOIN tasks u ON u.id = d.depends_on_id
		WHERE d.task_id = t.id AND u.status <> 'completed')`).Scan(&f.Ready)
	return f, err
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// probe checks the network backends, each bounded by timeout.
type probe struct {
	ctx     context.Context
	timeout time.Duration
	getenv  func(string) string
	// brokenGlobal is the global config file when it is not valid: what it
	// would configure is unknown, so "not configured" would mislead.
	brokenGlobal string
}

// unknownBecauseBroken is the finding for a backend that looks unconfigured
// only because the global config file could not be read.
func (p probe) unknownBecauseBroken(check string) Finding {
	return warn(check, "not checked: "+p.brokenGlobal+" is not valid (see above), so what it configures is unknown",
		"fix the global config as shown above, then run doctor again")
}

// vectorSetup is what the client snippet needs to know about Chroma.
type vectorSetup struct {
	pathChroma string // a chroma found only on PATH: the snippet pins it, since clients start servers with a short PATH
}

// vector reports how the project reaches Chroma and whether it answers.
func (p probe) vector(rep *Report, root string, cfg workspace.Config) vectorSetup {
	const check = "vector (Chroma)"
	var vs vectorSetup
	if root != "" && !cfg.DatabasePools.Vector.IsEnabled() {
		rep.add(ok(check, "turned off by the project config"))
		return vs
	}
	opts := chroma.Options{Workspace: root, Layout: workspace.LayoutFor(root), Backends: cfg.Backends, Embeddings: cfg.Embeddings}
	mode, reason := chroma.Resolve(opts)
	switch mode {
	case chroma.ModeNone:
		if p.brokenGlobal != "" {
			rep.add(p.unknownBecauseBroken(check))
		} else if strings.TrimSpace(cfg.Backends.ChromaCommand) != "" {
			rep.add(fail(check, reason, "set backends.chroma_command (or $TASK_ORCHESTRATOR_CHROMA_COMMAND) to the absolute path of an installed chroma"))
		} else {
			rep.add(warn(check, "not configured: no CHROMA_URL and no chroma executable on PATH, so the vector tools are off",
				"pip install chromadb (then set backends.chroma_command to its chroma), or set CHROMA_URL to a running server"))
		}
	case chroma.ModeManaged:
		exe, _ := exec.LookPath(firstNonEmpty(strings.TrimSpace(cfg.Backends.ChromaCommand), "chroma"))
		if abs, err := filepath.Abs(exe); err == nil {
			exe = abs
		}
		if strings.TrimSpace(cfg.Backends.ChromaCommand) == "" {
			vs.pathChroma = exe
		}
		version, err := p.runVersion(exe)
		if err != nil {
			rep.add(fail(check, fmt.Sprintf("%s is found but does not run: %s", exe, err),
				"reinstall Chroma (pip install --force-reinstall chromadb) or point backends.chroma_command at a working chroma"))
			return vs
		}
		rep.add(ok(check, "managed ("+version+"): "+reason))
	case chroma.ModeRemote:
		rep.add(p.chromaHeartbeat(check, cfg))
	}
	return vs
}

// runVersion runs `exe --version`, which proves the executable and its
// interpreter work, and returns the first line it prints.
func (p probe) runVersion(exe string) (string, error) {
	ctx, cancel := context.WithTimeout(p.ctx, max(p.timeout, 15*time.Second))
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "--version")
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	first := strings.TrimSpace(strings.SplitN(strings.TrimSpace(string(out)), "\n", 2)[0])
	if err != nil {
		if first != "" {
			return "", fmt.Errorf("%v: %s", err, fit(first, 200))
		}
		return "", err
	}
	return fit(firstNonEmpty(first, "version unknown"), 60), nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// chromaHeartbeat asks a remote Chroma for its heartbeat and its version, and
// checks that the configured tenant exists.
func (p probe) chromaHeartbeat(check string, cfg workspace.Config) Finding {
	base := strings.TrimRight(strings.TrimSpace(cfg.Backends.ChromaURL), "/")
	shown := workspace.Redact(base)
	if u, err := url.Parse(base); err == nil {
		u.User = nil
		shown = u.String()
	}
	hc := &http.Client{Timeout: p.timeout}
	get := func(path string) (int, []byte, error) {
		ctx, cancel := context.WithTimeout(p.ctx, p.timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			return 0, nil, err
		}
		if tok := cfg.Backends.ChromaToken.Reveal(); tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		res, err := hc.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<16))
		return res.StatusCode, body, nil
	}
	status, _, err := get("/api/v2/heartbeat")
	switch {
	case err != nil:
		return fail(check, fmt.Sprintf("CHROMA_URL %s does not answer its heartbeat: %s", shown, workspace.Redact(rootCause(err))),
			"start the Chroma server at "+shown+" (chroma run --path DIR --port PORT), or correct CHROMA_URL / backends.chroma_url")
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return fail(check, fmt.Sprintf("Chroma at %s refuses the token (HTTP %d)", shown, status),
			"set CHROMA_TOKEN (or backends.chroma_token in the global config) to a token the server accepts")
	case status != http.StatusOK:
		return fail(check, fmt.Sprintf("Chroma at %s answered its heartbeat with HTTP %d", shown, status),
			"check that CHROMA_URL points at a Chroma server (its base URL, without /api/v2)")
	}
	version := "unknown version"
	if s, body, err := get("/api/v2/version"); err == nil && s == http.StatusOK {
		var v string
		if json.Unmarshal(body, &v) == nil && v != "" {
			version = "version " + v
		}
	}
	tenant := firstNonEmpty(strings.TrimSpace(cfg.Backends.ChromaTenant), chroma.DefaultTenant)
	if s, _, err := get("/api/v2/tenants/" + url.PathEscape(tenant)); err == nil && s == http.StatusNotFound {
		return fail(check, fmt.Sprintf("Chroma at %s (%s) answers, but has no tenant %q", shown, version, tenant),
			"create the tenant on the server, or correct CHROMA_TENANT / backends.chroma_tenant")
	}
	return ok(check, fmt.Sprintf("remote: %s answers its heartbeat (%s, tenant %s)", shown, version, tenant))
}

// rootCause keeps the innermost message of a network error ("connection refused").
func rootCause(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}

// graph reports how the project reaches Neo4j and, for a server, whether it
// accepts the credentials and runs Neo4j 5 or newer.
func (p probe) graph(rep *Report, root string, cfg workspace.Config) {
	const check = "graph (Neo4j)"
	if root != "" && !cfg.DatabasePools.Graph.IsEnabled() {
		rep.add(ok(check, "turned off by the project config"))
		return
	}
	opts := neo4j.Options{Workspace: root, Layout: workspace.LayoutFor(root), Backends: cfg.Backends}
	mode, reason := neo4j.Resolve(opts)
	switch mode {
	case neo4j.ModeNone:
		if p.brokenGlobal != "" {
			rep.add(p.unknownBecauseBroken(check))
		} else if len(cfg.Backends.Neo4jCommand) > 0 {
			rep.add(fail(check, reason, "fix backends.neo4j_command in the global config"))
		} else {
			rep.add(warn(check, "not configured: no NEO4J_URI and no backends.neo4j_command, so the graph tools are off",
				"set NEO4J_URI, NEO4J_USERNAME and NEO4J_PASSWORD for a Neo4j 5 server, or configure backends.neo4j_command"))
		}
	case neo4j.ModeManaged:
		rep.add(ok(check, "managed: "+reason))
	case neo4j.ModeShared:
		rep.add(p.neo4jServer(check, cfg.Backends))
	}
}

func (p probe) neo4jServer(check string, b workspace.Backends) Finding {
	uri := strings.TrimSpace(b.Neo4jURI)
	shown := uri
	if u, err := url.Parse(uri); err == nil {
		u.User = nil
		u.RawQuery = ""
		shown = u.String()
	}
	user, pw := strings.TrimSpace(b.Neo4jUsername), b.Neo4jPassword.Reveal()
	auth := driver.NoAuth()
	if user != "" || pw != "" {
		user = firstNonEmpty(user, "neo4j")
		auth = driver.BasicAuth(user, pw, "")
	}
	d, err := driver.NewDriverWithContext(uri, auth, func(c *config.Config) {
		c.SocketConnectTimeout = p.timeout
		c.ConnectionAcquisitionTimeout = p.timeout
		c.MaxTransactionRetryTime = 0
		c.MaxConnectionPoolSize = 2
		c.UserAgent = "mcp-task-orchestrator-doctor"
	})
	if err != nil {
		return fail(check, fmt.Sprintf("NEO4J_URI %s is not usable: %s", shown, workspace.Redact(err.Error())),
			"set NEO4J_URI to bolt://host:7687 (one server) or neo4j://host:7687 (a cluster)")
	}
	ctx, cancel := context.WithTimeout(p.ctx, p.timeout)
	defer cancel()
	defer func() { _ = d.Close(context.WithoutCancel(ctx)) }()
	res, err := driver.ExecuteQuery(ctx, d,
		"CALL dbms.components() YIELD name, versions, edition RETURN versions[0] AS version, edition",
		nil, driver.EagerResultTransformer, driver.ExecuteQueryWithDatabase(b.Neo4jDatabase), driver.ExecuteQueryWithReadersRouting())
	if err != nil {
		return neo4jFailure(check, shown, user, b.Neo4jDatabase, err)
	}
	version, edition := "unknown", ""
	if len(res.Records) > 0 {
		if v, ok := res.Records[0].Get("version"); ok {
			version = fmt.Sprint(v)
		}
		if e, ok := res.Records[0].Get("edition"); ok {
			edition = fmt.Sprint(e)
		}
	}
	major, _ := strconv.Atoi(strings.SplitN(version, ".", 2)[0])
	if major < 5 {
		return fail(check, fmt.Sprintf("Neo4j at %s is version %s; the graph tools need Neo4j 5 or newer", shown, version),
			"upgrade the server to Neo4j 5 (5.26 LTS is what the tests run)")
	}
	db := firstNonEmpty(b.Neo4jDatabase, "the default database")
	return ok(check, fmt.Sprintf("shared: %s answers as user %s, Neo4j %s %s, %s", shown, firstNonEmpty(user, "(no auth)"), version, edition, db))
}

// neo4jFailure turns a driver error into a finding whose fix fits the cause.
func neo4jFailure(check, shown, user, database string, err error) Finding {
	msg := workspace.Redact(err.Error())
	var ne *driver.Neo4jError
	var ae *driver.InvalidAuthenticationError
	switch {
	case errors.As(err, &ne) && strings.Contains(ne.Code, "Security.AuthenticationRateLimit"):
		return fail(check, fmt.Sprintf("Neo4j at %s locked user %s out after failed logins", shown, user),
			"wait a few seconds, then fix NEO4J_PASSWORD before the next try")
	case errors.As(err, &ne) && strings.Contains(ne.Code, "Security.Unauthorized"), errors.As(err, &ae):
		return fail(check, fmt.Sprintf("Neo4j at %s refuses the credentials of user %s (authentication failure)", shown, user),
			"set NEO4J_PASSWORD (or backends.neo4j_password in the global config) to the password of "+user+"; check NEO4J_USERNAME too")
	case errors.As(err, &ne) && strings.Contains(ne.Code, "Database.DatabaseNotFound"):
		return fail(check, fmt.Sprintf("Neo4j at %s has no database %q", shown, database),
			"correct NEO4J_DATABASE (Neo4j Community has one user database, usually neo4j), or leave it empty")
	case errors.As(err, &ne):
		return fail(check, fmt.Sprintf("Neo4j at %s: %s", shown, msg), "check the server's log; the credentials and URI were accepted")
	}
	return fail(check, fmt.Sprintf("Neo4j at %s does not answer: %s", shown, msg),
		"start the Neo4j server at "+shown+", or correct NEO4J_URI (bolt://host:7687)")
}

// embeddings reports the embedding provider and, for a model server, whether it answers.
func (p probe) embeddings(rep *Report, cfg workspace.Config) {
	const check = "embeddings"
	e := cfg.Embeddings
	name := strings.ToLower(strings.TrimSpace(e.Provider))
	switch name {
	case "":
		if p.brokenGlobal != "" {
			rep.add(p.unknownBecauseBroken(check))
			return
		}
		rep.add(ok(check, "none configured: vector calls must send their own embeddings (text alone is refused)"))
		return
	case "lexical":
		rep.add(ok(check, "lexical: offline; shared words and word pieces make texts near; not meaning"))
		return
	case "hash":
		rep.add(warn(check, "hash is the old name of lexical and is read as lexical (offline; shared words and word pieces "+
			"make texts near; not meaning); collections embedded by the old hash are refused until re-embedded",
			"set embeddings.provider to lexical"))
		return
	case "default":
		rep.add(warn(check, "default: chroma-go's ONNX model, downloaded from the internet on first use",
			"on a machine without internet use openai or ollama against a local model server, or lexical"))
		return
	case "local":
		rep.add(p.localEmbedder(check, e))
		return
	case "openai", "ollama":
	default:
		rep.add(fail(check, fmt.Sprintf("embeddings.provider %q is not known", e.Provider),
			"set embeddings.provider to lexical, local, openai, ollama or default, or leave it empty"))
		return
	}
	base, probePath := strings.TrimSpace(e.BaseURL), "/api/tags"
	if name == "openai" {
		base, probePath = firstNonEmpty(base, "https://api.openai.com/v1"), "/models"
		if env := strings.TrimSpace(e.APIKeyEnv); env != "" && p.getenv(env) == "" {
			rep.add(fail(check, fmt.Sprintf("embeddings.api_key_env names %s, but it is empty in this environment", env),
				"export "+env+" with the API key in the environment the MCP client starts the server with"))
			return
		}
	} else {
		base = firstNonEmpty(base, "http://127.0.0.1:11434")
	}
	ctx, cancel := context.WithTimeout(p.ctx, p.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+probePath, nil)
	if err == nil {
		var res *http.Response
		if res, err = (&http.Client{Timeout: p.timeout}).Do(req); err == nil {
			res.Body.Close()
		}
	}
	if err != nil {
		rep.add(fail(check, fmt.Sprintf("%s at %s does not answer: %s", name, workspace.Redact(base), workspace.Redact(rootCause(err))),
			"start the model server, or correct embeddings.base_url"))
		return
	}
	rep.add(ok(check, fmt.Sprintf("%s at %s answers (model %s)", name, workspace.Redact(base), firstNonEmpty(e.Model, "the provider's default"))))
}

// localEmbedder checks provider local: the embedder is installed, and it
// loads its model and embeds a text here (each project's server process
// starts it on first use; this runs it once, without serving).
func (p probe) localEmbedder(check string, e workspace.Embeddings) Finding {
	python, err := embedder.Command(e.Command, p.getenv)
	if err != nil {
		return fail(check, "local: "+err.Error(), "run `"+embedder.InstallHint+"`, then add the config lines it prints")
	}
	ctx, cancel := context.WithTimeout(p.ctx, max(p.timeout, localProbeTimeout))
	defer cancel()
	took, err := embedder.Probe(ctx, python)
	if err != nil {
		return fail(check, fmt.Sprintf("local: the embedder in %s does not embed a text: %s", embedder.Dir(python), err),
			"run `"+embedder.InstallHint+" --dir "+embedder.Dir(python)+"` again to repair it")
	}
	return ok(check, fmt.Sprintf("local: offline semantic search with %s (%s); it loads and embeds a text in %s, "+
		"and each project starts it on first use", embedder.Model, embedder.Dir(python), took.Round(10*time.Millisecond)))
}

// localProbeTimeout bounds doctor's run of the local embedder: loading the model from a cold disk takes seconds.
const localProbeTimeout = 60 * time.Second
