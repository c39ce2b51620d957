package transport

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/authctx"
)

// Reasons a request is refused; they label the limit_rejections metric.
const (
	reasonRate        = "rate"
	reasonBlacklist   = "blacklist"
	reasonConcurrency = "concurrency"
	reasonAuth        = "auth"
	reasonOrigin      = "origin"
	reasonHost        = "host"
	reasonBody        = "body"
	reasonWorkspace   = "workspace" // a workspace outside --allow-root
	reasonSession     = "session"   // an unknown or expired session id
)

// JSON-RPC error codes used in refusals (the body is JSON-RPC shaped so an
// MCP client can show the message).
const (
	codeInvalidRequest = -32600
	codeServerError    = -32000
)

type clientKey struct{}

// clientInfo is who the transport found a request to come from, for limits,
// logs and metrics: the token's holder when authenticated, else the peer
// address. The Mcp-Session-Id header is not an identity: a client chooses it,
// and one that changed it on every request would get a fresh bucket and fresh
// slots each time. Clients without a token behind one address share its
// limits.
type clientInfo struct {
	id    string // "agent:<name>", "token:<8 hex>" or "ip:<address>"
	agent string // the metrics label: an agent's name, "token" or "anonymous"
	name  string // the agent's name when a token of --auth-tokens-file authenticated it, else ""
}

// ClientID returns the client identity the transport attached to a request
// context ("" over stdio): the agent's name, the token fingerprint, or the
// remote address.
//
// The forms are "agent:<name>" (a token of --auth-tokens-file),
// "token:<8 hex>" (a digest of the --auth-token-file token, never the token)
// and "ip:<address>".
func ClientID(ctx context.Context) string {
	c, _ := ctx.Value(clientKey{}).(clientInfo)
	return c.id
}

func agentOf(ctx context.Context) string {
	if c, ok := ctx.Value(clientKey{}).(clientInfo); ok {
		return c.agent
	}
	return agentAnonymous
}

// constantTimeCompare is subtle.ConstantTimeCompare; tests wrap it to see
// that it is what decides.
var constantTimeCompare = subtle.ConstantTimeCompare

// guardMode says what guard asks of a request besides its Host and Origin.
type guardMode int

const (
	// guardMCP: the bearer token (when auth is on), the rate limit, the
	// session and the body limit — /mcp.
	guardMCP guardMode = iota
	// guardBearer: the bearer token (when auth is on) — /readyz, /metrics,
	// /board/link.
	guardBearer
	// guardBrowser: no bearer token, which a browser cannot send: the
	// handler has its own credential (the board's session cookie).
	guardBrowser
)

