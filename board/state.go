package board

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/clienterr"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/mirror"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/project"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

const (
	maxDescription = 500 // characters of a task's description in the state
	recentDone     = 10  // completions listed
	recentEvents   = 30  // history events listed
	maxDetail      = 200 // characters of a history event's detail
)

// State is the answer of GET api/state (see BOARD-CONTRACT.md). Every list
// is [] when empty, never null.
type State struct {
	Project     ProjectInfo      `json:"project"`
	Version     string           `json:"version"`
	GeneratedAt string           `json:"generated_at"`
	Actor       string           `json:"actor"`
	AllowEdits  bool             `json:"allow_edits"`
	CSRF        string           `json:"csrf"`
	Counts      map[string]int   `json:"counts"`
	Tasks       []TaskView       `json:"tasks"`
	Graph       GraphView        `json:"graph"`
	Agents      []AgentView      `json:"agents"`
	Completions []CompletionView `json:"completions"`
	Pools       []PoolView       `json:"pools"`
	Mirrors     []MirrorView     `json:"mirrors"`
	History     []EventView      `json:"history"`
}

type ProjectInfo struct {
	Root string `json:"root"`
	Name string `json:"name"`
}

type TaskView struct {
	ID             string   `json:"id"`
	Title          string   `json:"title"`
	Description    string   `json:"description"`
	Status         string   `json:"status"`
	Priority       string   `json:"priority"`
	Labels         []string `json:"labels"`
	Role           *string  `json:"role"`
	Assignee       *string  `json:"assignee"`
	ParentID       *string  `json:"parent_id"`
	DependsOn      []string `json:"depends_on"`
	StartedAt      *string  `json:"started_at"`
	LeaseExpiresAt *string  `json:"lease_expires_at"`
	UpdatedAt      string   `json:"updated_at"`
	CompletedAt    *string  `json:"completed_at"`
	Summary        *string  `json:"summary"`
}

type GraphView struct {
	Nodes        []string `json:"nodes"`
	Edges        []Edge   `json:"edges"`
	CriticalPath []string `json:"critical_path"`
}

// Edge says To depends on From.
type Edge struct {
	From string `json:"from"`
	To   string `json:"to"`
}

type AgentView struct {
	Agent string          `json:"agent"`
	Tasks []AgentTaskView `json:"tasks"`
}

type AgentTaskView struct {
	ID             string  `json:"id"`
	Title          string  `json:"title"`
	StartedAt      *string `json:"started_at"`
	LeaseExpiresAt *string `json:"lease_expires_at"`
	Expired        bool    `json:"expired"`
}

type CompletionView struct {
	ID          string         `json:"id"`
	Title       string         `json:"title"`
	Assignee    *string        `json:"assignee"`
	CompletedAt string         `json:"completed_at"`
	Summary     *string        `json:"summary"`
	Artifacts   []ArtifactView `json:"artifacts"`
}

type ArtifactView struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
	URL  string `json:"url"`
}

type PoolView struct {
	Name             string  `json:"name"`
	Backend          string  `json:"backend"`
	State            string  `json:"state"`
	InUse            int     `json:"in_use"`
	Idle             int     `json:"idle"`
	Max              int     `json:"max"`
	Waiting          int     `json:"waiting"`
	Timeouts         int64   `json:"timeouts"`
	AcquireWaitP99Ms float64 `json:"acquire_wait_p99_ms"`
	LastError        string  `json:"last_error"`
}

type MirrorView struct {
	Mirror      string  `json:"mirror"`
	State       string  `json:"state"`
	Pending     int     `json:"pending"`
	OldestAgeMs float64 `json:"oldest_age_ms"`
	LastError   string  `json:"last_error"`
	Note        string  `json:"note"`
}

type EventView struct {
	At     string `json:"at"`
	TaskID string `json:"task_id"`
	Title  string `json:"title"`
	Actor  string `json:"actor"`
	Event  string `json:"event"`
	Detail string `json:"detail"`
}

