package board

import (
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"time"
)

// tickEvery is TickEvery; tests shorten it (export_test.go).
var tickEvery = TickEvery

// events streams the project's changes (event "change", the changed ids)
// and a "tick" every TickEvery, until the client goes or Close is called.
//
// The registry lease is held only while the watch is set up: the watcher
// (Project.WatchChanges) keeps polling on its own. A project closed meanwhile
// (evicted as least recently used, or idle) stops its watcher without a word,
// so each tick re-acquires the root: if the registry now holds another
// Project for it, the stream ends and the browser's EventSource reconnects,
// watching the new one (the page refetches the state on reconnect). A tick's
// acquire also counts as use of the project, so an open board keeps it
// from being closed as idle.
func (b *Board) events(w http.ResponseWriter, r *http.Request, s *session) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		plain(w, http.StatusServiceUnavailable, "The board has stopped: start `mcp-task-orchestrator board` again.")
		return
	}
	b.streams.Add(1)
	b.mu.Unlock()
	defer b.streams.Done()

	ctx := r.Context()
	p, release, err := b.lease(ctx, s.root)
	if err != nil {
		b.fail(w, "watch the project's changes", err)
		return
	}
	var (
		mu      sync.Mutex
		pending []string
	)
	wake := make(chan struct{}, 1)
	cancel, err := p.WatchChanges(ctx, func(ids []string) {
		mu.Lock()
		pending = append(pending, ids...)
		mu.Unlock()
		select {
		case wake <- struct{}{}:
		default:
		}
	})
	release()
	if err != nil {
		b.fail(w, "watch the project's changes", err)
		return
	}
	defer cancel()

	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a server's WriteTimeout would cut the stream
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(chunk string) bool {
		if _, err := w.Write([]byte(chunk)); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send(": ok\n\n") {
		return
	}
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.done:
			return
		case <-wake:
			mu.Lock()
			ids := slices.Compact(slices.Sorted(slices.Values(pending)))
			pending = nil
			mu.Unlock()
			data, _ := json.Marshal(map[string][]string{"ids": ids})
			if !send("event: change\ndata: " + string(data) + "\n\n") {
				return
			}
		case <-tick.C:
			q, rel, err := b.lease(ctx, s.root)
			if err != nil {
				return
			}
			rel()
			if q != p {
				return // the project was closed and opened anew: the client reconnects
			}
			if !send("event: tick\ndata: {}\n\n") {
				return
			}
		}
	}
}
