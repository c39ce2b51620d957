package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// Claim leases, as adapters/sqlite keeps them (its lease.go): an in-progress
// task is held by its assignee until lease_expires_at; under a live lease
// only the holder may change it, and the holder's write renews the lease; the
// expiry is written to the history once (lease_expiry_noted).

// leaseRow is what the lease rules need of a task.
type leaseRow struct {
	id       string
	status   work.Status
	assignee string // "" = none
	seconds  int64  // 0 = no lease
	expires  *time.Time
	noted    bool
}

func (l leaseRow) live(now time.Time) bool {
	return l.status == work.InProgress && l.expires != nil && !l.expires.Before(now)
}

func (l leaseRow) expired(now time.Time) bool {
	return l.status == work.InProgress && l.expires != nil && l.expires.Before(now)
}

// lockTask reads a task and its lease, locking its row until the commit
// (FOR NO KEY UPDATE: the foreign keys' KEY SHARE locks on it still pass).
func (s *Store) lockTask(ctx context.Context, q db, id string) (Task, leaseRow, error) {
	if hasNUL(id) {
		return Task{}, leaseRow{}, notFound("id", id)
	}
	var (
		r       taskRow
		seconds *int64
		l       = leaseRow{id: id}
	)
	err := q.QueryRow(ctx, `SELECT `+taskCols+`, t.lease_seconds, t.lease_expiry_noted FROM tasks t
		WHERE t.project_id = $1 AND t.id = $2 FOR NO KEY UPDATE OF t`, s.pid, id).Scan(append(r.dest(), &seconds, &l.noted)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return Task{}, l, notFound("id", id)
	}
	if err != nil {
		return Task{}, l, err
	}
	t := r.task()
	l.status, l.expires = t.Status, t.LeaseExpiresAt
	if t.Assignee != nil {
		l.assignee = *t.Assignee
	}
	if seconds != nil {
		l.seconds = *seconds
	}
	return t, l, nil
}

func (s *Store) leaseLength(l leaseRow) time.Duration {
	if l.seconds > 0 {
		return time.Duration(l.seconds) * time.Second
	}
	return s.defaultLease()
}

func (s *Store) defaultLease() time.Duration {
	if s.opts.DefaultLease > 0 {
		return s.opts.DefaultLease
	}
	return work.DefaultLease
}

// checkHolder applies the lease rule to a write by agent: under a live lease
// only the holder may change the task. late says the holder writes after its
// lease ran out (its work still counts).
func (s *Store) checkHolder(ctx context.Context, q db, l leaseRow, agent string, now time.Time) (late bool, err error) {
	if l.status != work.InProgress || l.assignee == "" {
		return false, nil
	}
	if l.live(now) {
		if agent == l.assignee {
			return false, nil
		}
		return false, s.leaseHeld(ctx, q, l, agent)
	}
	return l.expired(now) && agent == l.assignee, nil
}

// leaseHeld is the refusal of a write by agent to a task another agent holds
// under a live lease. An agent whose own claim expired and was taken over
// learns when and by whom.
func (s *Store) leaseHeld(ctx context.Context, q db, l leaseRow, agent string) error {
	e := &Error{Kind: KindLeaseHeld, Field: "agent"}
	if agent != "" {
		var event string
		var from, expired *string
		err := q.QueryRow(ctx, `SELECT event, changes->'assignee'->>0, changes->'lease_expires_at'->>0
			FROM task_history WHERE project_id = $1 AND task_id = $2 AND event IN ('claimed', 'reclaimed')
			AND (changes->'assignee'->>0 = $3 OR changes->'assignee'->>1 = $3)
			ORDER BY seq DESC LIMIT 1`, s.pid, l.id, agent).Scan(&event, &from, &expired)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if err == nil && event == work.EventReclaimed && from != nil && *from == agent {
			at := ""
			if expired != nil {
				at = rfc3339(*expired)
			}
			e.Msg = fmt.Sprintf("your claim on %s expired at %s; it is now held by agent %s; nothing was changed: "+
				"leave this task and call task_claim for other work", l.id, at, l.assignee)
			return e
		}
	}
	until := ""
	if l.expires != nil {
		until = l.expires.UTC().Format(time.RFC3339)
	}
	e.Msg = fmt.Sprintf("task %s is held by agent %s until %s; only its holder may change it "+
		"(or claim it after the lease expires)", l.id, l.assignee, until)
	return e
}

