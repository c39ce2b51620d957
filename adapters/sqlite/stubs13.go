package sqlite

// Stubs of issue 13's store API: the signatures are the contract between the
// helpers; each helper replaces its stubs with the real thing and deletes
// them from this file. The file must be gone when issue 13 is done.

import (
	"context"
	"errors"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

var errStub = errors.New("not implemented yet")

// CheckNewTask applies task_create's field rules without touching the database.
func (s *Store) CheckNewTask(nt work.NewTask) error { return errStub }

// CreatePlan writes a resolved plan in one transaction (see work.PlanStore).
func (s *Store) CreatePlan(ctx context.Context, plan []work.ResolvedPlanTask, actor string) (work.PlanResult, error) {
	return work.PlanResult{}, errStub
}

// Summary is the project at a glance (see work.Summary).
func (s *Store) Summary(ctx context.Context, opt work.SummaryOptions) (work.Summary, error) {
	return work.Summary{}, errStub
}

var (
	_ work.Claimer   = (*Store)(nil)
	_ work.Completer = (*Store)(nil)
	_ work.PlanStore = (*Store)(nil)
)
