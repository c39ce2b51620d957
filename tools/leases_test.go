package tools_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	mcptransport "github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	projects "github.com/mcp-task-orchestrator/mcp-task-orchestrator/project"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/tools"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/transport"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// wantToolError calls name and fails unless the answer is a tool error whose
// text is exactly want.
func (e *env) wantToolError(name string, args map[string]any, want string) {
	e.t.Helper()
	res := e.call(name, args)
	if !res.IsError {
		e.t.Errorf("%s(%v) succeeded; want the error %q", name, args, want)
		return
	}
	if got := resultText(res); got != want {
		e.t.Errorf("%s(%v):\n got %q\nwant %q", name, args, got, want)
	}
}

// Every new argument is checked once, before anything is read or written,
// with one sentence that names it.
func TestLeasePlanSummaryHistoryArgumentsAreRefusedByName(t *testing.T) {
	e := newEnv(t)
	long := strings.Repeat("x", 2001)
	tooMany := make([]any, work.MaxPlanTasks+1)
	for i := range tooMany {
		tooMany[i] = map[string]any{"ref": fmt.Sprintf("t%d", i), "title": "x"}
	}
	for _, tc := range []struct {
		tool string
		args map[string]any
		want string
	}{
		{"task_claim", map[string]any{"agent": "a", "lease_seconds": 0}, `argument "lease_seconds" must be between 1 and 86400, not 0`},
		{"task_claim", map[string]any{"agent": "a", "lease_seconds": 86401}, `argument "lease_seconds" must be between 1 and 86400, not 86401`},
		{"task_claim", map[string]any{}, `argument "agent" is required: pass the name you claim tasks with`},
		{"task_claim", map[string]any{"agent": strings.Repeat("a", 129)}, `argument "agent" is 129 bytes; an agent's name is at most 128`},
		{"task_heartbeat", map[string]any{"id": " ", "agent": "a"}, `argument "id" is required`},
		{"task_heartbeat", map[string]any{"id": "tsk_1"}, `argument "agent" is required: pass the name you claim tasks with`},
		{"task_heartbeat", map[string]any{"id": "../x", "agent": "a"}, `argument "id": "../x" is not a task id (ids look like tsk_0123abcd…; list them with task_list)`},
		{"task_release", map[string]any{"id": "tsk_1"}, `argument "agent" is required: pass the name you claim tasks with`},
		{"task_release", map[string]any{"id": "tsk_1", "agent": "a", "reason": long}, `argument "reason" is 2001 characters long; the limit is 2000, so shorten it`},
		{"task_history", map[string]any{"id": ""}, `argument "id" is required`},
		{"task_history", map[string]any{"id": "tsk_1", "limit": 0}, `argument "limit" must be between 1 and 200, not 0`},
		{"task_history", map[string]any{"id": "tsk_1", "limit": 201}, `argument "limit" must be between 1 and 200, not 201`},
		{"task_history", map[string]any{"id": "tsk_1", "cursor": long}, `argument "cursor" is not a cursor from task_history; pass the next_cursor of the previous page, or omit it to start from the first event`},
		{"task_summary", map[string]any{"limit": 0}, `argument "limit" must be between 1 and 10, not 0`},
		{"task_summary", map[string]any{"limit": 11}, `argument "limit" must be between 1 and 10, not 11`},
		{"task_plan", map[string]any{"tasks": []any{}}, `argument "tasks" is empty: pass the plan's tasks, each with a ref and a title`},
		{"task_plan", map[string]any{"tasks": tooMany}, `argument "tasks" holds 501 tasks; a plan holds at most 500, so split it (later plans may name tasks of earlier ones by id)`},
		{"task_update", map[string]any{"id": "tsk_1", "agent": strings.Repeat("a", 129), "title": "x"}, `argument "agent" is 129 bytes; an agent's name is at most 128`},
		{"task_complete", map[string]any{"id": "tsk_1", "agent": strings.Repeat("a", 129)}, `argument "agent" is 129 bytes; an agent's name is at most 128`},
	} {
		e.wantToolError(tc.tool, tc.args, tc.want)
	}
	// Nothing was opened for any of them: the project has no data folder.
	if _, err := os.Stat(filepath.Join(e.project, workspace.DirName)); err == nil {
		t.Fatal("a refused call created the project's data folder")
	}
}

