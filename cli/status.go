package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mattn/go-isatty"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/chroma"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/managed"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/neo4j"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/project"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/tools"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// Snapshot is what status shows at one moment.
type Snapshot struct {
	Source     string            `json:"source"`
	Taken      time.Time         `json:"taken"`
	Workspaces []WorkspaceStatus `json:"workspaces"`
	// Mirrors is pool_status's server-wide "mirrors" section, when the server has one.
	Mirrors MirrorList `json:"mirrors,omitempty"`
	// Note says what this source can and cannot show.
	Note string `json:"note,omitempty"`
	// Err is why this snapshot could not be read; a watch keeps trying.
	Err string `json:"error,omitempty"`
}

// WorkspaceStatus is one project in a snapshot: pool_status's workspace entry,
// plus the database facts when status reads the project's files itself.
type WorkspaceStatus struct {
	Root    string           `json:"root"`
	Open    bool             `json:"open"`
	Pools   []tools.PoolView `json:"pools"`
	Mirrors MirrorList       `json:"mirrors,omitempty"`
	DB      *DBFacts         `json:"db,omitempty"`
	// FromFiles marks a project read from its own files (status --workspace), not from a server.
	FromFiles bool `json:"from_files,omitempty"`
	// Processes are the server processes registered in the project (status
	// --workspace): live ones, and those that ended without closing it.
	Processes []ProcessView `json:"processes,omitempty"`
	// IgnoredProcessFiles are files in .task_orchestrator/processes that were not trusted.
	IgnoredProcessFiles []project.IgnoredEntry `json:"ignored_process_files,omitempty"`
	// ManagedServers are the project's managed servers announced to every
	// server process, with their owners (never a credential).
	ManagedServers []ManagedView `json:"managed_servers,omitempty"`
}

// ProcessView is one server process using the project.
type ProcessView struct {
	project.ProcessStatus
	// Owns lists the managed servers this process started and owns.
	Owns []string `json:"owns,omitempty"`
}

// ManagedView is one managed server as its verified discovery file announces
// it; a file that failed verification has Ignored set and nothing else.
type ManagedView struct {
	managed.Announcement
	Ignored string `json:"ignored,omitempty"`
}

// MirrorList is pool_status's "mirrors" section, read without assuming more
// of its shape than that it holds objects: a list of them, or one per name
// (the name is then added as "name"). Anything else reads as no mirrors, so a
// change of shape on the server never breaks the pool table.
type MirrorList []map[string]any

// UnmarshalJSON accepts a list of objects or an object of objects.
func (m *MirrorList) UnmarshalJSON(b []byte) error {
	var list []map[string]any
	if json.Unmarshal(b, &list) == nil {
		*m = list
		return nil
	}
	var byName map[string]map[string]any
	if json.Unmarshal(b, &byName) == nil {
		*m = nil
		for _, name := range slices.Sorted(maps.Keys(byName)) {
			e := byName[name]
			if e == nil {
				e = map[string]any{}
			}
			if _, ok := e["name"]; !ok {
				e["name"] = name
			}
			*m = append(*m, e)
		}
		return nil
	}
	*m = nil
	return nil
}

// source is where snapshots come from.
type source interface {
	snapshot(ctx context.Context) Snapshot
	close()
}

type statusOptions struct {
	workspace string
	httpURL   string
	tokenFile string
	config    string
	watch     bool
	interval  time.Duration
	jsonOut   bool
	width     int
}

