package tools

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/chroma"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/neo4j"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/mirror"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// PoolView is one pool's metrics as pool_status shows them.
type PoolView struct {
	Name          string `json:"name"`
	Backend       string `json:"backend" jsonschema:"operational, vector or graph"`
	State         string `json:"state" jsonschema:"healthy, degraded, down, not configured or closed"`
	Total         int    `json:"total"`
	InUse         int    `json:"in_use"`
	Idle          int    `json:"idle"`
	Waiting       int    `json:"waiting"`
	OverflowInUse int    `json:"overflow_in_use"`
	Max           int    `json:"max"`
	Acquires      int64  `json:"acquires"`
	AcquireWaitMs struct {
		P50 float64 `json:"p50"`
		P99 float64 `json:"p99"`
	} `json:"acquire_wait_ms"`
	Timeouts     int64   `json:"timeouts"`
	Created      int64   `json:"created"`
	Closed       int64   `json:"closed"`
	Recycled     int64   `json:"recycled"`
	PingFailures int64   `json:"ping_failures"`
	Errors       int64   `json:"errors"`
	Leaks        int64   `json:"leaks"`
	LastError    string  `json:"last_error,omitempty"`
	RetryAfterMs float64 `json:"retry_after_ms,omitempty"`
	Note         string  `json:"note,omitempty"`
}

// WorkspacePools lists one project's pools.
type WorkspacePools struct {
	Root  string     `json:"root"`
	Open  bool       `json:"open"`
	Pools []PoolView `json:"pools"`
	// Mirrors are the copies of the project's tasks in Chroma and Neo4j, fed
	// from SQLite's outbox: how far behind each one is.
	Mirrors []mirror.Status `json:"mirrors"`
}

// PoolStatusResult is pool_status's answer.
type PoolStatusResult struct {
	Workspaces []WorkspacePools `json:"workspaces"`
}

type poolStatusArgs struct {
	Workspace string `json:"workspace,omitempty"`
	All       bool   `json:"all,omitempty" jsonschema:"Every open project"`
}

type workspaceInfoArgs struct {
	Workspace string `json:"workspace,omitempty"`
}

// BackendInfo says whether and how a database is configured for the project.
type BackendInfo struct {
	Backend    string `json:"backend"`
	Database   string `json:"database"`
	Configured bool   `json:"configured"`
	Enabled    bool   `json:"enabled"`
	Open       bool   `json:"open"`
	Mode       string `json:"mode"`
	Detail     string `json:"detail"`
}

// WorkspaceInfoResult is workspace_info's answer.
type WorkspaceInfoResult struct {
	Root        string `json:"root"`
	ProjectID   string `json:"project_id,omitempty"`
	Source      string `json:"source" jsonschema:"argument, roots, env or cwd"`
	Marker      string `json:"marker" jsonschema:".git, go.mod, ...: what decided the root"`
	Initialized bool   `json:"initialized" jsonschema:".task_orchestrator/ exists"`
	Paths       struct {
		Dir       string `json:"dir"`
		Databases string `json:"databases"`
		TasksDB   string `json:"tasks_db"`
		Artifacts string `json:"artifacts"`
		Configs   string `json:"configs"`
		Logs      string `json:"logs"`
	} `json:"paths"`
	ConfigFiles   []string               `json:"config_files"`
	ConfigError   string                 `json:"config_error,omitempty"`
	Backends      []BackendInfo          `json:"backends"`
	Operational   workspace.PoolSettings `json:"operational_pool"`
	ReadOnly      bool                   `json:"read_only"`
	ServerVersion string                 `json:"server_version"`
}

func viewOf(m pooling.Metrics) PoolView {
	v := PoolView{
		Name: m.Name, Backend: m.Backend, State: string(m.State),
		Total: m.Total, InUse: m.InUse, Idle: m.Idle, Waiting: m.Waiting, OverflowInUse: m.OverflowInUse, Max: m.Max,
		Acquires: m.Acquires, Timeouts: m.Timeouts, Created: m.Created, Closed: m.Closed, Recycled: m.Recycled,
		PingFailures: m.PingFailures, Errors: m.Errors, Leaks: m.Leaks,
		LastError: workspace.Redact(m.LastError), RetryAfterMs: ms(m.RetryAfter.Seconds()),
	}
	v.AcquireWaitMs.P50 = ms(m.AcquireWaitP50.Seconds())
	v.AcquireWaitMs.P99 = ms(m.AcquireWaitP99.Seconds())
	return v
}

func ms(seconds float64) float64 { return float64(int64(seconds*1e6)) / 1e3 }

