package storetest

import (
	"fmt"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/clienterr"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
)

// RunList checks List: its filters, full-text search and paging.
func RunList(t *testing.T, open func(t *testing.T) work.Store) {
	runAll(t, open, []test{
		{"FiltersSelectExactly", listFilters},
		{"TextSearchFindsWordsOfTitleAndDescription", listText},
		{"PagesCoverEveryTaskOnceOldestFirst", listPaging},
	})
}

// list runs List and fails the test on an error.
func (e *env) list(f work.Filter) ([]work.Task, string) {
	e.t.Helper()
	tasks, next, err := e.s.List(e.ctx, f)
	if err != nil {
		e.t.Fatalf("List(%+v): %v", f, err)
	}
	return tasks, next
}

func listFilters(e *env) {
	a := e.create(work.NewTask{Title: "a", Labels: []string{"x"}, Role: "coder"})
	b := e.create(work.NewTask{Title: "b", ParentID: a.ID, Labels: []string{"y", "x"}})
	c := e.create(work.NewTask{Title: "c"})
	c = e.update(c.ID, 0, work.Patch{Status: ptr("blocked"), Assignee: ptr("bob")})
	d := e.create(work.NewTask{Title: "d", DependsOn: []string{c.ID}})
	f := e.create(work.NewTask{Title: "f", Role: "coder"})
	g := e.create(work.NewTask{Title: "g"})
	e.complete(g.ID, work.Completion{Summary: "done"})

	for _, tc := range []struct {
		name string
		f    work.Filter
		want []string
	}{
		{"no filter", work.Filter{}, []string{a.ID, b.ID, c.ID, d.ID, f.ID, g.ID}},
		{"status blocked", work.Filter{Status: []string{"blocked"}}, []string{c.ID}},
		{"status pending or completed", work.Filter{Status: []string{"pending", "completed"}}, []string{a.ID, b.ID, d.ID, f.ID, g.ID}},
		{"parent a", work.Filter{ParentID: a.ID}, []string{b.ID}},
		{"label x", work.Filter{Label: "x"}, []string{a.ID, b.ID}},
		{"label y", work.Filter{Label: "y"}, []string{b.ID}},
		{"assignee bob", work.Filter{Assignee: "bob"}, []string{c.ID}},
		{"role coder", work.Filter{Role: "coder"}, []string{a.ID, f.ID}},
		// Ready: claimable, role aside. a waits for its open subtask b, d
		// for c; c is blocked and g completed.
		{"ready", work.Filter{Ready: true}, []string{b.ID, f.ID}},
		{"ready with label x", work.Filter{Ready: true, Label: "x"}, []string{b.ID}},
		{"label x, status pending, role coder", work.Filter{Label: "x", Status: []string{"pending"}, Role: "coder"}, []string{a.ID}},
		{"nothing matches", work.Filter{Label: "nope"}, nil},
	} {
		got, next := e.list(tc.f)
		e.wantIDs("List "+tc.name, ids(got), tc.want...)
		if next != "" {
			e.t.Fatalf("List %s: next cursor %q on the only page", tc.name, next)
		}
	}
	got, _ := e.list(work.Filter{ParentID: a.ID})
	e.sameTask("a listed task", got[0], e.task(b.ID))

	_, _, err := e.s.List(e.ctx, work.Filter{Status: []string{"done"}})
	e.wantErr("List with an unknown status", err, clienterr.InvalidArgument, "")
}

