package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
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
	mcptransport "github.com/mark3labs/mcp-go/client/transport"
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
	// installed is the binary a block built into a folder of its home
	// (~/.local/bin/mcp-task-orchestrator); path holds the folders its
	// "export PATH=" put first. "mcp-task-orchestrator" is the installed
	// binary once both are set, else the package's binPath.
	installed string
	path      []string
	chromaURL string // the Chroma a block ran ("chroma run")
	// neo4jURI and neo4jPassword: the Neo4j a block ran ("neo4j console")
	// and the password its "neo4j-admin dbms set-initial-password" set.
	neo4jURI, neo4jPassword string
	neo4jBoltPort           int // the Bolt port of the stand-in installation ("tar xzf")
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
		argv[0] = e.binary()
	}
	cmd := exec.CommandContext(e.ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+e.home, "XDG_CONFIG_HOME="+filepath.Join(e.home, ".config"), "TASK_ORCHESTRATOR_WORKSPACE=")
	if len(e.path) > 0 {
		cmd.Env = append(cmd.Env, "PATH="+strings.Join(e.path, ":")+":"+os.Getenv("PATH"))
	}
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

// binary is what "mcp-task-orchestrator" names in the block: the binary it
// installed once its folder is on the block's PATH, else the package's.
func (e *docEnv) binary() string {
	if e.installed != "" && slices.Contains(e.path, filepath.Dir(e.installed)) {
		return e.installed
	}
	return binPath
}

