package work

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/clienterr"
)

// The field rules every task store applies before it writes: the same limits
// and the same sentences, so that a client cannot tell the stores apart by
// their refusals.

// Limits on what one call may write or ask.
const (
	MaxTitle       = 500
	MaxDescription = 20000
	MaxSummary     = 20000
	MaxLabels      = 32
	MaxName        = 100 // role, assignee, agent
	MaxDependsOn   = 100
	MaxID          = 128
	MaxText        = 1000 // full-text query
	DefaultLimit   = 50
	MaxLimit       = 200
)

var (
	// TaskStatuses are the task statuses, in the order sentences list them.
	TaskStatuses = []string{"pending", "in_progress", "blocked", "completed", "failed", "cancelled"}
	// Priorities are the task priorities, lowest first.
	Priorities = []string{"low", "medium", "high", "critical"}
)

// FieldRules checks a task's fields. The zero value is SQLite's; RefuseNUL
// adds a rule for stores whose text cannot hold U+0000 (PostgreSQL).
type FieldRules struct {
	RefuseNUL bool
}

// Invalid is an InvalidArgument error about field.
func Invalid(field, format string, args ...any) *clienterr.Error {
	return &clienterr.Error{Kind: clienterr.InvalidArgument, Field: field, Msg: fmt.Sprintf(format, args...)}
}

func (r FieldRules) nul(field, v string) error {
	if r.RefuseNUL && strings.IndexByte(v, 0) >= 0 {
		return Invalid(field, "%s contains the character U+0000, which the task database cannot store; remove it", field)
	}
	return nil
}

// Title returns the title trimmed, or why it is refused.
func (r FieldRules) Title(field, title string) (string, error) {
	t := strings.TrimSpace(title)
	switch n := utf8.RuneCountInString(t); {
	case !utf8.ValidString(t):
		return "", Invalid(field, "%s is not valid UTF-8; send it as UTF-8 text", field)
	case n == 0:
		return "", Invalid(field, "%s is required: give the task a short title", field)
	case r.nul(field, t) != nil:
		return "", r.nul(field, t)
	case n > MaxTitle:
		return "", Invalid(field, "%s is %d characters long; shorten it to at most %d (put details in description)", field, n, MaxTitle)
	}
	return t, nil
}

// Text checks a free text of at most limit characters.
func (r FieldRules) Text(field, v string, limit int) error {
	if !utf8.ValidString(v) {
		return Invalid(field, "%s is not valid UTF-8; send it as UTF-8 text", field)
	}
	if err := r.nul(field, v); err != nil {
		return err
	}
	if n := utf8.RuneCountInString(v); n > limit {
		return Invalid(field, "%s is %d characters long; shorten it to at most %d", field, n, limit)
	}
	return nil
}

// Name checks a role, assignee or agent: trimmed, printable, at most MaxName
// characters. An empty result is allowed; callers decide whether it is required.
func (FieldRules) Name(field, v string) (string, error) {
	v = strings.TrimSpace(v)
	if !utf8.ValidString(v) {
		return "", Invalid(field, "%s is not valid UTF-8; send it as UTF-8 text", field)
	}
	if n := utf8.RuneCountInString(v); n > MaxName {
		return "", Invalid(field, "%s is %d characters long; use at most %d", field, n, MaxName)
	}
	for _, r := range v {
		if !unicode.IsPrint(r) {
			return "", Invalid(field, "%s contains the non-printable character %U; use letters, digits, spaces and punctuation only", field, r)
		}
	}
	return v, nil
}

// Enum checks that v is one of allowed.
func (FieldRules) Enum(field, v string, allowed []string) error {
	if slices.Contains(allowed, v) {
		return nil
	}
	return Invalid(field, "%s %q is not one of: %s", field, v, strings.Join(allowed, ", "))
}

// Label checks one label.
func (FieldRules) Label(field, l string) error {
	if !ValidLabel(l) {
		return Invalid(field, "label %q is not valid: use 1 to %d characters from A-Z a-z 0-9 _ . : -", Clip(l), MaxLabelLen)
	}
	return nil
}

// Labels returns the labels sorted and deduplicated; never nil.
func (r FieldRules) Labels(field string, labels []string) ([]string, error) {
	out := make([]string, 0, len(labels))
	for _, l := range labels {
		if err := r.Label(field, l); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > MaxLabels {
		return nil, Invalid(field, "%s has %d labels; use at most %d", field, len(out), MaxLabels)
	}
	return out, nil
}

// ID checks that id may be a task id (the store says whether it exists).
func (FieldRules) ID(field, id string) error {
	switch {
	case id == "":
		return Invalid(field, "%s is required: pass a task id such as tsk_0123456789abcdef (see task_list)", field)
	case len(id) > MaxID || !utf8.ValidString(id):
		return Invalid(field, "%s %q is not a task id; task ids look like tsk_0123456789abcdef (see task_list)", field, Clip(id))
	}
	return nil
}

// DependsOn returns the ids sorted and deduplicated; never nil. self is the
// task's own id ("" when not known yet): a task may not depend on itself.
func (r FieldRules) DependsOn(self string, ids []string) ([]string, error) {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if err := r.ID("depends_on", id); err != nil {
			return nil, err
		}
		if id == self {
			return nil, Invalid("depends_on", "task %s cannot depend on itself; remove it from depends_on", id)
		}
		out = append(out, id)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > MaxDependsOn {
		return nil, Invalid("depends_on", "depends_on has %d ids; use at most %d (group work under a parent task instead)", len(out), MaxDependsOn)
	}
	return out, nil
}

// Metadata returns the metadata compacted, or nil when raw is absent (nil,
// empty or null); max is its largest size in bytes.
func (r FieldRules) Metadata(raw json.RawMessage, max int) ([]byte, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return nil, nil
	}
	if len(trimmed) > max {
		return nil, Invalid("metadata", "metadata is %d bytes; keep it under %d bytes (store large content as an artifact)", len(trimmed), max)
	}
	if trimmed[0] != '{' || !json.Valid(trimmed) {
		return nil, Invalid("metadata", "metadata must be a JSON object, like {\"key\": \"value\"}")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, trimmed); err != nil {
		return nil, Invalid("metadata", "metadata must be a JSON object, like {\"key\": \"value\"}")
	}
	if r.RefuseNUL && bytes.Contains(buf.Bytes(), []byte(`\u0000`)) && jsonHasNUL(buf.Bytes()) {
		return nil, r.nul("metadata", "\x00")
	}
	return buf.Bytes(), nil
}

