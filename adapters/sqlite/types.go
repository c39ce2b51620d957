package sqlite

import (
	"encoding/json"
	"time"
)

// Task is the spec's task shape.
type Task struct {
	ID          string          `json:"id"`
	Title       string          `json:"title"`
	Description string          `json:"description"`
	Status      string          `json:"status"`
	Priority    string          `json:"priority"`
	Labels      []string        `json:"labels"`
	Role        *string         `json:"role"`
	Assignee    *string         `json:"assignee"`
	ParentID    *string         `json:"parent_id"`
	DependsOn   []string        `json:"depends_on"`
	Version     int64           `json:"version"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
	StartedAt   *time.Time      `json:"started_at"`
	CompletedAt *time.Time      `json:"completed_at"`
	Summary     *string         `json:"summary"`
	Metadata    json.RawMessage `json:"metadata"` // a JSON object; "{}" when empty
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
}

// Filter selects tasks for List. Zero fields do not filter.
type Filter struct {
	Status   []string
	ParentID string
	Label    string
	Assignee string
	Role     string
	Ready    bool   // pending and every dependency completed
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
}

// Completion is task_complete's input.
type Completion struct {
	Summary  string
	Outcome  string          // completed | failed ("" = completed)
	Artifact *ArtifactRecord // already written to disk by the caller
}
