package transport

import (
	"bytes"
	"context"
	"crypto/sha256"
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
)

// JSON-RPC error codes used in refusals (the body is JSON-RPC shaped so an
// MCP client can show the message).
const (
	codeInvalidRequest = -32600
	codeServerError    = -32000
)

type clientIDKey struct{}

// ClientID returns the client identity the transport attached to a request
// context ("" over stdio): the token fingerprint, or the remote address.
//
// The forms are "token:<8 hex>" (a digest of the token, never the token) and
// "ip:<address>".
func ClientID(ctx context.Context) string {
	id, _ := ctx.Value(clientIDKey{}).(string)
	return id
}

// constantTimeCompare is subtle.ConstantTimeCompare; tests wrap it to see
// that it is what decides.
var constantTimeCompare = subtle.ConstantTimeCompare

// guard runs the checks every request passes before its handler, cheapest
// and most decisive first: the blacklist (before Host, Origin, body or JSON
// are looked at), Host and Origin, and the bearer token. For /mcp (mcp=true)
// it also applies the rate limit and the body limit and attaches the client
// id to the request context.
func (s *Server) guard(next http.Handler, mcp bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := s.now()
		peer := "ip:" + remoteIP(r)
		authed := s.tokenDigest != nil && s.tokenMatches(r)
		id := s.clientIdentity(authed, peer)

		// A blacklisted client is refused before anything else is read or
		// parsed, and its refusal is held back a little so that a client
		// looping on refusals costs the server almost nothing. (A token
		// holder still reaches /readyz and /metrics: the operator's scraper
		// must not go blind when the token's clients are blacklisted.)
		if until, ok := s.clients.blocked(id, now); ok && (mcp || !authed) {
			s.refuseBlacklisted(w, r, until, now)
			return
		}
		if mcp && s.shuttingDown.Load() {
			w.Header().Set("Connection", "close")
			writeRefusal(w, http.StatusServiceUnavailable, codeServerError,
				"the server is shutting down; retry against the restarted server", nil)
			return
		}
		if !s.hostAllowed(r.Host) {
			s.reject(peer, reasonHost, now)
			writeRefusal(w, http.StatusForbidden, codeInvalidRequest,
				fmt.Sprintf("Host %q is not allowed (DNS-rebinding protection); use localhost or add it to the allowed hosts", r.Host), nil)
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" && !s.originAllowed(origin) {
			s.reject(peer, reasonOrigin, now)
			writeRefusal(w, http.StatusForbidden, codeInvalidRequest,
				fmt.Sprintf("Origin %q is not allowed (DNS-rebinding protection); add it to the allowed origins", origin), nil)
			return
		}
		if s.tokenDigest != nil && !authed {
			s.reject(peer, reasonAuth, now)
			w.Header().Set("WWW-Authenticate", `Bearer realm="mcp"`)
			writeRefusal(w, http.StatusUnauthorized, codeInvalidRequest,
				"missing or wrong bearer token: send the server's token as 'Authorization: Bearer <token>'", nil)
			return
		}
		if !mcp {
			next.ServeHTTP(w, r)
			return
		}

		if rate := s.opts.Security.ConnectionRateLimit; rate > 0 {
			if wait, ok := s.clients.take(id, rate, now); !ok {
				s.reject(id, reasonRate, now)
				secs := retrySeconds(wait)
				w.Header().Set("Retry-After", strconv.Itoa(secs))
				writeRefusal(w, http.StatusTooManyRequests, codeServerError,
					fmt.Sprintf("rate limit exceeded: at most %d requests per minute per client; retry after %d s", rate, secs),
					map[string]any{"limit_per_minute": rate, "retry_after_seconds": secs})
				return
			}
		}
		if r.Method == http.MethodPost && !s.bufferBody(w, r) {
			s.metrics.rejections.WithLabelValues(reasonBody).Inc()
			return
		}
		if rw, ok := w.(*statusRecorder); ok {
			rw.client = id
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientIDKey{}, id)))
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
			fmt.Sprintf("request body exceeds %d bytes; send smaller arguments (split the call or shorten the artifact)", limit),
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

// tokenMatches compares SHA-256 digests in constant time, so neither the
// content nor the length of the presented token leaks through timing.
func (s *Server) tokenMatches(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	d := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return constantTimeCompare(d[:], s.tokenDigest) == 1
}

// clientIdentity names the client for limits and logs: the token
// fingerprint when authenticated, else the peer address. The Mcp-Session-Id
// header is not an identity: a client chooses it, and one that changed it on
// every request would get a fresh bucket, fresh strikes and fresh slots each
// time. Clients without a token behind one address share its limits.
func (s *Server) clientIdentity(authed bool, peer string) string {
	if authed {
		return "token:" + s.tokenFP
	}
	return peer
}

// reject counts a refusal toward the client's blacklist strikes.
func (s *Server) reject(id, reason string, now time.Time) {
	s.metrics.rejections.WithLabelValues(reason).Inc()
	threshold := s.opts.Security.BlacklistThreshold
	if threshold <= 0 {
		return
	}
	if until, started := s.clients.strike(id, now, threshold, s.opts.BlacklistWindow, s.opts.BlacklistCooldown); started {
		s.log.Warn("client blacklisted: too many rejected requests; refusing it for a cool-down",
			"client", id, "last_reason", reason, "threshold", threshold,
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
	s.metrics.rejections.WithLabelValues(reasonBlacklist).Inc()
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
	if isLoopbackName(name) {
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
	return isLoopbackName(u.Hostname())
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
