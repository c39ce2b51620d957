package integration

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// The parent and role rules of issue 13 over the real binary, as a new user
// following the plan_work prompt met them: the first claim took the parent
// instead of one of its four pending subtasks, task_complete on the parent
// succeeded while every subtask was pending, and an agent with no role took
// a task meant for role=writer.

// A parent with four pending subtasks (created first, with the highest
// priority, so that nothing but the rule keeps it from the first claim) is
// never claimed while any subtask is open, cannot be completed (by
// task_complete or by task_update status=completed), and is claimed once
// its subtasks are completed.
func TestRulesAParentWaitsForItsSubtasks(t *testing.T) {
	project := newProject(t)
	p := start(t, procOpts{dir: project})
	ctx := ctxT(t)
	var parent taskOut
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "ship the feature", "priority": "critical"}, &parent)
	pid := parent.Task.ID
	var subs []string
	for _, title := range []string{"design", "implement", "test", "document"} {
		var s taskOut
		p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": title, "parent_id": pid, "priority": "low"}, &s)
		subs = append(subs, s.Task.ID)
	}

	// Five claims: the four subtasks, then nothing — never the parent.
	holder := map[string]string{}
	var got []string
	for i := range 5 {
		agent := []string{"ann", "bob", "cid", "dee", "eve"}[i]
		c := p.claim(ctx, project, agent, 600, nil)
		if i < 4 {
			if c == nil {
				t.Fatalf("claim %d by %s answered null; want one of the four pending subtasks", i+1, agent)
			}
			if c.ID == pid {
				t.Fatalf("claim %d by %s took the parent %s while its subtasks were pending", i+1, agent, pid)
			}
			got = append(got, c.ID)
			holder[c.ID] = agent
			continue
		}
		if c != nil {
			t.Fatalf("claim 5 by %s took %s (parent %s) while its four subtasks were in progress", agent, c.ID, pid)
		}
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(subs))
	if !slices.Equal(got, want) {
		t.Fatalf("the four claims took %v, want the subtasks %v", got, want)
	}

	// The parent cannot be completed while a subtask is open.
	before := p.rawGet(ctx, project, pid)
	for _, call := range []struct {
		tool string
		args map[string]any
	}{
		{"task_complete", map[string]any{"workspace": project, "id": pid, "agent": "eve", "summary": "all done?"}},
		{"task_update", map[string]any{"workspace": project, "id": pid, "agent": "eve", "status": "completed"}},
	} {
		msg := p.refused(ctx, call.tool, call.args)
		t.Logf("%s on the parent with open subtasks: %s", call.tool, msg)
		low := strings.ToLower(msg)
		if !strings.Contains(msg, pid) || !strings.Contains(low, "subtask") || strings.Contains(msg, "internal error") {
			t.Errorf("%s on the parent %s with four open subtasks: %q; want a sentence naming the parent and its open subtasks", call.tool, pid, msg)
		}
	}
	if after := p.rawGet(ctx, project, pid); after != before {
		t.Fatalf("refused completions changed the parent:\nbefore %s\nafter  %s", before, after)
	}

	// Completing subtasks one by one: the parent stays unclaimable until the last.
	for i, id := range subs {
		p.ok(ctx, "task_complete", map[string]any{"workspace": project, "id": id, "agent": holder[id], "summary": "done"}, nil)
		c := p.claim(ctx, project, "fay", 600, nil)
		switch {
		case i < len(subs)-1 && c != nil:
			t.Fatalf("with %d of 4 subtasks completed, fay claimed %s", i+1, c.ID)
		case i == len(subs)-1 && (c == nil || c.ID != pid):
			t.Fatalf("with every subtask completed, fay's claim answered %s; want the parent %s", descTask(c), pid)
		}
	}
	var done leasedOut
	p.ok(ctx, "task_complete", map[string]any{"workspace": project, "id": pid, "agent": "fay", "summary": "shipped"}, &done)
	if done.Task.Status != "completed" {
		t.Fatalf("completing the parent after its subtasks answered %+v", done.Task)
	}
}

