package transport

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// ToolMiddleware records tool call counts and latencies by tool and outcome,
// and enforces max_connections_per_client (concurrent calls per client).
//
// A call from a client whose slots are all taken waits up to ConcurrencyWait
// (1s) and then gets a tool error; it never hangs. Over stdio (ClientID "")
// only the metrics are recorded.
func (s *Server) ToolMiddleware() server.ToolHandlerMiddleware {
	limit := s.opts.Security.MaxConnectionsPerClient
	return func(next server.ToolHandlerFunc) server.ToolHandlerFunc {
		return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			tool := req.Params.Name
			start := time.Now()
			agent := agentOf(ctx)
			if id := ClientID(ctx); id != "" && limit > 0 {
				release, ok := s.clients.acquire(ctx, id, s.now(), s.opts.ConcurrencyWait)
				if !ok {
					s.refused(reasonConcurrency, agent)
					s.observe(tool, "tool_error", agent, start)
					return mcp.NewToolResultError(fmt.Sprintf(
						"too many concurrent calls for this client (limit %d); retry after they finish", limit)), nil
				}
				defer release()
			}
			res, err := next(ctx, req)
			outcome := "ok"
			switch {
			case err != nil:
				outcome = "error"
			case res != nil && res.IsError:
				outcome = "tool_error"
				if ClientID(ctx) != "" && outsideAllowedRoots(res) {
					// A workspace outside --allow-root over HTTP: counted
					// (an operator sees an agent probing), not a strike:
					// the client authenticated, and its request was
					// answered with a refusal it can act on.
					s.refused(reasonWorkspace, agent)
				}
			}
			s.observe(tool, outcome, agent, start)
			return res, err
		}
	}
}

// outsideAllowedRoots reports whether a tool error is the refusal of a
// workspace outside every --allow-root tree. The tools render that error as
// the text of a workspace.RootError (after a note on where the workspace
// came from), which starts with its kind's text. A client that managed to
// make another tool error carry that text would only inflate a counter.
func outsideAllowedRoots(res *mcp.CallToolResult) bool {
	marker := workspace.ErrOutsideAllowedRoots.Error() + ": "
	for _, c := range res.Content {
		if t, ok := c.(mcp.TextContent); ok && strings.Contains(t.Text, marker) {
			return true
		}
	}
	return false
}

func (s *Server) observe(tool, outcome, agent string, start time.Time) {
	s.metrics.toolCalls.WithLabelValues(tool, outcome, agent).Inc()
	s.metrics.toolDuration.WithLabelValues(tool).Observe(time.Since(start).Seconds())
}

// statusRecorder remembers the status code for the request log and the
// metrics. It forwards Flush (SSE streams need it) and Unwrap (for
// http.ResponseController's write deadlines).
type statusRecorder struct {
	http.ResponseWriter
	status int
	client string // set by the guard once the client is known
	quiet  bool   // a refusal already accounted for elsewhere: log at debug level
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(p)
}

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// logRequests writes one structured line per request: method, path, status,
// duration and client id. Headers are never logged (Authorization carries
// the token). Answered requests log at debug level, refusals (4xx) at info,
// failures (5xx) at warn; the refusals of a blacklisted client (its
// blacklisting was logged once) at debug.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		path := pathLabel(r.URL.Path)
		s.metrics.httpRequests.WithLabelValues(path, strconv.Itoa(rec.status)).Inc()
		// Routine requests (a busy client sends several a second) at debug;
		// refusals at info, server failures at warn.
		level := slog.LevelDebug
		switch {
		case rec.quiet:
		case rec.status >= 500:
			level = slog.LevelWarn
		case rec.status >= 400:
			level = slog.LevelInfo
		}
		if !s.log.Enabled(r.Context(), level) {
			return
		}
		client := rec.client
		if client == "" {
			client = "ip:" + remoteIP(r)
		}
		logPath := r.URL.Path
		if len(logPath) > 200 {
			logPath = logPath[:200] + "…"
		}
		s.log.Log(r.Context(), level, "http request",
			"method", r.Method, "path", logPath, "status", rec.status,
			"duration", time.Since(start), "client", client)
	})
}
