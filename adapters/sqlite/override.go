package sqlite

import (
	"context"
	"fmt"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// A person overseeing the work (the board's user, actor "human:board") may
// take a task back from an agent, or cancel it, whoever holds it: the lease
// rule (only the holder writes under a live lease) binds agents, not the
// person who hands out the work. Both are recorded in the history under
// actor, with the holder's lease expiry noted first if it had run out.

// OverrideRelease gives an in-progress task back (pending, no assignee, no
// lease) whoever holds it, recorded as a release by actor.
func (s *Store) OverrideRelease(ctx context.Context, id, actor, reason string) (Task, error) {
	actor, err := checkOverride(id, actor, reason)
	if err != nil {
		return Task{}, err
	}
	return s.release(ctx, id, actor, reason, false)
}

// OverrideCancel cancels a task that is not finished (pending, in progress,
// blocked or failed) whoever holds it, recorded as a status change by actor.
func (s *Store) OverrideCancel(ctx context.Context, id, actor, reason string) (Task, error) {
	actor, err := checkOverride(id, actor, reason)
	if err != nil {
		return Task{}, err
	}
	var out Task
	err = s.writeChange(ctx, func(c *conn) error {
		l, err := loadLease(ctx, c, id)
		if err != nil {
			return err
		}
		if l.status == work.Cancelled || !l.status.CanMove(work.Cancelled) {
			return &Error{Kind: KindTransition, Field: "id", Msg: fmt.Sprintf(
				"task %s is %s; only a pending, in_progress, blocked or failed task can be cancelled", id, l.status)}
		}
		ts := fmtTime(s.now())
		if err := s.noteExpiry(ctx, c, &l, ts); err != nil {
			return err
		}
		if _, err := c.exec(ctx, `UPDATE tasks SET status = 'cancelled',
			lease_seconds = NULL, lease_expires_at = NULL, lease_expiry_noted = 0,
			version = version + 1, updated_at = ? WHERE id = ?`, ts, id); err != nil {
			return err
		}
		if err := s.record(ctx, c, ts, historyEntry{taskID: id, actor: actor, event: work.EventStatus, note: reason,
			changes: map[string][2]any{"status": {string(l.status), string(work.Cancelled)}}}); err != nil {
			return err
		}
		if err := enqueue(ctx, c, EventStatus, ts, id); err != nil {
			return err
		}
		out, err = getTask(ctx, c, "id", id)
		return err
	})
	return out, wrap("cancel task", err)
}

// checkOverride validates an override's arguments; it returns the actor.
func checkOverride(id, actor, reason string) (string, error) {
	if err := rules.ID("id", id); err != nil {
		return "", err
	}
	actor, err := rules.Name("actor", actor)
	if err != nil {
		return "", err
	}
	if actor == "" {
		return "", invalid("actor", "actor is required: pass who asks, such as human:board")
	}
	return actor, rules.Text("reason", reason, maxReason)
}
