package workspace

// Backend names: each is the key of the backend's section in
// database_pools, its key in the registry of a project's pools, its
// metrics label and the name of its mirror. They are part of the config
// format and of the task database (mirror cursors), so they never change.
const (
	BackendOperational = "operational" // the task store
	BackendVector      = "vector"      // vector search
	BackendGraph       = "graph"       // the knowledge graph
)

// BackendNames lists the backend names in the order configs and reports show them.
func BackendNames() []string { return []string{BackendOperational, BackendVector, BackendGraph} }

// Database names: the engine behind each backend, as pool names, status
// reports and task_graph's source show it.
const (
	DatabaseSQLite = "sqlite" // behind BackendOperational
	DatabaseChroma = "chroma" // behind BackendVector
	DatabaseNeo4j  = "neo4j"  // behind BackendGraph
)
