package transport_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/transport"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// A 401 carries the challenge RFC 7235 requires, without the
// resource_metadata that would send an MCP client looking for an OAuth
// authorization server (there is none: the token is static), and a body
// saying how to configure the token. OAuth discovery a client starts anyway
// stops at once, with the same reason.
func TestUnauthorizedPointsToTheStaticTokenNotToOAuth(t *testing.T) {
	h := start(t, transport.Options{AuthToken: workspace.Secret(secretToken)})
	hc := httpClient(t)
	const msg = "missing or wrong bearer token: send the server's token as 'Authorization: Bearer <token>' " +
		"(this server takes a static token, from --auth-token-file or --auth-tokens-file, and does no OAuth: " +
		"put the token in the client's headers configuration; see docs/http.md)"
	for name, c := range map[string]struct {
		hdr       map[string]string
		challenge string
	}{
		"no token":    {map[string]string{}, `Bearer realm="mcp"`},
		"wrong token": {map[string]string{"Authorization": "Bearer nope"}, `Bearer realm="mcp", error="invalid_token", error_description="the bearer token is not one this server accepts"`},
	} {
		r := do(t, hc, http.MethodPost, h.url+"/mcp", pingBody, c.hdr)
		var body struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		_ = json.Unmarshal([]byte(r.body), &body)
		if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") != c.challenge || body.Error.Message != msg {
			t.Errorf("%s: %d, WWW-Authenticate %q, body %s", name, r.status, r.header.Get("WWW-Authenticate"), r.body)
		}
	}
	for _, path := range []string{"/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-authorization-server"} {
		r := do(t, hc, http.MethodGet, h.url+path, "", nil)
		want := `{"error":"not_found","error_description":"this server does no OAuth and publishes no OAuth metadata: it takes a static bearer token (--auth-token-file or --auth-tokens-file); configure the client to send 'Authorization: Bearer \u003ctoken\u003e' (see docs/http.md)"}` + "\n"
		if r.status != http.StatusNotFound || r.body != want {
			t.Errorf("%s: %d %s", path, r.status, r.body)
		}
	}
}