// The new tools are registered on the side their annotations say.
func TestNewTaskToolsAreInTheRightList(t *testing.T) {
	read := map[string]bool{}
	for _, st := range tools.New(&tools.Deps{}).Tools(true) {
		read[st.Tool.Name] = true
	}
	all := map[string]mcp.ToolAnnotation{}
	for _, st := range tools.New(&tools.Deps{}).Tools(false) {
		all[st.Tool.Name] = st.Tool.Annotations
	}
	for _, name := range []string{"task_summary", "task_history"} {
		if !read[name] {
			t.Errorf("%s is not a read tool", name)
		}
	}
	for _, name := range []string{"task_plan", "task_heartbeat", "task_release"} {
		a, ok := all[name]
		if !ok || read[name] {
			t.Errorf("%s is not a write tool", name)
			continue
		}
		if _, destructive, _, _ := tools.Hints(a); destructive {
			t.Errorf("%s is annotated destructive", name)
		}
	}
	if _, _, idem, _ := tools.Hints(all["task_release"]); idem {
		t.Error("task_release is annotated idempotent")
	}
	if _, _, idem, _ := tools.Hints(all["task_plan"]); idem {
		t.Error("task_plan is annotated idempotent")
	}
}

// httpEnv is the real tools behind the real HTTP transport, with per-agent
// tokens: alice and bob.
type httpEnv struct {
	*env
	url string
}

const (
	aliceToken = "alice-token-0123456789abcdef"
	bobToken   = "bob-token-0123456789abcdef"
)

func newHTTPEnv(t *testing.T) *httpEnv {
	t.Helper()
	project := t.TempDir()
	if err := os.Mkdir(filepath.Join(project, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	project, _ = filepath.EvalSymlinks(project)
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("alice:"+aliceToken+"\nbob:"+bobToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := workspace.Defaults()
	logger := slog.New(slog.DiscardHandler)
	reg := projects.NewRegistry(projects.RegistryConfig{MaxWorkspaces: 4, Logger: logger, Server: cfg})
	d := &tools.Deps{Projects: reg, Resolver: &workspace.Resolver{Cwd: project}, Config: cfg, Logger: logger, Version: "test"}
	s := server.NewMCPServer("test", "1", server.WithOutputSchemaValidation())
	tools.New(d).Register(s, false)
	srv, err := transport.New(s, transport.Options{Addr: "127.0.0.1:0", AuthTokensFile: tokens, Logger: logger, RefusalDelay: -1})
	if err != nil {
		t.Fatal(err)
	}
	s.Use(srv.ToolMiddleware())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ListenAndServe: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := reg.Close(ctx); err != nil {
			t.Errorf("closing the registry: %v", err)
		}
	})
	for deadline := time.Now().Add(5 * time.Second); srv.Addr() == ""; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the HTTP server did not bind within 5s")
		}
	}
	return &httpEnv{env: &env{t: t, deps: d, srv: s, project: project}, url: "http://" + srv.Addr() + "/mcp"}
}

// as returns an env whose calls go over HTTP with token's bearer, each with
// the project as workspace.
func (h *httpEnv) as(token string) *env {
	h.t.Helper()
	tr, err := mcptransport.NewStreamableHTTP(h.url,
		mcptransport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token}),
		mcptransport.WithHTTPLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		h.t.Fatal(err)
	}
	c := client.NewClient(tr)
	h.t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		h.t.Fatal(err)
	}
	init := mcp.InitializeRequest{}
	init.Params.ClientInfo = mcp.Implementation{Name: "t", Version: "1"}
	if _, err := c.Initialize(ctx, init); err != nil {
		h.t.Fatal(err)
	}
	return &env{t: h.t, deps: h.deps, srv: h.srv, c: c, project: h.project}
}

