// Package board serves the task board: one web page per project, for a
// person watching the agents work, read-only unless started with
// --allow-edits.
//
// Under Options.Base it serves the page (index.html) and its embedded
// assets (assets/…, no CDN, no inline script), GET api/state (the whole
// board in one JSON answer: every task, the graph of open work with its
// critical path, agents and their leases, the last completions with their
// artifacts, the project's pools and mirrors, the last history events),
// GET api/events (server-sent events: "change" when tasks change, in this
// process or another one on the same SQLite file, and "tick" every 5 s),
// GET api/artifacts/{id}/{name} (an artifact's bytes, as an attachment) and
// POST api/actions (release, cancel, reconcile). It calls project, work and
// the SQLite store; never tools or transport.
//
// Auth: Link hands out a one-time code (32 random bytes, valid LinkTTL,
// consumed by its first use, even a late one). GET login?code= trades it
// for a session: a random 32-byte id in the cookie board_session (HttpOnly,
// SameSite=Strict, Path=Base+"/", Secure over TLS). Sessions live in memory
// only, each bound to one project root and one actor (human:board, or an
// HTTP token's name), and end after SessionIdle without use. Everything but
// the assets needs the cookie. An action also needs the board to allow
// edits, a JSON body, an Origin (when sent) equal to the request's own
// scheme://host, and the session's CSRF token (from api/state) in the
// X-Board-CSRF header. Release and cancel are written to the task history
// under the session's actor; reconcile (which concerns no task) is logged.
//
// Each request leases its project from the registry for its own length.
// An event stream holds the lease only while it starts watching
// (Project.WatchChanges keeps its own watcher); each tick re-acquires the
// root, and ends the stream if the registry has closed that Project and
// opened a new one meanwhile (the browser reconnects).
//
// What this package must never do:
//   - put data into HTML: the page is static, and the script inserts every
//     text with textContent (the JSON is served as application/json with
//     nosniff and a strict Content-Security-Policy on every answer);
//   - answer with Go values, credentials (errors pass through
//     workspace.Redact) or paths outside the project;
//   - accept an action without AllowEdits, the CSRF token and the same
//     origin, or record it under anyone but the session's actor;
//   - start a goroutine it does not stop: New starts none; each event stream
//     runs in its request and ends with the client or Close;
//   - write to stdout (the MCP channel of the stdio server).
package board
