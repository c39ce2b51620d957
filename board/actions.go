package board

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/clienterr"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// CSRFHeader carries the session's csrf token (from api/state) on actions.
const CSRFHeader = "X-Board-CSRF"

const maxActionBody = 16 << 10

// ActionRequest is the body of POST api/actions.
type ActionRequest struct {
	Action string `json:"action"`
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// refuse answers an action refused, in one sentence.
func refuse(w http.ResponseWriter, code int, sentence string) {
	writeJSON(w, code, map[string]any{"ok": false, "error": sentence})
}

// The sentences of the refusals, exact (the tests assert them).
const (
	msgReadOnly    = "This board is read-only: start it with --allow-edits (the HTTP server with --board-allow-edits) to release, cancel or reconcile from the board."
	msgMethod      = "Actions are sent with POST: use the board's buttons."
	msgContentType = "The action's Content-Type must be application/json: send the body as a JSON object."
	msgOrigin      = "The action came from another site (its Origin header is not this board's address), so it was refused: use the board's own page."
	msgCSRF        = "The action's X-Board-CSRF header is missing or wrong: reload the board's page (it reads a fresh token from api/state) and try again."
	msgBody        = `The action's body is not a JSON object {"action", "id", "reason"}: send one with action release, cancel or reconcile.`
)

func (b *Board) action(w http.ResponseWriter, r *http.Request, s *session) {
	switch {
	case !b.o.AllowEdits:
		refuse(w, http.StatusForbidden, msgReadOnly)
		return
	case r.Method != http.MethodPost:
		w.Header().Set("Allow", "POST")
		refuse(w, http.StatusMethodNotAllowed, msgMethod)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		refuse(w, http.StatusForbidden, msgContentType)
		return
	}
	if !sameOrigin(r) {
		refuse(w, http.StatusForbidden, msgOrigin)
		return
	}
	if !csrfOK(s, r.Header.Get(CSRFHeader)) {
		refuse(w, http.StatusForbidden, msgCSRF)
		return
	}
	var req ActionRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, maxActionBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		refuse(w, http.StatusBadRequest, msgBody)
		return
	}
	switch req.Action {
	case "release", "cancel":
		b.taskAction(w, r, s, req)
	case "reconcile":
		b.reconcile(w, r, s)
	default:
		refuse(w, http.StatusBadRequest, fmt.Sprintf("action %s is not one of release, cancel, reconcile: send one of those three.",
			strconv.Quote(clip(req.Action, 40))))
	}
}

func (b *Board) taskAction(w http.ResponseWriter, r *http.Request, s *session, req ActionRequest) {
	ctx := r.Context()
	p, release, err := b.lease(ctx, s.root)
	if err != nil {
		b.fail(w, req.Action+" the task", err)
		return
	}
	defer release()
	store, err := p.Tasks(ctx)
	if err != nil {
		b.fail(w, req.Action+" the task", err)
		return
	}
	var msg string
	if req.Action == "release" {
		_, err = store.OverrideRelease(ctx, req.ID, s.actor, req.Reason)
		msg = fmt.Sprintf("Task %s is pending again, with no assignee: any agent may claim it.", req.ID)
	} else {
		_, err = store.OverrideCancel(ctx, req.ID, s.actor, req.Reason)
		msg = fmt.Sprintf("Task %s is cancelled.", req.ID)
	}
	if err != nil {
		b.storeError(w, req.ID, req.Action+" the task", err)
		return
	}
	b.log.Info("board action", "action", req.Action, "task", req.ID, "actor", s.actor, "workspace", s.root.Path)
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "message": msg})
}

// storeError answers the store's refusal (its one-sentence message, which
// names the argument and the fix), or a server failure.
func (b *Board) storeError(w http.ResponseWriter, id, what string, err error) {
	var ce *clienterr.Error
	if !errors.As(err, &ce) || ce.Kind == clienterr.Unavailable {
		b.fail(w, what, err)
		return
	}
	code := http.StatusBadRequest
	switch ce.Kind {
	case clienterr.NotFound:
		code = http.StatusNotFound
	case clienterr.InvalidTransition, clienterr.VersionConflict, clienterr.LeaseHeld:
		code = http.StatusConflict
	}
	msg := workspace.Redact(ce.Msg)
	if ce.Kind == clienterr.NotFound {
		msg = fmt.Sprintf("id %s names no task of this project: reload the board to see the current tasks", strconv.Quote(clip(id, 40)))
	}
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	refuse(w, code, msg)
}

func (b *Board) reconcile(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	p, release, err := b.lease(ctx, s.root)
	if err != nil {
		b.fail(w, "rebuild the mirrors", err)
		return
	}
	defer release()
	if _, err := p.Tasks(ctx); err != nil { // opening the task store starts its syncer
		b.fail(w, "rebuild the mirrors", err)
		return
	}
	sy := p.Syncer()
	if sy == nil {
		refuse(w, http.StatusServiceUnavailable, "The mirror syncer is not running (the project is closing): try again in a moment.")
		return
	}
	results, err := sy.Reconcile(ctx, nil)
	if err != nil {
		b.fail(w, "rebuild the mirrors", err)
		return
	}
	var parts, failed []string
	for _, res := range results {
		switch res.State {
		case "done":
			parts = append(parts, fmt.Sprintf("%s: %d tasks written, %d stale entries removed", res.Mirror, res.Tasks, res.Removed))
		case "failed":
			failed = append(failed, fmt.Sprintf("%s: %s", res.Mirror, workspace.Redact(res.Error)))
		default:
			parts = append(parts, fmt.Sprintf("%s: %s", res.Mirror, res.State))
		}
	}
	b.log.Info("board action", "action", "reconcile", "actor", s.actor, "workspace", s.root.Path, "results", strings.Join(append(parts, failed...), "; "))
	if len(failed) > 0 {
		refuse(w, http.StatusBadGateway, "Rebuilding the mirrors failed ("+strings.Join(failed, "; ")+"): the mirrors keep retrying by themselves; try again once their servers are reachable.")
		return
	}
	if len(parts) == 0 {
		parts = []string{"no mirror is configured"}
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "message": "Mirrors rebuilt from SQLite (" + strings.Join(parts, "; ") + ")."})
}
