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
	return s.override(ctx, id, actor, reason, work.Pending, "release task")
}

// OverrideCancel cancels a task that is not finished (pending, in progress,
// blocked or failed) whoever holds it, recorded as a status change by actor.
func (s *Store) OverrideCancel(ctx context.Context, id, actor, reason string) (Task, error) {
	return s.override(ctx, id, actor, reason, work.Cancelled, "cancel task")
}

func (s *Store) override(ctx context.Context, id, actor, reason string, to work.Status, what string) (Task, error) {
	if err := checkID("id", id); err != nil {
		return Task{}, err
	}
	actor, err := checkName("actor", actor)
	if err != nil {
		return Task{}, err
	}
	if actor == "" {
		return Task{}, invalid("actor", "actor is required: pass who asks, such as human:board")
	}
	if err := checkText("reason", reason, maxReason); err != nil {
		return Task{}, err
	}
	var out Task
	err = s.writeChange(ctx, func(c *conn) error {
		l, err := loadLease(ctx, c, id)
		if err != nil {
			return err
		}
		event := work.EventStatus
		if to == work.Pending {
			if l.status != work.InProgress {
				return &Error{Kind: KindTransition, Field: "id", Msg: fmt.Sprintf(
					"task %s is %s; only an in_progress task can be released", id, l.status)}
			}
			event = work.EventReleased
		} else if l.status == to || !l.status.CanMove(to) {
			return &Error{Kind: KindTransition, Field: "id", Msg: fmt.Sprintf(
				"task %s is %s; only a pending, in_progress, blocked or failed task can be cancelled", id, l.status)}
		}
		ts := fmtTime(s.now())
		if err := s.noteExpiry(ctx, c, &l, ts); err != nil {
			return err
		}
		changes := map[string][2]any{"status": {string(l.status), string(to)}}
		assign := `assignee`
		if to == work.Pending {
			assign = `NULL`
			changes["assignee"] = [2]any{nullable(l.assignee), nil}
		}
		if _, err := c.exec(ctx, `UPDATE tasks SET status = ?, assignee = `+assign+`,
			started_at = CASE WHEN ? = 'pending' THEN NULL ELSE started_at END,
			lease_seconds = NULL, lease_expires_at = NULL, lease_expiry_noted = 0,
			version = version + 1, updated_at = ? WHERE id = ?`, string(to), string(to), ts, id); err != nil {
			return err
		}
		if err := s.record(ctx, c, ts, historyEntry{taskID: id, actor: actor, event: event, note: reason,
			changes: changes}); err != nil {
			return err
		}
		if err := enqueue(ctx, c, EventStatus, ts, id); err != nil {
			return err
		}
		out, err = getTask(ctx, c, "id", id)
		return err
	})
	return out, wrap(what, err)
}
