package managed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/progress"
)

// supervisor is one running, supervised child process: the server this
// process owns.
type supervisor struct {
	spec    Spec
	onReady func(pid, port int) // after every successful (re)start: publish it (nil: nothing)
	log     *slog.Logger
	hc      *http.Client // for Health: no keep-alives, so no idle connections outlive a check

	stopCtx  context.Context // ends when Stop is called: supervision and a restart in progress give up
	stopSup  context.CancelFunc
	kick     chan struct{} // capacity 1: Ready asks the supervisor to skip the restart backoff
	done     chan struct{} // closed when the supervisor goroutine returns
	stopping sync.Mutex    // serialises Stop, so a second Stop returns only once the process is reaped

	// mu guards the fields below. It is held for bookkeeping only, never
	// across a wait, a Health call or a signal.
	mu       sync.Mutex
	cur      *process      // the newest process, possibly exited; nil before the first spawn
	healthy  bool          // cur has answered Health
	starting bool          // a start attempt is in progress (Start's or the supervisor's)
	failures int           // failed start attempts so far, so Ready can see a new one
	lastErr  error         // the latest failed start attempt
	stopped  bool          // Stop has been called
	changed  chan struct{} // closed and replaced whenever a field above changes
}

// startSupervisor picks a free 127.0.0.1 port, starts the process so that it
// cannot outlive this one, waits for Health (reporting progress through
// adapters/progress), and supervises it: a crash is logged and the process
// restarted (same port when free). spec has its defaults already.
//
// A failed start leaves no process behind; its error matches ErrExited (the
// message quotes the end of the log), ErrStartTimeout, or ctx's error.
func startSupervisor(ctx context.Context, spec Spec, onReady func(pid, port int)) (*supervisor, error) {
	s := &supervisor{
		spec:    spec,
		onReady: onReady,
		log:     spec.Logger,
		hc: &http.Client{
			Transport: &http.Transport{
				Proxy:             nil, // loopback only
				DialContext:       (&net.Dialer{Timeout: healthAttemptTimeout}).DialContext,
				DisableKeepAlives: true,
			},
			Timeout: 2 * healthAttemptTimeout, // a Health that ignores its context still returns
		},
		kick:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		changed: make(chan struct{}),
	}
	s.stopCtx, s.stopSup = context.WithCancel(context.Background())
	p, err := s.launch(ctx, 1, 0)
	if err != nil {
		s.stopSup()
		return nil, err
	}
	go s.supervise(p)
	return s, nil
}

// BaseURL is http://127.0.0.1:PORT of the current process. It changes when a
// restart had to move to another port, so call it for every use.
func (s *supervisor) BaseURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		return ""
	}
	return s.cur.baseURL
}

// PID of the current process (0 when none).
func (s *supervisor) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil || s.cur.hasExited() {
		return 0
	}
	return s.cur.pid
}

// Ready waits (up to ctx) until the server answers Health, restarting it if it died;
// it returns an error that says what happened (and the log file to read) otherwise.
//
// A process that answered Health once and is still running counts as ready
// without another check: Ready is cheap enough to call before every use. When
// the process is dead and the supervisor is only waiting out its restart
// backoff, Ready has it restart now: someone is waiting. When that restart
// fails, Ready returns its error rather than waiting for the next one.
func (s *supervisor) Ready(ctx context.Context) error {
	begin := time.Now()
	var tick *time.Ticker
	s.mu.Lock()
	seen := s.failures
	s.mu.Unlock()
	for {
		s.mu.Lock()
		if s.stopped {
			s.mu.Unlock()
			return fmt.Errorf("%s: %w", s.spec.Name, ErrStopped)
		}
		alive := s.cur != nil && !s.cur.hasExited()
		if alive && s.healthy {
			s.mu.Unlock()
			return nil
		}
		if s.failures > seen {
			err := s.lastErr
			s.mu.Unlock()
			return fmt.Errorf("%s is down and restarting it failed: %w", s.spec.Name, err)
		}
		if !alive && !s.starting {
			select {
			case s.kick <- struct{}{}:
			default:
			}
		}
		changed := s.changed
		s.mu.Unlock()

		if tick == nil {
			tick = time.NewTicker(reportEvery)
			defer tick.Stop()
		}
		select {
		case <-changed:
		case <-tick.C:
			progress.Report(ctx, fmt.Sprintf("waiting for %s to restart (%.1fs)", s.spec.Name, time.Since(begin).Seconds()), 0, 0)
		case <-ctx.Done():
			return fmt.Errorf("%s is not ready after %s: it is down and being restarted (see its log %s): %w",
				s.spec.Name, time.Since(begin).Round(time.Millisecond), s.spec.LogFile, ctx.Err())
		}
	}
}

