package project

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/mirror"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// EventKind says what happened to an open project.
type EventKind string

// The kinds of Event. A client may match on them: a kind's text never changes.
const (
	// EventLeaseExpired: an agent's claim ran out before it finished; the
	// task can be claimed again.
	EventLeaseExpired EventKind = "lease_expired"
	// EventMirrorBehind: a mirror's deliveries keep failing and its oldest
	// undelivered change has waited mirror.DefaultLagWarning.
	EventMirrorBehind EventKind = "mirror_behind"
	// EventBackendDown: a pool's circuit breaker opened: the backend failed
	// too many times in a row, and calls to it fail fast for a while.
	EventBackendDown EventKind = "backend_down"
	// EventBackendRecovered: the breaker closed again (level info).
	EventBackendRecovered EventKind = "backend_recovered"
)

// Event is something an agent or its human should hear about an open
// project, raised in the background (not by a call): the server sends it to
// the clients that use the project as a log message. Nothing in it is a
// credential, a path outside the project, SQL or a stack.
type Event struct {
	Kind  EventKind
	Level slog.Level // slog.LevelWarn, except backend_recovered (slog.LevelInfo)
	// Root is the project's root: which clients hear of it. It is for
	// routing, not for the message.
	Root    string
	TaskID  string // the task it is about, if any
	Agent   string // the agent it is about, if any
	Mirror  string // the mirror it is about, if any (mirror.Vector, mirror.Graph)
	Backend string // the backend it is about, if any (BackendVector, …)
	At      time.Time
	Message string // one sentence, naming tasks by id and nothing by absolute path
}

// EventListener is told about events; it runs on the goroutine that found
// them (a project's lease timer) and must not block.
type EventListener func(Event)

// OnEvent subscribes fn to the events of every open project: the lease
// expiries the lease timers record (one event per task), the mirrors
// that fall behind and the backends whose circuit breaker opens or closes. cancel unsubscribes (calling it again does nothing): it
// waits for a call of fn under way, and fn is never called after it returns.
func (r *Registry) OnEvent(fn EventListener) (cancel func()) {
	if fn == nil {
		return func() {}
	}
	leases := r.OnLeaseExpired(func(root string, expired []work.LeaseExpiry) {
		for _, e := range expired {
			fn(leaseEvent(root, e))
		}
	})
	others := r.events.add(fn)
	return func() { leases(); others() }
}

// mirrorLag is the project's mirror.Config.OnLag.
func (p *Project) mirrorLag(l mirror.Lag) {
	p.reg.publishEvent(Event{
		Kind: EventMirrorBehind, Level: slog.LevelWarn, Root: p.root.Path, Mirror: l.Mirror, At: time.Now(),
		Message: fmt.Sprintf("the %s mirror is falling behind: %d task changes wait for it, the oldest for %s, and its deliveries keep failing; "+
			"task_similar and task_graph read stale data until it catches up (pool_status shows why it fails)",
			l.Mirror, l.Pending, l.Oldest.Round(time.Second)),
	})
}

// breakerEvents is the pooling.Config.OnBreaker of every pool of the
// project at root. The backend's last error is left out of the message (it
// may name a path outside the project, such as a managed server's
// executable): pool_status shows it.
func (r *Registry) breakerEvents(root string) func(pooling.BreakerEvent) {
	return func(b pooling.BreakerEvent) {
		e := Event{Kind: EventBackendRecovered, Level: slog.LevelInfo, Root: root, Backend: b.Backend, At: time.Now(),
			Message: fmt.Sprintf("the %s backend (pool %s) answers again: its circuit breaker closed", b.Backend, b.Pool)}
		if b.Open {
			e.Kind, e.Level = EventBackendDown, slog.LevelWarn
			e.Message = fmt.Sprintf("the %s backend (pool %s) is down: it failed too many times in a row, so calls to it fail fast "+
				"for %s before the server tries it again; pool_status shows its last error", b.Backend, b.Pool, b.RetryAfter.Round(time.Millisecond))
		}
		r.publishEvent(e)
	}
}

func leaseEvent(root string, e work.LeaseExpiry) Event {
	return Event{
		Kind: EventLeaseExpired, Level: slog.LevelWarn, Root: root, TaskID: e.TaskID, Agent: e.Agent, At: e.ExpiredAt,
		Message: fmt.Sprintf("the lease of agent %q on task %s expired at %s before it finished; the task can be claimed again",
			e.Agent, e.TaskID, e.ExpiredAt.UTC().Format(time.RFC3339)),
	}
}

// publishEvent tells every event listener about e.
func (r *Registry) publishEvent(e Event) {
	r.events.each(func(fn EventListener) { fn(e) })
}
