package integration

import (
	"database/sql"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
)

// SIGKILL in the middle of a burst of task_create: after a restart every call
// that had returned success is there, and the database passes integrity_check.
func TestCrashDuringWritesLosesNoAcknowledgedTask(t *testing.T) {
	project := newProject(t)
	p := start(t, procOpts{dir: project})
	ctx := ctxT(t)
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "warm-up"}, nil)

	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
		stop  = make(chan struct{})
	)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				req := mcp.CallToolRequest{}
				req.Params.Name = "task_create"
				req.Params.Arguments = map[string]any{"workspace": project, "title": fmt.Sprintf("w%d-%d", w, i),
					"description": "written during the crash test", "labels": []string{"crash"}}
				res, err := p.c.CallTool(ctx, req)
				if err != nil || res.IsError {
					return // the server is gone: this call was not acknowledged
				}
				var out taskOut
				decode(t, res, &out)
				mu.Lock()
				acked = append(acked, out.Task.ID)
				mu.Unlock()
			}
		}()
	}
	// Kill once a good number of writes have been acknowledged, while more are in flight.
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 300 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	p.close()
	mu.Lock()
	ids := append([]string(nil), acked...)
	mu.Unlock()
	if len(ids) < 50 {
		t.Fatalf("only %d writes were acknowledged before the kill; the test needs a burst", len(ids))
	}
	t.Logf("%d task_create calls acknowledged before SIGKILL", len(ids))

	// Integrity first, on the file exactly as the crash left it (with its WAL).
	db, err := sql.Open("sqlite", "file:"+tasksDB(project))
	if err != nil {
		t.Fatal(err)
	}
	var integrity string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&integrity); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if integrity != "ok" {
		t.Fatalf("integrity_check = %q", integrity)
	}

	p2 := start(t, procOpts{dir: project})
	for _, id := range ids {
		var got struct {
			Task task `json:"task"`
		}
		res := p2.call(ctx, "task_get", map[string]any{"workspace": project, "id": id})
		if res.IsError {
			t.Fatalf("acknowledged task %s is missing after the crash: %s", id, text(res))
		}
		decode(t, res, &got)
		if got.Task.ID != id {
			t.Fatalf("task_get(%s) returned %s", id, got.Task.ID)
		}
	}
}
