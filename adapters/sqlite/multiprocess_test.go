package sqlite_test

import (
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"

	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// Several *Store on one file stand for several server processes on one
// project: each has its own *sql.DB and its own single writer, so their
// writers meet only in SQLite's file locks, as separate processes' do.

// lockHolder is "another process": its own connection to the file, outside
// any Store, that takes SQLite's write lock and keeps it.
type lockHolder struct {
	db   *sql.DB
	c    *sql.Conn
	once sync.Once // release runs from a timer and from cleanup
}

func holdWriteLock(t *testing.T, path string) *lockHolder {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	h := &lockHolder{db: db, c: c}
	t.Cleanup(h.release)
	return h
}

func (h *lockHolder) release() {
	h.once.Do(func() {
		_, _ = h.c.ExecContext(context.Background(), "ROLLBACK")
		_ = h.c.Close()
		_ = h.db.Close()
	})
}

func openWith(t *testing.T, path string, busy time.Duration, poolTimeout workspace.Seconds) *sqlite.Store {
	t.Helper()
	o := options(path)
	o.BusyTimeout = busy
	if poolTimeout > 0 {
		o.Settings.PoolTimeout = poolTimeout
	}
	s, err := sqlite.Open(context.Background(), o)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// A write that finds the file locked by another process for longer than
// SQLite's busy_timeout is retried within pool_timeout, not answered with
// SQLite's "database is locked".
func TestWriteWaitsOutAnotherProcessHoldingTheLockPastBusyTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tasks.db")
	s := openWith(t, path, 50*time.Millisecond, 10)
	want := mustCreate(t, s, sqlite.NewTask{Title: "one"})

	h := holdWriteLock(t, path)
	released := make(chan struct{})
	timer := time.AfterFunc(400*time.Millisecond, func() { h.release(); close(released) }) // eight busy_timeouts
	defer func() {
		if timer.Stop() {
			close(released)
		}
		<-released
	}()
	got, err := s.Claim(context.Background(), work.ClaimRequest{Agent: "ada"})
	if err != nil {
		t.Fatalf("Claim while another process held the lock for 8 × busy_timeout: %v", err)
	}
	if got == nil || got.ID != want.ID {
		t.Fatalf("Claim = %+v, want %s", got, want.ID)
	}
}

// A lock held past pool_timeout gives a sentence naming the cause, never
// SQLite's own text; nothing was changed.
func TestWriteLockedPastPoolTimeoutSaysAnotherProcessHeldIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tasks.db")
	s := openWith(t, path, 50*time.Millisecond, 1)
	task := mustCreate(t, s, sqlite.NewTask{Title: "one"})

	holdWriteLock(t, path)
	_, err := s.Claim(context.Background(), work.ClaimRequest{Agent: "ada"})
	e := wantKind(t, err, sqlite.KindBusy)
	for _, bad := range []string{"SQLITE_BUSY", "database is locked", "(5)"} {
		if strings.Contains(e.Msg, bad) {
			t.Errorf("message shows SQLite's own text %q: %s", bad, e.Msg)
		}
	}
	if !strings.Contains(e.Msg, "stayed locked by another process for 1 s") || !strings.Contains(e.Msg, "retry") {
		t.Errorf("message = %q; want it to say the database stayed locked by another process for 1 s, and to retry", e.Msg)
	}
	if d := mustGet(t, s, task.ID); d.Task.Status != "pending" {
		t.Errorf("task is %s after a refused claim, want pending", d.Task.Status)
	}
}

