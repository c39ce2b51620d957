package migrate

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// Options say what to migrate.
type Options struct {
	// Workspace is any path inside the project; "" = $TASK_ORCHESTRATOR_WORKSPACE,
	// else the working directory. The project root is found as the server finds it.
	Workspace string
	// From is the Python server's database; "" = <root>/.task_orchestrator/task_orchestrator.db.
	From string
	// DryRun reads everything and writes nothing.
	DryRun bool
	// ConfigPath is the global config (--config); "" = the default place.
	ConfigPath string
	// Logger gets the store's warnings; nil = discard.
	Logger *slog.Logger
}

// TaskLine is what happened to one task.
type TaskLine struct {
	ID, Kind, Title string
	PythonStatus    string // "-" for a task breakdown
	Status          string // ours
	Outcome         sqlite.ImportOutcome
	Diff            string
	Artifacts       int
}

// Report is the outcome of a run.
type Report struct {
	Root, From, Into string
	DryRun           bool
	Tasks            []TaskLine
	Created          int
	Unchanged        int
	Differ           int
	// Artifact files of the created tasks, by what was (or would be) done.
	ArtifactsCopied, ArtifactsInPlace, ArtifactsUnchanged int
	SkippedDeps                                           []sqlite.SkippedDependency
	Warnings                                              []string
}

// Run imports the Python server's tasks of one project into its task store.
func Run(ctx context.Context, o Options) (*Report, error) {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	start := o.Workspace
	if start != "" {
		abs, err := filepath.Abs(start)
		if err != nil {
			return nil, fmt.Errorf("--workspace %s: %w", start, err)
		}
		start = abs
	}
	root, err := (&workspace.Resolver{Logger: logger}).Resolve(start, nil)
	if err != nil {
		return nil, fmt.Errorf("%w (pass --workspace with the project folder)", err)
	}
	layout := workspace.LayoutFor(root.Path)
	from := o.From
	if from == "" {
		from = filepath.Join(layout.Dir, PythonDBName)
	}
	if from, err = filepath.Abs(from); err != nil {
		return nil, fmt.Errorf("--from %s: %w", o.From, err)
	}
	into := filepath.Join(layout.Databases, "tasks.db")
	if filepath.Clean(from) == into {
		return nil, fmt.Errorf("%s is this server's own task database, not the Python one; pass --from with the Python server's %s", from, PythonDBName)
	}

	cfg, _, err := workspace.LoadGlobal(workspace.LoadOptions{GlobalPath: o.ConfigPath})
	if err != nil {
		return nil, fmt.Errorf("the configuration is not valid; fix it and run migrate again: %w", err)
	}
	if _, err := os.Lstat(layout.Configs); err == nil {
		if cfg, _, err = workspace.ApplyProject(cfg, layout); err != nil {
			return nil, fmt.Errorf("the project configuration is not valid; fix it and run migrate again: %w", err)
		}
	}

	py, err := readPython(ctx, from)
	if err != nil {
		return nil, err
	}
	p, err := buildPlan(py)
	if err != nil {
		return nil, err
	}
	arts, warns := findArtifacts(py, layout, cfg.Security.MaxArtifactBytes)
	p.Warnings = append(p.Warnings, warns...)
	for i := range p.Tasks {
		for _, c := range arts[p.Tasks[i].ID] {
			p.Tasks[i].Artifacts = append(p.Tasks[i].Artifacts, c.Record)
		}
	}
	rep := &Report{Root: root.Path, From: from, Into: into, DryRun: o.DryRun, Warnings: p.Warnings}

	storeOpts := sqlite.Options{
		Path:        into,
		Workspace:   root.Path,
		Settings:    cfg.DatabasePools.Operational,
		BusyTimeout: cfg.Server.SQLiteBusyTimeout.Duration(),
		Logger:      logger,
		MaxMetadata: cfg.Security.MaxMetadataBytes,
	}
	var res sqlite.ImportResult
	if o.DryRun {
		res, err = dryRun(ctx, storeOpts, p.Tasks)
	} else {
		res, err = importTasks(ctx, storeOpts, p.Tasks, arts)
	}
	if err != nil {
		return nil, err
	}
	rep.SkippedDeps = res.SkippedDeps
	for i, r := range res.Tasks {
		t := p.Tasks[i]
		rep.Tasks = append(rep.Tasks, TaskLine{ID: r.ID, Kind: p.Kinds[r.ID], Title: t.Title, PythonStatus: p.From[r.ID],
			Status: string(t.Status), Outcome: r.Outcome, Diff: r.Diff, Artifacts: len(t.Artifacts)})
		switch r.Outcome {
		case sqlite.ImportCreated:
			rep.Created++
			for _, c := range arts[r.ID] {
				switch c.State {
				case "copy":
					rep.ArtifactsCopied++
				case "in place":
					rep.ArtifactsInPlace++
				default:
					rep.ArtifactsUnchanged++
				}
			}
		case sqlite.ImportUnchanged:
			rep.Unchanged++
		case sqlite.ImportDiffers:
			rep.Differ++
		}
	}
	return rep, nil
}

