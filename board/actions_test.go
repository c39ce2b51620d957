package board_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/board"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

type answer struct {
	OK      bool   `json:"ok"`
	Message string `json:"message"`
	Error   string `json:"error"`
}

func (e *env) act(c *http.Cookie, body string, header map[string]string) (int, answer) {
	e.t.Helper()
	resp, raw := e.do("POST", "/api/actions", c, body, header)
	var a answer
	if err := json.Unmarshal([]byte(raw), &a); err != nil {
		e.t.Fatalf("POST api/actions: %s %q is not JSON: %v", resp.Status, raw, err)
	}
	return resp.StatusCode, a
}

func TestActionsAreRefusedOnAReadOnlyBoard(t *testing.T) {
	e := newEnv(t, false)
	f := newFixture(t, e)
	c := e.login()
	code, a := e.act(c, `{"action":"release","id":"`+f.d.ID+`"}`, map[string]string{"Content-Type": "application/json"})
	if want := "This board is read-only: start it with --allow-edits (the HTTP server with --board-allow-edits) to release, cancel or reconcile from the board."; code != http.StatusForbidden || a.OK || a.Error != want {
		t.Errorf("an action on a read-only board: %d %+v", code, a)
	}
	if e.state(c).Counts["in_progress"] != 1 {
		t.Error("the refused action changed the task")
	}
}

func TestActionsNeedCSRFAndTheSameOrigin(t *testing.T) {
	e := newEnv(t, true)
	f := newFixture(t, e)
	c := e.login()
	st := e.state(c)
	if !st.AllowEdits || len(st.CSRF) < 40 {
		t.Fatalf("allow_edits %v, csrf %q", st.AllowEdits, st.CSRF)
	}
	body := `{"action":"release","id":"` + f.d.ID + `","reason":"stuck"}`
	good := map[string]string{"Content-Type": "application/json", board.CSRFHeader: st.CSRF, "Origin": e.srv.URL}
	with := func(k, v string) map[string]string {
		h := map[string]string{}
		for a, b := range good {
			h[a] = b
		}
		if v == "" {
			delete(h, k)
		} else {
			h[k] = v
		}
		return h
	}
	refusals := []struct {
		name   string
		header map[string]string
		want   string
	}{
		{"no CSRF header", with(board.CSRFHeader, ""), "The action's X-Board-CSRF header is missing or wrong: reload the board's page (it reads a fresh token from api/state) and try again."},
		{"a wrong CSRF header", with(board.CSRFHeader, "x"+st.CSRF), "The action's X-Board-CSRF header is missing or wrong: reload the board's page (it reads a fresh token from api/state) and try again."},
		{"a foreign Origin", with("Origin", "http://evil.example"), "The action came from another site (its Origin header is not this board's address), so it was refused: use the board's own page."},
		{"a form body", with("Content-Type", "application/x-www-form-urlencoded"), "The action's Content-Type must be application/json: send the body as a JSON object."},
	}
	for _, r := range refusals {
		code, a := e.act(c, body, r.header)
		if code != http.StatusForbidden || a.OK || a.Error != r.want {
			t.Errorf("%s: %d %+v", r.name, code, a)
		}
	}
	if e.state(c).Counts["in_progress"] != 1 {
		t.Fatal("a refused action changed the task")
	}

	// With all of them: the release goes through, as human:board, though bot holds a live lease.
	code, a := e.act(c, body, good)
	if want := "Task " + f.d.ID + " is pending again, with no assignee: any agent may claim it."; code != http.StatusOK || !a.OK || a.Message != want {
		t.Fatalf("release: %d %+v", code, a)
	}
	code, a = e.act(c, `{"action":"cancel","id":"`+f.b.ID+`"}`, with("Origin", ""))
	if want := "Task " + f.b.ID + " is cancelled."; code != http.StatusOK || !a.OK || a.Message != want {
		t.Fatalf("cancel: %d %+v", code, a)
	}
	hist, _, err := e.store().History(context.Background(), f.d.ID, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	last := hist[len(hist)-1]
	if last.Actor != board.ActorBoard || last.Event != work.EventReleased || last.Note != "stuck" {
		t.Errorf("the release's history event = %+v", last)
	}
	st = e.state(c)
	if st.History[0].Actor != board.ActorBoard || st.History[0].TaskID != f.b.ID || st.History[0].Event != work.EventStatus {
		t.Errorf("the board's history = %+v", st.History[0])
	}
	if st.Counts["in_progress"] != 0 || st.Counts["cancelled"] != 2 {
		t.Errorf("counts after the actions = %v", st.Counts)
	}

	// Clear refusals of bad arguments.
	bad := []struct {
		body string
		code int
		want string
	}{
		{`{"action":"cancel","id":"` + f.b.ID + `"}`, http.StatusConflict, "task " + f.b.ID + " is cancelled; only a pending, in_progress, blocked or failed task can be cancelled."},
		{`{"action":"release","id":"` + f.a.ID + `"}`, http.StatusConflict, "task " + f.a.ID + " is pending; only an in_progress task can be released."},
		{`{"action":"cancel","id":"tsk_0123456789abcdef"}`, http.StatusNotFound, `id "tsk_0123456789abcdef" names no task of this project: reload the board to see the current tasks.`},
		{`{"action":"release"}`, http.StatusBadRequest, "id is required: pass a task id such as tsk_0123456789abcdef (see task_list)."},
		{`{"action":"delete","id":"` + f.a.ID + `"}`, http.StatusBadRequest, `action "delete" is not one of release, cancel, reconcile: send one of those three.`},
		{`{"action":"cancel","id":"` + f.a.ID + `","extra":1}`, http.StatusBadRequest, `The action's body is not a JSON object {"action", "id", "reason"}: send one with action release, cancel or reconcile.`},
		{`not json`, http.StatusBadRequest, `The action's body is not a JSON object {"action", "id", "reason"}: send one with action release, cancel or reconcile.`},
	}
	for _, b := range bad {
		code, a := e.act(c, b.body, good)
		if code != b.code || a.OK || a.Error != b.want {
			t.Errorf("%s: %d %q, want %d %q", b.body, code, a.Error, b.code, b.want)
		}
	}
}
