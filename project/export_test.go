package project

import (
	"context"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// Member is what a Project holds per backend, for the registry's tests.
type Member = member

// GetMember leases the project at root and returns its member for backend,
// created by create on first use, as Tasks, Vectors and Graph do with the
// real adapters. release ends the lease.
func GetMember(ctx context.Context, r *Registry, root, backend string, create func(context.Context) (Member, error)) (Member, func(), error) {
	p, release, err := r.Acquire(ctx, workspace.Root{Path: root})
	if err != nil {
		return nil, nil, err
	}
	ok := false
	defer func() {
		if !ok {
			release()
		}
	}()
	m, err := r.member(ctx, p, backend, create)
	if err != nil {
		return nil, nil, err
	}
	ok = true
	return m, release, nil
}
