package sqlite_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

var t0 = time.Date(2025, 6, 1, 10, 0, 0, 123456000, time.UTC)

// importBatch is a parent, two subtasks in the wrong order (the child before
// its parent, a dependency on a later task) and an artifact record.
func importBatch() []sqlite.ImportTask {
	done := t0.Add(time.Hour)
	mk := func(id, title, status string, parent *string, deps []string) sqlite.ImportTask {
		var it sqlite.ImportTask
		it.ID, it.Title, it.Status, it.ParentID, it.DependsOn = id, title, work.Status(status), parent, deps
		it.Description = "about " + title
		it.CreatedAt = t0
		it.Metadata = json.RawMessage(`{"migrated_from": "test"}`)
		return it
	}
	impl := mk("impl_api", "Implement", "in_progress", ptr("task_1"), []string{"design_api"})
	impl.Role = ptr("implementer")
	design := mk("design_api", "Design", "completed", ptr("task_1"), nil)
	design.CompletedAt, design.Summary = &done, ptr("designed")
	design.Artifacts = []sqlite.ArtifactRecord{{Name: "a.md", Path: ".task_orchestrator/artifacts/design_api/a.md",
		Size: 3, SHA256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", CreatedAt: done}}
	parent := mk("task_1", "Build the API", "in_progress", nil, nil)
	return []sqlite.ImportTask{impl, design, parent}
}

func TestImportKeepsIdsTimesHierarchyDependenciesAndArtifacts(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	res, err := s.Import(ctx, importBatch())
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	if n := res.Count(sqlite.ImportCreated); n != 3 {
		t.Fatalf("created %d, want 3: %+v", n, res)
	}
	d := mustGet(t, s, "design_api")
	if d.Task.Status != "completed" || *d.Task.ParentID != "task_1" || !d.Task.CreatedAt.Equal(t0) ||
		d.Task.CompletedAt == nil || !d.Task.CompletedAt.Equal(t0.Add(time.Hour)) || *d.Task.Summary != "designed" {
		t.Errorf("design_api = %+v", d.Task)
	}
	if len(d.Artifacts) != 1 || d.Artifacts[0].Name != "a.md" || d.Artifacts[0].Size != 3 {
		t.Errorf("artifacts = %+v", d.Artifacts)
	}
	if len(d.Dependents) != 1 || d.Dependents[0].ID != "impl_api" {
		t.Errorf("dependents of design_api = %+v", d.Dependents)
	}
	p := mustGet(t, s, "task_1")
	var kids []string
	for _, k := range p.Subtasks {
		kids = append(kids, k.ID)
	}
	slices.Sort(kids)
	if !slices.Equal(kids, []string{"design_api", "impl_api"}) {
		t.Errorf("subtasks of task_1 = %v", kids)
	}
	if got := mustGet(t, s, "impl_api").Task; got.Role == nil || *got.Role != "implementer" || !slices.Equal(got.DependsOn, []string{"design_api"}) {
		t.Errorf("impl_api = %+v", got)
	}
}

func TestImportTwiceChangesNothing(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	if _, err := s.Import(ctx, importBatch()); err != nil {
		t.Fatal(err)
	}
	before := dump(t, s)
	res, err := s.Import(ctx, importBatch())
	if err != nil {
		t.Fatal(err)
	}
	if res.Count(sqlite.ImportUnchanged) != 3 || res.Count(sqlite.ImportCreated) != 0 {
		t.Fatalf("second import = %+v, want 3 unchanged", res)
	}
	if after := dump(t, s); after != before {
		t.Errorf("second import changed the database:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func TestImportNeverOverwritesATaskChangedSince(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	if _, err := s.Import(ctx, importBatch()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Complete(ctx, "impl_api", sqlite.Completion{Summary: "done here"}); err != nil {
		t.Fatal(err)
	}
	before := dump(t, s)
	res, err := s.Import(ctx, importBatch())
	if err != nil {
		t.Fatal(err)
	}
	var diff sqlite.ImportedTask
	for _, r := range res.Tasks {
		if r.ID == "impl_api" {
			diff = r
		}
	}
	if diff.Outcome != sqlite.ImportDiffers || diff.Diff == "" {
		t.Fatalf("impl_api outcome = %+v, want differs with a reason", diff)
	}
	if after := dump(t, s); after != before {
		t.Error("an import over a changed task wrote something")
	}
}

func TestImportWithAMissingParentWritesNothing(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	batch := importBatch()
	batch = batch[:2] // no task_1
	before := dump(t, s)
	_, err := s.Import(ctx, batch)
	wantKind(t, err, sqlite.KindNotFound)
	if after := dump(t, s); after != before {
		t.Errorf("a failed import wrote rows:\n%s", after)
	}
}

// Stored tasks never gain edges from an import, so a cycle can only run
// through the new tasks; Import leaves out the edge that would close it.
func TestImportLeavesOutADependencyThatClosesACycle(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	v := sqlite.ImportTask{}
	v.ID, v.Title, v.Status, v.CreatedAt, v.DependsOn = "v", "V", "pending", t0, []string{"w"}
	w := sqlite.ImportTask{}
	w.ID, w.Title, w.Status, w.CreatedAt, w.DependsOn = "w", "W", "pending", t0, []string{"v"}
	res, err := s.Import(ctx, []sqlite.ImportTask{v, w})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.SkippedDeps) != 1 || res.SkippedDeps[0].TaskID != "w" || res.SkippedDeps[0].DependsOn != "v" {
		t.Fatalf("skipped = %+v, want w -> v left out", res.SkippedDeps)
	}
	if got := mustGet(t, s, "w").Task.DependsOn; len(got) != 0 {
		t.Errorf("w depends on %v, want nothing", got)
	}
	if got := mustGet(t, s, "v").Task.DependsOn; !slices.Equal(got, []string{"w"}) {
		t.Errorf("v depends on %v, want [w]", got)
	}
}

func TestPlanImportWritesNothing(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	before := dump(t, s)
	res, err := s.PlanImport(ctx, importBatch())
	if err != nil {
		t.Fatal(err)
	}
	if res.Count(sqlite.ImportCreated) != 3 {
		t.Fatalf("plan = %+v, want 3 to create", res)
	}
	if after := dump(t, s); after != before {
		t.Errorf("PlanImport wrote:\n%s", after)
	}
}

func TestImportRefusesBadInputBeforeWriting(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	for name, mutate := range map[string]func(b []sqlite.ImportTask){
		"unknown status": func(b []sqlite.ImportTask) { b[0].Status = "active" },
		"empty title":    func(b []sqlite.ImportTask) { b[0].Title = "  " },
		"duplicate id":   func(b []sqlite.ImportTask) { b[1].ID = b[0].ID },
		"no created_at":  func(b []sqlite.ImportTask) { b[2].CreatedAt = time.Time{} },
		"bad metadata":   func(b []sqlite.ImportTask) { b[0].Metadata = json.RawMessage(`[1]`) },
	} {
		b := importBatch()
		mutate(b)
		if _, err := s.Import(ctx, b); !sqlite.IsKind(err, sqlite.KindInvalid) {
			t.Errorf("%s: err = %v, want invalid_argument", name, err)
		}
	}
	if d := dump(t, s); d != dump(t, openStore(t)) {
		t.Errorf("refused imports wrote:\n%s", d)
	}
}

// BenchmarkImport1000 imports 1000 tasks (each a subtask of the previous
// tenth and depending on the one before) in one Import, against the
// baseline of creating them one by one with Create, in the same run.
func BenchmarkImport1000(b *testing.B) {
	const n = 1000
	batch := make([]sqlite.ImportTask, n)
	for i := range batch {
		t := &batch[i]
		t.ID, t.Title, t.Status, t.CreatedAt = fmt.Sprintf("py_%04d", i), fmt.Sprintf("task %d", i), "pending", t0.Add(time.Duration(i))
		t.Metadata = json.RawMessage(`{"migrated_from":"bench"}`)
		if i > 0 {
			t.ParentID = ptr(batch[i/10].ID)
			t.DependsOn = []string{batch[i-1].ID}
		}
	}
	b.Run("import", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			s := openStore(b)
			b.StartTimer()
			if _, err := s.Import(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline-create-each", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			s := openStore(b)
			b.StartTimer()
			ids := make([]string, n)
			for i := range n {
				nt := sqlite.NewTask{Title: batch[i].Title, Metadata: batch[i].Metadata}
				if i > 0 {
					nt.ParentID, nt.DependsOn = ids[i/10], []string{ids[i-1]}
				}
				t, err := s.Create(context.Background(), nt)
				if err != nil {
					b.Fatal(err)
				}
				ids[i] = t.ID
			}
		}
	})
}
