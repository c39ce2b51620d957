package migrate

import (
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"

	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
)

// StatusMap maps the Python server's subtask statuses (its TaskStatus enum)
// to ours. "archived" is what the Python server's lifecycle manager sets on
// stale or abandoned work: nobody will do it, which is our "cancelled".
// "in_progress" never comes from 1.8 but is accepted for older files.
var StatusMap = map[string]string{
	"pending":     "pending",
	"active":      "in_progress",
	"in_progress": "in_progress",
	"blocked":     "blocked",
	"completed":   "completed",
	"failed":      "failed",
	"archived":    "cancelled",
}

// Source is the value of metadata.migrated_from on every imported task.
const Source = "mcp-task-orchestrator (Python)"

// maxTitleRunes is how much of a task breakdown's description becomes its
// title (the Python server has no titles for them; the whole text stays in
// the description).
const maxTitleRunes = 120

// plan is the import worked out from a Python snapshot: the tasks to give
// the store, in the order parents first, and what could not be carried over.
type plan struct {
	Tasks    []sqlite.ImportTask
	Titles   map[string]string // id -> title, for the report
	Kinds    map[string]string // id -> "task" (a breakdown) or "subtask"
	From     map[string]string // id -> the Python status (subtasks) or "-" (breakdowns)
	Warnings []string
}

type pyMeta struct {
	MigratedFrom string      `json:"migrated_from"`
	Python       pyMetaInner `json:"python"`
}

type pyMetaInner struct {
	Table                  string   `json:"table"`
	Complexity             string   `json:"complexity,omitempty"`
	Status                 string   `json:"status,omitempty"`
	SpecialistType         string   `json:"specialist_type,omitempty"`
	EstimatedEffort        string   `json:"estimated_effort,omitempty"`
	VerificationStatus     string   `json:"verification_status,omitempty"`
	Artifacts              []string `json:"artifacts,omitempty"`
	UnresolvedDependencies []string `json:"unresolved_dependencies,omitempty"`
	CycleDependencies      []string `json:"dropped_cyclic_dependencies,omitempty"`
}

func metaJSON(m pyMetaInner) json.RawMessage {
	b, _ := json.Marshal(pyMeta{MigratedFrom: Source, Python: m}) // plain strings: cannot fail
	return b
}

// buildPlan maps the Python rows to tasks. It fails only on what would make
// the import wrong rather than incomplete: an unknown status, or an id used
// both by a task breakdown and by a subtask.
func buildPlan(db *pyDB) (*plan, error) {
	p := &plan{Titles: map[string]string{}, Kinds: map[string]string{}, From: map[string]string{}}
	p.Warnings = append(p.Warnings, db.Warnings...)

	known := map[string]bool{}
	for _, b := range db.Breakdowns {
		known[b.ID] = true
	}
	for _, s := range db.Subtasks {
		if known[s.ID] {
			return nil, fmt.Errorf("the Python database uses the id %q both for a task and for a subtask; our tasks share one "+
				"id space, so one of them would be lost: rename one in the Python server, then run migrate again", s.ID)
		}
		if _, ok := StatusMap[s.Status]; !ok {
			return nil, fmt.Errorf("subtask %s has the status %q, which migrate does not know (it knows %s); "+
				"set it to one of those in the Python server, then run migrate again", s.ID, s.Status, knownStatuses())
		}
	}
	children := map[string][]pySubtask{}
	for _, s := range db.Subtasks {
		children[s.ParentID] = append(children[s.ParentID], s)
	}
	for _, s := range db.Subtasks {
		known[s.ID] = true
	}

	for _, b := range db.Breakdowns {
		t := sqlite.ImportTask{}
		t.ID = b.ID
		t.Title = breakdownTitle(b)
		t.Description = b.Description
		if c := strings.TrimSpace(b.Context); c != "" {
			t.Description += "\n\nContext:\n" + c
		}
		t.Priority = "medium"
		t.CreatedAt = b.CreatedAt
		st, done := parentStatus(children[b.ID])
		t.Status, t.CompletedAt = work.Status(st), done
		t.UpdatedAt = t.CreatedAt
		if t.CompletedAt != nil {
			t.UpdatedAt = *t.CompletedAt
		}
		t.Metadata = metaJSON(pyMetaInner{Table: "task_breakdowns", Complexity: b.Complexity})
		p.add(t, "task", "-")
	}

	edges := newGraph()
	for _, s := range db.Subtasks {
		t := sqlite.ImportTask{}
		t.ID = s.ID
		t.Title = strings.TrimSpace(s.Title)
		if t.Title == "" {
			t.Title = "Python subtask " + s.ID
		}
		t.Description = s.Description
		t.Status = work.Status(StatusMap[s.Status])
		t.Priority = "medium"
		if r := strings.TrimSpace(s.Specialist); r != "" {
			t.Role = &r
		}
		if known[s.ParentID] {
			parent := s.ParentID
			t.ParentID = &parent
		} else {
			p.Warnings = append(p.Warnings, fmt.Sprintf("subtask %s belongs to task %s, which is not in the Python database; "+
				"imported as a top-level task", s.ID, s.ParentID))
		}
		t.Summary = s.Results
		t.CreatedAt = s.CreatedAt
		t.UpdatedAt = s.CreatedAt
		if s.CompletedAt != nil && (t.Status == "completed" || t.Status == "failed" || t.Status == "cancelled") {
			c := *s.CompletedAt
			t.CompletedAt = &c
			if c.After(t.UpdatedAt) {
				t.UpdatedAt = c
			}
		}
		m := pyMetaInner{Table: "subtasks", Status: s.Status, SpecialistType: s.Specialist, EstimatedEffort: s.Effort,
			VerificationStatus: s.Verification, Artifacts: s.Artifacts}
		deps := slices.Clone(s.Dependencies)
		slices.Sort(deps)
		deps = slices.Compact(deps)
		for _, d := range deps {
			switch {
			case d == s.ID:
				p.Warnings = append(p.Warnings, fmt.Sprintf("subtask %s depends on itself; that dependency is dropped", s.ID))
			case !known[d]:
				m.UnresolvedDependencies = append(m.UnresolvedDependencies, d)
				p.Warnings = append(p.Warnings, fmt.Sprintf("subtask %s depends on %q, which is no task in the Python database "+
					"(the Python server never checked); kept in metadata.python.unresolved_dependencies only", s.ID, d))
			case edges.reaches(d, s.ID):
				m.CycleDependencies = append(m.CycleDependencies, d)
				p.Warnings = append(p.Warnings, fmt.Sprintf("subtask %s depends on %s, which already depends on it: a cycle "+
					"(the Python server never checked); kept in metadata.python.dropped_cyclic_dependencies only", s.ID, d))
			default:
				edges.add(s.ID, d)
				t.DependsOn = append(t.DependsOn, d)
			}
		}
		t.Metadata = metaJSON(m)
		p.add(t, "subtask", s.Status)
	}
	return p, nil
}

