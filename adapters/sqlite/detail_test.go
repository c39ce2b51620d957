package sqlite_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// detailBatch is a task "hub" with everything Get returns at once: labels,
// two dependencies whose ids hold a control character and a comma (the
// aggregate columns must split them exactly), three subtasks (two created at
// the same instant, so the id breaks the tie), three dependents (one of them
// also a subtask) and three artifacts given out of name order.
func detailBatch() (batch []sqlite.ImportTask, want map[string]sqlite.Task) {
	want = map[string]sqlite.Task{}
	mk := func(id string, created time.Duration, parent string, labels, deps []string) sqlite.ImportTask {
		var it sqlite.ImportTask
		it.ID, it.Title, it.Description, it.Status, it.Priority = id, "task "+id, "about "+id, work.Pending, "high"
		it.CreatedAt = t0.Add(created)
		it.UpdatedAt = it.CreatedAt.Add(time.Second + 7)
		it.Labels, it.DependsOn = labels, deps
		it.Metadata = json.RawMessage(`{"k": ` + strconv.Itoa(len(id)) + `}`)
		if parent != "" {
			it.ParentID = ptr(parent)
		}
		w := it.Task
		w.Version, w.Metadata = 1, json.RawMessage(`{"k":`+strconv.Itoa(len(id))+`}`)
		if w.Labels == nil {
			w.Labels = []string{}
		}
		if w.DependsOn == nil {
			w.DependsOn = []string{}
		}
		want[id] = w
		return it
	}
	batch = []sqlite.ImportTask{
		mk("dep\x1fone", 0, "", nil, nil),
		mk("dep,two", 1, "", []string{"x"}, nil),
		mk("hub", 2, "", []string{"alpha", "m:1", "zeta"}, []string{"dep\x1fone", "dep,two"}),
		mk("kid_b", 2*time.Hour, "hub", []string{"b"}, []string{"hub"}),
		mk("kid_c", time.Hour, "hub", nil, []string{"dep,two"}),
		mk("kid_a", time.Hour, "hub", []string{"a", "a2"}, nil),
		mk("user_1", 4*time.Hour, "", nil, []string{"dep\x1fone", "hub", "kid_a"}),
		mk("user_2", 3*time.Hour, "kid_a", []string{"u"}, []string{"hub"}),
	}
	sum := "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	for i, name := range []string{"z.txt", "a.md", "b c.bin"} {
		batch[2].Artifacts = append(batch[2].Artifacts, sqlite.ArtifactRecord{Name: name,
			Path: ".task_orchestrator/artifacts/hub/" + name, Size: int64(10 * i), SHA256: sum, CreatedAt: t0.Add(time.Duration(i))})
	}
	return batch, want
}

// Get returns the task, its subtasks and dependents in creation order (each
// with its labels and dependencies) and its artifacts by name, exactly as stored.
func TestGetReturnsTheWholeDetailExactly(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	batch, want := detailBatch()
	if _, err := s.Import(ctx, batch); err != nil {
		t.Fatalf("Import: %v", err)
	}
	art := batch[2].Artifacts
	wantDetail := sqlite.TaskDetail{
		Task:       want["hub"],
		Subtasks:   []sqlite.Task{want["kid_a"], want["kid_c"], want["kid_b"]},
		Dependents: []sqlite.Task{want["kid_b"], want["user_2"], want["user_1"]},
		Artifacts:  []sqlite.ArtifactRecord{art[1], art[2], art[0]},
	}
	got := mustGet(t, s, "hub")
	if !reflect.DeepEqual(got, wantDetail) {
		t.Errorf("Get(hub) =\n%+v\nwant\n%+v", got, wantDetail)
	}

	// A task with no relations has empty, not nil, lists.
	got = mustGet(t, s, "dep\x1fone")
	wantDetail = sqlite.TaskDetail{Task: want["dep\x1fone"], Subtasks: []sqlite.Task{},
		Dependents: []sqlite.Task{want["hub"], want["user_1"]}, Artifacts: []sqlite.ArtifactRecord{}}
	if !reflect.DeepEqual(got, wantDetail) {
		t.Errorf("Get(dep\\x1fone) =\n%+v\nwant\n%+v", got, wantDetail)
	}

	// List reads the same labels and dependencies.
	list, _, err := s.List(ctx, sqlite.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var wantList []sqlite.Task
	for _, id := range []string{"dep\x1fone", "dep,two", "hub", "kid_a", "kid_c", "kid_b", "user_2", "user_1"} {
		wantList = append(wantList, want[id])
	}
	if !reflect.DeepEqual(list, wantList) {
		t.Errorf("List =\n%+v\nwant\n%+v", list, wantList)
	}

	_, err = s.Get(ctx, "tsk_missing")
	if e := wantKind(t, err, sqlite.KindNotFound); e.Field != "id" {
		t.Errorf("Get of a missing task: field %q, want id", e.Field)
	}
}

// The single-statement reads run without BEGIN … COMMIT: each must still end
// its implicit read transaction, or the reader would keep its old snapshot
// and miss later writes. With one reader connection, every read below runs on
// the connection the reads before it used.
func TestSingleStatementReadsSeeTheNextWrite(t *testing.T) {
	opts := options(filepath.Join(t.TempDir(), "tasks.db"))
	opts.Settings.MinConnections, opts.Settings.MaxConnections, opts.Settings.MaxOverflow = 1, 1, 0
	s, err := sqlite.Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	ctx := context.Background()
	a := mustCreate(t, s, sqlite.NewTask{Title: "first", Labels: []string{"l"}})
	mustCreate(t, s, sqlite.NewTask{Title: "second", Labels: []string{"l"}})
	for round := range 3 {
		mark, err := s.ChangeMark(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "tsk_missing"); !sqlite.IsKind(err, sqlite.KindNotFound) {
			t.Fatalf("Get of a missing task: %v", err)
		}
		page, _, err := s.List(ctx, sqlite.Filter{Label: "l", Limit: 1}) // stops before the last row
		if err != nil || len(page) != 1 {
			t.Fatalf("List: %v, %d tasks", err, len(page))
		}
		title := fmt.Sprintf("renamed %d", round)
		if _, err := s.Update(ctx, a.ID, 0, sqlite.Patch{Title: &title}); err != nil {
			t.Fatal(err)
		}
		if d := mustGet(t, s, a.ID); d.Task.Title != title {
			t.Errorf("round %d: Get after Update: title %q, want %q", round, d.Task.Title, title)
		}
		if page, _, err := s.List(ctx, sqlite.Filter{Label: "l", Limit: 1}); err != nil || page[0].Title != title {
			t.Errorf("round %d: List after Update: %v %+v, want title %q", round, err, page, title)
		}
		if next, err := s.ChangeMark(ctx); err != nil || next <= mark {
			t.Errorf("round %d: ChangeMark after Update: %d (%v), want above %d", round, next, err, mark)
		}
	}
}