// Status shows the pools at a glance: from a running server over HTTP
// (pool_status over MCP, every open project), or from a project's files
// (its database and how each backend is configured). --watch redraws the
// table in place until interrupted.
func Status(args []string, env Env) int {
	var o statusOptions
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.StringVar(&o.workspace, "workspace", "", "a folder inside the project (with --http: show only that project)")
	fs.StringVar(&o.httpURL, "http", "", "a running server's address, e.g. http://127.0.0.1:8765 (its /mcp endpoint is used)")
	fs.StringVar(&o.tokenFile, "auth-token-file", "", "file holding the server's bearer token (the one it was started with)")
	fs.StringVar(&o.config, "config", "", "the global config file (with --workspace; default $XDG_CONFIG_HOME/task-orchestrator/config.json)")
	fs.BoolVar(&o.watch, "watch", false, "redraw every --interval until Ctrl-C")
	fs.DurationVar(&o.interval, "interval", 2*time.Second, "how often --watch refreshes")
	fs.BoolVar(&o.jsonOut, "json", false, "print one snapshot as JSON")
	fs.IntVar(&o.width, "width", 0, "columns to fit (default: the terminal's width, else 80)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: mcp-task-orchestrator status [--workspace DIR | --http URL [--auth-token-file FILE]] [--watch]

Shows the connection pools at a glance: in use / idle / max, callers waiting, timeouts, state.
With --http it asks a running server (pool_status, every open project); with --workspace it reads the
project's own files (tasks database, configured backends); the pools themselves live in the server process.

Flags:
`)
		fs.PrintDefaults()
	}
	if code, stop := parse(fs, args, env.Stderr); stop {
		return code
	}
	if o.watch && o.jsonOut {
		fmt.Fprintln(env.Stderr, "mcp-task-orchestrator status: --json prints one snapshot; leave out --watch (or --json)")
		return ExitUsage
	}
	if o.interval < 100*time.Millisecond {
		fmt.Fprintln(env.Stderr, "mcp-task-orchestrator status: --interval must be at least 100ms")
		return ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	src, err := openSource(ctx, o, env)
	if err != nil {
		fmt.Fprintln(env.Stderr, "mcp-task-orchestrator status:", workspace.Redact(err.Error()))
		return ExitProblem
	}
	defer src.close()

	width := func() int {
		if o.width > 0 {
			return o.width
		}
		if w := terminalWidth(env.Stdout); w > 0 {
			return w
		}
		return 80
	}
	if !o.watch {
		snap := src.snapshot(ctx)
		if o.jsonOut {
			b, _ := json.MarshalIndent(snap, "", "  ")
			fmt.Fprintln(env.Stdout, string(b)) // stdout-ok: status's report
		} else {
			io.WriteString(env.Stdout, strings.Join(render(snap, width(), 0), "\n")+"\n") // stdout-ok: status's report
		}
		if snap.Err != "" {
			return ExitProblem
		}
		return ExitOK
	}
	return watch(ctx, src, env.Stdout, o.interval, width, isTerminal(env.Stdout))
}

// isTerminal reports whether w is a terminal (not a pipe or a file).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// watch redraws the table in place every interval: cursor home, each line
// followed by erase-to-end-of-line, then erase below. The cursor is hidden
// while it runs and shown again when it stops. Into a pipe or a file (tty
// false) it writes no escape codes: each snapshot follows the last, after a
// blank line, so a log or grep reads plain text.
func watch(ctx context.Context, src source, w io.Writer, interval time.Duration, width func() int, tty bool) int {
	if tty {
		io.WriteString(w, "\x1b[?25l\x1b[2J")        // stdout-ok: status's screen
		defer io.WriteString(w, "\x1b[?25h\x1b[J\n") // stdout-ok: status's screen
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for first := true; ; first = false {
		lines := render(src.snapshot(ctx), width(), interval)
		var b strings.Builder
		if tty {
			b.WriteString("\x1b[H")
		} else if !first {
			b.WriteString("\n")
		}
		for _, l := range lines {
			b.WriteString(l)
			if tty {
				b.WriteString("\x1b[K")
			}
			b.WriteString("\n")
		}
		if tty {
			b.WriteString("\x1b[J")
		}
		if _, err := io.WriteString(w, b.String()); err != nil { // stdout-ok: status's screen
			return ExitProblem
		}
		select {
		case <-ctx.Done():
			return ExitOK
		case <-t.C:
		}
	}
}

func openSource(ctx context.Context, o statusOptions, env Env) (source, error) {
	if o.httpURL != "" {
		return newHTTPSource(ctx, o)
	}
	return newWorkspaceSource(o, env)
}

// httpSource asks a running server for pool_status over MCP Streamable HTTP.
// A failed call drops the session; the next snapshot opens a new one, so a
// watch survives a server restart.
type httpSource struct {
	endpoint  string
	shown     string // endpoint with any user:password@ masked, for output
	token     string
	workspace string
	c         *client.Client
}

func newHTTPSource(ctx context.Context, o statusOptions) (*httpSource, error) {
	u, err := url.Parse(o.httpURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--http %q: give the server's address, like http://127.0.0.1:8765", workspace.Redact(o.httpURL))
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/mcp"
	}
	s := &httpSource{endpoint: u.String(), shown: workspace.Redact(u.String()), workspace: o.workspace}
	if o.tokenFile != "" {
		b, err := os.ReadFile(o.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("reading --auth-token-file: %w", err)
		}
		if s.token = strings.TrimSpace(string(b)); s.token == "" {
			return nil, fmt.Errorf("--auth-token-file %s is empty", o.tokenFile)
		}
	}
	if s.workspace != "" {
		if abs, err := filepath.Abs(s.workspace); err == nil {
			s.workspace = abs
		}
	}
	if err := s.connect(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *httpSource) connect(ctx context.Context) error {
	var opts []transport.StreamableHTTPCOption
	if s.token != "" {
		opts = append(opts, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + s.token}))
	}
	opts = append(opts, transport.WithHTTPTimeout(10*time.Second))
	tr, err := transport.NewStreamableHTTP(s.endpoint, opts...)
	if err != nil {
		return fmt.Errorf("%s: %s", s.shown, workspace.Redact(err.Error()))
	}
	c := client.NewClient(tr)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		_ = c.Close()
		return fmt.Errorf("%s: %s", s.shown, workspace.Redact(err.Error()))
	}
	init := mcp.InitializeRequest{}
	init.Params.ClientInfo = mcp.Implementation{Name: "mcp-task-orchestrator-status", Version: "1"}
	init.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
	if _, err := c.Initialize(ctx, init); err != nil {
		_ = c.Close()
		hint := ""
		if low := strings.ToLower(err.Error()); strings.Contains(low, "401") || strings.Contains(low, "unauthorized") || strings.Contains(low, "authorization") {
			hint = " (pass --auth-token-file with the server's token)"
		}
		return fmt.Errorf("%s does not answer MCP: %s%s", s.shown, workspace.Redact(err.Error()), hint)
	}
	s.c = c
	return nil
}

func (s *httpSource) snapshot(ctx context.Context) Snapshot {
	snap := Snapshot{Source: s.shown, Taken: time.Now(), Workspaces: []WorkspaceStatus{}}
	if s.c == nil {
		if err := s.connect(ctx); err != nil {
			snap.Err = err.Error()
			return snap
		}
	}
	req := mcp.CallToolRequest{}
	req.Params.Name = "pool_status"
	if s.workspace != "" {
		req.Params.Arguments = map[string]any{"workspace": s.workspace}
	} else {
		req.Params.Arguments = map[string]any{"all": true}
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := s.c.CallTool(cctx, req)
	if err != nil {
		_ = s.c.Close()
		s.c = nil
		snap.Err = "pool_status: " + workspace.Redact(err.Error())
		return snap
	}
	if res.IsError {
		snap.Err = "pool_status: " + resultText(res)
		return snap
	}
	b, err := json.Marshal(res.StructuredContent)
	if err == nil {
		var wire struct {
			Workspaces []WorkspaceStatus `json:"workspaces"`
			Mirrors    MirrorList        `json:"mirrors"`
		}
		if err = json.Unmarshal(b, &wire); err == nil {
			snap.Workspaces = append(snap.Workspaces, wire.Workspaces...)
			snap.Mirrors = wire.Mirrors
		}
	}
	if err != nil {
		snap.Err = "pool_status answered something status cannot read: " + err.Error()
	}
	if len(snap.Workspaces) == 0 && snap.Err == "" {
		snap.Note = "no project has open pools yet: they open on a project's first tool call"
	}
	return snap
}

func (s *httpSource) close() {
	if s.c != nil {
		_ = s.c.Close()
		s.c = nil
	}
}

func resultText(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if t, ok := c.(mcp.TextContent); ok {
			parts = append(parts, t.Text)
		}
	}
	return strings.Join(parts, " ")
}

// workspaceSource reads a project from its files: the tasks database
// (read-only) and the backends its configuration leads to. It never opens a
// pool or starts a server: the live pools are inside the server process.
type workspaceSource struct {
	root   workspace.Root
	layout workspace.Layout
	cfg    workspace.Config
}

func newWorkspaceSource(o statusOptions, env Env) (*workspaceSource, error) {
	dir := o.workspace
	if dir != "" {
		if abs, err := filepath.Abs(dir); err == nil {
			dir = abs
		}
	}
	root, err := (&workspace.Resolver{Env: env.getenv}).Resolve(dir, nil)
	if err != nil {
		return nil, err
	}
	cfg, _, err := workspace.LoadGlobal(workspace.LoadOptions{GlobalPath: o.config, Env: env.getenv})
	if err != nil {
		return nil, fmt.Errorf("%w\n(run mcp-task-orchestrator doctor for every problem and its fix)", err)
	}
	l := workspace.LayoutFor(root.Path)
	cfg, _, err = workspace.ApplyProject(cfg, l)
	if err != nil {
		return nil, fmt.Errorf("%w\n(run mcp-task-orchestrator doctor for every problem and its fix)", err)
	}
	return &workspaceSource{root: root, layout: l, cfg: cfg}, nil
}

func (s *workspaceSource) snapshot(ctx context.Context) Snapshot {
	snap := Snapshot{Source: s.root.Path, Taken: time.Now(),
		Note: "pools live in the server process; for in-use counts run: status --http URL"}
	ws := WorkspaceStatus{Root: s.root.Path, FromFiles: true}
	pools := s.cfg.DatabasePools
	dbPath := filepath.Join(s.layout.Databases, "tasks.db")
	sqliteState := "not opened"
	note := "no tasks.db yet: created on the first task call"
	if facts, err := readDBFacts(ctx, dbPath, false); err == nil {
		ws.DB = &facts
		note = "configured; opens in the server on the first task call"
	} else if !errors.Is(err, os.ErrNotExist) {
		sqliteState, note = string(pooling.StateDown), workspace.Redact(err.Error())
		snap.Err = "reading " + dbPath + ": " + note
	}
	if !pools.Operational.IsEnabled() {
		sqliteState, note = "off", "turned off by the project config"
	}
	ws.Pools = append(ws.Pools,
		tools.PoolView{Name: workspace.DatabaseSQLite + ".writer", Backend: workspace.BackendOperational, State: sqliteState, Max: 1, Note: note},
		tools.PoolView{Name: workspace.DatabaseSQLite + ".readers", Backend: workspace.BackendOperational, State: sqliteState, Max: pools.Operational.MaxConnections, Note: note})
	vmode, vreason := chroma.Resolve(chroma.Options{Workspace: s.root.Path, Layout: s.layout, Backends: s.cfg.Backends, Embeddings: s.cfg.Embeddings})
	ws.Pools = append(ws.Pools, configuredPool(workspace.DatabaseChroma, workspace.BackendVector, string(vmode), vreason, pools.Vector))
	gmode, greason := neo4j.Resolve(neo4j.Options{Workspace: s.root.Path, Layout: s.layout, Backends: s.cfg.Backends})
	ws.Pools = append(ws.Pools, configuredPool(workspace.DatabaseNeo4j, workspace.BackendGraph, string(gmode), greason, pools.Graph))
	if err := s.processes(&ws); err != nil && snap.Err == "" {
		snap.Err = "reading the project's server processes: " + workspace.UnsafeFileMessage(err)
	}
	snap.Workspaces = []WorkspaceStatus{ws}
	return snap
}

// processes fills in the server processes registered in the project and the
// owners of its managed servers, from files it verifies (see
// project.ReadProcesses and managed.ReadAnnouncement). It signals nothing.
func (s *workspaceSource) processes(ws *WorkspaceStatus) error {
	ps, ignored, err := project.ReadProcesses(s.layout)
	ws.IgnoredProcessFiles = ignored
	open := func(path string, flag int, perm fs.FileMode) (*os.File, error) {
		return workspace.OpenProjectFile(s.layout, path, flag, perm)
	}
	for _, kind := range []string{workspace.DatabaseChroma, workspace.DatabaseNeo4j, "embedder"} { // "embedder": adapters/embedder
		file := filepath.Join(s.layout.Databases, kind+".server.json")
		if fi, cerr := workspace.CheckProjectFile(s.layout, file); cerr == nil && fi == nil {
			continue // no managed server announced
		}
		a, aerr := managed.ReadAnnouncement(open, kind, file, filepath.Join(s.layout.Databases, kind))
		v := ManagedView{Announcement: a}
		if aerr != nil {
			v = ManagedView{Announcement: managed.Announcement{Kind: kind}, Ignored: workspace.Redact(workspace.UnsafeFileMessage(aerr))}
		}
		ws.ManagedServers = append(ws.ManagedServers, v)
	}
	for _, p := range ps {
		v := ProcessView{ProcessStatus: p}
		for _, m := range ws.ManagedServers {
			if p.Live && m.Ignored == "" && m.OwnerAlive && m.OwnerPID == p.PID {
				v.Owns = append(v.Owns, m.Kind)
			}
		}
		ws.Processes = append(ws.Processes, v)
	}
	return err
}

func configuredPool(name, backend, mode, reason string, st workspace.PoolSettings) tools.PoolView {
	v := tools.PoolView{Name: name, Backend: backend, Max: st.MaxConnections}
	switch {
	case !st.IsEnabled():
		v.State, v.Note = "off", "turned off by the project config"
	case mode == "none":
		v.State, v.Note = string(pooling.StateNotConfigured), reason
	default:
		v.State, v.Note = "not opened", mode+": "+reason
	}
	return v
}

func (s *workspaceSource) close() {}
