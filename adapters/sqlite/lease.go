package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// Claim leases. An in-progress task is held by its assignee until
// lease_expires_at. Under a live lease only the holder may change the task
// (Update, Complete, Heartbeat, Release); the holder's write renews the lease
// by lease_seconds. Once the lease has run out the task is claimable again
// (see claimableSQL); until somebody claims it, the old holder may still
// finish its work (recorded as late) and anyone may change it. The expiry is
// written to the history once (lease_expiry_noted): by ExpireLeases, or by the
// first write that meets the expired lease, whichever comes first.

// maxReason is the longest reason Release accepts.
const maxReason = 1000

// leaseRow is what the lease rules need of a task.
type leaseRow struct {
	id       string
	status   work.Status
	assignee string // "" = none
	seconds  int64  // 0 = no lease
	expires  string // stored time; "" = no lease
	noted    bool
}

func loadLease(ctx context.Context, c *conn, id string) (leaseRow, error) {
	l := leaseRow{id: id}
	var assignee, expires sql.NullString
	var seconds sql.NullInt64
	var noted int
	err := c.queryRow(ctx, `SELECT status, assignee, lease_seconds, lease_expires_at, lease_expiry_noted
		FROM tasks WHERE id = ?`, id).Scan(&l.status, &assignee, &seconds, &expires, &noted)
	if errors.Is(err, sql.ErrNoRows) {
		return l, notFound("id", id)
	}
	if err != nil {
		return l, err
	}
	l.assignee, l.seconds, l.expires, l.noted = assignee.String, seconds.Int64, expires.String, noted != 0
	return l, nil
}

// live says whether the task is held under a lease that has not run out at now.
func (l leaseRow) live(now string) bool {
	return l.status == work.InProgress && l.expires != "" && l.expires >= now
}

// expired says whether the task is in progress under a lease that has run out at now.
func (l leaseRow) expired(now string) bool {
	return l.status == work.InProgress && l.expires != "" && l.expires < now
}

// leaseLength is the task's lease, or the store's default when it has none.
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

// checkLease validates a claim's lease: 0 is the default, else 1 s to 24 h.
func (s *Store) checkLease(d time.Duration) (time.Duration, error) {
	if d == 0 {
		return s.defaultLease(), nil
	}
	if d < work.MinLease || d > work.MaxLease {
		return 0, invalid("lease_seconds", "lease_seconds %d is out of range; use %d to %d seconds (default %d)",
			int64(d/time.Second), int64(work.MinLease/time.Second), int64(work.MaxLease/time.Second),
			int64(s.defaultLease()/time.Second))
	}
	return d.Truncate(time.Second), nil
}

// checkHolder applies the lease rule to a write by agent: under a live lease
// only the holder may change the task. late says the holder writes after its
// lease ran out (its work still counts).
func checkHolder(ctx context.Context, c *conn, l leaseRow, agent, now string) (late bool, err error) {
	if l.status != work.InProgress || l.assignee == "" {
		return false, nil
	}
	if l.live(now) {
		if agent == l.assignee {
			return false, nil
		}
		return false, leaseHeld(ctx, c, l, agent)
	}
	return l.expired(now) && agent == l.assignee, nil
}

// leaseHeld is the refusal of a write by agent to a task another agent holds
// under a live lease. An agent whose own claim expired and was taken over
// learns when and by whom.
func leaseHeld(ctx context.Context, c *conn, l leaseRow, agent string) error {
	e := &Error{Kind: KindLeaseHeld, Field: "agent"}
	if agent != "" {
		var event string
		var from, expired sql.NullString
		err := c.queryRow(ctx, `SELECT event, json_extract(changes, '$.assignee[0]'),
				json_extract(changes, '$.lease_expires_at[0]')
			FROM task_history WHERE task_id = ?1 AND event IN ('claimed', 'reclaimed')
			AND (json_extract(changes, '$.assignee[0]') = ?2 OR json_extract(changes, '$.assignee[1]') = ?2)
			ORDER BY seq DESC LIMIT 1`, l.id, agent).Scan(&event, &from, &expired)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err == nil && event == work.EventReclaimed && from.String == agent {
			at := expired.String
			if t, err := parseTime(at); err == nil {
				at = t.Format(time.RFC3339)
			}
			e.Msg = fmt.Sprintf("your claim on %s expired at %s; it is now held by agent %s; nothing was changed: "+
				"leave this task and call task_claim for other work", l.id, at, l.assignee)
			return e
		}
	}
	until := l.expires
	if t, err := parseTime(until); err == nil {
		until = t.Format(time.RFC3339)
	}
	e.Msg = fmt.Sprintf("task %s is held by agent %s until %s; only its holder may change it "+
		"(or claim it after the lease expires)", l.id, l.assignee, until)
	return e
}