// Stop ends supervision, sends SIGTERM, waits up to StopTimeout, then SIGKILL; it
// returns once the process has exited (the port is free). Idempotent.
//
// A SIGKILL (StopTimeout passed, or ctx ended first) is reported as an error
// matching ErrKilled: the server may not have flushed its data.
func (s *supervisor) Stop(ctx context.Context) error {
	s.mu.Lock()
	if !s.stopped {
		s.stopped = true
		s.broadcastLocked()
	}
	s.mu.Unlock()
	s.stopSup()
	<-s.done // prompt: every wait in the supervisor also watches stopCtx

	s.stopping.Lock()
	defer s.stopping.Unlock()
	s.mu.Lock()
	p := s.cur
	s.mu.Unlock()
	if p == nil || p.hasExited() {
		return nil
	}
	return s.terminate(ctx, p)
}

// terminate sends SIGTERM to p's group, waits up to StopTimeout or ctx, then
// SIGKILLs it; it returns once p has been reaped.
func (s *supervisor) terminate(ctx context.Context, p *process) error {
	begin := time.Now()
	if err := p.signal(sigTerm); err != nil {
		s.log.Warn("managed server: SIGTERM failed; will SIGKILL", "server", s.spec.Name, "pid", p.pid, "err", err)
	}
	timer := time.NewTimer(s.spec.StopTimeout)
	defer timer.Stop()
	var why string
	var cause error
	select {
	case <-p.exited:
		s.log.Info("managed server stopped", "server", s.spec.Name, "pid", p.pid, "took", time.Since(begin).Round(time.Millisecond))
		return nil
	case <-timer.C:
		why = fmt.Sprintf("did not exit within %s of SIGTERM", s.spec.StopTimeout)
	case <-ctx.Done():
		why = fmt.Sprintf("had not exited %s after SIGTERM when the stop was cut short", time.Since(begin).Round(time.Millisecond))
		cause = ctx.Err()
	}
	if err := p.signal(sigKill); err != nil {
		s.log.Warn("managed server: SIGKILL failed", "server", s.spec.Name, "pid", p.pid, "err", err)
	}
	<-p.exited // a SIGKILLed process is reaped at once
	msg := fmt.Sprintf("stop %s: pid %d %s, so it was killed with SIGKILL; its data may not have been flushed (log: %s)",
		s.spec.Name, p.pid, why, s.spec.LogFile)
	if cause != nil {
		msg += ": " + cause.Error()
	}
	s.log.Warn("managed server killed", "server", s.spec.Name, "pid", p.pid, "reason", why)
	return &failure{msg: msg, kind: ErrKilled, cause: cause}
}

// supervise restarts p's successors when they exit, until Stop.
func (s *supervisor) supervise(p *process) {
	defer close(s.done)
	delay := firstRestart
	attempt := 1
	for {
		select {
		case <-s.stopCtx.Done():
			return
		case <-p.exited:
		}
		ran := p.ended.Sub(p.started)
		if ran >= stableAfter {
			delay = firstRestart
		}
		s.mu.Lock()
		s.healthy = false
		s.broadcastLocked()
		s.mu.Unlock()
		s.log.Warn("managed server exited unexpectedly; restarting it", "server", s.spec.Name, "project", s.spec.Project,
			"pid", p.pid, "status", p.status(), "ran", ran.Round(time.Millisecond), "restart_in", delay, "log", s.spec.LogFile)
		for {
			if !s.sleep(delay) {
				return
			}
			attempt++
			next, err := s.launch(s.stopCtx, attempt, p.port)
			delay = min(2*delay, maxRestart)
			if s.stopCtx.Err() != nil {
				return // Stop terminates whatever launch left running
			}
			if err == nil {
				p = next
				break
			}
			s.log.Warn("managed server restart failed", "server", s.spec.Name, "attempt", attempt, "retry_in", delay, "err", err)
		}
	}
}

// sleep waits d, or less when Ready kicks; it reports false when Stop was called.
func (s *supervisor) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.stopCtx.Done():
		return false
	case <-t.C:
	case <-s.kick:
	}
	return true
}

