package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// planProblem is one thing wrong with one task of a plan.
type planProblem struct {
	index int
	ref   string
	msg   string
}

// planError lists every problem of a plan in one sentence (by position and
// ref, in the order the plan was sent).
func planError(problems []planProblem, what string) *Error {
	slices.SortStableFunc(problems, func(a, b planProblem) int { return a.index - b.index })
	parts := make([]string, len(problems))
	for i, p := range problems {
		parts[i] = fmt.Sprintf("tasks[%d] (ref %q): %s", p.index, work.Clip(p.ref), p.msg)
	}
	return invalid("tasks", "the plan was not written (nothing was created) because %s: %s", what, strings.Join(parts, "; "))
}

// plannedTask is one task of a plan, checked, with its id.
type plannedTask struct {
	work.ResolvedPlanTask
	id string
	ct work.CheckedTask
}

// checkPlan applies the field rules to every task, maps refs to new ids and
// resolves each task's parent and dependencies to ids. It reports every
// problem at once.
func (s *Store) checkPlan(plan []work.ResolvedPlanTask) ([]plannedTask, map[string]string, error) {
	switch {
	case len(plan) == 0:
		return nil, nil, invalid("tasks", "the plan has no tasks; pass at least one task")
	case len(plan) > work.MaxPlanTasks:
		return nil, nil, invalid("tasks", "the plan has %d tasks; send at most %d per call (split it, "+
			"naming the ids of the tasks already created in depends_on or parent)", len(plan), work.MaxPlanTasks)
	}
	ids := make(map[string]string, len(plan))
	out := make([]plannedTask, len(plan))
	var problems []planProblem
	for i, rt := range plan {
		p := &out[i]
		p.ResolvedPlanTask = rt
		p.id = newID()
		bad := func(format string, args ...any) {
			problems = append(problems, planProblem{rt.Index, rt.Task.Ref, fmt.Sprintf(format, args...)})
		}
		pt := rt.Task
		ct, err := s.checkNewTask(NewTask{
			Title: pt.Title, Description: pt.Description, ParentID: rt.ParentID, DependsOn: rt.DependsIDs,
			Priority: pt.Priority, Labels: pt.Labels, Role: pt.Role, Metadata: pt.Metadata,
		}, p.id)
		var e *Error
		switch {
		case errors.As(err, &e):
			bad("%s", e.Msg)
		case err != nil:
			return nil, nil, err
		}
		p.ct = ct
		if rt.ParentRef != "" {
			if rt.ParentID != "" {
				bad("parent names both ref %q and task %s; name one", work.Clip(rt.ParentRef), work.Clip(rt.ParentID))
			} else if id, ok := ids[rt.ParentRef]; ok {
				p.ct.ParentID = id
			} else {
				bad("parent names ref %q, which is not a task earlier in the plan", work.Clip(rt.ParentRef))
			}
		}
		for _, r := range rt.DependsRefs {
			if id, ok := ids[r]; ok {
				p.ct.Deps = append(p.ct.Deps, id)
			} else {
				bad("depends_on names ref %q, which is not a task earlier in the plan", work.Clip(r))
			}
		}
		slices.Sort(p.ct.Deps)
		p.ct.Deps = slices.Compact(p.ct.Deps)
		if len(p.ct.Deps) > work.MaxDependsOn {
			bad("depends_on has %d entries; use at most %d (group work under a parent task instead)", len(p.ct.Deps), work.MaxDependsOn)
		}
		if pt.Ref == "" {
			bad("ref is required: give every task of the plan a short name of its own")
		} else if _, dup := ids[pt.Ref]; dup {
			bad("ref %q is used by an earlier task; give every task a ref of its own", work.Clip(pt.Ref))
		} else {
			ids[pt.Ref] = p.id
		}
	}
	if len(problems) > 0 {
		return nil, nil, planError(problems, "some tasks are not valid")
	}
	return out, ids, nil
}

// missingNamed returns a problem for every existing id the plan names
// (parent or dependency) that is not a task.
func missingNamed(ctx context.Context, c *conn, plan []plannedTask) ([]planProblem, error) {
	var named []string
	for _, p := range plan {
		if p.ParentID != "" {
			named = append(named, p.ParentID)
		}
		named = append(named, p.DependsIDs...)
	}
	if len(named) == 0 {
		return nil, nil
	}
	slices.Sort(named)
	named = slices.Compact(named)
	rows, err := c.query(ctx, `SELECT j.value FROM json_each(?) j
		WHERE NOT EXISTS (SELECT 1 FROM tasks WHERE id = j.value)`, jsonIDs(named))
	if err != nil {
		return nil, err
	}
	missing := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		missing[id] = true
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	var problems []planProblem
	for _, p := range plan {
		if missing[p.ParentID] {
			problems = append(problems, planProblem{p.Index, p.Task.Ref,
				fmt.Sprintf("parent names %s which does not exist", p.ParentID)})
		}
		for _, d := range p.DependsIDs {
			if missing[d] {
				problems = append(problems, planProblem{p.Index, p.Task.Ref,
					fmt.Sprintf("depends_on names %s which does not exist", d)})
			}
		}
	}
	return problems, nil
}

