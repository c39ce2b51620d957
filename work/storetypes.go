package work

import (
	"errors"
	"time"
)

// The values the task store's ports (ports.go) read and return beyond the
// task itself: the dependency graph, completions, the project's history, and
// the outbox the mirrors are fed from. Any task store (SQLite today) answers
// with these.

// GraphTask is a task as a node of the dependency graph.
type GraphTask struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Status   string `json:"status"`
	Priority string `json:"priority"`
}

// DependencyEdge says that Task depends on DependsOn.
type DependencyEdge struct {
	Task      string `json:"task"`
	DependsOn string `json:"depends_on"`
}

// QueriedBlocker is an unfinished task that blocks another, transitively
// through unfinished tasks only, at Depth hops (1 = a direct dependency)
// along the shortest such chain, as a store's query finds it (the graph walk
// of graph.go gives the whole Blocker).
type QueriedBlocker struct {
	GraphTask
	Depth int `json:"depth"`
}

// BlockerSet is what blocks a task: the task itself, its unfinished blockers
// and the dependency edges among the task and those blockers (enough to
// rebuild every chain).
type BlockerSet struct {
	Task     GraphTask
	Blockers []QueriedBlocker // by depth, then id
	Edges    []DependencyEdge // by task, then depends_on
}

// Dependent is a task that depends directly on another, with its other
// dependencies that are not completed yet (by id).
type Dependent struct {
	GraphTask
	Waiting []string `json:"waiting_on"`
}

// OpenGraph is the project's unfinished work: the tasks in one of the given
// statuses and the dependency edges between two of them.
type OpenGraph struct {
	Tasks []GraphTask      // by id
	Edges []DependencyEdge // by task, then depends_on
}

// DependencySnapshot is Blockers, Dependents and OpenGraph read from one
// snapshot, so that they describe the same moment.
type DependencySnapshot struct {
	Blockers   BlockerSet  // zero when no task was asked about
	Dependents []Dependent // nil when no task was asked about
	Open       OpenGraph
}

// SubtaskEdge says that Child is a subtask of Parent.
type SubtaskEdge struct {
	Parent string `json:"parent"`
	Child  string `json:"child"`
}

// Suggestions is the answer to a completion request: at most limit values,
// most relevant first, and how many matched in all.
type Suggestions struct {
	Values []string
	Total  int
}

// HasMore reports whether more values matched than were returned.
func (c Suggestions) HasMore() bool { return c.Total > len(c.Values) }

// ProjectEvent is one history event of any task of the project, with the
// task's title ("" once the task is deleted).
type ProjectEvent struct {
	HistoryEvent
	TaskID string
	Title  string
}

// OutboxEvent is one row of the outbox.
type OutboxEvent struct {
	Seq       int64
	TaskID    string
	Kind      string
	CreatedAt time.Time
}

// OutboxState is where one mirror stands in the outbox.
type OutboxState struct {
	Cursor        int64 // last seq delivered to the mirror
	HasCursor     bool  // false: the mirror was never synced
	PrunedThrough int64 // events up to here are gone from the outbox
	MaxSeq        int64 // the last seq ever written (0: none)
	Pending       int   // events after Cursor
	Oldest        time.Time
}

// Behind reports whether events the mirror has not seen were pruned: it must
// be rebuilt from the tasks.
func (o OutboxState) Behind() bool { return o.Cursor < o.PrunedThrough }

// ErrLeaseLost says that another syncer holds a mirror's lease: it delivers
// to that mirror now.
var ErrLeaseLost = errors.New("outbox: another syncer holds the mirror's lease")

// MaxCompletions is the most values one completion answers with (the MCP
// specification's bound for completion/complete).
const MaxCompletions = 100
