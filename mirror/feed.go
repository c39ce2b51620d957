package mirror

import (
	"context"
	"sync"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// feed shares the syncer's reads of the outbox and the tasks between its
// mirrors: the mirrors usually stand at the same cursor and are woken
// together, and would otherwise read the same events and the same tasks
// each. A mirror takes another's read only when that read began after its
// own last read ended, so the states it delivers never go back in time (each
// mirror still sees the tasks as they were at or after its previous read),
// and after it took its last wake-up, so the read holds every change that
// woke it.
type feed struct {
	mu    sync.Mutex
	clock int64 // orders the reads' beginnings and ends
	last  *read // the latest read begun
}

// read is one batch read from the store: up to Batch events after `after`
// and the tasks they name that still exist. Shared: never modified once done.
type read struct {
	after      int64
	start, end int64         // feed clock before and after reading
	done       chan struct{} // closed once the fields below are set
	evs        []work.OutboxEvent
	tasks      []work.Task
	gone       []string // ids of the events whose task no longer exists
	err        error
}

// tick returns a new clock value.
func (f *feed) tick() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clock++
	return f.clock
}

// next returns the batch after cursor, sharing a read another mirror began
// after the clock value since.
func (f *feed) next(ctx context.Context, store work.Outbox, batch int, cursor, since int64) (*read, error) {
	f.mu.Lock()
	if l := f.last; l != nil && l.after == cursor && l.start > since {
		f.mu.Unlock()
		select {
		case <-l.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if l.err == nil {
			return l, nil
		}
		f.mu.Lock() // that read failed (its caller's context, maybe): read anew
	}
	f.clock++
	rd := &read{after: cursor, start: f.clock, done: make(chan struct{})}
	f.last = rd
	f.mu.Unlock()
	rd.evs, rd.tasks, rd.gone, rd.err = load(ctx, store, batch, cursor)
	rd.end = f.tick()
	close(rd.done)
	if rd.err != nil {
		return nil, rd.err
	}
	return rd, nil
}

// load reads up to batch events after cursor and the current state of the
// tasks they name (each once); gone are the named tasks that no longer exist.
func load(ctx context.Context, store work.Outbox, batch int, cursor int64) ([]work.OutboxEvent, []work.Task, []string, error) {
	evs, err := store.OutboxAfter(ctx, cursor, batch)
	if err != nil || len(evs) == 0 {
		return nil, nil, nil, err
	}
	ids := make([]string, 0, len(evs))
	seen := make(map[string]bool, len(evs))
	for _, e := range evs {
		if !seen[e.TaskID] {
			seen[e.TaskID] = true
			ids = append(ids, e.TaskID)
		}
	}
	tasks, err := store.TasksByID(ctx, ids)
	if err != nil {
		return nil, nil, nil, err
	}
	alive := make(map[string]bool, len(tasks))
	for _, t := range tasks {
		alive[t.ID] = true
	}
	var gone []string
	for _, id := range ids {
		if !alive[id] {
			gone = append(gone, id)
		}
	}
	return evs, tasks, gone, nil
}
