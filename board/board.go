package board

import (
	"context"
	"embed"
	"encoding/json"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/project"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

//go:embed assets
var embedded embed.FS

const (
	// LinkTTL is how long a login link's code works (once).
	LinkTTL = 5 * time.Minute
	// SessionIdle ends a session unused for this long.
	SessionIdle = 12 * time.Hour
	// TickEvery is how often an event stream sends a tick (health refresh).
	TickEvery = 5 * time.Second
	// CookieName is the session cookie.
	CookieName = "board_session"
	// ActorBoard is the actor of a session opened by the board command.
	ActorBoard = "human:board"
)

// csp is the Content-Security-Policy of every answer: the page loads its own
// script and style only, and nothing may frame it.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Options configures a Board.
type Options struct {
	Registry   *project.Registry
	Base       string // URL path prefix: "" for the `board` command, "/board" for the HTTP server
	AllowEdits bool   // --allow-edits: the actions (release, cancel, reconcile) are accepted
	Logger     *slog.Logger
	Version    string
	Now        func() time.Time // nil = time.Now (tests)
}

// Board serves the task board of the projects it hands links for.
type Board struct {
	o      Options
	log    *slog.Logger
	assets fs.FS

	mu       sync.Mutex
	codes    map[string]grant    // one-time login codes
	sessions map[string]*session // by session id
	closed   bool

	done    chan struct{}  // closed by Close: ends every event stream
	streams sync.WaitGroup // the event streams being served
}

// New returns a board. It starts no goroutine: each event stream runs in
// its request's goroutine, and sessions expire when next looked at.
func New(o Options) *Board {
	o.Base = strings.TrimRight(o.Base, "/")
	if o.Now == nil {
		o.Now = time.Now
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	sub, err := fs.Sub(embedded, "assets")
	if err != nil {
		panic(err) // the embedded folder is always there
	}
	return &Board{o: o, log: log, assets: sub, codes: map[string]grant{}, sessions: map[string]*session{},
		done: make(chan struct{})}
}

// Close ends every event stream, waits for them to return, and forgets every
// code and session. Handler answers 503 afterwards. Idempotent.
func (b *Board) Close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.done)
		b.codes, b.sessions = map[string]grant{}, map[string]*session{}
	}
	b.mu.Unlock()
	b.streams.Wait()
}

// Handler serves everything under Base: Base+"/" (the page), Base+"/login",
// Base+"/assets/…" and Base+"/api/…".
func (b *Board) Handler() http.Handler { return http.HandlerFunc(b.serve) }

func (b *Board) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")

	rest, ok := strings.CutPrefix(r.URL.Path, b.o.Base)
	if !ok || (rest != "" && rest[0] != '/') {
		plain(w, http.StatusNotFound, "There is no board page at this address: open the link the board command printed.")
		return
	}
	if rest == "" {
		http.Redirect(w, r, b.o.Base+"/", http.StatusSeeOther)
		return
	}
	if b.isClosed() {
		plain(w, http.StatusServiceUnavailable, "The board has stopped: start `mcp-task-orchestrator board` again.")
		return
	}
	switch {
	case strings.HasPrefix(rest, "/assets/"):
		b.serveAsset(w, r, strings.TrimPrefix(rest, "/"))
		return
	case rest == "/login":
		b.login(w, r)
		return
	}
	s := b.session(r)
	if s == nil {
		plain(w, http.StatusUnauthorized, "This board needs a login link: run `mcp-task-orchestrator board` (or ask the HTTP server for a board link) and open the link it prints.")
		return
	}
	switch {
	case rest == "/" || rest == "/index.html":
		if !get(w, r) {
			return
		}
		b.serveFile(w, r, "index.html")
	case rest == "/api/state":
		if get(w, r) {
			b.state(w, r, s)
		}
	case rest == "/api/events":
		if get(w, r) {
			b.events(w, r, s)
		}
	case strings.HasPrefix(rest, "/api/artifacts/"):
		if get(w, r) {
			b.artifact(w, r, s, strings.TrimPrefix(rest, "/api/artifacts/"))
		}
	case rest == "/api/actions":
		b.action(w, r, s)
	default:
		plain(w, http.StatusNotFound, "There is no board page at this address: open the board's main page.")
	}
}

func (b *Board) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// get refuses any method but GET (and HEAD).
func get(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	plain(w, http.StatusMethodNotAllowed, "This address only answers GET: reload the page instead of posting to it.")
	return false
}

func (b *Board) serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	if !get(w, r) {
		return
	}
	w.Header().Set("Cache-Control", "max-age=3600")
	b.serveFile(w, r, strings.TrimPrefix(name, "assets/"))
}

// serveFile answers an embedded file (never a folder listing).
func (b *Board) serveFile(w http.ResponseWriter, r *http.Request, name string) {
	name = path.Clean(name)
	data, err := fs.ReadFile(b.assets, name)
	if err != nil || !fs.ValidPath(name) {
		w.Header().Set("Cache-Control", "no-store")
		plain(w, http.StatusNotFound, "There is no board file at this address: reload the board's main page.")
		return
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if strings.HasSuffix(name, ".js") {
		ct = "text/javascript; charset=utf-8"
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	http.ServeContent(w, r, "", time.Time{}, strings.NewReader(string(data)))
}

// plain answers one sentence as text/plain.
func plain(w http.ResponseWriter, code int, sentence string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(sentence + "\n"))
}

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, code int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		code, data = http.StatusInternalServerError, []byte(`{"ok":false,"error":"the answer could not be encoded; the server log has the details"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(data, '\n'))
}

// lease acquires s's project for one request; release must be called.
func (b *Board) lease(ctx context.Context, root workspace.Root) (*project.Project, func(), error) {
	return b.o.Registry.Acquire(ctx, root)
}
