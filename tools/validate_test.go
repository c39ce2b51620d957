package tools_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/argcases"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/tools"
)

// rangeCase is a bad call with the whole sentence its answer must be.
type rangeCase struct {
	tool, name string
	args       map[string]any
	want       string
}

// Every tool answers every kind of bad argument its schema can describe with a
// tool error: one sentence naming the argument, with no Go dump in it.
func TestBadArgsOfEveryToolGetOneSentence(t *testing.T) {
	e := newEnv(t)
	var all []mcp.Tool
	for _, st := range tools.New(e.deps).Tools(false) {
		all = append(all, st.Tool)
	}
	cases, err := argcases.For(all, e.project)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 3*len(all) {
		t.Fatalf("only %d cases for %d tools", len(cases), len(all))
	}
	kinds := map[string]int{}
	for _, tc := range cases {
		kinds[tc.Kind]++
		t.Run(tc.Name, func(t *testing.T) {
			res := e.call(tc.Tool, tc.Args)
			if p := tc.Check(resultText(res), res.IsError); p != "" {
				t.Error(p)
			}
		})
	}
	// Out-of-range values, the whole sentence: the input schemas declare
	// their bounds (tools' bounds option), so the validator answers them.
	labels := make([]string, 40)
	for i := range labels {
		labels[i] = fmt.Sprintf("l%d", i)
	}
	for _, tc := range []rangeCase{
		{"task_list", "task_list/range limit -1", map[string]any{"workspace": e.project, "limit": -1},
			`argument "limit" must be between 1 and 200, not -1`},
		{"task_list", "task_list/range limit 1000", map[string]any{"workspace": e.project, "limit": 1000},
			`argument "limit" must be between 1 and 200, not 1000`},
		{"task_history", "task_history/range limit 0", map[string]any{"workspace": e.project, "id": "tsk_x", "limit": 0},
			`argument "limit" must be between 1 and 200, not 0`},
		{"task_create", "task_create/range title too long", map[string]any{"workspace": e.project, "title": strings.Repeat("t", 600)},
			`argument "title" is 600 characters long; the limit is 500, so shorten it`},
		{"task_create", "task_create/range too many labels", map[string]any{"workspace": e.project, "title": "t", "labels": labels},
			`argument "labels" lists 40 items; the limit is 32, so send fewer`},
		{"task_claim", "task_claim/range lease_seconds -5", map[string]any{"workspace": e.project, "agent": "a", "lease_seconds": -5},
			`argument "lease_seconds" must be between 1 and 86400, not -5`},
		{"task_plan", "task_plan/range title of a task too long", map[string]any{"workspace": e.project, "tasks": []any{map[string]any{"ref": "a", "title": strings.Repeat("t", 501)}}},
			`argument "tasks[0].title" is 501 characters long; the limit is 500, so shorten it`},
	} {
		kinds["range"]++
		t.Run(tc.name, func(t *testing.T) {
			res := e.call(tc.tool, tc.args)
			if msg := resultText(res); !res.IsError || msg != tc.want {
				t.Errorf("%s: got %q (isError %v)\nwant %q", tc.name, msg, res.IsError, tc.want)
			}
		})
	}
	for _, k := range []string{"missing", "unknown", "wrong", "enum"} {
		if kinds[k] == 0 {
			t.Errorf("no %q case was generated", k)
		}
	}
	t.Logf("%d cases over %d tools: %v", len(cases), len(all), kinds)
}

// The whole sentence, for a sample of every kind.
func TestBadArgsSentencesInFull(t *testing.T) {
	e := newEnv(t)
	ws := e.project
	long := strings.Repeat("z", 500)
	cases := []struct {
		tool string
		args map[string]any
		want string
	}{
		{"task_create", map[string]any{"workspace": ws}, `argument "title" is required: pass it as a string`},
		{"task_create", map[string]any{"workspace": ws, "title": 42}, `argument "title" must be a string, not the number 42`},
		{"task_create", map[string]any{"workspace": ws, "title": "t", "priority": "urgent"}, `argument "priority" must be one of low, medium, high or critical, not the string "urgent"; pass one of those`},
		{"task_create", map[string]any{"workspace": ws, "title": "t", "bogus": 1}, `unknown argument "bogus"; this tool accepts: depends_on, description, labels, metadata, parent_id, priority, role, title, workspace`},
		{"task_create", map[string]any{"workspace": ws, "title": "t", "labels": "a,b"}, `argument "labels" must be an array, not the string "a,b"`},
		{"task_create", map[string]any{"workspace": ws, "title": "t", "depends_on": []any{"a", "b", 7}}, `argument "depends_on[2]" must be a string, not the number 7`},
		{"task_list", map[string]any{"workspace": ws, "limit": "ten"}, `argument "limit" must be an integer, not the string "ten"`},
		{"task_list", map[string]any{"workspace": ws, "limit": 2.5}, `argument "limit" must be an integer, not the number 2.5`},
		{"task_delete", map[string]any{"workspace": ws, "id": "x", "cascade": "yes"}, `argument "cascade" must be a boolean, not the string "yes"`},
		{"task_create", map[string]any{"workspace": ws, "title": "t", "priority": long}, `argument "priority" must be one of low, medium, high or critical, not the string "` + strings.Repeat("z", 60) + `…"; pass one of those`},
	}
	for _, tc := range cases {
		res := e.call(tc.tool, tc.args)
		if got := resultText(res); !res.IsError || got != tc.want {
			t.Errorf("%s(%v):\ngot  %q (isError %v)\nwant %q", tc.tool, tc.args, got, res.IsError, tc.want)
		}
	}
}

// A nested argument is named by its path.
func TestBadNestedArgNamesItsPath(t *testing.T) {
	e := newEnv(t)
	res := e.call("task_complete", map[string]any{"workspace": e.project, "id": "x", "artifact": map[string]any{"name": 5, "content": "x"}})
	want := `argument "artifact.name" must be a string, not the number 5`
	if got := resultText(res); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
