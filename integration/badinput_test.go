package integration

import (
	"strings"
	"testing"
)

// Every tool answers missing, wrong-typed, oversized and hostile arguments with a
// tool error that says what to fix, and the database is left exactly as it was.
func TestBadInputGetsAClearErrorAndChangesNothing(t *testing.T) {
	project := newProject(t)
	p := start(t, procOpts{dir: project})
	ctx := ctxT(t)
	var parent, child, a, b, done taskOut
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "parent"}, &parent)
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "child", "parent_id": parent.Task.ID}, &child)
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "a"}, &a)
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "b", "depends_on": []string{a.Task.ID}}, &b)
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "done"}, &done)
	p.ok(ctx, "task_complete", map[string]any{"workspace": project, "id": done.Task.ID, "summary": "ok"}, nil)
	before := dumpDB(t, project)

	long := strings.Repeat("x", 600)
	ws := project
	cases := []struct {
		name string
		tool string
		args map[string]any
		want string // a word the error must contain (lower case)
	}{
		{"create without title", "task_create", map[string]any{"workspace": ws}, "title"},
		{"create with blank title", "task_create", map[string]any{"workspace": ws, "title": "   "}, "title"},
		{"create with numeric title", "task_create", map[string]any{"workspace": ws, "title": 42}, "title"},
		{"create with oversized title", "task_create", map[string]any{"workspace": ws, "title": long}, "title"},
		{"create with unknown field", "task_create", map[string]any{"workspace": ws, "title": "t", "colour": "red"}, "colour"},
		{"create with bad priority", "task_create", map[string]any{"workspace": ws, "title": "t", "priority": "urgent"}, "priority"},
		{"create with unknown parent", "task_create", map[string]any{"workspace": ws, "title": "t", "parent_id": "tsk_nope"}, "tsk_nope"},
		{"create with unknown dependency", "task_create", map[string]any{"workspace": ws, "title": "t", "depends_on": []string{"tsk_nope"}}, "tsk_nope"},
		{"create with labels not an array", "task_create", map[string]any{"workspace": ws, "title": "t", "labels": "a,b"}, "labels"},
		{"create with hostile label", "task_create", map[string]any{"workspace": ws, "title": "t", "labels": []string{"a b; DROP TABLE tasks"}}, "label"},
		{"create with metadata not an object", "task_create", map[string]any{"workspace": ws, "title": "t", "metadata": "x"}, "metadata"},
		{"relative workspace", "task_create", map[string]any{"workspace": "../../etc", "title": "t"}, "absolute"},
		{"workspace is /", "task_create", map[string]any{"workspace": "/", "title": "t"}, "/"},
		{"workspace does not exist", "task_create", map[string]any{"workspace": "/no/such/dir/anywhere", "title": "t"}, "/no/such/dir"},
		{"get unknown id", "task_get", map[string]any{"workspace": ws, "id": "tsk_doesnotexist"}, "tsk_doesnotexist"},
		{"get traversal id", "task_get", map[string]any{"workspace": ws, "id": "../../etc/passwd"}, "id"},
		{"get without id", "task_get", map[string]any{"workspace": ws}, "id"},
		{"list negative limit", "task_list", map[string]any{"workspace": ws, "limit": -1}, "limit"},
		{"list oversized limit", "task_list", map[string]any{"workspace": ws, "limit": 1000}, "limit"},
		{"list bad status", "task_list", map[string]any{"workspace": ws, "status": []string{"done"}}, "status"},
		{"list bad cursor", "task_list", map[string]any{"workspace": ws, "cursor": "!!garbage!!"}, "cursor"},
		{"update stale version", "task_update", map[string]any{"workspace": ws, "id": a.Task.ID, "version": 99, "title": "new"}, "version"},
		{"update nothing", "task_update", map[string]any{"workspace": ws, "id": a.Task.ID}, "nothing to update"},
		{"update bad transition", "task_update", map[string]any{"workspace": ws, "id": done.Task.ID, "status": "in_progress"}, "completed"},
		{"update unknown id", "task_update", map[string]any{"workspace": ws, "id": "tsk_nope", "title": "x"}, "tsk_nope"},
		{"update negative version", "task_update", map[string]any{"workspace": ws, "id": a.Task.ID, "version": -3, "title": "x"}, "version"},
		{"claim without agent", "task_claim", map[string]any{"workspace": ws}, "agent"},
		{"complete traversal artifact", "task_complete", map[string]any{"workspace": ws, "id": a.Task.ID, "artifact": map[string]any{"name": "../../evil.sh", "content": "x"}}, "name"},
		{"complete absolute artifact", "task_complete", map[string]any{"workspace": ws, "id": a.Task.ID, "artifact": map[string]any{"name": "/etc/passwd", "content": "x"}}, "name"},
		{"complete bad outcome", "task_complete", map[string]any{"workspace": ws, "id": a.Task.ID, "outcome": "maybe"}, "outcome"},
		{"complete unknown id", "task_complete", map[string]any{"workspace": ws, "id": "tsk_nope"}, "tsk_nope"},
		{"complete already completed", "task_complete", map[string]any{"workspace": ws, "id": done.Task.ID}, "completed"},
		{"delete unknown id", "task_delete", map[string]any{"workspace": ws, "id": "tsk_nope"}, "tsk_nope"},
		{"delete parent without cascade", "task_delete", map[string]any{"workspace": ws, "id": parent.Task.ID}, "cascade"},
		{"dependency cycle", "task_dependency", map[string]any{"workspace": ws, "action": "add", "id": a.Task.ID, "depends_on": b.Task.ID}, "cycle"},
		{"dependency on itself", "task_dependency", map[string]any{"workspace": ws, "action": "add", "id": a.Task.ID, "depends_on": a.Task.ID}, "itself"},
		{"dependency bad action", "task_dependency", map[string]any{"workspace": ws, "action": "toggle", "id": a.Task.ID, "depends_on": b.Task.ID}, "action"},
		{"dependency unknown target", "task_dependency", map[string]any{"workspace": ws, "action": "add", "id": a.Task.ID, "depends_on": "tsk_nope"}, "tsk_nope"},
		{"remove missing dependency", "task_dependency", map[string]any{"workspace": ws, "action": "remove", "id": a.Task.ID, "depends_on": b.Task.ID}, "depend"},
		{"pool_status both", "pool_status", map[string]any{"workspace": ws, "all": true}, "either"},
		{"workspace_info root", "workspace_info", map[string]any{"workspace": "/"}, "/"},
		{"workspace_info unknown field", "workspace_info", map[string]any{"workspace": ws, "path": "/etc"}, "path"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := p.call(ctx, tc.tool, tc.args)
			msg := text(res)
			if !res.IsError {
				t.Fatalf("%s(%v) succeeded: %s", tc.tool, tc.args, msg)
			}
			low := strings.ToLower(msg)
			if !strings.Contains(low, strings.ToLower(tc.want)) {
				t.Errorf("error %q does not mention %q", msg, tc.want)
			}
			for _, leak := range []string{"sqlite_", "SQL logic", "input schema validation failed", "<root>"} {
				if strings.Contains(msg, leak) {
					t.Errorf("error leaks internals (%q): %s", leak, msg)
				}
			}
			// No Go value dump (&{Missing:[title]}), type name, source path or schema URL.
			checkClientSentence(t, msg)
		})
	}
	if after := dumpDB(t, project); after != before {
		t.Fatalf("the database changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if _, err := filepathGlob(project, ".task_orchestrator/artifacts/*/*"); err != nil {
		t.Fatal(err)
	}
}
