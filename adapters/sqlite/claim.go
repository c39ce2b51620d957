package sqlite

import (
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"

	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// readySQL is true for a task t whose dependencies are all completed.
const readySQL = `NOT EXISTS (SELECT 1 FROM task_dependencies d JOIN tasks x ON x.id = d.depends_on_id
	WHERE d.task_id = t.id AND x.status <> 'completed')`

// claimableSQL is true for a task t that task_claim may hand out, role and
// labels aside, at the time given by the SQL expression now (a parameter
// holding fmtTime of the current time): pending, or in progress under a
// lease that has run out; every dependency completed; no open subtask.
// task_list's ready filter and task_summary's ready count use it too.
func claimableSQL(now string) string {
	return `(t.status = 'pending' OR (t.status = 'in_progress' AND t.lease_expires_at < ` + now + `))
	AND ` + unblockedSQL
}

// unblockedSQL is claimableSQL without the status: every dependency
// completed, no open subtask.
const unblockedSQL = readySQL + `
	AND NOT EXISTS (SELECT 1 FROM tasks sub WHERE sub.parent_id = t.id
		AND sub.status IN ('pending','in_progress','blocked'))`

// claimPickSQL picks Claim's task: the best pending one and the best one
// whose lease ran out, each found by walking the tasks_claim index in the
// claim order and stopping at the first that qualifies, then the better of
// the two. One query over both statuses ("pending OR expired") made SQLite
// test every pending and in-progress task and sort them: a claim cost grew
// with the backlog (2 ms at a thousand pending tasks).
// ?1 role, ?2 labels (JSON array), ?3 their count, ?4 now.
const claimPickSQL = `SELECT id FROM (
	SELECT * FROM (SELECT t.id, t.priority_rank, t.created_at FROM tasks t
		WHERE t.status = 'pending' AND ` + claimFilterSQL + `
		ORDER BY t.priority_rank DESC, t.created_at, t.id LIMIT 1)
	UNION ALL
	SELECT * FROM (SELECT t.id, t.priority_rank, t.created_at FROM tasks t
		WHERE t.status = 'in_progress' AND t.lease_expires_at < ?4 AND ` + claimFilterSQL + `
		ORDER BY t.priority_rank DESC, t.created_at, t.id LIMIT 1))
	ORDER BY priority_rank DESC, created_at, id LIMIT 1`

// claimFilterSQL: the role and labels of a claim, and unblockedSQL.
const claimFilterSQL = `(t.role IS NULL OR t.role = ?1)
	AND (?3 = 0 OR (SELECT count(*) FROM task_labels l
		WHERE l.task_id = t.id AND l.label IN (SELECT value FROM json_each(?2))) = ?3)
	AND ` + unblockedSQL + `
`

// Claim atomically takes the best claimable task for agent (see
// claimableSQL): pending, or in progress under a lease that has run out;
// every dependency completed; no open subtask; its role unset or equal to
// req.Role (an agent without a role gets only tasks without one); carrying
// every label in req.Labels; highest priority first, then oldest, then id.
// It becomes in_progress, assigned to agent under a lease of req.Lease (0 =
// the store's default). Taking over an expired claim records the expiry (if
// not recorded yet) and a reclaimed event; a pending task gets claimed.
// Returns nil when nothing is claimable. The pick and the update are one
// transaction on the single writer, so two agents can never claim the same task.
func (s *Store) Claim(ctx context.Context, req work.ClaimRequest) (*Task, error) {
	role, labels := req.Role, req.Labels
	agent, err := rules.Name("agent", req.Agent)
	if err != nil {
		return nil, err
	}
	if agent == "" {
		return nil, invalid("agent", "agent is required: pass a name that identifies the agent claiming work")
	}
	if role, err = rules.Name("role", role); err != nil {
		return nil, err
	}
	labels, err = rules.Labels("labels", labels)
	if err != nil {
		return nil, err
	}
	lease, err := s.checkLease(req.Lease)
	if err != nil {
		return nil, err
	}
	var out *Task
	err = s.writeChange(ctx, func(c *conn) error {
		out = nil // a retried attempt starts afresh (see run)
		now := s.now()
		ts := fmtTime(now)
		var id string
		err := c.queryRow(ctx, claimPickSQL,
			role, jsonIDs(labels), len(labels), ts).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		l, err := loadLease(ctx, c, id)
		if err != nil {
			return err
		}
		expires := fmtTime(now.Add(lease))
		entry := historyEntry{taskID: id, actor: agent, event: work.EventClaimed, changes: map[string][2]any{
			"status": {string(l.status), string(work.InProgress)}, "assignee": {nullable(l.assignee), agent}}}
		if l.status == work.InProgress {
			if err := s.noteExpiry(ctx, c, &l, ts); err != nil {
				return err
			}
			entry.event = work.EventReclaimed
			entry.changes = map[string][2]any{"assignee": {nullable(l.assignee), agent},
				"lease_expires_at": {nullable(l.expires), expires}}
		}
		res, err := c.exec(ctx, `UPDATE tasks SET status = 'in_progress', assignee = ?, started_at = ?,
			lease_seconds = ?, lease_expires_at = ?, lease_expiry_noted = 0,
			updated_at = ?, version = version + 1
			WHERE id = ? AND (status = 'pending' OR (status = 'in_progress' AND lease_expires_at < ?))`,
			agent, ts, int64(lease/time.Second), expires, ts, id, ts)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return fmt.Errorf("claim %s: updated %d rows, want 1", id, n)
		}
		if err := s.record(ctx, c, ts, entry); err != nil {
			return err
		}
		if err := enqueue(ctx, c, EventStatus, ts, id); err != nil {
			return err
		}
		t, err := getTask(ctx, c, "id", id)
		out = &t
		return err
	})
	if err != nil {
		return nil, wrap("claim task", err)
	}
	return out, nil
}

