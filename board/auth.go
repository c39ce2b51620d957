package board

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// grant is what a login code opens: a session on root as actor.
type grant struct {
	root    workspace.Root
	actor   string
	expires time.Time
}

// session is a logged-in browser, bound to one project root and one actor.
type session struct {
	root  workspace.Root
	actor string
	csrf  string // "" when the board is read-only
	last  time.Time
}

// token returns n random bytes, base64url encoded.
func token(n int) string {
	buf := make([]byte, n)
	_, _ = rand.Read(buf) // crypto/rand.Read never fails (Go 1.24+): it panics rather
	return base64.RawURLEncoding.EncodeToString(buf)
}

// Link returns a one-time login path and query (Base+"/login?code=…") for
// the project at root, whose session acts as actor ("human:board", or an HTTP
// token's name). The code works once, within LinkTTL.
func (b *Board) Link(root workspace.Root, actor string) (string, error) {
	if root.Path == "" {
		return "", errors.New("board link: the project root is empty; resolve the project first")
	}
	actor = strings.TrimSpace(actor)
	if actor == "" {
		return "", errors.New("board link: the actor is empty; pass human:board or the HTTP token's name")
	}
	code := token(32)
	now := b.o.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return "", errors.New("board link: the board has stopped")
	}
	b.pruneLocked(now)
	b.codes[code] = grant{root: root, actor: actor, expires: now.Add(LinkTTL)}
	return b.o.Base + "/login?code=" + url.QueryEscape(code), nil
}

// pruneLocked drops expired codes and idle sessions.
func (b *Board) pruneLocked(now time.Time) {
	for c, g := range b.codes {
		if !now.Before(g.expires) {
			delete(b.codes, c)
		}
	}
	for id, s := range b.sessions {
		if now.Sub(s.last) >= SessionIdle {
			delete(b.sessions, id)
		}
	}
}

func (b *Board) cookiePath() string { return b.o.Base + "/" }

// login consumes a code and opens a session.
func (b *Board) login(w http.ResponseWriter, r *http.Request) {
	if !get(w, r) {
		return
	}
	code := r.URL.Query().Get("code")
	now := b.o.Now()
	b.mu.Lock()
	g, ok := b.codes[code]
	delete(b.codes, code)
	var id string
	if ok && now.Before(g.expires) {
		id = token(32)
		s := &session{root: g.root, actor: g.actor, last: now}
		if b.o.AllowEdits {
			s.csrf = token(32)
		}
		b.sessions[id] = s
	}
	b.mu.Unlock()
	if id == "" {
		plain(w, http.StatusForbidden, "This board link was already used or has expired: run `mcp-task-orchestrator board` again (or ask the HTTP server for a new link).")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: id, Path: b.cookiePath(), HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, b.o.Base+"/", http.StatusSeeOther)
}

// session returns the request's live session (touching it), or nil.
func (b *Board) session(r *http.Request) *session {
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		return nil
	}
	now := b.o.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.sessions[c.Value]
	if s == nil {
		return nil
	}
	if now.Sub(s.last) >= SessionIdle {
		delete(b.sessions, c.Value)
		return nil
	}
	s.last = now
	cp := *s
	return &cp
}

// sameOrigin says whether the request's Origin (if any) is its own
// scheme://host.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return o == scheme+"://"+r.Host
}

func csrfOK(s *session, got string) bool {
	return s.csrf != "" && subtle.ConstantTimeCompare([]byte(s.csrf), []byte(got)) == 1
}
