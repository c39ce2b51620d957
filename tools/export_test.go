package tools

import (
	"context"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// PanickingTool is a tool whose handler panics, to test the recovery in handle.
func PanickingTool(d *Deps) server.ServerTool {
	tool := newTool("explode", "Explode", "panics", readHints, mcp.WithInputSchema[taskGetArgs]())
	return server.ServerTool{Tool: tool, Handler: handle(d, tool.Name, func(context.Context, *call, taskGetArgs) (any, string, error) {
		panic("secret internal state: /etc/shadow at handler.go:42")
	})}
}