// noteExpiry writes the expiry of l's lease to the history, once: before the
// first change made after the lease ran out (or by ExpireLeases). The event's
// time is the moment the lease ran out; its actor is the holder.
func (s *Store) noteExpiry(ctx context.Context, c *conn, l *leaseRow, now string) error {
	if !l.expired(now) || l.noted {
		return nil
	}
	if _, err := c.exec(ctx, `UPDATE tasks SET lease_expiry_noted = 1 WHERE id = ?`, l.id); err != nil {
		return err
	}
	l.noted = true
	return s.record(ctx, c, l.expires, historyEntry{taskID: l.id, actor: l.assignee, event: work.EventLeaseExpired,
		changes: map[string][2]any{"lease_expires_at": {l.expires, nil}}})
}

// openSubtasks refuses to complete a parent whose subtasks are still open,
// naming up to five of them.
func openSubtasks(ctx context.Context, c *conn, id, field string) error {
	rows, err := c.query(ctx, `SELECT id FROM tasks WHERE parent_id = ?
		AND status IN ('pending','in_progress','blocked') ORDER BY created_at, id`, id)
	if err != nil {
		return err
	}
	var open []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return err
		}
		open = append(open, v)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	if len(open) == 0 {
		return nil
	}
	return work.OpenSubtasksError(id, field, open)
}

// Heartbeat renews agent's lease on task id by the task's lease length
// (lease_expires_at = now + lease_seconds). Only the holder may; a task not in
// progress is refused. A lease that ran out but was not taken over is revived.
//
// A heartbeat changes nothing the mirrors or the history show: it bumps no
// version, writes no outbox event and no history event (heartbeats would
// flood both); only lease_expires_at moves.
func (s *Store) Heartbeat(ctx context.Context, id, agent string) (Task, error) {
	if err := rules.ID("id", id); err != nil {
		return Task{}, err
	}
	agent, err := checkAgent(agent)
	if err != nil {
		return Task{}, err
	}
	var out Task
	err = s.write(ctx, func(c *conn) error {
		l, err := loadLease(ctx, c, id)
		if err != nil {
			return err
		}
		if l.status != work.InProgress {
			return &Error{Kind: KindTransition, Field: "id", Msg: fmt.Sprintf(
				"task %s is %s; only an in_progress task has a lease to renew: claim work with task_claim", id, l.status)}
		}
		now := s.now()
		ts := fmtTime(now)
		switch {
		case l.assignee == "":
			return &Error{Kind: KindLeaseHeld, Field: "agent", Msg: fmt.Sprintf(
				"task %s is held by no agent, so there is no claim of yours to renew: claim it with task_claim", id)}
		case agent == l.assignee:
		case l.live(ts):
			return leaseHeld(ctx, c, l, agent)
		default:
			return &Error{Kind: KindLeaseHeld, Field: "agent", Msg: fmt.Sprintf(
				"task %s is held by agent %s, whose lease expired at %s; only its holder may renew it: "+
					"take it over with task_claim", id, l.assignee, rfc3339(l.expires))}
		}
		if err := s.renew(ctx, c, &l, fmtTime(now.Add(s.leaseLength(l))), ts); err != nil {
			return err
		}
		out, err = getTask(ctx, c, "id", id)
		return err
	})
	return out, wrap("renew lease", err)
}

// renew gives the holder's lease on l a new expiry, exp. A lease that had
// run out is renewed late: its expiry is noted first (if nobody had yet) and
// the renewal is recorded, so the history reads lease_expired,
// lease_renewed, and a second expiry of the same claim is a second lease
// running out, never the same one recorded twice.
func (s *Store) renew(ctx context.Context, c *conn, l *leaseRow, exp, now string) error {
	if l.expired(now) {
		if err := s.noteExpiry(ctx, c, l, now); err != nil {
			return err
		}
		if err := s.record(ctx, c, now, historyEntry{taskID: l.id, actor: l.assignee, event: work.EventLeaseRenewed,
			late: true, changes: map[string][2]any{"lease_expires_at": {l.expires, exp}}}); err != nil {
			return err
		}
	}
	_, err := c.exec(ctx, `UPDATE tasks SET lease_expires_at = ?, lease_expiry_noted = 0 WHERE id = ?`, exp, l.id)
	return err
}

func rfc3339(stored string) string {
	if t, err := parseTime(stored); err == nil {
		return t.Format(time.RFC3339)
	}
	return stored
}

func checkAgent(agent string) (string, error) {
	agent, err := rules.Name("agent", agent)
	if err != nil {
		return "", err
	}
	if agent == "" {
		return "", invalid("agent", "agent is required: pass the name that identifies the agent holding the task")
	}
	return agent, nil
}

