package sqlite_test

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
)

func TestAddDependencyRefusesACycle(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	a := mustCreate(t, s, sqlite.NewTask{Title: "a"})
	b := mustCreate(t, s, sqlite.NewTask{Title: "b"})
	c := mustCreate(t, s, sqlite.NewTask{Title: "c"})
	if _, err := s.AddDependency(ctx, a.ID, b.ID); err != nil {
		t.Fatal(err)
	}
	got, err := s.AddDependency(ctx, b.ID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.DependsOn, []string{c.ID}) || got.Version != 2 {
		t.Errorf("b after adding c = %+v", got)
	}
	before := dump(t, s)
	_, err = s.AddDependency(ctx, c.ID, a.ID)
	e := wantKind(t, err, sqlite.KindCycle)
	path := strings.Join([]string{c.ID, a.ID, b.ID, c.ID}, " → ")
	if !strings.Contains(e.Msg, path) {
		t.Errorf("message %q should show the cycle %s", e.Msg, path)
	}
	if dump(t, s) != before {
		t.Error("a refused cycle changed the database")
	}
	// A duplicate edge is a no-op: no new version.
	again, err := s.AddDependency(ctx, a.ID, b.ID)
	if err != nil || again.Version != 2 {
		t.Errorf("duplicate AddDependency = version %d, %v; want 2, nil", again.Version, err)
	}
}

func TestDependencyOnUnfinishedTaskMakesItNotReady(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	a := mustCreate(t, s, sqlite.NewTask{Title: "a"})
	b := mustCreate(t, s, sqlite.NewTask{Title: "b"})
	ready := func() []string {
		list, _, err := s.List(ctx, sqlite.Filter{Ready: true})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, task := range list {
			ids = append(ids, task.ID)
		}
		return ids
	}
	if got := ready(); len(got) != 2 {
		t.Fatalf("ready = %v, want both", got)
	}
	if _, err := s.AddDependency(ctx, b.ID, a.ID); err != nil {
		t.Fatal(err)
	}
	if got := ready(); !reflect.DeepEqual(got, []string{a.ID}) {
		t.Fatalf("ready = %v, want only %s", got, a.ID)
	}
	if d := mustGet(t, s, b.ID); d.Task.Status != "pending" {
		t.Errorf("status = %s, want pending (readiness is computed)", d.Task.Status)
	}
	got, err := s.RemoveDependency(ctx, b.ID, a.ID)
	if err != nil || len(got.DependsOn) != 0 || got.Version != 3 {
		t.Fatalf("RemoveDependency = %+v, %v", got, err)
	}
	if got := ready(); len(got) != 2 {
		t.Fatalf("ready after removal = %v", got)
	}
}

func TestDeleteRefusesSubtasksUnlessCascade(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	root := mustCreate(t, s, sqlite.NewTask{Title: "root", Labels: []string{"x"}})
	kid := mustCreate(t, s, sqlite.NewTask{Title: "kid", ParentID: root.ID})
	grandkid := mustCreate(t, s, sqlite.NewTask{Title: "grandkid", ParentID: kid.ID})
	kid2 := mustCreate(t, s, sqlite.NewTask{Title: "kid2", ParentID: root.ID})
	outside := mustCreate(t, s, sqlite.NewTask{Title: "outside", DependsOn: []string{grandkid.ID}})
	sum := strings.Repeat("a", 64)
	if _, _, err := s.Complete(ctx, kid2.ID, sqlite.Completion{Artifact: &sqlite.ArtifactRecord{Name: "a", Path: "p", SHA256: sum}}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Delete(ctx, root.ID, false)
	e := wantKind(t, err, sqlite.KindInvalid)
	if !strings.Contains(e.Msg, "has 2 subtasks") || !strings.Contains(e.Msg, "cascade=true") {
		t.Errorf("message %q", e.Msg)
	}
	leaf, err := s.Delete(ctx, grandkid.ID, false)
	if err != nil || !reflect.DeepEqual(leaf, []string{grandkid.ID}) {
		t.Fatalf("deleting a leaf = %v, %v", leaf, err)
	}
	if d := mustGet(t, s, outside.ID); len(d.Task.DependsOn) != 0 || d.Task.Version != 2 {
		t.Errorf("the dependent of a deleted task = %+v; want the edge gone and a new version", d.Task)
	}
	gone, err := s.Delete(ctx, root.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{root.ID, kid.ID, kid2.ID}
	slices.Sort(want)
	if !reflect.DeepEqual(gone, want) {
		t.Errorf("cascade deleted %v, want %v", gone, want)
	}
	d := dump(t, s)
	for _, id := range want {
		if strings.Contains(d, id) {
			t.Errorf("%s is still in the database:\n%s", id, d)
		}
	}
	if list, _, err := s.List(ctx, sqlite.Filter{}); err != nil || len(list) != 1 || list[0].ID != outside.ID {
		t.Errorf("left = %+v, %v", list, err)
	}
}
