package chroma

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	chhttp "github.com/amikos-tech/chroma-go/pkg/commons/http"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/clienterr"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// Kind classifies an error for the client (the kinds are shared by every adapter).
type Kind = clienterr.Kind

// The kinds the vector store answers with (the shared ones, named for this store).
const (
	KindInvalid       = clienterr.InvalidArgument   // bad input: fix the argument
	KindNotFound      = clienterr.NotFound          // unknown collection or id
	KindDimension     = clienterr.DimensionMismatch // vector size differs from the collection's
	KindEmbedding     = clienterr.EmbeddingError    // provider missing, unreachable or mismatched
	KindUnavailable   = clienterr.Unavailable       // server down, breaker open, pool timeout
	KindNotConfigured = clienterr.NotConfigured     // no chroma found and no CHROMA_URL
)

// Error is an error the client can act on; Msg says what and how to fix it, never a credential.
type Error = clienterr.Error

// IsKind reports whether err is an *Error of kind k.
func IsKind(err error, k Kind) bool { return clienterr.IsKind(err, k) }

func invalid(field, format string, args ...any) *Error {
	return &Error{Kind: KindInvalid, Field: field, Msg: fmt.Sprintf(format, args...)}
}

func collectionNotFound(name string) *Error {
	return &Error{Kind: KindNotFound, Field: "collection", Msg: fmt.Sprintf(
		"collection %q does not exist in this project; list the collections with vector_collections "+
			"(vector_upsert creates a collection on first use)", name)}
}

// msgNotConfigured is what Open answers when there is no way to reach Chroma.
const msgNotConfigured = "vector search is not configured: install Chroma (`pip install chromadb`, so that `chroma` " +
	"is on PATH) or set CHROMA_URL to a Chroma server"

// chromaStatus returns the HTTP status of Chroma's answer carried by err; 0
// with ok means the request got no answer at all (refused, reset, timed out).
// chroma-go flattens transport errors into a *ChromaError with ErrorCode 0,
// so errors.Is on the network cause does not work: the code is the signal.
func chromaStatus(err error) (status int, msg string, ok bool) {
	var ce *chhttp.ChromaError
	if errors.As(err, &ce) {
		return ce.ErrorCode, ce.Message, true
	}
	return 0, "", false
}

// unreachable reports whether err means the server did not answer (or a proxy
// said it is gone): the request slot is discarded so the next call proves the
// server alive again through the pool's Open hook, which feeds the breaker.
func unreachable(err error) bool {
	if err == nil {
		return false
	}
	if status, _, ok := chromaStatus(err); ok {
		return status == 0 || status == 502 || status == 503 || status == 504
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// clean makes a server or library message safe to show: credentials removed,
// the configured token masked even if a server echoed it, and trimmed.
func (s *Store) clean(msg string) string {
	if tok := s.opts.Backends.ChromaToken.Reveal(); tok != "" {
		msg = strings.ReplaceAll(msg, tok, "****")
	}
	msg = workspace.Redact(strings.TrimSpace(msg))
	if len(msg) > 400 {
		msg = msg[:400] + "…"
	}
	return msg
}

// where names the server for messages: the sanitized URL and, in remote mode, the database.
func (s *Store) where() string {
	if s.mode == ModeRemote {
		return fmt.Sprintf("Chroma at %s (database %s)", sanitizeURL(s.remoteURL), s.database)
	}
	return "the project's local Chroma server"
}

// unavailableHint says what to do when the server does not answer.
func (s *Store) unavailableHint() string {
	if s.mode == ModeManaged {
		return "it is restarted automatically; retry shortly, and if it keeps failing read " + s.logFile()
	}
	return "check that the server at CHROMA_URL is running and reachable from this machine, then retry"
}

// fail turns an error from chroma-go (or a context error) met while doing
// what into an *Error the client can act on. *Error values pass unchanged.
func (s *Store) fail(ctx context.Context, what string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	if cerr := ctx.Err(); cerr != nil {
		msg := "the call was cancelled while " + what + "; parts that did not run changed nothing"
		if errors.Is(cerr, context.DeadlineExceeded) {
			msg = "the call's deadline passed while " + what + "; parts that did not run changed nothing; retry"
		}
		return &Error{Kind: KindUnavailable, Msg: msg, Err: err}
	}
	status, msg, isChroma := chromaStatus(err)
	if !isChroma {
		msg = err.Error()
	}
	msg = s.clean(msg)
	switch {
	case unreachable(err):
		return &Error{Kind: KindUnavailable, Err: err, Msg: fmt.Sprintf(
			"%s did not answer while %s (%s); %s", s.where(), what, msg, s.unavailableHint())}
	case status == 401 || status == 403:
		return &Error{Kind: KindUnavailable, Err: err, Msg: fmt.Sprintf(
			"%s refused the request while %s (HTTP %d: %s): check CHROMA_TOKEN (sent as a bearer token) "+
				"and that the token may use tenant %s", s.where(), what, status, msg, s.tenant)}
	case status == 404:
		return &Error{Kind: KindNotFound, Err: err, Msg: fmt.Sprintf("not found while %s: %s", what, msg)}
	case status >= 400 && status < 500:
		return &Error{Kind: KindInvalid, Err: err, Msg: fmt.Sprintf(
			"Chroma rejected the request while %s: %s", what, msg)}
	case isChroma:
		return &Error{Kind: KindUnavailable, Err: err, Msg: fmt.Sprintf(
			"%s failed while %s (HTTP %d: %s); retry, and if it persists read the server's log", s.where(), what, status, msg)}
	default:
		// chroma-go refused the request before sending it, or the answer could
		// not be read; our own checks should have caught bad input first.
		return &Error{Kind: KindUnavailable, Err: err, Msg: fmt.Sprintf(
			"the vector store failed while %s: %s; retry, and if it persists report it with the server's log", what, msg)}
	}
}

// poolError turns an Acquire failure into an error the client can act on.
func (s *Store) poolError(err error) error {
	e := &Error{Kind: KindUnavailable, Err: err}
	st := s.opts.Settings
	var co *pooling.CircuitOpenError
	switch {
	case errors.As(err, &co):
		e.RetryAfter = co.RetryAfter
		e.Msg = fmt.Sprintf("%s is unavailable: it failed %s in a row, so vector calls fail fast for now (last error: %s); "+
			"retry after %s; %s", s.where(), plural(s.breakerThreshold(), "time"), s.clean(co.LastErr),
			co.RetryAfter.Round(100*time.Millisecond), s.unavailableHint())
	case errors.Is(err, pooling.ErrTimeout):
		e.Msg = fmt.Sprintf("the vector store is busy: all %d request slots (max_connections + max_overflow) stayed in use "+
			"for pool_timeout (%s); retry, or raise database_pools.vector.max_connections or pool_timeout",
			max(st.MaxConnections, 1)+max(st.MaxOverflow, 0), s.acquireTimeout())
	case errors.Is(err, pooling.ErrClosed):
		e.Msg = "the vector store of this project was closed while the call was waiting; retry the call"
	case errors.Is(err, context.Canceled):
		e.Msg = "the call was cancelled while waiting for the vector store; nothing was changed"
	case errors.Is(err, context.DeadlineExceeded):
		e.Msg = "the call's deadline passed while waiting for the vector store; nothing was changed; retry"
	default:
		// The Open hook failed: the heartbeat did not come back.
		e.Msg = fmt.Sprintf("%s did not answer its heartbeat (%s); %s", s.where(), s.clean(err.Error()), s.unavailableHint())
	}
	return e
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