// Complete finishes a pending or in-progress task as completed or failed,
// records its summary and, if given, its artifact (replacing one of the same
// name). It returns the task and the ids of the tasks this completion made
// ready (dependents, and the parent once its last open subtask is done),
// sorted. Under a live lease only the holder (cp.Agent) may complete
// it; a holder whose lease ran out still may (recorded as late). A parent
// with open subtasks cannot be completed (it may fail). The status is checked
// inside the write transaction, so no task is ever completed twice.
func (s *Store) Complete(ctx context.Context, id string, cp Completion) (Task, []string, error) {
	if err := rules.ID("id", id); err != nil {
		return Task{}, nil, err
	}
	outcome := cp.Outcome
	if outcome == "" {
		outcome = "completed"
	}
	if outcome != "completed" && outcome != "failed" {
		return Task{}, nil, invalid("outcome", "outcome %q is not one of: completed, failed", work.Clip(outcome))
	}
	if err := rules.Text("summary", cp.Summary, work.MaxSummary); err != nil {
		return Task{}, nil, err
	}
	agent, err := rules.Name("agent", cp.Agent)
	if err != nil {
		return Task{}, nil, err
	}
	if cp.Artifact != nil {
		if err := checkArtifact(cp.Artifact); err != nil {
			return Task{}, nil, err
		}
	}
	var (
		out       Task
		unblocked = []string{}
	)
	err = s.writeChange(ctx, func(c *conn) error {
		unblocked = unblocked[:0] // a retried attempt starts afresh (see run)
		l, err := loadLease(ctx, c, id)
		if err != nil {
			return err
		}
		status := string(l.status)
		if status != "pending" && status != "in_progress" {
			return &Error{Kind: KindTransition, Field: "id", Msg: fmt.Sprintf(
				"task %s is %s; only a pending or in_progress task can be completed", id, status) + completeHint(status)}
		}
		now := s.now()
		ts := fmtTime(now)
		late, err := checkHolder(ctx, c, l, agent, ts)
		if err != nil {
			return err
		}
		if outcome == "completed" {
			if err := openSubtasks(ctx, c, id, "outcome"); err != nil {
				return err
			}
		}
		if err := s.noteExpiry(ctx, c, &l, ts); err != nil {
			return err
		}
		if _, err := c.exec(ctx, `UPDATE tasks SET status = ?, summary = ?, completed_at = ?, updated_at = ?,
			lease_seconds = NULL, lease_expires_at = NULL, lease_expiry_noted = 0,
			version = version + 1 WHERE id = ?`, outcome, cp.Summary, ts, ts, id); err != nil {
			return err
		}
		if err := s.record(ctx, c, ts, historyEntry{taskID: id, actor: agent, event: outcome, late: late,
			changes: map[string][2]any{"status": {status, outcome}}}); err != nil {
			return err
		}
		if err := enqueue(ctx, c, EventStatus, ts, id); err != nil {
			return err
		}
		if a := cp.Artifact; a != nil {
			created := now
			if !a.CreatedAt.IsZero() {
				created = a.CreatedAt
			}
			if _, err := c.exec(ctx, `INSERT INTO artifacts (task_id, name, path, size, sha256, created_at)
				VALUES (?, ?, ?, ?, ?, ?)
				ON CONFLICT (task_id, name) DO UPDATE SET path = excluded.path, size = excluded.size,
					sha256 = excluded.sha256, created_at = excluded.created_at`,
				id, a.Name, a.Path, a.Size, a.SHA256, fmtTime(created)); err != nil {
				return err
			}
		}
		// Made ready: pending dependents (their last dependency done) and
		// the parent (its last open subtask finished, whatever the outcome).
		// The candidates drive the join (CROSS JOIN keeps that order): with
		// the tasks first, SQLite walked every pending task.
		rows, err := c.query(ctx, `SELECT t.id FROM (
				SELECT task_id AS id FROM task_dependencies WHERE depends_on_id = ?1
				UNION SELECT parent_id FROM tasks WHERE id = ?1 AND parent_id IS NOT NULL) AS c
			CROSS JOIN tasks t ON t.id = c.id
			WHERE t.status = 'pending' AND `+unblockedSQL+` ORDER BY t.id`, id)
		if err != nil {
			return err
		}
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return err
			}
			unblocked = append(unblocked, v)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		out, err = getTask(ctx, c, "id", id)
		return err
	})
	if err != nil {
		return Task{}, nil, wrap("complete task", err)
	}
	return out, unblocked, nil
}

func completeHint(status string) string {
	switch status {
	case "blocked":
		return "; move it to pending or in_progress with task_update first"
	case "failed":
		return "; to retry it, move it back to pending with task_update"
	}
	return ""
}
