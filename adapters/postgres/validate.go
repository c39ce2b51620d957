package postgres

import (
	"strings"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// rules are the field rules every task store applies (work/fields.go), with
// one addition: PostgreSQL's text cannot hold U+0000 (nor jsonb a \u0000
// escape), which SQLite stores, so such a value is refused with a sentence
// rather than failing in the database. parity_test.go holds the two stores
// to the same answers.
var rules = work.FieldRules{RefuseNUL: true}

// checkNewTask applies task_create's field rules to nt (no I/O). self is the
// id the task will get ("" when not known yet).
func (s *Store) checkNewTask(nt NewTask, self string) (work.CheckedTask, error) {
	return rules.NewTask(nt, self, s.opts.MaxMetadata)
}

// CheckNewTask applies task_create's field rules without touching the database.
func (s *Store) CheckNewTask(nt work.NewTask) error {
	_, err := s.checkNewTask(nt, "")
	return err
}

// hasNUL says whether v holds U+0000, which PostgreSQL's text cannot store
// (an id holding it names no task).
func hasNUL(v string) bool { return strings.IndexByte(v, 0) >= 0 }
