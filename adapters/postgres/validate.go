package postgres

// The field rules of adapters/sqlite (validate.go and checkNewTask), copied
// because that package keeps them unexported: the same limits and the same
// sentences, so that a client cannot tell the stores apart by their refusals
// (parity_test.go holds the two to the same answers). One addition:
// PostgreSQL's text cannot hold U+0000 (nor jsonb a \u0000 escape), which
// SQLite stores, so such a value is refused with a sentence (hasNUL) rather
// than failing in the database.

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
	case hasNUL(t):
		return "", nulError(field)
	case n > maxTitle:
		return "", invalid(field, "%s is %d characters long; shorten it to at most %d (put details in description)", field, n, maxTitle)
	}
	return t, nil
}

func checkText(field, v string, limit int) error {
	if !utf8.ValidString(v) {
		return invalid(field, "%s is not valid UTF-8; send it as UTF-8 text", field)
	}
	if hasNUL(v) {
		return nulError(field)
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
	if bytes.Contains(buf.Bytes(), []byte(`\u0000`)) && jsonHasNUL(buf.Bytes()) {
		return nil, nulError("metadata")
	}
	return buf.Bytes(), nil
}

// jsonHasNUL says whether a key or a string of the JSON value holds U+0000
// (jsonb refuses it).
func jsonHasNUL(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if s, ok := tok.(string); ok && hasNUL(s) {
			return true
		}
	}
}

// checkedTask is a NewTask after task_create's field rules: trimmed,
// deduplicated and sorted, ready to store.
type checkedTask struct {
	title, description, priority, role, parentID string
	labels, deps                                 []string
	meta                                         []byte // compacted JSON object, never nil
}

// checkNewTask applies task_create's field rules to nt (no I/O). self is the
// id the task will get ("" when not known yet): a task may not depend on itself.
func (s *Store) checkNewTask(nt NewTask, self string) (checkedTask, error) {
	var ct checkedTask
	var err error
	if ct.title, err = checkTitle("title", nt.Title); err != nil {
		return ct, err
	}
	if err := checkText("description", nt.Description, maxDescription); err != nil {
		return ct, err
	}
	ct.description = nt.Description
	ct.priority = nt.Priority
	if ct.priority == "" {
		ct.priority = "medium"
	}
	if err := checkEnum("priority", ct.priority, priorities); err != nil {
		return ct, err
	}
	if ct.labels, err = checkLabels("labels", nt.Labels); err != nil {
		return ct, err
	}
	if ct.role, err = checkName("role", nt.Role); err != nil {
		return ct, err
	}
	if ct.meta, err = s.checkMetadata(nt.Metadata); err != nil {
		return ct, err
	}
	if ct.meta == nil {
		ct.meta = []byte("{}")
	}
	if nt.ParentID != "" {
		if err := checkID("parent_id", nt.ParentID); err != nil {
			return ct, err
		}
		ct.parentID = nt.ParentID
	}
	if ct.deps, err = checkDependsOn(self, nt.DependsOn); err != nil {
		return ct, err
	}
	return ct, nil
}

// CheckNewTask applies task_create's field rules without touching the database.
func (s *Store) CheckNewTask(nt work.NewTask) error {
	_, err := s.checkNewTask(nt, "")
	return err
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

// hasNUL says whether v holds U+0000, which PostgreSQL's text cannot store.
func hasNUL(v string) bool { return strings.IndexByte(v, 0) >= 0 }

func nulError(field string) error {
	return invalid(field, "%s contains the character U+0000, which the task database cannot store; remove it", field)
}
