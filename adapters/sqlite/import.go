package sqlite

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// ImportTask is a task brought in from elsewhere (mcp-task-orchestrator
// migrate) with its own id, times, status, dependencies and artifact records,
// which Create would invent. Labels and DependsOn may be nil; Version and
// UpdatedAt are ignored when comparing with a stored task.
type ImportTask struct {
	Task
	Artifacts []ArtifactRecord // files already in the artifacts folder
}

// ImportOutcome says what Import did, or would do, with one task.
type ImportOutcome string

const (
	// ImportCreated: the id was free, so the task was (would be) written.
	ImportCreated ImportOutcome = "created"
	// ImportUnchanged: a task with this id is stored exactly as imported.
	ImportUnchanged ImportOutcome = "unchanged"
	// ImportDiffers: a task with this id is stored differently (changed here
	// since an earlier import, or a different task with the same id). It is
	// never overwritten.
	ImportDiffers ImportOutcome = "differs"
)

// ImportedTask is the outcome for one task, in the order given.
type ImportedTask struct {
	ID      string
	Outcome ImportOutcome
	// Diff, for ImportDiffers, names the first field that differs and both values.
	Diff string
}

// SkippedDependency is an edge Import left out because it would close a
// cycle among the imported tasks.
type SkippedDependency struct {
	TaskID, DependsOn string
	Path              []string // the existing path DependsOn → … → TaskID
}

// ImportResult is what Import did (or PlanImport would do).
type ImportResult struct {
	Tasks       []ImportedTask
	SkippedDeps []SkippedDependency
}

// Count returns how many tasks had outcome o.
func (r ImportResult) Count(o ImportOutcome) int {
	n := 0
	for _, t := range r.Tasks {
		if t.Outcome == o {
			n++
		}
	}
	return n
}

