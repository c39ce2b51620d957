package transport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// Defaults for the zero values of Options.
const (
	DefaultMaxBodyBytes      = 4 << 20
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 5 * time.Minute // long enough for a slow tool call
	DefaultIdleTimeout       = 2 * time.Minute
	DefaultShutdownTimeout   = 15 * time.Second
	DefaultBlacklistWindow   = time.Minute
	DefaultBlacklistCooldown = 5 * time.Minute
	DefaultMaxClients        = 10000
	// DefaultConcurrencyWait is how long a tool call waits for one of its
	// client's concurrency slots before it is answered with a tool error.
	DefaultConcurrencyWait = time.Second
	// DefaultRefusalDelay is how long a blacklisted client's refusal is held.
	DefaultRefusalDelay = 250 * time.Millisecond
	// DefaultTokensReloadInterval is how often the auth tokens file's
	// identity (inode, size, modification time) is checked for a change.
	DefaultTokensReloadInterval = 2 * time.Second
	// maxHeldRefusals bounds the refusals held at once (parked goroutines);
	// past it a blacklisted client is refused without delay.
	maxHeldRefusals = 256
)

// Options configure the Streamable HTTP transport. Zero values take the
// defaults above; a limit in Security that is 0 or negative is off.
type Options struct {
	Addr      string // host:port; loopback unless AuthToken or AuthTokensFile is set
	AuthToken workspace.Secret
	// AuthTokensFile holds one "name:token" per line, one per agent; it is
	// reloaded when it changes. Each agent has its own limits and its name
	// in logs and metrics. It may be used together with AuthToken.
	AuthTokensFile string
	// TokensReloadInterval is how often AuthTokensFile is checked for a
	// change (0 = 2s).
	TokensReloadInterval time.Duration
	// SessionIdleTimeout is how long a session of a session-based protocol
	// version may stay unused before it is terminated and its memory
	// released (0 = 30 minutes); its id is then answered 404.
	SessionIdleTimeout time.Duration
	AllowedOrigins     []string // extra Origin values allowed besides loopback ones
	AllowedHosts       []string // extra Host values allowed besides loopback ones
	MaxBodyBytes       int64    // 0 = 4 MiB (artifacts are the largest arguments); read no further

	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	IdleTimeout  time.Duration
	Security     workspace.Security // per-client limits
	// Pools returns every pool's metrics for /metrics and /readyz.
	Pools  func() []pooling.Metrics
	Logger *slog.Logger

	// Board, when set, is served at /board/ behind its own session cookie;
	// a token holder asks for a one-time link with POST /board/link
	// {"workspace": "/path/in/project"} (see docs/users/board.md).
	Board Board
	// BoardRoot resolves the workspace a link is asked for (inside
	// --allow-root); required with Board.
	BoardRoot func(path string) (workspace.Root, error)

	// ShutdownTimeout bounds how long in-flight requests may run once
	// ListenAndServe's context ends (0 = 15s); then connections are closed.
	ShutdownTimeout time.Duration
	// ShutdownDrain is how long, once ListenAndServe's context ends, the server
	// keeps its listener open answering /readyz with 503 (and new /mcp
	// requests with 503) so a load balancer stops routing to it before it
	// stops accepting (0 = no drain; the listener closes at once).
	ShutdownDrain time.Duration
	// BlacklistWindow is the sliding window in which BlacklistThreshold
	// rejections put a client on the blacklist (0 = 1 minute).
	BlacklistWindow time.Duration
	// BlacklistCooldown is how long a blacklisted client is refused (0 = 5 minutes).
	BlacklistCooldown time.Duration
	// MaxClients caps the per-client table (0 = 10000); the least recently
	// seen idle client is forgotten first.
	MaxClients int
	// ConcurrencyWait is how long a tool call waits for a free slot under
	// MaxConnectionsPerClient before it gets a tool error (0 = 1s).
	ConcurrencyWait time.Duration
	// RefusalDelay is how long the 403 to a blacklisted client is held before
	// it is sent (0 = 250 ms, negative = none), so that a client looping on
	// refusals is slowed down without costing CPU. At most 256 are held.
	RefusalDelay time.Duration
}

// Server is the HTTP side of the MCP server: /mcp, /healthz, /readyz, /metrics.
type Server struct {
	opts      Options
	log       *slog.Logger
	mcpServer *server.MCPServer
	mcp       *server.StreamableHTTPServer // created by ListenAndServe (it starts mcp-go's session sweeper)
	http      *http.Server
	metrics   *metrics
	clients   *clientTable
	sessions  *sessionBook

	// auth holds the SHA-256 digests of the accepted tokens (none when auth
	// is off); the tokens themselves are not kept outside opts.
	auth *agentBook

	now  func() time.Time // replaced by tests to move time forward
	held chan struct{}    // refusals being held (RefusalDelay), bounded

	shuttingDown atomic.Bool
	mu           sync.Mutex // guards addr and started
	addr         string
	started      bool
}