// Over HTTP with per-agent tokens, each token acts as one agent: "agent"
// must be the token's name on every tool that takes it, and an omitted one
// is the token's name.
func TestNamedTokenActsAsOneAgent(t *testing.T) {
	h := newHTTPEnv(t)
	alice := h.as(aliceToken)
	ws := h.project
	const wrong = `argument "agent" is "bob", but this connection is authenticated as "alice"; pass agent "alice" (each token acts as one agent)`
	for _, tc := range []struct {
		tool string
		args map[string]any
	}{
		{"task_claim", map[string]any{}},
		{"task_heartbeat", map[string]any{"id": "tsk_1"}},
		{"task_release", map[string]any{"id": "tsk_1"}},
		{"task_update", map[string]any{"id": "tsk_1", "title": "x"}},
		{"task_complete", map[string]any{"id": "tsk_1"}},
		{"task_plan", map[string]any{"tasks": []any{map[string]any{"ref": "a", "title": "x"}}}},
	} {
		tc.args["workspace"], tc.args["agent"] = ws, "bob"
		alice.wantToolError(tc.tool, tc.args, wrong)
	}

	var created tools.TaskResult
	alice.ok("task_create", map[string]any{"workspace": ws, "title": "write the report"}, &created)
	// No agent: the token's name is the agent. Its own name is accepted too.
	var claimed tools.ClaimResult
	alice.ok("task_claim", map[string]any{"workspace": ws}, &claimed)
	if claimed.Task == nil || claimed.Task.Assignee == nil || *claimed.Task.Assignee != "alice" {
		t.Fatalf("claim without agent over alice's token = %+v, want assignee alice", claimed.Task)
	}
	var updated tools.TaskResult
	alice.ok("task_update", map[string]any{"workspace": ws, "id": created.Task.ID, "agent": "alice", "priority": "high"}, &updated)

	// Bob cannot speak for alice either.
	bob := h.as(bobToken)
	bob.wantToolError("task_complete", map[string]any{"workspace": ws, "id": created.Task.ID, "agent": "alice"},
		`argument "agent" is "alice", but this connection is authenticated as "bob"; pass agent "bob" (each token acts as one agent)`)
	var det work.TaskDetail
	alice.ok("task_get", map[string]any{"workspace": ws, "id": created.Task.ID}, &det)
	if det.Task.Status != "in_progress" || *det.Task.Assignee != "alice" {
		t.Fatalf("after bob's refused call the task is %s/%v, want alice's in_progress", det.Task.Status, *det.Task.Assignee)
	}
}

// ---- after the merge of issue 13 (these need the real store and use-cases) ----

