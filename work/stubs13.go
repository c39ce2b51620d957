package work

// Stubs of issue 13's use-cases: the signatures are the contract between the
// helpers; the domain helper replaces them and deletes this file.

import (
	"context"
	"errors"
)

var errStub = errors.New("not implemented yet")

// Plan validates a whole plan (refs, parents, dependencies, cycles, fields:
// every problem listed by ref, nothing written) and writes it in one
// transaction. progress, if not nil, is called as tasks are validated and
// written (done of total).
func Plan(ctx context.Context, store PlanStore, tasks []PlanTask, actor string, progress func(done, total int)) (PlanResult, error) {
	return PlanResult{}, errStub
}
