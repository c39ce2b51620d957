package authctx_test

import (
	"context"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/authctx"
)

func TestAgentRoundTrip(t *testing.T) {
	ctx := context.Background()
	if name, ok := authctx.Agent(ctx); ok || name != "" {
		t.Fatalf("a bare context carries agent %q", name)
	}
	if _, ok := authctx.Agent(authctx.WithAgent(ctx, "")); ok {
		t.Fatal("an empty name was recorded as an agent")
	}
	if name, ok := authctx.Agent(authctx.WithAgent(ctx, "alice")); !ok || name != "alice" {
		t.Fatalf("Agent = %q, %v; want alice, true", name, ok)
	}
}
