package neo4j

// NodeRef names a node: its label and its key, the node's identity within the
// label (and, on a shared server, within the project).
type NodeRef struct {
	Label string `json:"label"`
	Key   string `json:"key"`
}

// Node is a node of the project's graph. Properties leave out the key (it is
// Key) and the store's own bookkeeping (_project, _pk).
type Node struct {
	Label      string         `json:"label"`
	Key        string         `json:"key"`
	Labels     []string       `json:"labels"`
	Properties map[string]any `json:"properties"`
}

// Relationship is a typed, directed relationship between two nodes.
type Relationship struct {
	Type       string         `json:"type"`
	From       NodeRef        `json:"from"`
	To         NodeRef        `json:"to"`
	Properties map[string]any `json:"properties"`
}

// Neighbor is a node within a few hops of another, with the length of the
// shortest path found to it and the relationship types along that path.
type Neighbor struct {
	Node     Node     `json:"node"`
	Distance int      `json:"distance"`
	Via      []string `json:"via" jsonschema:"Relationship types along the shortest path found"`
}

// NeighborsRequest asks for the nodes around From.
type NeighborsRequest struct {
	From      NodeRef
	Depth     int      // 1..5, 0 = 1
	Types     []string // relationship types, empty = all
	Direction string   // out | in | both ("" = both)
	Limit     int      // 1..1000, 0 = 100
}

// Result is what a Cypher statement returned: its columns, its rows as
// JSON-friendly values (capped, Truncated when rows were left out) and, for
// Write, the change counters.
type Result struct {
	Columns   []string         `json:"columns"`
	Rows      []map[string]any `json:"rows"`
	Truncated bool             `json:"truncated"`
	Counters  map[string]int   `json:"counters,omitempty"`
}

// Schema lists the labels, relationship types and property keys in use (on a
// shared server: in this project's part of the graph), sorted.
type Schema struct {
	Labels            []string `json:"labels"`
	RelationshipTypes []string `json:"relationship_types"`
	PropertyKeys      []string `json:"property_keys"`
	Truncated         bool     `json:"truncated,omitempty" jsonschema:"Some names were left out: the lists reached the byte cap"`
}

// Info describes how the store reaches Neo4j (no secrets).
type Info struct {
	Mode      Mode   `json:"mode"`
	URI       string `json:"uri"`                  // sanitized: never userinfo
	Database  string `json:"database"`             // "" = the server's default database
	DataDir   string `json:"data_dir,omitempty"`   // managed: where the data lives
	PID       int    `json:"pid,omitempty"`        // managed: the server's process
	RawCypher bool   `json:"raw_cypher"`           // graph_query and graph_write are allowed
	ProjectID string `json:"project_id,omitempty"` // shared: the _project value of this project's nodes
}

// Limits of one call.
const (
	// MaxDepth is the most hops Neighbors follows.
	MaxDepth = 5
	// MaxNeighbors is the most neighbours one Neighbors call returns.
	MaxNeighbors = 1000
	// DefaultNeighbors is the limit when NeighborsRequest.Limit is 0.
	DefaultNeighbors = 100
	// MaxKeyLength is the longest node key accepted, in bytes.
	MaxKeyLength = 1024
	// MaxProperties is the most properties one merge sets.
	MaxProperties = 256
	// MaxArrayLength is the longest array property value accepted.
	MaxArrayLength = 10000
)