// ErrNonLoopbackWithoutToken is returned by New for a non-loopback Addr
// without an AuthToken.
var ErrNonLoopbackWithoutToken = errors.New("refusing to listen on a non-loopback address without an auth token")

// New wraps an MCP server. It refuses a non-loopback Addr without an AuthToken.
//
// Install the tool middleware on the same MCP server (mcpServer.Use(s.ToolMiddleware()))
// so that the per-client concurrency limit and the tool metrics apply.
func New(mcp *server.MCPServer, opts Options) (*Server, error) {
	if mcp == nil {
		return nil, errors.New("transport: the MCP server is nil")
	}
	if opts.Addr == "" {
		return nil, errors.New("transport: no listen address: pass host:port, e.g. 127.0.0.1:8765")
	}
	host, _, err := net.SplitHostPort(opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("transport: listen address %q is not host:port: %w", opts.Addr, err)
	}
	if opts.Board != nil && opts.BoardRoot == nil {
		return nil, errors.New("transport: a Board needs BoardRoot to resolve the workspaces links are asked for")
	}
	if !IsLoopbackName(host) && !opts.AuthToken.IsSet() && opts.AuthTokensFile == "" {
		return nil, fmt.Errorf("transport: %w: %q reaches other machines; bind 127.0.0.1 or give auth tokens (--auth-token-file or --auth-tokens-file)",
			ErrNonLoopbackWithoutToken, opts.Addr)
	}
	applyDefaults(&opts)

	s := &Server{opts: opts, log: opts.Logger, now: time.Now, held: make(chan struct{}, maxHeldRefusals),
		mcpServer: mcp, sessions: newSessionBook()}
	auth, err := newAgentBook(opts.AuthToken.Reveal(), opts.AuthTokensFile, s.log)
	if err != nil {
		return nil, err
	}
	s.auth = auth
	s.metrics = newMetrics(opts.Pools, func() float64 { return float64(s.sessions.len()) })
	s.auth.onSwap = s.metrics.forgetAgents
	s.auth.reloads = func(ok bool) {
		if ok {
			s.metrics.reloads.WithLabelValues("ok").Inc()
		} else {
			s.metrics.reloads.WithLabelValues("error").Inc()
		}
	}
	s.clients = newClientTable(opts.MaxClients, opts.Security.MaxConnectionsPerClient)

	mux := http.NewServeMux()
	// s.mcp is set by ListenAndServe before it serves.
	mux.Handle("/mcp", s.guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.mcp.ServeHTTP(w, r) }), guardMCP))
	mux.HandleFunc("/healthz", s.handleHealthz)
	mux.Handle("/readyz", s.guard(http.HandlerFunc(s.handleReadyz), guardBearer))
	mux.Handle("/metrics", s.guard(s.metrics.handler(), guardBearer))
	// OAuth discovery (/.well-known/oauth-protected-resource, …) that a
	// client starts on a 401 ends here, at once, with the reason.
	mux.HandleFunc("/.well-known/", noOAuth)
	if opts.Board != nil {
		// The board's pages and API carry their own credential, a session
		// cookie from a one-time link; the link is asked for with the token.
		mux.Handle("/board/", s.guard(opts.Board.Handler(), guardBrowser))
		mux.Handle("/board/link", s.guard(http.HandlerFunc(s.handleBoardLink), guardBearer))
	}
	s.http = &http.Server{
		Addr:              opts.Addr,
		Handler:           s.logRequests(mux),
		ReadTimeout:       opts.ReadTimeout,
		ReadHeaderTimeout: opts.ReadTimeout,
		WriteTimeout:      opts.WriteTimeout,
		IdleTimeout:       opts.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	return s, nil
}

func applyDefaults(o *Options) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	if o.BlacklistWindow <= 0 {
		o.BlacklistWindow = DefaultBlacklistWindow
	}
	if o.BlacklistCooldown <= 0 {
		o.BlacklistCooldown = DefaultBlacklistCooldown
	}
	if o.MaxClients <= 0 {
		o.MaxClients = DefaultMaxClients
	}
	if o.ConcurrencyWait <= 0 {
		o.ConcurrencyWait = DefaultConcurrencyWait
	}
	if o.RefusalDelay == 0 {
		o.RefusalDelay = DefaultRefusalDelay
	}
	if o.TokensReloadInterval <= 0 {
		o.TokensReloadInterval = DefaultTokensReloadInterval
	}
	if o.SessionIdleTimeout <= 0 {
		o.SessionIdleTimeout = DefaultSessionIdleTimeout
	}
}

