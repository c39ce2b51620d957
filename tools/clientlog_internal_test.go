package tools

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/clienterr"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
)

// Which failed calls are worth a warning to their client, and which not.
func TestCallEventNamesTheWarningsOfAFailedCall(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("pool sqlite.readers: %w", pooling.ErrTimeout), EventPoolTimeout},
		{&clienterr.Error{Kind: clienterr.Busy, Msg: "the task database is busy", Err: pooling.ErrTimeout}, EventPoolTimeout},
		{&clienterr.Error{Kind: clienterr.Unavailable, Msg: "down", Err: &pooling.CircuitOpenError{Pool: "chroma"}}, EventBackendDown},
		{&clienterr.Error{Kind: clienterr.Unavailable, Msg: "Chroma did not answer"}, EventBackendUnavailable},
		{&clienterr.Error{Kind: clienterr.NotFound, Msg: "task tsk_1 does not exist"}, ""},
		{badArg("argument %q must be a string", "title"), ""},
		{context.Canceled, ""},
		{errors.New("something else"), ""},
	} {
		if got := callEvent(tc.err); got != tc.want {
			t.Errorf("callEvent(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
