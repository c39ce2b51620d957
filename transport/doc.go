// Package transport serves the MCP server over Streamable HTTP (the /mcp
// endpoint, protocol versions 2026-07-28, 2025-11-25 and 2025-06-18 through
// mcp-go's StreamableHTTPServer) next to the operator endpoints /healthz,
// /readyz and /metrics.
//
// It owns everything that happens to a request before MCP sees it: DNS
// rebinding protection (Host and Origin allow-lists), bearer-token
// authentication, the request body limit, the per-client rate limit and the
// blacklist; and, through ToolMiddleware, the per-client limit on concurrent
// tool calls and the tool call metrics.
//
// What this package must never do:
//   - log, return or export the auth token or an Authorization header: only a
//     fingerprint (the first 8 hex digits of the token's SHA-256) is shown;
//   - bind a non-loopback address without an auth token;
//   - hang a caller on a limit: every limit answers at once (HTTP 429/403/413)
//     or within about a second (the concurrency limit's tool error);
//   - start a goroutine it does not stop: the client-table sweeper and the HTTP
//     server live exactly as long as ListenAndServe;
//   - write to stdout (it is the MCP channel over stdio).
package transport
