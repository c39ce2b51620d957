package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

// overHTTP is set by IT_TRANSPORT=http: every test that starts the server
// with start() then talks to it over Streamable HTTP instead of stdio, so
// the same tool tests run on both transports (integration/test-all.sh runs
// the package both ways).
var overHTTP = os.Getenv("IT_TRANSPORT") == "http"

// httpServer is the binary serving --http on a free loopback port.
type httpServer struct {
	base      string
	token     string // "" = no --auth-token-file
	tokenFile string // the file passed to --auth-token-file
	cmd       *exec.Cmd
	stderr    *lockedBuffer
	once      sync.Once
}

// startHTTPServer launches the binary with --http and --allow-root allowRoot
// (and a token file when token is set), configured like start() configures
// it from o, and waits for /healthz.
func startHTTPServer(t testing.TB, o procOpts, allowRoot, token string) *httpServer {
	t.Helper()
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
	port := freePort(t)
	args := []string{"--http", fmt.Sprintf("127.0.0.1:%d", port), "--allow-root", allowRoot}
	tokenFile := ""
	if token != "" {
		tokenFile = filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--auth-token-file", tokenFile)
	}
	if !o.fast {
		args = append(args, "--validate-output")
	}
	args = append(args, withAllToolsets(o)...)
	h := &httpServer{base: fmt.Sprintf("http://127.0.0.1:%d", port), token: token, tokenFile: tokenFile, stderr: &lockedBuffer{}}
	h.cmd = exec.Command(binPath, args...)
	h.cmd.Dir = o.dir
	if h.cmd.Dir == "" {
		h.cmd.Dir = t.TempDir()
	}
	h.cmd.Env = append(append(os.Environ(), "XDG_CONFIG_HOME="+xdg, "TASK_ORCHESTRATOR_WORKSPACE="), o.env...)
	h.cmd.Stderr, h.cmd.Stdout = h.stderr, h.stderr
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(h.base + "/healthz")
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == 200 {
				return h
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the HTTP server was not healthy within 30 s:\n%s", tail(h.stderr.String(), 4000))
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// stop sends SIGTERM (a graceful shutdown) and waits; SIGKILL after 20 s.
func (h *httpServer) stop() {
	h.once.Do(func() {
		_ = h.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = h.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = h.cmd.Process.Kill()
			<-done
		}
	})
}

// connect initializes an MCP client over Streamable HTTP (protocol "" = the
// client's default), sending the token when there is one.
func (h *httpServer) connect(t testing.TB, protocol string, roots []string) (*client.Client, error) {
	t.Helper()
	var opts []transport.StreamableHTTPCOption
	if h.token != "" {
		opts = append(opts, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + h.token}))
	}
	if roots != nil {
		// Session-based versions send roots/list on the listening GET stream.
		opts = append(opts, transport.WithContinuousListening())
	}
	tr, err := transport.NewStreamableHTTP(h.base+"/mcp", opts...)
	if err != nil {
		return nil, err
	}
	var copts []client.ClientOption
	if protocol != "" {
		copts = append(copts, client.WithProtocolVersion(protocol))
	}
	if roots != nil {
		copts = append(copts, client.WithRootsHandler(rootsHandler{roots}))
	}
	c := client.NewClient(tr, copts...)
	if err := c.Start(context.Background()); err != nil {
		return nil, err
	}
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = protocol
	if protocol == "" {
		init.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
	}
	init.Params.ClientInfo = mcp.Implementation{Name: "integration-test-http", Version: "1"}
	if roots != nil {
		init.Params.Capabilities.Roots = &struct {
			ListChanged bool `json:"listChanged,omitempty"`
		}{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.Initialize(ctx, init); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// startOverHTTP is start() over Streamable HTTP (IT_TRANSPORT=http): the
// server allows the temp directory tree the tests' projects live in.
func startOverHTTP(t testing.TB, o procOpts) *proc {
	t.Helper()
	root, err := filepath.EvalSymlinks(os.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// The suite tests the tools, not the limits (transport's tests and
	// TestHTTPTransportEndToEnd do): one test client making hundreds of calls
	// would otherwise meet the default rate limit. A test's own security
	// settings are kept.
	cfg := map[string]any{}
	if o.globalConfig != "" {
		if err := json.Unmarshal([]byte(o.globalConfig), &cfg); err != nil {
			t.Fatalf("globalConfig is not JSON: %v", err)
		}
	}
	sec, _ := cfg["security"].(map[string]any)
	if sec == nil {
		sec = map[string]any{}
	}
	for _, k := range []string{"connection_rate_limit", "blacklist_threshold", "max_connections_per_client"} {
		if _, ok := sec[k]; !ok {
			sec[k] = 0
		}
	}
	cfg["security"] = sec
	o.globalConfig = jsonConfig(t, cfg)
	h := startHTTPServer(t, o, root, "")
	c, err := h.connect(t, o.protocol, o.roots)
	if err != nil {
		t.Fatalf("initialize over HTTP: %v\nstderr:\n%s", err, tail(h.stderr.String(), 4000))
	}
	p := &proc{t: t, c: c, cmd: h.cmd, stderr: h.stderr, stop: h.stop}
	t.Cleanup(func() { p.close() })
	return p
}
