package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// The documentation's promise: every command in it works. These tests read
// every fenced sh block and every client configuration (JSON with
// "mcpServers") in README.md and docs/, and run each one. A command that no
// rule below knows how to run fails the test, so a new command in the docs
// needs a rule here before it can land.

const repoRoot = ".."

// docFiles lists README.md and every Markdown file under docs/.
func docFiles(t *testing.T) []string {
	t.Helper()
	files := []string{filepath.Join(repoRoot, "README.md")}
	err := filepath.WalkDir(filepath.Join(repoRoot, "docs"), func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".md") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

var fence = regexp.MustCompile("(?ms)^```([a-z]*)\n(.*?)^```")

type docBlock struct {
	file, lang, body string
}

func docBlocks(t *testing.T) []docBlock {
	var out []docBlock
	for _, f := range docFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range fence.FindAllStringSubmatch(string(b), -1) {
			rel, _ := filepath.Rel(repoRoot, f)
			out = append(out, docBlock{file: rel, lang: m[1], body: m[2]})
		}
	}
	return out
}

// commands splits a shell block into commands: comments and blank lines
// dropped, backslash continuations joined.
func commands(body string) []string {
	var out []string
	cur := ""
	for _, line := range strings.Split(body, "\n") {
		line = strings.TrimSpace(line)
		if cur == "" && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cur += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		full := cur + line
		if i := strings.Index(full, " #"); i >= 0 {
			full = full[:i] // a trailing comment
		}
		out = append(out, strings.Join(strings.Fields(full), " "))
		cur = ""
	}
	return out
}

// docEnv is what the commands of one block share: a scratch directory for
// their output files and a home directory.
type docEnv struct {
	t       *testing.T
	ctx     context.Context
	dir     string // scratch: redirected outputs land here
	home    string
	project string // ~/code/myproject: a real project (with .git) the examples name
	cwd     string // where the next command runs ("cd" changes it); starts in the project
	// migrations counts the migrate runs of the block that wrote (not --dry-run).
	migrations int
	pyReady    bool   // the project holds a Python server's database
	httpAddr   string // the address of the last HTTP server startHTTP started
	// embedderPID is the local embedder a block started, for its "stop PID".
	embedderPID string
}

func newDocEnv(t *testing.T, ctx context.Context) *docEnv {
	e := &docEnv{t: t, ctx: ctx, dir: t.TempDir(), home: t.TempDir()}
	e.project = filepath.Join(e.home, "code", "myproject")
	if err := os.MkdirAll(filepath.Join(e.project, ".git"), 0o700); err != nil {
		t.Fatal(err)
	}
	e.cwd = e.project
	return e
}

// run runs argv (argv[0] "mcp-task-orchestrator" is the built binary) in dir
// and returns its stdout, stderr and exit code.
func (e *docEnv) run(dir string, stdin string, env []string, argv ...string) (string, string, int) {
	e.t.Helper()
	if argv[0] == "mcp-task-orchestrator" || argv[0] == "./mcp-task-orchestrator" {
		argv[0] = binPath
	}
	cmd := exec.CommandContext(e.ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+e.home, "XDG_CONFIG_HOME="+filepath.Join(e.home, ".config"), "TASK_ORCHESTRATOR_WORKSPACE=")
	cmd.Env = append(cmd.Env, goEnv(e.t)...) // the go command keeps its caches under the real home
	cmd.Env = append(cmd.Env, "TASK_ORCHESTRATOR_TEST_CACHE="+testCache(e.t))
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			e.t.Fatalf("running %v: %v", argv, err)
		}
		code = ee.ExitCode()
	}
	return stdout.String(), stderr.String(), code
}

// expand replaces ~ with the test's home directory.
func (e *docEnv) expand(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "~" || strings.HasPrefix(a, "~/") {
			a = e.home + a[1:]
		}
		out[i] = a
	}
	return out
}

// redirect returns the command's fields with "> FILE" removed, and FILE placed in the scratch directory.
func (e *docEnv) redirect(cmd string) ([]string, string) {
	before, after, found := strings.Cut(cmd, ">")
	if !found {
		return strings.Fields(cmd), ""
	}
	return strings.Fields(before), filepath.Join(e.dir, strings.TrimSpace(after))
}

// docRule runs one kind of documented command.
type docRule struct {
	name  string
	match func(cmd string) bool
	run   func(e *docEnv, cmd string)
}

func prefix(p string) func(string) bool {
	return func(cmd string) bool { return strings.HasPrefix(cmd, p) }
}