// guard runs the checks every request passes before its handler, cheapest
// and most decisive first: the blacklist (before Host, Origin, body or JSON
// are looked at), Host and Origin, and the bearer token. For /mcp (mcp=true)
// it also applies the rate limit and the body limit and attaches the client
// to the request context.
//
// Only a failed authentication is a strike toward the blacklist, and it
// counts against the remote address: a client holding a valid token is
// throttled (429) when it is fast, and its refused requests (a foreign
// Origin, a workspace outside --allow-root) are counted, but it is never
// blacklisted. Without a token configured nothing can fail authentication,
// so nothing is blacklisted: refusing a loopback address would refuse every
// local client behind it.
func (s *Server) guard(next http.Handler, mode guardMode) http.Handler {
	mcp := mode == guardMCP
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := s.now()
		peer := "ip:" + remoteIP(r)
		who := clientInfo{id: peer, agent: agentAnonymous}
		authed := false
		if s.auth.enabled() {
			var tok *agentToken
			if tok, authed = s.auth.match(r.Header.Get("Authorization")); authed {
				who = clientInfo{id: tok.id(), agent: tok.label(), name: tok.name}
			}
		}
		if rw, ok := w.(*statusRecorder); ok {
			rw.client = who.id
		}

		// A blacklisted address is refused before anything else is read or
		// parsed, and its refusal is held back a little so that a client
		// looping on refusals costs the server almost nothing. A request
		// with a valid token is never refused for its address's record.
		if !authed {
			if until, ok := s.clients.blocked(peer, now); ok {
				s.refuseBlacklisted(w, r, until, now)
				return
			}
		}
		if mcp && s.shuttingDown.Load() {
			w.Header().Set("Connection", "close")
			writeRefusal(w, http.StatusServiceUnavailable, codeServerError,
				"the server is shutting down; retry against the restarted server", nil)
			return
		}
		if !s.hostAllowed(r.Host) {
			s.refused(reasonHost, who.agent)
			writeRefusal(w, http.StatusForbidden, codeInvalidRequest,
				fmt.Sprintf("Host %q is not allowed (DNS-rebinding protection); use localhost or add it to the allowed hosts", r.Host), nil)
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" && !s.originAllowed(origin) {
			s.refused(reasonOrigin, who.agent)
			writeRefusal(w, http.StatusForbidden, codeInvalidRequest,
				fmt.Sprintf("Origin %q is not allowed (DNS-rebinding protection); add it to the allowed origins", origin), nil)
			return
		}
		if s.auth.enabled() && !authed && mode != guardBrowser {
			s.refused(reasonAuth, who.agent)
			s.strike(peer, now)
			w.Header().Set("WWW-Authenticate", bearerChallenge(r.Header.Get("Authorization") != ""))
			writeRefusal(w, http.StatusUnauthorized, codeInvalidRequest, unauthorizedMessage, nil)
			return
		}
		if !mcp {
			ctx := context.WithValue(r.Context(), clientKey{}, who)
			next.ServeHTTP(w, r.WithContext(ctx))
			return
		}

		if rate := s.opts.Security.ConnectionRateLimit; rate > 0 {
			if wait, ok := s.clients.take(who.id, rate, now); !ok {
				s.refused(reasonRate, who.agent)
				secs := retrySeconds(wait)
				w.Header().Set("Retry-After", strconv.Itoa(secs))
				writeRefusal(w, http.StatusTooManyRequests, codeServerError,
					fmt.Sprintf("rate limit exceeded: at most %d requests per minute per client; retry after %d s", rate, secs),
					map[string]any{"limit_per_minute": rate, "retry_after_seconds": secs})
				return
			}
		}
		if !s.sessionKnown(w, r, who.agent) {
			return
		}
		if r.Method == http.MethodPost && !s.bufferBody(w, r) {
			s.refused(reasonBody, who.agent)
			return
		}
		ctx := context.WithValue(r.Context(), clientKey{}, who)
		// A named token acts as one agent: the task tools hold the
		// "agent" argument to this name (see internal/authctx).
		ctx = authctx.WithAgent(ctx, who.name)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// bufferBody reads the request body up to the limit so that an oversized one
// gets a 413 (mcp-go would read it whole and answer a parse error). mcp-go
// buffers the body anyway, so this costs no extra memory beyond one copy.
func (s *Server) bufferBody(w http.ResponseWriter, r *http.Request) bool {
	limit := s.opts.MaxBodyBytes
	tooLarge := func() bool {
		w.Header().Set("Connection", "close")
		writeRefusal(w, http.StatusRequestEntityTooLarge, codeInvalidRequest,
			fmt.Sprintf("request body exceeds %d bytes, the server's limit for one JSON-RPC message (--max-message-bytes); send smaller arguments: split the call or shorten the artifact", limit),
			map[string]any{"max_body_bytes": limit})
		return false
	}
	if r.ContentLength > limit {
		return tooLarge()
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge()
		}
		writeRefusal(w, http.StatusBadRequest, codeInvalidRequest, "could not read the request body; resend the request", nil)
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return true
}

// refused counts a refusal by reason and agent.
func (s *Server) refused(reason, agent string) {
	s.metrics.rejections.WithLabelValues(reason, agent).Inc()
}

// strike records a failed authentication from peer toward its blacklist.
func (s *Server) strike(peer string, now time.Time) {
	threshold := s.opts.Security.BlacklistThreshold
	if threshold <= 0 {
		return
	}
	if until, started := s.clients.strike(peer, now, threshold, s.opts.BlacklistWindow, s.opts.BlacklistCooldown); started {
		s.log.Warn("client blacklisted: too many failed authentications; refusing its address for a cool-down",
			"client", peer, "threshold", threshold,
			"window", s.opts.BlacklistWindow, "until", until.Format(time.RFC3339))
	}
}

// refuseBlacklisted answers a blacklisted client with 403 and Retry-After.
// It reads nothing of the request, logs at debug level only (the blacklisting
// itself was logged once) and closes the connection, so a client that keeps
// knocking pays a new connection each time. The answer is held for
// RefusalDelay while fewer than maxHeldRefusals are held: a client looping
// without pause is slowed to a few requests per second per connection
// instead of thousands, at the cost of a parked goroutine, never CPU.
func (s *Server) refuseBlacklisted(w http.ResponseWriter, r *http.Request, until, now time.Time) {
	s.refused(reasonBlacklist, agentAnonymous)
	if rec, ok := w.(*statusRecorder); ok {
		rec.quiet = true
	}
	if d := s.opts.RefusalDelay; d > 0 {
		select {
		case s.held <- struct{}{}:
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-r.Context().Done():
			}
			t.Stop()
			<-s.held
		default: // too many held already: answer at once
		}
	}
	secs := retrySeconds(until.Sub(now))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	w.Header().Set("Connection", "close")
	writeRefusal(w, http.StatusForbidden, codeInvalidRequest,
		fmt.Sprintf("client refused after too many rejected requests; retry after %d s", secs),
		map[string]any{"retry_after_seconds": secs})
}

