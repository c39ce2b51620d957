package mirror_test

import (
	"context"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/mirror"
)

// A syncer remembers which documents it wrote without a role, so that an
// update of such a task needs no read of the mirror; once its lease has
// lapsed another syncer may have given the document a role, and it forgets:
// the role is still taken away when the task loses it.
func TestRoleIsTakenAwayAfterAnotherSyncerWroteIt(t *testing.T) {
	ctx := context.Background()
	ts, vs, _ := project(t)
	targets := []mirror.Target{mirror.VectorTarget{Borrow: lend(vs)}}
	const ttl = 300 * time.Millisecond
	// first only delivers when woken; its lease lapses while it waits.
	first := mirror.Start(mirror.Config{Store: ts, Logger: quiet, Targets: targets, LeaseTTL: ttl, Poll: time.Hour})
	defer first.Stop(ctx)
	x, err := ts.Create(ctx, sqlite.NewTask{Title: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Update(ctx, x.ID, 0, sqlite.Patch{Title: ptr("x, renamed")}); err != nil {
		t.Fatal(err)
	}
	first.Wake()
	vectorDrained(t, first)
	if doc, ok := vectorDoc(t, vs, x.ID); !ok || doc.Metadata[mirror.MetaRole] != nil {
		t.Fatalf("first delivery: %+v, %v; want the document without a role", doc, ok)
	}

	// Another syncer takes the lapsed lease over and gives the document a role.
	if _, err := ts.Update(ctx, x.ID, 0, sqlite.Patch{Role: ptr("dev")}); err != nil {
		t.Fatal(err)
	}
	second := mirror.Start(mirror.Config{Store: ts, Logger: quiet, Targets: targets, LeaseTTL: ttl, Poll: 20 * time.Millisecond})
	waitFor(t, "the second syncer to write the role", func() bool {
		doc, _ := vectorDoc(t, vs, x.ID)
		return doc.Metadata[mirror.MetaRole] == "dev"
	})
	if err := second.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	// The first one delivers again: the task lost its role, so must the document.
	if _, err := ts.Update(ctx, x.ID, 0, sqlite.Patch{Role: ptr("")}); err != nil {
		t.Fatal(err)
	}
	first.Wake()
	vectorDrained(t, first)
	doc, ok := vectorDoc(t, vs, x.ID)
	if !ok || doc.Metadata[mirror.MetaRole] != nil || doc.Metadata[mirror.MetaVersion] != float64(4) && doc.Metadata[mirror.MetaVersion] != int64(4) {
		t.Fatalf("after the role was cleared: %+v, %v; want version 4 without a role", doc, ok)
	}
}
