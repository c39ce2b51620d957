// Package transport serves the MCP server over Streamable HTTP (the /mcp
// endpoint, protocol versions 2026-07-28, 2025-11-25 and 2025-06-18 through
// mcp-go's StreamableHTTPServer) next to the operator endpoints /healthz,
// /readyz and /metrics.
//
// It owns everything that happens to a request before MCP sees it: DNS
// rebinding protection (Host and Origin allow-lists), bearer-token
// authentication (one token, or one per agent from a tokens file it reloads),
// the request body limit, the per-client rate limit, the blacklist (for
// failed authentication only) and the expiry of idle sessions; and, through
// ToolMiddleware, the per-client limit on concurrent tool calls and the tool
// call metrics. A call authenticated by a named token carries the agent's
// name in its context (internal/authctx), so the task tools can hold their
// "agent" argument to it without importing this package. Over stdio it bounds each JSON-RPC line (LimitStdio) before
// mcp-go reads it.
//
// What this package must never do:
//   - log, return or export the auth token or an Authorization header: only a
//     fingerprint (the first 8 hex digits of the token's SHA-256) or the
//     agent's name is shown;
//   - bind a non-loopback address without an auth token;
//   - hang a caller on a limit: every limit answers at once (HTTP 429/403/413)
//     or within about a second (the concurrency limit's tool error);
//   - blacklist a client that authenticated: a fast one gets 429s, a refused
//     request a refusal;
//   - start a goroutine it does not stop: the client-table sweeper, the
//     tokens-file watcher, mcp-go's session sweeper and the HTTP server live
//     exactly as long as ListenAndServe;
//   - write to stdout anything but MCP messages (it is the MCP channel over
//     stdio; LimitStdio's refusals are JSON-RPC errors on the writer it is
//     handed, serialized with mcp-go's own writes).
package transport
