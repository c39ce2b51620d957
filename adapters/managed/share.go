package managed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/progress"
)

// Sharing makes one managed server per project serve every server process
// of that project (Claude Desktop and a terminal open on one repository).
// See docs/adr (the cross-process ownership protocol) and the package doc.
type Sharing struct {
	// LockFile is held (flock, exclusive) by the process that owns the
	// server, for as long as it does: the kernel releases it when that
	// process dies, however it dies.
	LockFile string
	// DiscoveryFile is where the owner announces its server (JSON, 0600).
	// It is a project file, so untrusted: see verify.
	DiscoveryFile string
	// DataDir is the server's data folder: the command line of a server that
	// the discovery file names must name it, and no other process may run on
	// it when this process starts a server.
	DataDir string
	// Secret is published for the processes that attach (the Neo4j password).
	Secret string
	// Replace writes a project file atomically without following links
	// (workspace.ReplaceProjectFile); Remove removes one (workspace.RemoveProjectFile).
	Replace func(path string, data []byte, perm fs.FileMode) error
	Remove  func(path string) error
}

// ErrBusy means another server process is starting the project's server and
// it did not become ready within the caller's time.
var ErrBusy = errors.New("the managed server is being started by another process")

const (
	pollShared   = 100 * time.Millisecond // a follower re-reads the lock and the discovery file
	takeoverWait = 15 * time.Second       // how long a new owner waits for the old owner's server to vanish
	maxDiscovery = 64 << 10
)

// Server is the project's managed server as this process sees it: either
// this process started it and supervises it (it owns it), or, with
// Spec.Share, another server process of the project did and this one uses it
// (attached). Only the owner ever signals its server. It is safe for
// concurrent use.
type Server struct {
	spec Spec
	log  *slog.Logger
	acq  chan struct{} // capacity 1: one acquire at a time; Stop holds it to end

	// life ends at Stop. A takeover runs under it, not under the context of
	// the call that noticed the loss: a call's pool_timeout may be shorter
	// than a JVM's start, and a start cut short would be retried forever.
	life context.Context
	end  context.CancelFunc
	bg   sync.WaitGroup // the takeover goroutine

	// mu guards the fields below; never held across a wait, a start or a signal.
	mu       sync.Mutex
	own      *supervisor // owner: the server we started
	lock     *os.File    // owner in shared mode: the flocked lock file
	peer     *peer       // attached: the server another process started
	stopped  bool
	takeover *attempt // the takeover in progress, nil when none
}

// attempt is one takeover; err is set before done is closed.
type attempt struct {
	done chan struct{}
	err  error
}

// peer is a server another process owns, verified from its discovery file.
type peer struct {
	pid     int
	start   uint64
	port    int
	baseURL string
	owner   int
}

// alive reports whether the peer's process still runs (same pid, same start time).
func (p *peer) alive() bool {
	info, err := readProc(p.pid)
	return err == nil && !info.zombie && info.start == p.start
}

// discovery is the content of Sharing.DiscoveryFile.
type discovery struct {
	Kind       string `json:"kind"`     // Spec.Name
	DataDir    string `json:"data_dir"` // Sharing.DataDir
	Host       string `json:"host"`     // always 127.0.0.1
	Port       int    `json:"port"`
	PID        int    `json:"pid"`       // the server
	PIDStart   uint64 `json:"pid_start"` // its start time, /proc/PID/stat field 22
	BootID     string `json:"boot_id"`
	OwnerPID   int    `json:"owner_pid"` // the server process that started it
	Secret     string `json:"secret,omitempty"`
	Published  string `json:"published"` // RFC 3339, for people reading the file
	OwnerStart uint64 `json:"owner_start"`
}

// Start makes the project's server available to this process and returns
// once it answers Health. Without Spec.Share (or where sharing is not
// supported) it starts a server of its own (startSupervisor's contract).
// With it: the first process to take the lock starts the server and
// publishes it; the others attach to it, waiting (within ctx and the start
// timeout) while it starts.
func Start(ctx context.Context, spec Spec) (*Server, error) {
	spec, err := spec.withDefaults()
	if err != nil {
		return nil, err
	}
	if spec.Share != nil && sharingSupported {
		sh := spec.Share
		if sh.LockFile == "" || sh.DiscoveryFile == "" || sh.DataDir == "" || sh.Replace == nil || sh.Remove == nil {
			return nil, fmt.Errorf("managed %s: Share needs LockFile, DiscoveryFile, DataDir, Replace and Remove", spec.Name)
		}
	}
	s := &Server{spec: spec, log: spec.Logger, acq: make(chan struct{}, 1)}
	s.life, s.end = context.WithCancel(context.Background())
	if err := s.acquire(ctx); err != nil {
		s.end()
		return nil, err
	}
	return s, nil
}

