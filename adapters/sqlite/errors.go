package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"

	msqlite "modernc.org/sqlite"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/clienterr"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
)

// Kind classifies a store error so the tools layer can answer the client well.
type Kind = clienterr.Kind

// The kinds the task store answers with (the shared ones, named for this store).
const (
	KindInvalid    = clienterr.InvalidArgument // bad input: fix the argument
	KindNotFound   = clienterr.NotFound
	KindConflict   = clienterr.VersionConflict // optimistic lock: re-read and retry
	KindTransition = clienterr.InvalidTransition
	KindCycle      = clienterr.DependencyCycle
	KindLeaseHeld  = clienterr.LeaseHeld   // another agent holds the task under a live lease
	KindBusy       = clienterr.Unavailable // pool timeout / closed / breaker: the client sees "unavailable"
)

// Error is a store error the client can act on. Msg says what was wrong and how to fix it.
type Error = clienterr.Error

// IsKind reports whether err is a *Error of kind k.
func IsKind(err error, k Kind) bool { return clienterr.IsKind(err, k) }

func invalid(field, format string, args ...any) *Error {
	return &Error{Kind: KindInvalid, Field: field, Msg: fmt.Sprintf(format, args...)}
}

func notFound(field, id string) *Error {
	return &Error{Kind: KindNotFound, Field: field,
		Msg: fmt.Sprintf("task %s does not exist; list tasks with task_list", id)}
}

// poolError turns an Acquire failure into an error the client can act on.
// which is "writer" or "reader".
func (s *Store) poolError(err error, which string) error {
	st := s.opts.Settings
	e := &Error{Kind: KindBusy, Err: err}
	switch {
	case errors.Is(err, pooling.ErrTimeout):
		if which == "writer" {
			e.Msg = fmt.Sprintf("the task database is busy: every write goes through one connection and it did not "+
				"become free within pool_timeout (%s); retry, or raise database_pools.operational.pool_timeout",
				s.acquireTimeout())
		} else {
			e.Msg = fmt.Sprintf("the task database is busy: all %d reader connections (max_connections) stayed in use "+
				"for pool_timeout (%s); retry, or raise database_pools.operational.max_connections or pool_timeout",
				st.MaxConnections+st.MaxOverflow, s.acquireTimeout())
		}
	case errors.Is(err, pooling.ErrClosed):
		e.Msg = "the task database of this project was closed while the call was waiting; retry the call"
	case errors.Is(err, pooling.ErrCircuitOpen):
		e.Msg = "the task database is unavailable: opening tasks.db failed repeatedly, so calls fail fast for a while"
		var co *pooling.CircuitOpenError
		if errors.As(err, &co) && co.RetryAfter > 0 {
			e.Msg += fmt.Sprintf("; retry after %s", co.RetryAfter.Round(100*time.Millisecond))
		} else {
			e.Msg += "; retry shortly"
		}
		e.Msg += ", and check that .task_orchestrator/databases/tasks.db is readable and the disk is not full"
	case errors.Is(err, context.Canceled):
		e.Msg = "the call was cancelled while waiting for the task database; nothing was changed"
	case errors.Is(err, context.DeadlineExceeded):
		e.Msg = "the call's deadline passed while waiting for the task database; nothing was changed; retry, or raise pool_timeout"
	default:
		e.Msg = "the task database could not be opened (.task_orchestrator/databases/tasks.db); " +
			"check that the file is readable and writable and the disk is not full, then retry"
	}
	return e
}

// broken reports whether err means the connection itself is unusable, so the
// pool should discard it rather than hand it out again.
func broken(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) {
		return true
	}
	var se *msqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case 10, 11, 14, 26: // SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_CANTOPEN, SQLITE_NOTADB
			return true
		}
	}
	return false
}

// IsBusy reports whether err is SQLite's SQLITE_BUSY or SQLITE_LOCKED, which
// the single writer is meant to make impossible. Tests and benchmarks use it.
func IsBusy(err error) bool {
	var se *msqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
			return true
		}
	}
	return err != nil && strings.Contains(err.Error(), "database is locked")
}
