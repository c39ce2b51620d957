package integration

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// The binary over Streamable HTTP: bearer auth, --allow-root enforced for the
// workspace argument, tools work on every protocol version, /healthz and /metrics
// answer, and SIGTERM shuts down gracefully.
func TestHTTPTransportEndToEnd(t *testing.T) {
	allowed := t.TempDir()
	allowed, _ = filepath.EvalSymlinks(allowed)
	project := filepath.Join(allowed, "proj")
	if err := os.MkdirAll(filepath.Join(project, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	outside := newProject(t)
	const token = "http-test-token-SECRET-123"
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	cmd := exec.Command(binPath, "--http", fmt.Sprintf("127.0.0.1:%d", port), "--allow-root", allowed, "--auth-token-file", tokenFile, "--validate-output")
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir(), "TASK_ORCHESTRATOR_WORKSPACE=")
	stderr := &lockedBuffer{}
	var stdout strings.Builder
	cmd.Stderr, cmd.Stdout = stderr, &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitFor(t, 30*time.Second, func() bool {
		res, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	}, "/healthz")

	ctx := ctxT(t)
	// Without the token: refused.
	noAuth, err := client.NewStreamableHttpClient(base + "/mcp")
	if err != nil {
		t.Fatal(err)
	}
	init := mcp.InitializeRequest{}
	init.Params.ClientInfo = mcp.Implementation{Name: "http-test", Version: "1"}
	init.Params.ProtocolVersion = "2025-11-25"
	if _, err := noAuth.Initialize(ctx, init); err == nil {
		t.Fatalf("initialize without the token succeeded")
	}
	_ = noAuth.Close()

	for _, proto := range []string{"2026-07-28", "2025-11-25", "2025-06-18"} {
		t.Run(proto, func(t *testing.T) {
			tr, err := transport.NewStreamableHTTP(base+"/mcp", transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token}))
			if err != nil {
				t.Fatal(err)
			}
			c := client.NewClient(tr, client.WithProtocolVersion(proto))
			defer c.Close()
			if err := c.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			in := init
			in.Params.ProtocolVersion = proto
			if _, err := c.Initialize(ctx, in); err != nil {
				t.Fatalf("initialize: %v\n%s", err, stderr.String())
			}
			call := func(name string, args map[string]any) *mcp.CallToolResult {
				req := mcp.CallToolRequest{}
				req.Params.Name, req.Params.Arguments = name, args
				res, err := c.CallTool(ctx, req)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				return res
			}
			if res := call("task_create", map[string]any{"workspace": project, "title": "over http " + proto}); res.IsError {
				t.Fatalf("task_create inside --allow-root: %s", text(res))
			}
			res := call("task_create", map[string]any{"workspace": outside, "title": "escape"})
			if msg := text(res); !res.IsError || !strings.Contains(strings.ToLower(msg), "allow") {
				t.Fatalf("a workspace outside --allow-root was not refused: %v %q", res.IsError, msg)
			}
			if _, err := os.Stat(filepath.Join(outside, ".task_orchestrator")); !os.IsNotExist(err) {
				t.Fatalf("the refused project was touched")
			}
		})
	}

	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{"tool_calls_total", "task_create", "sqlite.writer", "acquires",
		// one refused workspace per protocol version, counted by reason and agent
		`task_orchestrator_limit_rejections_total{agent="token",reason="workspace"} 3`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd); code != 0 {
		t.Fatalf("exit %d after SIGTERM:\n%s", code, stderr.String())
	}
	if stdout.Len() != 0 {
		t.Fatalf("the HTTP server wrote to stdout: %q", stdout.String())
	}
	if strings.Contains(stderr.String(), token) {
		t.Fatalf("the token reached the log")
	}
	if !walCheckpointed(project) {
		t.Fatalf("the project's WAL was not checkpointed on shutdown")
	}
}

// --http without --allow-root refuses to start.
func TestHTTPNeedsAllowRoot(t *testing.T) {
	cmd := exec.Command(binPath, "--http", fmt.Sprintf("127.0.0.1:%d", freePort(t)))
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "allow-root") {
		t.Fatalf("err %v, output %q", err, out)
	}
}