// The statements a plan runs once per task, label or dependency.
const (
	planInsertTask = `INSERT INTO tasks
		(id, seq, title, description, status, priority, role, parent_id, version, created_at, updated_at, metadata)
		VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, 1, ?, ?, ?)`
	planInsertLabel = `INSERT INTO task_labels (task_id, label) VALUES (?, ?)`
	planInsertDep   = `INSERT INTO task_dependencies (task_id, depends_on_id) VALUES (?, ?)`
	planInsertEvent = `INSERT INTO outbox (task_id, kind, created_at) VALUES (?, ?, ?)`
)

// prepared returns c's cached statement for query, or, when the
// connection's cache is full, one prepared for this transaction alone
// (closed by the returned func). Either way a plan prepares each statement
// once, not once per task.
func prepared(ctx context.Context, c *conn, query string) (*sql.Stmt, func() error, error) {
	st, err := c.stmt(ctx, query)
	if err != nil {
		return nil, nil, err
	}
	if st != nil {
		return st, func() error { return nil }, nil
	}
	st, err = c.sc.PrepareContext(ctx, query)
	if err != nil {
		return nil, nil, err
	}
	return st, st.Close, nil
}

// CreatePlan writes a resolved plan in one transaction: every task or none.
// Every existing task the plan names (parent or dependency) must exist;
// every missing one is reported, by position and ref, in one error. Tasks
// are created pending, in plan order (created_at strictly increasing), each
// with an outbox create event and a "created" history event by actor (note
// "plan"). The result maps each ref to its new id and holds the created
// tasks, in plan order.
func (s *Store) CreatePlan(ctx context.Context, plan []work.ResolvedPlanTask, actor string) (work.PlanResult, error) {
	tasks, ids, err := s.checkPlan(plan)
	if err != nil {
		return work.PlanResult{}, err
	}
	var out []Task
	err = s.writeChange(ctx, func(c *conn) (err error) {
		out = make([]Task, 0, len(tasks)) // a retried attempt starts afresh (see run)
		problems, err := missingNamed(ctx, c, tasks)
		if err != nil {
			return err
		}
		if len(problems) > 0 {
			return planError(problems, "it names tasks that do not exist (fix or drop those ids: see task_list)")
		}
		var stmts [4]*sql.Stmt
		for i, q := range []string{planInsertTask, planInsertLabel, planInsertDep, planInsertEvent} {
			st, closeSt, err := prepared(ctx, c, q)
			if err != nil {
				return err
			}
			defer func() { err = errors.Join(err, closeSt()) }()
			stmts[i] = st
		}
		insTask, insLabel, insDep, insEvent := stmts[0], stmts[1], stmts[2], stmts[3]
		var seq int64
		if err := c.queryRow(ctx, `SELECT IFNULL(MAX(seq), 0) FROM tasks`).Scan(&seq); err != nil {
			return err
		}
		for _, p := range tasks {
			seq++
			now := s.now()
			ts := fmtTime(now)
			if _, err := insTask.ExecContext(ctx, p.id, seq, p.ct.Title, p.ct.Description, p.ct.Priority,
				optStr(&p.ct.Role), optStr(&p.ct.ParentID), ts, ts, string(p.ct.Meta)); err != nil {
				return fmt.Errorf("plan task %d: %w", p.Index, err)
			}
			for _, l := range p.ct.Labels {
				if _, err := insLabel.ExecContext(ctx, p.id, l); err != nil {
					return fmt.Errorf("plan task %d: label: %w", p.Index, err)
				}
			}
			for _, d := range p.ct.Deps {
				if _, err := insDep.ExecContext(ctx, p.id, d); err != nil {
					return fmt.Errorf("plan task %d: dependency: %w", p.Index, err)
				}
			}
			if _, err := insEvent.ExecContext(ctx, p.id, EventCreate, ts); err != nil {
				return fmt.Errorf("outbox: %w", err)
			}
			if err := s.record(ctx, c, ts, historyEntry{taskID: p.id, actor: actor,
				event: work.EventCreated, note: "plan"}); err != nil {
				return err
			}
			t := Task{
				ID: p.id, Title: p.ct.Title, Description: p.ct.Description, Status: work.Pending, Priority: p.ct.Priority,
				Labels: p.ct.Labels, DependsOn: p.ct.Deps, Version: 1, CreatedAt: now, UpdatedAt: now,
				Metadata: p.ct.Meta, Role: nilIfEmpty(p.ct.Role), ParentID: nilIfEmpty(p.ct.ParentID),
			}
			if t.DependsOn == nil {
				t.DependsOn = []string{}
			}
			out = append(out, t)
		}
		return nil
	})
	if err != nil {
		return work.PlanResult{}, wrap("create plan", err)
	}
	return work.PlanResult{IDs: ids, Tasks: out}, nil
}

// The store is the task domain's store (see work/ports.go).
var (
	_ work.Claimer   = (*Store)(nil)
	_ work.Completer = (*Store)(nil)
	_ work.PlanStore = (*Store)(nil)
)
