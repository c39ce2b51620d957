package tools

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// hints are a tool's four annotations, all stated on purpose.
type hints struct {
	readOnly, destructive, idempotent, openWorld bool
}

var (
	// readHints: reads the project's own database; changes nothing.
	readHints = hints{readOnly: true, destructive: false, idempotent: true, openWorld: false}
	// additiveWrite: adds or changes rows; never removes what it did not create.
	additiveWrite = hints{readOnly: false, destructive: false, idempotent: false, openWorld: false}
)

// newTool builds a tool definition with every annotation stated: a hint is
// written only where it differs from the MCP default a client assumes
// (readOnlyHint false, destructiveHint true, idempotentHint false,
// openWorldHint true), and destructive/idempotent not at all on a read-only
// tool, for which the specification gives them no meaning. That says the same
// as writing all four (mcp.NewTool presets destructive/open-world, which would
// lie for most tools) in a third of the bytes every agent pays in tools/list.
func newTool(name, title, description string, h hints, opts ...mcp.ToolOption) mcp.Tool {
	a := mcp.ToolAnnotation{Title: title}
	if h.readOnly {
		a.ReadOnlyHint = mcp.ToBoolPtr(true)
	} else {
		if !h.destructive {
			a.DestructiveHint = mcp.ToBoolPtr(false)
		}
		if h.idempotent {
			a.IdempotentHint = mcp.ToBoolPtr(true)
		}
	}
	if !h.openWorld {
		a.OpenWorldHint = mcp.ToBoolPtr(false)
	}
	all := append([]mcp.ToolOption{mcp.WithDescription(description), mcp.WithToolAnnotation(a)}, opts...)
	return mcp.NewTool(name, all...)
}

// Hints reads a tool's annotations with the MCP defaults filled in where a
// hint is left out (a read-only tool is never destructive).
func Hints(a mcp.ToolAnnotation) (readOnly, destructive, idempotent, openWorld bool) {
	get := func(p *bool, def bool) bool {
		if p == nil {
			return def
		}
		return *p
	}
	readOnly = get(a.ReadOnlyHint, false)
	return readOnly, !readOnly && get(a.DestructiveHint, true), get(a.IdempotentHint, readOnly), get(a.OpenWorldHint, true)
}

// Toolset keeps read tools and write tools apart, so that a tool's read-only
// annotation always matches the list it is registered from.
type Toolset struct {
	read, write []server.ServerTool
	deps        *Deps // for toolset_enable, the dynamic mode's tool
}

// AddRead adds read-only tools. A tool that is not annotated read-only is a
// programming error and panics at start-up.
func (ts *Toolset) AddRead(tools ...server.ServerTool) {
	for _, t := range tools {
		if ro, destructive, _, _ := Hints(t.Tool.Annotations); !ro || destructive {
			panic(fmt.Sprintf("tools: %s is in the read list but is not annotated read-only and non-destructive", t.Tool.Name))
		}
		ts.read = append(ts.read, validated(lean(t)))
	}
}

// AddWrite adds tools that change data. A write tool annotated read-only panics.
func (ts *Toolset) AddWrite(tools ...server.ServerTool) {
	for _, t := range tools {
		if ro, _, _, _ := Hints(t.Tool.Annotations); ro {
			panic(fmt.Sprintf("tools: %s is in the write list but is annotated read-only", t.Tool.Name))
		}
		ts.write = append(ts.write, validated(lean(t)))
	}
}

// lean gives t its lean output schema and plain input types (schema.go).
func lean(t server.ServerTool) server.ServerTool {
	if built, ok := withBuiltSchemas(t.Tool); ok {
		t.Tool = built
		return t
	}
	t.Tool = plainInputSchema(leanOutputSchema(t.Tool))
	return t
}

// Tools returns the tools to serve: all of them, or only the read tools.
func (ts *Toolset) Tools(readOnly bool) []server.ServerTool {
	out := slices.Clone(ts.read)
	if !readOnly {
		out = append(out, ts.write...)
	}
	return out
}

// Register adds the toolset's tools to s.
func (ts *Toolset) Register(s *server.MCPServer, readOnly bool) {
	s.AddTools(ts.Tools(readOnly)...)
}

// The toolsets a server can list; see docs/users/context-and-toolsets.md.
const (
	ToolsetTasks        = "tasks"
	ToolsetCoordination = "coordination"
	ToolsetOps          = "ops"
	ToolsetVector       = "vector"
	ToolsetGraph        = "graph"
	// ToolsetsAll and ToolsetsDefault are the two names that stand for a choice.
	ToolsetsAll     = "all"
	ToolsetsDefault = "default"
)

// toolsetOf says which toolset a tool belongs to, by its name.
func toolsetOf(name string) string {
	switch {
	case strings.HasPrefix(name, "vector_"):
		return ToolsetVector
	case strings.HasPrefix(name, "graph_"):
		return ToolsetGraph
	case name == "task_graph" || name == "task_reconcile" || name == "task_similar" || name == "task_link":
		return ToolsetCoordination
	case name == "pool_status" || name == "workspace_info":
		return ToolsetOps
	default:
		return ToolsetTasks
	}
}

