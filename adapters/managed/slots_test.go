//go:build linux

package managed_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/managed"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
)

var errMoved = errors.New("the fake server moved to a new address")

// address is the server address an adapter would follow: the handle of a
// slot here is the base URL it was opened on.
type address struct {
	mu  sync.Mutex
	url string
}

func (a *address) get() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.url
}

func (a *address) set(u string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.url = u
}

// urlSlots are Slots whose handle is a base URL, checked by the fake
// server's health endpoint; current is where the server is now.
func urlSlots(srv *managed.Server, current func() string) managed.Slots[string] {
	return managed.Slots[string]{
		Server:   srv,
		Current:  func() (string, error) { return current(), nil },
		Check:    func(ctx context.Context, u string) error { return health(ctx, client, u) },
		Stale:    func(u string) bool { return u != current() },
		ErrStale: errMoved,
	}
}

func slotPool(t *testing.T, s managed.Slots[string]) *pooling.Pool[string] {
	t.Helper()
	p, err := pooling.New(pooling.Config{Name: "fake", MaxConns: 2, AcquireTimeout: 10 * time.Second}, s.Hooks())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

func TestASlotOpenedJustAfterAManagedServerCrashedWaitsForItsRestart(t *testing.T) {
	spec := newSpec(t, "-exit-after", "200ms", "-once", filepath.Join(t.TempDir(), "crashed"))
	srv := start(t, spec)
	pid := srv.PID()
	eventually(t, "the first process to crash", func() bool { return !alive(pid) })

	// The supervisor restarts a crashed server after a pause: a plain check
	// now fails, opening a slot on the managed server waits for it instead.
	c, err := slotPool(t, urlSlots(srv, srv.BaseURL)).Acquire(context.Background())
	if err != nil {
		t.Fatalf("Acquire just after the managed server crashed: %v", err)
	}
	defer c.Release()
	if got := srv.PID(); got == pid || !alive(got) {
		t.Errorf("PID after the slot opened = %d (crashed: %d), want a new live server", got, pid)
	}
	if c.Value() != srv.BaseURL() {
		t.Errorf("the slot holds %q, want the server's address %q", c.Value(), srv.BaseURL())
	}
	answers(t, c.Value())
}

func TestASlotOnARemoteServerThatIsDownFailsWithTheCheckAtOnce(t *testing.T) {
	srv := start(t, newSpec(t))
	u := srv.BaseURL()
	if err := srv.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	// No Server: nothing to wait for, so the pool (and its breaker) sees the
	// check's own error.
	_, err := urlSlots(nil, func() string { return u }).Hooks().Open(context.Background())
	if err == nil {
		t.Fatalf("opening a slot on %s, which is down, succeeded", u)
	}
	mustContain(t, err.Error(), "connection refused")
}

func TestASlotOfAnOldAddressIsStaleAndThePoolReplacesIt(t *testing.T) {
	first, second := start(t, newSpec(t)), start(t, newSpec(t))
	var at address
	at.set(first.BaseURL())
	s := urlSlots(nil, at.get)
	p, err := pooling.New(pooling.Config{Name: "fake", MaxConns: 1, PrePing: true, AcquireTimeout: 10 * time.Second}, s.Hooks())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Close(context.Background()) }()
	c, err := p.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c.Release()

	at.set(second.BaseURL()) // the server moved; the first one still answers
	if err := s.Hooks().Ping(context.Background(), first.BaseURL()); !errors.Is(err, errMoved) {
		t.Errorf("Ping of a slot on the old address = %v, want ErrStale", err)
	}
	if err := s.Hooks().Ping(context.Background(), second.BaseURL()); err != nil {
		t.Errorf("Ping of a slot on the current address = %v, want nil", err)
	}
	c, err = p.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	if c.Value() != second.BaseURL() {
		t.Errorf("after the move the pool handed out a slot on %q, want one on %q", c.Value(), second.BaseURL())
	}
}

func TestSlotsWithoutTheirFunctionsPanic(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Hooks of Slots without Check did not panic")
		}
	}()
	managed.Slots[string]{Current: func() (string, error) { return "", nil }, Stale: func(string) bool { return false },
		ErrStale: errMoved}.Hooks()
}
