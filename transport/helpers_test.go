package transport_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	mcptransport "github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/authctx"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/transport"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// logBuffer collects log output from concurrent goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// gate holds the "slow" tool until it is opened, and tells how many calls are inside.
type gate struct {
	open    chan struct{}
	entered chan struct{}
}

func newGate() *gate { return &gate{open: make(chan struct{}), entered: make(chan struct{}, 64)} }

// newMCP builds a real MCP server with two tools: "echo" answers the client
// id the transport attached, "slow" waits until the gate opens.
func newMCP(g *gate) *server.MCPServer {
	s := server.NewMCPServer("transport-test", "0.0.1", server.WithToolCapabilities(false))
	s.AddTool(mcp.NewTool("echo", mcp.WithString("text")),
		func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText(req.GetString("text", "") + "|" + transport.ClientID(ctx)), nil
		})
	s.AddTool(mcp.NewTool("whoami"), // the agent name a named token put in the context
		func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			name, ok := authctx.Agent(ctx)
			return mcp.NewToolResultText(fmt.Sprintf("%q %v", name, ok)), nil
		})
	s.AddTool(mcp.NewTool("slow"),
		func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			g.entered <- struct{}{}
			select {
			case <-g.open:
				return mcp.NewToolResultText("done"), nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		})
	s.AddTool(mcp.NewTool("outside"), // what the tools answer for a workspace outside --allow-root
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultError("workspace /elsewhere (from the workspace argument): " +
				workspace.ErrOutsideAllowedRoots.Error() + ": /elsewhere is not inside /srv/projects; pass a folder inside it"), nil
		})
	s.AddTool(mcp.NewTool("fails"),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultError("bad input"), nil
		})
	return s
}

type harness struct {
	srv  *transport.Server
	url  string // http://127.0.0.1:port
	logs *logBuffer
	gate *gate
	stop func() error // cancels ListenAndServe and returns its error
}

// start serves opts (Addr defaults to 127.0.0.1:0) and stops at cleanup.
func start(t *testing.T, opts transport.Options) *harness {
	t.Helper()
	h := &harness{logs: &logBuffer{}, gate: newGate()}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	opts.Logger = slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ms := newMCP(h.gate)
	srv, err := transport.New(ms, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ms.Use(srv.ToolMiddleware())
	h.srv = srv
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe(ctx) }()
	var once sync.Once
	var stopErr error
	h.stop = func() error {
		once.Do(func() {
			cancel()
			stopErr = <-done
		})
		return stopErr
	}
	t.Cleanup(func() {
		select { // open the gate so no slow call outlives the test
		case <-h.gate.open:
		default:
			close(h.gate.open)
		}
		if err := h.stop(); err != nil {
			t.Errorf("ListenAndServe: %v", err)
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for srv.Addr() == "" {
		select {
		case err := <-done:
			t.Fatalf("ListenAndServe returned early: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("server did not bind within 5s")
		}
		time.Sleep(2 * time.Millisecond)
	}
	h.url = "http://" + srv.Addr()
	return h
}

// httpClient is a client whose idle connections are closed at cleanup (goleak).
func httpClient(t *testing.T) *http.Client { return httpClientFrom(t, "") }

// httpClientFrom connects from the loopback address src ("" = 127.0.0.1):
// without a token a client is its address, so distinct clients need distinct
// addresses.
func httpClientFrom(t *testing.T, src string) *http.Client {
	d := &net.Dialer{}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

type response struct {
	status int
	header http.Header
	body   string
	closed bool // the server asked to close the connection (Connection: close)
}

// do sends one request; hdr may set "Host" to override the Host header.
func do(t *testing.T, hc *http.Client, method, url, body string, hdr map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{res.StatusCode, res.Header, string(b), res.Close}
}

const pingBody = `{"jsonrpc":"2.0","id":1,"method":"ping"}`

// newClient connects an MCP client over Streamable HTTP pinned to version.
func newClient(t *testing.T, h *harness, version string, headers map[string]string) *client.Client {
	t.Helper()
	return newClientFrom(t, h, version, headers, "")
}

// newClientFrom is newClient connecting from the loopback address src.
func newClientFrom(t *testing.T, h *harness, version string, headers map[string]string, src string) *client.Client {
	t.Helper()
	c, err := tryClientFrom(t, h, version, headers, src)
	if err != nil {
		t.Fatalf("initialize %s: %v", version, err)
	}
	return c
}

func tryClient(t *testing.T, h *harness, version string, headers map[string]string) (*client.Client, error) {
	t.Helper()
	return tryClientFrom(t, h, version, headers, "")
}

func tryClientFrom(t *testing.T, h *harness, version string, headers map[string]string, src string) (*client.Client, error) {
	t.Helper()
	opts := []mcptransport.StreamableHTTPCOption{
		mcptransport.WithHTTPBasicClient(httpClientFrom(t, src)),
		mcptransport.WithHTTPLogger(slog.New(slog.DiscardHandler)),
	}
	if headers != nil {
		opts = append(opts, mcptransport.WithHTTPHeaders(headers))
	}
	tr, err := mcptransport.NewStreamableHTTP(h.url+"/mcp", opts...)
	if err != nil {
		t.Fatal(err)
	}
	c := client.NewClient(tr, client.WithProtocolVersion(version))
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	req := mcp.InitializeRequest{}
	req.Params.ClientInfo = mcp.Implementation{Name: "transport-test", Version: "1"}
	req.Params.ProtocolVersion = version
	if _, err := c.Initialize(ctx, req); err != nil {
		return nil, err
	}
	return c, nil
}

// call invokes a tool and returns its text and whether it is a tool error.
func call(t *testing.T, c *client.Client, tool string, args map[string]any) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := mcp.CallToolRequest{}
	req.Params.Name = tool
	req.Params.Arguments = args
	res, err := c.CallTool(ctx, req)
	if err != nil {
		t.Fatalf("call %s: %v", tool, err)
	}
	var text string
	for _, ct := range res.Content {
		text += mcp.GetTextFromContent(ct)
	}
	return text, res.IsError
}