// RegisterSelected adds the tools of the chosen toolsets to s. choice is what
// --toolsets or server.toolsets said (nil or "default": the default set-up);
// cfg says which backends the server can reach. The default lists tasks,
// coordination and ops, and vector/graph (and task_similar/task_link, and
// task_reconcile, which rebuilds their mirrors) only where Chroma/Neo4j is
// configured for the server; a toolset named
// explicitly is listed whole, configured or not. It returns the tools' names.
func (ts *Toolset) RegisterSelected(s *server.MCPServer, readOnly bool, choice []string, cfg workspace.Config) []string {
	chroma, neo4j := workspace.ChromaConfigured(cfg), workspace.Neo4jConfigured(cfg)
	explicit := map[string]bool{}
	def := len(choice) == 0
	dyn := false
	for _, c := range choice {
		switch c {
		case ToolsetsDynamic:
			dyn = true
		case ToolsetsAll:
			for _, n := range workspace.ToolsetNames() {
				explicit[n] = true
			}
		case ToolsetsDefault:
			def = true
		default:
			explicit[c] = true
		}
	}
	var picked []server.ServerTool
	var names []string
	for _, t := range ts.Tools(readOnly) {
		name := t.Tool.Name
		set := toolsetOf(name)
		ok := explicit[set] || set == ToolsetTasks
		if !ok && def && !dyn {
			switch {
			case name == "task_similar" || set == ToolsetVector:
				ok = chroma
			case name == "task_link" || set == ToolsetGraph:
				ok = neo4j
			case name == "task_reconcile":
				ok = chroma || neo4j // rebuilds a mirror: with neither, it can only answer not_configured
			default:
				ok = set == ToolsetCoordination || set == ToolsetOps
			}
		}
		if ok {
			picked = append(picked, t)
			names = append(names, name)
		}
	}
	if dyn {
		return ts.registerDynamic(ts.deps, s, ts.Tools(readOnly), picked, explicit)
	}
	s.AddTools(picked...)
	return names
}

// New returns every tool of this server, wired to d.
func New(d *Deps) *Toolset {
	ts := &Toolset{deps: d}
	ts.AddRead(
		taskGet(d), taskList(d), taskSummary(d), taskHistory(d),
		vectorQuery(d), vectorGet(d), vectorCollections(d),
		graphNeighbors(d), graphQuery(d), graphSchema(d),
		taskGraph(d), taskSimilar(d),
		poolStatus(d), workspaceInfo(d),
	)
	ts.AddWrite(
		taskCreate(d), taskPlan(d), taskUpdate(d), taskClaim(d), taskHeartbeat(d), taskRelease(d), taskComplete(d),
		taskDelete(d), taskDependency(d), taskReconcile(d),
		vectorUpsert(d), vectorDelete(d), vectorDropCollection(d),
		graphMergeNode(d), graphMergeRelationship(d), graphDeleteNode(d), graphWrite(d),
		taskLink(d),
	)
	return ts
}

// Instructions tell an agent what the tools are for (sent in the initialize result).
const Instructions = `mcp-task-orchestrator keeps a per-project task list in the project's own .task_orchestrator/ folder (embedded SQLite).
Use it to plan and coordinate work across agents:
- Lay out a plan in one call with task_plan (each task with your own ref; parent and depends_on name refs or existing ids; all or nothing), or one task at a time with task_create (parent_id for subtasks, depends_on for ordering, priority, labels, role).
- Agents take work with task_claim (agent name, optional role/labels, lease_seconds): it atomically returns the highest-priority oldest ready task under a lease, so two agents never get the same one. Keep the lease alive with task_heartbeat (or any write of yours) while you work; give a task back with task_release. A lease that runs out lets another agent take the task over.
- Rules: a parent with open subtasks is not ready and cannot be completed (do its subtasks first); a task with a role goes only to an agent that claims with that role; on a claimed task pass your agent name to task_update, task_complete, task_heartbeat and task_release (only the holder may change it; over HTTP with a per-agent token, agent defaults to the token's name).
- Finish with task_complete (summary, outcome, optional artifact file); it returns the tasks that became ready.
- task_summary shows the project at a glance (counts, ready, blocked, who holds what, expired leases, parents' progress); task_history lists every change of a task.
- task_list (filters, full-text "text", ready=true) and task_get (subtasks, dependencies, artifacts) read; task_update changes fields with optimistic locking (pass the version you read).
- Semantic memory: vector_upsert stores documents (text and metadata) in a named collection; vector_query finds the nearest in meaning to a text; vector_get, vector_delete, vector_collections and vector_drop_collection manage them. They need Chroma (installed, or CHROMA_URL) and an embedding provider, or vectors you send.
- Knowledge graph: graph_merge_node and graph_merge_relationship record what the project is made of (files, components, people's roles, decisions); graph_neighbors walks it; graph_query runs read-only Cypher (checked by Neo4j's own plan), graph_write runs changes, graph_schema lists labels and types. They need Neo4j (NEO4J_URI, or a managed server configured globally).
- Tasks as meaning and as a graph: task_graph gives, for a task, the unfinished tasks that block it (start with the startable ones), the tasks it unblocks, and the project's critical path (works on SQLite alone); task_similar finds tasks close in meaning to a text before you create a duplicate (needs Chroma and an embedding provider); task_link ties a task to graph nodes such as files, components or roles.
- Tasks are mirrored into Chroma (collection "tasks") and Neo4j ((:Task) nodes with DEPENDS_ON/SUBTASK_OF) when those are configured, a moment after each change; task_reconcile rebuilds a mirror from SQLite.
- pool_status and workspace_info show the databases behind the project (pool_status also each task mirror's lag).
Every tool takes an optional "workspace": any path inside the project. Without it the server uses the client's roots, then TASK_ORCHESTRATOR_WORKSPACE, then its working directory.`
