package pooling

import "time"

// idleList holds idle connections in the order they were returned: the front
// is the one idle longest, the back the one returned last. LIFO pools take from
// the back, FIFO pools from the front; idle eviction and health checks work
// from the front. It is a ring buffer, so none of this allocates once it has
// grown to the pool's size.
//
// idleList is not safe for concurrent use: the pool guards it with its mutex.
type idleList[T any] struct {
	buf  []*entry[T] // length 0 or a power of two, so indexes wrap with a mask
	head int         // index of the front
	n    int
}

func (l *idleList[T]) len() int { return l.n }

func (l *idleList[T]) slot(i int) int { return (l.head + i) & (len(l.buf) - 1) }

func (l *idleList[T]) at(i int) *entry[T] { return l.buf[l.slot(i)] }

func (l *idleList[T]) grow() {
	buf := make([]*entry[T], max(4, 2*len(l.buf)))
	for i := range l.n {
		buf[i] = l.at(i)
	}
	l.buf, l.head = buf, 0
}

func (l *idleList[T]) pushBack(e *entry[T]) {
	if l.n == len(l.buf) {
		l.grow()
	}
	l.buf[l.slot(l.n)] = e
	l.n++
}

func (l *idleList[T]) pushFront(e *entry[T]) {
	if l.n == len(l.buf) {
		l.grow()
	}
	l.head = l.slot(-1)
	l.buf[l.head] = e
	l.n++
}

func (l *idleList[T]) front() *entry[T] {
	if l.n == 0 {
		return nil
	}
	return l.buf[l.head]
}

func (l *idleList[T]) popFront() *entry[T] {
	if l.n == 0 {
		return nil
	}
	e := l.buf[l.head]
	l.buf[l.head] = nil
	l.head = l.slot(1)
	l.n--
	return e
}

func (l *idleList[T]) popBack() *entry[T] {
	if l.n == 0 {
		return nil
	}
	i := l.slot(l.n - 1)
	e := l.buf[i]
	l.buf[i] = nil
	l.n--
	return e
}

// removeIf removes, keeping the order of the rest, every entry for which drop
// returns true, and appends them to out.
func (l *idleList[T]) removeIf(drop func(*entry[T]) bool, out []*entry[T]) []*entry[T] {
	kept := 0
	for i := range l.n {
		e := l.at(i)
		if drop(e) {
			out = append(out, e)
			continue
		}
		l.buf[l.slot(kept)] = e
		kept++
	}
	for i := kept; i < l.n; i++ {
		l.buf[l.slot(i)] = nil
	}
	l.n = kept
	return out
}

// waiter is one Acquire call queued for a connection. Waiters form a FIFO
// doubly linked list so a waiter that gives up leaves in O(1).
type waiter[T any] struct {
	prev, next *waiter[T]
	queued     bool // still in the list; guarded by the pool's mu
	// ch receives exactly one handoff while queued; buffered so the pool never
	// blocks handing over under its lock.
	ch chan handoff[T]
	// timer bounds the wait by AcquireTimeout. Waiters are reused, so it is
	// reset per wait and stopped (or drained by firing) before reuse.
	timer *time.Timer
}

// handoff is what a queued Acquire is given: a connection (e), a free slot to
// open one in (e == nil, err == nil), or the reason it must give up (err).
type handoff[T any] struct {
	e   *entry[T]
	err error
}

// waitQueue is the FIFO of waiters. Not safe for concurrent use: the pool
// guards it with its mutex.
type waitQueue[T any] struct {
	head, tail *waiter[T]
	n          int
}

func (q *waitQueue[T]) push(w *waiter[T]) {
	w.prev, w.next, w.queued = q.tail, nil, true
	if q.tail == nil {
		q.head = w
	} else {
		q.tail.next = w
	}
	q.tail = w
	q.n++
}

func (q *waitQueue[T]) remove(w *waiter[T]) {
	if w.prev == nil {
		q.head = w.next
	} else {
		w.prev.next = w.next
	}
	if w.next == nil {
		q.tail = w.prev
	} else {
		w.next.prev = w.prev
	}
	w.prev, w.next, w.queued = nil, nil, false
	q.n--
}

func (q *waitQueue[T]) pop() *waiter[T] {
	w := q.head
	if w != nil {
		q.remove(w)
	}
	return w
}
