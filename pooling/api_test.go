package pooling_test

import (
	"context"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
)

// The API other packages code against; this file stops compiling if a
// signature changes.
var (
	_ func(pooling.Config, pooling.Hooks[int]) (*pooling.Pool[int], error)  = pooling.New[int]
	_ func(*pooling.Pool[int], context.Context) (*pooling.Conn[int], error) = (*pooling.Pool[int]).Acquire
	_ func(*pooling.Pool[int]) pooling.Metrics                              = (*pooling.Pool[int]).Metrics
	_ func(*pooling.Pool[int], context.Context) error                       = (*pooling.Pool[int]).Close
	_ func(*pooling.Conn[int]) int                                          = (*pooling.Conn[int]).Value
	_ func(*pooling.Conn[int])                                              = (*pooling.Conn[int]).Release
	_ func(*pooling.Conn[int])                                              = (*pooling.Conn[int]).Discard
	_ func(context.Context, string) context.Context                         = pooling.WithHolder
	_ error                                                                 = pooling.ErrClosed
	_ error                                                                 = pooling.ErrTimeout
	_ error                                                                 = pooling.ErrCircuitOpen
	_ error                                                                 = &pooling.CircuitOpenError{RetryAfter: time.Second, LastErr: ""}
	_                                                                       = []pooling.State{pooling.StateHealthy, pooling.StateDegraded, pooling.StateDown, pooling.StateNotConfigured, pooling.StateClosed}
	_                                                                       = pooling.Hooks[int]{Open: nil, Close: nil, Ping: nil, Reset: nil}
	_                                                                       = pooling.Metrics{Leaks: 0, RetryAfter: 0, LastError: ""}
	_                                                                       = pooling.Config{Sanitize: func(string) string { return "" }}
)