func listText(e *env) {
	parser := e.create(work.NewTask{Title: "Refactor the parser", Description: "handle unicode identifiers"})
	docs := e.create(work.NewTask{Title: "Write documentation", Description: "explain the cache eviction"})
	both := e.create(work.NewTask{Title: "Cache the parser output", Description: "measure first"})
	for _, tc := range []struct {
		text string
		want []string
	}{
		{"parser", []string{parser.ID, both.ID}}, // a word of two titles
		{"unicode", []string{parser.ID}},         // a word of a description
		{"eviction", []string{docs.ID}},          // another description
		{"cache", []string{docs.ID, both.ID}},    // a title's and a description's
		{"Parser", []string{parser.ID, both.ID}}, // case does not matter
		{"parser cache", []string{both.ID}},      // every word must match
		{"parser unicode", []string{parser.ID}},  // across title and description
		{"zebra", nil},                           // a word of neither
		{`"parser" OR (docs*)`, nil},             // syntax is plain text
		{"documentation -nothing", nil},          // "-nothing" is a word too
		{"identifiers", []string{parser.ID}},     // the last word of a description
		{"write", []string{docs.ID}},             // the first word of a title
	} {
		got, _ := e.list(work.Filter{Text: tc.text})
		e.wantIDs(fmt.Sprintf("List text %q", tc.text), ids(got), tc.want...)
	}
	// The search follows renames and deletes.
	e.update(parser.ID, 0, work.Patch{Title: ptr("Rewrite the lexer")})
	if _, err := e.s.Delete(e.ctx, both.ID, false); err != nil {
		e.t.Fatal(err)
	}
	for _, tc := range []struct {
		text string
		want []string
	}{
		{"parser", nil},
		{"lexer", []string{parser.ID}},
		{"unicode", []string{parser.ID}},
		{"cache", []string{docs.ID}},
	} {
		got, _ := e.list(work.Filter{Text: tc.text})
		e.wantIDs(fmt.Sprintf("List text %q after a rename and a delete", tc.text), ids(got), tc.want...)
	}
	got, _ := e.list(work.Filter{Text: "lexer", Label: "none"})
	e.wantIDs("List text with another filter", ids(got))
	_, _, err := e.s.List(e.ctx, work.Filter{Text: "!!! ..."})
	e.wantErr("List text without a word", err, clienterr.InvalidArgument, `text "!!! ..." has no words to search for; use letters or digits`)
}

func listPaging(e *env) {
	var want []string
	for i := range 7 {
		want = append(want, e.create(work.NewTask{Title: fmt.Sprintf("task %d", i)}).ID)
	}
	// Change the oldest: the order is by creation, not by last change.
	e.update(want[0], 0, work.Patch{Title: ptr("renamed")})
	for _, limit := range []int{1, 3, 7, 50} {
		var got []string
		pages := 0
		cursor := ""
		for {
			page, next := e.list(work.Filter{Limit: limit, Cursor: cursor})
			pages++
			if len(page) > limit {
				e.t.Fatalf("limit %d: a page of %d tasks", limit, len(page))
			}
			got = append(got, ids(page)...)
			if next == "" {
				break
			}
			if len(page) != limit {
				e.t.Fatalf("limit %d: a page of %d tasks with a next cursor", limit, len(page))
			}
			if pages > 10 {
				e.t.Fatalf("limit %d: more than 10 pages", limit)
			}
			cursor = next
		}
		e.wantIDs(fmt.Sprintf("every page of limit %d", limit), got, want...)
		if wantPages := (len(want) + limit - 1) / limit; pages != wantPages {
			e.t.Fatalf("limit %d: %d pages, want %d (no empty last page)", limit, pages, wantPages)
		}
	}
	// A filtered listing pages the same way.
	page, next := e.list(work.Filter{Limit: 2, Status: []string{"pending"}})
	e.wantIDs("first page of 2", ids(page), want[0], want[1])
	page, _ = e.list(work.Filter{Limit: 2, Status: []string{"pending"}, Cursor: next})
	e.wantIDs("second page of 2", ids(page), want[2], want[3])

	_, _, err := e.s.List(e.ctx, work.Filter{Limit: 201})
	e.wantErr("List with limit 201", err, clienterr.InvalidArgument,
		"limit 201 is out of range; use 1 to 200 (default 50) and page with cursor")
	_, _, err = e.s.List(e.ctx, work.Filter{Cursor: "not-a-cursor"})
	e.wantErr("List with a bad cursor", err, clienterr.InvalidArgument,
		"cursor is not one this server returned; pass next_cursor from the previous task_list call unchanged, or omit it to start over")
}