// dryRun works out what Import would do without writing anything: with no
// task database yet, every task would be created.
func dryRun(ctx context.Context, opts sqlite.Options, tasks []sqlite.ImportTask) (sqlite.ImportResult, error) {
	if _, err := os.Stat(opts.Path); errors.Is(err, fs.ErrNotExist) {
		res := sqlite.ImportResult{}
		for _, t := range tasks {
			res.Tasks = append(res.Tasks, sqlite.ImportedTask{ID: t.ID, Outcome: sqlite.ImportCreated})
		}
		return res, nil
	}
	store, err := sqlite.Open(ctx, opts)
	if err != nil {
		return sqlite.ImportResult{}, fmt.Errorf("open the task database: %w", err)
	}
	defer store.Close(context.WithoutCancel(ctx))
	return store.PlanImport(ctx, tasks)
}

// importTasks copies the artifact files of the tasks that will be created,
// then imports every task in one transaction. If the import fails, the
// files it copied are removed again: nothing is left half-done.
func importTasks(ctx context.Context, opts sqlite.Options, tasks []sqlite.ImportTask, arts map[string][]artifactCopy) (res sqlite.ImportResult, err error) {
	layout, err := workspace.Ensure(opts.Workspace)
	if err != nil {
		return res, err
	}
	store, err := sqlite.Open(ctx, opts)
	if err != nil {
		return res, fmt.Errorf("open the task database: %w", err)
	}
	defer func() {
		if cerr := store.Close(context.WithoutCancel(ctx)); cerr != nil && err == nil {
			err = cerr
		}
	}()
	planned, err := store.PlanImport(ctx, tasks)
	if err != nil {
		return res, err
	}
	written := map[string][]string{} // task id -> files this run wrote
	undo := func(keep func(id string) bool) {
		for id, files := range written {
			if keep(id) {
				continue
			}
			for _, f := range files {
				_ = os.Remove(f)
			}
		}
	}
	maxBytes := int64(1<<63 - 1) // sizes were checked against the limit when planned
	for _, t := range planned.Tasks {
		if t.Outcome != sqlite.ImportCreated {
			continue
		}
		for _, c := range arts[t.ID] {
			if c.State != "copy" {
				continue
			}
			if _, err := workspace.WriteArtifact(layout, t.ID, c.Record.Name, c.content, maxBytes); err != nil {
				undo(func(string) bool { return false })
				return res, fmt.Errorf("copy the artifact %s of task %s: %w", c.Source, t.ID, err)
			}
			written[t.ID] = append(written[t.ID], c.Dest)
		}
	}
	res, err = store.Import(ctx, tasks)
	if err != nil {
		undo(func(string) bool { return false })
		return res, err
	}
	// A task that someone else created meanwhile was not imported: neither are its files.
	created := map[string]bool{}
	for _, t := range res.Tasks {
		if t.Outcome == sqlite.ImportCreated {
			created[t.ID] = true
		}
	}
	undo(func(id string) bool { return created[id] })
	return res, nil
}

