package tools

import (
	"context"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/neo4j"
)

// maxCypherBytes bounds one Cypher statement.
const maxCypherBytes = 64 << 10

type nodeRefArg struct {
	Label string `json:"label" jsonschema:"Node label, e.g. File or Component (letters, digits, _)"`
	Key   string `json:"key" jsonschema:"The node's identity within its label, e.g. src/main.go"`
}

type graphMergeNodeArgs struct {
	Workspace  string         `json:"workspace,omitempty"`
	Label      string         `json:"label" jsonschema:"Node label, e.g. File or Component (letters, digits, _)"`
	Key        string         `json:"key" jsonschema:"The node's identity within its label; merging the same label and key again updates the node"`
	Properties map[string]any `json:"properties,omitempty" jsonschema:"Properties to set: strings, numbers, booleans or arrays of one of those"`
}

type graphMergeRelArgs struct {
	Workspace  string         `json:"workspace,omitempty"`
	From       nodeRefArg     `json:"from" jsonschema:"The start node (must exist)"`
	To         nodeRefArg     `json:"to" jsonschema:"The end node (must exist)"`
	Type       string         `json:"type" jsonschema:"Relationship type, e.g. DEPENDS_ON (letters, digits, _)"`
	Properties map[string]any `json:"properties,omitempty" jsonschema:"Properties to set on the relationship"`
}

type graphNeighborsArgs struct {
	Workspace string   `json:"workspace,omitempty"`
	Label     string   `json:"label" jsonschema:"Label of the node to start from"`
	Key       string   `json:"key" jsonschema:"Key of the node to start from"`
	Depth     *int     `json:"depth,omitempty" jsonschema:"How many hops, 1 to 5 (default 1)"`
	Types     []string `json:"types,omitempty" jsonschema:"Only follow these relationship types"`
	Direction string   `json:"direction,omitempty" jsonschema:"enum=out,enum=in,enum=both"`
	Limit     *int     `json:"limit,omitempty" jsonschema:"At most this many neighbours, 1 to 1000 (default 100)"`
}

type graphDeleteNodeArgs struct {
	Workspace string `json:"workspace,omitempty"`
	Label     string `json:"label"`
	Key       string `json:"key"`
}

type graphCypherArgs struct {
	Workspace string         `json:"workspace,omitempty"`
	Cypher    string         `json:"cypher" jsonschema:"One Cypher statement; pass values as $parameters, never inside the text"`
	Params    map[string]any `json:"params,omitempty" jsonschema:"Values for the $parameters of the statement"`
}

type graphSchemaArgs struct {
	Workspace string `json:"workspace,omitempty"`
}

// NodeResult is graph_merge_node's answer.
type NodeResult struct {
	Node neo4j.Node `json:"node"`
}

// RelationshipResult is graph_merge_relationship's answer.
type RelationshipResult struct {
	Relationship neo4j.Relationship `json:"relationship"`
}

// NeighborsResult is graph_neighbors' answer.
type NeighborsResult struct {
	Neighbors []neo4j.Neighbor `json:"neighbors"`
	Truncated bool             `json:"truncated,omitempty" jsonschema:"Some neighbours were left out: the answer reached the byte cap"`
}

// DeleteNodeResult is graph_delete_node's answer.
type DeleteNodeResult struct {
	Deleted              neo4j.NodeRef `json:"deleted"`
	RelationshipsRemoved int           `json:"relationships_removed"`
}

// withGraph resolves the workspace and borrows its graph store for fn.
func withGraph[T any](ctx context.Context, c *call, ws string, fn func(*neo4j.Store) (T, error)) (T, error) {
	return withBackend(ctx, c, ws, c.deps.graphStore, fn)
}

// graphOpenWorld reports whether the graph tools reach a server off this machine.
func graphOpenWorld(d *Deps) bool { return offMachine(d.Config.Backends.Neo4jURI) }

func checkCypher(cypher string) error {
	if strings.TrimSpace(cypher) == "" {
		return badArg("argument \"cypher\" is required: one Cypher statement, e.g. MATCH (n:File) RETURN n.key LIMIT 10")
	}
	if len(cypher) > maxCypherBytes {
		return badArg("argument \"cypher\" is %d bytes; the limit is %d", len(cypher), maxCypherBytes)
	}
	return nil
}

