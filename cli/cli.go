// Package cli holds the subcommands a person runs by hand, beside the MCP
// server: doctor (what is wrong with this machine's set-up and how to fix it)
// and status (the pools at a glance, refreshing in the terminal).
//
// Unlike the server, these commands own their standard output: it is where
// their report goes. Every such write is marked "stdout-ok". They never print a
// credential: every secret of the configuration is masked before output.
//
// The package sits beside main: it may use workspace, pooling, the adapters
// and the tools' result types, and nothing below it may import it.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// Env is what a subcommand gets from main: where to write and what it is.
type Env struct {
	Stdout io.Writer // the report (stdout-ok: a CLI subcommand, not the MCP server)
	Stderr io.Writer // usage and failures to run at all
	// Version of this binary, shown in reports.
	Version string
	// Getenv reads the environment; nil = os.Getenv.
	Getenv func(string) string
	// Executable is this binary's absolute path; nil = os.Executable.
	Executable func() (string, error)
}

func (e Env) getenv(name string) string {
	if e.Getenv != nil {
		return e.Getenv(name)
	}
	return os.Getenv(name)
}

func (e Env) executable() (string, error) {
	if e.Executable != nil {
		return e.Executable()
	}
	return os.Executable()
}

// Exit codes shared by the subcommands.
const (
	ExitOK      = 0 // nothing is broken
	ExitProblem = 1 // doctor found an error; status could not read its source
	ExitUsage   = 2 // bad flags
)

// parse parses args with fs, writing usage to stderr; it refuses stray arguments.
// It returns (code, true) when the command should stop with code.
func parse(fs *flag.FlagSet, args []string, stderr io.Writer) (int, bool) {
	fs.SetOutput(stderr)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK, true
	}
	if err == nil && fs.NArg() > 0 {
		err = fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
		fmt.Fprintln(stderr, "mcp-task-orchestrator "+fs.Name()+":", err)
	}
	if err != nil {
		return ExitUsage, true
	}
	return 0, false
}

// masker hides every secret of a configuration in text meant for a person.
type masker []string

func newMasker(cfg workspace.Config, getenv func(string) string) masker {
	var m masker
	for _, s := range []string{cfg.Backends.Neo4jPassword.Reveal(), cfg.Backends.ChromaToken.Reveal()} {
		if strings.TrimSpace(s) != "" {
			m = append(m, s)
		}
	}
	if env := strings.TrimSpace(cfg.Embeddings.APIKeyEnv); env != "" {
		if v := getenv(env); strings.TrimSpace(v) != "" {
			m = append(m, v)
		}
	}
	if v := getenv("OPENAI_API_KEY"); strings.TrimSpace(v) != "" {
		m = append(m, v)
	}
	return m
}

// mask hides the configuration's secrets and, through workspace.Redact,
// credentials inside URLs and key=value text (a password in NEO4J_URI is no
// configured secret, so only Redact finds it).
func (m masker) mask(s string) string { return workspace.Redact(m.maskSecrets(s)) }

// maskSecrets hides only the configuration's secrets, for text whose URLs
// were redacted when it was built and whose placeholders
// (NEO4J_PASSWORD=<your NEO4J_PASSWORD>) Redact would mangle.
func (m masker) maskSecrets(s string) string {
	for _, secret := range m {
		s = strings.ReplaceAll(s, secret, "****")
	}
	return s
}