// Failing or cancelling a parent with open subtasks is allowed, and leaves
// its subtasks as they are.
func TestRulesFailingOrCancellingAParentLeavesItsSubtasks(t *testing.T) {
	project := newProject(t)
	p := start(t, procOpts{dir: project})
	ctx := ctxT(t)
	for _, how := range []string{"fail", "cancel"} {
		var parent taskOut
		p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": how + " me"}, &parent)
		pid := parent.Task.ID
		var subs []string
		for i := range 2 {
			var s taskOut
			p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": how + " sub", "parent_id": pid,
				"labels": []string{how + "-sub" + string(rune('a'+i))}}, &s)
			subs = append(subs, s.Task.ID)
		}
		var res *leasedTask
		var answer string
		if how == "fail" {
			var out leasedOut
			r := p.call(ctx, "task_complete", map[string]any{"workspace": project, "id": pid, "outcome": "failed", "summary": "gave up"})
			if r.IsError {
				t.Fatalf("failing a parent with open subtasks was refused: %s", text(r))
			}
			answer = text(r)
			t.Logf("failing a parent with open subtasks: %s", answer)
			decode(t, r, &out)
			res = out.Task
		} else {
			var out leasedOut
			r := p.call(ctx, "task_update", map[string]any{"workspace": project, "id": pid, "status": "cancelled"})
			if r.IsError {
				t.Fatalf("cancelling a parent with open subtasks was refused: %s", text(r))
			}
			answer = text(r)
			t.Logf("cancelling a parent with open subtasks: %s", answer)
			decode(t, r, &out)
			res = out.Task
		}
		if !strings.Contains(strings.ToLower(answer), "subtask") {
			t.Errorf("%s a parent with open subtasks answered %q; want the answer to say what happens to its subtasks", how, strings.SplitN(answer, "\n", 2)[0])
		}
		want := map[string]string{"fail": "failed", "cancel": "cancelled"}[how]
		if res == nil || res.Status != want {
			t.Fatalf("%s: the parent is %+v, want %s", how, res, want)
		}
		for _, id := range subs {
			if st := p.getTask(ctx, project, id).Status; st != "pending" {
				t.Errorf("%s the parent: subtask %s is now %s, want it left pending", how, id, st)
			}
		}
	}
}

// A task for role=writer (the most urgent task there is) is never claimed by
// an agent with no role or with role reviewer, and is claimed by a writer;
// an agent with a role may still take tasks without a role.
func TestRulesARoleBoundTaskGoesOnlyToThatRole(t *testing.T) {
	project := newProject(t)
	p := start(t, procOpts{dir: project})
	ctx := ctxT(t)
	var w, free, free2 taskOut
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "write the guide", "role": "writer", "priority": "critical"}, &w)
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "anyone's job", "priority": "low"}, &free)
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "anyone's other job", "priority": "low"}, &free2)

	c := p.claim(ctx, project, "nobody-in-particular", 600, nil)
	if c == nil || c.ID == w.Task.ID {
		t.Fatalf("an agent with no role claimed %s; want a task without a role, never the writer's %s", descTask(c), w.Task.ID)
	}
	c = p.claim(ctx, project, "rev", 600, map[string]any{"role": "reviewer"})
	if c == nil || c.ID == w.Task.ID {
		t.Fatalf("a reviewer claimed %s; want the remaining task without a role, never the writer's %s", descTask(c), w.Task.ID)
	}
	for _, ask := range []struct {
		agent string
		extra map[string]any
	}{{"nobody-again", nil}, {"rev-2", map[string]any{"role": "reviewer"}}} {
		if c := p.claim(ctx, project, ask.agent, 600, ask.extra); c != nil {
			t.Fatalf("%s (%v) claimed %s (role %s); only the writer's task was left", ask.agent, ask.extra, c.ID, strp(c.Role))
		}
	}
	c = p.claim(ctx, project, "wri", 600, map[string]any{"role": "writer"})
	if c == nil || c.ID != w.Task.ID {
		t.Fatalf("a writer's claim answered %s, want the writer's task %s", descTask(c), w.Task.ID)
	}
	if strp(c.Role) != "writer" {
		t.Errorf("the writer's task came back with role %s", strp(c.Role))
	}
}

// descTask names a claimed task for messages.
func descTask(c *leasedTask) string {
	if c == nil {
		return "nothing"
	}
	return fmt.Sprintf("%s (%q, role %s, %s, assignee %s)", c.ID, c.Title, strp(c.Role), c.Status, strp(c.Assignee))
}
