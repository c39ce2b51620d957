package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// Level says how bad a finding is.
type Level string

// The levels of a finding. Only errors make doctor exit non-zero.
const (
	LevelOK      Level = "ok"
	LevelWarning Level = "warning" // works, but probably not as the user meant
	LevelError   Level = "error"   // broken: a tool call would fail
)

// Finding is one thing doctor checked.
type Finding struct {
	Check  string `json:"check"`         // what was checked: "project root", "graph (Neo4j)", …
	Level  Level  `json:"level"`         // ok, warning or error
	Detail string `json:"detail"`        // what was found
	Fix    string `json:"fix,omitempty"` // what to do, in one line; empty when ok
}

// Report is everything doctor found; --json prints it as is.
type Report struct {
	Version      string       `json:"version"`
	Findings     []Finding    `json:"findings"`
	ClientConfig ClientConfig `json:"client_config"`
	Errors       int          `json:"errors"`
	Warnings     int          `json:"warnings"`
}

func (r *Report) add(f Finding) {
	r.Findings = append(r.Findings, f)
	switch f.Level {
	case LevelError:
		r.Errors++
	case LevelWarning:
		r.Warnings++
	}
}

func ok(check, detail string) Finding { return Finding{Check: check, Level: LevelOK, Detail: detail} }

func warn(check, detail, fix string) Finding {
	return Finding{Check: check, Level: LevelWarning, Detail: detail, Fix: fix}
}

func fail(check, detail, fix string) Finding {
	return Finding{Check: check, Level: LevelError, Detail: detail, Fix: fix}
}

// doctorOptions are doctor's flags.
type doctorOptions struct {
	workspace  string
	configPath string
	jsonOut    bool
	timeout    time.Duration
	allowRoots stringList
}

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// Doctor checks everything a user of this machine can get wrong — project
// root, data folder, config files, each configured database, the embedding
// provider, managed-server executables — and prints each finding with its fix,
// then the MCP client configuration for this binary. It exits 1 if anything is
// an error, 0 otherwise. It creates and changes nothing.
func Doctor(args []string, env Env) int {
	var o doctorOptions
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.StringVar(&o.workspace, "workspace", "", "a folder inside the project to check (default: $"+workspace.EnvWorkspace+", else the working directory)")
	fs.StringVar(&o.configPath, "config", "", "the global config file the server is started with (default $XDG_CONFIG_HOME/task-orchestrator/config.json)")
	fs.Var(&o.allowRoots, "allow-root", "the --allow-root trees the server is started with (repeatable): the project must be inside one")
	fs.BoolVar(&o.jsonOut, "json", false, "print the report as JSON")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Second, "how long each database may take to answer")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: mcp-task-orchestrator doctor [--workspace DIR] [--config FILE] [--allow-root DIR]... [--json]

Checks the set-up the server would use for a project: which project root it picks and why, the
.task_orchestrator/ folder, every config file, each configured database (and whether it answers),
the embedding provider and the managed-server executables. Prints each finding (ok, warning, error)
with its fix, and the MCP client configuration for this binary. Exits 1 if anything is an error.
Creates and changes nothing.

Flags:
`)
		fs.PrintDefaults()
	}
	if code, stop := parse(fs, args, env.Stderr); stop {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, m := diagnose(ctx, o, env)
	for i := range rep.Findings {
		f := &rep.Findings[i]
		f.Detail, f.Fix = m.mask(f.Detail), m.mask(f.Fix)
	}
	// The snippets' URLs were redacted as they were built (clientConfig).
	cc := &rep.ClientConfig
	cc.ClaudeDesktopJSON, cc.ClaudeCode = m.maskSecrets(cc.ClaudeDesktopJSON), m.maskSecrets(cc.ClaudeCode)
	for i := range cc.Notes {
		cc.Notes[i] = m.mask(cc.Notes[i])
	}
	if o.jsonOut {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			fmt.Fprintln(env.Stderr, "mcp-task-orchestrator doctor:", err)
			return ExitProblem
		}
		fmt.Fprintln(env.Stdout, m.maskSecrets(string(b))) // stdout-ok: doctor's report
	} else {
		writeReport(env.Stdout, rep)
	}
	if rep.Errors > 0 {
		return ExitProblem
	}
	return ExitOK
}

// diagnose runs every check in the order a user would fix them: later checks
// use what earlier ones established (the config, the root).
func diagnose(ctx context.Context, o doctorOptions, env Env) (Report, masker) {
	rep := Report{Version: env.Version, Findings: []Finding{}}
	cfg, globalFile, broken := checkGlobalConfig(&rep, o.configPath, env)
	m := newMasker(cfg, env.getenv)

	exe := checkBinary(&rep, env)
	root, rootOK := checkRoot(&rep, o.workspace, o.allowRoots, env)
	if rootOK {
		layout := workspace.LayoutFor(root.Path)
		checkLayout(&rep, layout)
		cfg = checkProjectConfig(&rep, cfg, layout, globalFile)
		checkTasksDB(ctx, &rep, layout, cfg)
	}
	probe := probe{ctx: ctx, timeout: o.timeout, getenv: env.getenv}
	if broken {
		probe.brokenGlobal = globalFile
	}
	vec := probe.vector(&rep, root.Path, cfg)
	probe.graph(&rep, root.Path, cfg)
	probe.embeddings(&rep, cfg)
	checkSnippets(&rep, exe, root.Path, env)
	rep.ClientConfig = clientConfig(exe, o.configPath, root.Path, o.allowRoots, cfg, vec, env)
	return rep, m
}

// writeReport prints the findings, one block each, then the client snippet.
func writeReport(w io.Writer, rep Report) {
	var b strings.Builder
	fmt.Fprintf(&b, "mcp-task-orchestrator doctor %s\n\n", rep.Version)
	width := 0
	for _, f := range rep.Findings {
		width = max(width, len(f.Check))
	}
	for _, f := range rep.Findings {
		fmt.Fprintf(&b, "%-7s %-*s  %s\n", f.Level, width, f.Check, f.Detail)
		if f.Fix != "" {
			fmt.Fprintf(&b, "%-7s %-*s  fix: %s\n", "", width, "", f.Fix)
		}
	}
	cc := rep.ClientConfig
	fmt.Fprintf(&b, "\nClaude Desktop: add this to %s\n%s\n", cc.ClaudeDesktopFile, cc.ClaudeDesktopJSON)
	fmt.Fprintf(&b, "\nClaude Code:\n  %s\n", cc.ClaudeCode)
	fmt.Fprintf(&b, "\nA .mcp.json to commit at the project's root (every teammate installs mcp-task-orchestrator on PATH):\n%s\n", cc.TeamJSON)
	if len(cc.Notes) > 0 {
		b.WriteString("\n")
		for _, n := range cc.Notes {
			fmt.Fprintf(&b, "note: %s\n", n)
		}
	}
	fmt.Fprintf(&b, "\n%s, %s.\n", plural(rep.Errors, "error"), plural(rep.Warnings, "warning"))
	io.WriteString(w, b.String()) // stdout-ok: doctor's report
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