const usage = `Usage: mcp-task-orchestrator migrate [--workspace DIR] [--from PATH] [--dry-run] [--config FILE]

Imports every task of a project that used the Python mcp-task-orchestrator (its SQLite file
<project>/.task_orchestrator/task_orchestrator.db, opened read-only) into this server's task store,
keeping ids, hierarchy, dependencies, status and artifacts. Running it again changes nothing.
See docs/users/migrating-from-python.md.

Flags:
`

// Main runs the migrate subcommand with the arguments after "migrate" and
// returns the exit code: 0 done, 1 failed, 2 bad usage.
func Main(args []string, stdout, stderr io.Writer) int {
	var o Options
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Workspace, "workspace", "", "the project (any path inside it); default $TASK_ORCHESTRATOR_WORKSPACE or the working directory")
	fs.StringVar(&o.From, "from", "", "the Python server's database (default <project>/.task_orchestrator/task_orchestrator.db)")
	fs.BoolVar(&o.DryRun, "dry-run", false, "show what would be imported and write nothing")
	fs.StringVar(&o.ConfigPath, "config", "", "global config file (default $XDG_CONFIG_HOME/task-orchestrator/config.json)")
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "migrate: unexpected argument %q (see --help)\n", fs.Arg(0))
		return 2
	}
	o.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := Run(ctx, o)
	if err != nil {
		fmt.Fprintln(stderr, "migrate:", err)
		return 1
	}
	printReport(stdout, rep)
	return 0
}

func printReport(w io.Writer, r *Report) {
	// stdout-ok: migrate is a command for a person, not the MCP server; its report is its output.
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("Project:     %s\n", r.Root)
	p("Python data: %s\n", r.From)
	p("Task store:  %s\n", r.Into)
	if r.DryRun {
		p("Dry run: nothing is written.\n")
	}
	p("\n")
	verb := map[sqlite.ImportOutcome]string{sqlite.ImportCreated: "created", sqlite.ImportUnchanged: "unchanged", sqlite.ImportDiffers: "differs"}
	if r.DryRun {
		verb[sqlite.ImportCreated] = "would create"
	}
	for _, t := range r.Tasks {
		from := t.PythonStatus
		if t.Kind == "task" {
			from = "task"
		}
		p("  %-12s %-24s %-9s %-14s %s", verb[t.Outcome], t.ID, from, "-> "+t.Status, clip(t.Title, 60))
		if t.Artifacts > 0 {
			p(" [%d artifact(s)]", t.Artifacts)
		}
		p("\n")
		if t.Diff != "" {
			p("               left as it is: %s\n", t.Diff)
		}
	}
	if len(r.Tasks) == 0 {
		p("  (the Python database holds no tasks)\n")
	}
	if r.Created > 0 {
		art := "copied"
		if r.DryRun {
			art = "to copy"
		}
		p("\nArtifact files of the new tasks: %d %s, %d already in place, %d already copied\n",
			r.ArtifactsCopied, art, r.ArtifactsInPlace, r.ArtifactsUnchanged)
	}
	for _, d := range r.SkippedDeps {
		p("Dependency %s -> %s left out: it would close the cycle %v\n", d.TaskID, d.DependsOn, d.Path)
	}
	if len(r.Warnings) > 0 {
		p("\nNot carried over (%d):\n", len(r.Warnings))
		for _, w := range r.Warnings {
			p("  - %s\n", w)
		}
	}
	p("\n")
	if r.DryRun {
		p("Dry run: %d to create, %d unchanged", r.Created, r.Unchanged)
	} else {
		p("%d created, %d unchanged", r.Created, r.Unchanged)
	}
	if r.Differ > 0 {
		p(", %d differ (left as they are)", r.Differ)
	}
	p("\n")
}
