package managed

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// process is one child process, from exec to reap.
type process struct {
	pid     int
	port    int
	baseURL string
	started time.Time

	// exited is closed once the process has been reaped; waitErr and ended are
	// written before that and read only after it.
	exited  chan struct{}
	waitErr error
	ended   time.Time

	// mu guards reaped. The waiter holds it from the moment the child is a
	// zombie until it is reaped, and signal holds it while it signals, so a
	// signal never reaches a recycled pid or process group.
	mu     sync.Mutex
	reaped bool
}

// spawn starts the child on port, its output appended to the log file.
func (s *supervisor) spawn(port, attempt int) (*process, error) {
	logf, err := s.spec.OpenFile(s.spec.LogFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start %s: open its log file: %w", s.spec.Name, err)
	}
	defer logf.Close() // the child has its own copy
	// A header per launch, so a reader of the log sees where each attempt starts.
	// The arguments are left out: they may carry a credential.
	fmt.Fprintf(logf, "\n=== %s managed: starting %s (attempt %d, port %d) ===\n",
		time.Now().Format(time.RFC3339), s.spec.Command, attempt, port)

	cmd := exec.Command(s.spec.Command, s.spec.Args(port)...)
	cmd.Env = childEnv(s.spec.Env)
	cmd.Dir = s.spec.Dir
	cmd.Stdout, cmd.Stderr = logf, logf // *os.File: passed to the child as is, no copying goroutine
	cmd.SysProcAttr = sysProcAttr()

	p := &process{port: port, baseURL: "http://" + loopback(port), exited: make(chan struct{})}
	started := make(chan error, 1)
	go p.run(cmd, started)
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start %s: run %s: %w", s.spec.Name, s.spec.Command, err)
	}
	return p, nil
}

// run starts cmd and reaps it. It is the goroutine that owns the child for its
// whole life: Pdeathsig fires when the *thread* that forked the child exits,
// not the process, so this goroutine locks its thread and keeps it (blocked in
// wait) until the child is gone. Otherwise the Go runtime could retire that
// thread and the kernel would kill a healthy child.
func (p *process) run(cmd *exec.Cmd, started chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cmd.Start(); err != nil {
		started <- err
		return
	}
	p.pid = cmd.Process.Pid
	p.started = time.Now()
	started <- nil

	if waitExited(p.pid) {
		// The leader is a zombie: its pid, and so its process group, cannot be
		// reused yet. Kill what is left of the group (helpers it started), then reap.
		p.mu.Lock()
		_ = signalGroup(p.pid, sigKill)
		p.waitErr = cmd.Wait()
		p.reaped = true
		p.mu.Unlock()
	} else {
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.reaped = true
		p.mu.Unlock()
	}
	p.ended = time.Now()
	close(p.exited)
}

// signal sends sig to the child's process group unless it has been reaped.
func (p *process) signal(sig stopSignal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reaped {
		return nil
	}
	return signalGroup(p.pid, sig)
}

func (p *process) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// status says how the process ended; call it only after exited is closed.
func (p *process) status() string {
	if p.waitErr == nil {
		return "exit status 0"
	}
	return p.waitErr.Error()
}

// inheritedEnv is all the child gets of our environment (besides Spec.Env):
// nothing of ours (tokens, passwords) leaks into a database server.
var inheritedEnv = []string{"PATH", "HOME", "LANG", "TMPDIR"}

func childEnv(extra []string) []string {
	env := make([]string, 0, len(inheritedEnv)+len(extra))
	for _, k := range inheritedEnv {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return append(env, extra...) // exec keeps the last of duplicate keys
}

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// freePort asks the kernel for a free loopback port. Another process may take
// it before the child binds it; launch notices and retries.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// portFree reports whether port can be bound on 127.0.0.1 right now.
func portFree(port int) bool {
	l, err := net.Listen("tcp", loopback(port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// logTail returns the last n lines of the log file, indented for an error message.
func logTail(open func(string, int, fs.FileMode) (*os.File, error), path string, n int) string {
	const window = 16 << 10
	f, err := open(path, os.O_RDONLY, 0)
	if err != nil {
		return "  (cannot read it: " + err.Error() + ")"
	}
	defer f.Close()
	var off int64
	if fi, err := f.Stat(); err == nil && fi.Size() > window {
		off = fi.Size() - window
	}
	buf, err := io.ReadAll(io.NewSectionReader(f, off, window))
	if err != nil {
		return "  (cannot read it: " + err.Error() + ")"
	}
	if off > 0 { // drop the partial first line
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[i+1:]
		}
	}
	lines := strings.Split(strings.TrimRight(string(buf), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}
