package neo4j

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/clienterr"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// Kind classifies an error for the client (the kinds are shared by every adapter).
type Kind = clienterr.Kind

// The kinds the graph store answers with (the shared ones, named for this store).
const (
	KindInvalid       = clienterr.InvalidArgument
	KindNotFound      = clienterr.NotFound
	KindNotReadOnly   = clienterr.NotReadOnly // graph_query refused: the plan is not read-only, or it reaches outside the database
	KindForbidden     = clienterr.Forbidden   // raw Cypher on a shared server not dedicated to this project
	KindUnavailable   = clienterr.Unavailable
	KindNotConfigured = clienterr.NotConfigured
	KindQuery         = clienterr.QueryError     // the caller's statement: syntax, semantics, types, constraints, memory (message sanitized)
	KindTimeout       = clienterr.TimedOut       // the statement or the call ran past a time limit (the message names which)
	KindTooLarge      = clienterr.ResultTooLarge // one row alone is larger than the byte cap
	KindBusy          = clienterr.Busy           // another raw Cypher call of this project is still reading its result
	KindCancelled     = clienterr.Cancelled      // the client cancelled the call
)

// callersFault reports whether err is an *Error about the caller's request
// (its statement, its size, its time) rather than about the server: such an
// error never discards a session slot, so it cannot feed the circuit breaker.
func callersFault(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind != KindUnavailable && e.Kind != KindNotConfigured
}

// Error is an error the client can act on; Msg says what and how to fix it,
// never a credential.
type Error = clienterr.Error

// IsKind reports whether err is an *Error of kind k.
func IsKind(err error, k Kind) bool { return clienterr.IsKind(err, k) }