func (d *Deps) workspacePools(ctx context.Context, root string) WorkspacePools {
	wp := WorkspacePools{Root: root, Pools: []PoolView{}, Mirrors: d.mirrorStatus(ctx, root)}
	open := map[string]bool{}
	for _, m := range d.Projects.Metrics(root) {
		wp.Open = true
		open[m.Backend] = true
		wp.Pools = append(wp.Pools, viewOf(m))
	}
	if !open[BackendOperational] {
		wp.Pools = append(wp.Pools, PoolView{Name: workspace.DatabaseSQLite, Backend: BackendOperational, State: "not opened",
			Note: "opens on the first task call for this project"})
	}
	if !open[BackendVector] {
		mode, reason := chroma.Resolve(d.chromaOptions(root, workspace.LayoutFor(root), d.Config, nil))
		if mode == chroma.ModeNone {
			wp.Pools = append(wp.Pools, PoolView{Name: workspace.DatabaseChroma, Backend: BackendVector, State: string(pooling.StateNotConfigured), Note: reason})
		} else {
			wp.Pools = append(wp.Pools, PoolView{Name: workspace.DatabaseChroma, Backend: BackendVector, State: "not opened",
				Note: fmt.Sprintf("%s mode; opens on the first vector call (%s)", mode, reason)})
		}
	}
	if !open[BackendGraph] {
		mode, reason := neo4j.Resolve(d.neo4jOptions(root, workspace.LayoutFor(root), d.Config, nil))
		if mode == neo4j.ModeNone {
			wp.Pools = append(wp.Pools, PoolView{Name: workspace.DatabaseNeo4j, Backend: BackendGraph, State: string(pooling.StateNotConfigured), Note: reason})
		} else {
			wp.Pools = append(wp.Pools, PoolView{Name: workspace.DatabaseNeo4j, Backend: BackendGraph, State: "not opened",
				Note: fmt.Sprintf("%s mode; opens on the first graph call (%s)", mode, reason)})
		}
	}
	return wp
}

// mirrorStatus is the lag of the project's task mirrors. It never opens
// anything: a project whose task store is closed has no syncer running.
func (d *Deps) mirrorStatus(ctx context.Context, root string) []mirror.Status {
	if sy := d.Projects.Syncer(root); sy != nil {
		return sy.Status(ctx)
	}
	layout := workspace.LayoutFor(root)
	cfg := d.Config
	if pc, _, err := d.projectConfig(layout); err == nil {
		cfg = pc
	}
	out := []mirror.Status{}
	for _, m := range []struct {
		name       string
		configured func(string, workspace.Layout, workspace.Config) (bool, string)
	}{{mirror.Vector, d.Projects.VectorMirror}, {mirror.Graph, d.Projects.GraphMirror}} {
		st := mirror.Status{Mirror: m.name, State: "not opened", Note: "the syncer starts with the project's task store (on the first task call)"}
		if ok, why := m.configured(root, layout, cfg); !ok {
			st.State, st.Note = mirror.StateNotConfigured, why
		}
		out = append(out, st)
	}
	return out
}

// vectorInfo says whether and how the project reaches Chroma, without starting anything.
func (d *Deps) vectorInfo(root string, layout workspace.Layout, cfg workspace.Config) BackendInfo {
	mode, reason := chroma.Resolve(d.chromaOptions(root, layout, cfg, nil))
	bi := BackendInfo{Backend: BackendVector, Database: workspace.DatabaseChroma, Configured: mode != chroma.ModeNone,
		Enabled: cfg.DatabasePools.Vector.IsEnabled(), Mode: string(mode), Detail: reason}
	bi.Open = d.isOpen(root, BackendVector)
	emb := d.Config.Embeddings.Provider
	if emb == "" {
		emb = "none (callers send vectors)"
	} else if d.Config.Embeddings.Model != "" {
		emb += ":" + d.Config.Embeddings.Model
	}
	bi.Detail += "; embeddings: " + emb
	return bi
}

// isOpen reports whether the project's pools for backend are open.
func (d *Deps) isOpen(root, backend string) bool { return d.Projects.Open(root, backend) }

// graphInfo says whether and how the project reaches Neo4j, without starting anything.
func (d *Deps) graphInfo(root string, layout workspace.Layout, cfg workspace.Config) BackendInfo {
	mode, reason := neo4j.Resolve(d.neo4jOptions(root, layout, cfg, nil))
	bi := BackendInfo{Backend: BackendGraph, Database: workspace.DatabaseNeo4j, Configured: mode != neo4j.ModeNone,
		Enabled: cfg.DatabasePools.Graph.IsEnabled(), Mode: string(mode), Detail: reason}
	bi.Open = d.isOpen(root, BackendGraph)
	return bi
}

