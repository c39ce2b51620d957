package sqlite

// Stubs of issue 13's store API: the signatures are the contract between the
// helpers; each helper replaces its stubs with the real thing and deletes
// them from this file. The file must be gone when issue 13 is done.

import (
	"context"
	"errors"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

var errStub = errors.New("not implemented yet")

// Heartbeat renews agent's lease on task id by the task's lease length. Only
// the holder may; a task not in progress is refused.
func (s *Store) Heartbeat(ctx context.Context, id, agent string) (Task, error) {
	return Task{}, errStub
}

// Release gives a held task back: pending, no assignee, no lease. Only the
// holder may (or anyone once the lease has expired). reason goes to the history.
func (s *Store) Release(ctx context.Context, id, agent, reason string) (Task, error) {
	return Task{}, errStub
}

// History returns a task's events oldest first, limit per page (0 = 50, max
// 200), after cursor (the next_cursor of the previous page; "" = from the
// start). It answers for a deleted task too (its history outlives it).
func (s *Store) History(ctx context.Context, id string, limit int, cursor string) ([]work.HistoryEvent, string, error) {
	return nil, "", errStub
}

// ExpireLeases records, once, the expiry of every lease that has run out and
// returns them. Safe to call from several processes at once.
func (s *Store) ExpireLeases(ctx context.Context) ([]work.LeaseExpiry, error) { return nil, errStub }

// NextLeaseExpiry is the earliest lease_expires_at among in-progress tasks
// whose expiry is not recorded yet; ok is false when there is none.
func (s *Store) NextLeaseExpiry(ctx context.Context) (at time.Time, ok bool, err error) {
	return time.Time{}, false, errStub
}

var (
	_ work.Claimer   = (*Store)(nil)
	_ work.Completer = (*Store)(nil)
	_ work.PlanStore = (*Store)(nil)
)
