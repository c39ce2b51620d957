package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// Summary list sizes: each list of task_summary shows summaryDefaultList
// entries by default and at most summaryMaxList; a blocked task shows at most
// summaryWaitingOn of what it waits for, an agent at most summaryAgentTasks
// of its tasks (the rest are counted). The default keeps the answer for a
// project of 1,000 tasks under 2 KB of JSON: an entry costs 50 to 180 bytes
// (task ids are 20 characters), so six lists of 5 came to 2.0-2.3 KB, of 4
// with 5 ids an entry to 1.6-2.1 KB; with 3 ids an entry, 4 a list stays
// well under (summary_test.go and integration/summary_test.go measure it).
const (
	summaryDefaultList = 3
	summaryMaxList     = 10
	summaryWaitingOn   = 3
	summaryAgentTasks  = 3
)

// The conditions task_summary sorts tasks by, on tasks aliased t, with the
// current time in ?1.
const (
	// heldSQL: in progress under a live lease (or none recorded: such a claim
	// never lapses, as claimableSQL has it).
	heldSQL = `t.status = 'in_progress' AND NOT IFNULL(t.lease_expires_at < ?1, 0)`
	// waitsSQL: an unfinished dependency or an open subtask.
	waitsSQL = `(EXISTS (SELECT 1 FROM task_dependencies d JOIN tasks x ON x.id = d.depends_on_id
			WHERE d.task_id = t.id AND x.status <> 'completed')
		OR EXISTS (SELECT 1 FROM tasks sub WHERE sub.parent_id = t.id
			AND sub.status IN ('pending','in_progress','blocked')))`
)

func summaryLimit(n int) int {
	switch {
	case n <= 0:
		return summaryDefaultList
	case n > summaryMaxList:
		return summaryMaxList
	}
	return n
}

// Summary is the project at a glance (see work.Summary), read in one
// snapshot. Every list holds at most opt.ListLimit entries (0 = 3, at most
// 10) and counts the rest in its *More field:
//   - blocked: open tasks not held under a live lease that wait for an
//     unfinished dependency or an open subtask, most urgent first (the order
//     task_claim would take them), each with up to 3 of what it waits for;
//   - agents: tasks held under live leases, per assignee, longest-held first;
//   - expired leases: in-progress tasks whose lease ran out, oldest first;
//   - parents: tasks with an open subtask, oldest first, done of total over
//     their direct subtasks;
//   - oldest open: open tasks untouched the longest (only those untouched
//     for opt.StaleAfter, when it is set).
func (s *Store) Summary(ctx context.Context, opt work.SummaryOptions) (work.Summary, error) {
	limit := summaryLimit(opt.ListLimit)
	var sum work.Summary
	err := s.read(ctx, func(c *conn) error {
		now := s.now() // not before any time this store wrote
		sum = work.Summary{Counts: map[work.Status]int{}}
		return s.summarize(ctx, c, now, limit, opt.StaleAfter, &sum)
	})
	if err != nil {
		return work.Summary{}, wrap("summarize tasks", err)
	}
	return sum, nil
}

