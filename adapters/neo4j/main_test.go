package neo4j_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"go.uber.org/goleak"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/neo4j"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// A real Neo4j, never a mock: integration/test-all.sh fetches the pinned
// Neo4j Community jars, starts a shared server and exports these.
var (
	neo4jURI      string // the shared server (user neo4j)
	neo4jPassword string
	neo4jLib      string // the jar folder: managed-mode and outage tests start their own servers
)

func TestMain(m *testing.M) {
	neo4jURI = os.Getenv("TASK_ORCHESTRATOR_TEST_NEO4J_URI")
	neo4jPassword = os.Getenv("TASK_ORCHESTRATOR_TEST_NEO4J_PASSWORD")
	neo4jLib = os.Getenv("TASK_ORCHESTRATOR_TEST_NEO4J_LIB")
	if neo4jURI == "" || neo4jPassword == "" || neo4jLib == "" {
		fmt.Fprintln(os.Stderr, "adapters/neo4j: these tests need a real Neo4j server, and TASK_ORCHESTRATOR_TEST_NEO4J_URI / "+
			"TASK_ORCHESTRATOR_TEST_NEO4J_PASSWORD / TASK_ORCHESTRATOR_TEST_NEO4J_LIB are not all set.\n"+
			"Run `bash integration/test-all.sh` (it fetches and starts one), or start one yourself:\n"+
			"  export TASK_ORCHESTRATOR_TEST_NEO4J_LIB=$(bash integration/neo4j.sh install)\n"+
			"  export TASK_ORCHESTRATOR_TEST_NEO4J_PASSWORD=some-password\n"+
			"  read TASK_ORCHESTRATOR_TEST_NEO4J_URI PID < <(bash integration/neo4j.sh start /tmp/neo4j-test \"$TASK_ORCHESTRATOR_TEST_NEO4J_PASSWORD\")\n"+
			"  export TASK_ORCHESTRATOR_TEST_NEO4J_URI")
		os.Exit(2)
	}
	goleak.VerifyTestMain(m)
}

var quiet = slog.New(slog.DiscardHandler)

// project makes a fresh project root (its own ProjectID on the shared server).
func project(t testing.TB) workspace.Layout {
	t.Helper()
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(base, "proj")
	if err := os.MkdirAll(root, 0o700); err != nil {
		t.Fatal(err)
	}
	layout, err := workspace.Ensure(root)
	if err != nil {
		t.Fatalf("workspace.Ensure(%s): %v", root, err)
	}
	return layout
}

// sharedOptions reaches the shared test server; dedicated lists the project
// in backends.neo4j_dedicated_projects (raw Cypher allowed).
func sharedOptions(layout workspace.Layout, dedicated bool) neo4j.Options {
	opts := neo4j.Options{
		Workspace: layout.Root,
		Layout:    layout,
		Settings:  workspace.Defaults().DatabasePools.Graph,
		Backends: workspace.Backends{Neo4jURI: neo4jURI, Neo4jUsername: "neo4j",
			Neo4jPassword: workspace.Secret(neo4jPassword)},
		Logger: quiet,
	}
	if dedicated {
		opts.Backends.Neo4jDedicatedProjects = []string{layout.Root}
	}
	return opts
}

// open opens a store; on cleanup it closes it and removes the project's nodes
// from the shared server.
func open(t testing.TB, opts neo4j.Options) *neo4j.Store {
	t.Helper()
	s, err := neo4j.Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
		if opts.Backends.Neo4jURI == neo4jURI {
			adminRun(t, "MATCH (n) WHERE n._project = $p DETACH DELETE n", map[string]any{"p": neo4j.ProjectID(opts.Layout.Root)})
		}
	})
	return s
}

