package sqlite_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

func TestCompleteIDsMatchesTitlePrefixIgnoringCaseAndIDPrefix(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	parser := mustCreate(t, s, sqlite.NewTask{Title: "Write the parser"})
	docs := mustCreate(t, s, sqlite.NewTask{Title: "write the docs"})
	mustCreate(t, s, sqlite.NewTask{Title: "review the parser"})
	mustCreate(t, s, sqlite.NewTask{Title: "100% coverage"})

	got, err := s.CompleteIDs(ctx, "WRITE THE", 10)
	if err != nil {
		t.Fatal(err)
	}
	// Both match; the docs task was updated last, so it comes first.
	if want := []string{docs.ID, parser.ID}; !reflect.DeepEqual(got.Values, want) || got.Total != 2 || got.HasMore() {
		t.Errorf("CompleteIDs(WRITE THE) = %+v, want values %v, total 2", got, want)
	}
	got, err = s.CompleteIDs(ctx, "write the p", 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{parser.ID}; !reflect.DeepEqual(got.Values, want) {
		t.Errorf("CompleteIDs(write the p) = %v, want %v", got.Values, want)
	}
	// An id prefix (typed in capitals) completes to that id.
	got, err = s.CompleteIDs(ctx, "TSK_"+parser.ID[4:12], 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{parser.ID}; !reflect.DeepEqual(got.Values, want) {
		t.Errorf("CompleteIDs(id prefix) = %v, want %v", got.Values, want)
	}
	// LIKE's wildcards in the prefix are literal characters.
	for prefix, want := range map[string]int{"100%": 1, "1_0": 0, "%": 0, "_": 0, "nothing": 0} {
		got, err := s.CompleteIDs(ctx, prefix, 10)
		if err != nil {
			t.Fatal(err)
		}
		if got.Total != want || len(got.Values) != want {
			t.Errorf("CompleteIDs(%q) = %+v, want %d", prefix, got, want)
		}
	}
}

func TestCompleteIDsPutsOpenTasksFirstAndCountsBeyondTheLimit(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	var ids []string
	for i := range 5 {
		ids = append(ids, mustCreate(t, s, sqlite.NewTask{Title: fmt.Sprintf("step %d", i)}).ID)
	}
	// The newest task is completed: it goes after every open one.
	done := "completed"
	if _, err := s.Update(ctx, ids[4], 0, work.Patch{Status: &done}); err != nil {
		t.Fatal(err)
	}
	got, err := s.CompleteIDs(ctx, "step", 3)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{ids[3], ids[2], ids[1]}; !reflect.DeepEqual(got.Values, want) || got.Total != 5 || !got.HasMore() {
		t.Errorf("CompleteIDs(step, 3) = %+v, want %v of 5 with more", got, want)
	}
	all, err := s.CompleteIDs(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Values) != 5 || all.Total != 5 || all.Values[4] != ids[4] {
		t.Errorf("CompleteIDs(\"\") = %+v, want all 5 with the completed one last", all)
	}
}

func TestCompleteLabelsAndRolesListTheMostUsedFirst(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	mustCreate(t, s, sqlite.NewTask{Title: "a", Labels: []string{"backend", "bug"}, Role: "coder"})
	mustCreate(t, s, sqlite.NewTask{Title: "b", Labels: []string{"bug"}, Role: "coder"})
	mustCreate(t, s, sqlite.NewTask{Title: "c", Labels: []string{"frontend"}, Role: "reviewer"})
	mustCreate(t, s, sqlite.NewTask{Title: "d"})

	labels, err := s.CompleteLabels(ctx, "b", 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"bug", "backend"}; !reflect.DeepEqual(labels.Values, want) || labels.Total != 2 {
		t.Errorf("CompleteLabels(b) = %+v, want %v", labels, want)
	}
	labels, err = s.CompleteLabels(ctx, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"bug"}; !reflect.DeepEqual(labels.Values, want) || labels.Total != 3 || !labels.HasMore() {
		t.Errorf("CompleteLabels(\"\", 1) = %+v, want %v of 3", labels, want)
	}
	roles, err := s.CompleteRoles(ctx, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"coder", "reviewer"}; !reflect.DeepEqual(roles.Values, want) || roles.Total != 2 {
		t.Errorf("CompleteRoles(\"\") = %+v, want %v", roles, want)
	}
	roles, err = s.CompleteRoles(ctx, "rev", 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"reviewer"}; !reflect.DeepEqual(roles.Values, want) {
		t.Errorf("CompleteRoles(rev) = %v, want %v", roles.Values, want)
	}
}