var placeholderBinary = "/absolute/path/to/mcp-task-orchestrator"

var docRules = []docRule{
	{"the server over stdio", func(c string) bool { return c == "go run ." }, func(e *docEnv, cmd string) {
		// With stdin closed the server must start, print nothing to stdout and exit 0.
		out, errOut, code := e.run(repoRoot, "", nil, "go", "run", ".")
		if code != 0 || out != "" {
			e.t.Fatalf("go run . with stdin closed: exit %d, stdout %q, stderr %s", code, out, tail(errOut, 2000))
		}
	}},
	{"the test command", func(c string) bool { return c == "bash integration/test-all.sh" }, func(e *docEnv, cmd string) {
		// It cannot run itself; CI runs it through .ci/run, which must call exactly it.
		b, err := os.ReadFile(filepath.Join(repoRoot, ".ci", "run"))
		if err != nil {
			e.t.Fatal(err)
		}
		if !strings.Contains(string(b), "exec bash integration/test-all.sh") {
			e.t.Fatalf(".ci/run does not run %q:\n%s", cmd, b)
		}
	}},
	{"build", prefix("go build -o mcp-task-orchestrator"), func(e *docEnv, cmd string) {
		args := strings.Fields(cmd)
		args[3] = filepath.Join(e.dir, "mcp-task-orchestrator")
		if out, errOut, code := e.run(repoRoot, "", nil, args...); code != 0 {
			e.t.Fatalf("%s: exit %d\n%s%s", cmd, code, out, errOut)
		}
		if fi, err := os.Stat(args[3]); err != nil || fi.Mode()&0o111 == 0 {
			e.t.Fatalf("%s did not produce an executable: %v", cmd, err)
		}
	}},
	{"install", prefix("go install github.com/mcp-task-orchestrator/mcp-task-orchestrator@"), func(e *docEnv, cmd string) {
		// The module is not on a proxy reachable from here, so install from the checkout
		// after checking that the documented path is the module's.
		mod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
		if err != nil {
			e.t.Fatal(err)
		}
		path := strings.TrimPrefix(strings.Fields(cmd)[2], "")
		path, _, _ = strings.Cut(path, "@")
		if !strings.Contains(string(mod), "module "+path+"\n") {
			e.t.Fatalf("%s names module %s, but go.mod declares another", cmd, path)
		}
		gobin := filepath.Join(e.dir, "bin")
		if out, errOut, code := e.run(repoRoot, "", []string{"GOBIN=" + gobin}, "go", "install", "."); code != 0 {
			e.t.Fatalf("go install .: exit %d\n%s%s", code, out, errOut)
		}
		if _, err := os.Stat(filepath.Join(gobin, "mcp-task-orchestrator")); err != nil {
			e.t.Fatalf("go install did not install mcp-task-orchestrator: %v", err)
		}
	}},
	{"version", func(c string) bool { return strings.HasSuffix(c, "mcp-task-orchestrator --version") }, func(e *docEnv, cmd string) {
		out, errOut, code := e.run(e.dir, "", nil, "mcp-task-orchestrator", "--version")
		if code != 0 || !strings.Contains(out, "mcp-task-orchestrator") {
			e.t.Fatalf("--version: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	}},
	{"HTTP server", prefix("mcp-task-orchestrator --http "), func(e *docEnv, cmd string) {
		stop := e.startHTTP(cmd)
		if err := stop(); err != nil {
			e.t.Fatalf("%s: %v", cmd, err)
		}
	}},
	{"change directory", prefix("cd "), func(e *docEnv, cmd string) {
		dir := e.expand(strings.Fields(cmd))[1]
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			e.t.Fatalf("%s: %v", cmd, err)
		}
		e.cwd = dir
	}},
	{"doctor", prefix("mcp-task-orchestrator doctor"), func(e *docEnv, cmd string) {
		// On a set-up with no database servers configured, doctor finds nothing broken.
		out, errOut, code := e.run(e.cwd, "", []string{"CHROMA_URL=", "NEO4J_URI="}, e.expand(strings.Fields(cmd))...)
		if code != 0 || !strings.Contains(out, "ok") || strings.Contains(out, "error ") {
			e.t.Fatalf("%s: exit %d\n%s\n%s", cmd, code, out, tail(errOut, 2000))
		}
	}},
	{"status of a running server", prefix("mcp-task-orchestrator status --http "), func(e *docEnv, cmd string) {
		args := e.expand(strings.Fields(cmd))
		i := slices.Index(args, "--http")
		stop := e.startHTTP("mcp-task-orchestrator --http 127.0.0.1:0 --allow-root " + e.home + " --auth-token-file " + tokenArg(args))
		defer func() { _ = stop() }()
		args[i+1] = "http://" + e.httpAddr
		watch := slices.Contains(args, "--watch")
		ctx := e.ctx
		if watch {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(e.ctx, 5*time.Second) // --watch runs until stopped
			defer cancel()
		}
		args[0] = binPath
		c := exec.CommandContext(ctx, args[0], args[1:]...)
		c.Dir, c.Env = e.cwd, append(os.Environ(), "HOME="+e.home, "XDG_CONFIG_HOME="+filepath.Join(e.home, ".config"))
		out, err := c.Output()
		frames := strings.Count(string(out), "source ") // one "source" line per frame
		if watch && frames < 2 || !watch && (err != nil || frames != 1) {
			e.t.Fatalf("%s: %v, %d frames:\n%s", cmd, err, frames, out)
		}
	}},
	{"status of a project", prefix("mcp-task-orchestrator status --workspace "), func(e *docEnv, cmd string) {
		out, errOut, code := e.run(e.cwd, "", nil, e.expand(strings.Fields(cmd))...)
		if code != 0 || !strings.Contains(out, e.project) {
			e.t.Fatalf("%s: exit %d\n%s\n%s", cmd, code, out, tail(errOut, 2000))
		}
	}},
	{"migrate", prefix("mcp-task-orchestrator migrate"), func(e *docEnv, cmd string) {
		if !e.pyReady {
			// A project the Python server wrote, through its own tools.
			py := startPyServer(e.t, pyServerCommand(e.t), e.project)
			py.plan("Ship the docs", "from the docs test", []map[string]any{
				{"title": "write the guide", "description": "the user guide", "specialist_type": "documenter"},
				{"title": "review the guide", "description": "a second pair of eyes", "specialist_type": "reviewer"},
			})
			py.close()
			e.pyReady = true
		}
		out, errOut, code := e.run(e.cwd, "", nil, e.expand(strings.Fields(cmd))...)
		dry := strings.Contains(cmd, "--dry-run")
		switch {
		case code != 0:
			e.t.Fatalf("%s: exit %d\n%s\n%s", cmd, code, out, tail(errOut, 2000))
		case dry && fileExists(tasksDB(e.project)):
			e.t.Fatalf("%s wrote the task database", cmd)
		case !dry && e.migrations == 0 && !strings.Contains(out, "3 created"):
			e.t.Fatalf("%s (first import): want 3 tasks created:\n%s", cmd, out)
		case !dry && e.migrations > 0 && !strings.Contains(out, "0 created, 3 unchanged"):
			e.t.Fatalf("%s (again): want \"0 created, 3 unchanged\":\n%s", cmd, out)
		}
		if !dry {
			e.migrations++
		}
	}},
	{"environment for a shared Neo4j", prefix("export NEO4J_"), func(e *docEnv, cmd string) {
		// Every variable must be one the server reads; the example's host and
		// password are replaced by the test's real Neo4j, and doctor must then
		// find the graph backend working with exactly these variables.
		known := map[string]bool{}
		for _, v := range workspace.EnvVars() {
			known[v.Name] = true
		}
		real := map[string]string{
			"NEO4J_URI":      os.Getenv("TASK_ORCHESTRATOR_TEST_NEO4J_URI"),
			"NEO4J_USERNAME": "neo4j",
			"NEO4J_PASSWORD": os.Getenv("TASK_ORCHESTRATOR_TEST_NEO4J_PASSWORD"),
		}
		if real["NEO4J_URI"] == "" || real["NEO4J_PASSWORD"] == "" {
			e.t.Fatal("TASK_ORCHESTRATOR_TEST_NEO4J_URI/_PASSWORD are not set: run the tests with bash integration/test-all.sh")
		}
		var env []string
		for _, kv := range strings.Fields(strings.TrimPrefix(cmd, "export ")) {
			name, _, _ := strings.Cut(kv, "=")
			if !known[name] {
				e.t.Fatalf("%s sets %s, which the server does not read", cmd, name)
			}
			env = append(env, name+"="+real[name])
		}
		rep, out, code := runDoctor(e.t, e.project, env)
		f, ok := findingOf(rep, "graph (Neo4j)")
		if code != 0 || !ok || f.Level != "ok" {
			e.t.Fatalf("doctor with %s: exit %d, graph finding %+v\n%s", cmd, code, f, out)
		}
	}},
	{"local embedder", prefix("bash integration/embedder.sh "), func(e *docEnv, cmd string) {
		args := strings.Fields(cmd)
		switch args[2] {
		case "start":
			out, errOut, code := e.run(repoRoot, "", nil, args...)
			f := strings.Fields(out)
			if code != 0 || len(f) != 2 || !strings.HasSuffix(f[0], "/v1") {
				e.t.Fatalf("%s: exit %d, printed %q (want \"URL PID\")\n%s", cmd, code, out, tail(errOut, 2000))
			}
			e.embedderPID = f[1]
			e.t.Cleanup(func() {
				if e.embedderPID != "" { // the block did not stop it
					c := exec.Command("bash", "integration/embedder.sh", "stop", e.embedderPID)
					c.Dir = repoRoot
					_ = c.Run()
				}
			})
			body := strings.NewReader(`{"model":"all-MiniLM-L6-v2","input":["a cat sits on the mat"]}`)
			resp, err := http.Post(f[0]+"/embeddings", "application/json", body)
			if err != nil {
				e.t.Fatalf("the embedder %s started by %s does not answer: %v", f[0], cmd, err)
			}
			var r struct {
				Data []struct {
					Embedding []float64 `json:"embedding"`
				} `json:"data"`
			}
			err = json.NewDecoder(resp.Body).Decode(&r)
			resp.Body.Close()
			if err != nil || len(r.Data) != 1 || len(r.Data[0].Embedding) != 384 {
				e.t.Fatalf("the embedder answered %v, %+v; want one 384-dimension vector", err, r)
			}
		case "stop":
			if e.embedderPID == "" {
				e.t.Fatalf("%s with no embedder started before it in the block", cmd)
			}
			if _, errOut, code := e.run(repoRoot, "", nil, "bash", "integration/embedder.sh", "stop", e.embedderPID); code != 0 {
				e.t.Fatalf("%s: exit %d\n%s", cmd, code, errOut)
			}
			if fileExists("/proc/" + e.embedderPID) {
				e.t.Fatalf("%s: process %s is still running", cmd, e.embedderPID)
			}
			e.embedderPID = ""
		default:
			e.t.Fatalf("no rule for %s", cmd)
		}
	}},
	{"third-party client command", prefix("claude mcp add "), func(e *docEnv, cmd string) {
		// The part after "--" is how the client starts our server: start it that way.
		_, server, ok := strings.Cut(cmd, " -- ")
		if !ok {
			e.t.Fatalf("%s: no \"--\" before the server command", cmd)
		}
		args := strings.Fields(server)
		if args[0] != placeholderBinary {
			e.t.Fatalf("%s: the server command should be %s", cmd, placeholderBinary)
		}
		initializeWith(e, args[1:], nil)
	}},
	{"benchmarks", func(c string) bool {
		return strings.Contains(c, "go test ") && strings.Contains(c, "-bench")
	}, func(e *docEnv, cmd string) {
		// The same command, run once per benchmark (-benchtime 1x -count 1): it
		// proves the command and the benchmarks work, not the figures.
		fields, out := e.redirect(cmd)
		var env []string
		for len(fields) > 0 && strings.Contains(fields[0], "=") {
			env, fields = append(env, fields[0]), fields[1:]
		}
		var args []string
		for i := 0; i < len(fields); i++ {
			switch f := fields[i]; {
			case f == "-count" || f == "-benchtime":
				i++
			default:
				args = append(args, strings.Trim(f, "'"))
			}
		}
		args = append(args[:2], append([]string{"-benchtime", "1x", "-count", "1"}, args[2:]...)...)
		stdout, stderr, code := e.run(repoRoot, "", env, args...)
		if code != 0 || !strings.Contains(stdout, "Benchmark") {
			e.t.Fatalf("%s: exit %d\n%s\n%s", strings.Join(args, " "), code, tail(stdout, 3000), tail(stderr, 2000))
		}
		if out != "" {
			if err := os.WriteFile(out, []byte(stdout), 0o600); err != nil {
				e.t.Fatal(err)
			}
		}
	}},
	{"benchstat", prefix("go tool benchstat "), func(e *docEnv, cmd string) {
		args := strings.Fields(cmd)
		for i := 3; i < len(args); i++ {
			args[i] = filepath.Join(e.dir, args[i])
		}
		out, errOut, code := e.run(repoRoot, "", nil, args...)
		if code != 0 || !strings.Contains(out, "sec/op") {
			e.t.Fatalf("%s: exit %d\n%s%s", cmd, code, out, errOut)
		}
	}},
	{"test server scripts", func(c string) bool {
		return strings.HasPrefix(c, "bash integration/chroma.sh install") || strings.HasPrefix(c, "bash integration/conformance.sh install")
	}, func(e *docEnv, cmd string) {
		out, errOut, code := e.run(repoRoot, "", nil, strings.Fields(cmd)...)
		path := strings.TrimSpace(out)
		if fi, err := os.Stat(path); code != 0 || err != nil || fi.Mode()&0o111 == 0 {
			e.t.Fatalf("%s: exit %d, printed %q (%v)\n%s", cmd, code, path, err, tail(errOut, 2000))
		}
	}},
}

// startHTTP starts the documented HTTP command (on a free port, with its
// token file and --allow-root trees created), waits for /healthz, and returns
// a function that stops it with SIGTERM and reports how it ended.
func (e *docEnv) startHTTP(cmd string) func() error {
	e.t.Helper()
	args := e.expand(strings.Fields(cmd))
	for i, a := range args {
		if a == "--auth-token-file" && i+1 < len(args) {
			if _, err := os.Stat(args[i+1]); err != nil {
				if err := os.MkdirAll(filepath.Dir(args[i+1]), 0o700); err != nil {
					e.t.Fatal(err)
				}
				if err := os.WriteFile(args[i+1], []byte("docs-test-token-0123456789abcdef\n"), 0o600); err != nil {
					e.t.Fatal(err)
				}
			}
		}
		if a == "--allow-root" && i+1 < len(args) {
			if err := os.MkdirAll(args[i+1], 0o700); err != nil {
				e.t.Fatal(err)
			}
		}
	}
	e.httpAddr = fmt.Sprintf("127.0.0.1:%d", freePort(e.t))
	args[slices.Index(args, "--http")+1] = e.httpAddr
	args[0] = binPath
	c := exec.Command(args[0], args[1:]...)
	c.Env = append(os.Environ(), "HOME="+e.home, "XDG_CONFIG_HOME="+filepath.Join(e.home, ".config"))
	var stdout bytes.Buffer
	stderr := &lockedBuffer{}
	c.Stdout, c.Stderr = &stdout, stderr
	if err := c.Start(); err != nil {
		e.t.Fatal(err)
	}
	healthy := false
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && !healthy; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get("http://" + e.httpAddr + "/healthz"); err == nil {
			healthy = resp.StatusCode == http.StatusOK
			resp.Body.Close()
		}
	}
	if !healthy {
		_ = c.Process.Kill()
		_ = c.Wait()
		e.t.Fatalf("%s: /healthz never answered 200\n%s", cmd, tail(stderr.String(), 2000))
	}
	return func() error {
		_ = c.Process.Signal(syscall.SIGTERM)
		err := c.Wait()
		if err == nil && stdout.Len() != 0 {
			err = fmt.Errorf("wrote %q to stdout", stdout.String())
		}
		return err
	}
}

// tokenArg returns the value of --auth-token-file in args.
func tokenArg(args []string) string {
	if i := slices.Index(args, "--auth-token-file"); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// initializeWith starts the binary with args and env as a client would, and
// checks that it initializes and lists its tools.
func initializeWith(e *docEnv, args []string, env []string) {
	e.t.Helper()
	project := newProject(e.t)
	env = append([]string{"HOME=" + e.home, "XDG_CONFIG_HOME=" + filepath.Join(e.home, ".config"), "TASK_ORCHESTRATOR_WORKSPACE=" + project}, env...)
	c, err := client.NewStdioMCPClient(binPath, append(os.Environ(), env...), args...)
	if err != nil {
		e.t.Fatalf("starting %v: %v", args, err)
	}
	defer c.Close()
	init := mcp.InitializeRequest{}
	init.Params.ClientInfo = mcp.Implementation{Name: "docs-test", Version: "1"}
	if _, err := c.Initialize(e.ctx, init); err != nil {
		e.t.Fatalf("initialize with args %v: %v", args, err)
	}
	tools, err := c.ListTools(e.ctx, mcp.ListToolsRequest{})
	if err != nil || len(tools.Tools) == 0 {
		e.t.Fatalf("tools/list with args %v: %v (%d tools)", args, err, len(tools.Tools))
	}
}

func TestDocumentedCommands(t *testing.T) {
	ran := 0
	for _, b := range docBlocks(t) {
		if b.lang != "sh" && b.lang != "bash" && b.lang != "console" {
			continue
		}
		t.Run(b.file, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			e := newDocEnv(t, ctx)
			for _, cmd := range commands(b.body) {
				cmd = strings.TrimPrefix(cmd, "./") // ./mcp-task-orchestrator is the binary too
				var rule *docRule
				for i := range docRules {
					if docRules[i].match(cmd) {
						rule = &docRules[i]
						break
					}
				}
				if rule == nil {
					t.Fatalf("%s documents %q, and no rule in integration/docs_test.go runs it: add one", b.file, cmd)
				}
				t.Logf("%s: %s (%s)", b.file, cmd, rule.name)
				rule.run(e, cmd)
				ran++
			}
		})
	}
	if ran < 10 {
		t.Fatalf("only %d documented commands found; the block parser is broken", ran)
	}
}

// TestDocumentedClientConfigs starts the server exactly as each documented
// client configuration says (args and env), with the placeholder path
// replaced by the built binary.
func TestDocumentedClientConfigs(t *testing.T) {
	n := 0
	for _, b := range docBlocks(t) {
		if b.lang != "json" || !strings.Contains(b.body, `"mcpServers"`) {
			continue
		}
		var cfg struct {
			MCPServers map[string]struct {
				Command string            `json:"command"`
				Args    []string          `json:"args"`
				Env     map[string]string `json:"env"`
			} `json:"mcpServers"`
		}
		if err := json.Unmarshal([]byte(b.body), &cfg); err != nil {
			t.Fatalf("%s: a client configuration that is not valid JSON: %v\n%s", b.file, err, b.body)
		}
		for name, s := range cfg.MCPServers {
			if s.Command != placeholderBinary {
				t.Fatalf("%s: server %s runs %q; documented configurations use %s", b.file, name, s.Command, placeholderBinary)
			}
			var env []string
			for k, v := range s.Env {
				if k == "TASK_ORCHESTRATOR_WORKSPACE" {
					continue // initializeWith points it at a real project
				}
				env = append(env, k+"="+v)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			initializeWith(newDocEnv(t, ctx), s.Args, env)
			cancel()
			n++
		}
	}
	if n < 3 {
		t.Fatalf("only %d client configurations found in the docs", n)
	}
}

// TestADRIndex checks that every ADR file is listed in docs/adr/README.md.
func TestADRIndex(t *testing.T) {
	index, err := os.ReadFile(filepath.Join(repoRoot, "docs", "adr", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(repoRoot, "docs", "adr", "[0-9][0-9][0-9][0-9]-*.md"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no ADRs found: %v", err)
	}
	for _, f := range files {
		if !strings.Contains(string(index), "("+filepath.Base(f)+")") {
			t.Errorf("docs/adr/README.md does not list %s", filepath.Base(f))
		}
	}
}

// TestDocLinks checks that every relative link in the docs points at a file that exists.
func TestDocLinks(t *testing.T) {
	link := regexp.MustCompile(`\]\(([^)#\s]+)(#[^)]*)?\)`)
	for _, f := range docFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(f), target)); err != nil {
				t.Errorf("%s links to %s, which does not exist", f, target)
			}
		}
	}
}

// testCache is where the test scripts keep what they install, resolved
// against the real home (the commands run with a scratch one).
func testCache(t *testing.T) string {
	if c := os.Getenv("TASK_ORCHESTRATOR_TEST_CACHE"); c != "" {
		return c
	}
	if c := os.Getenv("XDG_CACHE_HOME"); c != "" {
		return filepath.Join(c, "mcp-task-orchestrator-test")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(home, ".cache", "mcp-task-orchestrator-test")
}

// goEnv pins the go command's caches, which it would otherwise look for under $HOME.
func goEnv(t *testing.T) []string {
	t.Helper()
	env, err := goCaches()
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// goCaches asks the go command where its caches are, once for the package.
var goCaches = sync.OnceValues(func() ([]string, error) {
	out, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE", "GOPATH").Output()
	if err != nil {
		return nil, fmt.Errorf("go env: %v", err)
	}
	v := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(v) != 3 {
		return nil, fmt.Errorf("go env printed %q", out)
	}
	return []string{"GOCACHE=" + v[0], "GOMODCACHE=" + v[1], "GOPATH=" + v[2]}, nil
})