// task_claim takes lease_seconds, defaulting to tasks.lease_seconds; the
// holder renews with task_heartbeat; another agent's writes are refused;
// task_release gives the task back; task_history shows it all.
func TestClaimLeaseHeartbeatReleaseAndHistory(t *testing.T) {
	e := newEnv(t)
	e.deps.Config.Tasks.LeaseSeconds = 120
	var a, b tools.TaskResult
	e.ok("task_create", map[string]any{"title": "first"}, &a)
	e.ok("task_create", map[string]any{"title": "second"}, &b)

	before := time.Now()
	var c1 tools.ClaimResult
	e.ok("task_claim", map[string]any{"agent": "A"}, &c1)
	if c1.Task == nil || c1.Task.ID != a.Task.ID || c1.Task.LeaseExpiresAt == nil {
		t.Fatalf("claim = %+v, want %s with a lease", c1.Task, a.Task.ID)
	}
	if d := c1.Task.LeaseExpiresAt.Sub(before); d < 100*time.Second || d > 200*time.Second {
		t.Fatalf("default lease runs %v from the call, want about tasks.lease_seconds (120 s)", d)
	}
	var c2 tools.ClaimResult
	e.ok("task_claim", map[string]any{"agent": "B", "lease_seconds": 30}, &c2)
	if c2.Task == nil || c2.Task.ID != b.Task.ID || c2.Task.LeaseExpiresAt == nil || c2.Task.LeaseExpiresAt.Sub(before) > 100*time.Second {
		t.Fatalf("claim with lease_seconds 30 = %+v", c2.Task)
	}

	var hb tools.TaskResult
	e.ok("task_heartbeat", map[string]any{"id": a.Task.ID, "agent": "A"}, &hb)
	if hb.Task.LeaseExpiresAt == nil || hb.Task.LeaseExpiresAt.Before(*c1.Task.LeaseExpiresAt) {
		t.Fatalf("heartbeat lease %v, before the claim's %v", hb.Task.LeaseExpiresAt, c1.Task.LeaseExpiresAt)
	}
	for _, call := range []struct {
		tool string
		args map[string]any
	}{
		{"task_heartbeat", map[string]any{"id": a.Task.ID, "agent": "B"}},
		{"task_update", map[string]any{"id": a.Task.ID, "agent": "B", "title": "mine now"}},
		{"task_update", map[string]any{"id": a.Task.ID, "title": "nobody"}},
		{"task_complete", map[string]any{"id": a.Task.ID, "agent": "B"}},
		{"task_release", map[string]any{"id": a.Task.ID, "agent": "B"}},
	} {
		if res := e.call(call.tool, call.args); !res.IsError {
			t.Errorf("%s %v on A's live claim succeeded", call.tool, call.args)
		}
	}
	var rel tools.TaskResult
	e.ok("task_release", map[string]any{"id": b.Task.ID, "agent": "B", "reason": "out of time"}, &rel)
	if rel.Task.Status != "pending" || rel.Task.Assignee != nil || rel.Task.LeaseExpiresAt != nil {
		t.Fatalf("released task = %+v, want pending with no assignee or lease", rel.Task)
	}
	var done tools.CompleteResult
	e.ok("task_complete", map[string]any{"id": a.Task.ID, "agent": "A", "summary": "done"}, &done)
	if done.Task.Status != "completed" {
		t.Fatalf("complete = %+v", done.Task)
	}

	var hist tools.HistoryResult
	e.ok("task_history", map[string]any{"id": a.Task.ID}, &hist)
	var kinds []string
	for _, ev := range hist.Events {
		kinds = append(kinds, ev.Event)
	}
	if got := strings.Join(kinds, ","); !strings.HasPrefix(got, work.EventCreated+","+work.EventClaimed) || !strings.HasSuffix(got, work.EventCompleted) {
		t.Fatalf("history of %s = %s, want created, claimed, …, completed", a.Task.ID, got)
	}
	e.ok("task_history", map[string]any{"id": b.Task.ID, "limit": 1}, &hist)
	if len(hist.Events) != 1 || hist.NextCursor == "" {
		t.Fatalf("history page of 1 = %d events, cursor %q", len(hist.Events), hist.NextCursor)
	}
}