func (s *Server) hostAllowed(host string) bool {
	if host == "" {
		return false
	}
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	if IsLoopbackName(name) {
		return true
	}
	for _, a := range s.opts.AllowedHosts {
		if strings.EqualFold(a, host) || strings.EqualFold(a, name) {
			return true
		}
	}
	return false
}

func (s *Server) originAllowed(origin string) bool {
	for _, a := range s.opts.AllowedOrigins {
		if strings.EqualFold(strings.TrimRight(a, "/"), strings.TrimRight(origin, "/")) {
			return true
		}
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil || (u.Path != "" && u.Path != "/") {
		return false
	}
	return IsLoopbackName(u.Hostname())
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func retrySeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// writeRefusal answers with a JSON-RPC shaped error body (id null: the
// request was not read as JSON-RPC).
func writeRefusal(w http.ResponseWriter, status, code int, msg string, data map[string]any) {
	type rpcErr struct {
		Code    int            `json:"code"`
		Message string         `json:"message"`
		Data    map[string]any `json:"data,omitempty"`
	}
	body := struct {
		JSONRPC string `json:"jsonrpc"`
		ID      any    `json:"id"`
		Error   rpcErr `json:"error"`
	}{"2.0", nil, rpcErr{code, msg, data}}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// unauthorizedMessage is the body of a 401. The server takes static bearer
// tokens and does no OAuth: a client must be given the token in its
// configuration, not sent to log in.
const unauthorizedMessage = "missing or wrong bearer token: send the server's token as 'Authorization: Bearer <token>' " +
	"(this server takes a static token, from --auth-token-file or --auth-tokens-file, and does no OAuth: " +
	"put the token in the client's headers configuration; see docs/http.md)"

// bearerChallenge is the WWW-Authenticate of a 401 (RFC 7235 requires one;
// RFC 6750 gives its form). It carries no resource_metadata: the server
// publishes no OAuth metadata, and MCP's authorization spec makes that
// parameter what points a client to an authorization server. A token that was
// sent and refused is named invalid_token, so clients do not retry it.
func bearerChallenge(tokenSent bool) string {
	if tokenSent {
		return `Bearer realm="mcp", error="invalid_token", error_description="the bearer token is not one this server accepts"`
	}
	return `Bearer realm="mcp"`
}

// noOAuthMessage answers OAuth discovery: there is no authorization server.
const noOAuthMessage = "this server does no OAuth and publishes no OAuth metadata: it takes a static bearer token " +
	"(--auth-token-file or --auth-tokens-file); configure the client to send 'Authorization: Bearer <token>' (see docs/http.md)"

// noOAuth answers every /.well-known/ address 404, with an OAuth-style error
// body saying why, so a client that starts OAuth discovery stops at once.
func noOAuth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": "not_found", "error_description": noOAuthMessage})
}
