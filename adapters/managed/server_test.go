//go:build linux

package managed_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/managed"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/progress"
)

// client has no keep-alives, so no connection goroutine outlives a test (goleak).
var client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}

// health is the test servers' readiness check, the one the adapters use.
var health = managed.HTTPOK("/health")

func newSpec(t *testing.T, args ...string) managed.Spec {
	t.Helper()
	return fakeSpec(fakeServer, filepath.Join(t.TempDir(), "logs", "fake.log"), args...)
}

func start(t *testing.T, spec managed.Spec) *managed.Server {
	t.Helper()
	s, err := managed.Start(context.Background(), spec)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(context.Background()); err != nil {
			t.Errorf("Stop in cleanup: %v", err)
		}
	})
	return s
}

func answers(t *testing.T, baseURL string) {
	t.Helper()
	if err := health(context.Background(), client, baseURL); err != nil {
		t.Fatalf("server at %s does not answer: %v", baseURL, err)
	}
}

// alive reports whether pid is a running process (a zombie is not).
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) STATE ...: comm may hold spaces, so look after the last ')'.
	rest := stat[bytes.LastIndexByte(stat, ')')+1:]
	return !bytes.HasPrefix(bytes.TrimSpace(rest), []byte("Z"))
}

func portOf(t *testing.T, baseURL string) int {
	t.Helper()
	port, err := strconv.Atoi(baseURL[strings.LastIndex(baseURL, ":")+1:])
	if err != nil {
		t.Fatalf("BaseURL %q has no port: %v", baseURL, err)
	}
	return port
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// eventually polls cond for a few seconds: for things another process does
// (dying after a signal), never for our own code's speed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("gave up waiting: %s", what)
}

func mustContain(t *testing.T, s string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Errorf("%q does not contain %q", s, p)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// syncBuffer is a log sink that the supervisor writes while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestStartAnswersOnLoopbackAndStopReapsTheProcess(t *testing.T) {
	s, err := managed.Start(context.Background(), newSpec(t))
	if err != nil {
		t.Fatal(err)
	}
	url, pid := s.BaseURL(), s.PID()
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Errorf("BaseURL = %q, want http://127.0.0.1:PORT", url)
	}
	answers(t, url)
	if pid <= 0 || !alive(pid) {
		t.Fatalf("PID %d is not a live process", pid)
	}
	if err := s.Ready(context.Background()); err != nil {
		t.Errorf("Ready on a healthy server: %v", err)
	}

	if err := s.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	// Reaped by Stop itself: no zombie, not even for a moment.
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("after Stop, kill(%d, 0) = %v, want ESRCH", pid, err)
	}
	if !portFree(portOf(t, url)) {
		t.Errorf("after Stop, port of %s is still taken", url)
	}
	if got := s.PID(); got != 0 {
		t.Errorf("PID after Stop = %d, want 0", got)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if err := s.Ready(context.Background()); !errors.Is(err, managed.ErrStopped) {
		t.Errorf("Ready after Stop = %v, want ErrStopped", err)
	}
}

func TestStopKillsHelperProcessesInTheGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "helper.pid")
	s := start(t, newSpec(t, "-helper-pidfile", pidFile))
	helper, err := strconv.Atoi(readFile(t, pidFile))
	if err != nil || !alive(helper) {
		t.Fatalf("helper pid %q (%v) is not running", readFile(t, pidFile), err)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the helper to die with its group", func() bool { return !alive(helper) })
}