// Release gives a held task back: pending, no assignee, no lease. Only the
// holder may (or anyone once the lease has expired). reason goes to the history.
func (s *Store) Release(ctx context.Context, id, agent, reason string) (Task, error) {
	if err := rules.ID("id", id); err != nil {
		return Task{}, err
	}
	agent, err := checkAgent(agent)
	if err != nil {
		return Task{}, err
	}
	if err := rules.Text("reason", reason, maxReason); err != nil {
		return Task{}, err
	}
	return s.release(ctx, id, agent, reason, true)
}

// release gives task id back (pending, no assignee, no lease), recorded as a
// release by actor. byHolder: actor is an agent, who must hold the task (or
// find its lease expired, and is then recorded as late); otherwise actor
// oversees the work (OverrideRelease) and may take it from anyone.
func (s *Store) release(ctx context.Context, id, actor, reason string, byHolder bool) (Task, error) {
	var out Task
	err := s.writeChange(ctx, func(c *conn) error {
		l, err := loadLease(ctx, c, id)
		if err != nil {
			return err
		}
		if l.status != work.InProgress {
			return &Error{Kind: KindTransition, Field: "id", Msg: fmt.Sprintf(
				"task %s is %s; only an in_progress task can be released", id, l.status)}
		}
		ts := fmtTime(s.now())
		late := false
		if byHolder {
			if late, err = checkHolder(ctx, c, l, actor, ts); err != nil {
				return err
			}
		}
		if err := s.noteExpiry(ctx, c, &l, ts); err != nil {
			return err
		}
		if _, err := c.exec(ctx, `UPDATE tasks SET status = 'pending', assignee = NULL, started_at = NULL,
			lease_seconds = NULL, lease_expires_at = NULL, lease_expiry_noted = 0,
			version = version + 1, updated_at = ? WHERE id = ?`, ts, id); err != nil {
			return err
		}
		if err := s.record(ctx, c, ts, historyEntry{taskID: id, actor: actor, event: work.EventReleased, late: late,
			note: reason, changes: map[string][2]any{
				"status": {string(work.InProgress), string(work.Pending)}, "assignee": {nullable(l.assignee), nil}}}); err != nil {
			return err
		}
		if err := enqueue(ctx, c, EventStatus, ts, id); err != nil {
			return err
		}
		out, err = getTask(ctx, c, "id", id)
		return err
	})
	return out, wrap("release task", err)
}

// nullable is v, or nil (JSON null) for "".
func nullable(v string) any {
	if v == "" {
		return nil
	}
	return v
}

// expirySQL selects the in-progress tasks whose lease ran out before ?1 and
// whose expiry is not in the history yet.
const expirySQL = `status = 'in_progress' AND lease_expires_at IS NOT NULL AND lease_expiry_noted = 0`

// ExpireLeases records, once, the expiry of every lease that has run out and
// returns them. Safe to call from several processes at once: the write
// transaction re-reads the flag, so each expiry is recorded by one of them.
// When nothing has expired it costs one read (no write lock is taken).
func (s *Store) ExpireLeases(ctx context.Context) ([]work.LeaseExpiry, error) {
	next, ok, err := s.NextLeaseExpiry(ctx)
	if err != nil || !ok {
		return nil, err
	}
	if !next.Before(s.now()) {
		return nil, nil
	}
	var out []work.LeaseExpiry
	err = s.writeChange(ctx, func(c *conn) error {
		out = nil
		ts := fmtTime(s.now())
		rows, err := c.query(ctx, `SELECT id FROM tasks WHERE `+expirySQL+` AND lease_expires_at < ?
			ORDER BY lease_expires_at, id`, ts)
		if err != nil {
			return err
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		for _, id := range ids {
			l, err := loadLease(ctx, c, id)
			if err != nil {
				return err
			}
			if err := s.noteExpiry(ctx, c, &l, ts); err != nil {
				return err
			}
			at, err := parseTime(l.expires)
			if err != nil {
				return err
			}
			out = append(out, work.LeaseExpiry{TaskID: id, Agent: l.assignee, ExpiredAt: at})
		}
		return nil
	})
	if err != nil {
		return nil, wrap("expire leases", err)
	}
	return out, nil
}

// NextLeaseExpiry is the earliest lease_expires_at among in-progress tasks
// whose expiry is not recorded yet; ok is false when there is none.
func (s *Store) NextLeaseExpiry(ctx context.Context) (at time.Time, ok bool, err error) {
	err = s.readOne(ctx, func(c *conn) error {
		var v sql.NullString
		if err := c.queryRow(ctx, `SELECT min(lease_expires_at) FROM tasks WHERE `+expirySQL).Scan(&v); err != nil {
			return err
		}
		if !v.Valid {
			ok = false
			return nil
		}
		t, err := parseTime(v.String)
		at, ok = t, err == nil
		return err
	})
	if err != nil {
		return time.Time{}, false, wrap("read next lease expiry", err)
	}
	return at, ok, nil
}
