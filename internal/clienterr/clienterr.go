// Package clienterr is the adapters' one error language: an error meant for
// the client (the agent calling a tool), with a kind it can branch on and a
// sentence that says what went wrong and how to fix it.
//
// Every adapter (sqlite, chroma, neo4j) answers with *Error; the tool layer
// renders any of them through ClientMessage without knowing which adapter
// it came from. The package imports nothing of the module, so anything may
// use it. It must never put a cause's text into a message: Err is for logs.
package clienterr

import (
	"errors"
	"time"
)

// Kind classifies an error for the client: the word before the colon of a
// tool error ("not_found: task t-1 does not exist; …"). Clients may match
// on it, so a kind's text never changes.
type Kind string

// The kinds the adapters use. Each is what the client should do next, more
// than what failed: fix the argument, re-read and retry, retry later, ask
// the user to configure something.
const (
	InvalidArgument   Kind = "invalid_argument"   // bad input: fix the argument
	NotFound          Kind = "not_found"          // no task, collection, node or id of that name
	VersionConflict   Kind = "version_conflict"   // optimistic lock: re-read and retry
	InvalidTransition Kind = "invalid_transition" // the task's status does not allow the change
	DependencyCycle   Kind = "dependency_cycle"   // the dependency or parent would close a cycle
	Unavailable       Kind = "unavailable"        // server down, breaker open, pool timeout or closed
	NotConfigured     Kind = "not_configured"     // the backend is not set up (or turned off) for the project
	DimensionMismatch Kind = "dimension_mismatch" // a vector's size differs from its collection's
	EmbeddingError    Kind = "embedding_error"    // the embedding provider is missing, unreachable or mismatched
	NotReadOnly       Kind = "not_read_only"      // graph_query refused: the statement is not read-only
	Forbidden         Kind = "forbidden"          // refused by policy or by the server's privileges
	QueryError        Kind = "query_error"        // the caller's statement: syntax, semantics, constraints, memory
	TimedOut          Kind = "timed_out"          // the statement or the call ran past a time limit
	ResultTooLarge    Kind = "result_too_large"   // one row alone is larger than the byte cap
	Busy              Kind = "busy"               // another call holds what this one needs: retry when it is done
	Cancelled         Kind = "cancelled"          // the client cancelled the call
	LeaseHeld         Kind = "lease_held"         // another agent holds the task's claim: leave it, or wait for its lease to expire
)

// Error is an error the client can act on. Msg says what was wrong and how
// to fix it, naming files by project-relative path, never a credential, a
// Go type or a cause's raw text.
type Error struct {
	Kind  Kind
	Msg   string
	Field string // the argument at fault, if any ("documents[3].embedding", "depends_on")
	Err   error  // the cause, for logs: never shown to the client
	// RetryAfter is set on Unavailable errors from an open circuit breaker:
	// how long calls keep failing fast.
	RetryAfter time.Duration
}

// Error is Msg, so that wrapping and logging show the sentence, not the cause.
func (e *Error) Error() string { return e.Msg }

// Unwrap gives the cause, for errors.Is/As and for logs.
func (e *Error) Unwrap() error { return e.Err }

// ClientMessage is what a tool error shows: "kind: msg" (only msg when the
// kind is empty). The cause is never part of it.
func (e *Error) ClientMessage() string {
	if e.Kind == "" {
		return e.Msg
	}
	return string(e.Kind) + ": " + e.Msg
}

// IsKind reports whether err's chain holds an *Error of kind k.
//
// Every adapter answers with the same type, so IsKind does not say which
// adapter an error came from: ask it about the error of one store's call.
func IsKind(err error, k Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == k
}
