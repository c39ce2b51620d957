package project

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// EventKind says what happened to an open project.
type EventKind string

// The kinds of Event. A client may match on them: a kind's text never changes.
const (
	// EventLeaseExpired: an agent's claim ran out before it finished; the
	// task can be claimed again.
	EventLeaseExpired EventKind = "lease_expired"
)

// Event is something an agent or its human should hear about an open
// project, raised in the background (not by a call): the server sends it to
// the clients that use the project as a log message. Nothing in it is a
// credential, a path outside the project, SQL or a stack.
type Event struct {
	Kind  EventKind
	Level slog.Level // slog.LevelWarn for every kind so far
	// Root is the project's root: which clients hear of it. It is for
	// routing, not for the message.
	Root    string
	TaskID  string // the task it is about, if any
	Agent   string // the agent it is about, if any
	At      time.Time
	Message string // one sentence, naming tasks by id and nothing by absolute path
}

// EventListener is told about events; it runs on the goroutine that found
// them (a project's lease timer) and must not block.
type EventListener func(Event)

// OnEvent subscribes fn to the events of every open project: today the
// lease expiries the lease timers record (one event per task). cancel
// unsubscribes, as OnLeaseExpired's does.
func (r *Registry) OnEvent(fn EventListener) (cancel func()) {
	if fn == nil {
		return func() {}
	}
	return r.OnLeaseExpired(func(root string, expired []work.LeaseExpiry) {
		for _, e := range expired {
			fn(leaseEvent(root, e))
		}
	})
}

func leaseEvent(root string, e work.LeaseExpiry) Event {
	return Event{
		Kind: EventLeaseExpired, Level: slog.LevelWarn, Root: root, TaskID: e.TaskID, Agent: e.Agent, At: e.ExpiredAt,
		Message: fmt.Sprintf("the lease of agent %q on task %s expired at %s before it finished; the task can be claimed again",
			e.Agent, e.TaskID, e.ExpiredAt.UTC().Format(time.RFC3339)),
	}
}