func TestStopSIGKILLsAChildThatIgnoresSIGTERM(t *testing.T) {
	spec := newSpec(t, "-ignore-sigterm")
	spec.StopTimeout = 300 * time.Millisecond
	s, err := managed.Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	pid := s.PID()
	err = s.Stop(context.Background())
	if !errors.Is(err, managed.ErrKilled) {
		t.Fatalf("Stop = %v, want ErrKilled", err)
	}
	mustContain(t, err.Error(), "SIGKILL", "300ms", spec.LogFile)
	if alive(pid) {
		t.Errorf("pid %d still alive after Stop", pid)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestStopWithAnEndedContextKillsAtOnce(t *testing.T) {
	spec := newSpec(t, "-ignore-sigterm")
	spec.StopTimeout = time.Hour // only the context can end the wait
	s, err := managed.Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	pid := s.PID()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = s.Stop(ctx)
	if !errors.Is(err, managed.ErrKilled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Stop = %v, want ErrKilled and context.Canceled", err)
	}
	if alive(pid) {
		t.Errorf("pid %d still alive after Stop", pid)
	}
}

func TestCrashIsLoggedAndRestartedOnTheSamePort(t *testing.T) {
	var logs syncBuffer
	spec := newSpec(t, "-exit-after", "200ms", "-exit-code", "3", "-once", filepath.Join(t.TempDir(), "crashed"))
	spec.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	s := start(t, spec)
	url, pid := s.BaseURL(), s.PID()
	// Reaped, and seen by the supervisor: between the two, Ready still answers
	// from the state before the crash.
	eventually(t, "the first process to crash", func() bool { return !alive(pid) && s.PID() != pid })

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Ready(ctx); err != nil {
		t.Fatalf("Ready after a crash: %v", err)
	}
	if got := s.PID(); got == pid || got == 0 || !alive(got) {
		t.Errorf("PID after restart = %d (was %d), want a new live process", got, pid)
	}
	if got := s.BaseURL(); got != url {
		t.Errorf("BaseURL after restart = %q, want the same port as before, %q", got, url)
	}
	answers(t, s.BaseURL())
	mustContain(t, logs.String(), "exited unexpectedly", "exit status 3", spec.LogFile)
	mustContain(t, readFile(t, spec.LogFile), "crashing on purpose", "attempt 2")
}

func TestRestartMovesToANewPortWhenTheOldOneIsTaken(t *testing.T) {
	spec := newSpec(t, "-exit-after", "200ms", "-once", filepath.Join(t.TempDir(), "crashed"))
	s := start(t, spec)
	url, pid := s.BaseURL(), s.PID()
	// Reaped, and seen by the supervisor: between the two, Ready still answers
	// from the state before the crash.
	eventually(t, "the first process to crash", func() bool { return !alive(pid) && s.PID() != pid })
	// The supervisor waits a second before restarting; take the port now.
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(portOf(t, url))))
	if err != nil {
		t.Fatalf("take the crashed server's port: %v", err)
	}
	defer l.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Ready(ctx); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	if got := s.BaseURL(); got == url {
		t.Errorf("BaseURL after restart = %q, want another port", got)
	}
	answers(t, s.BaseURL())
}

func TestReadyReturnsTheErrorOfAFailedRestart(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "broken")
	// The first run creates marker and crashes; every later one finds it and exits 4.
	spec := newSpec(t, "-fail-if-exists", marker, "-touch", marker, "-exit-after", "200ms")
	s := start(t, spec)
	pid := s.PID()
	// Reaped, and seen by the supervisor: between the two, Ready still answers
	// from the state before the crash.
	eventually(t, "the first process to crash", func() bool { return !alive(pid) && s.PID() != pid })

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.Ready(ctx)
	if !errors.Is(err, managed.ErrExited) {
		t.Fatalf("Ready = %v, want ErrExited", err)
	}
	mustContain(t, err.Error(), "restarting it failed", "exit status 4", "fatal: "+marker+" exists", spec.LogFile)
	if s.PID() != 0 {
		t.Errorf("PID = %d while the server is down, want 0", s.PID())
	}
}

