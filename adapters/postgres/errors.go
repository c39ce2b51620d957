package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/clienterr"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
)

// The kinds the task store answers with: the same as adapters/sqlite's.
const (
	KindInvalid    = clienterr.InvalidArgument
	KindNotFound   = clienterr.NotFound
	KindConflict   = clienterr.VersionConflict
	KindTransition = clienterr.InvalidTransition
	KindCycle      = clienterr.DependencyCycle
	KindLeaseHeld  = clienterr.LeaseHeld
	KindBusy       = clienterr.Unavailable
)

// Error is a store error the client can act on: its Msg never holds a cause's
// text (PostgreSQL's message, a SQLSTATE, the URL); Err keeps it for logs.
type Error = clienterr.Error

func invalid(field, format string, args ...any) *Error {
	return &Error{Kind: KindInvalid, Field: field, Msg: fmt.Sprintf(format, args...)}
}

func notFound(field, id string) *Error {
	return &Error{Kind: KindNotFound, Field: field,
		Msg: fmt.Sprintf("task %s does not exist; list tasks with task_list", id)}
}

func conflict(id string, have, want int64) error {
	return &Error{Kind: KindConflict, Field: "version",
		Msg: fmt.Sprintf("task %s is at version %d, not %d: it changed since you read it; "+
			"re-read it with task_get and retry with version %d", id, have, want, have)}
}

// SQLSTATEs the store acts on.
const (
	codeSerialization = "40001"
	codeDeadlock      = "40P01"
	codeForeignKey    = "23503"
)

// errRetry asks write to run the transaction again: what it read changed
// under it in a way its locks could not prevent (a subtask created while its
// parent was being deleted).
var errRetry = errors.New("postgres: the transaction met a concurrent change; run it again")

// retryable says whether a transaction that failed with err may simply be
// run again: PostgreSQL rolled it back whole.
func retryable(err error) bool {
	if errors.Is(err, errRetry) {
		return true
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == codeSerialization || pe.Code == codeDeadlock)
}

// foreignKey is the name of the foreign key err violates ("" if none).
func foreignKey(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == codeForeignKey {
		return pe.ConstraintName
	}
	return ""
}

// poolError turns an Acquire failure into an error the client can act on.
func (s *Store) poolError(err error) error {
	e := &Error{Kind: KindBusy, Err: err}
	switch {
	case errors.Is(err, pooling.ErrTimeout):
		st := s.opts.Settings
		e.Msg = fmt.Sprintf("the task database is busy: all %d connections to PostgreSQL (max_connections) stayed in use "+
			"for pool_timeout (%s); retry, or raise database_pools.operational.max_connections or pool_timeout",
			max(st.MaxConnections, 1)+max(st.MaxOverflow, 0), s.acquireTimeout())
	case errors.Is(err, pooling.ErrClosed):
		e.Msg = "the task database of this project was closed while the call was waiting; retry the call"
	case errors.Is(err, pooling.ErrCircuitOpen):
		e.Msg = "the task database is unavailable: connecting to PostgreSQL failed repeatedly, so calls fail fast for a while"
		var co *pooling.CircuitOpenError
		if errors.As(err, &co) && co.RetryAfter > 0 {
			e.RetryAfter = co.RetryAfter
			e.Msg += fmt.Sprintf("; retry after %s", co.RetryAfter.Round(100*time.Millisecond))
		} else {
			e.Msg += "; retry shortly"
		}
		e.Msg += ", and check that the PostgreSQL server is up and reachable"
	case errors.Is(err, context.Canceled):
		e.Msg = "the call was cancelled while waiting for the task database; nothing was changed"
	case errors.Is(err, context.DeadlineExceeded):
		e.Msg = "the call's deadline passed while waiting for the task database; nothing was changed; retry, or raise pool_timeout"
	default:
		e.Msg = "the task database could not be reached: connecting to PostgreSQL failed; check that the server is up " +
			"and reachable and that the configured credentials are right, then retry"
	}
	return e
}

// wrap gives an error that is not the client's (*Error) its operation; one
// that says the connection was lost becomes an Unavailable *Error, since the
// client can act on it (retry, re-reading first after a write).
func wrap(op string, write bool, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("task store: %s: %w", op, err)
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) && connectionLost(err) {
		msg := "the connection to the task database (PostgreSQL) was lost during the call; retry"
		if write {
			msg = "the connection to the task database (PostgreSQL) was lost during the call, so the change may or may " +
				"not have been made; re-read the task with task_get before retrying"
		}
		return &Error{Kind: KindBusy, Err: fmt.Errorf("task store: %s: %w", op, err), Msg: msg}
	}
	return fmt.Errorf("task store: %s: %w", op, err)
}

// connectionLost says whether err is a failure of the connection rather than
// of a statement.
func connectionLost(err error) bool {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "unexpected EOF") ||
		strings.Contains(msg, "connection reset") || strings.Contains(msg, "broken pipe")
}

// scrubText removes every password rawURL holds from msg.
func scrubText(rawURL, msg string) string {
	msg = redactFallback(msg)
	for _, pw := range passwords(rawURL) {
		if pw != "" {
			msg = strings.ReplaceAll(msg, pw, "***")
		}
	}
	return msg
}
