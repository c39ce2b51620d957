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