func (p *plan) add(t sqlite.ImportTask, kind, from string) {
	p.Tasks = append(p.Tasks, t)
	p.Titles[t.ID], p.Kinds[t.ID], p.From[t.ID] = t.Title, kind, from
}

func knownStatuses() string {
	keys := make([]string, 0, len(StatusMap))
	for k := range StatusMap {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return strings.Join(keys, ", ")
}

// breakdownTitle is the first non-empty line of the description, cut to
// maxTitleRunes.
func breakdownTitle(b pyBreakdown) string {
	for _, line := range strings.Split(b.Description, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			return clip(line, maxTitleRunes)
		}
	}
	return "Python task " + b.ID
}

// parentStatus derives a task breakdown's status from its subtasks (the
// Python server stores none for it): completed when every subtask is
// completed or cancelled and at least one completed; cancelled when all are
// cancelled; in_progress once any subtask has started or finished; else
// pending. A completed parent's completed_at is its last subtask's.
func parentStatus(subs []pySubtask) (string, *time.Time) {
	if len(subs) == 0 {
		return "pending", nil
	}
	var completed, cancelled, started int
	var last *time.Time
	for _, s := range subs {
		switch StatusMap[s.Status] {
		case "completed":
			completed++
			if s.CompletedAt != nil && (last == nil || s.CompletedAt.After(*last)) {
				c := *s.CompletedAt
				last = &c
			}
		case "cancelled":
			cancelled++
		case "in_progress", "blocked", "failed":
			started++
		}
	}
	switch {
	case completed > 0 && completed+cancelled == len(subs):
		return "completed", last
	case cancelled == len(subs):
		return "cancelled", nil
	case started > 0 || completed > 0:
		return "in_progress", nil
	}
	return "pending", nil
}

// graph holds the dependency edges accepted so far, to refuse cycles.
type graph struct{ out map[string][]string }

func newGraph() *graph { return &graph{out: map[string][]string{}} }

func (g *graph) add(from, to string) { g.out[from] = append(g.out[from], to) }

// reaches reports whether to can be reached from from along accepted edges.
func (g *graph) reaches(from, to string) bool {
	seen := map[string]bool{from: true}
	stack := []string{from}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n == to {
			return true
		}
		for _, m := range g.out[n] {
			if !seen[m] {
				seen[m] = true
				stack = append(stack, m)
			}
		}
	}
	return false
}
