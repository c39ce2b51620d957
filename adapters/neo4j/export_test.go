package neo4j

// ExpandArgs fills the placeholders of backends.neo4j_command (for tests).
var ExpandArgs = expandArgs

// BlankCypher blanks comments, literals and backquoted names (for tests).
var BlankCypher = blankCypher

// NewFresh returns a view of s whose every call builds a new driver and
// closes it afterwards (no pool): the benchmarks' baseline. It shares s's
// server and settings; do not Close it.
func NewFresh(s *Store) *Store {
	return &Store{
		opts: s.opts, log: s.log, mode: s.mode, project: s.project, raw: s.raw, database: s.database,
		server: s.server, password: s.password, pool: s.pool, fresh: true,
		constrained: map[string]bool{},
	}
}

// RawGateHeld reports whether a raw Cypher statement of s holds its gate (for tests).
func RawGateHeld(s *Store) bool { return len(s.rawGate) > 0 }