// adminRun runs a statement on the shared server directly (checks and clean-up).
func adminRun(t testing.TB, cypher string, params map[string]any) []map[string]any {
	t.Helper()
	ctx := context.Background()
	d, err := driver.NewDriverWithContext(neo4jURI, driver.BasicAuth("neo4j", neo4jPassword, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	res, err := driver.ExecuteQuery(ctx, d, cypher, params, driver.EagerResultTransformer)
	if err != nil {
		t.Fatalf("admin %q: %v", cypher, err)
	}
	rows := make([]map[string]any, len(res.Records))
	for i, r := range res.Records {
		rows[i] = r.AsMap()
	}
	return rows
}

// wantKind fails unless err is a *neo4j.Error of kind k whose message holds every part.
func wantKind(t testing.TB, err error, k neo4j.Kind, parts ...string) *neo4j.Error {
	t.Helper()
	var e *neo4j.Error
	if !errors.As(err, &e) || e.Kind != k {
		t.Fatalf("error = %v (%T), want kind %s", err, err, k)
	}
	for _, p := range parts {
		if !strings.Contains(e.Msg, p) {
			t.Errorf("message %q does not mention %q", e.Msg, p)
		}
	}
	return e
}

func merge(t testing.TB, s *neo4j.Store, label, key string, props map[string]any) neo4j.Node {
	t.Helper()
	n, err := s.MergeNode(context.Background(), neo4j.NodeRef{Label: label, Key: key}, props)
	if err != nil {
		t.Fatalf("MergeNode(%s, %s): %v", label, key, err)
	}
	return n
}

func relate(t testing.TB, s *neo4j.Store, from, to neo4j.NodeRef, typ string, props map[string]any) neo4j.Relationship {
	t.Helper()
	r, err := s.MergeRelationship(context.Background(), from, to, typ, props)
	if err != nil {
		t.Fatalf("MergeRelationship(%v -%s-> %v): %v", from, typ, to, err)
	}
	return r
}

// javaServer is the command line of integration/neo4j/Main.java (the same
// java and options integration/neo4j.sh uses), with args appended.
func javaServer(t testing.TB, args ...string) []string {
	t.Helper()
	java := os.Getenv("NEO4J_JAVA")
	if java == "" {
		java = "/usr/lib/jvm/java-17-openjdk-amd64/bin/java"
		if _, err := os.Stat(java); err != nil {
			p, err := exec.LookPath("java")
			if err != nil {
				t.Fatalf("no java found for the test Neo4j server: install a JDK 17 or set NEO4J_JAVA")
			}
			java = p
		}
	}
	argv := []string{java, "-Xms64m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"--add-opens=java.base/java.nio=ALL-UNNAMED", "--add-opens=java.base/java.io=ALL-UNNAMED",
		"--add-opens=java.base/java.lang=ALL-UNNAMED", "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
		"-Dio.netty.tryReflectionSetAccessible=true", "-Dlog4j2.disable.jmx=true", "-Dfile.encoding=UTF-8"}
	classes := filepath.Join(filepath.Dir(neo4jLib), "classes")
	if _, err := os.Stat(filepath.Join(classes, "Main.class")); err == nil {
		argv = append(argv, "-cp", classes+":"+filepath.Join(neo4jLib, "*"), "Main")
	} else {
		src, err := filepath.Abs(filepath.Join("..", "..", "integration", "neo4j", "Main.java"))
		if err != nil {
			t.Fatal(err)
		}
		argv = append(argv, "-cp", filepath.Join(neo4jLib, "*"), src)
	}
	return append(argv, args...)
}

// serverProcess is a Neo4j this test owns, on a port it chooses.
type serverProcess struct {
	pid    int
	exited chan struct{} // closed once the process has been reaped
	log    string
}

// runServer starts Main.java on port with its home in dir and waits for READY.
func runServer(t testing.TB, dir string, port int, password string) *serverProcess {
	t.Helper()
	logPath := fmt.Sprintf("%s.%d.log", dir, time.Now().UnixNano())
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	argv := javaServer(t, dir, strconv.Itoa(port))
	cmd := exec.Command(argv[0], argv[1:]...)
	// The password through the environment, as integration/neo4j.sh does.
	cmd.Env = append(os.Environ(), "NEO4J_TEST_SERVER_PASSWORD="+password)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	logf.Close()
	if err != nil {
		t.Fatalf("start neo4j: %v", err)
	}
	p := &serverProcess{pid: cmd.Process.Pid, exited: make(chan struct{}), log: logPath}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	t.Cleanup(p.stop)
	deadline := time.Now().Add(120 * time.Second)
	for !strings.Contains(tail(logPath), "\nREADY\n") {
		select {
		case <-p.exited:
			t.Fatalf("neo4j on port %d exited during start-up; log:\n%s", port, tail(logPath))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("neo4j on port %d was not READY in 120s; log:\n%s", port, tail(logPath))
		}
		time.Sleep(100 * time.Millisecond)
	}
	return p
}

// stop sends SIGTERM to the server's process group and waits for it. Idempotent.
func (p *serverProcess) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = syscall.Kill(-p.pid, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		<-p.exited
	}
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return "\n" + string(b)
}
