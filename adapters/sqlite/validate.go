package sqlite

import (
	"strings"
	"unicode/utf8"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// rules are the field rules every task store applies (work/fields.go): the
// same limits and sentences whichever store answers.
var rules work.FieldRules

// maxArtifact is the longest artifact name.
const maxArtifact = 255

// checkNewTask applies task_create's field rules to nt (no I/O). self is the
// id the task will get ("" when not known yet). Create and CreatePlan both
// call it, so a plan's task and a task_create task obey the same rules.
func (s *Store) checkNewTask(nt NewTask, self string) (work.CheckedTask, error) {
	return rules.NewTask(nt, self, s.opts.MaxMetadata)
}

// CheckNewTask applies task_create's field rules without touching the database.
func (s *Store) CheckNewTask(nt work.NewTask) error {
	_, err := s.checkNewTask(nt, "")
	return err
}

func checkArtifact(a *ArtifactRecord) error {
	switch {
	case a.Name == "" || len(a.Name) > maxArtifact || strings.ContainsAny(a.Name, "/\\\x00"):
		return invalid("artifact.name", "artifact name %q is not valid: use 1 to %d characters without / or \\", work.Clip(a.Name), maxArtifact)
	case a.Path == "" || !utf8.ValidString(a.Path):
		return invalid("artifact.path", "artifact path is required")
	case a.Size < 0:
		return invalid("artifact.size", "artifact size %d is negative", a.Size)
	case !isHex64(a.SHA256):
		return invalid("artifact.sha256", "artifact sha256 must be 64 lowercase hex characters")
	}
	return nil
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
