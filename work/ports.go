package work

import (
	"context"
	"time"
)

// Store ports: the small interfaces the use-cases are written against. The
// SQLite adapter implements all of them.

// Claimer hands out work.
type Claimer interface {
	Claim(ctx context.Context, req ClaimRequest) (*Task, error)
}

// Completer finishes a task and reads it back.
type Completer interface {
	Get(ctx context.Context, id string) (TaskDetail, error)
	Complete(ctx context.Context, id string, c Completion) (Task, []string, error)
}

// PlanStore checks a task's fields and writes a resolved plan in one transaction.
type PlanStore interface {
	// CheckNewTask applies the field rules of task_create (no I/O).
	CheckNewTask(nt NewTask) error
	// CreatePlan writes every task of the plan, or none: existing ids named
	// by the plan must exist (every missing one is reported).
	CreatePlan(ctx context.Context, plan []ResolvedPlanTask, actor string) (PlanResult, error)
}

// ArtifactFiles keeps artifact files (the project's artifacts folder).
type ArtifactFiles interface {
	// Exists says whether the task already has an artifact of that name.
	Exists(taskID, name string) (bool, error)
	// Write stores content and returns its record (path relative to the project).
	Write(taskID, name string, content []byte) (ArtifactRecord, error)
	// Remove deletes a file Write created (undo).
	Remove(rec ArtifactRecord) error
}

// Lease bounds.
const (
	MinLease     = time.Second
	MaxLease     = 24 * time.Hour
	DefaultLease = 900 * time.Second
)

// MaxPlanTasks is the most tasks one plan may hold.
const MaxPlanTasks = 500

// TaskStore is what the tools, the board and a project's lease timer ask of
// the project's task store: its tasks, claims and leases, plans, history,
// completions and the dependency graph. The SQLite adapter implements it;
// a second store (issue 18: PostgreSQL) is another adapter behind it.
type TaskStore interface {
	Claimer
	Completer
	PlanStore

	Create(ctx context.Context, nt NewTask) (Task, error)
	Exists(ctx context.Context, id string) (bool, error)
	List(ctx context.Context, f Filter) (tasks []Task, next string, err error)
	Update(ctx context.Context, id string, version int64, p Patch) (Task, error)
	// Delete removes a task (and with cascade its subtree) and returns the ids deleted.
	Delete(ctx context.Context, id string, cascade bool) ([]string, error)
	AddDependency(ctx context.Context, id, dependsOn string) (Task, error)
	RemoveDependency(ctx context.Context, id, dependsOn string) (Task, error)
	CountTasks(ctx context.Context) (int, error)

	Heartbeat(ctx context.Context, id, agent string) (Task, error)
	Release(ctx context.Context, id, agent, reason string) (Task, error)
	// OverrideCancel and OverrideRelease are a person's actions (the board):
	// they act on a claimed task whoever holds it, and say so in the history.
	OverrideCancel(ctx context.Context, id, actor, reason string) (Task, error)
	OverrideRelease(ctx context.Context, id, actor, reason string) (Task, error)
	// ExpireLeases writes the expiries that are due to the history, once each.
	ExpireLeases(ctx context.Context) ([]LeaseExpiry, error)
	// NextLeaseExpiry is when the next live lease runs out (ok false: none).
	NextLeaseExpiry(ctx context.Context) (at time.Time, ok bool, err error)

	Summary(ctx context.Context, opt SummaryOptions) (Summary, error)
	History(ctx context.Context, id string, limit int, cursor string) (events []HistoryEvent, next string, err error)
	RecentHistory(ctx context.Context, limit int) ([]ProjectEvent, error)
	// ChangeMark is the project's change position; ChangedSince lists the
	// tasks changed after a mark (by any process) and the new mark.
	ChangeMark(ctx context.Context) (int64, error)
	ChangedSince(ctx context.Context, mark int64) (ids []string, next int64, err error)

	CompleteIDs(ctx context.Context, prefix string, limit int) (Suggestions, error)
	CompleteLabels(ctx context.Context, prefix string, limit int) (Suggestions, error)
	CompleteRoles(ctx context.Context, prefix string, limit int) (Suggestions, error)

	Blockers(ctx context.Context, id string, open []string) (BlockerSet, error)
	Dependents(ctx context.Context, id string, open []string) ([]Dependent, error)
	DependencyGraph(ctx context.Context, id string, open []string) (DependencySnapshot, error)
	OpenGraph(ctx context.Context, open []string) (OpenGraph, error)
	OpenSubtasks(ctx context.Context, open []string) ([]SubtaskEdge, error)
}

// Outbox is what the mirror syncer asks of a task store: the changes in the
// order they were committed, the tasks they name, each mirror's cursor, and
// the lease that lets one syncer at a time deliver to a mirror.
type Outbox interface {
	OutboxAfter(ctx context.Context, after int64, limit int) ([]OutboxEvent, error)
	TasksByID(ctx context.Context, ids []string) ([]Task, error)
	TaskIDs(ctx context.Context) ([]string, error)
	CountTasks(ctx context.Context) (int, error)
	// Snapshot is every task and the outbox position they reflect.
	Snapshot(ctx context.Context) ([]Task, int64, error)
	GraphTasks(ctx context.Context, ids []string) (map[string]GraphTask, error)
	MirrorState(ctx context.Context, mirror string) (OutboxState, error)
	AdvanceCursor(ctx context.Context, mirror string, seq int64) error
	AdvanceCursorLeased(ctx context.Context, mirror, owner string, ttl time.Duration, seq int64) error
	// AcquireLease makes owner the one syncer of mirror for ttl; dead says
	// whether another owner's process is gone (its lease may be taken).
	AcquireLease(ctx context.Context, mirror, owner string, ttl time.Duration, dead func(other string) bool) (bool, error)
	ReleaseLease(ctx context.Context, mirror, owner string) error
	// PruneOutbox removes what every named mirror has (every event, with none).
	PruneOutbox(ctx context.Context, mirrors []string) (int64, error)
}

// Store is a project's whole task store, as the project holds it.
type Store interface {
	TaskStore
	Outbox
	// OnOutbox sets the function called after each committed transaction
	// that wrote outbox rows (nil: none). It must not block.
	OnOutbox(fn func()) // ProjectID is the project's stable id, as the store keeps it.
	ProjectID() string
}
