package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// doctorReport is the part of `doctor --json` the tests read.
type doctorReport struct {
	Findings     []finding `json:"findings"`
	ClientConfig struct {
		ClaudeDesktopJSON string `json:"claude_desktop_json"`
		ClaudeCode        string `json:"claude_code"`
	} `json:"client_config"`
	Errors   int `json:"errors"`
	Warnings int `json:"warnings"`
}

type finding struct {
	Check  string `json:"check"`
	Level  string `json:"level"`
	Detail string `json:"detail"`
	Fix    string `json:"fix"`
}

// runCLI runs the binary with args in dir and returns stdout, stderr and the exit code.
func runCLI(t *testing.T, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir(), "TASK_ORCHESTRATOR_WORKSPACE=",
		"CHROMA_URL=", "NEO4J_URI=", "NEO4J_USERNAME=", "NEO4J_PASSWORD=", "TASK_ORCHESTRATOR_EMBEDDINGS_PROVIDER=")
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), code
}

func runDoctor(t *testing.T, dir string, env []string, args ...string) (doctorReport, string, int) {
	t.Helper()
	out, stderr, code := runCLI(t, dir, env, append([]string{"doctor", "--json"}, args...)...)
	var rep doctorReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("doctor --json printed something that is not its report (%v):\n%s\nstderr:\n%s", err, out, stderr)
	}
	return rep, out + stderr, code
}

// A project that has been used (tasks.db exists), a reachable Chroma and
// Neo4j with the right password: every finding is ok and doctor exits 0,
// naming the versions it found; the Neo4j password appears nowhere.
func TestDoctorOnAHealthySetupIsAllOK(t *testing.T) {
	project := newProject(t)
	p := start(t, procOpts{dir: project})
	p.ok(ctxT(t), "task_create", map[string]any{"workspace": project, "title": "make doctor read a real database"}, nil)
	p.close()

	env := append(sharedNeo4jEnv(t), "CHROMA_URL="+chromaURL(t))
	rep, all, code := runDoctor(t, project, env)
	for _, f := range rep.Findings {
		if f.Level != "ok" {
			t.Errorf("%s: %s %s (fix: %s)", f.Check, f.Level, f.Detail, f.Fix)
		}
	}
	if code != 0 || rep.Errors != 0 || rep.Warnings != 0 {
		t.Fatalf("exit %d, %d errors, %d warnings on a healthy set-up", code, rep.Errors, rep.Warnings)
	}
	want := map[string]string{
		"project root":    project,
		"tasks (SQLite)":  "integrity ok, 1 task,",
		"vector (Chroma)": "answers its heartbeat",
		"graph (Neo4j)":   "Neo4j 5.",
	}
	for check, text := range want {
		if d := detailOf(rep, check); !strings.Contains(d, text) {
			t.Errorf("%s: want %q in %q", check, text, d)
		}
	}
	if !strings.Contains(rep.ClientConfig.ClaudeDesktopJSON, `"command": "`+binPath+`"`) {
		t.Errorf("the Claude Desktop snippet does not start this binary by absolute path:\n%s", rep.ClientConfig.ClaudeDesktopJSON)
	}
	var snippet map[string]any
	if err := json.Unmarshal([]byte(rep.ClientConfig.ClaudeDesktopJSON), &snippet); err != nil {
		t.Errorf("the Claude Desktop snippet is not JSON: %v", err)
	}
	assertNoPassword(t, all)

	text, _, code := runCLI(t, project, env, "doctor")
	if code != 0 || !strings.Contains(text, "0 errors, 0 warnings.") || !strings.Contains(text, "mcpServers") {
		t.Fatalf("the text report (exit %d):\n%s", code, text)
	}
	assertNoPassword(t, text)
}

