package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	_ "modernc.org/sqlite"
)

// binPath is the server binary built once for the whole package.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mcp-task-orchestrator-it-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "mcp-task-orchestrator")
	build := exec.Command("go", "build", "-race", "-o", binPath, "..")
	if os.Getenv("IT_NO_RACE") != "" {
		build = exec.Command("go", "build", "-o", binPath, "..")
	}
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the server:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// lockedBuffer collects the server's stderr.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// proc is one running server and a client connected to it.
type proc struct {
	t      testing.TB
	c      *client.Client
	cmd    *exec.Cmd
	stderr *lockedBuffer
	stop   func() // over HTTP: stops the server (stdio: closing the client does)
}

type procOpts struct {
	dir      string   // working directory of the server
	env      []string // extra environment
	args     []string
	protocol string // "" = client default (2026-07-28)
	roots    []string
	fast     bool // production flags: no output validation (benchmarks)
	// bin runs another binary instead of the server (the benchmarks' floor),
	// with args only: none of the server's flags.
	bin string
	// globalConfig is written to the server's $XDG_CONFIG_HOME/task-orchestrator/config.json.
	globalConfig string
}

type rootsHandler struct{ uris []string }

func (h rootsHandler) ListRoots(context.Context, mcp.ListRootsRequest) (*mcp.ListRootsResult, error) {
	res := &mcp.ListRootsResult{}
	for _, u := range h.uris {
		res.Roots = append(res.Roots, mcp.Root{URI: u, Name: filepath.Base(u)})
	}
	return res, nil
}

// start launches the server binary and initializes an MCP client against it.
func start(t testing.TB, o procOpts) *proc {
	t.Helper()
	if overHTTP {
		return startOverHTTP(t, o)
	}
	pd := prepare(t, o)
	if err := pd.launch(); err != nil {
		t.Fatal(err)
	}
	return pd.p
}

