// Command mcp-task-orchestrator is an MCP server that gives AI agents a task list,
// per project, kept in the project's own .task_orchestrator/ folder.
//
// It speaks MCP over stdio. Standard output belongs to the protocol: everything
// else (logs, usage, errors at start-up) goes to standard error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/lmittmann/tint"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/mattn/go-isatty"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/board"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/cli"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/migrate"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/project"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/tools"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/transport"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// version is set at build time with -ldflags "-X main.version=..."; otherwise the module version is used.
var version = ""

func serverVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "0.1.0-dev"
}

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

type options struct {
	configPath  string
	logLevel    string
	allowRoots  stringList
	readOnly    bool
	toolsets    string
	showVersion bool
	workers     int
	validateOut bool
	httpAddr    string
	tokenFile   string
	tokensFile  string
	sessionIdle time.Duration
	maxMessage  int
	origins     stringList
	hosts       stringList
	boardEdits  bool
	profileDir  string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("mcp-task-orchestrator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.configPath, "config", "", "global config file (default $XDG_CONFIG_HOME/task-orchestrator/config.json)")
	fs.StringVar(&o.logLevel, "log-level", "", "debug, info, warn or error (default info, or TASK_ORCHESTRATOR_LOG_LEVEL)")
	fs.Var(&o.allowRoots, "allow-root", "serve only projects inside this directory (repeatable)")
	fs.BoolVar(&o.readOnly, "read-only", false, "serve only the tools that change nothing")
	fs.StringVar(&o.toolsets, "toolsets", "", "toolsets tools/list shows, comma-separated: tasks, coordination, ops, vector, graph, all, default or dynamic (default: server.toolsets, else tasks, coordination, ops and the configured backends')")
	fs.BoolVar(&o.showVersion, "version", false, "print the version and exit")
	fs.IntVar(&o.workers, "workers", 32, "tool calls handled at once over stdio (1-100)")
	fs.StringVar(&o.httpAddr, "http", "", "serve MCP over Streamable HTTP on this address (e.g. 127.0.0.1:8765) instead of stdio; needs --allow-root")
	fs.StringVar(&o.tokenFile, "auth-token-file", "", "file holding one bearer token HTTP clients must send (a token is required to bind beyond loopback)")
	fs.StringVar(&o.tokensFile, "auth-tokens-file", "", "file of per-agent bearer tokens, one name:token per line; reloaded when it changes (each agent has its own limits)")
	fs.DurationVar(&o.sessionIdle, "session-idle-timeout", transport.DefaultSessionIdleTimeout, "an HTTP session unused this long is closed and its memory released (its id then gets 404)")
	fs.IntVar(&o.maxMessage, "max-message-bytes", 0, "largest JSON-RPC message accepted, refused while it is read (default 4 MiB over HTTP, 33 MiB over stdio)")
	fs.Var(&o.origins, "allowed-origin", "an extra Origin accepted over HTTP besides loopback ones (repeatable)")
	fs.Var(&o.hosts, "allowed-host", "an extra Host accepted over HTTP besides loopback ones (repeatable)")
	fs.BoolVar(&o.boardEdits, "board-allow-edits", false, "with --http: let the board at /board release claims, cancel tasks and re-run reconcile (recorded under the link's token name, else human:board)")
	fs.StringVar(&o.profileDir, "profile", "", "write pprof profiles of this run into this folder: cpu.pprof and, on exit, allocs.pprof (docs/performance.md)")
	fs.BoolVar(&o.validateOut, "validate-output", false, "check every tool result against its output schema (costs about half of a call's time; the tests turn it on)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `mcp-task-orchestrator %s: an MCP server for per-project task coordination.

Usage: mcp-task-orchestrator [flags]
       mcp-task-orchestrator doctor [--workspace DIR] [--json]
       mcp-task-orchestrator status [--workspace DIR | --http URL] [--watch]
       mcp-task-orchestrator migrate [--workspace DIR] [--from FILE] [--dry-run]
       mcp-task-orchestrator embedder install [--dir DIR]
       mcp-task-orchestrator board [--workspace DIR] [--addr 127.0.0.1:PORT] [--open] [--allow-edits]

Speaks MCP over stdio (start it from an MCP client such as Claude Desktop), or over Streamable HTTP with --http.
Data lives in each project's .task_orchestrator/ folder; nothing is opened until a tool needs it.

Flags:
`, serverVersion())
		fs.PrintDefaults()
	}
	err := fs.Parse(args)
	if err == nil && fs.NArg() > 0 {
		err = fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
	}
	return o, err
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if s == "" {
		return slog.LevelInfo, nil
	}
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return l, fmt.Errorf("log level %q: use debug, info, warn or error", s)
	}
	return l, nil
}

func main() {
	if code, ok := subcommand(os.Args[1:], os.Stdout, os.Stderr); ok { // stdout-ok: the CLI subcommands' reports
		os.Exit(code)
	}
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) // stdout-ok: the MCP channel (and --version), handed to the transport
}

// subcommand runs "doctor", "status", "migrate" (or another command a person types) when
// args start with its name; ok is false when args are the server's flags.
func subcommand(args []string, stdout, stderr io.Writer) (code int, ok bool) {
	if len(args) == 0 {
		return 0, false
	}
	env := cli.Env{Stdout: stdout, Stderr: stderr, Version: serverVersion()}
	switch args[0] {
	case "doctor":
		return cli.Doctor(args[1:], env), true
	case "status":
		return cli.Status(args[1:], env), true
	case "migrate":
		return migrate.Main(args[1:], stdout, stderr), true
	case "embedder":
		return cli.Embedder(args[1:], env), true
	case "board":
		return cli.Board(args[1:], env), true
	}
	return 0, false
}

// run is the whole program; it returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "mcp-task-orchestrator:", err)
		return 2
	}
	if o.showVersion {
		// Not serving MCP here: printing the version is the whole job.
		fmt.Fprintln(stdout, "mcp-task-orchestrator", serverVersion())
		return 0
	}

	cfg, files, cfgErr := workspace.LoadGlobal(workspace.LoadOptions{GlobalPath: o.configPath})
	levelText := o.logLevel
	if levelText == "" {
		levelText = cfg.Server.LogLevel
	}
	level, lerr := parseLevel(levelText)
	handler := tint.NewHandler(stderr, &tint.Options{
		Level:      level,
		TimeFormat: time.TimeOnly,
		NoColor:    !isTerminal(stderr),
	})
	logger := slog.New(handler)
	slog.SetDefault(logger)
	if lerr != nil {
		logger.Error(lerr.Error())
		return 2
	}
	// A broken global config does not stop the server: an MCP client shows
	// only "Connection closed" for a server that exits, so the agent (and its
	// human) would never learn why. It serves with the defaults instead and
	// answers every tool call and resource read with the problems, as doctor
	// words them.
	broken := ""
	if cfgErr != nil {
		broken = brokenConfigMessage(cli.GlobalConfigProblems(o.configPath, nil, cfgErr))
		logger.Error(broken)
		cfg, files = workspace.Defaults(), nil
	}

	if o.httpAddr != "" && len(o.allowRoots) == 0 {
		logger.Error("--http needs at least one --allow-root: over HTTP a client may only reach projects inside the trees you allow")
		return 2
	}
	if o.sessionIdle <= 0 {
		logger.Error("--session-idle-timeout must be positive, e.g. 30m")
		return 2
	}
	if o.maxMessage < 0 || (o.maxMessage > 0 && o.maxMessage < 64<<10) {
		logger.Error("--max-message-bytes must be at least 65536 (64 KiB), or 0 for the default")
		return 2
	}
	var token workspace.Secret
	if o.tokenFile != "" {
		b, err := os.ReadFile(o.tokenFile)
		if err != nil {
			logger.Error("reading --auth-token-file", "err", err)
			return 2
		}
		token = workspace.Secret(strings.TrimSpace(string(b)))
		if token == "" {
			logger.Error("--auth-token-file is empty")
			return 2
		}
	}
	if o.profileDir != "" {
		stopProfiles, err := startProfiles(o.profileDir)
		if err != nil {
			logger.Error(err.Error())
			return 2
		}
		defer func() {
			if err := stopProfiles(); err != nil {
				logger.Error("writing the profiles", "err", err)
			}
		}()
	}
	resolver := &workspace.Resolver{AllowRoots: o.allowRoots}
	registry := project.NewRegistry(project.RegistryConfig{
		MaxWorkspaces: cfg.Server.MaxWorkspaces,
		IdleTimeout:   cfg.Server.WorkspaceIdleTimeout.Duration(),
		Logger:        logger,
		Server:        cfg,
		LogHandler:    handler,
		Transport:     transportName(o.httpAddr),
	})
	deps := &tools.Deps{
		Projects: registry, Resolver: resolver, Config: cfg, ConfigFiles: files,
		Logger: logger, Version: serverVersion(), ReadOnly: o.readOnly,
	}
	var toolsets []string
	if o.toolsets != "" {
		choice := strings.Split(o.toolsets, ",")
		for i := range choice {
			choice[i] = strings.TrimSpace(choice[i])
		}
		if err := workspace.CheckToolsets("--toolsets", choice); err != nil {
			logger.Error(err.Error())
			return 2
		}
		toolsets = choice
	} else {
		toolsets = cfg.Server.Toolsets
	}
	s := newServer(deps, o.validateOut, toolsets, broken)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if o.httpAddr != "" {
		return serveHTTP(ctx, s, registry, resolver, cfg, o, token, logger)
	}

	logger.Info("serving MCP over stdio", "version", serverVersion(), "read_only", o.readOnly,
		"config_files", files, "allow_roots", []string(o.allowRoots))
	stdio := server.NewStdioServer(s)
	stdio.SetErrorLogger(log.New(stderr, "mcp: ", 0))
	server.WithWorkerPoolSize(o.workers)(stdio)
	server.WithQueueSize(1000)(stdio)
	// mcp-go reads whole lines: bound them before it sees them.
	in, out := transport.LimitStdio(stdin, stdout, o.maxMessage, logger)
	serveErr := stdio.Listen(ctx, in, out)

	// stdin closed, or a signal: close every pool (SQLite checkpoints its WAL).
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	closeErr := registry.Close(shutdownCtx)
	if closeErr != nil {
		logger.Error("closing the pools", "err", closeErr)
	}
	if serveErr != nil && !errors.Is(serveErr, context.Canceled) && !errors.Is(serveErr, io.EOF) {
		logger.Error("stdio transport stopped", "err", serveErr)
		return 1
	}
	logger.Info("stopped", "reason", stopReason(ctx))
	if closeErr != nil {
		return 1
	}
	return 0
}

// serveHTTP serves MCP over Streamable HTTP until a signal, then shuts down
// gracefully (in-flight calls finish) and closes every pool.
func serveHTTP(ctx context.Context, s *server.MCPServer, registry *project.Registry, resolver *workspace.Resolver, cfg workspace.Config, o options, token workspace.Secret, logger *slog.Logger) int {
	// The board at /board: a token holder asks for a one-time link to a
	// project under --allow-root (docs/users/board.md).
	b := board.New(board.Options{Registry: registry, Base: "/board", AllowEdits: o.boardEdits, Logger: logger, Version: serverVersion()})
	defer b.Close()
	ts, err := transport.New(s, transport.Options{
		Board: b, BoardRoot: func(path string) (workspace.Root, error) { return resolver.Resolve(path, nil) },
		Addr: o.httpAddr, AuthToken: token, AuthTokensFile: o.tokensFile, AllowedOrigins: o.origins, AllowedHosts: o.hosts,
		SessionIdleTimeout: o.sessionIdle, MaxBodyBytes: int64(o.maxMessage),
		Security: cfg.Security, Pools: func() []pooling.Metrics { return registry.Metrics("") }, Logger: logger,
	})
	if err != nil {
		logger.Error("cannot serve HTTP", "err", err)
		return 2
	}
	s.Use(ts.ToolMiddleware())
	logger.Info("serving MCP over Streamable HTTP", "addr", o.httpAddr, "endpoint", "/mcp", "version", serverVersion(),
		"allow_roots", []string(o.allowRoots), "auth", token != "" || o.tokensFile != "")
	// The board's event streams end before the HTTP server waits for its
	// requests to finish.
	stopBoard := context.AfterFunc(ctx, b.Close)
	defer stopBoard()
	serveErr := ts.ListenAndServe(ctx)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	closeErr := registry.Close(shutdownCtx)
	if serveErr != nil {
		logger.Error("HTTP transport stopped", "err", serveErr)
		return 1
	}
	if closeErr != nil {
		logger.Error("closing the pools", "err", closeErr)
		return 1
	}
	logger.Info("stopped", "reason", stopReason(ctx))
	return 0
}

func stopReason(ctx context.Context) string {
	if ctx.Err() != nil {
		return "signal"
	}
	return "stdin closed"
}

// brokenConfigMessage is the one answer of a server started on a broken global
// config: every problem doctor would report, each with its file, line and fix.
func brokenConfigMessage(problems []string) string {
	return "The global configuration is not valid, so this server runs no tool until it is fixed and the server restarted " +
		"(mcp-task-orchestrator doctor checks it): " + strings.Join(problems, " ")
}

// newServer builds the MCP server with every tool registered.
// toolsets is --toolsets or server.toolsets (nil: the default set-up).
// broken, when not empty, is the answer to every tool call and resource read
// (the global config is not valid).
func newServer(deps *tools.Deps, validateOutput bool, toolsets []string, broken string) *server.MCPServer {
	hooks := &server.Hooks{}
	hooks.AddOnUnregisterSession(func(_ context.Context, session server.ClientSession) {
		deps.ForgetRoots(session.SessionID())
	})
	completions := tools.NewCompletions(deps)
	opts := []server.ServerOption{
		server.WithInstructions(tools.Instructions),
		server.WithToolCapabilities(true),            // listChanged: the toolsets follow the config
		server.WithResourceCapabilities(true, false), // subscribe: tools.Subscriptions
		server.WithPromptCapabilities(false),
		server.WithHooks(hooks),
		// Warnings reach clients as log messages (docs/users/notifications.md).
		server.WithLogging(),
		server.WithCompletions(),
		server.WithPromptCompletionProvider(completions),
		server.WithResourceCompletionProvider(completions),
	}
	if validateOutput {
		// Results are typed Go structs whose schemas are generated from the same
		// types, so production skips this per-call check; the tests keep it on.
		opts = append(opts, server.WithOutputSchemaValidation())
	}
	if broken != "" {
		opts = append(opts,
			server.WithToolHandlerMiddleware(func(server.ToolHandlerFunc) server.ToolHandlerFunc {
				return func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
					return mcp.NewToolResultError(broken), nil
				}
			}),
			server.WithResourceHandlerMiddleware(func(server.ResourceHandlerFunc) server.ResourceHandlerFunc {
				return func(context.Context, mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
					return nil, errors.New(broken)
				}
			}))
	}
	s := server.NewMCPServer("mcp-task-orchestrator", serverVersion(), opts...)
	// The client log: hooks are read when they run, so adding them after
	// NewMCPServer is in time for the first session.
	deps.ClientLog = tools.NewClientLog(s, deps.Logger)
	hooks.AddOnRegisterSession(deps.ClientLog.SessionStarted)
	hooks.AddAfterInitialize(deps.ClientLog.SessionInitialized)
	hooks.AddOnUnregisterSession(deps.ClientLog.SessionEnded)
	deps.Projects.OnEvent(deps.ClientLog.Event)
	// Resource subscriptions: kept by the hooks (mcp-go's sessions keep none);
	// the registry's Close stops their watchers with the projects.
	tools.NewSubscriptions(deps).Hook(hooks, s)
	tools.HookResourceAddresses(hooks)
	s.AddNotificationHandler(string(mcp.MethodNotificationRootsListChanged), func(ctx context.Context, _ mcp.JSONRPCNotification) {
		if session := server.ClientSessionFromContext(ctx); session != nil {
			deps.ForgetRoots(session.SessionID())
		}
	})
	tools.New(deps).RegisterSelected(s, deps.ReadOnly, toolsets, deps.Config)
	resources, templates := tools.Resources(deps)
	s.AddResources(resources...)
	s.AddResourceTemplates(templates...)
	s.AddPrompts(tools.Prompts()...)
	return s
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

// transportName says how this process serves MCP, in its presence file (status shows it).
func transportName(httpAddr string) string {
	if httpAddr != "" {
		return "http " + httpAddr
	}
	return "stdio"
}
