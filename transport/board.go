package transport

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// Board is the human's web page (package board) as the transport serves it:
// its handler under /board/, and the one-time links a token holder asks for.
type Board interface {
	Handler() http.Handler
	// Link returns the path and query of a one-time login link
	// (/board/login?code=…) to the project at root, whose session acts as actor.
	Link(root workspace.Root, actor string) (string, error)
}

// boardActor is who edits made through a link of the shared token (or of a
// server without auth) are recorded as; a named token acts as its agent.
const boardActor = "human:board"

// linkRequest is POST /board/link's body.
type linkRequest struct {
	Workspace string `json:"workspace"`
}

// linkAnswer is POST /board/link's answer.
type linkAnswer struct {
	URL              string `json:"url"`
	ExpiresInSeconds int    `json:"expires_in_seconds"`
	Actor            string `json:"actor"`
}

// boardLinkTTL is how long a link works (the board's own LinkTTL).
const boardLinkTTL = 300

// handleBoardLink answers a token holder's request for a one-time link to
// one project's board. A browser cannot send a bearer token, so the token
// buys a link instead, which sets the board's cookie once.
func (s *Server) handleBoardLink(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeBoardError(w, http.StatusMethodNotAllowed, `ask for a board link with POST /board/link and the body {"workspace": "/path/in/the/project"}`)
		return
	}
	var req linkRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil || strings.TrimSpace(req.Workspace) == "" {
		writeBoardError(w, http.StatusBadRequest, `the body must be a JSON object with "workspace": an absolute path inside the project whose board you want, e.g. {"workspace": "/home/me/project"}`)
		return
	}
	root, err := s.opts.BoardRoot(req.Workspace)
	if err != nil {
		var re *workspace.RootError
		msg := `"workspace" is not a project this server may show: pass a path inside one of its --allow-root trees`
		if errors.As(err, &re) {
			msg = `"workspace" ` + re.Reason + "; " + re.Hint
			if errors.Is(err, workspace.ErrOutsideAllowedRoots) {
				msg = `"workspace" is outside every --allow-root of this server: pass a path inside one of them`
			}
		}
		writeBoardError(w, http.StatusForbidden, msg)
		return
	}
	actor := boardActor
	if c, ok := r.Context().Value(clientKey{}).(clientInfo); ok && c.name != "" {
		actor = c.name
	}
	link, err := s.opts.Board.Link(root, actor)
	if err != nil {
		s.log.Warn("board: making a link failed", "err", err)
		writeBoardError(w, http.StatusInternalServerError, "the board link could not be made; the server logged why")
		return
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(linkAnswer{URL: scheme + "://" + r.Host + link, ExpiresInSeconds: boardLinkTTL, Actor: actor})
}

func writeBoardError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
