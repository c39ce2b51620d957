package board_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
)

// BenchmarkState1000 builds api/state for a project of 1,000 tasks (chains of
// ten dependencies; a tenth of them completed), beside its floor in the same
// run: the one snapshot read of every task that the state cannot do without.
func BenchmarkState1000(b *testing.B) {
	e := newEnv(b, false)
	ctx := context.Background()
	s := e.store()
	var prev string
	for i := range 1000 {
		nt := sqlite.NewTask{Title: fmt.Sprintf("task %d", i), Labels: []string{"bench"}}
		if i%10 != 0 {
			nt.DependsOn = []string{prev}
		}
		t, err := s.Create(ctx, nt)
		if err != nil {
			b.Fatal(err)
		}
		prev = t.ID
		if i%10 == 9 {
			if _, _, err := s.Complete(ctx, t.ID, sqlite.Completion{Summary: "done"}); err != nil {
				b.Fatal(err)
			}
		}
	}
	c := e.login()
	req := httptest.NewRequest("GET", "/board/api/state", nil)
	req.AddCookie(c)
	h := e.board.Handler()
	b.Run("part=snapshot", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := s.Snapshot(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("part=state", func(b *testing.B) {
		for b.Loop() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatal(w.Code, w.Body.String())
			}
		}
	})
}