// ListenAndServe serves until ctx ends, then shuts down gracefully: in-flight
// calls finish (up to the shutdown timeout) and new ones are refused.
func (s *Server) ListenAndServe(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("transport: ListenAndServe called twice; create a new Server")
	}
	s.started = true
	s.mu.Unlock()

	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("transport: listen on %s: %w (is another process using the port?)", s.opts.Addr, err)
	}
	s.mu.Lock()
	s.addr = ln.Addr().String()
	s.mu.Unlock()

	attrs := []any{"addr", s.Addr(), "endpoint", "/mcp", "auth", s.auth.enabled(), "session_idle_timeout", s.opts.SessionIdleTimeout}
	if fp := s.auth.fingerprint(); fp != "" {
		attrs = append(attrs, "token_fingerprint", fp)
	}
	if s.opts.AuthTokensFile != "" {
		attrs = append(attrs, "agents", s.auth.names())
	}
	s.log.Info("serving MCP over Streamable HTTP", attrs...)

	// mcp-go starts its idle-session sweeper with the StreamableHTTPServer
	// and stops it in Shutdown: both happen here, so it lives exactly as
	// long as ListenAndServe.
	s.mcp = server.NewStreamableHTTPServer(s.mcpServer,
		server.WithEndpointPath("/mcp"),
		server.WithStreamableHTTPLogger(s.log),
		// The guard in front of /mcp checks Host (a superset of mcp-go's
		// loopback check, plus AllowedHosts for reverse proxies) and Origin.
		server.WithDisableLocalhostProtection(true),
		server.WithSessionIdManager(s.sessions),
		server.WithSessionIdleTTL(s.opts.SessionIdleTimeout),
	)

	var owned sync.WaitGroup
	stopOwned := make(chan struct{})
	owned.Go(func() { s.sweepClients(stopOwned) })
	owned.Go(func() { s.auth.watch(stopOwned, s.opts.TokensReloadInterval) })
	defer func() {
		close(stopOwned)
		owned.Wait()
	}()

	serveErr := make(chan error, 1)
	go func() { serveErr <- s.http.Serve(ln) }()

	select {
	case err := <-serveErr:
		_ = s.mcp.Shutdown(context.Background()) // stops the session sweeper
		return fmt.Errorf("transport: HTTP server stopped: %w", err)
	case <-ctx.Done():
	}

	s.shuttingDown.Store(true)
	s.log.Info("shutting down the HTTP transport: finishing in-flight requests",
		"drain", s.opts.ShutdownDrain, "timeout", s.opts.ShutdownTimeout)
	if s.opts.ShutdownDrain > 0 {
		time.Sleep(s.opts.ShutdownDrain)
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	// Listening GET streams never finish by themselves: end them first
	// (mcp-go's Shutdown closes the sessions and stops its sweeper; it
	// serves no listener of its own here).
	_ = s.mcp.Shutdown(shutCtx)
	err = s.http.Shutdown(shutCtx)
	if err != nil {
		s.log.Warn("in-flight requests did not finish within the shutdown timeout; closing their connections",
			"timeout", s.opts.ShutdownTimeout)
		_ = s.http.Close()
	}
	if e := <-serveErr; e != nil && !errors.Is(e, http.ErrServerClosed) {
		return fmt.Errorf("transport: HTTP server stopped: %w", e)
	}
	if err != nil {
		return fmt.Errorf("transport: graceful shutdown: %w", err)
	}
	return nil
}

// Addr is the address actually bound (useful with port 0), valid once serving.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// sweepClients forgets idle clients every BlacklistWindow until stop closes.
func (s *Server) sweepClients(stop <-chan struct{}) {
	t := time.NewTicker(s.opts.BlacklistWindow)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			// A minute idle refills any bucket (capacity = rate per minute).
			s.clients.sweep(s.now(), max(s.opts.BlacklistWindow, time.Minute))
		}
	}
}

func (s *Server) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok"))
}

type poolReadiness struct {
	Workspace string `json:"workspace"`
	Backend   string `json:"backend"`
	Pool      string `json:"pool"`
	State     string `json:"state"`
	InUse     int    `json:"in_use"`
	Total     int    `json:"total"`
	LastError string `json:"last_error,omitempty"`
}

func (s *Server) handleReadyz(w http.ResponseWriter, _ *http.Request) {
	body := struct {
		Status string          `json:"status"`
		Pools  []poolReadiness `json:"pools"`
	}{Status: "ready", Pools: []poolReadiness{}}
	status := http.StatusOK
	if s.shuttingDown.Load() {
		body.Status = "shutting down"
		status = http.StatusServiceUnavailable
	} else if s.opts.Pools != nil {
		for _, m := range s.opts.Pools() {
			body.Pools = append(body.Pools, poolReadiness{
				Workspace: m.Workspace, Backend: m.Backend, Pool: m.Name, State: string(m.State),
				InUse: m.InUse, Total: m.Total, LastError: m.LastError,
			})
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// IsLoopbackName reports whether host (no port, brackets allowed) names the
// loopback interface. "" (all interfaces) is not loopback.
func IsLoopbackName(host string) bool {
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
