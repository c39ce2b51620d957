package tools_test

import (
	"strings"
	"testing"
)

type mirrorsOut struct {
	Workspaces []struct {
		Mirrors []struct {
			Mirror  string `json:"mirror"`
			State   string `json:"state"`
			Pending int    `json:"pending"`
			Note    string `json:"note"`
		} `json:"mirrors"`
	} `json:"workspaces"`
}

// A project on SQLite alone: both mirrors are "not configured", with the
// reason, before and after the task store opens; task_reconcile says so too.
func TestMirrorsNotConfiguredAreSkipped(t *testing.T) {
	e := newEnv(t)
	check := func(when string) {
		t.Helper()
		var st mirrorsOut
		e.ok("pool_status", map[string]any{}, &st)
		ms := st.Workspaces[0].Mirrors
		if len(ms) != 2 || ms[0].Mirror != "vector" || ms[1].Mirror != "graph" {
			t.Fatalf("%s: mirrors = %+v", when, ms)
		}
		for _, m := range ms {
			if m.State != "not configured" || m.Note == "" || m.Pending != 0 {
				t.Errorf("%s: %s mirror = %+v, want not configured with a reason", when, m.Mirror, m)
			}
		}
		if !strings.Contains(ms[0].Note, "embedding") && !strings.Contains(ms[0].Note, "CHROMA_URL") {
			t.Errorf("%s: the vector mirror's note does not say what to configure: %q", when, ms[0].Note)
		}
	}
	check("before any task call")
	e.ok("task_create", map[string]any{"title": "x"}, nil)
	check("after a task call")

	var rec struct {
		Mirrors []struct {
			Mirror string `json:"mirror"`
			State  string `json:"state"`
		} `json:"mirrors"`
	}
	e.ok("task_reconcile", map[string]any{"mirror": "all"}, &rec)
	if len(rec.Mirrors) != 2 || rec.Mirrors[0].State != "not configured" || rec.Mirrors[1].State != "not configured" {
		t.Fatalf("task_reconcile = %+v", rec)
	}
	res := e.call("task_reconcile", map[string]any{"mirror": "search"})
	if !res.IsError || !strings.Contains(resultText(res), "vector, graph, all") {
		t.Fatalf("task_reconcile with a bad mirror: %v", resultText(res))
	}
}