func graphMergeNode(d *Deps) server.ServerTool {
	tool := newTool("graph_merge_node", "Add or update a graph node",
		"Create the node with this label and key in the project's knowledge graph, or update it if it exists (properties are set, others kept).",
		hints{readOnly: false, destructive: true, idempotent: true, openWorld: graphOpenWorld(d)},
		inputSchema[graphMergeNodeArgs](), outputSchema[NodeResult]())
	return server.ServerTool{Tool: tool, Handler: handle(d, tool.Name, func(ctx context.Context, c *call, a graphMergeNodeArgs) (any, string, error) {
		n, err := withGraph(ctx, c, a.Workspace, func(s *neo4j.Store) (neo4j.Node, error) {
			return s.MergeNode(ctx, neo4j.NodeRef{Label: a.Label, Key: a.Key}, a.Properties)
		})
		if err != nil {
			return nil, "", err
		}
		return NodeResult{Node: n}, fmt.Sprintf("Merged (:%s {key: %q}) with %d properties", n.Label, n.Key, len(n.Properties)), nil
	})}
}

func graphMergeRelationship(d *Deps) server.ServerTool {
	tool := newTool("graph_merge_relationship", "Add or update a relationship",
		"Relate two existing nodes with a typed relationship (created once; its properties are set on every call).",
		hints{readOnly: false, destructive: true, idempotent: true, openWorld: graphOpenWorld(d)},
		inputSchema[graphMergeRelArgs](), outputSchema[RelationshipResult]())
	return server.ServerTool{Tool: tool, Handler: handle(d, tool.Name, func(ctx context.Context, c *call, a graphMergeRelArgs) (any, string, error) {
		r, err := withGraph(ctx, c, a.Workspace, func(s *neo4j.Store) (neo4j.Relationship, error) {
			return s.MergeRelationship(ctx, neo4j.NodeRef(a.From), neo4j.NodeRef(a.To), a.Type, a.Properties)
		})
		if err != nil {
			return nil, "", err
		}
		return RelationshipResult{Relationship: r}, fmt.Sprintf("(:%s {key: %q})-[:%s]->(:%s {key: %q})", r.From.Label, r.From.Key, r.Type, r.To.Label, r.To.Key), nil
	})}
}

func graphNeighbors(d *Deps) server.ServerTool {
	tool := newTool("graph_neighbors", "Graph neighbours",
		"The nodes within a few hops of a node, with their distance and the relationship types that lead there.",
		hints{readOnly: true, destructive: false, idempotent: true, openWorld: graphOpenWorld(d)},
		inputSchema[graphNeighborsArgs](), outputSchema[NeighborsResult]())
	return server.ServerTool{Tool: tool, Handler: handle(d, tool.Name, func(ctx context.Context, c *call, a graphNeighborsArgs) (any, string, error) {
		depth, err := optInt("depth", a.Depth, 1, 5, 1)
		if err != nil {
			return nil, "", err
		}
		limit, err := optInt("limit", a.Limit, 1, 1000, 100)
		if err != nil {
			return nil, "", err
		}
		switch a.Direction {
		case "", "out", "in", "both":
		default:
			return nil, "", badArg("argument \"direction\" must be out, in or both, not %q", truncate(a.Direction, 40))
		}
		out, err := withGraph(ctx, c, a.Workspace, func(s *neo4j.Store) (NeighborsResult, error) {
			ns, truncated, err := s.Neighbors(ctx, neo4j.NeighborsRequest{From: neo4j.NodeRef{Label: a.Label, Key: a.Key},
				Depth: depth, Types: a.Types, Direction: a.Direction, Limit: limit})
			return NeighborsResult{Neighbors: ns, Truncated: truncated}, err
		})
		if err != nil {
			return nil, "", err
		}
		if out.Neighbors == nil {
			out.Neighbors = []neo4j.Neighbor{}
		}
		text := fmt.Sprintf("%d neighbour(s) of (:%s {key: %q}) within %d hop(s)", len(out.Neighbors), a.Label, a.Key, depth)
		if out.Truncated {
			text += " (truncated at the byte cap: lower limit or depth, or read the nodes with graph_query)"
		}
		return out, text, nil
	})}
}