// rfc3339 is a time as the history keeps it (timeLayout), to the second.
func rfc3339(stored string) string {
	if t, err := time.Parse(time.RFC3339Nano, stored); err == nil {
		return t.UTC().Format(time.RFC3339)
	}
	return stored
}

// noteExpiry writes the expiry of l's lease to the history, once: before the
// first change made after the lease ran out. The event's time is the moment
// the lease ran out; its actor is the holder.
func (s *Store) noteExpiry(ctx context.Context, q db, l *leaseRow, now time.Time) error {
	if !l.expired(now) || l.noted {
		return nil
	}
	if _, err := q.Exec(ctx, `UPDATE tasks SET lease_expiry_noted = true WHERE project_id = $1 AND id = $2`, s.pid, l.id); err != nil {
		return err
	}
	l.noted = true
	return s.record(ctx, q, *l.expires, historyEntry{taskID: l.id, actor: l.assignee, event: work.EventLeaseExpired,
		changes: map[string][2]any{"lease_expires_at": {fmtTime(*l.expires), nil}}})
}

// renew gives the holder's lease on l a new expiry, exp (a lease that had run
// out is renewed late: its expiry is noted first, and the renewal recorded).
func (s *Store) renew(ctx context.Context, q db, l *leaseRow, exp, now time.Time) error {
	if l.expired(now) {
		if err := s.noteExpiry(ctx, q, l, now); err != nil {
			return err
		}
		if err := s.record(ctx, q, now, historyEntry{taskID: l.id, actor: l.assignee, event: work.EventLeaseRenewed,
			late: true, changes: map[string][2]any{"lease_expires_at": {fmtTime(*l.expires), fmtTime(exp)}}}); err != nil {
			return err
		}
	}
	_, err := q.Exec(ctx, `UPDATE tasks SET lease_expires_at = $3, lease_expiry_noted = false
		WHERE project_id = $1 AND id = $2`, s.pid, l.id, exp)
	return err
}

// openSubtasks refuses to complete a parent whose subtasks are still open,
// naming up to five of them.
func (s *Store) openSubtasks(ctx context.Context, q db, id, field string) error {
	rows, err := q.Query(ctx, `SELECT id FROM tasks WHERE project_id = $1 AND parent_id = $2
		AND status IN ('pending','in_progress','blocked') ORDER BY created_at, id`, s.pid, id)
	if err != nil {
		return err
	}
	open, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	if len(open) == 0 {
		return nil
	}
	return work.OpenSubtasksError(id, field, open)
}

// checkParent refuses a parent that does not exist or that lies in id's own
// subtree. The caller holds the project's lock (lockProject), so no other
// parent change can close a cycle meanwhile.
func (s *Store) checkParent(ctx context.Context, q db, id, parent string) error {
	if err := s.mustExist(ctx, q, "parent_id", parent); err != nil {
		return err
	}
	var inside bool
	err := q.QueryRow(ctx, `WITH RECURSIVE sub(id) AS (
			SELECT $2::text UNION SELECT t.id FROM tasks t JOIN sub ON t.project_id = $1 AND t.parent_id = sub.id)
		SELECT EXISTS (SELECT 1 FROM sub WHERE id = $3)`, s.pid, id, parent).Scan(&inside)
	if err != nil || !inside {
		return err
	}
	return &Error{Kind: KindCycle, Field: "parent_id",
		Msg: fmt.Sprintf("task %s is a subtask of %s, so it cannot become its parent; choose a parent outside %s's subtree", parent, id, id)}
}

// checkPatch applies task_update's field rules (work.FieldRules.Patch).
func (s *Store) checkPatch(p Patch) (work.CheckedPatch, error) {
	return rules.Patch(p, s.opts.MaxMetadata)
}