func (s *Store) summarize(ctx context.Context, c *conn, now time.Time, limit int, stale time.Duration, sum *work.Summary) error {
	ts := fmtTime(now)
	secs := func(since string) (int64, error) {
		t, err := parseTime(since)
		if err != nil {
			return 0, err
		}
		return max(0, int64(now.Sub(t)/time.Second)), nil
	}

	// Counts.
	err := each(ctx, c, `SELECT status, count(*) FROM tasks GROUP BY status`, nil, func(r *sql.Rows) error {
		var st string
		var n int
		if err := r.Scan(&st, &n); err != nil {
			return err
		}
		sum.Counts[work.Status(st)] = n
		sum.Total += n
		return nil
	})
	if err != nil {
		return err
	}
	if err := c.queryRow(ctx, `SELECT count(*) FROM tasks t WHERE `+claimableSQL("?1"), ts).Scan(&sum.Ready); err != nil {
		return err
	}

	// Blocked, then what each shown entry waits for.
	sum.Blocked = []work.BlockedEntry{}
	at := map[string]int{}
	err = each(ctx, c, `SELECT t.id, count(*) OVER () FROM tasks t
		WHERE t.status IN ('pending','in_progress','blocked') AND NOT (`+heldSQL+`) AND `+waitsSQL+`
		ORDER BY t.priority_rank DESC, t.created_at, t.id LIMIT ?2`, []any{ts, limit}, func(r *sql.Rows) error {
		var e work.BlockedEntry
		var n int
		if err := r.Scan(&e.ID, &n); err != nil {
			return err
		}
		sum.BlockedMore = n - limit
		e.WaitingOn = []string{}
		at[e.ID] = len(sum.Blocked)
		sum.Blocked = append(sum.Blocked, e)
		return nil
	})
	if err != nil {
		return err
	}
	sum.BlockedMore = max(0, sum.BlockedMore)
	if len(sum.Blocked) > 0 {
		ids := make([]string, len(sum.Blocked))
		for i, e := range sum.Blocked {
			ids[i] = e.ID
		}
		err = each(ctx, c, `SELECT d.task_id, x.id FROM task_dependencies d JOIN tasks x ON x.id = d.depends_on_id
				WHERE d.task_id IN (SELECT value FROM json_each(?1)) AND x.status <> 'completed'
			UNION ALL
			SELECT sub.parent_id, sub.id FROM tasks sub
				WHERE sub.parent_id IN (SELECT value FROM json_each(?1)) AND sub.status IN ('pending','in_progress','blocked')
			ORDER BY 1, 2`, []any{jsonIDs(ids)}, func(r *sql.Rows) error {
			var id, on string
			if err := r.Scan(&id, &on); err != nil {
				return err
			}
			e := &sum.Blocked[at[id]]
			if len(e.WaitingOn) < summaryWaitingOn {
				e.WaitingOn = append(e.WaitingOn, on)
			} else {
				e.WaitingMore++
			}
			return nil
		})
		if err != nil {
			return err
		}
	}

	// Agents: live claims per assignee, then the tasks of those shown.
	sum.Agents = []work.AgentWork{}
	agentAt := map[string]int{}
	err = each(ctx, c, `SELECT t.assignee, min(t.started_at), count(*) OVER () FROM tasks t
		WHERE `+heldSQL+` AND t.assignee IS NOT NULL
		GROUP BY t.assignee ORDER BY min(t.started_at), t.assignee LIMIT ?2`, []any{ts, limit}, func(r *sql.Rows) error {
		var a work.AgentWork
		var oldest sql.NullString
		var n int
		if err := r.Scan(&a.Agent, &oldest, &n); err != nil {
			return err
		}
		if oldest.Valid {
			var err error
			if a.LeaseAgeS, err = secs(oldest.String); err != nil {
				return err
			}
		}
		sum.AgentsMore = n - limit
		a.Tasks = []string{}
		agentAt[a.Agent] = len(sum.Agents)
		sum.Agents = append(sum.Agents, a)
		return nil
	})
	if err != nil {
		return err
	}
	sum.AgentsMore = max(0, sum.AgentsMore)
	if len(sum.Agents) > 0 {
		names := make([]string, len(sum.Agents))
		for i, a := range sum.Agents {
			names[i] = a.Agent
		}
		err = each(ctx, c, `SELECT t.assignee, t.id FROM tasks t
			WHERE `+heldSQL+` AND t.assignee IN (SELECT value FROM json_each(?2))
			ORDER BY t.assignee, t.started_at, t.id`, []any{ts, jsonIDs(names)}, func(r *sql.Rows) error {
			var agent, id string
			if err := r.Scan(&agent, &id); err != nil {
				return err
			}
			a := &sum.Agents[agentAt[agent]]
			if len(a.Tasks) < summaryAgentTasks {
				a.Tasks = append(a.Tasks, id)
			} else {
				a.TasksMore++
			}
			return nil
		})
		if err != nil {
			return err
		}
	}

	// Expired leases.
	sum.Expired = []work.ExpiredLease{}
	err = each(ctx, c, `SELECT t.id, IFNULL(t.assignee, ''), t.lease_expires_at, count(*) OVER () FROM tasks t
		WHERE t.status = 'in_progress' AND t.lease_expires_at < ?1
		ORDER BY t.lease_expires_at, t.id LIMIT ?2`, []any{ts, limit}, func(r *sql.Rows) error {
		var e work.ExpiredLease
		var at string
		var n int
		if err := r.Scan(&e.ID, &e.Agent, &at, &n); err != nil {
			return err
		}
		var err error
		if e.ExpiredS, err = secs(at); err != nil {
			return err
		}
		sum.ExpiredMore = n - limit
		sum.Expired = append(sum.Expired, e)
		return nil
	})
	if err != nil {
		return err
	}
	sum.ExpiredMore = max(0, sum.ExpiredMore)

	// Parents with open subtasks.
	sum.Parents = []work.ParentRollup{}
	// Grouped over the subtasks (the parent index), the parent's row read
	// once per group, not once per subtask.
	err = each(ctx, c, `SELECT s.parent_id, sum(s.status = 'completed'), count(*), count(*) OVER () FROM tasks s
		WHERE s.parent_id IS NOT NULL
		GROUP BY s.parent_id HAVING sum(s.status IN ('pending','in_progress','blocked')) > 0
		ORDER BY (SELECT p.created_at FROM tasks p WHERE p.id = s.parent_id), s.parent_id LIMIT ?1`, []any{limit}, func(r *sql.Rows) error {
		var p work.ParentRollup
		var n int
		if err := r.Scan(&p.ID, &p.Done, &p.Total, &n); err != nil {
			return err
		}
		sum.ParentsMore = n - limit
		sum.Parents = append(sum.Parents, p)
		return nil
	})
	if err != nil {
		return err
	}
	sum.ParentsMore = max(0, sum.ParentsMore)

	// Oldest open work.
	sum.Oldest = []work.OpenEntry{}
	err = each(ctx, c, `SELECT t.id, t.status, t.updated_at, count(*) OVER () FROM tasks t
		WHERE t.status IN ('pending','in_progress','blocked') AND t.updated_at <= ?1
		ORDER BY t.updated_at, t.id LIMIT ?2`, []any{fmtTime(now.Add(-max(0, stale))), limit}, func(r *sql.Rows) error {
		var e work.OpenEntry
		var updated string
		var n int
		if err := r.Scan(&e.ID, &e.Status, &updated, &n); err != nil {
			return err
		}
		var err error
		if e.IdleS, err = secs(updated); err != nil {
			return err
		}
		sum.OldestMore = n - limit
		sum.Oldest = append(sum.Oldest, e)
		return nil
	})
	if err != nil {
		return err
	}
	sum.OldestMore = max(0, sum.OldestMore)
	return nil
}

// each runs query and calls fn on every row.
func each(ctx context.Context, c *conn, query string, args []any, fn func(*sql.Rows) error) error {
	rows, err := c.query(ctx, query, args...)
	if err != nil {
		return err
	}
	for rows.Next() {
		if err := fn(rows); err != nil {
			rows.Close()
			return err
		}
	}
	return errors.Join(rows.Err(), rows.Close())
}
