package sqlite

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// Limits on what one call may write.
const (
	maxTitle       = 500
	maxDescription = 20000
	maxSummary     = 20000
	maxLabels      = 32
	maxLabel       = work.MaxLabelLen
	maxName        = 100 // role, assignee, agent
	maxDependsOn   = 100
	maxID          = 128
	maxText        = 1000 // full-text query
	defaultLimit   = 50
	maxLimit       = 200
	maxArtifact    = 255 // artifact name
)

var (
	statuses   = []string{"pending", "in_progress", "blocked", "completed", "failed", "cancelled"}
	priorities = []string{"low", "medium", "high", "critical"}
)

func checkTitle(field, title string) (string, error) {
	t := strings.TrimSpace(title)
	switch n := utf8.RuneCountInString(t); {
	case !utf8.ValidString(t):
		return "", invalid(field, "%s is not valid UTF-8; send it as UTF-8 text", field)
	case n == 0:
		return "", invalid(field, "%s is required: give the task a short title", field)
	case n > maxTitle:
		return "", invalid(field, "%s is %d characters long; shorten it to at most %d (put details in description)", field, n, maxTitle)
	}
	return t, nil
}

func checkText(field, v string, limit int) error {
	if !utf8.ValidString(v) {
		return invalid(field, "%s is not valid UTF-8; send it as UTF-8 text", field)
	}
	if n := utf8.RuneCountInString(v); n > limit {
		return invalid(field, "%s is %d characters long; shorten it to at most %d", field, n, limit)
	}
	return nil
}

// checkName validates a role, assignee or agent: trimmed, printable, <= 100 characters.
// An empty result is allowed; callers decide whether it is required.
func checkName(field, v string) (string, error) {
	v = strings.TrimSpace(v)
	if !utf8.ValidString(v) {
		return "", invalid(field, "%s is not valid UTF-8; send it as UTF-8 text", field)
	}
	if n := utf8.RuneCountInString(v); n > maxName {
		return "", invalid(field, "%s is %d characters long; use at most %d", field, n, maxName)
	}
	for _, r := range v {
		if !unicode.IsPrint(r) {
			return "", invalid(field, "%s contains the non-printable character %U; use letters, digits, spaces and punctuation only", field, r)
		}
	}
	return v, nil
}

func checkEnum(field, v string, allowed []string) error {
	if slices.Contains(allowed, v) {
		return nil
	}
	return invalid(field, "%s %q is not one of: %s", field, v, strings.Join(allowed, ", "))
}

func checkLabel(field, l string) error {
	if !work.ValidLabel(l) {
		return invalid(field, "label %q is not valid: use 1 to %d characters from A-Z a-z 0-9 _ . : -", clip(l), maxLabel)
	}
	return nil
}

// checkLabels returns the labels sorted and deduplicated; never nil.
func checkLabels(field string, labels []string) ([]string, error) {
	out := make([]string, 0, len(labels))
	for _, l := range labels {
		if err := checkLabel(field, l); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > maxLabels {
		return nil, invalid(field, "%s has %d labels; use at most %d", field, len(out), maxLabels)
	}
	return out, nil
}

func checkID(field, id string) error {
	switch {
	case id == "":
		return invalid(field, "%s is required: pass a task id such as tsk_0123456789abcdef (see task_list)", field)
	case len(id) > maxID || !utf8.ValidString(id):
		return invalid(field, "%s %q is not a task id; task ids look like tsk_0123456789abcdef (see task_list)", field, clip(id))
	}
	return nil
}

// checkDependsOn returns the ids sorted and deduplicated; never nil.
func checkDependsOn(self string, ids []string) ([]string, error) {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if err := checkID("depends_on", id); err != nil {
			return nil, err
		}
		if id == self {
			return nil, invalid("depends_on", "task %s cannot depend on itself; remove it from depends_on", id)
		}
		out = append(out, id)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > maxDependsOn {
		return nil, invalid("depends_on", "depends_on has %d ids; use at most %d (group work under a parent task instead)", len(out), maxDependsOn)
	}
	return out, nil
}

// checkMetadata returns the metadata compacted, "{}" for none, or nil when
// raw is absent (nil, empty or null) and absent is allowed.
func (s *Store) checkMetadata(raw json.RawMessage) ([]byte, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return nil, nil
	}
	if len(trimmed) > s.opts.MaxMetadata {
		return nil, invalid("metadata", "metadata is %d bytes; keep it under %d bytes (store large content as an artifact)", len(trimmed), s.opts.MaxMetadata)
	}
	if trimmed[0] != '{' || !json.Valid(trimmed) {
		return nil, invalid("metadata", "metadata must be a JSON object, like {\"key\": \"value\"}")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, trimmed); err != nil {
		return nil, invalid("metadata", "metadata must be a JSON object, like {\"key\": \"value\"}")
	}
	return buf.Bytes(), nil
}

func checkArtifact(a *ArtifactRecord) error {
	switch {
	case a.Name == "" || len(a.Name) > maxArtifact || strings.ContainsAny(a.Name, "/\\\x00"):
		return invalid("artifact.name", "artifact name %q is not valid: use 1 to %d characters without / or \\", clip(a.Name), maxArtifact)
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

// clip shortens a user's value for an error message.
func clip(s string) string {
	const n = 40
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}