// task_plan writes a plan in one call, maps refs to ids, returns the compact
// tasks, and sends progress notifications when asked for them.
func TestPlanInOneCallWithProgress(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	var progress []string
	e.c.OnNotification(func(n mcp.JSONRPCNotification) {
		if n.Method == string(mcp.MethodNotificationProgress) && n.Params.AdditionalFields["progressToken"] == "plan-1" {
			mu.Lock()
			progress = append(progress, fmt.Sprint(n.Params.AdditionalFields["progress"]))
			mu.Unlock()
		}
	})
	plan := []any{map[string]any{"ref": "goal", "title": "ship it"}}
	for i := range 100 {
		task := map[string]any{"ref": fmt.Sprintf("step-%d", i), "title": fmt.Sprintf("step %d", i), "parent": "goal"}
		if i > 0 {
			task["depends_on"] = []string{fmt.Sprintf("step-%d", i-1)}
		}
		plan = append(plan, task)
	}
	req := mcp.CallToolRequest{}
	req.Params.Name = "task_plan"
	req.Params.Arguments = map[string]any{"tasks": plan, "agent": "planner"}
	req.Params.Meta = &mcp.Meta{ProgressToken: "plan-1"}
	res, err := e.c.CallTool(context.Background(), req)
	if err != nil || res.IsError {
		t.Fatalf("task_plan: %v %s", err, resultText(res))
	}
	var out tools.PlanResult
	decodeStructured(t, res, &out)
	if len(out.IDs) != 101 || len(out.Tasks) != 101 {
		t.Fatalf("plan created %d ids, %d tasks; want 101", len(out.IDs), len(out.Tasks))
	}
	for _, pt := range out.Tasks {
		if out.IDs[pt.Ref] != pt.ID {
			t.Fatalf("task %s has ref %q, which maps to %s", pt.ID, pt.Ref, out.IDs[pt.Ref])
		}
		if pt.Ref != "goal" && (pt.ParentID == nil || *pt.ParentID != out.IDs["goal"]) {
			t.Fatalf("%s's parent is %v, want the goal %s", pt.Ref, pt.ParentID, out.IDs["goal"])
		}
	}
	// Notifications reach the client on their own path, maybe after the
	// answer: wait for one, a bounded while; they must only go up.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := len(progress)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a plan of 101 tasks with a progress token sent no progress notification")
		}
	}
	mu.Lock()
	for i := 1; i < len(progress); i++ {
		a, _ := strconv.ParseFloat(progress[i-1], 64)
		b, _ := strconv.ParseFloat(progress[i], 64)
		if b <= a {
			t.Errorf("progress went %v", progress)
			break
		}
	}
	mu.Unlock()
	// The parent with open subtasks is not what a claim gets.
	var c tools.ClaimResult
	e.ok("task_claim", map[string]any{"agent": "A"}, &c)
	if c.Task == nil || c.Task.ID != out.IDs["step-0"] {
		t.Fatalf("first claim after the plan = %+v, want step-0 (%s)", c.Task, out.IDs["step-0"])
	}
}

// task_summary answers with counts, ready count and capped lists.
func TestSummaryOverMCP(t *testing.T) {
	e := newEnv(t)
	for i := range 8 {
		e.ok("task_create", map[string]any{"title": fmt.Sprintf("t%d", i)}, nil)
	}
	e.ok("task_claim", map[string]any{"agent": "A"}, nil)
	var sum work.Summary
	e.ok("task_summary", map[string]any{"limit": 2}, &sum)
	if sum.Total != 8 || sum.Counts[work.Status("pending")] != 7 || sum.Ready != 7 {
		t.Fatalf("summary = %+v, want 8 tasks, 7 pending and ready", sum)
	}
	if len(sum.Agents) != 1 || sum.Agents[0].Agent != "A" {
		t.Fatalf("agents = %+v, want A", sum.Agents)
	}
	if len(sum.Oldest) > 2 {
		t.Fatalf("oldest_open holds %d entries with limit 2", len(sum.Oldest))
	}
}

func decodeStructured(t *testing.T, res *mcp.CallToolResult, out any) {
	t.Helper()
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
}

// Over HTTP with a named token, the history names the token's agent for what
// it did, without an agent argument (after the merge: task_history).
func TestNamedTokenIsTheActorInHistory(t *testing.T) {
	h := newHTTPEnv(t)
	alice := h.as(aliceToken)
	ws := h.project
	var created tools.TaskResult
	alice.ok("task_create", map[string]any{"workspace": ws, "title": "write the report"}, &created)
	alice.ok("task_claim", map[string]any{"workspace": ws, "lease_seconds": 60}, nil)
	alice.ok("task_heartbeat", map[string]any{"workspace": ws, "id": created.Task.ID}, nil)
	alice.ok("task_complete", map[string]any{"workspace": ws, "id": created.Task.ID, "summary": "done"}, nil)
	var hist tools.HistoryResult
	alice.ok("task_history", map[string]any{"workspace": ws, "id": created.Task.ID}, &hist)
	if len(hist.Events) < 3 {
		t.Fatalf("history = %+v, want created, claimed, completed", hist.Events)
	}
	for _, ev := range hist.Events {
		if ev.Actor != "alice" {
			t.Errorf("event %s by %q, want alice (the token's name)", ev.Event, ev.Actor)
		}
	}
}