func (b *Board) state(w http.ResponseWriter, r *http.Request, s *session) {
	st, err := b.buildState(r.Context(), s)
	if err != nil {
		b.fail(w, "read the board's state", err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// fail answers a failure of the server's side in one sentence, without
// Go values, paths or credentials; the log has the details.
func (b *Board) fail(w http.ResponseWriter, what string, err error) {
	var ce *clienterr.Error
	msg := "the server could not " + what + "; its log has the details: reload the page to try again"
	code := http.StatusInternalServerError
	if errors.As(err, &ce) && ce.Kind == clienterr.Unavailable {
		msg, code = workspace.Redact(ce.Msg), http.StatusServiceUnavailable
	} else {
		b.log.Warn("board: "+what+" failed", "error", workspace.Redact(err.Error()))
	}
	writeJSON(w, code, map[string]any{"ok": false, "error": msg})
}

var priorityRank = map[string]int{"critical": 0, "high": 1, "medium": 2, "low": 3}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func tsPtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	v := ts(*t)
	return &v
}

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// buildState reads the project in one snapshot of its tasks, one read of
// its recent history and one read per listed completion (its artifacts).
func (b *Board) buildState(ctx context.Context, s *session) (*State, error) {
	p, release, err := b.lease(ctx, s.root)
	if err != nil {
		return nil, err
	}
	defer release()
	store, err := p.Tasks(ctx)
	if err != nil {
		return nil, err
	}
	tasks, _, err := store.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	now := b.o.Now()
	st := &State{
		Project:     ProjectInfo{Root: s.root.Path, Name: filepath.Base(s.root.Path)},
		Version:     b.o.Version,
		GeneratedAt: ts(now),
		Actor:       s.actor,
		AllowEdits:  b.o.AllowEdits,
		CSRF:        s.csrf,
		Counts:      map[string]int{},
		Tasks:       make([]TaskView, 0, len(tasks)),
		Graph:       GraphView{Nodes: []string{}, Edges: []Edge{}, CriticalPath: []string{}},
		Agents:      []AgentView{},
		Completions: []CompletionView{},
		Pools:       []PoolView{},
		Mirrors:     []MirrorView{},
		History:     []EventView{},
	}
	for _, status := range work.Statuses {
		st.Counts[string(status)] = 0
	}
	// Snapshot is in created order; a stable sort by priority keeps it within each.
	slices.SortStableFunc(tasks, func(a, b work.Task) int {
		return cmp.Compare(rankOf(a.Priority), rankOf(b.Priority))
	})
	open := map[string]bool{}
	for _, t := range tasks {
		if t.Status.IsOpen() {
			open[t.ID] = true
		}
	}
	g := work.NewGraph()
	agents := map[string][]AgentTaskView{}
	var done []work.Task
	for _, t := range tasks {
		st.Counts[string(t.Status)]++
		st.Tasks = append(st.Tasks, taskView(t))
		if open[t.ID] {
			st.Graph.Nodes = append(st.Graph.Nodes, t.ID)
			g.AddTask(work.GraphNode{ID: t.ID, Title: t.Title, Status: t.Status, Priority: t.Priority})
			for _, d := range t.DependsOn {
				if open[d] {
					st.Graph.Edges = append(st.Graph.Edges, Edge{From: d, To: t.ID})
					g.AddDependency(t.ID, d)
				}
			}
		}
		if t.Status == work.InProgress && t.Assignee != nil {
			agents[*t.Assignee] = append(agents[*t.Assignee], AgentTaskView{ID: t.ID, Title: t.Title,
				StartedAt: tsPtr(t.StartedAt), LeaseExpiresAt: tsPtr(t.LeaseExpiresAt),
				Expired: t.LeaseExpiresAt != nil && t.LeaseExpiresAt.Before(now)})
		}
		if t.Status == work.Completed && t.CompletedAt != nil {
			done = append(done, t)
		}
	}
	cp, err := g.CriticalPath()
	if err != nil {
		// The store refuses cycles: only a database edited by hand holds one.
		b.log.Warn("board: no critical path", "workspace", s.root.Path, "error", err.Error())
	}
	for _, n := range cp.Tasks {
		st.Graph.CriticalPath = append(st.Graph.CriticalPath, n.ID)
	}
	for _, name := range slices.Sorted(maps.Keys(agents)) {
		ts := agents[name]
		slices.SortStableFunc(ts, func(a, b AgentTaskView) int { return cmp.Compare(deref(a.StartedAt), deref(b.StartedAt)) })
		st.Agents = append(st.Agents, AgentView{Agent: name, Tasks: ts})
	}
	slices.SortStableFunc(done, func(a, b work.Task) int { return b.CompletedAt.Compare(*a.CompletedAt) })
	for _, t := range done[:min(len(done), recentDone)] {
		cv := CompletionView{ID: t.ID, Title: t.Title, Assignee: t.Assignee, CompletedAt: ts(*t.CompletedAt),
			Summary: t.Summary, Artifacts: []ArtifactView{}}
		d, err := store.Get(ctx, t.ID)
		if err != nil {
			return nil, err
		}
		for _, a := range d.Artifacts {
			cv.Artifacts = append(cv.Artifacts, ArtifactView{Name: a.Name, Size: a.Size,
				URL: "api/artifacts/" + url.PathEscape(t.ID) + "/" + url.PathEscape(a.Name)})
		}
		st.Completions = append(st.Completions, cv)
	}
	for _, m := range b.o.Registry.Metrics(s.root.Path) {
		st.Pools = append(st.Pools, PoolView{Name: m.Name, Backend: m.Backend, State: string(m.State), InUse: m.InUse,
			Idle: m.Idle, Max: m.Max, Waiting: m.Waiting, Timeouts: m.Timeouts,
			AcquireWaitP99Ms: float64(m.AcquireWaitP99.Microseconds()) / 1e3, LastError: workspace.Redact(m.LastError)})
	}
	st.Mirrors = mirrorViews(ctx, p)
	events, err := store.RecentHistory(ctx, recentEvents)
	if err != nil {
		return nil, err
	}
	for _, e := range events {
		st.History = append(st.History, EventView{At: ts(e.At), TaskID: e.TaskID, Title: e.Title, Actor: e.Actor,
			Event: e.Event, Detail: detail(e.HistoryEvent)})
	}
	return st, nil
}

func rankOf(p string) int {
	if r, ok := priorityRank[p]; ok {
		return r
	}
	return len(priorityRank)
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func taskView(t work.Task) TaskView {
	labels, deps := t.Labels, t.DependsOn
	if labels == nil {
		labels = []string{}
	}
	if deps == nil {
		deps = []string{}
	}
	return TaskView{ID: t.ID, Title: t.Title, Description: clip(t.Description, maxDescription), Status: string(t.Status),
		Priority: t.Priority, Labels: labels, Role: t.Role, Assignee: t.Assignee, ParentID: t.ParentID, DependsOn: deps,
		StartedAt: tsPtr(t.StartedAt), LeaseExpiresAt: tsPtr(t.LeaseExpiresAt), UpdatedAt: ts(t.UpdatedAt),
		CompletedAt: tsPtr(t.CompletedAt), Summary: t.Summary}
}

// mirrorViews is the syncer's status of each mirror, or "not opened" for
// both when the project's task store (which starts the syncer) is closing.
func mirrorViews(ctx context.Context, p *project.Project) []MirrorView {
	sy := p.Syncer()
	if sy == nil {
		return []MirrorView{{Mirror: mirror.Vector, State: "not opened"}, {Mirror: mirror.Graph, State: "not opened"}}
	}
	out := []MirrorView{}
	for _, m := range sy.Status(ctx) {
		out = append(out, MirrorView{Mirror: m.Mirror, State: m.State, Pending: m.Pending, OldestAgeMs: m.OldestAgeMs,
			LastError: workspace.Redact(m.LastError), Note: workspace.Redact(m.Note)})
	}
	return out
}

// detail is a history event in one line: its changes, then its note.
func detail(e work.HistoryEvent) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(e.Changes)) {
		if e.Event == work.EventCreated {
			break // the task as created is on the board itself
		}
		v := e.Changes[k]
		if k == "metadata" || k == "description" {
			parts = append(parts, k+" changed")
			continue
		}
		parts = append(parts, fmt.Sprintf("%s: %s → %s", k, show(v[0]), show(v[1])))
	}
	if e.Late {
		parts = append(parts, "after the lease expired")
	}
	if e.Note != "" {
		parts = append(parts, e.Note)
	}
	line := strings.Join(parts, "; ")
	line = strings.Join(strings.Fields(line), " ") // one line
	return clip(line, maxDetail)
}

func show(v any) string {
	switch x := v.(type) {
	case nil:
		return "none"
	case string:
		return clip(x, 60)
	case []any:
		s := make([]string, len(x))
		for i, e := range x {
			s[i] = show(e)
		}
		return "[" + strings.Join(s, ", ") + "]"
	default:
		return clip(fmt.Sprint(x), 60)
	}
}
