package integration

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The board tests drive a real browser: Debian's chromium, installed by
// integration/test-all.sh, which exports its path.
func chromiumPath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("TASK_ORCHESTRATOR_TEST_CHROMIUM"); p != "" {
		return p
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("no chromium for the board tests: run them with `bash integration/test-all.sh`, which installs Debian's chromium, or set TASK_ORCHESTRATOR_TEST_CHROMIUM")
	}
	return p
}

// browser is a headless chromium tab; console errors and exceptions are kept.
type browser struct {
	ctx      context.Context
	problems *lockedBuffer
}

func newBrowser(t testing.TB) *browser {
	t.Helper()
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{ctx: ctx, problems: &lockedBuffer{}}
	// The first run starts the browser; it must have no timeout of its own.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	err := chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			fmt.Fprintf(b.problems, "exception: %s\n", (&chromedp.ExceptionError{ExceptionDetails: e.ExceptionDetails}).Error())
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				fmt.Fprintf(b.problems, "console %s: %s\n", e.Type, strings.Join(parts, " "))
			}
		}
	})
	if err != nil {
		t.Fatalf("listening to the page: %v", err)
	}
	return b
}

// run runs the steps in the tab within timeout.
func (b *browser) run(t testing.TB, timeout time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %v\nproblems seen by the page:\n%s", err, b.problems.String())
	}
}

// evalJS runs a JavaScript expression in the page and returns its value.
func evalJS[T any](t testing.TB, b *browser, js string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluating %s: %v\nproblems seen by the page:\n%s", js, err, b.problems.String())
	}
	return v
}

// screenshot captures the whole page.
func (b *browser) screenshot(t testing.TB) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return png
}

