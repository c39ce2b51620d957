package transport

import (
	"crypto/rand"
	"errors"
	"net/http"
	"sync"
	"time"
)

// DefaultSessionIdleTimeout is how long an MCP session of a session-based
// protocol version (2025-11-25, 2025-06-18) may stay unused before the server
// forgets it and releases its memory.
const DefaultSessionIdleTimeout = 30 * time.Minute

// errUnknownSession makes mcp-go answer 404, the protocol's answer to a
// session the server does not know (never issued, deleted or expired): the
// client starts a new session with initialize.
var errUnknownSession = errors.New("unknown or expired session")

// sessionBook is the session id manager given to mcp-go: it issues ids and
// knows which are live. mcp-go's default manager accepts any well-formed id
// and keeps every session's state forever; with this book and mcp-go's idle
// sweeper (WithSessionIdleTTL), a session unused for the idle timeout is
// terminated here and its state released there, and its id is refused from
// then on. A terminated id is simply forgotten: it is as unknown as one never
// issued, so the book does not grow with dead sessions.
type sessionBook struct {
	mu  sync.Mutex // guards ids
	ids map[string]struct{}
}

func newSessionBook() *sessionBook { return &sessionBook{ids: make(map[string]struct{})} }

// Generate issues a new session id (128 random bits).
func (b *sessionBook) Generate() string {
	id := "mcp-session-" + rand.Text()
	b.mu.Lock()
	b.ids[id] = struct{}{}
	b.mu.Unlock()
	return id
}

// Validate refuses an id the book does not hold.
func (b *sessionBook) Validate(id string) (isTerminated bool, err error) {
	if !b.known(id) {
		return false, errUnknownSession
	}
	return false, nil
}

// Terminate forgets id (DELETE from the client, or the idle sweeper).
func (b *sessionBook) Terminate(id string) (isNotAllowed bool, err error) {
	b.mu.Lock()
	delete(b.ids, id)
	b.mu.Unlock()
	return false, nil
}

func (b *sessionBook) known(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.ids[id]
	return ok
}

func (b *sessionBook) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.ids)
}

// sessionKnown answers 404 to a listening GET naming a session the server
// does not know (mcp-go checks POSTs itself but would open a stream, and a
// session, for any id on GET). It reports whether the request may go on.
func (s *Server) sessionKnown(w http.ResponseWriter, r *http.Request, agent string) bool {
	if r.Method != http.MethodGet {
		return true
	}
	id := r.Header.Get("Mcp-Session-Id")
	if id == "" || s.sessions.known(id) {
		return true
	}
	s.refused(reasonSession, agent)
	writeRefusal(w, http.StatusNotFound, codeInvalidRequest,
		"the session is unknown or expired (idle too long); start a new one with initialize", nil)
	return false
}
