// Package neo4j is the per-project knowledge graph: nodes identified by a
// label and a key, typed relationships between them, and (where the graph is
// the project's own) raw Cypher, on a real Neo4j 5 server reached through
// github.com/neo4j/neo4j-go-driver/v5.
//
// A project reaches Neo4j in one of two modes (see Resolve): managed, a
// server of its own started on first use from backends.neo4j_command with its
// data and a generated password under .task_orchestrator/databases/neo4j
// (supervised by adapters/managed); or shared (NEO4J_URI), where every node
// the structured operations write carries _project (ProjectID of the root)
// and every structured read filters by it, with a uniqueness constraint on
// (_project, key) per label. Neo4j Community has one user database, so this
// property is the isolation between projects on a shared server.
//
// It owns one driver per store, whose Bolt pool is the connection pool (sized
// and timed from database_pools.graph), and one pooling.Pool of session slots
// that bounds concurrent calls, checks the server (VerifyConnectivity) and
// trips a circuit breaker when it is down, so calls then fail fast with a
// retry-after. It keeps no second pool: each call opens a session and closes it.
//
// Raw Cypher (Query, Write) runs only where it cannot reach another project:
// on the project's own server, or on a shared server that the global config
// says is dedicated to it. Query's read-only guard is Neo4j's own plan
// (EXPLAIN must say "r"), plus refusing what the plan type does not cover
// (LOAD CSV, dbms.*, apoc.load.*, SHOW SETTINGS, ...), and a READ transaction.
//
// Results are bounded while they stream (stream.go): records are read one at
// a time, each one's JSON size estimated before it is converted, and a read
// stops (aborting its transaction) at the row or byte cap. The driver decodes
// a record whole, so raw Cypher runs one statement at a time per project, the
// project's own server refuses transactions over db.memory.transaction.max,
// and memory goes back to the OS after a big read. Errors say whose they are:
// a statement error or a memory refusal is the caller's query_error, a time
// limit is timed_out (naming which), only a server that does not answer is
// unavailable, and the caller's errors never reach the circuit breaker.
//
// What it must never do: put a label, type or property key into Cypher
// unvalidated, or a value anywhere but in a parameter; show or log a
// credential (NEO4J_PASSWORD, the managed password, a URI's userinfo); write
// to stdout; let a structured operation on a shared server touch a node
// without this project's _project.
package neo4j
