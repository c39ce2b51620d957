package work

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/clienterr"
)

// Status is where a task stands. Its text is stored and shown to clients as
// is, so a status's text never changes.
type Status string

// The statuses of a task.
const (
	Pending    Status = "pending"
	InProgress Status = "in_progress"
	Blocked    Status = "blocked"
	Completed  Status = "completed"
	Failed     Status = "failed"
	Cancelled  Status = "cancelled"
)

// Statuses lists every status, in the order the documentation gives them.
var Statuses = []Status{Pending, InProgress, Blocked, Completed, Failed, Cancelled}

// OpenStatuses are the statuses of unfinished work: what blocks other tasks,
// what a parent waits for, and what lies on the critical path.
var OpenStatuses = []Status{Pending, InProgress, Blocked}

// IsOpen says whether a task in this status is unfinished work.
func (s Status) IsOpen() bool { return s == Pending || s == InProgress || s == Blocked }

// IsFinal says whether no transition leaves this status.
func (s Status) IsFinal() bool { return s == Completed || s == Cancelled }

// Valid says whether s is one of Statuses.
func (s Status) Valid() bool { return slices.Contains(Statuses, s) }

// String is the status's text.
func (s Status) String() string { return string(s) }

// transitions lists, per status, the statuses it may move to.
var transitions = map[Status][]Status{
	Pending:    {InProgress, Blocked, Cancelled, Completed, Failed},
	InProgress: {Pending, Blocked, Completed, Failed, Cancelled},
	Blocked:    {Pending, InProgress, Cancelled},
	Failed:     {Pending, Cancelled},
	Completed:  nil,
	Cancelled:  nil,
}

// Next lists the statuses s may move to.
func (s Status) Next() []Status { return slices.Clone(transitions[s]) }

// CanMove says whether a task may move from s to to (staying is always allowed).
func (s Status) CanMove(to Status) bool { return s == to || slices.Contains(transitions[s], to) }

// CheckTransition refuses a move the status machine does not allow, with a
// sentence that names the task and the allowed next statuses.
func CheckTransition(id string, from, to Status) error {
	if from.CanMove(to) {
		return nil
	}
	e := &clienterr.Error{Kind: clienterr.InvalidTransition, Field: "status"}
	next := transitions[from]
	if len(next) == 0 {
		e.Msg = fmt.Sprintf("task %s is %s, a final status: it cannot move to %s; create a new task instead", id, from, to)
	} else {
		names := make([]string, len(next))
		for i, n := range next {
			names[i] = string(n)
		}
		e.Msg = fmt.Sprintf("task %s cannot move from %s to %s; allowed next statuses: %s",
			id, from, to, strings.Join(names, ", "))
	}
	return e
}

// StatusNames is Statuses as text, for enums and messages.
func StatusNames(list []Status) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = string(s)
	}
	return out
}
