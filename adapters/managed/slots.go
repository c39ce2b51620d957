package managed

import (
	"context"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
)

// DefaultSettle is how long opening a slot on a managed server keeps retrying
// the check of a server that just died: its supervisor (or, when the owner
// died, the process taking over) needs a moment to notice, after which Ready
// starts it again and waits.
const DefaultSettle = 5 * time.Second

// Slots describes a pool of request slots on one database server, the
// project's managed server or a remote one, for an adapter whose driver keeps
// its own connections (Chroma's HTTP transport, Neo4j's Bolt pool). A slot
// holds no connection: it is the right to have one call in flight, with the
// adapter's handle H (a client, a driver) for the server's current address.
// The pool bounds the calls, checks the server when it opens a slot and as
// pre-ping, and trips its breaker when the server stops answering; nothing is
// pooled twice.
//
// The same hooks serve every backend; what differs is in the functions.
type Slots[H any] struct {
	// Server is the project's managed server; nil for a remote one.
	Server *Server
	// Settle bounds how long opening a slot waits for a managed server that
	// just died (0 = DefaultSettle).
	Settle time.Duration
	// Current returns the handle for the server's current address (a managed
	// server may come back on a new port).
	Current func() (H, error)
	// Check proves the server behind a handle alive: a heartbeat, a
	// connectivity check. Its error is what the pool and its breaker see.
	Check func(ctx context.Context, h H) error
	// Stale reports that h is no longer the handle for the server's current
	// address; a ping of such a slot returns ErrStale, so the pool replaces it.
	Stale    func(h H) bool
	ErrStale error
}

// Hooks are the pool's hooks. Open proves the server alive (on a managed
// server, Server.Settle restarts a crashed one and waits, rather than failing
// the call); Ping returns ErrStale for a slot of an old address, else the
// check; Close does nothing, since a slot holds no resource. Slots without
// Current, Check, Stale or ErrStale are a programming error: Hooks panics.
func (s Slots[H]) Hooks() pooling.Hooks[H] {
	if s.Current == nil || s.Check == nil || s.Stale == nil || s.ErrStale == nil {
		panic("managed: Slots needs Current, Check, Stale and ErrStale")
	}
	return pooling.Hooks[H]{
		Open:  s.open,
		Close: func(H) error { return nil },
		Ping: func(ctx context.Context, h H) error {
			if s.Stale(h) {
				return s.ErrStale
			}
			return s.Check(ctx, h)
		},
	}
}

func (s Slots[H]) open(ctx context.Context) (H, error) {
	var h H
	check := func(ctx context.Context) error {
		var err error
		if h, err = s.Current(); err != nil {
			return err
		}
		return s.Check(ctx, h)
	}
	var err error
	if s.Server != nil {
		settle := s.Settle
		if settle <= 0 {
			settle = DefaultSettle
		}
		err = s.Server.Settle(ctx, settle, check)
	} else {
		err = check(ctx)
	}
	if err != nil {
		var zero H
		return zero, err
	}
	return h, nil
}
