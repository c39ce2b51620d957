package work

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/clienterr"
)

// ArtifactInput is an artifact task_complete was asked to keep.
type ArtifactInput struct {
	Name    string // already sanitized
	Content []byte
}

// CompleteWithArtifact finishes a task and keeps its artifact: the task must
// be completable before anything is written; the file is written, then the
// row; if the row cannot be written the file is removed, so nothing is half
// done. Artifacts are never overwritten: a name the task already has is
// refused (files.Write refuses it too, should another call write it first).
func CompleteWithArtifact(ctx context.Context, store Completer, files ArtifactFiles, id string, c Completion, art *ArtifactInput) (Task, []string, error) {
	if art == nil {
		return store.Complete(ctx, id, c)
	}
	det, err := store.Get(ctx, id)
	if err != nil {
		return Task{}, nil, err
	}
	if err := completable(det, c.Outcome); err != nil {
		return Task{}, nil, err
	}
	exists, err := files.Exists(id, art.Name)
	if err != nil {
		return Task{}, nil, err
	}
	if exists {
		return Task{}, nil, artifactExists(id, art.Name)
	}
	rec, err := files.Write(id, art.Name, art.Content)
	if errors.Is(err, fs.ErrExist) {
		return Task{}, nil, artifactExists(id, art.Name)
	}
	if err != nil {
		return Task{}, nil, err
	}
	c.Artifact = &rec
	t, ready, err := store.Complete(ctx, id, c)
	if err != nil {
		// The row was not written, so neither is the file.
		if rerr := files.Remove(rec); rerr != nil {
			err = errors.Join(err, fmt.Errorf("remove the artifact of a completion that failed: %w", rerr))
		}
		return Task{}, nil, err
	}
	return t, ready, nil
}

func artifactExists(id, name string) error {
	return &clienterr.Error{Kind: clienterr.InvalidArgument, Field: "artifact.name", Msg: fmt.Sprintf(
		"artifact %q already exists for task %s; choose another name (artifacts are never overwritten)", name, id)}
}

// completable refuses, before anything is written, a completion the store
// would refuse: a task that is not pending or in progress, and (outcome
// completed) a parent with open subtasks.
func completable(det TaskDetail, outcome string) error {
	t := det.Task
	if t.Status != Pending && t.Status != InProgress {
		msg := fmt.Sprintf("task %s is %s; only a pending or in_progress task can be completed", t.ID, t.Status)
		switch t.Status {
		case Blocked:
			msg += "; move it to pending or in_progress with task_update first"
		case Failed:
			msg += "; to retry it, move it back to pending with task_update"
		}
		return &clienterr.Error{Kind: clienterr.InvalidTransition, Field: "id", Msg: msg}
	}
	if outcome != "" && outcome != string(Completed) {
		return nil // failing a parent is allowed: its subtasks stay as they are
	}
	var open []string
	for _, s := range det.Subtasks {
		if s.Status.IsOpen() {
			open = append(open, s.ID)
		}
	}
	if len(open) > 0 {
		return OpenSubtasksError(t.ID, "id", open)
	}
	return nil
}

// OpenSubtasksError refuses to complete parent id while the listed subtasks
// are open: one sentence for the store and the domain, so that the refusal
// reads the same with or without an artifact.
func OpenSubtasksError(id, field string, open []string) error {
	names := strings.Join(open[:min(5, len(open))], ", ")
	if len(open) > 5 {
		names += fmt.Sprintf(" and %d more", len(open)-5)
	}
	noun := "subtasks"
	if len(open) == 1 {
		noun = "subtask"
	}
	return &clienterr.Error{Kind: clienterr.InvalidTransition, Field: field, Msg: fmt.Sprintf(
		"task %s has %d open %s (%s), so it cannot be completed; complete or cancel them first; "+
			"failing or cancelling %s leaves them as they are", id, len(open), noun, names, id)}
}