func graphDeleteNode(d *Deps) server.ServerTool {
	tool := newTool("graph_delete_node", "Delete a graph node",
		"Delete a node and every relationship it has.",
		hints{readOnly: false, destructive: true, idempotent: true, openWorld: graphOpenWorld(d)},
		inputSchema[graphDeleteNodeArgs](), outputSchema[DeleteNodeResult]())
	return server.ServerTool{Tool: tool, Handler: handle(d, tool.Name, func(ctx context.Context, c *call, a graphDeleteNodeArgs) (any, string, error) {
		ref := neo4j.NodeRef{Label: a.Label, Key: a.Key}
		n, err := withGraph(ctx, c, a.Workspace, func(s *neo4j.Store) (int, error) {
			return s.DeleteNode(ctx, ref)
		})
		if err != nil {
			return nil, "", err
		}
		return DeleteNodeResult{Deleted: ref, RelationshipsRemoved: n}, fmt.Sprintf("Deleted (:%s {key: %q}) and %d relationship(s)", a.Label, a.Key, n), nil
	})}
}

func graphQuery(d *Deps) server.ServerTool {
	tool := newTool("graph_query", "Read-only Cypher",
		"Run one read-only Cypher query on the project's graph. Neo4j's own query plan must say it is read-only (EXPLAIN), and procedures that reach outside the database (LOAD CSV, apoc.load, dbms.*) are refused. Results are capped (rows and bytes) with a truncated flag. Refused on a shared Neo4j server (one not dedicated to this project): raw Cypher cannot be confined to one project there; use the structured graph tools.",
		hints{readOnly: true, destructive: false, idempotent: true, openWorld: graphOpenWorld(d)},
		inputSchema[graphCypherArgs](), outputSchema[neo4j.Result]())
	return server.ServerTool{Tool: tool, Handler: handle(d, tool.Name, func(ctx context.Context, c *call, a graphCypherArgs) (any, string, error) {
		if err := checkCypher(a.Cypher); err != nil {
			return nil, "", err
		}
		res, err := withGraph(ctx, c, a.Workspace, func(s *neo4j.Store) (neo4j.Result, error) {
			return s.Query(ctx, a.Cypher, a.Params)
		})
		if err != nil {
			return nil, "", err
		}
		return res, describeResult(res), nil
	})}
}

func graphWrite(d *Deps) server.ServerTool {
	tool := newTool("graph_write", "Write Cypher",
		"Run one Cypher statement that may change the project's graph, in a write transaction with a timeout. Returns rows and change counters. Refused on a shared Neo4j server (one not dedicated to this project). The structured graph tools (graph_merge_node, graph_neighbors, task_link...) find nodes by label and key property: give every node you create here a unique key, or they will not see it.",
		hints{readOnly: false, destructive: true, idempotent: false, openWorld: graphOpenWorld(d)},
		inputSchema[graphCypherArgs](), outputSchema[neo4j.Result]())
	return server.ServerTool{Tool: tool, Handler: handle(d, tool.Name, func(ctx context.Context, c *call, a graphCypherArgs) (any, string, error) {
		if err := checkCypher(a.Cypher); err != nil {
			return nil, "", err
		}
		res, err := withGraph(ctx, c, a.Workspace, func(s *neo4j.Store) (neo4j.Result, error) {
			return s.Write(ctx, a.Cypher, a.Params)
		})
		if err != nil {
			return nil, "", err
		}
		text := describeResult(res)
		for k, v := range res.Counters {
			if v != 0 {
				text += fmt.Sprintf(", %s %d", k, v)
			}
		}
		return res, text, nil
	})}
}

func describeResult(res neo4j.Result) string {
	text := fmt.Sprintf("%d row(s)", len(res.Rows))
	if res.Truncated {
		text += " (truncated at the row or byte cap: narrow the query, add LIMIT, or return less per row)"
	}
	return text
}

func graphSchema(d *Deps) server.ServerTool {
	tool := newTool("graph_schema", "Graph schema",
		"The labels, relationship types and property keys used in the project's graph.",
		hints{readOnly: true, destructive: false, idempotent: true, openWorld: graphOpenWorld(d)},
		inputSchema[graphSchemaArgs](), outputSchema[neo4j.Schema]())
	return server.ServerTool{Tool: tool, Handler: handle(d, tool.Name, func(ctx context.Context, c *call, a graphSchemaArgs) (any, string, error) {
		sc, err := withGraph(ctx, c, a.Workspace, func(s *neo4j.Store) (neo4j.Schema, error) {
			return s.Schema(ctx)
		})
		if err != nil {
			return nil, "", err
		}
		text := fmt.Sprintf("labels: %s; relationship types: %s", strings.Join(sc.Labels, ", "), strings.Join(sc.RelationshipTypes, ", "))
		if sc.Truncated {
			text += " (truncated at the byte cap)"
		}
		return sc, text, nil
	})}
}
