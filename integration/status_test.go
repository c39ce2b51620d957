package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
)

// startStatusServer runs the binary with --http (production flags, a token),
// serving projects under allowRoot, with globalConfig as its global config file.
func startStatusServer(t *testing.T, allowRoot, globalConfig string) *httpServer {
	t.Helper()
	return startHTTPServer(t, procOpts{globalConfig: globalConfig, fast: true, env: []string{"CHROMA_URL=", "NEO4J_URI="}},
		allowRoot, "status-test-token-SECRET-0d4")
}

// statusClient opens an MCP session with the server.
func statusClient(t *testing.T, h *httpServer) *client.Client {
	t.Helper()
	c, err := h.connect(t, "", nil)
	if err != nil {
		t.Fatalf("initialize: %v\n%s", err, h.stderr.String())
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// tmuxSession runs a command in a detached tmux session of the given size, on
// a tmux server of its own, and returns a function that captures the pane.
func tmuxSession(t *testing.T, cols, rows int, env []string, argv ...string) (capture func() string, sendKeys func(...string), alive func() bool) {
	t.Helper()
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Fatal("tmux is not installed: integration/test-all.sh installs it (apt-get install tmux)")
	}
	sock := fmt.Sprintf("mto-status-%d-%d", os.Getpid(), time.Now().UnixNano())
	run := func(args ...string) (string, error) {
		cmd := exec.Command(tmux, append([]string{"-L", sock, "-f", "/dev/null"}, args...)...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	if out, err := run("new-session", "-d", "-s", "st", "-x", strconv.Itoa(cols), "-y", strconv.Itoa(rows),
		strings.Join(quoted, " ")); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = run("kill-server") })
	capture = func() string {
		out, err := run("capture-pane", "-p", "-J", "-t", "st")
		if err != nil {
			return ""
		}
		return out
	}
	sendKeys = func(keys ...string) { _, _ = run(append([]string{"send-keys", "-t", "st"}, keys...)...) }
	alive = func() bool { _, err := run("has-session", "-t", "st"); return err == nil }
	return capture, sendKeys, alive
}

var (
	barRe    = regexp.MustCompile(`\[[#\-.+]{10}\]`)
	writerRe = regexp.MustCompile(`(?m)^sqlite\.writer\s+(\S+)\s+\[[#\-.+]+\]\s+(\d+)/(\d+)/(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s`)
	clockRe  = regexp.MustCompile(`status  (\d\d:\d\d:\d\d)`)
)

// `status --watch` in a real terminal (tmux, 80 columns): the table has its
// header and bars, no line passes 80 columns, and it keeps redrawing with
// fresh figures while 12 clients hammer the server; Ctrl-C ends it.
func TestStatusWatchIn80ColumnsUnderLoad(t *testing.T) {
	allowed := t.TempDir()
	allowed, _ = filepath.EvalSymlinks(allowed)
	project := filepath.Join(allowed, "proj")
	if err := os.MkdirAll(filepath.Join(project, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	srv := startStatusServer(t, allowed, jsonConfig(t, map[string]any{
		"security":       map[string]any{"max_connections_per_client": 64, "connection_rate_limit": 1000000},
		"database_pools": map[string]any{"operational": map[string]any{"max_connections": 2}},
	}))
	c := statusClient(t, srv)
	ctx := ctxT(t)
	req := mcp.CallToolRequest{}
	req.Params.Name, req.Params.Arguments = "task_create", map[string]any{"workspace": project, "title": "opens the pools"}
	if res, err := c.CallTool(ctx, req); err != nil || res.IsError {
		t.Fatalf("task_create: %v %v", err, res)
	}

	capture, sendKeys, alive := tmuxSession(t, 80, 30, nil, binPath, "status", "--http", srv.base,
		"--auth-token-file", srv.tokenFile, "--watch", "--interval", "300ms")

	// Load: 12 clients creating and listing tasks until the test is done.
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var calls, failures atomic.Int64
	for i := range 12 {
		lc := statusClient(t, srv)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; loadCtx.Err() == nil; n++ {
				r := mcp.CallToolRequest{}
				if n%2 == 0 {
					r.Params.Name, r.Params.Arguments = "task_create", map[string]any{"workspace": project, "title": fmt.Sprintf("load %d-%d", i, n)}
				} else {
					r.Params.Name, r.Params.Arguments = "task_list", map[string]any{"workspace": project, "limit": 50}
				}
				res, err := lc.CallTool(loadCtx, r)
				if loadCtx.Err() != nil {
					return
				}
				calls.Add(1)
				if err != nil || res.IsError {
					failures.Add(1)
				}
			}
		}()
	}
	defer func() { stopLoad(); wg.Wait() }()

	// Watch the screen while the load runs: frames must change (clock and
	// acquires move on) and each must be a well-formed table.
	var frames []string
	clocks := map[string]bool{}
	var acquires []int
	deadline := time.Now().Add(60 * time.Second)
	for len(clocks) < 4 && time.Now().Before(deadline) {
		time.Sleep(350 * time.Millisecond)
		screen := capture()
		m := writerRe.FindStringSubmatch(screen)
		cm := clockRe.FindStringSubmatch(screen)
		if m == nil || cm == nil {
			continue
		}
		frames = append(frames, screen)
		clocks[cm[1]] = true
		n, _ := strconv.Atoi(m[7])
		acquires = append(acquires, n)
	}
	stopLoad()
	wg.Wait()
	if len(clocks) < 4 {
		t.Fatalf("status --watch did not keep redrawing (%d distinct frames in 60 s); last screen:\n%s", len(clocks), capture())
	}
	if acquires[len(acquires)-1] <= acquires[0] {
		t.Errorf("the writer's acquires did not grow across frames under load: %v", acquires)
	}
	if calls.Load() == 0 {
		t.Fatalf("the load made no calls")
	}
	for i, screen := range frames {
		for _, want := range []string{"mcp-task-orchestrator status", "POOL", "STATE", "IN/IDLE/MAX", "sqlite.readers"} {
			if !strings.Contains(screen, want) {
				t.Errorf("frame %d lacks %q:\n%s", i, want, screen)
			}
		}
		if !barRe.MatchString(screen) {
			t.Errorf("frame %d has no usage bar:\n%s", i, screen)
		}
		if strings.Contains(screen, "! ") {
			t.Errorf("frame %d shows an error:\n%s", i, screen)
		}
		for _, line := range strings.Split(screen, "\n") {
			if n := utf8.RuneCountInString(line); n > 80 {
				t.Errorf("frame %d: a line of %d columns: %q", i, n, line)
			}
		}
		if strings.Contains(screen, srv.token) {
			t.Errorf("the token is on screen")
		}
	}
	t.Logf("%d frames, %d load calls (%d failed); writer acquires %v; last frame:\n%s",
		len(frames), calls.Load(), failures.Load(), acquires, frames[len(frames)-1])

	sendKeys("C-c")
	waitFor(t, 10*time.Second, func() bool { return !alive() }, "status --watch to stop on Ctrl-C")
}

// status --workspace reads a project's files (tasks by status, the database
// size) without a server; --json gives the same snapshot to scripts; a server
// without the token is refused with a hint.
func TestStatusOfAProjectAndItsErrors(t *testing.T) {
	project := newProject(t)
	p := start(t, procOpts{dir: project})
	ctx := ctxT(t)
	var a, b taskOut
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "first"}, &a)
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "second", "depends_on": []string{a.Task.ID}}, &b)
	p.ok(ctx, "task_claim", map[string]any{"workspace": project, "agent": "ada"}, nil)
	p.close()

	out, stderr, code := runCLI(t, project, nil, "status", "--workspace", project, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, stderr)
	}
	var snap struct {
		Workspaces []struct {
			Root string `json:"root"`
			DB   struct {
				Tasks    int            `json:"tasks"`
				ByStatus map[string]int `json:"by_status"`
				Ready    int            `json:"ready"`
			} `json:"db"`
			Pools []struct {
				Name  string `json:"name"`
				State string `json:"state"`
				Max   int    `json:"max"`
			} `json:"pools"`
		} `json:"workspaces"`
	}
	if err := json.Unmarshal([]byte(out), &snap); err != nil || len(snap.Workspaces) != 1 {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	ws := snap.Workspaces[0]
	if ws.Root != project || ws.DB.Tasks != 2 || ws.DB.ByStatus["in_progress"] != 1 || ws.DB.ByStatus["pending"] != 1 || ws.DB.Ready != 0 {
		t.Errorf("status of the project: %+v", ws)
	}
	if len(ws.Pools) != 4 || ws.Pools[1].Name != "sqlite.readers" || ws.Pools[1].Max != 8 {
		t.Errorf("configured pools: %+v", ws.Pools)
	}

	text, _, code := runCLI(t, project, nil, "status", "--workspace", project)
	if code != 0 || !strings.Contains(text, "2 tasks: 1 pending (0 ready), 1 in progress") {
		t.Errorf("status text (exit %d):\n%s", code, text)
	}
	for _, line := range strings.Split(text, "\n") {
		if utf8.RuneCountInString(line) > 80 {
			t.Errorf("a line over 80 columns: %q", line)
		}
	}

	allowed := t.TempDir()
	srv := startStatusServer(t, allowed, "{}")
	_, stderr, code = runCLI(t, project, nil, "status", "--http", srv.base)
	if code != 1 || !strings.Contains(stderr, "--auth-token-file") {
		t.Errorf("status without the token: exit %d, %s", code, stderr)
	}
	_, stderr, code = runCLI(t, project, nil, "status", "--http", "not a url")
	if code != 1 || !strings.Contains(stderr, "http://127.0.0.1:8765") {
		t.Errorf("status with a bad --http: exit %d, %s", code, stderr)
	}
}