func strPtrEq(a, b *string) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// strOrNil is *p, or nil (JSON null) for a nil pointer.
func strOrNil(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

func nilIfEmpty(v string) *string {
	if v == "" {
		return nil
	}
	return &v
}

// Update applies p to the task, as adapters/sqlite's Update does: version > 0
// must equal the stored version (optimistic locking; 0 skips the check); the
// status moves only as work.CheckTransition allows; a patch that changes
// nothing returns the task as it is (a holder's empty patch still renews its
// lease); under a live lease only the holder may write, and its write renews
// the lease; a task entering in_progress gets a lease, one leaving it loses
// it; a parent with open subtasks cannot be completed. The row is locked from
// the first read to the commit, so of concurrent updates at one version
// exactly one succeeds.
func (s *Store) Update(ctx context.Context, id string, version int64, p Patch) (Task, error) {
	if err := rules.ID("id", id); err != nil {
		return Task{}, err
	}
	if version < 0 {
		return Task{}, invalid("version", "version %d is negative; pass the version task_get returned, or 0 to skip the check", version)
	}
	cp, err := s.checkPatch(p)
	if err != nil {
		return Task{}, err
	}
	agent, err := rules.Name("agent", p.Agent)
	if err != nil {
		return Task{}, err
	}
	if cp.ParentID != nil && *cp.ParentID == id {
		return Task{}, invalid("parent_id", "task %s cannot be its own parent", id)
	}
	var out Task
	err = s.writeChange(ctx, func(tx pgx.Tx) error {
		out = Task{}
		if cp.ParentID != nil && *cp.ParentID != "" {
			// Before the row lock, as AddDependency takes it (one order).
			if err := s.lockProject(ctx, tx); err != nil {
				return err
			}
		}
		cur, l, err := s.lockTask(ctx, tx, id)
		if err != nil {
			return err
		}
		now := s.now()
		late, err := s.checkHolder(ctx, tx, l, agent, now)
		if err != nil {
			return err
		}
		if version > 0 && cur.Version != version {
			return conflict(id, cur.Version, version)
		}
		next := cur
		if cp.Title != nil {
			next.Title = *cp.Title
		}
		if cp.Description != nil {
			next.Description = *cp.Description
		}
		if cp.Priority != nil {
			next.Priority = *cp.Priority
		}
		if cp.Summary != nil {
			next.Summary = cp.Summary
		}
		if cp.Meta != nil {
			// jsonb's own form, so that an object equal to the stored one is no change.
			var norm string
			if err := tx.QueryRow(ctx, `SELECT $1::jsonb::text`, string(cp.Meta)).Scan(&norm); err != nil {
				return err
			}
			next.Metadata = compactJSON(norm)
		}
		if cp.Labels != nil {
			next.Labels = cp.CheckedLabels
		}
		if cp.Status != nil && work.Status(*cp.Status) != cur.Status {
			if err := work.CheckTransition(id, cur.Status, work.Status(*cp.Status)); err != nil {
				return err
			}
			next.Status = work.Status(*cp.Status)
			switch next.Status {
			case work.InProgress:
				next.StartedAt = &now
				if cp.Assignee == nil && agent != "" {
					next.Assignee = &agent
				}
			case work.Completed, work.Failed:
				next.CompletedAt = &now
			case work.Pending:
				next.Assignee, next.StartedAt, next.CompletedAt = nil, nil, nil
			}
			if next.Status == work.Completed {
				if err := s.openSubtasks(ctx, tx, id, "status"); err != nil {
					return err
				}
			}
		}
		if cp.Role != nil {
			next.Role = nilIfEmpty(*cp.Role)
		}
		if cp.Assignee != nil {
			next.Assignee = nilIfEmpty(*cp.Assignee)
		}
		if cp.ParentID != nil {
			next.ParentID = nilIfEmpty(*cp.ParentID)
			if next.ParentID != nil && !strPtrEq(next.ParentID, cur.ParentID) {
				if hasNUL(*next.ParentID) {
					return notFound("parent_id", *next.ParentID)
				}
				if err := s.checkParent(ctx, tx, id, *next.ParentID); err != nil {
					return err
				}
			}
		}
		// The lease after the change (see adapters/sqlite's Update).
		holder := agent != "" && agent == l.assignee && l.status == work.InProgress
		var leaseSecs *int64
		var leaseExp *time.Time
		keepLease := false
		setLease := func(d time.Duration) {
			secs, exp := int64(d/time.Second), now.Add(d)
			leaseSecs, leaseExp = &secs, &exp
		}
		switch {
		case next.Status != work.InProgress:
		case cur.Status != work.InProgress || !strPtrEq(next.Assignee, cur.Assignee):
			d := s.defaultLease()
			if cur.Status == work.InProgress {
				d = s.leaseLength(l)
			}
			setLease(d)
		case holder:
			setLease(s.leaseLength(l))
		default: // a non-holder's change leaves the lease as it is
			if l.seconds > 0 {
				secs := l.seconds
				leaseSecs = &secs
			}
			leaseExp, keepLease = l.expires, true
		}
		changes := map[string][2]any{}
		diff := func(field string, old, new any) {
			if old != new {
				changes[field] = [2]any{old, new}
			}
		}
		diff("title", cur.Title, next.Title)
		diff("description", cur.Description, next.Description)
		diff("status", string(cur.Status), string(next.Status))
		diff("priority", cur.Priority, next.Priority)
		diff("role", strOrNil(cur.Role), strOrNil(next.Role))
		diff("assignee", strOrNil(cur.Assignee), strOrNil(next.Assignee))
		diff("parent_id", strOrNil(cur.ParentID), strOrNil(next.ParentID))
		diff("summary", strOrNil(cur.Summary), strOrNil(next.Summary))
		if !slices.Equal(next.Labels, cur.Labels) {
			changes["labels"] = [2]any{cur.Labels, next.Labels}
		}
		if string(next.Metadata) != string(cur.Metadata) {
			changes["metadata"] = [2]any{"…", "…"} // changed; the objects may be large
		}
		if len(changes) == 0 {
			if holder && leaseExp != nil {
				if err := s.renew(ctx, tx, &l, *leaseExp, now); err != nil {
					return err
				}
				out, err = s.getTask(ctx, tx, "id", id)
				return err
			}
			out = cur
			return nil
		}
		if err := s.noteExpiry(ctx, tx, &l, now); err != nil {
			return err
		}
		noted := keepLease && l.noted
		var summary any
		if next.Summary != nil {
			summary = *next.Summary // kept as given, "" included
		}
		if _, err := tx.Exec(ctx, `UPDATE tasks SET title = $3, description = $4, status = $5, priority = $6,
			role = $7, assignee = $8, parent_id = $9, started_at = $10, completed_at = $11, summary = $12,
			metadata = $13::jsonb, lease_seconds = $14, lease_expires_at = $15, lease_expiry_noted = $16,
			version = version + 1, updated_at = $17 WHERE project_id = $1 AND id = $2`,
			s.pid, id, next.Title, next.Description, string(next.Status), next.Priority, optPtr(next.Role),
			optPtr(next.Assignee), optPtr(next.ParentID), next.StartedAt, next.CompletedAt, summary,
			string(next.Metadata), leaseSecs, leaseExp, noted, now); err != nil {
			if foreignKey(err) == "tasks_parent_same_project" && next.ParentID != nil {
				return notFound("parent_id", *next.ParentID)
			}
			return err
		}
		if _, ok := changes["labels"]; ok {
			if _, err := tx.Exec(ctx, `DELETE FROM task_labels WHERE project_id = $1 AND task_id = $2`, s.pid, id); err != nil {
				return err
			}
			if len(next.Labels) > 0 {
				if _, err := tx.Exec(ctx, `INSERT INTO task_labels (project_id, task_id, label)
					SELECT $1, $2, unnest($3::text[])`, s.pid, id, next.Labels); err != nil {
					return err
				}
			}
		}
		kind, event := EventUpdate, work.EventUpdated
		if next.Status != cur.Status {
			kind, event = EventStatus, work.EventStatus
		}
		if err := s.record(ctx, tx, now, historyEntry{taskID: id, actor: agent, event: event, late: late,
			changes: changes}); err != nil {
			return err
		}
		if out, err = s.getTask(ctx, tx, "id", id); err != nil {
			return err
		}
		return s.enqueue(ctx, tx, kind, now, id)
	})
	if err != nil {
		return Task{}, wrap("update task", true, err)
	}
	return out, nil
}
