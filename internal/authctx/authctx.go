// Package authctx carries who authenticated a request from the transport to
// the tools, without either importing the other: the HTTP transport puts the
// name of the agent whose token (from --auth-tokens-file) authenticated the
// call into the request context, and the task tools read it to hold each
// token to acting as one agent.
package authctx

import "context"

type agentKey struct{}

// WithAgent returns ctx carrying the name of the agent a named token
// authenticated. An empty name is not recorded (stdio, the unnamed
// --auth-token-file token and unauthenticated clients carry none).
func WithAgent(ctx context.Context, name string) context.Context {
	if name == "" {
		return ctx
	}
	return context.WithValue(ctx, agentKey{}, name)
}

// Agent returns the name of the agent whose token authenticated the request,
// and whether there is one.
func Agent(ctx context.Context) (string, bool) {
	name, ok := ctx.Value(agentKey{}).(string)
	return name, ok && name != ""
}