// shell runs cmd with bash in the block's working directory, home and PATH,
// as a user's shell would (~, $HOME, quotes, redirections and $(...) are
// bash's), and fails the test unless it exits 0. It returns stdout.
func (e *docEnv) shell(cmd string, extraPath ...string) string {
	e.t.Helper()
	c := exec.CommandContext(e.ctx, "bash", "-c", cmd)
	c.Dir = e.cwd
	path := strings.Join(append(append(extraPath, e.path...), os.Getenv("PATH")), ":")
	c.Env = append(os.Environ(), "HOME="+e.home, "XDG_CONFIG_HOME="+filepath.Join(e.home, ".config"), "PATH="+path)
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		e.t.Fatalf("%s: %v\n%s%s", cmd, err, stdout.String(), tail(stderr.String(), 2000))
	}
	return stdout.String()
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
		// Started as documented and kept until the block ends, for the client
		// commands after it; it must then stop cleanly on SIGTERM.
		stop := e.startHTTP(cmd)
		e.t.Cleanup(func() {
			if err := stop(); err != nil {
				e.t.Errorf("%s: %v", cmd, err)
			}
		})
	}},
	{"board", prefix("mcp-task-orchestrator board"), func(e *docEnv, cmd string) {
		// It serves until stopped: its link must open the board once, then it
		// must stop cleanly on SIGTERM.
		args := e.expand(strings.Fields(cmd))
		if i := slices.Index(args, "--addr"); i >= 0 && i+1 < len(args) {
			args[i+1] = fmt.Sprintf("127.0.0.1:%d", freePort(e.t))
		}
		c := exec.CommandContext(e.ctx, binPath, args[1:]...)
		c.Dir, c.Env = e.cwd, append(os.Environ(), "HOME="+e.home, "XDG_CONFIG_HOME="+filepath.Join(e.home, ".config"), "TASK_ORCHESTRATOR_WORKSPACE=")
		stderr := &lockedBuffer{}
		c.Stderr = stderr
		out, err := c.StdoutPipe()
		if err != nil {
			e.t.Fatal(err)
		}
		if err := c.Start(); err != nil {
			e.t.Fatal(err)
		}
		line, _ := bufio.NewReader(out).ReadString('\n')
		link := strings.TrimSpace(line)
		noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, gerr := noRedirect.Get(link)
		_ = c.Process.Signal(syscall.SIGTERM)
		werr := c.Wait()
		if gerr != nil || res.StatusCode != http.StatusSeeOther || !strings.Contains(res.Header.Get("Set-Cookie"), "board_session=") {
			e.t.Fatalf("%s: its link %q did not open the board (%v %v)\n%s", cmd, link, res, gerr, tail(stderr.String(), 2000))
		}
		res.Body.Close()
		if werr != nil {
			e.t.Fatalf("%s: on SIGTERM: %v\n%s", cmd, werr, tail(stderr.String(), 2000))
		}
	}},
	{"a board link from the HTTP server", func(c string) bool { return strings.HasPrefix(c, "curl ") && strings.HasSuffix(c, "/board/link") }, func(e *docEnv, cmd string) {
		// Asked with the token of the HTTP server the block started.
		if e.httpAddr == "" {
			e.t.Fatalf("%s: the block starts no HTTP server before it", cmd)
		}
		out := e.shell(strings.ReplaceAll(cmd, "127.0.0.1:8765", e.httpAddr))
		var link struct {
			URL string `json:"url"`
		}
		if err := json.Unmarshal([]byte(out), &link); err != nil || !strings.HasPrefix(link.URL, "http://"+e.httpAddr+"/board/login?code=") {
			e.t.Fatalf("%s: answered %q, want a one-time link", cmd, out)
		}
		jar, _ := cookiejar.New(nil)
		res, err := (&http.Client{Jar: jar}).Get(link.URL) // follows the redirect to the board with its cookie
		if err != nil || res.StatusCode != http.StatusOK {
			e.t.Fatalf("%s: opening its link: %v %v", cmd, res, err)
		}
		res.Body.Close()
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
		// After the block installed the binary and cd'd into the project, the
		// snippets start the installed binary in that project: never the
		// clone, never a temporary build.
		if e.binary() == e.installed && strings.HasPrefix(e.cwd, e.project) {
			for _, want := range []string{`"command": "` + e.installed + `"`, `"TASK_ORCHESTRATOR_WORKSPACE": "` + e.project + `"`,
				`"command": "mcp-task-orchestrator"`} {
				if !strings.Contains(out, want) {
					e.t.Fatalf("%s: the client snippets lack %s:\n%s", cmd, want, out)
				}
			}
			add := "claude mcp add task-orchestrator -- "
			if !strings.Contains(out, add+e.installed+"\n") && !strings.Contains(out, add+"'"+e.installed+"'\n") {
				e.t.Fatalf("%s: the Claude Code command does not start %s:\n%s", cmd, e.installed, out)
			}
			if strings.Contains(out, "go-build") || strings.Contains(out, "not on your PATH") {
				e.t.Fatalf("%s: the snippets name a temporary build or miss the PATH:\n%s", cmd, out)
			}
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
		if e.neo4jURI != "" {
			// The block ran Neo4j itself ("neo4j console"): only its port moves
			// (the stand-in's free one for 7687); the password is the one the
			// document gives, which must be the one it set with neo4j-admin.
			real["NEO4J_URI"] = e.neo4jURI
			for _, kv := range strings.Fields(cmd) {
				if v, ok := strings.CutPrefix(kv, "NEO4J_PASSWORD="); ok {
					real["NEO4J_PASSWORD"] = v
				}
			}
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
	{"Claude Code's mcp add", prefix("claude mcp add "), func(e *docEnv, cmd string) {
		// Claude Code is not installed here. A stand-in "claude" records the
		// arguments bash gives it (after ~, quotes and $(...) are expanded, as
		// in the user's shell); the test then does what Claude Code does with
		// them: start the command over stdio, or connect to the URL with the
		// headers.
		if strings.Contains(cmd, "--transport http") && e.httpAddr == "" {
			// The server of the document's earlier block, with its token file.
			stop := e.startHTTP("mcp-task-orchestrator --http 127.0.0.1:8765 --allow-root ~/code --auth-token-file ~/.config/task-orchestrator/token")
			e.t.Cleanup(func() { _ = stop() })
		}
		argv := e.recordedClaude(cmd)
		add := parseClaudeAdd(e.t, argv)
		switch {
		case add.url != "":
			u := regexp.MustCompile(`^http://[^/]+`).ReplaceAllString(add.url, "http://"+e.httpAddr)
			if err := connectHTTP(e.ctx, u, add.headers); err != nil {
				e.t.Fatalf("%s: connecting to %s with headers %v: %v", cmd, u, add.headers, err)
			}
			if err := connectHTTP(e.ctx, u, nil); err == nil {
				e.t.Fatalf("%s: the server answered without the token: the documented header proves nothing", cmd)
			}
		default:
			bin := add.command[0]
			switch {
			case bin == placeholderBinary:
			case bin == filepath.Join(e.home, ".local", "bin", "mcp-task-orchestrator"):
				// The quick start installed it there in its step 1 (TestFirstHour
				// follows both steps in one home); this block's home is fresh.
			default:
				e.t.Fatalf("%s: the server command should be %s or ~/.local/bin/mcp-task-orchestrator, not %s", cmd, placeholderBinary, bin)
			}
			initializeWith(e, add.command[1:], nil)
		}
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
	{"the end-to-end benchmark against the floor", func(c string) bool {
		return strings.Contains(c, "integration/e2e/run.sh")
	}, func(e *docEnv, cmd string) {
		// Run for real, with few calls and projects (it proves the command,
		// the pinned TypeScript SDK's install and the output's format, not
		// the figures): the floor's lines and the server's ratios to it.
		fields, out := e.redirect(cmd)
		var env []string
		for len(fields) > 0 && strings.Contains(fields[0], "=") {
			env, fields = append(env, fields[0]), fields[1:]
		}
		env = append(env, "COUNT=1", "N=40", "WARMUP=5", "PROJECTS=3") // the last of a name wins
		stdout, stderr, code := e.run(repoRoot, "", env, fields...)
		for _, want := range []string{"BenchmarkE2E/client=ts/server=floor/call=echo ", "BenchmarkE2E/client=ts/server=orchestrator/call=task_get ",
			"server=orchestrator/call=startup/vs=floor", "idle-rss-B"} {
			if code != 0 || !strings.Contains(stdout, want) {
				e.t.Fatalf("%s: exit %d, no %q in\n%s\n%s", cmd, code, want, tail(stdout, 3000), tail(stderr, 2000))
			}
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
	{"install into a folder of the home", prefix("go build -o ~/"), func(e *docEnv, cmd string) {
		// Built for real, from the checkout (the clone the quick start starts in).
		args := e.expand(strings.Fields(cmd))
		if out, errOut, code := e.run(repoRoot, "", nil, args...); code != 0 {
			e.t.Fatalf("%s: exit %d\n%s%s", cmd, code, out, errOut)
		}
		if fi, err := os.Stat(args[3]); err != nil || fi.Mode()&0o111 == 0 {
			e.t.Fatalf("%s did not produce an executable: %v", cmd, err)
		}
		e.installed = args[3]
	}},
	{"PATH", prefix("export PATH="), func(e *docEnv, cmd string) {
		// Only the documented form: folders put before the PATH the shell had.
		v := strings.Trim(strings.TrimPrefix(cmd, "export PATH="), `"`)
		dirs := strings.Split(strings.ReplaceAll(v, "$HOME", e.home), ":")
		if len(dirs) < 2 || dirs[len(dirs)-1] != "$PATH" {
			e.t.Fatalf("%s: expected export PATH=\"DIR:$PATH\"", cmd)
		}
		e.path = append(dirs[:len(dirs)-1:len(dirs)-1], e.path...)
	}},
	{"shell utilities", func(c string) bool {
		for _, p := range []string{"mkdir -p ", "chmod ", "ln -s ", "openssl rand ", "python3 -m venv "} {
			if strings.HasPrefix(c, p) {
				return true
			}
		}
		return false
	}, func(e *docEnv, cmd string) {
		// Run for real by bash, then the one effect the document relies on is checked.
		e.shell(cmd)
		f := e.expand(strings.Fields(cmd))
		last := f[len(f)-1]
		switch {
		case strings.HasPrefix(cmd, "openssl rand -hex 32 >"):
			b, err := os.ReadFile(last)
			if err != nil || !regexp.MustCompile(`^[0-9a-f]{64}\n$`).Match(b) {
				e.t.Fatalf("%s: %s holds %q (%v), want 64 hex digits", cmd, last, b, err)
			}
		case strings.HasPrefix(cmd, "chmod 600 "):
			if fi, err := os.Stat(last); err != nil || fi.Mode().Perm() != 0o600 {
				e.t.Fatalf("%s: %v %v", cmd, fi.Mode(), err)
			}
		case strings.HasPrefix(cmd, "python3 -m venv "):
			if !fileExists(filepath.Join(last, "bin", "pip")) {
				e.t.Fatalf("%s made no virtualenv with a pip", cmd)
			}
		case strings.HasPrefix(cmd, "ln -s "):
			if _, err := os.Stat(last); err != nil {
				e.t.Fatalf("%s: the link does not resolve: %v", cmd, err)
			}
		}
	}},
	{"pip install chromadb", func(c string) bool { return strings.HasSuffix(c, "/bin/pip install chromadb") }, func(e *docEnv, cmd string) {
		// Stands in for the download: integration/chroma.sh installed chromadb
		// (pinned) from PyPI into the test cache with this same pip command, so
		// its chroma is linked into the virtualenv the block made for real.
		pip := e.expand(strings.Fields(cmd))[0]
		if !fileExists(pip) {
			e.t.Fatalf("%s: no %s (the block should make the virtualenv first)", cmd, pip)
		}
		if err := os.Symlink(chromaCommand(e.t), filepath.Join(filepath.Dir(pip), "chroma")); err != nil {
			e.t.Fatal(err)
		}
	}},
	{"chroma run", func(c string) bool { return strings.Contains(c, "/bin/chroma run ") }, func(e *docEnv, cmd string) {
		// The documented command on a free port instead of 8000 (with the
		// suite's chroma where the block has not installed one), kept running
		// until the block ends.
		args := e.expand(strings.Fields(cmd))
		if !fileExists(args[0]) {
			args[0] = os.Getenv("TASK_ORCHESTRATOR_TEST_CHROMA_COMMAND")
		}
		i := slices.Index(args, "--port")
		if args[0] == "" || i < 0 || slices.Index(args, "--host") < 0 || args[slices.Index(args, "--host")+1] != "127.0.0.1" {
			e.t.Fatalf("%s: want --host 127.0.0.1 and --port (and the chroma of the suite in TASK_ORCHESTRATOR_TEST_CHROMA_COMMAND)", cmd)
		}
		port := freePort(e.t)
		args[i+1] = fmt.Sprint(port)
		e.chromaURL = fmt.Sprintf("http://127.0.0.1:%d", port)
		e.background(cmd, args, nil, func() bool {
			resp, err := http.Get(e.chromaURL + "/api/v2/heartbeat")
			if err == nil {
				resp.Body.Close()
			}
			return err == nil && resp.StatusCode == http.StatusOK
		})
	}},
	{"unpack Neo4j", prefix("tar xzf neo4j-community-"), func(e *docEnv, cmd string) {
		// Stands in for the tarball, which cannot be downloaded here: a
		// stand-in installation (standInNeo4j) whose bin/neo4j runs the test
		// suite's real Neo4j (integration/neo4j.sh, from Maven jars).
		f := e.expand(strings.Fields(cmd))
		version := strings.TrimSuffix(strings.TrimPrefix(f[2], "neo4j-community-"), "-unix.tar.gz")
		if !strings.HasPrefix(version, "5.") || len(f) != 5 || f[3] != "-C" {
			e.t.Fatalf("%s: want tar xzf neo4j-community-5.x-unix.tar.gz -C DIR (the server needs Neo4j 5)", cmd)
		}
		e.neo4jBoltPort = freePort(e.t)
		standInNeo4j(e.t, filepath.Join(f[4], "neo4j-community-"+version), e.neo4jBoltPort)
	}},
	{"neo4j-admin", func(c string) bool { return strings.Contains(c, "/bin/neo4j-admin dbms set-initial-password ") }, func(e *docEnv, cmd string) {
		// The installation's own command (the stand-in of "unpack Neo4j"; a
		// block after the one that unpacked it gets a fresh one at the same place).
		bin := filepath.Dir(e.expand(strings.Fields(cmd))[0])
		if !fileExists(filepath.Join(bin, "neo4j-admin")) {
			e.neo4jBoltPort = freePort(e.t)
			standInNeo4j(e.t, filepath.Dir(bin), e.neo4jBoltPort)
		}
		e.shell(cmd)
		e.neo4jPassword = strings.Fields(cmd)[len(strings.Fields(cmd))-1]
	}},
	{"neo4j console", func(c string) bool { return strings.HasSuffix(c, "/bin/neo4j console") }, func(e *docEnv, cmd string) {
		// The installation's launcher, run as documented and kept until the
		// block ends; doctor must then log in with the password set before it.
		if e.neo4jBoltPort == 0 || e.neo4jPassword == "" {
			e.t.Fatalf("%s: the block must set the password with neo4j-admin first", cmd)
		}
		e.neo4jURI = fmt.Sprintf("bolt://127.0.0.1:%d", e.neo4jBoltPort)
		addr := fmt.Sprintf("127.0.0.1:%d", e.neo4jBoltPort)
		e.background(cmd, e.expand(strings.Fields(cmd)), nil, func() bool {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
			}
			return err == nil
		})
		env := []string{"NEO4J_URI=" + e.neo4jURI, "NEO4J_USERNAME=neo4j", "NEO4J_PASSWORD=" + e.neo4jPassword}
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Second) {
			rep, out, _ := runDoctor(e.t, e.project, env)
			if f, _ := findingOf(rep, "graph (Neo4j)"); f.Level == "ok" {
				break
			} else if time.Now().After(deadline) {
				e.t.Fatalf("%s: doctor cannot use it with the password set by neo4j-admin: %+v\n%s", cmd, f, out)
			}
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
			if strings.HasPrefix(b.body, "#!") {
				runScriptBlock(e, b)
				ran++
				return
			}
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
// client configuration says: a stdio command (the placeholder path replaced
// by the built binary; "mcp-task-orchestrator" found on PATH, started in the
// project's folder with no workspace, as Claude Code starts a project's
// servers), or an HTTP URL with headers (a real server with a token; the
// headers' ${...} variables given that token), or the mcp-remote bridge.
func TestDocumentedClientConfigs(t *testing.T) {
	n := 0
	for _, b := range docBlocks(t) {
		if b.lang != "json" || !strings.Contains(b.body, `"mcpServers"`) {
			continue
		}
		var cfg struct {
			MCPServers map[string]struct {
				Type    string            `json:"type"`
				Command string            `json:"command"`
				Args    []string          `json:"args"`
				Env     map[string]string `json:"env"`
				URL     string            `json:"url"`
				Headers map[string]string `json:"headers"`
			} `json:"mcpServers"`
		}
		if err := json.Unmarshal([]byte(b.body), &cfg); err != nil {
			t.Fatalf("%s: a client configuration that is not valid JSON: %v\n%s", b.file, err, b.body)
		}
		for name, s := range cfg.MCPServers {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			switch {
			case s.URL != "":
				if s.Type != "" && s.Type != "http" {
					t.Fatalf("%s: server %s has type %q; this server speaks Streamable HTTP (\"http\")", b.file, name, s.Type)
				}
				checkHTTPConfig(t, ctx, b.file, s.URL, s.Headers)
			case s.Command == "npx":
				checkMCPRemoteConfig(t, ctx, b.file, s.Args, s.Env)
			case s.Command == "mcp-task-orchestrator":
				checkTeamConfig(t, ctx, b.file, s.Args, s.Env)
			case s.Command == placeholderBinary:
				var env []string
				for k, v := range s.Env {
					if k == "TASK_ORCHESTRATOR_WORKSPACE" {
						continue // initializeWith points it at a real project
					}
					env = append(env, k+"="+v)
				}
				initializeWith(newDocEnv(t, ctx), s.Args, env)
			default:
				t.Fatalf("%s: server %s runs %q; documented configurations use %s, mcp-task-orchestrator (on PATH), a url, or npx mcp-remote",
					b.file, name, s.Command, placeholderBinary)
			}
			cancel()
			t.Logf("%s: %s (%s%s) started as configured", b.file, name, s.Command, s.URL)
			n++
		}
	}
	if n < 7 {
		t.Fatalf("only %d client configurations found in the docs", n)
	}
}

// docToken is the token the HTTP configurations are checked with.
const docToken = "docs-test-token-5f0c2a9e41b7d3c8"

// checkHTTPConfig runs a server with a token, and connects to the
// documented URL (its address replaced) with the documented headers, whose
// token variables are given the token; without the headers it must fail.
func checkHTTPConfig(t *testing.T, ctx context.Context, file, url string, headers map[string]string) {
	t.Helper()
	h := startHTTPServer(t, procOpts{}, t.TempDir(), docToken)
	defer h.stop()
	u := regexp.MustCompile(`^http://127\.0\.0\.1:8765`).ReplaceAllString(url, h.base)
	if u == url {
		t.Fatalf("%s: the URL %s is not the documented server's (http://127.0.0.1:8765/mcp)", file, url)
	}
	given := map[string]string{}
	for k, v := range headers {
		v = strings.NewReplacer("${TASK_ORCHESTRATOR_TOKEN}", docToken, "${env:TASK_ORCHESTRATOR_TOKEN}", docToken).Replace(v)
		given[k] = v
	}
	if given["Authorization"] != "Bearer "+docToken {
		t.Fatalf("%s: the Authorization header %q does not carry the token from TASK_ORCHESTRATOR_TOKEN", file, headers["Authorization"])
	}
	if err := connectHTTP(ctx, u, given); err != nil {
		t.Fatalf("%s: connecting to %s with %v: %v", file, u, headers, err)
	}
	if err := connectHTTP(ctx, u, nil); err == nil {
		t.Fatalf("%s: the server answered without the token", file)
	}
}

// checkMCPRemoteConfig checks a Claude Desktop configuration that bridges to
// the HTTP server with mcp-remote. mcp-remote itself (an npm package) is not
// fetched by the tests: this reads its arguments as it does (the URL, then
// "--header Name:value" with ${VAR} taken from env, "<the token>" standing
// for the token) and connects as it would.
func checkMCPRemoteConfig(t *testing.T, ctx context.Context, file string, args []string, env map[string]string) {
	t.Helper()
	if len(args) < 5 || args[0] != "-y" || args[1] != "mcp-remote" || args[3] != "--header" {
		t.Fatalf("%s: npx args %q: want -y mcp-remote URL --header Name:value", file, args)
	}
	name, value, _ := strings.Cut(args[4], ":")
	value = regexp.MustCompile(`\$\{(\w+)\}`).ReplaceAllStringFunc(value, func(v string) string {
		return strings.ReplaceAll(env[v[2:len(v)-1]], "<the token>", docToken)
	})
	checkHTTPConfig(t, ctx, file, args[2], map[string]string{name: value})
}

// checkTeamConfig starts "mcp-task-orchestrator" as a client does with a
// PATH holding it (and system folders), in a subfolder of a project, with no
// workspace anywhere: the server must pick the project.
func checkTeamConfig(t *testing.T, ctx context.Context, file string, args []string, env map[string]string) {
	t.Helper()
	if len(env) > 0 {
		t.Fatalf("%s: a team configuration with env %v: it must hold nothing of one machine", file, env)
	}
	project := newProject(t)
	sub := filepath.Join(project, "src")
	if err := os.MkdirAll(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Dir(binPath) + ":/usr/bin:/bin"
	found := lookPathIn("mcp-task-orchestrator", path)
	if found == "" {
		t.Fatalf("mcp-task-orchestrator is not found on %s", path)
	}
	p := &proc{t: t, stderr: &lockedBuffer{}}
	p.cmd = exec.Command(found, args...)
	p.cmd.Dir = sub
	p.cmd.Env = []string{"PATH=" + path, "HOME=" + t.TempDir(), "XDG_CONFIG_HOME=" + t.TempDir()}
	p.cmd.Stderr = p.stderr
	connectStdio(t, ctx, p)
	var info struct {
		Root   string `json:"root"`
		Source string `json:"source"`
	}
	p.ok(ctx, "workspace_info", map[string]any{}, &info)
	if info.Root != project || info.Source != "cwd" {
		t.Fatalf("%s: started in %s, the server chose %s (from %s), want %s", file, sub, info.Root, info.Source, project)
	}
}

// lookPathIn finds name in the folders of path, as a client spawning it does.
func lookPathIn(name, path string) string {
	for _, d := range filepath.SplitList(path) {
		if fi, err := os.Stat(filepath.Join(d, name)); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return filepath.Join(d, name)
		}
	}
	return ""
}

// connectStdio starts p.cmd as an MCP stdio server and initializes a client on it.
func connectStdio(t *testing.T, ctx context.Context, p *proc) {
	t.Helper()
	tr := mcptransport.NewStdioWithOptions(p.cmd.Path, p.cmd.Env, p.cmd.Args[1:], mcptransport.WithCommandFunc(
		func(context.Context, string, []string, []string) (*exec.Cmd, error) { return p.cmd, nil }))
	p.c = client.NewClient(tr)
	t.Cleanup(p.close)
	if err := p.c.Start(context.Background()); err != nil {
		t.Fatalf("starting %s: %v", p.cmd.Path, err)
	}
	init := mcp.InitializeRequest{}
	init.Params.ClientInfo = mcp.Implementation{Name: "docs-test", Version: "1"}
	if _, err := p.c.Initialize(ctx, init); err != nil {
		t.Fatalf("initialize %s: %v\n%s", p.cmd.Path, err, tail(p.stderr.String(), 3000))
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

// background starts argv (a server the document runs in the foreground, in
// another terminal) in the block's home, waits until ready says so, and stops
// it with SIGTERM when the block ends.
func (e *docEnv) background(cmd string, argv, env []string, ready func() bool) {
	e.t.Helper()
	c := exec.Command(argv[0], argv[1:]...)
	c.Dir = e.cwd
	c.Env = append(append(os.Environ(), "HOME="+e.home, "XDG_CONFIG_HOME="+filepath.Join(e.home, ".config")), env...)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &lockedBuffer{}
	c.Stdout, c.Stderr = out, out
	if err := c.Start(); err != nil {
		e.t.Fatalf("%s: %v", cmd, err)
	}
	done := make(chan struct{})
	go func() { _ = c.Wait(); close(done) }()
	e.t.Cleanup(func() {
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		select {
		case <-done:
			e.t.Fatalf("%s ended before it was ready:\n%s", cmd, tail(out.String(), 3000))
		default:
		}
		if ready() {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s was not ready within 3 minutes:\n%s", cmd, tail(out.String(), 3000))
		}
	}
}

// standInNeo4j writes at dir a stand-in for a Neo4j 5 installation, since no
// tarball or package can be fetched here: bin/neo4j-admin (only "dbms
// set-initial-password") and bin/neo4j (only "console"), which read
// $NEO4J_CONF/neo4j.conf (else the installation's conf/) as Neo4j does and
// run the test suite's real Neo4j (integration/neo4j.sh run) on the Bolt
// address and data folder it names. It is stricter than Neo4j where that
// helps a test: a setting given twice, or Bolt not on 127.0.0.1, is refused.
// What it cannot show is that Neo4j itself reads those settings the same way.
// Its conf/neo4j.conf holds the settings of the tarball's file that the
// documented script must override, with boltPort standing in for 7687.
func standInNeo4j(t *testing.T, dir string, boltPort int) {
	t.Helper()
	repo, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"bin", "conf", "lib"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	common := `set -eu
home=$(cd "$(dirname "$0")/.." && pwd)
conf="${NEO4J_CONF:-$home/conf}/neo4j.conf"
twice=$(grep -E '^[a-z]' "$conf" | cut -d= -f1 | sort | uniq -d)
[ -z "$twice" ] || { echo "neo4j stand-in: settings given twice in $conf: $twice" >&2; exit 1; }
get() { grep -E "^$1=" "$conf" | cut -d= -f2- || true; }
data=$(get 'server\.directories\.data'); data=${data:-$home/data}
`
	files := map[string]string{
		"bin/neo4j-admin": "#!/bin/sh\n# Stand-in for Neo4j's neo4j-admin (integration/docs_test.go): dbms set-initial-password only.\n" + common + `
[ "$#" = 3 ] && [ "$1 $2" = "dbms set-initial-password" ] || { echo "neo4j-admin stand-in: only dbms set-initial-password PASSWORD" >&2; exit 2; }
[ "${#3}" -ge 8 ] || { echo "Invalid value for password: the minimum password length is 8 characters" >&2; exit 1; }
mkdir -p "$data/dbms"
printf '%s\n' "$3" >"$data/dbms/auth.ini"
`,
		"bin/neo4j": "#!/bin/sh\n# Stand-in for Neo4j's launcher (integration/docs_test.go): console only, on the suite's Neo4j.\n" + common + `
[ "$*" = console ] || { echo "neo4j stand-in: only console" >&2; exit 2; }
addr=$(get 'server\.bolt\.listen_address')
case "$addr" in 127.0.0.1:[0-9]*) ;; *) echo "neo4j stand-in: Bolt must listen on 127.0.0.1, not '$addr'" >&2; exit 1 ;; esac
[ "$(get 'server\.http\.enabled')" != true ] || [ -z "${NEO4J_CONF:-}" ] || { echo "neo4j stand-in: a project's Neo4j must not open HTTP" >&2; exit 1; }
[ -s "$data/dbms/auth.ini" ] || { echo "neo4j stand-in: no password set (neo4j-admin dbms set-initial-password)" >&2; exit 1; }
TASK_ORCHESTRATOR_TEST_CACHE='` + testCache(t) + `' exec bash '` + filepath.Join(repo, "integration", "neo4j.sh") + `' run "$data/server" "${addr##*:}" "$(cat "$data/dbms/auth.ini")"
`,
		"conf/neo4j.conf": fmt.Sprintf(`# Neo4j configuration (stand-in installation of integration/docs_test.go)
#server.directories.data=data
#server.default_listen_address=0.0.0.0
server.bolt.enabled=true
server.bolt.listen_address=127.0.0.1:%d
server.http.enabled=true
server.http.listen_address=:7474
server.memory.heap.max_size=512m
`, boltPort),
	}
	for name, body := range files {
		mode := os.FileMode(0o755)
		if strings.HasPrefix(name, "conf/") {
			mode = 0o644
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
}

// recordedClaude runs cmd with bash, "claude" being a stand-in that records
// its arguments, and returns them.
func (e *docEnv) recordedClaude(cmd string) []string {
	e.t.Helper()
	bin := e.t.TempDir()
	rec := filepath.Join(bin, "argv")
	stub := "#!/bin/sh\n# Stand-in for Claude Code's CLI: records its arguments, one per NUL.\nprintf '%s\\0' \"$@\" >'" + rec + "'\n"
	if err := os.WriteFile(filepath.Join(bin, "claude"), []byte(stub), 0o755); err != nil {
		e.t.Fatal(err)
	}
	e.shell(cmd, bin)
	b, err := os.ReadFile(rec)
	if err != nil {
		e.t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

// claudeAdd is what "claude mcp add" was told: a stdio command, or a URL with headers.
type claudeAdd struct {
	name    string
	command []string
	url     string
	headers map[string]string
}

// parseClaudeAdd reads Claude Code's "mcp add [--transport T] [--header H]...
// [-e K=V]... NAME (URL | -- COMMAND ARGS...)".
func parseClaudeAdd(t testing.TB, argv []string) claudeAdd {
	t.Helper()
	if len(argv) < 3 || argv[0] != "mcp" || argv[1] != "add" {
		t.Fatalf("claude %q: not mcp add", argv)
	}
	a := claudeAdd{headers: map[string]string{}}
	transport := "stdio"
	var pos []string
	for i := 2; i < len(argv); i++ {
		switch argv[i] {
		case "--":
			a.command = argv[i+1:]
			i = len(argv)
		case "--transport", "-t":
			i++
			transport = argv[i]
		case "--header", "-H":
			i++
			k, v, ok := strings.Cut(argv[i], ":")
			if !ok {
				t.Fatalf("claude %q: header %q is not Name: value", argv, argv[i])
			}
			a.headers[strings.TrimSpace(k)] = strings.TrimSpace(v)
		case "-e", "--env", "-s", "--scope":
			i++
		default:
			pos = append(pos, argv[i])
		}
	}
	switch {
	case transport == "http" && len(pos) == 2 && a.command == nil:
		a.name, a.url = pos[0], pos[1]
	case transport == "stdio" && len(pos) == 1 && len(a.command) > 0:
		a.name = pos[0]
	default:
		t.Fatalf("claude %q: want NAME -- COMMAND, or --transport http NAME URL", argv)
	}
	return a
}

// connectHTTP initializes an MCP session at url with headers and lists the tools.
func connectHTTP(ctx context.Context, url string, headers map[string]string) error {
	var opts []mcptransport.StreamableHTTPCOption
	if len(headers) > 0 {
		opts = append(opts, mcptransport.WithHTTPHeaders(headers))
	}
	tr, err := mcptransport.NewStreamableHTTP(url, opts...)
	if err != nil {
		return err
	}
	c := client.NewClient(tr)
	defer c.Close()
	if err := c.Start(ctx); err != nil {
		return err
	}
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
	init.Params.ClientInfo = mcp.Implementation{Name: "docs-test-http", Version: "1"}
	if _, err := c.Initialize(ctx, init); err != nil {
		return err
	}
	tools, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err == nil && len(tools.Tools) == 0 {
		err = errors.New("no tools listed")
	}
	return err
}

// runScriptBlock handles a block that is a script to save (it starts with
// "#!"; its second line, a comment, starts with the path to save it at): it
// is saved there, made executable, checked by sh -n, and then run the way
// its document says, by the entry of docScripts for its name.
func runScriptBlock(e *docEnv, b docBlock) {
	e.t.Helper()
	lines := strings.SplitN(b.body, "\n", 3)
	f := strings.Fields(strings.TrimPrefix(lines[1], "#"))
	if len(lines) < 3 || len(f) == 0 || !strings.HasPrefix(f[0], "~/") {
		e.t.Fatalf("%s: a script block's second line must be a comment starting with the path to save it at (~/...):\n%s", b.file, b.body)
	}
	path := e.expand(f[:1])[0]
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(b.body), 0o755); err != nil {
		e.t.Fatal(err)
	}
	e.shell("sh -n " + path)
	use, ok := docScripts[filepath.Base(path)]
	if !ok {
		e.t.Fatalf("%s documents the script %s, and no entry of docScripts in integration/docs_test.go runs it: add one", b.file, f[0])
	}
	e.t.Logf("%s: the script %s, saved and run as documented", b.file, f[0])
	use(e, path, b.file)
}

// docScripts runs each documented script as its document says to use it.
var docScripts = map[string]func(e *docEnv, path, file string){
	"neo4j-project": func(e *docEnv, path, file string) {
		// backends.neo4j_command as documented (the JSON block of the same
		// document), the script at its default place for the tarball
		// (~/opt/neo4j, here the stand-in installation of standInNeo4j): the
		// server starts the project's Neo4j through it, the graph tools work
		// on it (raw Cypher too: the server is the project's own), and the
		// config the script wrote binds Bolt to the server's port on 127.0.0.1
		// without HTTP.
		standInNeo4j(e.t, filepath.Join(e.home, "opt", "neo4j"), freePort(e.t))
		cfg := documentedJSON(e.t, file, `"neo4j_command"`)
		cfg = strings.ReplaceAll(cfg, "/home/you", e.home)
		if !strings.Contains(cfg, path) {
			e.t.Fatalf("%s: the neo4j_command of the document does not run %s:\n%s", file, path, cfg)
		}
		p := start(e.t, procOpts{dir: e.project, globalConfig: cfg,
			env: []string{"HOME=" + e.home, "NEO4J_URI=", "CHROMA_URL=", "TASK_ORCHESTRATOR_TEST_CACHE=" + testCache(e.t)}})
		ctx, cancel := context.WithTimeout(e.ctx, 4*time.Minute)
		defer cancel()
		p.ok(ctx, "graph_merge_node", map[string]any{"workspace": e.project, "label": "Component", "key": "auth"}, nil)
		var q struct {
			Rows []map[string]any `json:"rows"`
		}
		p.ok(ctx, "graph_query", map[string]any{"workspace": e.project, "cypher": "MATCH (c:Component {key: 'auth'}) RETURN c.key AS key"}, &q)
		if len(q.Rows) != 1 || q.Rows[0]["key"] != "auth" {
			e.t.Fatalf("graph_query on the project's Neo4j: %+v", q.Rows)
		}
		conf, err := os.ReadFile(filepath.Join(e.project, ".task_orchestrator", "databases", "neo4j", "conf", "neo4j.conf"))
		if err != nil {
			e.t.Fatalf("the script wrote no neo4j.conf under {data_dir}: %v", err)
		}
		if !regexp.MustCompile(`(?m)^server\.bolt\.listen_address=127\.0\.0\.1:\d+$`).Match(conf) ||
			!regexp.MustCompile(`(?m)^server\.http\.enabled=false$`).Match(conf) ||
			!regexp.MustCompile(`(?m)^server\.memory\.heap\.max_size=512m$`).Match(conf) {
			e.t.Fatalf("the neo4j.conf the script wrote:\n%s", conf)
		}
		p.close()
	},
}

// documentedJSON returns the one JSON block of file that contains marker.
func documentedJSON(t *testing.T, file, marker string) string {
	t.Helper()
	var found []string
	for _, b := range docBlocks(t) {
		if b.file == file && b.lang == "json" && strings.Contains(b.body, marker) {
			found = append(found, b.body)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s: %d JSON blocks hold %s, want 1", file, len(found), marker)
	}
	return found[0]
}