// configFixture is a sample config under testdata/configs/ (good/ or bad/;
// its README says what each shows).
func configFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "configs", filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Chroma down, a bad project config and a wrong Neo4j password: exactly three
// errors, each naming its fix, and exit code 1. The wrong password is never printed.
func TestDoctorNamesEachBrokenThingAndItsFix(t *testing.T) {
	project := newProject(t)
	cfgDir := filepath.Join(project, ".task_orchestrator", "configs")
	for _, d := range []string{"databases", "artifacts", "configs", "logs"} {
		if err := os.MkdirAll(filepath.Join(project, ".task_orchestrator", d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// max_connections is on line 4.
	bad := configFixture(t, "bad/project-zero-connections.json")
	if err := os.WriteFile(filepath.Join(cfgDir, "config.json"), bad, 0o600); err != nil {
		t.Fatal(err)
	}
	closedPort := freePort(t) // listened on, then closed: nothing answers there
	const wrongPassword = "wrong-doctor-password-SECRET-51c"
	env := []string{
		"CHROMA_URL=http://127.0.0.1:" + strconv.Itoa(closedPort),
		"NEO4J_URI=" + neo4jEnvVar(t, "TASK_ORCHESTRATOR_TEST_NEO4J_URI"),
		"NEO4J_USERNAME=neo4j",
		"NEO4J_PASSWORD=" + wrongPassword,
	}
	rep, all, code := runDoctor(t, project, env, "--workspace", project)
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	var errs []string
	for _, f := range rep.Findings {
		if f.Level == "error" {
			errs = append(errs, f.Check+": "+f.Detail+" | fix: "+f.Fix)
		}
	}
	if rep.Errors != 3 || len(errs) != 3 {
		t.Fatalf("want exactly 3 errors, got %d:\n%s", rep.Errors, strings.Join(errs, "\n"))
	}
	cases := []struct{ check, detail, fix string }{
		{"vector (Chroma)", "does not answer its heartbeat", "CHROMA_URL"},
		{"project config", "max_connections", "line 4: max_connections must be between 1 and 32"},
		{"graph (Neo4j)", "refuses the credentials", "NEO4J_PASSWORD"},
	}
	for _, c := range cases {
		f, ok := findingOf(rep, c.check)
		if !ok || f.Level != "error" || !strings.Contains(f.Detail, c.detail) || !strings.Contains(f.Fix, c.fix) {
			t.Errorf("%s: want an error about %q with a fix naming %q, got %+v", c.check, c.detail, c.fix, f)
		}
	}
	if strings.Contains(all, wrongPassword) {
		t.Errorf("the wrong password appears in doctor's output")
	}
	text, _, code := runCLI(t, project, env, "doctor", "--workspace", project)
	if code != 1 || !strings.Contains(text, "3 errors") || strings.Count(text, "fix: ") < 3 || strings.Contains(text, wrongPassword) {
		t.Fatalf("the text report (exit %d):\n%s", code, text)
	}
}

// doctor creates and changes nothing: a fresh project stays without a data folder.
func TestDoctorCreatesNothing(t *testing.T) {
	project := newProject(t)
	rep, _, code := runDoctor(t, project, nil)
	if code != 0 {
		t.Fatalf("exit %d: %+v", code, rep)
	}
	if _, err := os.Stat(filepath.Join(project, ".task_orchestrator")); !os.IsNotExist(err) {
		t.Fatalf("doctor created the project's data folder")
	}
	if d := detailOf(rep, "data folder"); !strings.Contains(d, "does not exist yet") {
		t.Errorf("data folder: %q", d)
	}
	// Nothing configured: the two optional backends are warnings, not errors.
	for _, check := range []string{"vector (Chroma)", "graph (Neo4j)"} {
		if f, _ := findingOf(rep, check); f.Level != "warning" || f.Fix == "" {
			t.Errorf("%s unconfigured: %+v", check, f)
		}
	}
}

// A global config with a syntax error is reported with its line and column,
// and the rest of the checks still run.
func TestDoctorReportsAGlobalConfigSyntaxErrorWithItsLine(t *testing.T) {
	project := newProject(t)
	cfg := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(cfg, configFixture(t, "bad/global-double-comma.json"), 0o600); err != nil {
		t.Fatal(err)
	}
	rep, _, code := runDoctor(t, project, nil, "--config", cfg)
	f, _ := findingOf(rep, "global config")
	if code != 1 || f.Level != "error" || !strings.Contains(f.Fix, "line 3") || !strings.Contains(f.Fix, cfg) {
		t.Fatalf("exit %d, global config finding %+v", code, f)
	}
	if _, ok := findingOf(rep, "tasks (SQLite)"); !ok {
		t.Errorf("the checks stopped at the bad global config")
	}
	if !strings.Contains(rep.ClientConfig.ClaudeCode, "--config "+cfg) {
		t.Errorf("the Claude Code command does not pass --config: %s", rep.ClientConfig.ClaudeCode)
	}
}

func findingOf(rep doctorReport, check string) (finding, bool) {
	for _, f := range rep.Findings {
		if f.Check == check {
			return f, true
		}
	}
	return finding{}, false
}

func detailOf(rep doctorReport, check string) string {
	f, _ := findingOf(rep, check)
	return f.Detail
}

func assertNoPassword(t *testing.T, out string) {
	t.Helper()
	if pw := neo4jEnvVar(t, "TASK_ORCHESTRATOR_TEST_NEO4J_PASSWORD"); strings.Contains(out, pw) {
		t.Errorf("the Neo4j password appears in doctor's output")
	}
}

// The managed Chroma executable is not only found but run: a working one is ok
// with its version, one whose interpreter is gone is an error with a fix.
func TestDoctorRunsTheManagedChromaExecutable(t *testing.T) {
	project := newProject(t)
	rep, _, code := runDoctor(t, project, []string{"TASK_ORCHESTRATOR_CHROMA_COMMAND=" + chromaCommand(t)})
	f, _ := findingOf(rep, "vector (Chroma)")
	if code != 0 || f.Level != "ok" || !strings.Contains(f.Detail, "managed (chroma ") {
		t.Errorf("a working chroma: exit %d, %+v", code, f)
	}
	broken := filepath.Join(t.TempDir(), "chroma")
	if err := os.WriteFile(broken, []byte("#!/nonexistent/venv/bin/python\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	rep, _, code = runDoctor(t, project, []string{"TASK_ORCHESTRATOR_CHROMA_COMMAND=" + broken})
	f, _ = findingOf(rep, "vector (Chroma)")
	if code != 1 || f.Level != "error" || !strings.Contains(f.Detail, "does not run") || !strings.Contains(f.Fix, "pip install") {
		t.Errorf("a broken chroma: exit %d, %+v", code, f)
	}
}

// A data folder others may write to and a damaged tasks.db are errors with
// their fixes; a project outside --allow-root is named as such.
func TestDoctorFindsAnOpenDataFolderAndADamagedDatabase(t *testing.T) {
	project := newProject(t)
	p := start(t, procOpts{dir: project})
	for i := range 50 {
		p.ok(ctxT(t), "task_create", map[string]any{"workspace": project, "title": "task " + strconv.Itoa(i),
			"description": strings.Repeat("filler text ", 40)}, nil)
	}
	p.close() // checkpoints the WAL into tasks.db

	db := tasksDB(project)
	f, err := os.OpenFile(db, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	if fi.Size() < 5*4096 {
		t.Fatalf("tasks.db is only %d bytes", fi.Size())
	}
	// Scribble over the second half of the file: b-tree pages of the tasks.
	junk := []byte(strings.Repeat("\xde\xad\xbe\xef", 1024))
	for off := fi.Size() / 2; off+4096 <= fi.Size(); off += 8192 {
		if _, err := f.WriteAt(junk, off); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	dataDir := filepath.Join(project, ".task_orchestrator")
	if err := os.Chmod(dataDir, 0o757); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dataDir, 0o700) })

	rep, _, code := runDoctor(t, project, nil)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	folder, _ := findingOf(rep, "data folder")
	if folder.Level != "error" || !strings.Contains(folder.Detail, "writable by group or others") || folder.Fix != "chmod 700 "+dataDir {
		t.Errorf("the open data folder: %+v", folder)
	}
	tasks, _ := findingOf(rep, "tasks (SQLite)")
	if tasks.Level != "error" || !strings.Contains(tasks.Detail, "is damaged") || !strings.Contains(tasks.Fix, "backup") {
		t.Errorf("the damaged database: %+v", tasks)
	}

	rep, _, code = runDoctor(t, project, nil, "--allow-root", t.TempDir())
	root, _ := findingOf(rep, "project root")
	if code != 1 || root.Level != "error" || !strings.Contains(root.Detail, "outside every --allow-root") {
		t.Errorf("a project outside --allow-root: exit %d, %+v", code, root)
	}
}
