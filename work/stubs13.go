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

// ArtifactInput is an artifact task_complete was asked to keep.
type ArtifactInput struct {
	Name    string // already sanitized
	Content []byte
}

// CompleteWithArtifact finishes a task and keeps its artifact: the task must
// be completable before anything is written; the file is written, then the
// row; if the row cannot be written the file is removed, so nothing is half done.
func CompleteWithArtifact(ctx context.Context, store Completer, files ArtifactFiles, id string, c Completion, art *ArtifactInput) (Task, []string, error) {
	return Task{}, nil, errStub
}
