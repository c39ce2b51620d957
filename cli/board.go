package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/lmittmann/tint"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/board"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/project"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/transport"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// boardActor is who the board command's edits are recorded as.
const boardActor = "human:board"

type boardOptions struct {
	workspace  string
	addr       string
	config     string
	open       bool
	allowEdits bool
}

// Board serves one project's board (package board) on a loopback address
// until Ctrl-C, and prints a one-time link to it.
func Board(args []string, env Env) int {
	var o boardOptions
	fs := flag.NewFlagSet("board", flag.ContinueOnError)
	fs.StringVar(&o.workspace, "workspace", "", "a folder inside the project (default: $TASK_ORCHESTRATOR_WORKSPACE, else the working directory)")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:0", "loopback address to serve on (port 0 = any free port)")
	fs.StringVar(&o.config, "config", "", "the global config file (default $XDG_CONFIG_HOME/task-orchestrator/config.json)")
	fs.BoolVar(&o.open, "open", false, "open the link in the default browser")
	fs.BoolVar(&o.allowEdits, "allow-edits", false, "let the page release a claim, cancel a task and re-run reconcile (recorded as human:board)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: mcp-task-orchestrator board [--workspace DIR] [--addr 127.0.0.1:PORT] [--open] [--allow-edits]

Serves the project's board for a person: tasks by status, the dependency graph of the open work, who holds
what, the pools' health and the recent history, updated live as agents work (in any server process of the
project). It prints a link that works once: it sets a cookie in the browser that opens it. Read-only unless
--allow-edits. Loopback only: to show a board beyond this machine, use the HTTP server (docs/users/board.md).

Flags:
`)
		fs.PrintDefaults()
	}
	if code, stop := parse(fs, args, env.Stderr); stop {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(env.Stderr, "mcp-task-orchestrator board: "+format+"\n", a...)
		return ExitUsage
	}
	host, _, err := net.SplitHostPort(o.addr)
	if err != nil {
		return fail("--addr %q is not host:port; use e.g. --addr 127.0.0.1:8770", o.addr)
	}
	if !transport.IsLoopbackName(host) {
		return fail("--addr %q reaches other machines, and the board command serves this machine only; "+
			"to show the board elsewhere, run the HTTP server with a token (--http ADDR --auth-token-file FILE) and ask it for a link (docs/users/board.md)", o.addr)
	}
	cfg, _, err := workspace.LoadGlobal(workspace.LoadOptions{GlobalPath: o.config})
	if err != nil {
		return fail("the global configuration is not valid (mcp-task-orchestrator doctor says why and how to fix it): %s", workspace.Redact(err.Error()))
	}
	resolver := &workspace.Resolver{}
	root, err := resolver.Resolve(o.workspace, nil)
	if err != nil {
		return fail("%s", workspace.Redact(err.Error()))
	}

	handler := tint.NewHandler(env.Stderr, &tint.Options{Level: slog.LevelInfo, TimeFormat: time.TimeOnly, NoColor: true})
	logger := slog.New(handler)
	registry := project.NewRegistry(project.RegistryConfig{
		MaxWorkspaces: 1,
		IdleTimeout:   cfg.Server.WorkspaceIdleTimeout.Duration(),
		Logger:        logger,
		Server:        cfg,
		LogHandler:    handler,
		Transport:     "board",
	})
	b := board.New(board.Options{Registry: registry, AllowEdits: o.allowEdits, Logger: logger, Version: env.Version})

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := serveBoard(ctx, b, root, o, env, logger)

	b.Close()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := registry.Close(shutdownCtx); err != nil {
		logger.Error("closing the project", "err", err)
		return ExitProblem
	}
	return code
}

// serveBoard listens, prints the link and serves until ctx ends.
func serveBoard(ctx context.Context, b *board.Board, root workspace.Root, o boardOptions, env Env, logger *slog.Logger) int {
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		fmt.Fprintf(env.Stderr, "mcp-task-orchestrator board: cannot listen on %s: %v (is another process using the port? try --addr 127.0.0.1:0)\n", o.addr, err)
		return ExitProblem
	}
	link, err := b.Link(root, boardActor)
	if err != nil {
		ln.Close()
		fmt.Fprintf(env.Stderr, "mcp-task-orchestrator board: %v\n", err)
		return ExitProblem
	}
	url := "http://" + ln.Addr().String() + link
	fmt.Fprintln(env.Stdout, url) // stdout-ok: the board command's one output is its link
	mode := "read-only"
	if o.allowEdits {
		mode = "edits allowed (recorded as " + boardActor + ")"
	}
	logger.Info("board of "+root.Path+": open the link above in a browser; it works once (run board again for another browser); Ctrl-C stops",
		"mode", mode)
	if o.open {
		openBrowser(url, logger)
	}
	srv := &http.Server{Handler: b.Handler(), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		fmt.Fprintf(env.Stderr, "mcp-task-orchestrator board: the server stopped: %v\n", err)
		return ExitProblem
	case <-ctx.Done():
	}
	// Event streams never end by themselves: the board closes them first.
	b.Close()
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		_ = srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Warn("board: serving ended", "err", err)
	}
	logger.Info("board stopped")
	return ExitOK
}

// openBrowser asks the desktop to open url; failing that, the link printed
// above is enough.
func openBrowser(url string, logger *slog.Logger) {
	name := "xdg-open"
	if runtime.GOOS == "darwin" {
		name = "open"
	}
	cmd := exec.Command(name, url)
	if err := cmd.Start(); err != nil {
		logger.Warn("could not open a browser; open the link above yourself", "err", err)
		return
	}
	go func() { _ = cmd.Wait() }()
}
