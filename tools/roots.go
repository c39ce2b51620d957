package tools

import (
	"context"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// rootsInputKey names our roots request in a multi-round-trip exchange.
const rootsInputKey = "roots"

// workspace resolves the project a call is about, in the spec's order: the
// argument, the client's roots, TASK_ORCHESTRATOR_WORKSPACE, the working directory.
// It returns errNeedRoots when a 2026-07-28 client must be asked for its roots first.
func (c *call) workspace(ctx context.Context, arg string) (root workspace.Root, err error) {
	defer func() { c.root = root.Path }()
	if arg != "" {
		return c.deps.Resolver.Resolve(arg, nil)
	}
	uris, err := c.rootURIs(ctx)
	if err != nil {
		return workspace.Root{}, err
	}
	return c.deps.Resolver.Resolve("", uris)
}

// rootURIs returns the client's roots, or nil when it has none to give.
func (c *call) rootURIs(ctx context.Context) ([]string, error) {
	if rr := server.RootsResponse(c.req.Params.InputResponses, rootsInputKey); rr != nil {
		return uriList(rr.Roots), nil
	}
	if !clientHasRoots(ctx) {
		return nil, nil
	}
	if server.IsModernRequest(ctx) {
		// Stateless protocol: the client answers our input request and retries the call.
		return nil, errNeedRoots
	}
	return c.deps.legacyRoots(ctx)
}

// legacyRoots asks a pre-2026 client for its roots (server-initiated request) with a
// timeout, and remembers them for the session until the client says they changed.
func (d *Deps) legacyRoots(ctx context.Context) ([]string, error) {
	session := server.ClientSessionFromContext(ctx)
	srv := server.ServerFromContext(ctx)
	if session == nil || srv == nil {
		return nil, nil
	}
	id := session.SessionID()
	d.rootsMu.Lock()
	cached, ok := d.rootsCache[id]
	d.rootsMu.Unlock()
	if ok {
		return cached, nil
	}
	timeout := d.Config.Server.RootsTimeout.Duration()
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := srv.RequestRoots(rctx, mcp.ListRootsRequest{Request: mcp.Request{Method: string(mcp.MethodListRoots)}})
	if err != nil || res == nil {
		// A client that does not answer must not stall the call: fall back to env/cwd.
		d.logger().Debug("client roots unavailable; falling back", "err", err)
		return nil, nil
	}
	uris := uriList(res.Roots)
	d.rootsMu.Lock()
	if d.rootsCache == nil {
		d.rootsCache = map[string][]string{}
	}
	d.rootsCache[id] = uris
	d.rootsMu.Unlock()
	return uris, nil
}

// ForgetRoots drops the cached roots of a session (on notifications/roots/list_changed
// or when the session ends).
func (d *Deps) ForgetRoots(sessionID string) {
	d.rootsMu.Lock()
	delete(d.rootsCache, sessionID)
	d.rootsMu.Unlock()
}

func uriList(roots []mcp.Root) []string {
	out := make([]string, 0, len(roots))
	for _, r := range roots {
		out = append(out, r.URI)
	}
	return out
}

// clientHasRoots reports whether the client declared the roots capability for this request.
func clientHasRoots(ctx context.Context) bool {
	if info := server.RequestProtocolInfoFromContext(ctx); info != nil && info.Modern {
		return info.ClientCapabilities != nil && info.ClientCapabilities.Roots != nil
	}
	if s, ok := server.ClientSessionFromContext(ctx).(server.SessionWithClientInfo); ok {
		return s.GetClientCapabilities().Roots != nil
	}
	return false
}
