package integration

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// doctor hands CHROMA_URL and NEO4J_URI on in its client snippets; a
// user:password inside them must not be printed, as text or as JSON, on
// stdout or stderr. The URLs point at the shared servers, so the probes run.
func TestRefusalsDoctorPrintsNoPasswordInsideAURL(t *testing.T) {
	const chromaPw, neo4jPw = "ChromaPw-refusals-7f3a", "Neo4jPw-refusals-91c2"
	withUser := func(u, user, pw string) string {
		scheme, rest, _ := strings.Cut(u, "://")
		return scheme + "://" + user + ":" + pw + "@" + rest
	}
	env := []string{
		"CHROMA_URL=" + withUser(chromaURL(t), "chroma", chromaPw),
		"NEO4J_URI=" + withUser(neo4jEnvVar(t, "TASK_ORCHESTRATOR_TEST_NEO4J_URI"), "neo4j", neo4jPw),
	}
	project := newProject(t)
	for _, args := range [][]string{{"doctor"}, {"doctor", "--json"}} {
		stdout, stderr, _ := runCLI(t, project, env, args...)
		for _, pw := range []string{chromaPw, neo4jPw} {
			if strings.Contains(stdout, pw) || strings.Contains(stderr, pw) {
				t.Errorf("%v prints the password %s:\nstdout:\n%s\nstderr:\n%s", args, pw, stdout, stderr)
			}
		}
		if !strings.Contains(stdout, "NEO4J_URI holds a credential, shown as ***") || !strings.Contains(stdout, "://***@") {
			t.Errorf("%v does not say that the URL's credential is masked:\n%s", args, stdout)
		}
	}
}

// A project the server refuses to open — the user's or the repository's
// doing — gets the reason as the tool error: one sentence naming the
// project-relative path, what is wrong and how to fix it; never "internal
// error (ref …)" with the reason only on stderr.
func TestRefusalsReachTheAgentAsTheirReason(t *testing.T) {
	writeConfig := func(t *testing.T, project string, data []byte) {
		t.Helper()
		dir := filepath.Join(project, ".task_orchestrator", "configs")
		if err := os.MkdirAll(filepath.Join(project, ".task_orchestrator"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	manyBadKeys := func() []byte {
		var b strings.Builder
		b.WriteString(`{"database_pools": {"vector": {`)
		for i := range 200 { // under the 64 KiB and 256-key bounds: the problems are listed, capped
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`"bogus_key_` + strings.Repeat("x", 20) + `_` + strconv.Itoa(i) + `": 1`)
		}
		b.WriteString("}}}")
		return []byte(b.String())
	}
	cases := []struct {
		name  string
		setup func(t *testing.T, project string)
		want  []string // in this order
	}{
		{"symlinked data folder", func(t *testing.T, project string) {
			elsewhere := t.TempDir()
			if err := os.Symlink(elsewhere, filepath.Join(project, ".task_orchestrator")); err != nil {
				t.Fatal(err)
			}
		}, []string{"this project's data folder cannot be used: .task_orchestrator is a symlink; replace it with a real folder"}},
		{"data folder open to everyone (0777)", func(t *testing.T, project string) {
			dir := filepath.Join(project, ".task_orchestrator")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, 0o777); err != nil {
				t.Fatal(err)
			}
		}, []string{"this project's data folder cannot be used: .task_orchestrator is writable by group or others (mode 0777); fix with: chmod 700 .task_orchestrator"}},
		{"config that is not JSON", func(t *testing.T, project string) {
			writeConfig(t, project, []byte(`{"database_pools": {`))
		}, []string{"this project's configuration is not valid, so its databases were not opened; fix it and retry: .task_orchestrator/configs/config.json: line 1", "fix the JSON syntax"}},
		{"config with a value out of range", func(t *testing.T, project string) {
			writeConfig(t, project, []byte(`{"database_pools": {"operational": {"max_connections": 0}}}`))
		}, []string{"this project's configuration is not valid, so its databases were not opened; fix it and retry:\n- .task_orchestrator/configs/config.json: database_pools.operational.", "max_connections = 0: must be between 1 and "}},
		{"oversized config", func(t *testing.T, project string) {
			writeConfig(t, project, append([]byte(`{"database_pools": {}, "pad": "`), append([]byte(strings.Repeat("x", 2<<20)), '"', '}')...))
		}, []string{"the project config was refused: .task_orchestrator/configs/config.json: is ", " bytes, over the "}},
		{"config with 200 unknown keys", func(t *testing.T, project string) {
			writeConfig(t, project, manyBadKeys())
		}, []string{"this project's configuration is not valid, so its databases were not opened; fix it and retry:\n- .task_orchestrator/configs/config.json: database_pools.vector.bogus_key_", "\n… and "}},
	}
	p := start(t, procOpts{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			project := newProject(t)
			tc.setup(t, project)
			res := p.call(ctxT(t), "task_list", map[string]any{"workspace": project})
			msg := text(res)
			if !res.IsError {
				t.Fatalf("task_list on a refused project succeeded: %s", msg)
			}
			if strings.Contains(msg, "internal error") {
				t.Fatalf("the refusal reached the agent as an internal error:\n%s", msg)
			}
			rest := msg
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("want %q in the tool error:\n%.5000s", w, msg)
				}
				rest = rest[i+len(w):]
			}
			if strings.Contains(msg, project+string(filepath.Separator)) {
				t.Errorf("the tool error names files by absolute path, not project-relative:\n%.2000s", msg)
			}
			if len(msg) > 4<<10 {
				t.Errorf("the tool error is %d bytes; the cap is 4 KiB", len(msg))
			}
		})
	}
}

