package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// Subscriptions is the book of resource subscriptions: which session watches
// which resource address of which project. mcp-go's stdio and Streamable HTTP
// sessions keep no such book, so the server's hooks keep it here (Hook). While
// a project has a subscriber, the book holds a lease on it and one change
// watcher (project.WatchChanges), and sends notifications/resources/updated
// to each session whose resource a change touched:
//
//   - task-orchestrator://tasks/{id}: when that task changed;
//   - task-orchestrator://tasks/open: when any task of the project changed.
//
// Other addresses (pool status, artifacts) are accepted and never notified.
type Subscriptions struct {
	d *Deps

	mu       sync.Mutex
	srv      *server.MCPServer
	sessions map[string]map[string]string // session id -> address -> project root
	watches  map[string]*projectWatch     // project root -> its watcher
	// listens are the open subscriptions/listen streams (2026-07-28), by
	// their key in sessions.
	listens map[string]listenStream
}

// listenStream is one open subscriptions/listen request: notifications go
// straight onto its session's channel, tagged with the request's id.
type listenStream struct {
	session server.ClientSession
	id      any
}

type projectWatch struct {
	refs    int // subscriptions (session, address) on this project
	cancel  func()
	release func()
}

// NewSubscriptions returns an empty book for d's projects.
func NewSubscriptions(d *Deps) *Subscriptions {
	return &Subscriptions{d: d, sessions: map[string]map[string]string{}, watches: map[string]*projectWatch{}, listens: map[string]listenStream{}}
}

// Hook wires the book into the server's hooks; srv sends the notifications.
func (b *Subscriptions) Hook(hooks *server.Hooks, srv *server.MCPServer) {
	b.mu.Lock()
	b.srv = srv
	b.mu.Unlock()
	// Refuse a subscription to an address this server does not serve: the
	// subscribe hooks run after mcp-go has already said yes, so the refusal
	// happens when the request arrives.
	hooks.AddOnRequestInitialization(func(_ context.Context, _ any, message any) error {
		raw, ok := message.(json.RawMessage)
		if !ok {
			return nil
		}
		// Every request passes here: decode only the two that subscribe.
		if !bytes.Contains(raw, []byte(mcp.MethodResourcesSubscribe)) && !bytes.Contains(raw, []byte(mcp.MethodSubscriptionsListen)) {
			return nil
		}
		var req struct {
			Method string `json:"method"`
			Params struct {
				URI           string `json:"uri"`
				Notifications struct {
					ResourceSubscriptions []string `json:"resourceSubscriptions"`
				} `json:"notifications"`
			} `json:"params"`
		}
		if err := json.Unmarshal(raw, &req); err != nil {
			return nil // mcp-go answers a malformed request itself
		}
		switch req.Method {
		case string(mcp.MethodResourcesSubscribe):
			return checkSubscribable(req.Params.URI)
		case string(mcp.MethodSubscriptionsListen):
			for _, uri := range req.Params.Notifications.ResourceSubscriptions {
				if err := checkSubscribable(uri); err != nil {
					return err
				}
			}
		}
		return nil
	})
	hooks.AddAfterSubscribe(func(ctx context.Context, _ any, req *mcp.SubscribeRequest, _ *mcp.EmptyResult) {
		if s := server.ClientSessionFromContext(ctx); s != nil {
			if err := b.Subscribe(ctx, s.SessionID(), req.Params.URI); err != nil {
				b.d.logger().Warn("resource subscription not kept", "uri", req.Params.URI, "error", err)
			}
		}
	})
	hooks.AddAfterUnsubscribe(func(ctx context.Context, _ any, req *mcp.UnsubscribeRequest, _ *mcp.EmptyResult) {
		if s := server.ClientSessionFromContext(ctx); s != nil {
			b.Unsubscribe(s.SessionID(), req.Params.URI)
		}
	})
	// 2026-07-28: the resource subscriptions of subscriptions/listen live as
	// long as the request's stream (the handler returns when it closes).
	hooks.AddBeforeSubscriptionsListen(func(ctx context.Context, id any, req *mcp.SubscriptionsListenRequest) {
		s := server.ClientSessionFromContext(ctx)
		if s == nil || id == nil || len(req.Params.Notifications.ResourceSubscriptions) == 0 {
			return
		}
		key := listenKey(s, id)
		b.mu.Lock()
		b.listens[key] = listenStream{session: s, id: id}
		b.mu.Unlock()
		for _, uri := range req.Params.Notifications.ResourceSubscriptions {
			if err := b.Subscribe(ctx, key, uri); err != nil {
				b.d.logger().Warn("resource subscription not kept", "uri", uri, "error", err)
			}
		}
	})
	hooks.AddAfterSubscriptionsListen(func(ctx context.Context, id any, _ *mcp.SubscriptionsListenRequest, _ *mcp.SubscriptionsListenResult) {
		if s := server.ClientSessionFromContext(ctx); s != nil && id != nil {
			b.Forget(listenKey(s, id))
		}
	})
	hooks.AddOnError(func(ctx context.Context, id any, method mcp.MCPMethod, _ any, _ error) {
		if s := server.ClientSessionFromContext(ctx); s != nil && id != nil && method == mcp.MethodSubscriptionsListen {
			b.Forget(listenKey(s, id))
		}
	})
	hooks.AddOnUnregisterSession(func(_ context.Context, s server.ClientSession) {
		b.Forget(s.SessionID())
	})
}

