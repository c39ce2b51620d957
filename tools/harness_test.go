package tools_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	projects "github.com/mcp-task-orchestrator/mcp-task-orchestrator/project"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/tools"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// env is a server wired exactly like main wires it, with an in-process client:
// real registry, real SQLite files, no transport.
type env struct {
	t       testing.TB
	deps    *tools.Deps
	srv     *server.MCPServer
	c       *client.Client
	project string
}

func newEnv(t testing.TB) *env { return newEnvWith(t, true) }

// newEnvWith builds the env; validateOutput turns on mcp-go's output schema
// validation (on in tests, off in benchmarks, as in production by default).
func newEnvWith(t testing.TB, validateOutput bool) *env {
	t.Helper()
	project := t.TempDir()
	if err := os.Mkdir(filepath.Join(project, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	project, _ = filepath.EvalSymlinks(project)
	cfg := workspace.Defaults()
	logger := slog.New(slog.DiscardHandler)
	reg := projects.NewRegistry(projects.RegistryConfig{MaxWorkspaces: 4, Logger: logger, Server: cfg})
	d := &tools.Deps{Projects: reg, Resolver: &workspace.Resolver{Cwd: project}, Config: cfg, Logger: logger, Version: "test"}
	var opts []server.ServerOption
	if validateOutput {
		opts = append(opts, server.WithOutputSchemaValidation())
	}
	s := server.NewMCPServer("test", "1", opts...)
	tools.New(d).Register(s, false)
	c, err := client.NewInProcessClient(s)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	init := mcp.InitializeRequest{}
	init.Params.ClientInfo = mcp.Implementation{Name: "t", Version: "1"}
	if _, err := c.Initialize(ctx, init); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, deps: d, srv: s, c: c, project: project}
	t.Cleanup(func() {
		_ = c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := reg.Close(ctx); err != nil {
			t.Errorf("closing the registry: %v", err)
		}
	})
	return e
}

func (e *env) call(name string, args map[string]any) *mcp.CallToolResult {
	e.t.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := e.c.CallTool(context.Background(), req)
	if err != nil {
		e.t.Fatalf("%s: %v", name, err)
	}
	return res
}

func (e *env) ok(name string, args map[string]any, out any) {
	e.t.Helper()
	res := e.call(name, args)
	if res.IsError {
		e.t.Fatalf("%s(%v): %s", name, args, resultText(res))
	}
	if out != nil {
		b, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatal(err)
		}
	}
}

func resultText(res *mcp.CallToolResult) string {
	s := ""
	for _, c := range res.Content {
		if tc, ok := mcp.AsTextContent(c); ok {
			s += tc.Text
		}
	}
	return s
}