// Import writes, in one transaction, every task of batch whose id is free,
// with its dependencies and artifact records, and leaves every task whose id
// is taken as it is (reporting whether it matches). Running it twice with
// the same batch changes nothing the second time. A parent or dependency must
// be stored already or be in the batch (in any order). A dependency that
// would close a cycle is left out and reported. Nothing
// is written if any task is invalid.
func (s *Store) Import(ctx context.Context, batch []ImportTask) (ImportResult, error) {
	tasks, err := s.checkImport(batch)
	if err != nil {
		return ImportResult{}, err
	}
	var res ImportResult
	err = s.write(ctx, func(c *conn) error {
		res = ImportResult{}
		outcomes, err := classifyImport(ctx, c, tasks)
		if err != nil {
			return err
		}
		res.Tasks = outcomes
		created := map[string]bool{}
		for _, o := range outcomes {
			if o.Outcome == ImportCreated {
				created[o.ID] = true
			}
		}
		for _, t := range parentsFirst(tasks, created) {
			if err := insertImported(ctx, c, t); err != nil {
				return fmt.Errorf("task %s: %w", t.ID, err)
			}
		}
		// Edges go in once every task is there: a dependency may be later in
		// the batch. A stored task never depends on a new one, so a cycle can
		// only run through new tasks' edges: it is found in memory.
		accepted := map[string][]string{}
		for _, t := range tasks {
			if !created[t.ID] {
				continue
			}
			for _, d := range t.DependsOn {
				if path := reach(accepted, d, t.ID); path != nil {
					res.SkippedDeps = append(res.SkippedDeps, SkippedDependency{TaskID: t.ID, DependsOn: d, Path: path})
					continue
				}
				accepted[t.ID] = append(accepted[t.ID], d)
				if _, err := c.exec(ctx, `INSERT INTO task_dependencies (task_id, depends_on_id) VALUES (?, ?)`, t.ID, d); err != nil {
					return fmt.Errorf("dependency %s -> %s: %w", t.ID, d, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return ImportResult{}, wrap("import tasks", err)
	}
	return res, nil
}

// PlanImport says what Import would do with batch, reading only: no lock is
// taken and nothing is written. (Dependencies that would close a cycle are
// found only by Import.)
func (s *Store) PlanImport(ctx context.Context, batch []ImportTask) (ImportResult, error) {
	tasks, err := s.checkImport(batch)
	if err != nil {
		return ImportResult{}, err
	}
	var res ImportResult
	err = s.read(ctx, func(c *conn) error {
		var err error
		res.Tasks, err = classifyImport(ctx, c, tasks)
		return err
	})
	if err != nil {
		return ImportResult{}, wrap("plan import", err)
	}
	return res, nil
}

// reach returns a path from → … → to along edges, or nil.
func reach(edges map[string][]string, from, to string) []string {
	prev := map[string]string{from: ""}
	stack := []string{from}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n == to {
			var path []string
			for v := to; v != ""; v = prev[v] {
				path = append(path, v)
			}
			slices.Reverse(path)
			return path
		}
		for _, m := range edges[n] {
			if _, seen := prev[m]; !seen {
				prev[m] = n
				stack = append(stack, m)
			}
		}
	}
	return nil
}

// checkImport validates batch and returns it normalised: trimmed title,
// compacted metadata, sorted labels and dependencies, times in UTC.
func (s *Store) checkImport(batch []ImportTask) ([]ImportTask, error) {
	out := make([]ImportTask, len(batch))
	seen := make(map[string]bool, len(batch))
	for i, in := range batch {
		t := in
		at := func(err error) error {
			var e *Error
			if errors.As(err, &e) {
				e2 := *e
				e2.Msg = fmt.Sprintf("imported task %q: %s", work.Clip(in.ID), e.Msg)
				return &e2
			}
			return err
		}
		if err := rules.ID("id", t.ID); err != nil {
			return nil, at(err)
		}
		if seen[t.ID] {
			return nil, invalid("id", "imported task %s appears twice in the batch; ids must be unique", t.ID)
		}
		seen[t.ID] = true
		title, err := rules.Title("title", t.Title)
		if err != nil {
			return nil, at(err)
		}
		t.Title = title
		if !utf8.ValidString(t.Description) || (t.Summary != nil && !utf8.ValidString(*t.Summary)) {
			return nil, at(invalid("description", "description and summary must be valid UTF-8"))
		}
		if t.Priority == "" {
			t.Priority = "medium"
		}
		if err := rules.Enum("status", string(t.Status), work.TaskStatuses); err != nil {
			return nil, at(err)
		}
		if err := rules.Enum("priority", t.Priority, work.Priorities); err != nil {
			return nil, at(err)
		}
		if t.Labels, err = rules.Labels("labels", t.Labels); err != nil {
			return nil, at(err)
		}
		for _, f := range []struct {
			name string
			v    **string
		}{{"role", &t.Role}, {"assignee", &t.Assignee}} {
			if *f.v != nil {
				v, err := rules.Name(f.name, **f.v)
				if err != nil {
					return nil, at(err)
				}
				*f.v = nilIfEmpty(v)
			}
		}
		if t.ParentID != nil {
			if *t.ParentID == "" {
				t.ParentID = nil
			} else if err := rules.ID("parent_id", *t.ParentID); err != nil {
				return nil, at(err)
			} else if *t.ParentID == t.ID {
				return nil, at(invalid("parent_id", "task %s cannot be its own parent", t.ID))
			}
		}
		if t.DependsOn, err = rules.DependsOn(t.ID, t.DependsOn); err != nil {
			return nil, at(err)
		}
		meta, err := rules.Metadata(t.Metadata, s.opts.MaxMetadata)
		if err != nil {
			return nil, at(err)
		}
		if meta == nil {
			meta = []byte("{}")
		}
		t.Metadata = meta
		if t.CreatedAt.IsZero() {
			return nil, at(invalid("created_at", "created_at is required"))
		}
		t.CreatedAt = t.CreatedAt.UTC()
		if t.UpdatedAt.IsZero() || t.UpdatedAt.Before(t.CreatedAt) {
			t.UpdatedAt = t.CreatedAt
		}
		t.UpdatedAt = t.UpdatedAt.UTC()
		t.StartedAt, t.CompletedAt = utcPtr(t.StartedAt), utcPtr(t.CompletedAt)
		t.Artifacts = slices.Clone(in.Artifacts)
		names := map[string]bool{}
		for j := range t.Artifacts {
			a := &t.Artifacts[j]
			if err := checkArtifact(a); err != nil {
				return nil, at(err)
			}
			if names[a.Name] {
				return nil, at(invalid("artifact.name", "artifact %q appears twice", a.Name))
			}
			names[a.Name] = true
			if a.CreatedAt.IsZero() {
				a.CreatedAt = t.CreatedAt
			}
			a.CreatedAt = a.CreatedAt.UTC()
		}
		slices.SortFunc(t.Artifacts, func(a, b ArtifactRecord) int { return strings.Compare(a.Name, b.Name) })
		out[i] = t
	}
	return out, nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// classifyImport decides, for each task, whether it is new, stored unchanged
// or stored differently, and checks that every parent and dependency of a new
// task will exist.
func classifyImport(ctx context.Context, c *conn, tasks []ImportTask) ([]ImportedTask, error) {
	ids := make([]string, len(tasks))
	inBatch := make(map[string]bool, len(tasks))
	for i, t := range tasks {
		ids[i], inBatch[t.ID] = t.ID, true
	}
	stored, err := loadTasks(ctx, c, `SELECT `+taskColsRel+` FROM tasks t
		WHERE t.id IN (SELECT value FROM json_each(?))`, jsonIDs(ids))
	if err != nil {
		return nil, err
	}
	byID := make(map[string]Task, len(stored))
	for _, t := range stored {
		byID[t.ID] = t
	}
	out := make([]ImportedTask, len(tasks))
	for i, t := range tasks {
		cur, ok := byID[t.ID]
		if !ok {
			out[i] = ImportedTask{ID: t.ID, Outcome: ImportCreated}
			refs := slices.Clone(t.DependsOn)
			if t.ParentID != nil {
				refs = append(refs, *t.ParentID)
			}
			var outside []string
			for _, r := range refs {
				if !inBatch[r] {
					outside = append(outside, r)
				}
			}
			if missing, err := firstMissing(ctx, c, outside); err != nil {
				return nil, err
			} else if missing != "" {
				return nil, &Error{Kind: KindNotFound, Field: "depends_on", Msg: fmt.Sprintf(
					"imported task %s refers to task %s (as parent or dependency), which is neither stored nor imported", t.ID, missing)}
			}
			continue
		}
		arts, err := loadArtifacts(ctx, c, t.ID)
		if err != nil {
			return nil, err
		}
		if diff := importDiff(t, cur, arts); diff != "" {
			out[i] = ImportedTask{ID: t.ID, Outcome: ImportDiffers, Diff: diff}
		} else {
			out[i] = ImportedTask{ID: t.ID, Outcome: ImportUnchanged}
		}
	}
	return out, nil
}

// importDiff names the first field in which the stored task differs from the
// imported one, with both values, or returns "".
func importDiff(want ImportTask, have Task, arts []ArtifactRecord) string {
	str := func(p *string) string {
		if p == nil {
			return "(none)"
		}
		return fmt.Sprintf("%q", work.Clip(*p))
	}
	tm := func(p *time.Time) string {
		if p == nil {
			return "(none)"
		}
		return p.Format(time.RFC3339Nano)
	}
	timeEq := func(a, b *time.Time) bool { return (a == nil && b == nil) || (a != nil && b != nil && a.Equal(*b)) }
	f := func(field, here, there string) string {
		return fmt.Sprintf("%s is %s here but %s in the import", field, here, there)
	}
	switch {
	case have.Title != want.Title:
		return f("title", str(&have.Title), str(&want.Title))
	case have.Description != want.Description:
		return f("description", str(&have.Description), str(&want.Description))
	case have.Status != want.Status:
		return f("status", string(have.Status), string(want.Status))
	case have.Priority != want.Priority:
		return f("priority", have.Priority, want.Priority)
	case !strPtrEq(have.Role, want.Role):
		return f("role", str(have.Role), str(want.Role))
	case !strPtrEq(have.Assignee, want.Assignee):
		return f("assignee", str(have.Assignee), str(want.Assignee))
	case !strPtrEq(have.ParentID, want.ParentID):
		return f("parent_id", str(have.ParentID), str(want.ParentID))
	case !strPtrEq(have.Summary, want.Summary):
		return f("summary", str(have.Summary), str(want.Summary))
	case !have.CreatedAt.Equal(want.CreatedAt):
		return f("created_at", tm(&have.CreatedAt), tm(&want.CreatedAt))
	case !timeEq(have.StartedAt, want.StartedAt):
		return f("started_at", tm(have.StartedAt), tm(want.StartedAt))
	case !timeEq(have.CompletedAt, want.CompletedAt):
		return f("completed_at", tm(have.CompletedAt), tm(want.CompletedAt))
	case !jsonEqual(have.Metadata, want.Metadata):
		return f("metadata", work.Clip(string(have.Metadata)), work.Clip(string(want.Metadata)))
	case !slices.Equal(have.Labels, want.Labels):
		return f("labels", fmt.Sprint(have.Labels), fmt.Sprint(want.Labels))
	case !slices.Equal(have.DependsOn, want.DependsOn):
		return f("depends_on", fmt.Sprint(have.DependsOn), fmt.Sprint(want.DependsOn))
	}
	if len(arts) != len(want.Artifacts) {
		return f("the number of artifacts", fmt.Sprint(len(arts)), fmt.Sprint(len(want.Artifacts)))
	}
	for i, a := range arts { // both sorted by name
		w := want.Artifacts[i]
		if a.Name != w.Name || a.Path != w.Path || a.Size != w.Size || a.SHA256 != w.SHA256 || !a.CreatedAt.Equal(w.CreatedAt) {
			return f("artifact", fmt.Sprintf("%q (%d bytes)", a.Name, a.Size), fmt.Sprintf("%q (%d bytes)", w.Name, w.Size))
		}
	}
	return ""
}

func jsonEqual(a, b json.RawMessage) bool {
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return bytes.Equal(a, b)
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}

// parentsFirst returns the created tasks ordered so that each comes after its
// parent when the parent is created in the same batch.
func parentsFirst(tasks []ImportTask, created map[string]bool) []ImportTask {
	byID := make(map[string]int, len(tasks))
	for i, t := range tasks {
		byID[t.ID] = i
	}
	done := make(map[string]bool, len(tasks))
	out := make([]ImportTask, 0, len(created))
	var visit func(i int, depth int)
	visit = func(i int, depth int) {
		t := tasks[i]
		if done[t.ID] || !created[t.ID] {
			return
		}
		done[t.ID] = true
		// A parent cycle inside the batch cannot be ordered; the insert then
		// fails on the foreign key and the whole batch is rolled back.
		if t.ParentID != nil && depth < len(tasks) {
			if p, ok := byID[*t.ParentID]; ok {
				visit(p, depth+1)
			}
		}
		out = append(out, t)
	}
	for i := range tasks {
		visit(i, 0)
	}
	return out
}

func insertImported(ctx context.Context, c *conn, t ImportTask) error {
	// An imported claim gets the default lease from its last change, as
	// migration 3 gives claims made before leases existed: a stale one is
	// claimable again.
	var leaseSecs, leaseExp any
	if t.Status == "in_progress" {
		leaseSecs, leaseExp = int64(work.DefaultLease/time.Second), fmtTime(t.UpdatedAt.Add(work.DefaultLease))
	}
	if _, err := c.exec(ctx, `INSERT INTO tasks
		(id, seq, title, description, status, priority, role, assignee, parent_id, version,
		 created_at, updated_at, started_at, completed_at, summary, metadata, lease_seconds, lease_expires_at)
		VALUES (?, (SELECT IFNULL(MAX(seq), 0) + 1 FROM tasks), ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.Title, t.Description, t.Status, t.Priority, optStr(t.Role), optStr(t.Assignee), optStr(t.ParentID),
		fmtTime(t.CreatedAt), fmtTime(t.UpdatedAt), optTime(t.StartedAt), optTime(t.CompletedAt),
		optStrNull(t.Summary), string(t.Metadata), leaseSecs, leaseExp); err != nil {
		return err
	}
	if err := insertLabels(ctx, c, t.ID, t.Labels); err != nil {
		return err
	}
	for _, a := range t.Artifacts {
		if _, err := c.exec(ctx, `INSERT INTO artifacts (task_id, name, path, size, sha256, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`, t.ID, a.Name, a.Path, a.Size, a.SHA256, fmtTime(a.CreatedAt)); err != nil {
			return err
		}
	}
	return nil
}
