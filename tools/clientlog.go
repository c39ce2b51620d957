package tools

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/clienterr"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/project"
)

// LoggerName is the logger of every log message this server sends a client.
const LoggerName = "task-orchestrator"

// DefaultClientLogLevel is the level of a session that never called
// logging/setLevel: warnings and worse. (mcp-go's own default is error; the
// specification lets a server send log messages before setLevel, and the
// warnings here are the ones worth an agent's attention.)
const DefaultClientLogLevel = mcp.LoggingLevelWarning

// Client log events raised by a tool call (a project's background events
// use project.EventKind).
const (
	EventPoolTimeout        = "pool_timeout"        // the call waited pool_timeout for a connection and got none
	EventBackendDown        = "backend_down"        // the backend's circuit breaker is open: calls fail fast
	EventBackendUnavailable = "backend_unavailable" // the backend did not answer, or its managed server could not start
)

// ClientLog sends the warnings an agent or its human should see to the
// clients as MCP log messages (notifications/message, logger
// "task-orchestrator"):
//
//   - a warning that arises during a tool call (its pool timed out, the
//     backend it needed is down or unreachable) is sent during that call to
//     its client, at the level the client asked for: the session's level
//     (logging/setLevel) on protocol 2025-06-18 and 2025-11-25, the request's
//     own _meta log level on 2026-07-28 (none asked, none sent);
//   - a project's background events (project.Registry.OnEvent: a lease that
//     expired, a mirror that fell behind, a backend whose circuit breaker
//     opened or closed) go to every session of protocol 2025-06-18/2025-11-25 that has
//     called a tool on that project, at its level. A 2026-07-28 client has no
//     session level to send them at, so it does not hear them.
//
// A session that never called logging/setLevel gets DefaultClientLogLevel.
// Sending never blocks: a session whose queue is full misses the message
// (mcp-go drops it and reports it to the error hooks).
type ClientLog struct {
	srv *server.MCPServer
	log *slog.Logger

	mu       sync.Mutex
	sessions map[string]map[string]bool // legacy session id -> project roots it called tools on
}

// NewClientLog returns the client log of srv. Wire it with SessionStarted,
// SessionInitialized and SessionEnded (server.Hooks), Event (project.Registry.OnEvent), and set
// it as Deps.ClientLog so that tool calls report their warnings.
func NewClientLog(srv *server.MCPServer, logger *slog.Logger) *ClientLog {
	if logger == nil {
		logger = slog.Default()
	}
	return &ClientLog{srv: srv, log: logger, sessions: map[string]map[string]bool{}}
}

// SessionStarted gives a new session the default level and starts
// remembering the projects it uses (server.Hooks.AddOnRegisterSession).
func (l *ClientLog) SessionStarted(_ context.Context, session server.ClientSession) {
	if sl, ok := session.(server.SessionWithLogging); ok {
		sl.SetLogLevel(DefaultClientLogLevel)
	}
	l.mu.Lock()
	l.sessions[session.SessionID()] = map[string]bool{}
	l.mu.Unlock()
}

// SessionInitialized gives the session the default level again once it has
// initialized (server.Hooks.AddAfterInitialize): mcp-go's stdio session
// resets its level to error when it initializes.
func (l *ClientLog) SessionInitialized(ctx context.Context, _ any, _ *mcp.InitializeRequest, _ *mcp.InitializeResult) {
	if sl, ok := server.ClientSessionFromContext(ctx).(server.SessionWithLogging); ok {
		sl.SetLogLevel(DefaultClientLogLevel)
	}
}

// SessionEnded forgets a session (server.Hooks.AddOnUnregisterSession).
func (l *ClientLog) SessionEnded(_ context.Context, session server.ClientSession) {
	l.mu.Lock()
	delete(l.sessions, session.SessionID())
	l.mu.Unlock()
}