func poolStatus(d *Deps) server.ServerTool {
	tool := newTool("pool_status", "Pool status",
		"Pool health and metrics of this project (all=true: of every open project), and the task mirrors' lag. Opens nothing.",
		readHints, inputSchema[poolStatusArgs](), outputSchema[PoolStatusResult]())
	return server.ServerTool{Tool: tool, Handler: handle(d, tool.Name, func(ctx context.Context, c *call, a poolStatusArgs) (any, string, error) {
		res := PoolStatusResult{Workspaces: []WorkspacePools{}}
		if a.All {
			if a.Workspace != "" {
				return nil, "", badArg("pass either workspace or all=true, not both")
			}
			for _, ws := range d.Projects.Workspaces() {
				res.Workspaces = append(res.Workspaces, d.workspacePools(ctx, ws))
			}
			return res, fmt.Sprintf("%d open project(s)", len(res.Workspaces)), nil
		}
		root, err := c.workspace(ctx, a.Workspace)
		if err != nil {
			return nil, "", err
		}
		wp := d.workspacePools(ctx, root.Path)
		res.Workspaces = append(res.Workspaces, wp)
		text := root.Path + ": "
		for i, p := range wp.Pools {
			if i > 0 {
				text += ", "
			}
			text += fmt.Sprintf("%s %s %d/%d in use", p.Name, p.State, p.InUse, p.Max)
		}
		for _, m := range wp.Mirrors {
			text += fmt.Sprintf("; %s mirror %s", m.Mirror, m.State)
			if m.Pending > 0 {
				text += fmt.Sprintf(", %d pending (oldest %.0f ms)", m.Pending, m.OldestAgeMs)
			}
		}
		return res, text, nil
	})}
}

func workspaceInfo(d *Deps) server.ServerTool {
	tool := newTool("workspace_info", "Workspace info",
		"Which project a call resolves to and why, its paths, config files and databases. Creates nothing.",
		readHints, inputSchema[workspaceInfoArgs](), outputSchema[WorkspaceInfoResult]())
	return server.ServerTool{Tool: tool, Handler: handle(d, tool.Name, func(ctx context.Context, c *call, a workspaceInfoArgs) (any, string, error) {
		root, err := c.workspace(ctx, a.Workspace)
		if err != nil {
			return nil, "", err
		}
		layout := workspace.LayoutFor(root.Path)
		res := WorkspaceInfoResult{Root: root.Path, Source: string(root.Source), Marker: root.Marker,
			ReadOnly: d.ReadOnly, ServerVersion: d.Version, ConfigFiles: append([]string{}, d.ConfigFiles...)}
		if _, err := os.Stat(layout.Dir); err == nil {
			res.Initialized = true
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, "", err
		}
		res.Paths.Dir, res.Paths.Databases, res.Paths.Artifacts = layout.Dir, layout.Databases, layout.Artifacts
		res.Paths.Configs, res.Paths.Logs = layout.Configs, layout.Logs
		res.Paths.TasksDB = filepath.Join(layout.Databases, "tasks.db")
		cfg := d.Config
		if res.Initialized {
			// The id file is the project's (untrusted): read without following
			// links; a bad one is left out here and rewritten when the task
			// store opens.
			res.ProjectID, _ = workspace.ReadProjectID(layout)
			pc, file, err := d.projectConfig(layout)
			if err != nil {
				res.ConfigError = err.Error()
			} else {
				cfg = pc
				if file != "" {
					res.ConfigFiles = append(res.ConfigFiles, file)
				}
			}
		}
		res.Operational = cfg.DatabasePools.Operational
		open := d.isOpen(root.Path, BackendOperational)
		op := cfg.DatabasePools.Operational
		res.Backends = []BackendInfo{
			{Backend: BackendOperational, Database: workspace.DatabaseSQLite, Configured: true, Enabled: op.IsEnabled(), Open: open, Mode: "embedded",
				Detail: "SQLite file " + res.Paths.TasksDB + " (one writer, up to " + fmt.Sprint(op.MaxConnections) + " readers)"},
			d.vectorInfo(root.Path, layout, cfg),
			d.graphInfo(root.Path, layout, cfg),
		}
		text := fmt.Sprintf("Project %s (from %s", root.Path, root.Source)
		if root.Marker != "" {
			text += ", marker " + root.Marker
		}
		text += "); data in " + layout.Dir
		return res, text, nil
	})}
}
