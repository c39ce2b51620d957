package project

import (
	"context"
	"sync"
	"time"
)

// ChangePoll is how often a project's change watcher reads the change mark
// while someone watches: changes made by another process on the same SQLite
// file are noticed within about this long (the bound is 1 s).
const ChangePoll = 200 * time.Millisecond

// changeWatcher polls the task store's change mark while at least one
// watcher is registered, and tells each the ids of the tasks that changed,
// in this process or in another one sharing the file. It starts with the
// first watcher and stops with the last, or when the project closes.
type changeWatcher struct {
	mu     sync.Mutex
	subs   map[int]func(ids []string)
	next   int
	cancel context.CancelFunc // nil while stopped
	done   chan struct{}
	closed bool
}

// WatchChanges calls fn (from the watcher's goroutine, one call at a time)
// with the ids of the tasks changed after this call, until cancel is called
// or the project closes. cancel waits for a running fn to return only when it
// stops the watcher; never call it from fn.
func (p *Project) WatchChanges(ctx context.Context, fn func(ids []string)) (cancel func(), err error) {
	store, err := p.Tasks(ctx)
	if err != nil {
		return nil, err
	}
	w := &p.changes
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, errProjectClosing
	}
	if w.subs == nil {
		w.subs = map[int]func([]string){}
	}
	if w.cancel == nil {
		mark, err := store.ChangeMark(ctx)
		if err != nil {
			return nil, err
		}
		wctx, stop := context.WithCancel(context.Background())
		w.cancel, w.done = stop, make(chan struct{})
		go p.watchLoop(wctx, w.done, mark)
	}
	id := w.next
	w.next++
	w.subs[id] = fn
	var once sync.Once
	return func() { once.Do(func() { w.remove(id) }) }, nil
}

func (w *changeWatcher) remove(id int) {
	w.mu.Lock()
	delete(w.subs, id)
	var stop context.CancelFunc
	var done chan struct{}
	if len(w.subs) == 0 && w.cancel != nil {
		stop, done = w.cancel, w.done
		w.cancel, w.done = nil, nil
	}
	w.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

// stopChanges stops the watcher for good; the project is closing.
func (p *Project) stopChanges() {
	w := &p.changes
	w.mu.Lock()
	w.closed = true
	w.subs = nil
	stop, done := w.cancel, w.done
	w.cancel, w.done = nil, nil
	w.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

// watchLoop reads the change mark every ChangePoll. A failed read (the
// store busy or closing) is retried on the next tick from the same mark, so
// no change is lost.
func (p *Project) watchLoop(ctx context.Context, done chan struct{}, mark int64) {
	defer close(done)
	t := time.NewTicker(ChangePoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		store, err := p.Tasks(ctx)
		if err != nil {
			continue
		}
		ids, next, err := store.ChangedSince(ctx, mark)
		if err != nil || len(ids) == 0 {
			continue
		}
		mark = next
		w := &p.changes
		w.mu.Lock()
		fns := make([]func([]string), 0, len(w.subs))
		for _, fn := range w.subs {
			fns = append(fns, fn)
		}
		w.mu.Unlock()
		for _, fn := range fns {
			fn(ids)
		}
	}
}