// Event sends a project's background event to the sessions that used the
// project (project.Registry.OnEvent). It never blocks.
func (l *ClientLog) Event(e project.Event) {
	l.mu.Lock()
	var ids []string
	for id, roots := range l.sessions {
		if roots[e.Root] {
			ids = append(ids, id)
		}
	}
	l.mu.Unlock()
	data := map[string]any{"event": string(e.Kind), "message": e.Message}
	if e.TaskID != "" {
		data["task_id"] = e.TaskID
	}
	if e.Agent != "" {
		data["agent"] = e.Agent
	}
	if e.Mirror != "" {
		data["mirror"] = e.Mirror
	}
	if e.Backend != "" {
		data["backend"] = e.Backend
	}
	n := mcp.NewLoggingMessageNotification(mcpLevel(e.Level), LoggerName, data)
	for _, id := range ids {
		if err := l.srv.SendLogMessageToSpecificClient(id, n); err != nil {
			l.log.Debug("client log: not sent", "event", string(e.Kind), "session", id, "err", err)
		}
	}
}

// called is told about every tool call once it has an answer: it remembers
// which project the session used, and sends the call's warning, if it has
// one, during the call. res is the tool error the client gets for err. A nil
// ClientLog does nothing.
func (l *ClientLog) called(ctx context.Context, tool, root string, err error, res *mcp.CallToolResult) {
	if l == nil {
		return
	}
	session := server.ClientSessionFromContext(ctx)
	if root != "" && session != nil && !server.IsModernRequest(ctx) {
		l.mu.Lock()
		if roots, ok := l.sessions[session.SessionID()]; ok {
			roots[root] = true
		}
		l.mu.Unlock()
	}
	if err == nil || ctx.Err() != nil || session == nil {
		return
	}
	kind := callEvent(err)
	if kind == "" {
		return
	}
	data := map[string]any{"event": kind, "tool": tool, "message": resultText(res)}
	n := mcp.NewLoggingMessageNotification(mcp.LoggingLevelWarning, LoggerName, data)
	if serr := l.srv.SendLogMessageToClient(ctx, n); serr != nil {
		l.log.Debug("client log: not sent", "event", kind, "tool", tool, "err", serr)
		return
	}
	awaitForwarder(session)
}

// awaitForwarder waits, a few milliseconds at most, until the message just
// queued on an HTTP session has been taken by the goroutine that writes it
// to the call's response stream. mcp-go v1.2.1's Streamable HTTP POST
// handler drops a notification that goroutine is still holding when the
// tool handler returns (it only waits for it with an event store), and a
// failing call returns within microseconds of its warning. Over stdio
// messages are written in order and nothing is lost.
func awaitForwarder(session server.ClientSession) {
	if _, ok := session.(server.SessionWithStreamableHTTPConfig); !ok {
		return
	}
	ch := session.NotificationChannel()
	for i := 0; i < 50 && len(ch) > 0; i++ {
		time.Sleep(time.Millisecond)
	}
	// Taken off the queue: let it lock the response writer before we return.
	time.Sleep(2 * time.Millisecond)
}

// callEvent says which warning a failed call's error is worth, or "".
func callEvent(err error) string {
	switch {
	case errors.Is(err, pooling.ErrTimeout):
		return EventPoolTimeout
	case errors.Is(err, pooling.ErrCircuitOpen):
		return EventBackendDown
	case clienterr.IsKind(err, clienterr.Unavailable):
		return EventBackendUnavailable
	}
	return ""
}

func resultText(res *mcp.CallToolResult) string {
	if res == nil {
		return ""
	}
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			return tc.Text
		}
	}
	return ""
}

// mcpLevel maps a slog level onto the MCP log levels.
func mcpLevel(l slog.Level) mcp.LoggingLevel {
	switch {
	case l >= slog.LevelError:
		return mcp.LoggingLevelError
	case l >= slog.LevelWarn:
		return mcp.LoggingLevelWarning
	case l >= slog.LevelInfo:
		return mcp.LoggingLevelInfo
	}
	return mcp.LoggingLevelDebug
}
