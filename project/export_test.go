package project

import (
	"context"
	"log/slog"
	"time"

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

// SetLogLimits sets the rotation size and recheck interval of project logs
// for one test.
func SetLogLimits(t interface{ Cleanup(func()) }, size int64, recheck time.Duration) {
	oldSize, oldRecheck := maxLogBytes, logRecheck
	maxLogBytes, logRecheck = size, recheck
	t.Cleanup(func() { maxLogBytes, logRecheck = oldSize, oldRecheck })
}

// Logger is the project's logger (opening its log file on first use).
func (p *Project) Logger() *slog.Logger { return p.logger() }

// BorrowTasks lends the task store as the mirror syncer borrows a store: under
// a lease of its own, refused once the registry let go of the project.
func (p *Project) BorrowTasks(ctx context.Context) (func(), error) {
	_, release, err := borrow(p, p.Tasks)(ctx)
	return release, err
}

// ErrProjectClosing is what a borrow gets once the project is closing.
var ErrProjectClosing = errProjectClosing

// SetLeaseTiming sets the lease timer's longest wait, shortest wait and retry
// delay for one test (jitter off).
func SetLeaseTiming(t interface{ Cleanup(func()) }, maxWait, minWait, retry time.Duration) {
	oldMax, oldMin, oldRetry, oldJitter := leaseMaxWait, leaseMinWait, leaseRetry, leaseJitter
	leaseMaxWait, leaseMinWait, leaseRetry, leaseJitter = maxWait, minWait, retry, 0
	t.Cleanup(func() { leaseMaxWait, leaseMinWait, leaseRetry, leaseJitter = oldMax, oldMin, oldRetry, oldJitter })
}

// StartLeaseTimer runs a lease timer on store, as an open project does, and
// returns how to stop it.
func StartLeaseTimer(store LeaseStore, root string, logger *slog.Logger, publish LeaseListener) (stop func(context.Context) error) {
	return startLeaseTimer(store, root, logger, publish).Stop
}