// jsonHasNUL says whether a key or a string of the JSON value holds U+0000.
func jsonHasNUL(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if s, ok := tok.(string); ok && strings.IndexByte(s, 0) >= 0 {
			return true
		}
	}
}

// CheckedTask is a NewTask after task_create's field rules: trimmed,
// deduplicated and sorted, ready to store.
type CheckedTask struct {
	Title, Description, Priority, Role, ParentID string
	Labels, Deps                                 []string
	Meta                                         []byte // compacted JSON object, never nil
}

// NewTask applies task_create's field rules to nt (no I/O); maxMetadata is
// the metadata's largest size in bytes. self is the id the task will get (""
// when not known yet). task_create and every task of a plan go through it.
func (r FieldRules) NewTask(nt NewTask, self string, maxMetadata int) (CheckedTask, error) {
	var ct CheckedTask
	var err error
	if ct.Title, err = r.Title("title", nt.Title); err != nil {
		return ct, err
	}
	if err := r.Text("description", nt.Description, MaxDescription); err != nil {
		return ct, err
	}
	ct.Description = nt.Description
	ct.Priority = nt.Priority
	if ct.Priority == "" {
		ct.Priority = "medium"
	}
	if err := r.Enum("priority", ct.Priority, Priorities); err != nil {
		return ct, err
	}
	if ct.Labels, err = r.Labels("labels", nt.Labels); err != nil {
		return ct, err
	}
	if ct.Role, err = r.Name("role", nt.Role); err != nil {
		return ct, err
	}
	if ct.Meta, err = r.Metadata(nt.Metadata, maxMetadata); err != nil {
		return ct, err
	}
	if ct.Meta == nil {
		ct.Meta = []byte("{}")
	}
	if nt.ParentID != "" {
		if err := r.ID("parent_id", nt.ParentID); err != nil {
			return ct, err
		}
		ct.ParentID = nt.ParentID
	}
	if ct.Deps, err = r.DependsOn(self, nt.DependsOn); err != nil {
		return ct, err
	}
	return ct, nil
}

// Clip shortens a user's value for an error message.
func Clip(s string) string {
	const n = 40
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// CheckedPatch is a Patch after the field rules, before it meets the stored
// task: CheckedLabels sorted and deduplicated (when Labels is set), Meta
// compacted (nil when the patch leaves the metadata).
type CheckedPatch struct {
	Patch
	CheckedLabels []string
	Meta          []byte
}

// Patch applies task_update's field rules to p (no I/O); maxMetadata is the
// metadata's largest size in bytes.
func (r FieldRules) Patch(p Patch, maxMetadata int) (CheckedPatch, error) {
	cp := CheckedPatch{Patch: p}
	if p.Title != nil {
		t, err := r.Title("title", *p.Title)
		if err != nil {
			return cp, err
		}
		cp.Title = &t
	}
	if p.Description != nil {
		if err := r.Text("description", *p.Description, MaxDescription); err != nil {
			return cp, err
		}
	}
	if p.Status != nil {
		if err := r.Enum("status", *p.Status, TaskStatuses); err != nil {
			return cp, err
		}
	}
	if p.Priority != nil {
		if err := r.Enum("priority", *p.Priority, Priorities); err != nil {
			return cp, err
		}
	}
	if p.Labels != nil {
		l, err := r.Labels("labels", *p.Labels)
		if err != nil {
			return cp, err
		}
		cp.CheckedLabels = l
	}
	for _, f := range []struct {
		name string
		v    **string
	}{{"role", &cp.Role}, {"assignee", &cp.Assignee}} {
		if *f.v != nil {
			v, err := r.Name(f.name, **f.v)
			if err != nil {
				return cp, err
			}
			*f.v = &v
		}
	}
	if p.ParentID != nil && *p.ParentID != "" {
		if err := r.ID("parent_id", *p.ParentID); err != nil {
			return cp, err
		}
	}
	if p.Summary != nil {
		if err := r.Text("summary", *p.Summary, MaxSummary); err != nil {
			return cp, err
		}
	}
	meta, err := r.Metadata(p.Metadata, maxMetadata)
	if err != nil {
		return cp, err
	}
	cp.Meta = meta
	return cp, nil
}
