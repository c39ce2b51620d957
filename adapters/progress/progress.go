// Package progress carries a "report how far along you are" function from a tool
// call down to the adapters, so that a slow start (a managed server booting) or a
// long batch (a large upsert) shows progress in the MCP client. It never blocks
// and never fails: without a reporter in the context, Report does nothing.
package progress

import "context"

// Func receives one progress report: a message, how much is done, and the total
// (total 0 when unknown).
type Func func(message string, done, total float64)

type key struct{}

// With returns a context whose Report calls fn.
func With(ctx context.Context, fn Func) context.Context {
	return context.WithValue(ctx, key{}, fn)
}

// Report sends a progress report to the reporter in ctx, if any.
func Report(ctx context.Context, message string, done, total float64) {
	if fn, ok := ctx.Value(key{}).(Func); ok && fn != nil {
		fn(message, done, total)
	}
}