// Subscribe records that session watches uri, starting its project's watcher
// if it is the project's first subscription.
func (b *Subscriptions) Subscribe(ctx context.Context, session, uri string) error {
	if err := checkSubscribable(uri); err != nil {
		return err
	}
	root, err := b.d.resourceWorkspace(ctx, mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: uri}})
	if err != nil {
		return err
	}
	b.mu.Lock()
	if old, ok := b.sessions[session][uri]; ok && old == root.Path {
		b.mu.Unlock()
		return nil
	}
	w := b.watches[root.Path]
	b.mu.Unlock()
	var fresh *projectWatch
	if w == nil {
		// Start a watcher outside the lock; another subscriber may race us,
		// and the loser stops its own below.
		p, release, err := b.d.project(ctx, root)
		if err != nil {
			return err
		}
		path := root.Path
		cancel, err := p.WatchChanges(ctx, func(ids []string) { b.changed(path, ids) })
		if err != nil {
			release()
			return err
		}
		fresh = &projectWatch{cancel: cancel, release: release}
	}
	b.mu.Lock()
	if b.watches[root.Path] == nil && fresh != nil {
		b.watches[root.Path], fresh = fresh, nil
	}
	if b.watches[root.Path] == nil { // the one we saw stopped meanwhile
		b.mu.Unlock()
		return b.Subscribe(ctx, session, uri)
	}
	if b.sessions[session] == nil {
		b.sessions[session] = map[string]string{}
	}
	var stop []*projectWatch
	if old, ok := b.sessions[session][uri]; ok {
		stop = b.dropLocked(old)
	}
	b.sessions[session][uri] = root.Path
	b.watches[root.Path].refs++
	b.mu.Unlock()
	if fresh != nil {
		stop = append(stop, fresh)
	}
	stopAll(stop)
	return nil
}

// Unsubscribe forgets that session watches uri (a no-op if it did not).
func (b *Subscriptions) Unsubscribe(session, uri string) {
	b.mu.Lock()
	var stop []*projectWatch
	if root, ok := b.sessions[session][uri]; ok {
		delete(b.sessions[session], uri)
		if len(b.sessions[session]) == 0 {
			delete(b.sessions, session)
		}
		stop = b.dropLocked(root)
	}
	b.mu.Unlock()
	stopAll(stop)
}

// Forget drops every subscription of a session that went away.
func (b *Subscriptions) Forget(session string) {
	b.mu.Lock()
	var stop []*projectWatch
	for _, root := range b.sessions[session] {
		stop = append(stop, b.dropLocked(root)...)
	}
	delete(b.sessions, session)
	delete(b.listens, session)
	b.mu.Unlock()
	stopAll(stop)
}