// startTogether starts n servers with the same options at the same moment:
// each is prepared on the test goroutine, then all are launched at once
// behind one barrier, and their errors are reported when all have returned
// (launch calls no method of t, so it may run off the test goroutine). Over
// HTTP (IT_TRANSPORT=http) they start one after another: that harness waits
// for each server's health check on the test goroutine.
func startTogether(t testing.TB, n int, o procOpts) []*proc {
	t.Helper()
	ps := make([]*proc, n)
	if overHTTP {
		for i := range ps {
			ps[i] = start(t, o)
		}
		return ps
	}
	pds := make([]*pending, n)
	for i := range pds {
		pds[i] = prepare(t, o)
	}
	errs := make([]error, n)
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i, pd := range pds {
		wg.Go(func() {
			<-gate
			errs[i] = pd.launch()
		})
	}
	close(gate)
	wg.Wait()
	first, last := pds[0].started, pds[0].started
	for i, pd := range pds {
		if errs[i] != nil {
			t.Errorf("server %d of %d: %v", i, n, errs[i])
			continue
		}
		first, last = minTime(first, pd.started), maxTime(last, pd.started)
		ps[i] = pd.p
	}
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("started %d server processes together: their starts spread over %v", n, last.Sub(first).Round(time.Microsecond))
	return ps
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// pending is a stdio server that prepare has set up and launch has not yet
// started: its command and its client are built.
type pending struct {
	p       *proc
	c       *client.Client
	init    mcp.InitializeRequest
	started time.Time // set by launch once the process runs
}

// prepare does on the test goroutine all of start that may fail the test
// (its config home, its global config) and builds the command and the
// client; it starts nothing.
func prepare(t testing.TB, o procOpts) *pending {
	t.Helper()
	p := &proc{t: t, stderr: &lockedBuffer{}}
	xdg := t.TempDir()
	if o.globalConfig != "" {
		dir := filepath.Join(xdg, "task-orchestrator")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(o.globalConfig), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := append(os.Environ(), "XDG_CONFIG_HOME="+xdg, "TASK_ORCHESTRATOR_WORKSPACE=")
	env = append(env, o.env...)
	bin, args := binPath, withAllToolsets(o)
	if !o.fast {
		args = append([]string{"--validate-output"}, args...)
	}
	if o.bin != "" {
		bin, args = o.bin, o.args
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = env
	p.cmd.Dir = o.dir
	p.cmd.Stderr = p.stderr
	tr := transport.NewStdioWithOptions(bin, env, args, transport.WithCommandFunc(
		func(context.Context, string, []string, []string) (*exec.Cmd, error) { return p.cmd, nil }))
	var opts []client.ClientOption
	if o.protocol != "" {
		opts = append(opts, client.WithProtocolVersion(o.protocol))
	}
	if o.roots != nil {
		opts = append(opts, client.WithRootsHandler(rootsHandler{o.roots}))
	}
	pd := &pending{p: p, c: client.NewClient(tr, opts...)}
	pd.init.Params.ProtocolVersion = o.protocol
	pd.init.Params.ClientInfo = mcp.Implementation{Name: "integration-test", Version: "1"}
	if o.roots != nil {
		pd.init.Params.Capabilities.Roots = &struct {
			ListChanged bool `json:"listChanged,omitempty"`
		}{}
	}
	t.Cleanup(func() { p.close() })
	return pd
}

// launch starts the prepared server process and initializes its client.
func (pd *pending) launch() error {
	// The transport keeps Start's context for the requests the server sends us
	// (roots/list), so it must outlive this function.
	if err := pd.c.Start(context.Background()); err != nil {
		return fmt.Errorf("starting the server: %w", err)
	}
	pd.started = time.Now()
	pd.p.c = pd.c
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := pd.c.Initialize(ctx, pd.init); err != nil {
		return fmt.Errorf("initialize: %w\nstderr:\n%s", err, pd.p.stderr.String())
	}
	return nil
}

// close ends the session by closing stdin and waits for the server to exit.
func (p *proc) close() {
	if p.c != nil {
		_ = p.c.Close()
		p.c = nil
	}
	if p.stop != nil {
		p.stop()
	}
}

// call invokes a tool and returns its result; a transport error fails the test.
func (p *proc) call(ctx context.Context, name string, args map[string]any) *mcp.CallToolResult {
	p.t.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := p.c.CallTool(ctx, req)
	if err != nil {
		p.t.Fatalf("%s: transport error: %v\nstderr:\n%s", name, err, tail(p.stderr.String(), 4000))
	}
	return res
}

// ok invokes a tool that must succeed and decodes its structured result into out.
func (p *proc) ok(ctx context.Context, name string, args map[string]any, out any) {
	p.t.Helper()
	res := p.call(ctx, name, args)
	if res.IsError {
		p.t.Fatalf("%s(%v) failed: %s", name, args, text(res))
	}
	if out != nil {
		decode(p.t, res, out)
	}
}

// collectProgress records the message of every progress notification the
// server sends from now on; the function it returns reads them so far.
func (p *proc) collectProgress() func() []string {
	var (
		mu   sync.Mutex
		msgs []string
	)
	p.c.OnNotification(func(n mcp.JSONRPCNotification) {
		if n.Method == string(mcp.MethodNotificationProgress) {
			mu.Lock()
			msgs = append(msgs, fmt.Sprint(n.Params.AdditionalFields["message"]))
			mu.Unlock()
		}
	})
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), msgs...)
	}
}

func decode(t testing.TB, res *mcp.CallToolResult, out any) {
	t.Helper()
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
}

func text(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := mcp.AsTextContent(c); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// task is the part of a task the tests read.
type task struct {
	ID        string   `json:"id"`
	Title     string   `json:"title"`
	Status    string   `json:"status"`
	Priority  string   `json:"priority"`
	Assignee  *string  `json:"assignee"`
	DependsOn []string `json:"depends_on"`
	Version   int64    `json:"version"`
}

type taskOut struct {
	Task *task `json:"task"`
}

type listOut struct {
	Tasks      []task `json:"tasks"`
	NextCursor string `json:"next_cursor"`
}

// newProject makes a temporary project folder with a .git marker.
func newProject(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	return real
}

func tasksDB(project string) string {
	return filepath.Join(project, ".task_orchestrator", "databases", "tasks.db")
}

// dumpDB renders every row of every table of a project's SQLite file, read
// directly (read-only) — used to prove that a refused call changed nothing
// (see dumpTables).
func dumpDB(t testing.TB, project string) string {
	t.Helper()
	s, _ := dumpTables(t, project)
	return s
}

// filepathGlob fails when anything matches: refused artifacts must leave no file.
func filepathGlob(root, pattern string) ([]string, error) {
	m, err := filepath.Glob(filepath.Join(root, pattern))
	if err != nil {
		return nil, err
	}
	if len(m) > 0 {
		return m, fmt.Errorf("files were written by refused calls: %v", m)
	}
	return nil, nil
}