// launch starts a process, on prefer when that port is free, and waits for it
// to answer Health. On failure the process has been stopped, except when Stop
// cut the start short: then it is left as s.cur for Stop to end.
func (s *supervisor) launch(ctx context.Context, attempt, prefer int) (p *process, err error) {
	s.mu.Lock()
	s.starting = true
	select { // a kick is a request for this start: drop it
	case <-s.kick:
	default:
	}
	s.broadcastLocked()
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.starting = false
		if err != nil {
			s.failures++
			s.lastErr = err
		} else {
			s.healthy = true
		}
		s.broadcastLocked()
		s.mu.Unlock()
	}()

	what := s.spec.Name
	if s.spec.Project != "" {
		what += " for " + s.spec.Project
	}
	port := prefer
	for try := 1; ; try++ {
		if port == 0 || !portFree(port) {
			if port, err = freePort(); err != nil {
				return nil, fmt.Errorf("start %s: find a free port on 127.0.0.1: %w", s.spec.Name, err)
			}
		}
		progress.Report(ctx, fmt.Sprintf("starting %s (attempt %d)", what, attempt), 0, s.spec.StartTimeout.Seconds())
		begin := time.Now()
		if p, err = s.spawn(port, attempt); err != nil {
			return nil, err
		}
		s.mu.Lock()
		s.cur, s.healthy = p, false
		s.broadcastLocked()
		s.mu.Unlock()

		err = s.waitHealthy(ctx, p, begin)
		if err == nil {
			s.log.Info("managed server ready", "server", s.spec.Name, "project", s.spec.Project, "pid", p.pid,
				"url", p.baseURL, "attempt", attempt, "took", time.Since(begin).Round(time.Millisecond))
			if s.onReady != nil {
				s.onReady(p.pid, p.port)
			}
			return p, nil
		}
		if errors.Is(err, ErrExited) && try < portTries && !portFree(port) {
			// Most likely another process took the port between freePort and the child's bind.
			s.log.Info("managed server exited and its port is taken; retrying on another port",
				"server", s.spec.Name, "port", port, "status", p.status())
			port = 0
			continue
		}
		if !p.hasExited() && s.stopCtx.Err() == nil {
			if terr := s.terminate(s.stopCtx, p); terr != nil {
				s.log.Warn("managed server: stopping a failed start", "server", s.spec.Name, "err", terr)
			}
		}
		return nil, err
	}
}

// waitHealthy polls Health with a growing pause until it answers, the process
// exits, ctx ends or StartTimeout passes, reporting progress every reportEvery.
func (s *supervisor) waitHealthy(ctx context.Context, p *process, begin time.Time) error {
	name, timeout := s.spec.Name, s.spec.StartTimeout
	deadline := time.NewTimer(timeout - time.Since(begin))
	defer deadline.Stop()
	tick := time.NewTicker(reportEvery)
	defer tick.Stop()
	next := time.NewTimer(0) // the first check at once
	defer next.Stop()

	var (
		wake    = next.C
		pause   = firstPoll
		check   chan error // the running check's answer; nil between checks
		cancel  = func() {}
		lastErr error
	)
	// fail ends a running check before returning err: no goroutine outlives the start.
	fail := func(err error) error {
		if check != nil {
			cancel()
			<-check
		}
		return err
	}
	for {
		select {
		case <-wake:
			wake = nil
			actx, stop := context.WithTimeout(ctx, healthAttemptTimeout)
			cancel = stop
			check = make(chan error, 1)
			go func(ctx context.Context, answer chan<- error) {
				answer <- s.spec.Health(ctx, s.hc, p.baseURL)
			}(actx, check)
		case err := <-check:
			cancel()
			check = nil
			if err == nil {
				return nil
			}
			lastErr = err
			next.Reset(pause)
			wake = next.C
			pause = min(2*pause, maxPoll)
		case <-tick.C:
			took := time.Since(begin)
			progress.Report(ctx, fmt.Sprintf("waiting for %s to answer (%.1fs)", name, took.Seconds()), took.Seconds(), timeout.Seconds())
		case <-p.exited:
			return fail(&failure{kind: ErrExited, msg: fmt.Sprintf(
				"start %s: it exited during start-up (pid %d, %s) before answering its health check; the last lines of its log %s:\n%s",
				name, p.pid, p.status(), s.spec.LogFile, logTail(s.spec.OpenFile, s.spec.LogFile, logTailLines))})
		case <-deadline.C:
			return fail(&failure{kind: ErrStartTimeout, msg: fmt.Sprintf(
				"start %s: waited %s and it still does not answer its health check (last: %v); see its log %s, or raise the start timeout",
				name, timeout, lastErr, s.spec.LogFile)})
		case <-ctx.Done():
			return fail(&failure{kind: ctx.Err(), msg: fmt.Sprintf(
				"start %s: gave up after %s, before it answered its health check: %v (log: %s)",
				name, time.Since(begin).Round(time.Millisecond), ctx.Err(), s.spec.LogFile)})
		}
	}
}

func (s *supervisor) broadcastLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}