func invalid(field, format string, args ...any) *Error {
	return &Error{Kind: KindInvalid, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// causes flattens err into the errors it wraps, including the attempts a
// TransactionExecutionLimit gave up after (it does not implement Unwrap).
func causes(err error) []error {
	var out []error
	var walk func(error, int)
	walk = func(e error, depth int) {
		if e == nil || depth > 16 {
			return
		}
		out = append(out, e)
		if t, ok := e.(*driver.TransactionExecutionLimit); ok {
			for _, inner := range t.Errors {
				walk(inner, depth+1)
			}
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, inner := range u.Unwrap() {
				walk(inner, depth+1)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap(), depth+1)
		}
		if ce, ok := e.(*driver.ConnectivityError); ok {
			walk(ce.Inner, depth+1)
		}
	}
	walk(err, 0)
	return out
}

// serverError is the last Neo4j server error (with a status code) among err's causes.
func serverError(err error) *driver.Neo4jError {
	var last *driver.Neo4jError
	for _, c := range causes(err) {
		if ne, ok := c.(*driver.Neo4jError); ok {
			last = ne
		}
	}
	return last
}

// unreachable reports whether err means the server did not answer (refused,
// reset, timed out, unavailable): the session slot is discarded so the next
// call proves the server alive again through the pool's Open hook, which
// feeds the circuit breaker.
func unreachable(err error) bool {
	if err == nil {
		return false
	}
	for _, c := range causes(err) {
		switch e := c.(type) {
		case *driver.ConnectivityError:
			return true
		case *driver.Neo4jError:
			if e.Code == "Neo.TransientError.General.DatabaseUnavailable" ||
				e.Code == "Neo.ClientError.Cluster.NotALeader" ||
				e.Code == "Neo.TransientError.Cluster.ReplicationFailure" {
				return true
			}
		case *driver.UsageError:
			if strings.Contains(e.Message, "Pool closed") {
				return true
			}
		}
		if c == io.EOF || c == io.ErrUnexpectedEOF {
			return true
		}
		var ne net.Error
		if errors.As(c, &ne) {
			return true
		}
	}
	return false
}

// clean makes a server or driver message safe to show: the password masked
// even if something echoed it, URI credentials removed, trimmed.
func (s *Store) clean(msg string) string {
	for _, secret := range []string{s.opts.Backends.Neo4jPassword.Reveal(), s.password} {
		if len(secret) >= 3 {
			msg = strings.ReplaceAll(msg, secret, "****")
		}
	}
	if raw := strings.TrimSpace(s.opts.Backends.Neo4jURI); raw != "" {
		msg = strings.ReplaceAll(msg, raw, sanitizeURI(raw))
	}
	msg = workspace.Redact(strings.TrimSpace(msg))
	if len(msg) > 600 {
		msg = msg[:600] + "…"
	}
	return msg
}

// where names the server for messages.
func (s *Store) where() string {
	if s.mode == ModeShared {
		return "Neo4j at " + sanitizeURI(s.opts.Backends.Neo4jURI)
	}
	return "the project's local Neo4j server"
}

// unavailableHint says what to do when the server does not answer.
func (s *Store) unavailableHint() string {
	if s.mode == ModeManaged {
		return "it is restarted automatically; retry shortly, and if it keeps failing read " + s.opts.logFile()
	}
	return "check that the server at NEO4J_URI is running and reachable from this machine, then retry"
}

// fail turns an error from the driver (or a context error) met while doing
// what into an *Error the client can act on. *Error values pass unchanged.
func (s *Store) fail(ctx context.Context, what string, err error) error {
	return s.failAfter(ctx, what, err, 0)
}

// failAfter is fail for a call that began elapsed ago: a transaction the
// server terminated after running at least the query timeout timed out.
func (s *Store) failAfter(ctx context.Context, what string, err error, elapsed time.Duration) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	if cerr := ctx.Err(); cerr != nil {
		if errors.Is(cerr, context.DeadlineExceeded) {
			return &Error{Kind: KindTimeout, Err: err, Msg: "the call's own deadline (set by the client) passed while " + what +
				"; a transaction that did not commit changed nothing; retry with a longer deadline, or narrow the statement"}
		}
		return &Error{Kind: KindCancelled, Err: err,
			Msg: "the call was cancelled while " + what + "; a transaction that did not commit changed nothing"}
	}
	if ne := serverError(err); ne != nil {
		return s.serverFail(what, ne, err, elapsed)
	}
	msg := s.clean(err.Error())
	if unreachable(err) {
		if strings.Contains(msg, "Timeout while waiting for connection") || strings.Contains(msg, "No idle connections") {
			return &Error{Kind: KindUnavailable, Err: err, Msg: fmt.Sprintf(
				"every Bolt connection to %s stayed busy for pool_timeout while %s; retry, or raise "+
					"database_pools.graph.max_connections or pool_timeout", s.where(), what)}
		}
		return &Error{Kind: KindUnavailable, Err: err, Msg: fmt.Sprintf(
			"%s did not answer while %s (%s); %s", s.where(), what, msg, s.unavailableHint())}
	}
	var ue *driver.UsageError
	if errors.As(err, &ue) {
		// The driver refused the request before sending it: in practice a
		// parameter of a type Bolt cannot carry.
		return &Error{Kind: KindInvalid, Field: "params", Err: err, Msg: fmt.Sprintf(
			"the Neo4j driver refused the request while %s: %s; parameters must be strings, numbers, booleans, "+
				"lists or maps of those", what, msg)}
	}
	return &Error{Kind: KindUnavailable, Err: err, Msg: fmt.Sprintf(
		"the graph store failed while %s: %s; retry, and if it persists report it with the server's log", what, msg)}
}

// statementHint is what every error in the caller's statement ends with.
const statementHint = "fix the statement and retry (values belong in params, not in the text)"

// memoryCodes are the server's refusals of a transaction that needs more
// memory than it allows (db.memory.transaction.max, the global pool
// dbms.memory.transaction.total.max, or the JVM heap): the statement asks for
// too much, so they are the caller's, not an outage.
var memoryCodes = map[string]bool{
	"Neo.TransientError.General.MemoryPoolOutOfMemoryError": true,
	"Neo.TransientError.General.TransactionMemoryLimit":     true,
	"Neo.ClientError.General.TransactionMemoryLimit":        true,
	"Neo.TransientError.General.OutOfMemoryError":           true,
	"Neo.DatabaseError.General.OutOfMemoryError":            true,
}

// terminatedCodes end a transaction the server stopped: past its timeout, or
// killed by an administrator or a shutdown (told apart by the time it ran).
var terminatedCodes = map[string]bool{
	"Neo.ClientError.Transaction.LockClientStopped":    true,
	"Neo.TransientError.Transaction.LockClientStopped": true,
	"Neo.ClientError.Transaction.Terminated":           true,
	"Neo.TransientError.Transaction.Terminated":        true,
}

// timedOut is the error of a statement the server stopped at the
// transaction timeout.
func (s *Store) timedOut(err error, while string) *Error {
	return &Error{Kind: KindTimeout, Err: err, Msg: fmt.Sprintf(
		"the statement ran longer than the %s transaction timeout%s and Neo4j stopped it; nothing was committed; "+
			"narrow it (a more selective MATCH, LIMIT) or split the work into smaller statements",
		s.opts.queryTimeout(), while)}
}

// serverFail classifies an error Neo4j answered with, elapsed after the call began.
func (s *Store) serverFail(what string, ne *driver.Neo4jError, err error, elapsed time.Duration) error {
	msg := s.clean(ne.Msg)
	code := ne.Code
	switch {
	case code == "Neo.ClientError.Security.Unauthorized", code == "Neo.ClientError.Security.AuthenticationRateLimit",
		code == "Neo.ClientError.Security.CredentialsExpired", code == "Neo.ClientError.Security.TokenExpired":
		hint := "check NEO4J_USERNAME and NEO4J_PASSWORD (environment or global config)"
		if s.mode == ModeManaged {
			hint = "the project's server did not accept the password kept in " + s.passwordFile() +
				"; if its data folder was created with another password, stop the server and remove " + s.opts.dataDir()
		}
		return &Error{Kind: KindUnavailable, Err: err, Msg: fmt.Sprintf(
			"%s refused the login while %s (%s: %s); %s", s.where(), what, code, msg, hint)}
	case code == "Neo.ClientError.Database.DatabaseNotFound":
		return &Error{Kind: KindNotConfigured, Err: err, Msg: fmt.Sprintf(
			"%s has no database named %q (%s): fix NEO4J_DATABASE / backends.neo4j_database, or leave it empty for the server's default",
			s.where(), s.opts.Backends.Neo4jDatabase, msg)}
	case code == "Neo.ClientError.Statement.AccessMode":
		return &Error{Kind: KindNotReadOnly, Err: err, Msg: fmt.Sprintf(
			"the statement tried to write inside graph_query's read-only transaction (%s); use graph_write for changes", msg)}
	case strings.HasPrefix(code, "Neo.ClientError.Security."):
		return &Error{Kind: KindForbidden, Err: err, Msg: fmt.Sprintf(
			"%s refused the statement while %s (%s: %s): the configured user lacks a privilege", s.where(), what, code, msg)}
	case strings.HasPrefix(code, "Neo.ClientError.Transaction.TransactionTimedOut"),
		strings.HasPrefix(code, "Neo.TransientError.Transaction.TransactionTimedOut"):
		return s.timedOut(err, "")
	case terminatedCodes[code] && elapsed >= s.opts.queryTimeout():
		while := ""
		if strings.Contains(code, "LockClientStopped") {
			while = " (it was waiting for a lock that another transaction holds)"
		}
		return s.timedOut(err, while)
	case memoryCodes[code]:
		return &Error{Kind: KindQuery, Err: err, Msg: fmt.Sprintf(
			"the Cypher statement needs more memory than %s allows a transaction (%s: %s); nothing was committed; "+
				"narrow it: a more selective MATCH, LIMIT, fewer or smaller collect()s, or split the work", s.where(), code, msg)}
	case strings.HasPrefix(code, "Neo.ClientError.Schema.ConstraintValidationFailed"):
		return &Error{Kind: KindQuery, Err: err, Msg: fmt.Sprintf(
			"the statement would break a uniqueness constraint (nothing was committed): %s", msg)}
	case strings.HasPrefix(code, "Neo.ClientError.Statement."), strings.HasPrefix(code, "Neo.ClientError.Procedure."),
		strings.HasPrefix(code, "Neo.ClientError.Schema."), strings.HasPrefix(code, "Neo.ClientError.Request."):
		return &Error{Kind: KindQuery, Err: err, Msg: fmt.Sprintf(
			"the Cypher statement has an error (%s): %s; %s", code, msg, statementHint)}
	case strings.HasPrefix(code, "Neo.ClientError."):
		return &Error{Kind: KindQuery, Err: err, Msg: fmt.Sprintf("Neo4j rejected the statement (%s): %s", code, msg)}
	case strings.HasPrefix(code, "Neo.DatabaseError.Statement."):
		// Raised while running the caller's statement (a procedure that
		// threw, a value it could not handle): the server is fine.
		return &Error{Kind: KindQuery, Err: err, Msg: fmt.Sprintf(
			"Neo4j could not run the Cypher statement (%s): %s; %s", code, msg, statementHint)}
	case strings.HasPrefix(code, "Neo.TransientError."):
		return &Error{Kind: KindUnavailable, Err: err, Msg: fmt.Sprintf(
			"%s could not complete the request while %s (%s: %s); nothing was committed; retry", s.where(), what, code, msg)}
	default:
		return &Error{Kind: KindUnavailable, Err: err, Msg: fmt.Sprintf(
			"%s failed while %s (%s: %s); retry, and if it persists read the server's log", s.where(), what, code, msg)}
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
		hint := "; " + s.unavailableHint()
		if strings.Contains(co.LastErr, "refused the login") {
			hint = "" // the last error says what to fix
		}
		e.Msg = fmt.Sprintf("%s is unavailable: it failed %s in a row, so graph calls fail fast for now (last error: %s); "+
			"retry after %s%s", s.where(), plural(s.breakerThreshold(), "time"), s.clean(co.LastErr),
			co.RetryAfter.Round(100*time.Millisecond), hint)
	case errors.Is(err, pooling.ErrTimeout):
		e.Msg = fmt.Sprintf("the graph store is busy: all %d sessions (max_connections + max_overflow) stayed in use "+
			"for pool_timeout (%s); retry, or raise database_pools.graph.max_connections or pool_timeout",
			max(st.MaxConnections, 1)+max(st.MaxOverflow, 0), s.acquireTimeout())
	case errors.Is(err, pooling.ErrClosed):
		e.Msg = "the graph store of this project was closed while the call was waiting; retry the call"
	case errors.Is(err, context.Canceled):
		e.Msg = "the call was cancelled while waiting for the graph store; nothing was changed"
	case errors.Is(err, context.DeadlineExceeded):
		e.Msg = "the call's deadline passed while waiting for the graph store; nothing was changed; retry"
	default:
		// The Open hook failed: the connectivity check did not pass (or the
		// server refused the login, which the hook says as an *Error).
		var ge *Error
		if errors.As(err, &ge) {
			return ge
		}
		e.Msg = fmt.Sprintf("%s did not answer its connectivity check (%s); %s", s.where(), s.clean(err.Error()), s.unavailableHint())
	}
	return e
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