// BaseURL is http://127.0.0.1:PORT of the server now ("" when there is none).
// It changes when a restart or a takeover moved it, so call it for every use.
func (s *Server) BaseURL() string {
	s.mu.Lock()
	own, p := s.own, s.peer
	s.mu.Unlock()
	switch {
	case own != nil:
		return own.BaseURL()
	case p != nil:
		return p.baseURL
	}
	return ""
}

// PID of the server process now (0 when none), whoever owns it.
func (s *Server) PID() int {
	s.mu.Lock()
	own, p := s.own, s.peer
	s.mu.Unlock()
	switch {
	case own != nil:
		return own.PID()
	case p != nil && p.alive():
		return p.pid
	}
	return 0
}

// Owned reports whether this process started the server and owns it.
func (s *Server) Owned() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.own != nil
}

// Ready waits (up to ctx) until the server answers, and says why not otherwise.
// An owner's server that died is restarted (see supervisor.Ready). An
// attached server whose process is gone (its owner exited or died) is
// replaced by running the acquire path again: take the lock and start it, or
// attach to the one another process has started meanwhile.
func (s *Server) Ready(ctx context.Context) error {
	for {
		s.mu.Lock()
		if s.stopped {
			s.mu.Unlock()
			return fmt.Errorf("%s: %w", s.spec.Name, ErrStopped)
		}
		own, p := s.own, s.peer
		s.mu.Unlock()
		if own != nil {
			return own.Ready(ctx)
		}
		if p != nil && p.alive() {
			return nil
		}
		if err := s.takeOver(ctx); err != nil {
			return err
		}
	}
}

// takeOver runs the acquire path again after the attached server vanished, in
// the background under s.life (one attempt for all callers), and waits for it
// up to ctx.
func (s *Server) takeOver(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped { // Stop sets it before waiting for bg: no Add after that Wait
		s.mu.Unlock()
		return fmt.Errorf("%s: %w", s.spec.Name, ErrStopped)
	}
	a := s.takeover
	if a == nil {
		a = &attempt{done: make(chan struct{})}
		s.takeover = a
		s.log.Info("managed server: the server of another process is gone; starting it here or using the one another process starts",
			"server", s.spec.Name, "project", s.spec.Project)
		s.bg.Add(1)
		go func() {
			defer s.bg.Done()
			err := s.acquire(s.life)
			s.mu.Lock()
			a.err = err
			s.takeover = nil
			s.mu.Unlock()
			close(a.done)
		}()
	}
	s.mu.Unlock()
	begin := time.Now()
	tick := time.NewTicker(reportEvery)
	defer tick.Stop()
	for {
		select {
		case <-a.done:
			return a.err
		case <-tick.C:
			progress.Report(ctx, fmt.Sprintf("waiting for %s to be started again (%.1fs)", s.spec.Name, time.Since(begin).Seconds()), 0, 0)
		case <-ctx.Done():
			return &failure{kind: ErrBusy, cause: ctx.Err(), msg: fmt.Sprintf(
				"%s is being started again (the server process that ran it has exited) and was not ready after %s; retry in a moment",
				s.spec.Name, time.Since(begin).Round(time.Millisecond))}
		}
	}
}

