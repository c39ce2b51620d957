package board_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/board"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/testclock"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/project"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

var discard = slog.New(slog.DiscardHandler)

type env struct {
	t     testing.TB
	reg   *project.Registry
	root  workspace.Root
	board *board.Board
	srv   *httptest.Server
	clock *testclock.Clock
	base  string
}

func newRegistry(t testing.TB) *project.Registry {
	r := project.NewRegistry(project.RegistryConfig{Logger: discard, Server: workspace.Defaults()})
	t.Cleanup(func() {
		if err := r.Close(context.Background()); err != nil {
			t.Errorf("Registry.Close: %v", err)
		}
	})
	return r
}

// newEnv serves a board under /board for a new project, on a real SQLite file.
func newEnv(t testing.TB, allowEdits bool) *env {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, reg: newRegistry(t), root: workspace.Root{Path: dir, Source: "test"},
		clock: testclock.New(time.Now()), base: "/board"}
	e.board = board.New(board.Options{Registry: e.reg, Base: e.base, AllowEdits: allowEdits, Logger: discard,
		Version: "test", Now: e.clock.Now})
	mux := http.NewServeMux()
	mux.Handle("/board/", e.board.Handler())
	e.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		e.board.Close()
		e.srv.Close()
	})
	return e
}

// store returns the project's task store (the registry keeps it open).
func (e *env) store() work.Store {
	e.t.Helper()
	p, release, err := e.reg.Acquire(context.Background(), e.root)
	if err != nil {
		e.t.Fatal(err)
	}
	defer release()
	s, err := p.Tasks(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func (e *env) client() *http.Client { return &http.Client{CheckRedirect: noRedirect} }

// link asks the board for a login link and returns its URL.
func (e *env) link() string {
	e.t.Helper()
	l, err := e.board.Link(e.root, board.ActorBoard)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.srv.URL + l
}

// login opens a session and returns its cookie.
func (e *env) login() *http.Cookie {
	e.t.Helper()
	resp, err := e.client().Get(e.link())
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("login: %s", resp.Status)
	}
	for _, c := range resp.Cookies() {
		if c.Name == board.CookieName {
			return c
		}
	}
	e.t.Fatal("login set no session cookie")
	return nil
}

func (e *env) do(method, path string, cookie *http.Cookie, body string, header map[string]string) (*http.Response, string) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+e.base+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := e.client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, string(data)
}

func (e *env) state(cookie *http.Cookie) board.State {
	e.t.Helper()
	resp, body := e.do("GET", "/api/state", cookie, "", nil)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("api/state: %s: %s", resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		e.t.Fatalf("api/state Content-Type = %q", ct)
	}
	var st board.State
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		e.t.Fatal(err)
	}
	return st
}

func checkHeaders(t *testing.T, resp *http.Response, cache string) {
	t.Helper()
	want := map[string]string{
		"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           cache,
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s %s: %s = %q, want %q", resp.Request.Method, resp.Request.URL.Path, k, got, v)
		}
	}
}

const (
	msgUsed  = "This board link was already used or has expired: run `mcp-task-orchestrator board` again (or ask the HTTP server for a new link).\n"
	msgLogin = "This board needs a login link: run `mcp-task-orchestrator board` (or ask the HTTP server for a board link) and open the link it prints.\n"
)

func TestLoginWorksOnceAndSetsAStrictCookie(t *testing.T) {
	e := newEnv(t, false)
	link := e.link()
	if !strings.HasPrefix(link, e.srv.URL+"/board/login?code=") {
		t.Fatalf("link = %q", link)
	}
	resp, err := e.client().Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/board/" {
		t.Fatalf("login: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	checkHeaders(t, resp, "no-store")
	raw := resp.Header.Get("Set-Cookie")
	for _, part := range []string{board.CookieName + "=", "Path=/board/", "HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(raw, part) {
			t.Errorf("Set-Cookie %q lacks %q", raw, part)
		}
	}
	if strings.Contains(raw, "Secure") {
		t.Errorf("Set-Cookie %q is Secure over plain HTTP", raw)
	}

	// The same link again, an unknown code, an expired one: refused.
	expired := e.link()
	e.clock.Advance(board.LinkTTL)
	for _, l := range []string{link, e.srv.URL + "/board/login?code=nope", expired} {
		resp, err := e.client().Get(l)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || string(body) != msgUsed {
			t.Errorf("GET %s: %s %q", l, resp.Status, body)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
			t.Errorf("Content-Type = %q", ct)
		}
		checkHeaders(t, resp, "no-store")
	}
}

