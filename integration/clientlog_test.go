package integration

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
)

// noHTTPLimits turns off the HTTP connection limits, as startOverHTTP does:
// the test's clients make many calls from one address.
const noHTTPLimits = `{"security": {"connection_rate_limit": 0, "blacklist_threshold": 0, "max_connections_per_client": 0}}`

// logMessage is one notifications/message the server sent.
type logMessage struct {
	Level  string         `json:"level"`
	Logger string         `json:"logger"`
	Data   map[string]any `json:"data"`
	at     time.Time
}

// logInbox collects the log messages a client receives.
type logInbox struct {
	mu   sync.Mutex
	msgs []logMessage
}

func collectLogs(c *client.Client) *logInbox {
	in := &logInbox{}
	c.OnNotification(func(n mcp.JSONRPCNotification) {
		if n.Method != "notifications/message" {
			return
		}
		b, _ := json.Marshal(n.Params.AdditionalFields)
		var m logMessage
		_ = json.Unmarshal(b, &m)
		m.at = time.Now()
		in.mu.Lock()
		in.msgs = append(in.msgs, m)
		in.mu.Unlock()
	})
	return in
}

func (in *logInbox) all() []logMessage {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]logMessage(nil), in.msgs...)
}

// waitFor waits up to d for a message with data.event == event (and, if
// taskID is set, data.task_id == taskID).
func (in *logInbox) waitFor(event, taskID string, d time.Duration) (logMessage, bool) {
	deadline := time.Now().Add(d)
	for {
		for _, m := range in.all() {
			if m.Data["event"] == event && (taskID == "" || m.Data["task_id"] == taskID) {
				return m, true
			}
		}
		if time.Now().After(deadline) {
			return logMessage{}, false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func setLevel(t *testing.T, ctx context.Context, c *client.Client, level mcp.LoggingLevel) {
	t.Helper()
	req := mcp.SetLevelRequest{}
	req.Params.Level = level
	if err := c.SetLevel(ctx, req); err != nil {
		t.Fatalf("logging/setLevel %s: %v", level, err)
	}
}

func clientCall(t *testing.T, ctx context.Context, c *client.Client, name string, args map[string]any, out any) *mcp.CallToolResult {
	t.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := c.CallTool(ctx, req)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if out != nil {
		if res.IsError {
			t.Fatalf("%s(%v) failed: %s", name, args, text(res))
		}
		decode(t, res, out)
	}
	return res
}

// claimToExpire creates a task on project and claims it with a 1 s lease.
func claimToExpire(t *testing.T, ctx context.Context, c *client.Client, project, title string) (id string, expires time.Time) {
	t.Helper()
	var created taskOut
	clientCall(t, ctx, c, "task_create", map[string]any{"workspace": project, "title": title}, &created)
	var claimed leasedOut
	clientCall(t, ctx, c, "task_claim", map[string]any{"workspace": project, "agent": "agent-A", "lease_seconds": 1}, &claimed)
	if claimed.Task == nil || claimed.Task.ID != created.Task.ID || claimed.Task.LeaseExpiresAt == nil {
		t.Fatalf("task_claim answered %+v, want %s with a lease", claimed.Task, created.Task.ID)
	}
	return created.Task.ID, *claimed.Task.LeaseExpiresAt
}

// A lease that runs out is a warning for the clients of protocol 2025-11-25
// that use the project: a client at level warning receives it, naming the
// task; a client at level error does not. Over HTTP both clients share one
// server process and one project (and a third client on another project
// hears nothing); over stdio each has a server of its own.
func TestLeaseExpiryIsLoggedToClientsAtTheirLevel(t *testing.T) {
	ctx := ctxT(t)
	const proto = "2025-11-25"
	project := newProject(t)
	roots := []string{"file://" + project} // over HTTP: the listening GET stream that carries background messages
	var warnC, errC, otherC *client.Client
	errProject, otherProject := project, newProject(t)
	if overHTTP {
		root, err := filepath.EvalSymlinks(os.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		h := startHTTPServer(t, procOpts{protocol: proto, globalConfig: noHTTPLimits}, root, "")
		for _, c := range []**client.Client{&warnC, &errC, &otherC} {
			if *c, err = h.connect(t, proto, roots); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = (*c).Close() })
		}
	} else {
		errProject = newProject(t)
		warnC = start(t, procOpts{dir: project, protocol: proto, roots: roots}).c
		errC = start(t, procOpts{dir: errProject, protocol: proto, roots: []string{"file://" + errProject}}).c
	}
	warnLogs, errLogs := collectLogs(warnC), collectLogs(errC)
	setLevel(t, ctx, warnC, mcp.LoggingLevelWarning)
	setLevel(t, ctx, errC, mcp.LoggingLevelError)
	var otherLogs *logInbox
	if otherC != nil {
		otherLogs = collectLogs(otherC)
		setLevel(t, ctx, otherC, mcp.LoggingLevelDebug)
		clientCall(t, ctx, otherC, "task_list", map[string]any{"workspace": otherProject}, &struct{}{})
	}

	id, expires := claimToExpire(t, ctx, warnC, project, "left to expire")
	errID := id
	if errProject != project {
		errID, _ = claimToExpire(t, ctx, errC, errProject, "left to expire too")
	} else {
		clientCall(t, ctx, errC, "task_list", map[string]any{"workspace": project}, &struct{}{}) // errC uses the project too
	}

	m, ok := warnLogs.waitFor("lease_expired", id, 15*time.Second)
	if !ok {
		t.Fatalf("no lease_expired log message for %s within 15 s; received %+v", id, warnLogs.all())
	}
	t.Logf("received %v after the lease ran out: %+v", m.at.Sub(expires).Round(time.Millisecond), m)
	if m.Level != "warning" || m.Logger != "task-orchestrator" || m.Data["agent"] != "agent-A" {
		t.Errorf("log message = %+v, want level warning, logger task-orchestrator, agent agent-A", m)
	}
	msg, _ := m.Data["message"].(string)
	if want := `the lease of agent "agent-A" on task ` + id + " expired at "; !strings.HasPrefix(msg, want) ||
		!strings.HasSuffix(msg, " before it finished; the task can be claimed again") || strings.Contains(msg, project) {
		t.Errorf("message %q: want %q…, ending in the task being claimable, and no path", msg, want)
	}

	// The error-level client's project has recorded its expiry by now (its
	// history says so): whatever it was sent, nothing passed its level.
	deadline := time.Now().Add(15 * time.Second)
	for !hasHistory(t, ctx, errC, errProject, errID, "lease_expired") {
		if time.Now().After(deadline) {
			t.Fatalf("task %s: no lease_expired in its history after 15 s", errID)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	if got := errLogs.all(); len(got) != 0 {
		t.Errorf("the client at level error received %+v, want nothing", got)
	}
	if otherLogs != nil {
		if got := otherLogs.all(); len(got) != 0 {
			t.Errorf("a client of another project received %+v, want nothing", got)
		}
	}
}

func hasHistory(t *testing.T, ctx context.Context, c *client.Client, project, id, event string) bool {
	t.Helper()
	var out struct {
		Events []historyEvent `json:"events"`
	}
	clientCall(t, ctx, c, "task_history", map[string]any{"workspace": project, "id": id, "limit": 200}, &out)
	for _, e := range out.Events {
		if e.Event == event {
			return true
		}
	}
	return false
}

// On protocol 2026-07-28 the level is the request's own: a vector call whose
// backend does not answer (CHROMA_URL points at a closed port) gets a
// warning during the call when it asked for warnings, and none when it
// asked for no log level.
func TestUnavailableBackendIsLoggedDuringTheRequest(t *testing.T) {
	ctx := ctxT(t)
	project := newProject(t)
	env := []string{"CHROMA_URL=http://127.0.0.1:" + strconv.Itoa(freePort(t))}
	p := start(t, procOpts{dir: project, env: env}) // the client's default: 2026-07-28
	logs := collectLogs(p.c)

	args := map[string]any{"workspace": project}
	if res := p.call(ctx, "vector_collections", args); !res.IsError {
		t.Fatalf("vector_collections succeeded against a closed port: %s", text(res))
	}
	time.Sleep(300 * time.Millisecond)
	if got := logs.all(); len(got) != 0 {
		t.Fatalf("a request without a log level received %+v, want nothing", got)
	}

	setLevel(t, ctx, p.c, mcp.LoggingLevelWarning) // 2026-07-28: sent as _meta on every request from now on
	res := p.call(ctx, "vector_collections", args)
	if !res.IsError {
		t.Fatalf("vector_collections succeeded against a closed port: %s", text(res))
	}
	m, ok := logs.waitFor("backend_unavailable", "", 5*time.Second)
	if !ok {
		t.Fatalf("no backend_unavailable log message; received %+v; the call answered %s\n%s", logs.all(), text(res), p.stderr.String())
	}
	t.Logf("log message: %+v", m)
	if m.Level != "warning" || m.Logger != "task-orchestrator" || m.Data["tool"] != "vector_collections" || m.Data["message"] != text(res) {
		t.Errorf("log message = %+v, want level warning, logger task-orchestrator, tool vector_collections and the call's error %q", m, text(res))
	}
}

// A backend whose circuit breaker opens is a warning for every session of
// protocol 2025-11-25 that uses the project, not only for the caller that
// tripped it: over HTTP a second client that only listed tasks hears it too.
func TestOpenCircuitBreakerIsLoggedToTheProjectsSessions(t *testing.T) {
	ctx := ctxT(t)
	const proto = "2025-11-25"
	project := newProject(t)
	roots := []string{"file://" + project}
	o := procOpts{dir: project, protocol: proto, roots: roots,
		env:          []string{"CHROMA_URL=http://127.0.0.1:" + strconv.Itoa(freePort(t))},
		globalConfig: `{"server": {"circuit_breaker_threshold": 2, "circuit_breaker_cooldown": 30}}`}
	var caller, bystander *client.Client
	if overHTTP {
		root, err := filepath.EvalSymlinks(os.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		o.globalConfig = `{"server": {"circuit_breaker_threshold": 2, "circuit_breaker_cooldown": 30}, ` + noHTTPLimits[1:]
		h := startHTTPServer(t, o, root, "")
		for _, c := range []**client.Client{&caller, &bystander} {
			if *c, err = h.connect(t, proto, roots); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = (*c).Close() })
		}
	} else {
		caller = start(t, o).c
	}
	callerLogs := collectLogs(caller) // at the default level: warning
	var bystanderLogs *logInbox
	if bystander != nil {
		bystanderLogs = collectLogs(bystander)
		clientCall(t, ctx, bystander, "task_list", map[string]any{"workspace": project}, &struct{}{})
	}
	for range 3 {
		if res := clientCall(t, ctx, caller, "vector_collections", map[string]any{"workspace": project}, nil); !res.IsError {
			t.Fatalf("vector_collections succeeded against a closed port: %s", text(res))
		}
	}
	for who, logs := range map[string]*logInbox{"the caller": callerLogs, "the other session": bystanderLogs} {
		if logs == nil {
			continue
		}
		m, ok := logs.waitFor("backend_down", "", 5*time.Second)
		for ok && m.Data["tool"] != nil { // the call's own backend_down; look for the project's
			ok = false
			for _, x := range logs.all() {
				if x.Data["event"] == "backend_down" && x.Data["tool"] == nil {
					m, ok = x, true
				}
			}
		}
		if !ok {
			t.Fatalf("%s received no backend_down from the project; received %+v", who, logs.all())
		}
		t.Logf("%s: %+v", who, m.Data)
		msg, _ := m.Data["message"].(string)
		if m.Level != "warning" || m.Data["backend"] != "vector" || !strings.HasPrefix(msg, "the vector backend (pool chroma) is down: ") || strings.Contains(msg, project) {
			t.Errorf("%s: message %+v, want a warning about the vector backend naming no path", who, m)
		}
	}
}
