// Command floor is the floor of the end-to-end benchmarks: a trivial mcp-go
// stdio server whose one tool, echo, returns a constant. It costs what mcp-go,
// JSON-RPC over stdio and the client cost and nothing else, so a figure of the
// real server divided by the floor's, both measured in the same run on the
// same machine, is what the server itself adds (issue 17).
//
// It logs nothing: standard output is the protocol, and the benchmarks read
// no standard error.
package main

import (
	"context"
	"io"
	"log"
	"os"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

func main() {
	s := server.NewMCPServer("floor", "1", server.WithToolCapabilities(false))
	s.AddTool(mcp.NewTool("echo",
		mcp.WithDescription("Returns a constant; its arguments are accepted and ignored."),
		mcp.WithString("workspace", mcp.Description("Ignored")),
		mcp.WithString("id", mcp.Description("Ignored")),
	), func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText("ok"), nil
	})
	if err := server.ServeStdio(s, server.WithErrorLogger(log.New(io.Discard, "", 0))); err != nil {
		os.Exit(1)
	}
}
