package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// A person may release or cancel a task an agent holds under a live lease;
// both are recorded under the person's name, and RecentHistory lists the
// project's events newest first with each task's title.
func TestOverrideAndRecentHistory(t *testing.T) {
	ctx := context.Background()
	s := openClocked(t, filepath.Join(t.TempDir(), "tasks.db"), newClock())
	a, err := s.Create(ctx, sqlite.NewTask{Title: "first", Actor: "lead"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Create(ctx, sqlite.NewTask{Title: "second", Actor: "lead"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(ctx, work.ClaimRequest{Agent: "bot", Lease: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Release(ctx, a.ID, "human:board", ""); err == nil {
		t.Fatal("a non-holder's Release succeeded under a live lease")
	}
	got, err := s.OverrideRelease(ctx, a.ID, "human:board", "stuck")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != work.Pending || got.Assignee != nil || got.LeaseExpiresAt != nil {
		t.Fatalf("released task = %+v", got)
	}
	if _, err := s.OverrideRelease(ctx, a.ID, "human:board", ""); err == nil {
		t.Fatal("releasing a pending task succeeded")
	}
	if got, err = s.OverrideCancel(ctx, b.ID, "human:board", "not needed"); err != nil || got.Status != work.Cancelled {
		t.Fatalf("OverrideCancel = %+v, %v", got, err)
	}
	var e *sqlite.Error
	if _, err := s.OverrideCancel(ctx, b.ID, "human:board", ""); !errors.As(err, &e) || e.Kind != sqlite.KindTransition {
		t.Fatalf("cancelling a cancelled task: %v", err)
	}
	if _, err := s.OverrideCancel(ctx, b.ID, "", ""); err == nil {
		t.Fatal("an override without an actor succeeded")
	}

	hist, err := s.RecentHistory(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ id, title, actor, event string }{
		{b.ID, "second", "human:board", work.EventStatus},
		{a.ID, "first", "human:board", work.EventReleased},
		{a.ID, "first", "bot", work.EventClaimed},
	}
	if len(hist) != len(want) {
		t.Fatalf("RecentHistory(3) = %d events", len(hist))
	}
	for i, w := range want {
		h := hist[i]
		if h.TaskID != w.id || h.Title != w.title || h.Actor != w.actor || h.Event != w.event {
			t.Errorf("event %d = %s %q %s %s, want %s %q %s %s", i, h.TaskID, h.Title, h.Actor, h.Event, w.id, w.title, w.actor, w.event)
		}
	}
	if hist[0].Note != "not needed" || hist[1].Note != "stuck" {
		t.Errorf("notes = %q, %q", hist[0].Note, hist[1].Note)
	}
	if _, err := s.RecentHistory(ctx, 0); err == nil {
		t.Fatal("RecentHistory(0) succeeded")
	}
}