func TestEverythingButAssetsNeedsTheCookie(t *testing.T) {
	e := newEnv(t, false)
	for _, p := range []string{"/", "/api/state", "/api/events", "/api/artifacts/tsk_x/a.md", "/api/actions", "/nothing"} {
		resp, body := e.do("GET", p, nil, "", nil)
		if resp.StatusCode != http.StatusUnauthorized || body != msgLogin {
			t.Errorf("GET %s without a cookie: %s %q", p, resp.Status, body)
		}
		checkHeaders(t, resp, "no-store")
	}
	resp, body := e.do("GET", "/api/state", &http.Cookie{Name: board.CookieName, Value: "forged"}, "", nil)
	if resp.StatusCode != http.StatusUnauthorized || body != msgLogin {
		t.Errorf("a forged cookie: %s %q", resp.Status, body)
	}
	resp, body = e.do("GET", "/assets/board.css", nil, "", nil)
	if resp.StatusCode != http.StatusOK || body == "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") {
		t.Errorf("asset without a cookie: %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	checkHeaders(t, resp, "max-age=3600")
	resp, _ = e.do("GET", "/assets/board.js", nil, "", nil)
	if ct := resp.Header.Get("Content-Type"); ct != "text/javascript; charset=utf-8" {
		t.Errorf("board.js Content-Type = %q", ct)
	}

	c := e.login()
	resp, body = e.do("GET", "/", c, "", nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("the page: %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	checkHeaders(t, resp, "no-store")
	if strings.Contains(body, e.root.Path) {
		t.Error("the page embeds data (the project root)")
	}
	// A session idle for 12 h is over.
	e.clock.Advance(board.SessionIdle)
	if resp, body := e.do("GET", "/api/state", c, "", nil); resp.StatusCode != http.StatusUnauthorized || body != msgLogin {
		t.Errorf("after 12 h idle: %s %q", resp.Status, body)
	}
}

// fixture is a project holding a task of every status, a chain of
// dependencies a → b → c among open tasks, an agent's task and a completion
// with an artifact.
type fixture struct{ a, b, c, d, done, failed, cancelled work.Task }

const hostile = `</script><script>alert("x")</script><img src=x onerror=alert(1)>`

func newFixture(t *testing.T, e *env) fixture {
	t.Helper()
	ctx := context.Background()
	s := e.store()
	var f fixture
	create := func(nt sqlite.NewTask) work.Task {
		t.Helper()
		nt.Actor = "lead"
		task, err := s.Create(ctx, nt)
		if err != nil {
			t.Fatal(err)
		}
		return task
	}
	f.a = create(sqlite.NewTask{Title: hostile, Priority: "low", Labels: []string{"ui"}})
	f.b = create(sqlite.NewTask{Title: "b", DependsOn: []string{f.a.ID}})
	f.c = create(sqlite.NewTask{Title: "c", DependsOn: []string{f.b.ID}, Priority: "critical"})
	f.d = create(sqlite.NewTask{Title: "d", Priority: "high"})
	f.done = create(sqlite.NewTask{Title: "done"})
	f.failed = create(sqlite.NewTask{Title: "failed"})
	f.cancelled = create(sqlite.NewTask{Title: "cancelled"})
	set := func(id, status, agent string) {
		t.Helper()
		if _, err := s.Update(ctx, id, 0, sqlite.Patch{Status: &status, Agent: agent}); err != nil {
			t.Fatal(err)
		}
	}
	set(f.c.ID, "blocked", "")
	set(f.d.ID, "in_progress", "bot")
	set(f.cancelled.ID, "cancelled", "")
	set(f.done.ID, "in_progress", "bot")
	p, release, err := e.reg.Acquire(ctx, e.root)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	files := workspace.ArtifactFiles{Layout: p.Layout(), MaxBytes: 1 << 20}
	if _, _, err := work.CompleteWithArtifact(ctx, s, files, f.done.ID, sqlite.Completion{Summary: "all done", Agent: "bot"},
		&work.ArtifactInput{Name: "report.md", Content: []byte("# report\n")}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Complete(ctx, f.failed.ID, sqlite.Completion{Summary: "broke", Outcome: "failed", Agent: "bot"}); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestStateShowsTheProject(t *testing.T) {
	e := newEnv(t, false)
	f := newFixture(t, e)
	c := e.login()
	resp, body := e.do("GET", "/api/state", c, "", nil)
	checkHeaders(t, resp, "no-store")
	if strings.Contains(body, "null]") || strings.Contains(body, `":null,"edges`) {
		t.Errorf("a list is null: %s", body)
	}
	st := e.state(c)

	if st.Project.Root != e.root.Path || st.Project.Name != filepath.Base(e.root.Path) || st.Actor != board.ActorBoard ||
		st.AllowEdits || st.CSRF != "" || st.Version != "test" {
		t.Errorf("header = %+v %q %v %q %q", st.Project, st.Actor, st.AllowEdits, st.CSRF, st.Version)
	}
	want := map[string]int{"pending": 2, "in_progress": 1, "blocked": 1, "completed": 1, "failed": 1, "cancelled": 1}
	for k, v := range want {
		if st.Counts[k] != v {
			t.Errorf("counts[%s] = %d, want %d", k, st.Counts[k], v)
		}
	}
	var order []string
	for _, tv := range st.Tasks {
		order = append(order, tv.ID)
	}
	wantOrder := []string{f.c.ID, f.d.ID, f.b.ID, f.done.ID, f.failed.ID, f.cancelled.ID, f.a.ID}
	if !slices.Equal(order, wantOrder) {
		t.Errorf("task order = %v, want %v (priority, then created)", order, wantOrder)
	}
	if tv := st.Tasks[len(st.Tasks)-1]; tv.Title != hostile || !slices.Equal(tv.Labels, []string{"ui"}) || tv.DependsOn == nil {
		t.Errorf("task a = %+v", tv)
	}
	if !strings.Contains(body, `\u003c/script\u003e`) {
		t.Errorf("the hostile title is not a plain escaped JSON string in %s", body)
	}

	if !slices.Equal(st.Graph.Nodes, []string{f.c.ID, f.d.ID, f.b.ID, f.a.ID}) {
		t.Errorf("graph nodes = %v", st.Graph.Nodes)
	}
	wantEdges := []board.Edge{{From: f.b.ID, To: f.c.ID}, {From: f.a.ID, To: f.b.ID}}
	if !slices.Equal(st.Graph.Edges, wantEdges) {
		t.Errorf("graph edges = %v, want %v", st.Graph.Edges, wantEdges)
	}
	if !slices.Equal(st.Graph.CriticalPath, []string{f.a.ID, f.b.ID, f.c.ID}) {
		t.Errorf("critical path = %v", st.Graph.CriticalPath)
	}

	if len(st.Agents) != 1 || st.Agents[0].Agent != "bot" || len(st.Agents[0].Tasks) != 1 ||
		st.Agents[0].Tasks[0].ID != f.d.ID || st.Agents[0].Tasks[0].LeaseExpiresAt == nil || st.Agents[0].Tasks[0].Expired {
		t.Errorf("agents = %+v", st.Agents)
	}
	if len(st.Completions) != 1 {
		t.Fatalf("completions = %+v", st.Completions)
	}
	cv := st.Completions[0]
	if cv.ID != f.done.ID || cv.Summary == nil || *cv.Summary != "all done" || cv.Assignee == nil || *cv.Assignee != "bot" ||
		len(cv.Artifacts) != 1 || cv.Artifacts[0].Name != "report.md" || cv.Artifacts[0].Size != 9 ||
		cv.Artifacts[0].URL != "api/artifacts/"+f.done.ID+"/report.md" {
		t.Errorf("completion = %+v", cv)
	}
	if len(st.Pools) == 0 || st.Pools[0].Backend == "" || st.Pools[0].Max == 0 {
		t.Errorf("pools = %+v", st.Pools)
	}
	if len(st.Mirrors) == 0 {
		t.Errorf("mirrors = %+v", st.Mirrors)
	}
	if len(st.History) == 0 || st.History[0].TaskID != f.failed.ID || st.History[0].Event != work.EventFailed ||
		st.History[0].Actor != "bot" || st.History[0].Title != "failed" || st.History[0].Detail != "status: pending → failed" {
		t.Errorf("history[0] = %+v", st.History)
	}
	if last := st.History[len(st.History)-1]; last.Event != work.EventCreated || last.TaskID != f.a.ID || last.Detail != "" {
		t.Errorf("the oldest event = %+v", last)
	}

	// The artifact, as an attachment.
	resp, body = e.do("GET", "/"+cv.Artifacts[0].URL, c, "", nil)
	if resp.StatusCode != http.StatusOK || body != "# report\n" || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("artifact: %s %q %v", resp.Status, body, resp.Header)
	}
	checkHeaders(t, resp, "no-store")
	resp, body = e.do("GET", "/api/artifacts/"+f.done.ID+"/other.md", c, "", nil)
	if want := "Task " + f.done.ID + " has no artifact \"other.md\": use the links of the completions list.\n"; resp.StatusCode != http.StatusNotFound || body != want {
		t.Errorf("a missing artifact: %s %q", resp.Status, body)
	}
}

// readEvent reads the next server-sent event (its event and data lines).
func readEvent(t *testing.T, rd *bufio.Reader) (event, data string) {
	t.Helper()
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("the stream ended: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "" && event != "":
			return event, data
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		}
	}
}

// A change written by another registry (another process, in production) on
// the same SQLite file reaches an open stream within 2 s; Close ends it.
func TestEventsCarryAnotherProcesssChange(t *testing.T) {
	e := newEnv(t, false)
	c := e.login()
	req, err := http.NewRequest("GET", e.srv.URL+"/board/api/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(c)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("api/events: %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	rd := bufio.NewReader(resp.Body)
	if line, err := rd.ReadString('\n'); err != nil || line != ": ok\n" {
		t.Fatalf("first line = %q, %v", line, err)
	}

	other := newRegistry(t)
	p, release, err := other.Acquire(context.Background(), e.root)
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.Tasks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	task, err := s.Create(context.Background(), sqlite.NewTask{Title: "from another process"})
	release()
	if err != nil {
		t.Fatal(err)
	}
	written := time.Now()
	got := make(chan string, 1)
	go func() {
		ev, data := readEvent(t, rd)
		got <- ev + " " + data
	}()
	select {
	case v := <-got:
		if want := `change {"ids":["` + task.ID + `"]}`; v != want {
			t.Fatalf("event = %q, want %q", v, want)
		}
		t.Logf("the change arrived %v after the write", time.Since(written).Round(time.Millisecond))
	case <-time.After(2 * time.Second):
		t.Fatal("no change event within 2 s")
	}

	e.board.Close()
	if _, err := io.ReadAll(rd); err != nil {
		t.Fatalf("the stream did not end cleanly: %v", err)
	}
}

// At the root of a TLS server the cookie is scoped to "/" and Secure.
func TestCookieAtTheRootOverTLS(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	root := workspace.Root{Path: dir, Source: "test"}
	b := board.New(board.Options{Registry: newRegistry(t), Logger: discard})
	srv := httptest.NewTLSServer(b.Handler())
	defer srv.Close()
	defer b.Close()
	link, err := b.Link(root, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(link, "/login?code=") {
		t.Fatalf("link = %q", link)
	}
	cl := srv.Client()
	cl.CheckRedirect = noRedirect
	resp, err := cl.Get(srv.URL + link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	raw := resp.Header.Get("Set-Cookie")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("login: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	for _, part := range []string{"Path=/;", "Secure", "HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(raw+";", part) {
			t.Errorf("Set-Cookie %q lacks %q", raw, part)
		}
	}
	req, _ := http.NewRequest("GET", srv.URL+"/api/state", nil)
	req.AddCookie(resp.Cookies()[0])
	resp, err = cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var st board.State
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || st.Actor != "alice" || st.Project.Root != dir || len(st.Tasks) != 0 || st.Tasks == nil {
		t.Fatalf("state: %v %+v", err, st)
	}
	if _, err := b.Link(root, " "); err == nil {
		t.Error("a link without an actor was handed out")
	}
}

// A stream ticks; when its project is closed (evicted as least recently
// used) and opened anew, the next tick ends the stream, and a new stream
// watches the new project.
func TestEventsTickAndEndWhenTheProjectIsEvicted(t *testing.T) {
	defer board.SetTick(50 * time.Millisecond)()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	reg := project.NewRegistry(project.RegistryConfig{Logger: discard, Server: workspace.Defaults(), MaxWorkspaces: 1})
	defer reg.Close(context.Background())
	root := workspace.Root{Path: filepath.Join(dir, "a"), Source: "test"}
	other := workspace.Root{Path: filepath.Join(dir, "b"), Source: "test"}
	for _, r := range []workspace.Root{root, other} {
		if err := os.Mkdir(r.Path, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	b := board.New(board.Options{Registry: reg, Logger: discard})
	srv := httptest.NewServer(b.Handler())
	defer srv.Close()
	defer b.Close()
	link, err := b.Link(root, board.ActorBoard)
	if err != nil {
		t.Fatal(err)
	}
	cl := &http.Client{CheckRedirect: noRedirect}
	resp, err := cl.Get(srv.URL + link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookie := resp.Cookies()[0]
	stream := func() (*bufio.Reader, func()) {
		req, _ := http.NewRequest("GET", srv.URL+"/api/events", nil)
		req.AddCookie(cookie)
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		rd := bufio.NewReader(resp.Body)
		if line, err := rd.ReadString('\n'); err != nil || line != ": ok\n" {
			t.Fatalf("first line = %q, %v", line, err)
		}
		return rd, func() { resp.Body.Close() }
	}
	rd, stop := stream()
	defer stop()
	if ev, data := readEvent(t, rd); ev != "tick" || data != "{}" {
		t.Fatalf("event %q %q, want a tick", ev, data)
	}
	// Another project opened: the registry closes this one (the stream holds no lease).
	_, release, err := reg.Acquire(context.Background(), other)
	if err != nil {
		t.Fatal(err)
	}
	release()
	ended := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(rd)
		ended <- err
	}()
	select {
	case err := <-ended:
		if err != nil {
			t.Fatalf("the stream did not end cleanly: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the stream outlived its project")
	}
	// The browser reconnects: the new stream hears the reopened project's changes.
	rd2, stop2 := stream()
	defer stop2()
	p, release, err := reg.Acquire(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.Tasks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	task, err := s.Create(context.Background(), sqlite.NewTask{Title: "after the reopening"})
	release()
	if err != nil {
		t.Fatal(err)
	}
	for {
		ev, data := readEvent(t, rd2)
		if ev == "change" {
			if want := `{"ids":["` + task.ID + `"]}`; data != want {
				t.Fatalf("change %s, want %s", data, want)
			}
			break
		}
	}
}
