package work

import (
	"encoding/json"
	"time"
)

// Task is the spec's task shape.
type Task struct {
	ID          string     `json:"id"`
	Title       string     `json:"title"`
	Description string     `json:"description"`
	Status      Status     `json:"status"`
	Priority    string     `json:"priority"`
	Labels      []string   `json:"labels"`
	Role        *string    `json:"role"`
	Assignee    *string    `json:"assignee"`
	ParentID    *string    `json:"parent_id"`
	DependsOn   []string   `json:"depends_on"`
	Version     int64      `json:"version"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	StartedAt   *time.Time `json:"started_at"`
	CompletedAt *time.Time `json:"completed_at"`
	// LeaseExpiresAt is when the assignee's claim lapses unless renewed (by
	// task_heartbeat or any write of the holder); null when nobody holds it.
	LeaseExpiresAt *time.Time      `json:"lease_expires_at"`
	Summary        *string         `json:"summary"`
	Metadata       json.RawMessage `json:"metadata"` // a JSON object; "{}" when empty
}

// ArtifactRecord is an artifact's row.
type ArtifactRecord struct {
	Name      string    `json:"name"`
	Path      string    `json:"path"` // relative to the project root
	Size      int64     `json:"size"`
	SHA256    string    `json:"sha256"`
	CreatedAt time.Time `json:"created_at"`
}

// TaskDetail is task_get's answer. Every slice is non-nil, so JSON shows [].
type TaskDetail struct {
	Task       Task             `json:"task"`
	Subtasks   []Task           `json:"subtasks"`
	Dependents []Task           `json:"dependents"`
	Artifacts  []ArtifactRecord `json:"artifacts"`
}

// NewTask is task_create's input.
type NewTask struct {
	Title, Description string
	ParentID           string
	DependsOn          []string
	Priority           string // "" = medium
	Labels             []string
	Role               string
	Metadata           json.RawMessage // nil, null or a JSON object
	Actor              string          // who creates it, for the history ("" = unknown)
}

// Filter selects tasks for List. Zero fields do not filter.
type Filter struct {
	Status   []string
	ParentID string
	Label    string
	Assignee string
	Role     string
	Ready    bool   // claimable: see ClaimRequest (role aside)
	Text     string // full-text search over title and description
	Limit    int    // 0 = 50, max 200
	Cursor   string // next_cursor of the previous page
}

// Patch: nil fields are left alone.
type Patch struct {
	Title       *string
	Description *string
	Status      *string
	Priority    *string
	Labels      *[]string       // replaces the set
	Role        *string         // "" clears
	Assignee    *string         // "" clears
	ParentID    *string         // "" clears
	Metadata    json.RawMessage // replaces the object; nil or null = leave alone
	Summary     *string
	// Agent is who asks. On a task under a live lease only the holder may
	// change it; the holder's write renews the lease. "" = not an agent
	// (refused on a leased task).
	Agent string
}

// Completion is task_complete's input.
type Completion struct {
	Summary  string
	Outcome  string          // completed | failed ("" = completed)
	Artifact *ArtifactRecord // already written to disk by the caller
	Agent    string          // who completes it: see Patch.Agent
}

// ClaimRequest is task_claim's input. A task is claimable when it is pending,
// or in progress under an expired lease; every dependency is completed; it
// has no open subtask; its role is unset or equal to Role; it carries every
// label in Labels.
type ClaimRequest struct {
	Agent  string
	Role   string // "" claims only tasks without a role
	Labels []string
	Lease  time.Duration // 1 s to 24 h
}

// History event kinds.
const (
	EventCreated      = "created"
	EventUpdated      = "updated"   // fields (title, priority, labels, …) changed
	EventStatus       = "status"    // status moved by task_update
	EventClaimed      = "claimed"   // a pending task was claimed
	EventReclaimed    = "reclaimed" // an expired claim was taken over
	EventLeaseExpired = "lease_expired"
	EventLeaseRenewed = "lease_renewed" // the holder renewed a lease that had run out (late)
	EventReleased     = "released"
	EventCompleted    = "completed"
	EventFailed       = "failed"
	EventDependency   = "dependency" // a dependency was added or removed
	EventDeleted      = "deleted"
)

// HistoryEvent is one change of a task.
type HistoryEvent struct {
	Seq   int64     `json:"seq"`
	At    time.Time `json:"at"`
	Actor string    `json:"actor"`
	Event string    `json:"event"`
	// Changes maps each changed field to its old and new value: {"status": ["pending","in_progress"]}.
	Changes map[string][2]any `json:"changes,omitempty"`
	Late    bool              `json:"late,omitempty" jsonschema:"Written after the lease expired"`
	Note    string            `json:"note,omitempty"`
}

// LeaseExpiry is a lease found expired (and recorded) by the sweeper.
type LeaseExpiry struct {
	TaskID    string    `json:"task_id"`
	Agent     string    `json:"agent"`
	ExpiredAt time.Time `json:"expired_at"`
}

// PlanTask is one task of a plan. Ref names it within the plan; Parent and
// DependsOn name refs of the same plan or ids of existing tasks.
type PlanTask struct {
	Ref         string          `json:"ref"`
	Title       string          `json:"title"`
	Description string          `json:"description,omitempty"`
	Parent      string          `json:"parent,omitempty"`
	DependsOn   []string        `json:"depends_on,omitempty"`
	Priority    string          `json:"priority,omitempty"`
	Labels      []string        `json:"labels,omitempty"`
	Role        string          `json:"role,omitempty"`
	Metadata    json.RawMessage `json:"metadata,omitempty"`
}

// ResolvedPlanTask is a plan task whose parent and dependencies are sorted
// out: each names either a ref created earlier in the same plan (Ref fields)
// or an existing task (ID fields). Tasks come in an order where every ref a
// task names comes before it.
type ResolvedPlanTask struct {
	Index       int // position in the plan as sent
	Task        PlanTask
	ParentRef   string   // a ref of this plan, or ""
	ParentID    string   // an existing task, or ""
	DependsRefs []string // refs of this plan
	DependsIDs  []string // existing tasks
}

// PlanResult is what a plan created.
type PlanResult struct {
	IDs   map[string]string `json:"ids" jsonschema:"ref -> task id"`
	Tasks []Task            `json:"-"`
}

// SummaryOptions shapes task_summary.
type SummaryOptions struct {
	ListLimit  int           // entries per list (default 10)
	StaleAfter time.Duration // open work untouched this long is "oldest open" (informational)
}

// Summary is the project at a glance (task_summary). Every list holds at
// most SummaryOptions.ListLimit entries; its *More field counts the rest.
type Summary struct {
	Total  int            `json:"total"`
	Counts map[Status]int `json:"counts" jsonschema:"Tasks per status"`
	Ready  int            `json:"ready" jsonschema:"Claimable now (any role)"`

	Blocked     []BlockedEntry `json:"blocked"`
	BlockedMore int            `json:"blocked_more,omitempty"`

	Agents     []AgentWork `json:"agents"`
	AgentsMore int         `json:"agents_more,omitempty"`

	Expired     []ExpiredLease `json:"expired_leases"`
	ExpiredMore int            `json:"expired_leases_more,omitempty"`

	Parents     []ParentRollup `json:"parents"`
	ParentsMore int            `json:"parents_more,omitempty"`

	Oldest     []OpenEntry `json:"oldest_open"`
	OldestMore int         `json:"oldest_open_more,omitempty"`
}

// BlockedEntry is an open task and what it waits for.
type BlockedEntry struct {
	ID        string   `json:"id"`
	WaitingOn []string `json:"waiting_on"`
	// WaitingMore counts what it waits for beyond WaitingOn (which shows at most 3).
	WaitingMore int `json:"waiting_more,omitempty"`
}

// AgentWork is what one agent holds.
type AgentWork struct {
	Agent string   `json:"agent"`
	Tasks []string `json:"tasks"`
	// TasksMore counts its tasks beyond Tasks (which shows at most 3).
	TasksMore int `json:"tasks_more,omitempty"`
	// LeaseAgeS is how long ago (seconds) the oldest of its live claims was made.
	LeaseAgeS int64 `json:"lease_age_s"`
}

// ExpiredLease is an in-progress task whose lease has run out.
type ExpiredLease struct {
	ID       string `json:"id"`
	Agent    string `json:"agent"`
	ExpiredS int64  `json:"expired_s"`
}

// ParentRollup is a parent's progress over its direct subtasks.
type ParentRollup struct {
	ID    string `json:"id"`
	Done  int    `json:"done"`
	Total int    `json:"total"`
}

// OpenEntry is an open task and how long it has been untouched.
type OpenEntry struct {
	ID     string `json:"id"`
	Status Status `json:"status"`
	IdleS  int64  `json:"idle_s"`
}
