package sqlite

import "time"

// SetClock makes s read the time from now instead of time.Now (tests of
// leases move time forward without sleeping). Call it before any other call.
func (s *Store) SetClock(now func() time.Time) { s.clock = now }

// MigrationSQL is the schema's migrations, for tests that build an old schema.
func MigrationSQL() []string { return migrations }