// Four stores (four processes) × 8 goroutines claim 400 tasks: each task is
// claimed once, and no call fails.
func TestStoresOnOneFileClaimEveryTaskExactlyOnce(t *testing.T) {
	const stores, agents, tasks = 4, 8, 400
	path := filepath.Join(t.TempDir(), "tasks.db")
	var ss []*sqlite.Store
	for range stores {
		ss = append(ss, openWith(t, path, 0, 0))
	}
	for i := range tasks {
		mustCreate(t, ss[i%stores], sqlite.NewTask{Title: fmt.Sprintf("task %03d", i),
			Priority: []string{"low", "medium", "high", "critical"}[i%4]})
	}
	var (
		mu      sync.Mutex
		claimed = map[string]string{}
		dupes   []string
		errs    []string
		lat     []time.Duration
		wg      sync.WaitGroup
	)
	ctx := context.Background()
	begin := time.Now()
	for si, s := range ss {
		for a := range agents {
			wg.Add(1)
			agent := fmt.Sprintf("p%d-agent-%d", si, a)
			go func() {
				defer wg.Done()
				for {
					t0 := time.Now()
					got, err := s.Claim(ctx, work.ClaimRequest{Agent: agent, Role: "", Labels: nil})
					d := time.Since(t0)
					mu.Lock()
					if err != nil {
						errs = append(errs, err.Error())
						mu.Unlock()
						return
					}
					if got == nil {
						mu.Unlock()
						return
					}
					lat = append(lat, d)
					if prev, ok := claimed[got.ID]; ok {
						dupes = append(dupes, fmt.Sprintf("%s by %s and %s", got.ID, prev, agent))
					}
					claimed[got.ID] = agent
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	elapsed := time.Since(begin)
	if len(errs) > 0 {
		t.Fatalf("%d claims failed, first: %s", len(errs), errs[0])
	}
	if len(dupes) > 0 {
		t.Fatalf("claimed twice: %v", dupes)
	}
	if len(claimed) != tasks {
		t.Fatalf("%d tasks claimed, want %d", len(claimed), tasks)
	}
	all, _, err := ss[0].Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range all {
		if task.Status != "in_progress" || task.Assignee == nil || claimed[task.ID] != *task.Assignee {
			t.Errorf("task %s is %s, assigned to %v in the database, but %q was told it claimed it",
				task.ID, task.Status, task.Assignee, claimed[task.ID])
		}
	}
	if len(all) != tasks {
		t.Errorf("%d tasks in the database, want %d", len(all), tasks)
	}
	slices.Sort(lat)
	t.Logf("%d stores × %d agents, %d claims in %v (%.0f claims/s): p50 %v, p99 %v, max %v", stores, agents, len(lat),
		elapsed.Round(time.Millisecond), float64(len(lat))/elapsed.Seconds(),
		lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1])
}

// The mirror lease across processes: of four stores racing for it, exactly
// one holds it at a time; the others cannot move the cursor; once released
// it goes to exactly one of the rest.
func TestMirrorLeaseHasOneHolderAcrossStoresOnOneFile(t *testing.T) {
	const stores = 4
	path := filepath.Join(t.TempDir(), "tasks.db")
	var ss []*sqlite.Store
	for range stores {
		ss = append(ss, openWith(t, path, 0, 0))
	}
	ctx := context.Background()
	race := func(skip map[int]bool) []int {
		var (
			mu     sync.Mutex
			wg     sync.WaitGroup
			holder []int
		)
		for i, s := range ss {
			if skip[i] {
				continue
			}
			for range 4 { // each process asks several times at once
				wg.Add(1)
				go func() {
					defer wg.Done()
					got, err := s.AcquireLease(ctx, "vector", fmt.Sprintf("owner-%d", i), time.Minute, nil)
					if err != nil {
						t.Errorf("AcquireLease: %v", err)
						return
					}
					if got {
						mu.Lock()
						if !slices.Contains(holder, i) {
							holder = append(holder, i)
						}
						mu.Unlock()
					}
				}()
			}
		}
		wg.Wait()
		return holder
	}
	first := race(nil)
	if len(first) != 1 {
		t.Fatalf("lease holders after the race: %v, want exactly one", first)
	}
	h := first[0]
	for i, s := range ss {
		err := s.AdvanceCursorLeased(ctx, "vector", fmt.Sprintf("owner-%d", i), time.Minute, 1)
		if (i == h) != (err == nil) {
			t.Errorf("store %d (holder %d) advancing the cursor: %v", i, h, err)
		}
		if i != h && !errors.Is(err, sqlite.ErrLeaseLost) {
			t.Errorf("store %d, not the holder, advancing the cursor: %v, want ErrLeaseLost", i, err)
		}
	}
	if err := ss[h].ReleaseLease(ctx, "vector", fmt.Sprintf("owner-%d", h)); err != nil {
		t.Fatal(err)
	}
	second := race(map[int]bool{h: true})
	if len(second) != 1 || second[0] == h {
		t.Fatalf("lease holders after the release by %d: %v, want exactly one other", h, second)
	}
}

// Four processes opening a new project's database at the same moment: every
// open succeeds (one creates the schema, the others find it) and each can write.
func TestStoresOpeningOneNewFileAtOnceAllSucceed(t *testing.T) {
	for round := range 5 {
		path := filepath.Join(t.TempDir(), "tasks.db")
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			errs []error
			ss   []*sqlite.Store
		)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := sqlite.Open(context.Background(), options(path))
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				ss = append(ss, s)
			}()
		}
		wg.Wait()
		for _, s := range ss {
			if _, err := s.Create(context.Background(), sqlite.NewTask{Title: "after open"}); err != nil {
				errs = append(errs, err)
			}
			if err := s.Close(context.Background()); err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) > 0 {
			t.Fatalf("round %d: %d of 4 opens or first writes failed, first: %v", round, len(errs), errs[0])
		}
	}
}

// One process closing its store (idle eviction, exit) while another's reader
// holds an old snapshot: the closing checkpoint must not keep the write lock
// for its whole busy_timeout, so a write of a third process meanwhile goes
// through.
func TestAWriteGoesThroughWhileAnotherStoreClosesBehindAnOldReader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tasks.db")
	closing := openWith(t, path, 0, 0) // busy_timeout 5 s
	writer := openWith(t, path, 200*time.Millisecond, 0)
	mustCreate(t, closing, sqlite.NewTask{Title: "before the reader"})

	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rc, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var n int
	if _, err := rc.ExecContext(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if err := rc.QueryRowContext(ctx, "SELECT count(*) FROM tasks").Scan(&n); err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = rc.ExecContext(ctx, "ROLLBACK") }()
	mustCreate(t, writer, sqlite.NewTask{Title: "after the reader"}) // the reader's snapshot is now old

	closed := make(chan error, 1)
	go func() { closed <- closing.Close(ctx) }()
	time.Sleep(50 * time.Millisecond) // let the closing checkpoint take the write lock
	if _, err := writer.Create(ctx, sqlite.NewTask{Title: "while the other closes"}); err != nil {
		t.Fatalf("a write while another store closed: %v", err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
}