func TestSlowStartReportsProgressWhileItWaits(t *testing.T) {
	var mu sync.Mutex
	var msgs []string
	var dones []float64
	ctx := progress.With(context.Background(), func(msg string, done, total float64) {
		mu.Lock()
		defer mu.Unlock()
		msgs = append(msgs, msg)
		dones = append(dones, done)
	})
	spec := newSpec(t, "-slow-start", "1200ms")
	start := time.Now()
	s, err := managed.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	if time.Since(start) < 1200*time.Millisecond {
		t.Fatalf("Start returned before the server could answer")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(msgs) < 2 {
		t.Fatalf("progress reports = %q, want a start report and waiting reports", msgs)
	}
	if want := "starting fake for " + spec.Dir + " (attempt 1)"; msgs[0] != want {
		t.Errorf("first report = %q, want %q", msgs[0], want)
	}
	for i, m := range msgs[1:] {
		if !strings.HasPrefix(m, "waiting for fake to answer (") {
			t.Errorf("report %d = %q, want a waiting report", i+1, m)
		}
		if dones[i+1] < dones[i] {
			t.Errorf("progress went backwards: %v", dones)
		}
	}
}

func TestStartTimeoutStopsTheChildAndNamesTheLogFile(t *testing.T) {
	spec := newSpec(t, "-slow-start", "1m")
	spec.StartTimeout = 300 * time.Millisecond
	_, err := managed.Start(context.Background(), spec)
	if !errors.Is(err, managed.ErrStartTimeout) {
		t.Fatalf("Start = %v, want ErrStartTimeout", err)
	}
	mustContain(t, err.Error(), "300ms", spec.LogFile)
	var pid int
	if _, err := fmt.Sscanf(readFile(t, spec.LogFile)[strings.Index(readFile(t, spec.LogFile), "fakeserver pid"):], "fakeserver pid %d", &pid); err != nil {
		t.Fatalf("no pid in the log: %v", err)
	}
	if alive(pid) {
		t.Errorf("the timed-out child %d is still running", pid)
	}
}

func TestStartCancelledByContextStopsTheChild(t *testing.T) {
	spec := newSpec(t, "-slow-start", "1m")
	ctx, cancel := context.WithCancel(context.Background())
	ctx = progress.With(ctx, func(msg string, _, _ float64) {
		if strings.HasPrefix(msg, "waiting") {
			cancel()
		}
	})
	_, err := managed.Start(ctx, spec)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Start = %v, want context.Canceled", err)
	}
	mustContain(t, err.Error(), spec.LogFile)
}

func TestChildExitingAtStartGivesItsLogTail(t *testing.T) {
	spec := newSpec(t, "-say", "fatal: cannot open data directory /nope", "-exit-after", "0", "-exit-code", "3")
	_, err := managed.Start(context.Background(), spec)
	if !errors.Is(err, managed.ErrExited) {
		t.Fatalf("Start = %v, want ErrExited", err)
	}
	mustContain(t, err.Error(), "fatal: cannot open data directory /nope", "exit status 3", spec.LogFile)
}

func TestPortTakenBeforeTheChildBindsIsRetriedOnAnotherPort(t *testing.T) {
	spec := newSpec(t)
	var (
		mu    sync.Mutex
		ports []int
		taken net.Listener
	)
	defer func() {
		if taken != nil {
			taken.Close()
		}
	}()
	spec.Args = func(port int) []string {
		mu.Lock()
		defer mu.Unlock()
		ports = append(ports, port)
		if taken == nil { // lose the race on the first try: someone binds the port first
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if err != nil {
				t.Errorf("take port %d: %v", port, err)
			}
			taken = l
		}
		return []string{"-port", strconv.Itoa(port)}
	}
	s := start(t, spec)
	mu.Lock()
	defer mu.Unlock()
	if len(ports) != 2 || ports[0] == ports[1] {
		t.Fatalf("ports tried = %v, want two different ones", ports)
	}
	if got := portOf(t, s.BaseURL()); got != ports[1] {
		t.Errorf("BaseURL port = %d, want %d", got, ports[1])
	}
	answers(t, s.BaseURL())
}

func TestChildGetsAMinimalEnvironmentAndAPrivateLog(t *testing.T) {
	t.Setenv("MANAGED_TEST_SECRET", "hunter2")
	spec := newSpec(t, "-print-env")
	spec.Env = []string{"FAKE_EXTRA=yes", "LANG=C.UTF-8"}
	start(t, spec)
	log := readFile(t, spec.LogFile)
	mustContain(t, log, "\nFAKE_EXTRA=yes\n", "\nPATH=", "\nLANG=C.UTF-8\n")
	if strings.Contains(log, "MANAGED_TEST_SECRET") {
		t.Errorf("the child inherited MANAGED_TEST_SECRET:\n%s", log)
	}
	fi, err := os.Stat(spec.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("log file mode = %v, want 0600", fi.Mode().Perm())
	}
}

