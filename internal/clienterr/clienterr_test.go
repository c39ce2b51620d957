package clienterr_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/clienterr"
)

func TestClientMessageIsKindColonMessage(t *testing.T) {
	e := &clienterr.Error{Kind: clienterr.NotFound, Msg: "task t-1 does not exist; list tasks with task_list", Field: "id"}
	if got, want := e.ClientMessage(), "not_found: task t-1 does not exist; list tasks with task_list"; got != want {
		t.Fatalf("ClientMessage() = %q, want %q", got, want)
	}
}

func TestClientMessageWithoutAKindIsTheMessageAlone(t *testing.T) {
	e := &clienterr.Error{Msg: "the project config was refused"}
	if got := e.ClientMessage(); got != "the project config was refused" {
		t.Fatalf("ClientMessage() = %q", got)
	}
}

func TestTheCauseIsNeverShownButStaysReachable(t *testing.T) {
	cause := errors.New("dial tcp 10.0.0.7:8000: connect: connection refused (token=s3cr3t)")
	e := &clienterr.Error{Kind: clienterr.Unavailable, Msg: "Chroma did not answer; retry shortly", Err: cause}
	if strings.Contains(e.ClientMessage(), "s3cr3t") || strings.Contains(e.ClientMessage(), "10.0.0.7") {
		t.Fatalf("ClientMessage() shows the cause: %q", e.ClientMessage())
	}
	if e.Error() != e.Msg {
		t.Fatalf("Error() = %q, want the message %q", e.Error(), e.Msg)
	}
	if !errors.Is(e, cause) || errors.Unwrap(e) != cause {
		t.Fatal("the cause is not reachable through Unwrap")
	}
}

func TestIsKindFindsTheErrorInAWrappedChain(t *testing.T) {
	e := &clienterr.Error{Kind: clienterr.VersionConflict, Msg: "task t-1 changed"}
	wrapped := fmt.Errorf("task_update: %w", e)
	if !clienterr.IsKind(wrapped, clienterr.VersionConflict) {
		t.Fatal("IsKind missed a wrapped error of its kind")
	}
	if clienterr.IsKind(wrapped, clienterr.NotFound) {
		t.Fatal("IsKind matched another kind")
	}
	if clienterr.IsKind(errors.New("version_conflict: task t-1 changed"), clienterr.VersionConflict) {
		t.Fatal("IsKind matched a plain error by its text")
	}
	if clienterr.IsKind(nil, clienterr.VersionConflict) {
		t.Fatal("IsKind matched nil")
	}
	var got *clienterr.Error
	if !errors.As(wrapped, &got) || got != e {
		t.Fatal("errors.As did not find the *Error")
	}
}

// Kinds are what clients match on: their texts are a contract.
func TestKindTextsDoNotChange(t *testing.T) {
	for k, want := range map[clienterr.Kind]string{
		clienterr.InvalidArgument: "invalid_argument", clienterr.NotFound: "not_found",
		clienterr.VersionConflict: "version_conflict", clienterr.InvalidTransition: "invalid_transition",
		clienterr.DependencyCycle: "dependency_cycle", clienterr.Unavailable: "unavailable",
		clienterr.NotConfigured: "not_configured", clienterr.DimensionMismatch: "dimension_mismatch",
		clienterr.EmbeddingError: "embedding_error", clienterr.NotReadOnly: "not_read_only",
		clienterr.Forbidden: "forbidden", clienterr.QueryError: "query_error", clienterr.TimedOut: "timed_out",
		clienterr.ResultTooLarge: "result_too_large", clienterr.Busy: "busy", clienterr.Cancelled: "cancelled",
	} {
		if string(k) != want {
			t.Errorf("kind %q, want %q", k, want)
		}
	}
}