// Stop ends this process's use of the server. The owner stops it (SIGTERM,
// then SIGKILL after StopTimeout; see supervisor.Stop), withdraws the
// discovery file and releases the lock, so the next process that needs the
// server starts it. An attached process signals nothing. Idempotent.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	s.end()             // a takeover in progress gives up ...
	s.bg.Wait()         // ... and is gone
	s.acq <- struct{}{} // an acquire in progress ends (bounded by its caller's context) and sees stopped
	defer func() { <-s.acq }()
	s.mu.Lock()
	own, lock := s.own, s.lock
	s.own, s.lock, s.peer = nil, nil, nil
	s.mu.Unlock()
	if own == nil {
		return nil
	}
	err := own.Stop(ctx)
	if lock != nil {
		// The discovery file goes before the lock: whoever takes the lock next finds no stale announcement.
		if rerr := s.spec.Share.Remove(s.spec.Share.DiscoveryFile); rerr != nil {
			s.log.Warn("managed server: could not remove its discovery file", "server", s.spec.Name, "err", rerr)
		}
		_ = lock.Close() // releases the flock
	}
	return err
}

// Settle waits until the server is Ready and check passes. A server that just
// died still looks ready until its supervisor (or, attached, the next Ready)
// notices, so a failing check is retried (every 100 ms, Ready first each
// time, which restarts or takes over a dead server) for up to settle before
// its error is returned.
func (s *Server) Settle(ctx context.Context, settle time.Duration, check func(context.Context) error) error {
	deadline := time.Now().Add(settle)
	for {
		if err := s.Ready(ctx); err != nil {
			return err
		}
		err := check(ctx)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// acquire gets this process a server: its own (private mode, or the lock was
// free) or another process's (attached). It returns at once when another
// caller got one meanwhile.
func (s *Server) acquire(ctx context.Context) error {
	select {
	case s.acq <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("%s: waiting for another call that is starting it: %w", s.spec.Name, ctx.Err())
	}
	defer func() { <-s.acq }()
	s.mu.Lock()
	stopped, own, p := s.stopped, s.own, s.peer
	s.mu.Unlock()
	switch {
	case stopped:
		return fmt.Errorf("%s: %w", s.spec.Name, ErrStopped)
	case own != nil || (p != nil && p.alive()):
		return nil
	}
	if s.spec.Share == nil || !sharingSupported {
		sup, err := startSupervisor(ctx, s.spec, nil)
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.own = sup
		s.mu.Unlock()
		return nil
	}
	return s.acquireShared(ctx)
}

// acquireShared: take the lock and start the server, or attach to the one the
// lock's holder announces; while the holder is still starting it, poll.
func (s *Server) acquireShared(ctx context.Context) error {
	sh := s.spec.Share
	f, err := s.spec.OpenFile(sh.LockFile, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("start %s: open its lock file: %w", s.spec.Name, err)
	}
	keep := false
	defer func() {
		if !keep {
			_ = f.Close()
		}
	}()
	begin := time.Now()
	deadline := time.NewTimer(s.spec.StartTimeout)
	defer deadline.Stop()
	announced := false
	for {
		locked, err := tryLock(f)
		if err != nil {
			return fmt.Errorf("start %s: lock %s: %w", s.spec.Name, sh.LockFile, err)
		}
		if locked {
			if err := s.takeOwnership(ctx, f); err != nil {
				return err
			}
			keep = true
			return nil
		}
		if p, err := s.readPeer(); err == nil {
			s.mu.Lock()
			s.peer = p
			s.mu.Unlock()
			s.log.Info("managed server: using the one another server process started", "server", s.spec.Name,
				"project", s.spec.Project, "pid", p.pid, "url", p.baseURL, "owner_pid", p.owner)
			return nil
		} else if !announced {
			announced = true
			s.log.Info("managed server: another server process holds the lock and has announced no usable server yet; waiting",
				"server", s.spec.Name, "project", s.spec.Project, "why", err)
		}
		progress.Report(ctx, fmt.Sprintf("waiting for %s, which another server process of this project is starting (%.1fs)",
			s.spec.Name, time.Since(begin).Seconds()), 0, 0)
		t := time.NewTimer(pollShared)
		select {
		case <-t.C:
		case <-deadline.C:
			t.Stop()
			return &failure{kind: ErrBusy, msg: fmt.Sprintf(
				"%s: another server process of this project holds the lock of its server and has not announced a running server "+
					"within %s; retry, and if it persists check that process's log", s.spec.Name, s.spec.StartTimeout)}
		case <-ctx.Done():
			t.Stop()
			return &failure{kind: ErrBusy, cause: ctx.Err(), msg: fmt.Sprintf(
				"%s is being started by another server process of this project and was not ready after %s; retry in a moment",
				s.spec.Name, time.Since(begin).Round(time.Millisecond))}
		}
	}
}

// takeOwnership is the owner's path, with the lock held in f: wait until no process
// runs on the data folder (the dead owner's server is being killed by the
// kernel; a server we cannot account for is never signalled: refuse), start
// the server and announce it after each (re)start.
func (s *Server) takeOwnership(ctx context.Context, f *os.File) error {
	sh := s.spec.Share
	if err := s.waitDataDirFree(ctx); err != nil {
		return err
	}
	if err := sh.Remove(sh.DiscoveryFile); err != nil {
		return fmt.Errorf("start %s: remove the stale discovery file: %w", s.spec.Name, err)
	}
	sup, err := startSupervisor(ctx, s.spec, s.publish)
	if err != nil {
		return err
	}
	s.mu.Lock()
	stopped := s.stopped
	if !stopped {
		s.own, s.lock, s.peer = sup, f, nil
	}
	s.mu.Unlock()
	if stopped { // Stop came while we started: it is waiting for us
		_ = sup.Stop(context.WithoutCancel(ctx))
		_ = sh.Remove(sh.DiscoveryFile)
		return fmt.Errorf("%s: %w", s.spec.Name, ErrStopped)
	}
	return nil
}

// waitDataDirFree waits (up to takeoverWait) until no live process names the
// data folder on its command line.
func (s *Server) waitDataDirFree(ctx context.Context) error {
	dir := s.spec.Share.DataDir
	wait := time.NewTimer(takeoverWait)
	defer wait.Stop()
	logged := false
	for {
		pids := processesOn(dir)
		if len(pids) == 0 {
			return nil
		}
		if !logged {
			logged = true
			s.log.Info("managed server: waiting for the server of a process that has ended to exit before starting a new one",
				"server", s.spec.Name, "pids", pids)
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-t.C:
		case <-wait.C:
			t.Stop()
			return fmt.Errorf("start %s: process %d still runs on its data folder %s although no server process of this "+
				"project owns it; it was not started by this server, so it is left alone: stop it, then retry",
				s.spec.Name, pids[0], dir)
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("start %s: gave up waiting for process %d, still running on its data folder %s: %w",
				s.spec.Name, pids[0], dir, ctx.Err())
		}
	}
}

// publish announces the owner's server (called after each successful start).
func (s *Server) publish(pid, port int) {
	sh := s.spec.Share
	info, err := readProc(pid)
	if err != nil {
		s.log.Warn("managed server: cannot read its process information; other processes will not find it", "server", s.spec.Name, "err", err)
		return
	}
	d := discovery{
		Kind: s.spec.Name, DataDir: sh.DataDir, Host: "127.0.0.1", Port: port,
		PID: pid, PIDStart: info.start, BootID: bootID(), OwnerPID: os.Getpid(), Secret: sh.Secret,
		Published: time.Now().UTC().Format(time.RFC3339),
	}
	if me, err := readProc(os.Getpid()); err == nil {
		d.OwnerStart = me.start
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err == nil {
		err = sh.Replace(sh.DiscoveryFile, append(b, '\n'), 0o600)
	}
	if err != nil {
		s.log.Warn("managed server: cannot write its discovery file; other processes will not find it", "server", s.spec.Name, "err", err)
	}
}

// readPeer reads and verifies the discovery file (see readDiscovery and
// verifyDiscovery): any file that fails is ignored, and its pid never signalled.
func (s *Server) readPeer() (*peer, error) {
	d, err := readDiscovery(s.spec.OpenFile, s.spec.Share.DiscoveryFile)
	if err != nil {
		return nil, err
	}
	return verifyDiscovery(d, s.spec.Name, s.spec.Share.DataDir)
}

// namesDir reports whether an argument of cmdline names dir: is dir, or holds
// it followed by the end, a '/' or a separator ("--path=DIR", "DIR/data").
func namesDir(cmdline []string, dir string) bool {
	if dir == "" {
		return false
	}
	for _, a := range cmdline {
		for i := 0; ; {
			j := strings.Index(a[i:], dir)
			if j < 0 {
				break
			}
			end := i + j + len(dir)
			if end == len(a) || strings.ContainsRune("/=:;,\"' ", rune(a[end])) {
				return true
			}
			i += j + 1
		}
	}
	return false
}