func TestStartRejectsAnIncompleteSpec(t *testing.T) {
	spec := newSpec(t)
	spec.Command = "fakeserver"
	if _, err := managed.Start(context.Background(), spec); err == nil || !strings.Contains(err.Error(), "absolute") {
		t.Errorf("relative command: Start = %v, want an error about an absolute path", err)
	}
	spec = newSpec(t)
	spec.Health = nil
	if _, err := managed.Start(context.Background(), spec); err == nil || !strings.Contains(err.Error(), "Health") {
		t.Errorf("no Health: Start = %v, want an error naming Health", err)
	}
	spec = newSpec(t)
	spec.Command = filepath.Join(t.TempDir(), "missing")
	if _, err := managed.Start(context.Background(), spec); err == nil || !strings.Contains(err.Error(), spec.Command) {
		t.Errorf("missing executable: Start = %v, want an error naming it", err)
	}
}

// onThrowawayThread runs fn on a locked OS thread that the runtime ends when fn
// returns, and gives that thread's id.
func onThrowawayThread(fn func()) (tid int) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the runtime ends the thread when this goroutine returns ...
		if syscall.Gettid() == syscall.Getpid() {
			// ... except the main thread, which it keeps: use another one.
			defer runtime.UnlockOSThread()
			tid = onThrowawayThread(fn)
			return
		}
		tid = syscall.Gettid()
		fn()
	}()
	<-done
	return tid
}

// Pdeathsig fires when the thread that forked the child exits, not the
// process. The caller of Start may be on a thread that ends right after: the
// child must not die with it.
func TestChildSurvivesTheExitOfTheCallersThread(t *testing.T) {
	spec := newSpec(t)
	var (
		s   *managed.Server
		err error
	)
	tid := onThrowawayThread(func() { s, err = managed.Start(context.Background(), spec) })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	eventually(t, "the caller's thread to end", func() bool {
		_, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", tid))
		return errors.Is(err, os.ErrNotExist)
	})
	if pid := s.PID(); !alive(pid) {
		t.Fatalf("child %d died with the thread that called Start", pid)
	}
	answers(t, s.BaseURL())
}

func TestConcurrentCallersDuringACrashAndStop(t *testing.T) {
	spec := newSpec(t, "-exit-after", "100ms", "-once", filepath.Join(t.TempDir(), "crashed"))
	s, err := managed.Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				_ = s.BaseURL()
				_ = s.PID()
				if err := s.Ready(ctx); err != nil && !errors.Is(err, managed.ErrStopped) {
					t.Errorf("Ready: %v", err)
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(400 * time.Millisecond)
		if err := s.Stop(context.Background()); err != nil {
			t.Errorf("Stop: %v", err)
		}
	}()
	if err := s.Stop(ctx); err != nil && !errors.Is(err, managed.ErrKilled) {
		// racing the other Stop is fine; an unexplained error is not
		t.Logf("concurrent Stop: %v", err)
	}
	wg.Wait()
	if s.PID() != 0 {
		t.Errorf("PID after Stop = %d", s.PID())
	}
}

func TestChildDiesWhenItsParentIsKilled(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "logs", "fake.log")
	helper := exec.Command(os.Args[0], "-test.run=^$")
	helper.Env = append(os.Environ(), helperEnv+"=1", helperBinEnv+"="+fakeServer, helperLogEnv+"="+logFile)
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	helper.Stderr = os.Stderr
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		helper.Process.Kill()
		helper.Wait()
		t.Fatalf("helper said nothing: %v", err)
	}
	var pid, port int
	if _, err := fmt.Sscanf(line, "%d %d", &pid, &port); err != nil || !alive(pid) {
		helper.Process.Kill()
		helper.Wait()
		t.Fatalf("helper said %q (%v); want the pid of a live child and its port", line, err)
	}

	if err := helper.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	helper.Wait()
	eventually(t, fmt.Sprintf("the orphaned child %d to die", pid), func() bool { return !alive(pid) })
	eventually(t, fmt.Sprintf("port %d to be free", port), func() bool { return portFree(port) })
}