// startBoard runs `mcp-task-orchestrator board` on project and returns the
// one-time link it prints; the command is stopped (SIGTERM) at cleanup.
func startBoard(t testing.TB, project string, args ...string) string {
	t.Helper()
	cmd := exec.Command(binPath, append([]string{"board", "--workspace", project, "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir(), "TASK_ORCHESTRATOR_WORKSPACE=")
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("board command ended with %v:\n%s", err, tail(stderr.String(), 3000))
			}
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("board command did not stop within 20 s of SIGTERM:\n%s", tail(stderr.String(), 3000))
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case l := <-lines:
		if !strings.HasPrefix(l, "http://127.0.0.1:") || !strings.Contains(l, "/login?code=") {
			t.Fatalf("board printed %q, want its one-time link", l)
		}
		return l
	case <-time.After(30 * time.Second):
		t.Fatalf("board printed no link within 30 s:\n%s", tail(stderr.String(), 3000))
	}
	return ""
}

// seededBoard is a project of 60 tasks over every status, with dependencies.
type seededBoard struct {
	status  map[string]string   // id -> status
	deps    map[string][]string // id -> ids it depends on
	hostile string              // the id of the task whose title is markup
}

const hostileTitle = `<img src=x onerror="document.title='pwned'"><script>document.title='pwned'</script>`

// seedBoardProject plans 60 tasks through the MCP server p and moves them
// to every status: 10 completed, 5 failed, 5 cancelled, 8 in progress
// (claimed by four agents), 7 blocked, 25 pending in five chains.
func seedBoardProject(t testing.TB, ctx context.Context, p *proc, project string) seededBoard {
	t.Helper()
	var plan []map[string]any
	add := func(ref, title string, deps []string, extra map[string]any) {
		task := map[string]any{"ref": ref, "title": title, "labels": []string{"board-test", ref[:1]}}
		if len(deps) > 0 {
			task["depends_on"] = deps
		}
		for k, v := range extra {
			task[k] = v
		}
		plan = append(plan, task)
	}
	for i := range 10 {
		add(fmt.Sprintf("c%d", i), fmt.Sprintf("Finished piece %d", i), nil, nil)
	}
	for i := range 5 {
		add(fmt.Sprintf("f%d", i), fmt.Sprintf("Failed attempt %d", i), nil, nil)
		add(fmt.Sprintf("x%d", i), fmt.Sprintf("Dropped idea %d", i), nil, nil)
	}
	for i := range 8 {
		add(fmt.Sprintf("p%d", i), fmt.Sprintf("Build part %d", i), []string{fmt.Sprintf("c%d", i)},
			map[string]any{"role": "builder", "priority": "high"})
	}
	for i := range 7 {
		add(fmt.Sprintf("b%d", i), fmt.Sprintf("Waiting on the vendor %d", i), []string{fmt.Sprintf("p%d", i)}, nil)
	}
	for k := range 5 {
		for i := range 5 {
			ref := fmt.Sprintf("q%d", k*5+i)
			deps := []string{fmt.Sprintf("p%d", k)}
			if i > 0 {
				deps = []string{fmt.Sprintf("q%d", k*5+i-1)}
			}
			title := fmt.Sprintf("Step %d of chain %d", i+1, k+1)
			if k == 4 && i == 4 {
				title = hostileTitle
			}
			add(ref, title, deps, map[string]any{"description": "Part of chain " + fmt.Sprint(k+1)})
		}
	}
	var res struct {
		IDs map[string]string `json:"ids"`
	}
	p.ok(ctx, "task_plan", map[string]any{"workspace": project, "tasks": plan}, &res)
	if len(res.IDs) != 60 {
		t.Fatalf("task_plan mapped %d refs, want 60", len(res.IDs))
	}
	sb := seededBoard{status: map[string]string{}, deps: map[string][]string{}, hostile: res.IDs["q24"]}
	for _, task := range plan {
		id := res.IDs[task["ref"].(string)]
		sb.status[id] = "pending"
		if deps, ok := task["depends_on"].([]string); ok {
			for _, d := range deps {
				sb.deps[id] = append(sb.deps[id], res.IDs[d])
			}
		}
	}
	move := func(prefix string, n int, status string) {
		for i := range n {
			id := res.IDs[fmt.Sprintf("%s%d", prefix, i)]
			p.ok(ctx, "task_update", map[string]any{"workspace": project, "id": id, "status": status}, nil)
			sb.status[id] = status
		}
	}
	move("c", 10, "completed")
	move("f", 5, "failed")
	move("x", 5, "cancelled")
	move("b", 7, "blocked")
	for i := range 8 {
		var claim struct {
			Task *struct {
				ID string `json:"id"`
			} `json:"task"`
		}
		p.ok(ctx, "task_claim", map[string]any{"workspace": project, "agent": fmt.Sprintf("agent-%d", i%4+1), "role": "builder"}, &claim)
		if claim.Task == nil {
			t.Fatalf("claim %d found no builder task", i)
		}
		sb.status[claim.Task.ID] = "in_progress"
	}
	return sb
}

// openGraph counts the open tasks and the dependencies between two of them:
// what the board's graph must draw.
func (sb seededBoard) openGraph() (nodes, edges int) {
	open := func(s string) bool { return s == "pending" || s == "in_progress" || s == "blocked" }
	for id, s := range sb.status {
		if !open(s) {
			continue
		}
		nodes++
		for _, d := range sb.deps[id] {
			if open(sb.status[d]) {
				edges++
			}
		}
	}
	return nodes, edges
}

// The board of a 60-task project shows every task in its column and the open
// work's graph; a task created by another server process appears without a
// reload; a title made of markup is text and runs nothing.
func TestBoardShowsTheProjectLiveInABrowser(t *testing.T) {
	ctx := context.Background()
	project := newProject(t)
	p := start(t, procOpts{dir: project})
	sb := seedBoardProject(t, ctx, p, project)
	link := startBoard(t, project)

	b := newBrowser(t)
	opened := time.Now()
	b.run(t, 30*time.Second, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)))
	t.Logf("first render %v after navigation (login redirect included)", time.Since(opened).Round(time.Millisecond))

	// Every task is in its column.
	columns := evalJS[map[string][]string](t, b, `Object.fromEntries([...document.querySelectorAll('section.column')].map(c =>
		[c.dataset.status, [...c.querySelectorAll('article.card')].map(a => a.dataset.id)]))`)
	want := map[string][]string{}
	for id, s := range sb.status {
		want[s] = append(want[s], id)
	}
	for _, s := range []string{"pending", "in_progress", "blocked", "completed", "failed", "cancelled"} {
		got := slices.Clone(columns[s])
		slices.Sort(got)
		w := want[s]
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Errorf("column %s holds %d cards %v, want %d %v", s, len(got), got, len(w), w)
		}
	}

	// The graph: a node per open task, an edge per dependency between two.
	wantNodes, wantEdges := sb.openGraph()
	graph := evalJS[struct{ Nodes, Edges, Critical int }](t, b, `({Nodes: document.querySelectorAll('#graph g.node').length,
		Edges: document.querySelectorAll('#graph path.edge').length,
		Critical: document.querySelectorAll('#graph g.node.critical').length})`)
	if graph.Nodes != wantNodes || graph.Edges != wantEdges {
		t.Errorf("graph draws %d nodes and %d edges, want %d and %d", graph.Nodes, graph.Edges, wantNodes, wantEdges)
	}
	// The longest chain: p4 -> q20 … q24, six tasks.
	if graph.Critical != 6 {
		t.Errorf("the critical path highlights %d nodes, want 6 (a builder task and its chain of five)", graph.Critical)
	}

	// Markup in a title is text: no element made of it, no script run.
	hostile := evalJS[struct {
		Text  string
		Imgs  int
		Title string
	}](t, b, fmt.Sprintf(`({Text: document.querySelector('article.card[data-id=%q] .title').textContent,
		Imgs: document.querySelectorAll('main img, #graph img').length, Title: document.title})`, sb.hostile))
	if hostile.Text != hostileTitle || hostile.Imgs != 0 || strings.Contains(hostile.Title, "pwned") {
		t.Errorf("hostile title rendered as %q with %d img elements, document.title %q; want the markup as text, no img, no script run",
			hostile.Text, hostile.Imgs, hostile.Title)
	}

	shots := screenshotDir(t)
	writeShot(t, filepath.Join(shots, "board-60-tasks.png"), b.screenshot(t))

	// Another server process creates a task: it appears without a reload.
	evalJS[string](t, b, `window.__sameDocument = 'yes'`)
	other := start(t, procOpts{dir: project})
	var created struct {
		Task struct {
			ID string `json:"id"`
		} `json:"task"`
	}
	createdAt := time.Now()
	other.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "Added while the board is open"}, &created)
	sel := fmt.Sprintf(`section.column[data-status="pending"] article.card[data-id=%q]`, created.Task.ID)
	b.run(t, 2*time.Second, chromedp.WaitReady(chromedp.CSS(sel)))
	t.Logf("a task created by another server process appeared on the board after %v", time.Since(createdAt).Round(time.Millisecond))
	same := evalJS[string](t, b, `window.__sameDocument || 'reloaded'`)
	if same != "yes" {
		t.Errorf("the page reloaded to show the new task; want a live update")
	}
	// That process is SIGKILLed: the board goes on hearing the project's
	// other processes.
	if err := other.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_, _ = other.cmd.Process.Wait()
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "Added after a server process died"}, &created)
	b.run(t, 2*time.Second, chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`article.card[data-id=%q]`, created.Task.ID))))

	// With --allow-edits, a person releases an agent's claim from the page:
	// the task is pending again, and the history says who did it.
	editLink := startBoard(t, project, "--allow-edits")
	b.run(t, 30*time.Second, chromedp.Navigate(editLink), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)))
	held := evalJS[string](t, b, `document.querySelector('section.column[data-status="in_progress"] article.card').dataset.id`)
	b.run(t, 10*time.Second,
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`article.card[data-id=%q]`, held))),
		chromedp.SendKeys(chromedp.CSS(`#reason`), "agent went quiet"),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[data-action="release"][data-task=%q]`, held))),
		chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`section.column[data-status="pending"] article.card[data-id=%q]`, held))))
	events := taskHistory(t, ctx, p, project, held)
	last := events[len(events)-1]
	if last.Actor != "human:board" || !strings.Contains(last.Note, "agent went quiet") {
		t.Errorf("the release from the board is recorded as %v; want actor human:board with the reason", last)
	}

	if probs := b.problems.String(); probs != "" {
		t.Errorf("the page reported problems (CSP violations, exceptions):\n%s", probs)
	}
}

// The board of a 1,000-task project: how long its first render takes, and
// what the page weighs compressed.
func TestBoardRendersAThousandTasks(t *testing.T) {
	ctx := context.Background()
	project := newProject(t)
	p := start(t, procOpts{dir: project, fast: true})
	for part := range 2 {
		var plan []map[string]any
		for i := range 500 {
			task := map[string]any{"ref": fmt.Sprintf("t%d", i), "title": fmt.Sprintf("Task %d of part %d", i, part),
				"labels": []string{fmt.Sprintf("area-%d", i%7)}}
			if i%10 != 0 {
				task["depends_on"] = []string{fmt.Sprintf("t%d", i-1)}
			}
			plan = append(plan, task)
		}
		p.ok(ctx, "task_plan", map[string]any{"workspace": project, "tasks": plan}, nil)
	}
	link := startBoard(t, project)
	b := newBrowser(t)
	b.run(t, 60*time.Second, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)))
	got := evalJS[struct {
		Cards, Nodes int
		RenderMs     string
	}](t, b, `({Cards: document.querySelectorAll('article.card').length, Nodes: document.querySelectorAll('#graph g.node').length,
		RenderMs: document.body.dataset.renderMs})`)
	if got.Cards != 1000 || got.Nodes != 1000 {
		t.Errorf("the board shows %d cards and %d graph nodes, want 1000 of each", got.Cards, got.Nodes)
	}
	t.Logf("1,000 tasks: first render %s ms (state fetched to DOM and graph laid out)", got.RenderMs)
	writeShot(t, filepath.Join(screenshotDir(t), "board-1000-tasks.png"), b.screenshot(t))

	// The page's weight: what a browser downloads, compressed as gzip -9 would.
	base := link[:strings.Index(link, "/login")]
	total, raw := 0, 0
	for _, asset := range []string{"/assets/board.js", "/assets/board.css", "/assets/vendor/dagre/dagre.esm.js", "/assets/index.html"} {
		res, err := http.Get(base + asset)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("GET %s: %s", asset, res.Status)
		}
		var z bytes.Buffer
		w, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
		_, _ = w.Write(body)
		_ = w.Close()
		raw += len(body)
		total += z.Len()
		t.Logf("%s: %d bytes, %d gzipped", asset, len(body), z.Len())
	}
	t.Logf("page weight: %d bytes, %d gzipped (HTML + JS + CSS, the graph layout library included)", raw, total)
}

// screenshotDir is where the board tests write their screenshots:
// $TASK_ORCHESTRATOR_TEST_SCREENSHOTS, else a temporary folder.
func screenshotDir(t testing.TB) string {
	if d := os.Getenv("TASK_ORCHESTRATOR_TEST_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

func writeShot(t testing.TB, path string, png []byte) {
	t.Helper()
	if len(png) < 1000 {
		t.Fatalf("screenshot of %d bytes", len(png))
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}
