package sqlite_test

import (
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"

	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
)

var errorsAs = errors.As

func TestCreateThenGetReturnsTheSameTask(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	parent := mustCreate(t, s, sqlite.NewTask{Title: "parent"})
	dep := mustCreate(t, s, sqlite.NewTask{Title: "dep"})
	got := mustCreate(t, s, sqlite.NewTask{
		Title: "  write the parser  ", Description: "in Go", ParentID: parent.ID,
		DependsOn: []string{dep.ID, dep.ID}, Priority: "high", Labels: []string{"b", "a", "b"},
		Role: "coder", Metadata: json.RawMessage(` { "k" : [1, 2] } `),
	})
	if !regexp.MustCompile(`^tsk_[0-9a-f]{16}$`).MatchString(got.ID) {
		t.Errorf("id %q is not tsk_ + 16 hex", got.ID)
	}
	if got.Title != "write the parser" || got.Status != "pending" || got.Priority != "high" || got.Version != 1 {
		t.Errorf("created task = %+v", got)
	}
	if !reflect.DeepEqual(got.Labels, []string{"a", "b"}) || !reflect.DeepEqual(got.DependsOn, []string{dep.ID}) {
		t.Errorf("labels %v, depends_on %v: want sorted and deduplicated", got.Labels, got.DependsOn)
	}
	if string(got.Metadata) != `{"k":[1,2]}` {
		t.Errorf("metadata = %s", got.Metadata)
	}
	d := mustGet(t, s, got.ID)
	if !reflect.DeepEqual(d.Task, got) {
		t.Errorf("Get = %+v\nwant %+v", d.Task, got)
	}
	if d.Subtasks == nil || d.Dependents == nil || d.Artifacts == nil {
		t.Errorf("detail slices must be non-nil: %+v", d)
	}
	pd := mustGet(t, s, parent.ID)
	if len(pd.Subtasks) != 1 || pd.Subtasks[0].ID != got.ID {
		t.Errorf("parent's subtasks = %+v", pd.Subtasks)
	}
	dd := mustGet(t, s, dep.ID)
	if len(dd.Dependents) != 1 || dd.Dependents[0].ID != got.ID {
		t.Errorf("dep's dependents = %+v", dd.Dependents)
	}

	plain := mustCreate(t, s, sqlite.NewTask{Title: "plain"})
	b, err := json.Marshal(plain)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"labels":[]`, `"depends_on":[]`, `"metadata":{}`, `"priority":"medium"`, `"role":null`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON %s lacks %s", b, want)
		}
	}
	if ok, err := s.Exists(ctx, plain.ID); err != nil || !ok {
		t.Errorf("Exists(%s) = %v, %v", plain.ID, ok, err)
	}
	if ok, err := s.Exists(ctx, "tsk_nope"); err != nil || ok {
		t.Errorf("Exists(tsk_nope) = %v, %v", ok, err)
	}
}

func TestGetUnknownIDIsNotFound(t *testing.T) {
	s := openStore(t)
	_, err := s.Get(context.Background(), "tsk_x")
	e := wantKind(t, err, sqlite.KindNotFound)
	if !strings.Contains(e.Msg, "tsk_x") || !strings.Contains(e.Msg, "task_list") {
		t.Errorf("message %q should name the id and point to task_list", e.Msg)
	}
}

func TestInvalidInputIsRefusedAndChangesNothing(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	a := mustCreate(t, s, sqlite.NewTask{Title: "a", Labels: []string{"x"}})
	b := mustCreate(t, s, sqlite.NewTask{Title: "b", ParentID: a.ID})
	labels33 := make([]string, 33)
	for i := range labels33 {
		labels33[i] = "l" + strings.Repeat("x", i+1)
	}
	deps101 := make([]string, 101)
	for i := range deps101 {
		deps101[i] = "tsk_" + strings.Repeat("0", i+1)
	}
	tooBig := json.RawMessage(`{"k":"` + strings.Repeat("x", 64<<10) + `"}`)
	cases := []struct {
		name  string
		kind  sqlite.Kind
		field string
		call  func() error
	}{
		{"empty title", sqlite.KindInvalid, "title", func() error { _, err := s.Create(ctx, sqlite.NewTask{Title: "   "}); return err }},
		{"long title", sqlite.KindInvalid, "title", func() error {
			_, err := s.Create(ctx, sqlite.NewTask{Title: strings.Repeat("é", 501)})
			return err
		}},
		{"long description", sqlite.KindInvalid, "description", func() error {
			_, err := s.Create(ctx, sqlite.NewTask{Title: "t", Description: strings.Repeat("d", 20001)})
			return err
		}},
		{"bad priority", sqlite.KindInvalid, "priority", func() error { _, err := s.Create(ctx, sqlite.NewTask{Title: "t", Priority: "urgent"}); return err }},
		{"bad label", sqlite.KindInvalid, "labels", func() error {
			_, err := s.Create(ctx, sqlite.NewTask{Title: "t", Labels: []string{"has space"}})
			return err
		}},
		{"empty label", sqlite.KindInvalid, "labels", func() error { _, err := s.Create(ctx, sqlite.NewTask{Title: "t", Labels: []string{""}}); return err }},
		{"long label", sqlite.KindInvalid, "labels", func() error {
			_, err := s.Create(ctx, sqlite.NewTask{Title: "t", Labels: []string{strings.Repeat("l", 65)}})
			return err
		}},
		{"33 labels", sqlite.KindInvalid, "labels", func() error { _, err := s.Create(ctx, sqlite.NewTask{Title: "t", Labels: labels33}); return err }},
		{"long role", sqlite.KindInvalid, "role", func() error {
			_, err := s.Create(ctx, sqlite.NewTask{Title: "t", Role: strings.Repeat("r", 101)})
			return err
		}},
		{"unprintable role", sqlite.KindInvalid, "role", func() error { _, err := s.Create(ctx, sqlite.NewTask{Title: "t", Role: "a\x07b"}); return err }},
		{"metadata array", sqlite.KindInvalid, "metadata", func() error {
			_, err := s.Create(ctx, sqlite.NewTask{Title: "t", Metadata: json.RawMessage(`[1]`)})
			return err
		}},
		{"metadata broken", sqlite.KindInvalid, "metadata", func() error {
			_, err := s.Create(ctx, sqlite.NewTask{Title: "t", Metadata: json.RawMessage(`{"a":`)})
			return err
		}},
		{"metadata too big", sqlite.KindInvalid, "metadata", func() error { _, err := s.Create(ctx, sqlite.NewTask{Title: "t", Metadata: tooBig}); return err }},
		{"unknown parent", sqlite.KindNotFound, "parent_id", func() error { _, err := s.Create(ctx, sqlite.NewTask{Title: "t", ParentID: "tsk_nope"}); return err }},
		{"unknown dependency", sqlite.KindNotFound, "depends_on", func() error {
			_, err := s.Create(ctx, sqlite.NewTask{Title: "t", DependsOn: []string{a.ID, "tsk_nope"}})
			return err
		}},
		{"101 dependencies", sqlite.KindInvalid, "depends_on", func() error { _, err := s.Create(ctx, sqlite.NewTask{Title: "t", DependsOn: deps101}); return err }},
		{"update unknown id", sqlite.KindNotFound, "id", func() error { _, err := s.Update(ctx, "tsk_nope", 0, sqlite.Patch{Title: ptr("x")}); return err }},
		{"update empty id", sqlite.KindInvalid, "id", func() error { _, err := s.Update(ctx, "", 0, sqlite.Patch{}); return err }},
		{"update bad status", sqlite.KindInvalid, "status", func() error { _, err := s.Update(ctx, a.ID, 0, sqlite.Patch{Status: ptr("done")}); return err }},
		{"update empty title", sqlite.KindInvalid, "title", func() error { _, err := s.Update(ctx, a.ID, 0, sqlite.Patch{Title: ptr("")}); return err }},
		{"update bad labels", sqlite.KindInvalid, "labels", func() error {
			_, err := s.Update(ctx, a.ID, 0, sqlite.Patch{Labels: &[]string{"ok", "n/o"}})
			return err
		}},
		{"update self parent", sqlite.KindInvalid, "parent_id", func() error { _, err := s.Update(ctx, a.ID, 0, sqlite.Patch{ParentID: &a.ID}); return err }},
		{"update unknown parent", sqlite.KindNotFound, "parent_id", func() error { _, err := s.Update(ctx, a.ID, 0, sqlite.Patch{ParentID: ptr("tsk_nope")}); return err }},
		{"update parent cycle", sqlite.KindCycle, "parent_id", func() error { _, err := s.Update(ctx, a.ID, 0, sqlite.Patch{ParentID: &b.ID}); return err }},
		{"update negative version", sqlite.KindInvalid, "version", func() error { _, err := s.Update(ctx, a.ID, -1, sqlite.Patch{Title: ptr("x")}); return err }},
		{"update metadata string", sqlite.KindInvalid, "metadata", func() error {
			_, err := s.Update(ctx, a.ID, 0, sqlite.Patch{Metadata: json.RawMessage(`"x"`)})
			return err
		}},
		{"self dependency", sqlite.KindInvalid, "depends_on", func() error { _, err := s.AddDependency(ctx, a.ID, a.ID); return err }},
		{"dependency unknown target", sqlite.KindNotFound, "depends_on", func() error { _, err := s.AddDependency(ctx, a.ID, "tsk_nope"); return err }},
		{"dependency unknown task", sqlite.KindNotFound, "id", func() error { _, err := s.AddDependency(ctx, "tsk_nope", a.ID); return err }},
		{"remove missing edge", sqlite.KindNotFound, "depends_on", func() error { _, err := s.RemoveDependency(ctx, a.ID, b.ID); return err }},
		{"claim without agent", sqlite.KindInvalid, "agent", func() error { _, err := s.Claim(ctx, work.ClaimRequest{Agent: " ", Role: "", Labels: nil}); return err }},
		{"claim long agent", sqlite.KindInvalid, "agent", func() error { _, err := s.Claim(ctx, work.ClaimRequest{Agent: strings.Repeat("a", 101)}); return err }},
		{"claim bad label", sqlite.KindInvalid, "labels", func() error {
			_, err := s.Claim(ctx, work.ClaimRequest{Agent: "ag", Role: "", Labels: []string{"*"}})
			return err
		}},
		{"complete bad outcome", sqlite.KindInvalid, "outcome", func() error { _, _, err := s.Complete(ctx, a.ID, sqlite.Completion{Outcome: "done"}); return err }},
		{"complete bad artifact", sqlite.KindInvalid, "artifact.sha256", func() error {
			_, _, err := s.Complete(ctx, a.ID, sqlite.Completion{Artifact: &sqlite.ArtifactRecord{Name: "r.md", Path: "p", SHA256: "xyz"}})
			return err
		}},
		{"complete unknown", sqlite.KindNotFound, "id", func() error { _, _, err := s.Complete(ctx, "tsk_nope", sqlite.Completion{}); return err }},
		{"delete unknown", sqlite.KindNotFound, "id", func() error { _, err := s.Delete(ctx, "tsk_nope", true); return err }},
		{"delete with subtasks", sqlite.KindInvalid, "cascade", func() error { _, err := s.Delete(ctx, a.ID, false); return err }},
		{"list bad status", sqlite.KindInvalid, "status", func() error { _, _, err := s.List(ctx, sqlite.Filter{Status: []string{"open"}}); return err }},
		{"list limit 201", sqlite.KindInvalid, "limit", func() error { _, _, err := s.List(ctx, sqlite.Filter{Limit: 201}); return err }},
		{"list limit -1", sqlite.KindInvalid, "limit", func() error { _, _, err := s.List(ctx, sqlite.Filter{Limit: -1}); return err }},
		{"list bad cursor", sqlite.KindInvalid, "cursor", func() error { _, _, err := s.List(ctx, sqlite.Filter{Cursor: "!!not-base64"}); return err }},
		{"list forged cursor", sqlite.KindInvalid, "cursor", func() error { _, _, err := s.List(ctx, sqlite.Filter{Cursor: "eyJjIjoieCJ9"}); return err }},
		{"list empty text", sqlite.KindInvalid, "text", func() error { _, _, err := s.List(ctx, sqlite.Filter{Text: `" * -- ()`}); return err }},
		{"list bad label", sqlite.KindInvalid, "label", func() error { _, _, err := s.List(ctx, sqlite.Filter{Label: "a b"}); return err }},
	}
	before := dump(t, s)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := wantKind(t, tc.call(), tc.kind)
			if e.Field != tc.field {
				t.Errorf("Field = %q, want %q (msg %q)", e.Field, tc.field, e.Msg)
			}
			if after := dump(t, s); after != before {
				t.Errorf("database changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

func TestStatusTransitions(t *testing.T) {
	all := []string{"pending", "in_progress", "blocked", "completed", "failed", "cancelled"}
	allowed := map[string][]string{
		"pending":     {"in_progress", "blocked", "cancelled", "completed", "failed"},
		"in_progress": {"pending", "blocked", "completed", "failed", "cancelled"},
		"blocked":     {"pending", "in_progress", "cancelled"},
		"failed":      {"pending", "cancelled"},
	}
	// pathTo lists the updates that bring a new task to a status.
	pathTo := map[string][]string{
		"pending": nil, "in_progress": {"in_progress"}, "blocked": {"blocked"},
		"completed": {"completed"}, "failed": {"failed"}, "cancelled": {"cancelled"},
	}
	s := openStore(t)
	ctx := context.Background()
	for _, from := range all {
		for _, to := range all {
			if from == to {
				continue
			}
			t.Run(from+"→"+to, func(t *testing.T) {
				task := mustCreate(t, s, sqlite.NewTask{Title: from + " to " + to})
				for _, st := range pathTo[from] {
					var err error
					if task, err = s.Update(ctx, task.ID, 0, sqlite.Patch{Status: ptr(st)}); err != nil {
						t.Fatalf("setting up %s: %v", from, err)
					}
				}
				got, err := s.Update(ctx, task.ID, task.Version, sqlite.Patch{Status: ptr(to), Assignee: nil})
				ok := false
				for _, a := range allowed[from] {
					ok = ok || a == to
				}
				if !ok {
					e := wantKind(t, err, sqlite.KindTransition)
					if len(allowed[from]) > 0 && !strings.Contains(e.Msg, strings.Join(allowed[from], ", ")) {
						t.Errorf("message %q should list the allowed next statuses", e.Msg)
					}
					if d := mustGet(t, s, task.ID); string(d.Task.Status) != from || d.Task.Version != task.Version {
						t.Errorf("refused transition changed the task: %+v", d.Task)
					}
					return
				}
				if err != nil {
					t.Fatalf("Update %s→%s: %v", from, to, err)
				}
				if string(got.Status) != to || got.Version != task.Version+1 {
					t.Errorf("status %s version %d, want %s %d", got.Status, got.Version, to, task.Version+1)
				}
				switch to {
				case "in_progress":
					if got.StartedAt == nil {
						t.Error("in_progress without started_at")
					}
				case "completed", "failed":
					if got.CompletedAt == nil {
						t.Error("finished without completed_at")
					}
				case "pending":
					if got.Assignee != nil || got.StartedAt != nil || got.CompletedAt != nil {
						t.Errorf("back to pending must clear assignee, started_at, completed_at: %+v", got)
					}
				}
			})
		}
	}
}

func TestUpdateWithStaleVersionIsAConflict(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	task := mustCreate(t, s, sqlite.NewTask{Title: "v"})
	v2, err := s.Update(ctx, task.ID, 1, sqlite.Patch{Title: ptr("v2"), Labels: &[]string{"z", "y"}, Role: ptr("r")})
	if err != nil {
		t.Fatal(err)
	}
	if v2.Version != 2 || v2.Title != "v2" || !reflect.DeepEqual(v2.Labels, []string{"y", "z"}) || *v2.Role != "r" {
		t.Fatalf("after update: %+v", v2)
	}
	if !v2.UpdatedAt.After(task.UpdatedAt) {
		t.Errorf("updated_at %v did not move past %v", v2.UpdatedAt, task.UpdatedAt)
	}
	before := dump(t, s)
	_, err = s.Update(ctx, task.ID, 1, sqlite.Patch{Title: ptr("stale")})
	e := wantKind(t, err, sqlite.KindConflict)
	if !strings.Contains(e.Msg, "version 2") {
		t.Errorf("message %q should give the current version", e.Msg)
	}
	if dump(t, s) != before {
		t.Error("a conflicting update changed the database")
	}
	// version 0 skips the check; "" clears role.
	v3, err := s.Update(ctx, task.ID, 0, sqlite.Patch{Role: ptr(""), Metadata: json.RawMessage(`{"a":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	if v3.Version != 3 || v3.Role != nil || string(v3.Metadata) != `{"a":1}` {
		t.Errorf("after unchecked update: %+v", v3)
	}
	// A patch that changes nothing is not a new version.
	same, err := s.Update(ctx, task.ID, 3, sqlite.Patch{Title: ptr("v2")})
	if err != nil || same.Version != 3 {
		t.Errorf("no-op update = version %d, %v; want 3, nil", same.Version, err)
	}
}

func TestReopenDoesNotReapplyMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tasks.db")
	ctx := context.Background()
	s, err := sqlite.Open(ctx, options(path))
	if err != nil {
		t.Fatal(err)
	}
	task := mustCreate(t, s, sqlite.NewTask{Title: "survives", Labels: []string{"keep"}})
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for range 2 {
		s2 := openAt(t, path)
		v, err := s2.SchemaVersionOf(ctx)
		if err != nil || v != sqlite.Migrations {
			t.Fatalf("user_version = %d, %v; want %d", v, err, sqlite.Migrations)
		}
		if d := mustGet(t, s2, task.ID); d.Task.Title != "survives" || d.Task.Labels[0] != "keep" {
			t.Fatalf("after reopen: %+v", d.Task)
		}
		if err := s2.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenRefusesANewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tasks.db")
	s := openAt(t, path)
	_ = s.Close(context.Background())
	if err := sqlite.SetUserVersion(path, sqlite.Migrations+1); err != nil {
		t.Fatal(err)
	}
	_, err := sqlite.Open(context.Background(), options(path))
	if err == nil || !strings.Contains(err.Error(), "upgrade the server") {
		t.Fatalf("Open of a newer schema = %v, want a refusal that says to upgrade", err)
	}
}

func TestWALExistsWhileOpenAndIsCheckpointedAtClose(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a dir with spaces?#%")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "tasks.db")
	ctx := context.Background()
	s, err := sqlite.Open(ctx, options(path))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		mustCreate(t, s, sqlite.NewTask{Title: "wal " + string(rune('a'+i))})
	}
	fi, err := os.Stat(path + "-wal")
	if err != nil || fi.Size() == 0 {
		t.Fatalf("while open, %s-wal should hold the writes: %v", path, err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "a dir with spaces")); err == nil {
		t.Fatal("the path was cut at '?': the URI escaping is wrong")
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() != 0 {
		t.Fatalf("after Close the WAL still holds %d bytes", fi.Size())
	}
	s2 := openAt(t, path)
	if list, _, err := s2.List(ctx, sqlite.Filter{}); err != nil || len(list) != 20 {
		t.Fatalf("after reopen: %d tasks, %v", len(list), err)
	}
}

func TestResetOnReturnRollsBackATransactionLeftOpen(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	if err := s.LeaveWriteTxOpen(ctx, "tsk_leftover"); err != nil {
		t.Fatal(err)
	}
	// The next write must not find itself inside the abandoned transaction.
	task := mustCreate(t, s, sqlite.NewTask{Title: "after"})
	if ok, err := s.Exists(ctx, "tsk_leftover"); err != nil || ok {
		t.Fatalf("the abandoned insert is visible (exists=%v, err=%v): it was committed, not rolled back", ok, err)
	}
	if ok, err := s.Exists(ctx, task.ID); err != nil || !ok {
		t.Fatalf("the write after it was lost: %v %v", ok, err)
	}
}

func TestPoolMetricsNameBothPools(t *testing.T) {
	s := openStore(t)
	mustCreate(t, s, sqlite.NewTask{Title: "m"})
	m := s.PoolMetrics()
	if len(m) != 2 || m[0].Name != "sqlite.writer" || m[1].Name != "sqlite.readers" {
		t.Fatalf("metrics = %+v", m)
	}
	if m[0].Backend != "operational" || m[0].Max != 1 || m[0].Total != 1 {
		t.Errorf("writer metrics = %+v; want one operational connection", m[0])
	}
	writes := m[0].Acquires
	if _, _, err := s.List(context.Background(), sqlite.Filter{}); err != nil {
		t.Fatal(err)
	}
	after := s.PoolMetrics()
	if after[0].Acquires != writes || after[1].Acquires == 0 {
		t.Errorf("a read went through the writer: writer %d→%d acquires, readers %d", writes, after[0].Acquires, after[1].Acquires)
	}
}

func TestCallsAfterCloseAreUnavailable(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := s.Create(ctx, sqlite.NewTask{Title: "late"})
	wantKind(t, err, sqlite.KindBusy)
	_, _, err = s.List(ctx, sqlite.Filter{})
	wantKind(t, err, sqlite.KindBusy)
}

func TestWriterTimeoutIsBusyAndNamesTheSetting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tasks.db")
	opts := options(path)
	opts.Settings.PoolTimeout = 0.05
	s, err := sqlite.Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	release, err := s.HoldWriter(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Create(context.Background(), sqlite.NewTask{Title: "queued too long"})
	release()
	e := wantKind(t, err, sqlite.KindBusy)
	if !strings.Contains(e.Msg, "pool_timeout") || e.Err == nil {
		t.Errorf("message %q should say to raise pool_timeout and keep the cause (%v)", e.Msg, e.Err)
	}
	// Reads do not wait for the writer.
	if _, _, err := s.List(context.Background(), sqlite.Filter{}); err != nil {
		t.Errorf("List while the writer was held: %v", err)
	}
}

func TestBrokenWriterIsReplaced(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	if err := s.BreakWriter(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, sqlite.NewTask{Title: "on a dead connection"}); err == nil {
		t.Fatal("Create on a closed connection succeeded")
	}
	task := mustCreate(t, s, sqlite.NewTask{Title: "on a new connection"})
	if d := mustGet(t, s, task.ID); d.Task.Title != task.Title {
		t.Fatalf("after replacement: %+v", d.Task)
	}
	if m := s.PoolMetrics()[0]; m.Total != 1 {
		t.Errorf("writer pool has %d connections, want 1", m.Total)
	}
}

func TestPanicInAWriteRollsBackAndFreesTheWriter(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the panic did not propagate")
			}
		}()
		s.PanicInWrite(ctx, "tsk_panicked")
	}()
	mustCreate(t, s, sqlite.NewTask{Title: "after the panic"})
	if ok, err := s.Exists(ctx, "tsk_panicked"); err != nil || ok {
		t.Fatalf("the panicking write was committed (exists=%v, err=%v)", ok, err)
	}
}
