package tools_test

import (
	"strings"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/tools"
)

// A handler's panic becomes a tool error with a reference; the panic value and
// stack stay in the server log.
func TestHandlerPanicBecomesAToolErrorWithoutInternals(t *testing.T) {
	e := newEnv(t)
	e.srv.AddTools(tools.PanickingTool(e.deps))
	res := e.call("explode", map[string]any{"id": "tsk_x"})
	msg := resultText(res)
	if !res.IsError || !strings.Contains(msg, "internal error in explode (ref ") {
		t.Fatalf("got %v: %q", res.IsError, msg)
	}
	for _, leak := range []string{"secret", "/etc/shadow", ".go:", "goroutine"} {
		if strings.Contains(msg, leak) {
			t.Fatalf("the error leaks %q: %s", leak, msg)
		}
	}
	// The server keeps serving.
	e.ok("workspace_info", map[string]any{}, nil)
}