// checkSubscribable refuses an address that is none of this server's
// resources (the query, ?workspace=…, is checked when the project is resolved).
func checkSubscribable(uri string) error {
	base, _, _ := strings.Cut(uri, "?")
	switch {
	case base == ResourceOpenTasks, base == ResourcePoolStatus, resourceTaskID(uri) != "":
		return nil
	case strings.HasPrefix(base, resourceTaskPrefix) && strings.Count(strings.TrimPrefix(base, resourceTaskPrefix), "/") == 2 &&
		strings.Contains(base, "/artifacts/"):
		return nil
	}
	return badArg("the resource address %q is not one of this server's; subscribe to task-orchestrator://tasks/open or task-orchestrator://tasks/{id}", truncate(uri, 80))
}

// listenKey names one subscriptions/listen stream in the book.
func listenKey(s server.ClientSession, id any) string {
	return fmt.Sprintf("listen %p %v", s, id)
}

// Close stops every watcher (at server shutdown).
func (b *Subscriptions) Close() {
	b.mu.Lock()
	var stop []*projectWatch
	for root, w := range b.watches {
		stop = append(stop, w)
		delete(b.watches, root)
	}
	b.sessions = map[string]map[string]string{}
	b.mu.Unlock()
	stopAll(stop)
}

// Count is how many (session, address) subscriptions and project watchers
// the book holds.
func (b *Subscriptions) Count() (subscriptions, watchers int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.sessions {
		subscriptions += len(m)
	}
	return subscriptions, len(b.watches)
}

// dropLocked takes one subscription off root's watcher and returns the
// watcher to stop if it was the last. The caller stops it after unlocking:
// stopping waits for the watcher's goroutine, which may be waiting for b.mu.
func (b *Subscriptions) dropLocked(root string) []*projectWatch {
	w := b.watches[root]
	if w == nil {
		return nil
	}
	if w.refs--; w.refs > 0 {
		return nil
	}
	delete(b.watches, root)
	return []*projectWatch{w}
}

func stopAll(ws []*projectWatch) {
	for _, w := range ws {
		w.cancel()
		w.release()
	}
}

// changed sends notifications/resources/updated for each subscribed address
// of the project at root that the changed task ids touch.
func (b *Subscriptions) changed(root string, ids []string) {
	type note struct {
		session, uri string
		listen       *listenStream
	}
	var notes []note
	b.mu.Lock()
	srv := b.srv
	for session, m := range b.sessions {
		for uri, r := range m {
			if r == root && touches(uri, ids) {
				n := note{session: session, uri: uri}
				if l, ok := b.listens[session]; ok {
					n.listen = &l
				}
				notes = append(notes, n)
			}
		}
	}
	b.mu.Unlock()
	if srv == nil {
		return
	}
	for _, n := range notes {
		if n.listen != nil {
			// Straight onto the stream: the server's broadcast path filters
			// listen sessions by notification type and has no per-URI view.
			b.sendOnStream(*n.listen, n.uri)
			continue
		}
		if err := srv.SendNotificationToSpecificClient(n.session, string(mcp.MethodNotificationResourceUpdated), map[string]any{"uri": n.uri}); err != nil {
			b.d.logger().Debug("resource update not sent", "uri", n.uri, "error", err)
		}
	}
}

// sendOnStream puts one update on a subscriptions/listen stream, tagged with
// the listen request's id as every message of the stream must be. A full
// channel drops it (the client re-reads the resource on the next one).
func (b *Subscriptions) sendOnStream(l listenStream, uri string) {
	n := mcp.JSONRPCNotification{
		JSONRPC: mcp.JSONRPC_VERSION,
		Notification: mcp.Notification{
			Method: string(mcp.MethodNotificationResourceUpdated),
			Params: mcp.NotificationParams{
				Meta:             map[string]any{mcp.MetaKeySubscriptionID: l.id},
				AdditionalFields: map[string]any{"uri": uri},
			},
		},
	}
	if !l.session.Initialized() {
		return
	}
	select {
	case l.session.NotificationChannel() <- n:
	default:
		b.d.logger().Debug("resource update dropped: the stream is full", "uri", uri)
	}
}

// touches says whether a change of the tasks ids may change the resource at uri.
func touches(uri string, ids []string) bool {
	if id := resourceTaskID(uri); id != "" && id != "open" {
		return slices.Contains(ids, id)
	}
	base, _, _ := strings.Cut(uri, "?")
	return base == ResourceOpenTasks
}