// Over stdio without --allow-root, system folders are no projects: whether
// named directly, through a symlink, or as a device whose folder would have
// been the root (workspace "/dev/null" made /dev/.task_orchestrator). FIFOs
// and sockets are refused as paths. Nothing is created in a refused place.
// A regular file inside a project still resolves to the project.
func TestRefusalsOfSystemFoldersAndSpecialFilesCreateNothing(t *testing.T) {
	if overHTTP {
		t.Skip("system folders are refused over stdio without --allow-root; over HTTP --allow-root decides")
	}
	short, err := os.MkdirTemp("", "rf") // a socket's path must stay short
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(short) })
	project := filepath.Join(short, "p")
	if err := os.MkdirAll(filepath.Join(project, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(project, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(project, "s.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	etcLink := filepath.Join(short, "etc-link")
	if err := os.Symlink("/etc", etcLink); err != nil {
		t.Fatal(err)
	}

	const systemFolder = `is a system folder, not a project; pass a project folder (any path inside your project) as the "workspace" argument, or set TASK_ORCHESTRATOR_WORKSPACE`
	cases := []struct {
		path, want string
		watched    string // where .task_orchestrator must not appear
	}{
		{"/dev/null", `"/dev/null" is a character device, not a folder or file of a project; pass a project folder`, "/dev"},
		{"/etc", `"/etc" ` + systemFolder, "/etc"},
		{etcLink, `"/etc" ` + systemFolder, "/etc"},
		{"/usr/bin", systemFolder, "/usr/bin"},
		{"/var/log", `"/var/log" ` + systemFolder, "/var/log"},
		{"/proc", `"/proc" ` + systemFolder, "/proc"},
		{fifo, `"` + fifo + `" is a named pipe (FIFO), not a folder or file of a project; pass a project folder`, project},
		{sock, `"` + sock + `" is a socket, not a folder or file of a project; pass a project folder`, project},
	}
	p := start(t, procOpts{dir: short})
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			data := filepath.Join(tc.watched, ".task_orchestrator")
			if _, err := os.Lstat(data); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("%s exists before the call (left by an earlier run?); remove it and rerun", data)
			}
			t.Cleanup(func() {
				// On a server that accepts the path, the call creates it: leave the system clean.
				if _, err := os.Lstat(data); err == nil {
					_ = os.RemoveAll(data)
				}
			})
			res := p.call(ctxT(t), "task_list", map[string]any{"workspace": tc.path})
			msg := text(res)
			if !res.IsError || !strings.Contains(msg, tc.want) {
				t.Errorf("task_list in %s: error=%v, want %q in:\n%s", tc.path, res.IsError, tc.want, msg)
			}
			if _, err := os.Lstat(data); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("refusing %s created %s", tc.path, data)
			}
		})
	}

	other := newProject(t)
	readme := filepath.Join(other, "README.md")
	if err := os.WriteFile(readme, []byte("a project\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p.ok(ctxT(t), "task_create", map[string]any{"workspace": readme, "title": "a file inside the project names the project"}, nil)
	if _, err := os.Stat(tasksDB(other)); err != nil {
		t.Fatalf("a call naming %s did not use the project %s: %v", readme, other, err)
	}
}
