//go:build linux

package managed_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/managed"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// sharedSpec runs the fake server for the project at root, shared across
// processes: lock and discovery files under .task_orchestrator/databases,
// opened and written without following links, as the adapters do.
func sharedSpec(bin, root string) managed.Spec {
	l := workspace.LayoutFor(root)
	data := filepath.Join(l.Databases, "fake")
	for _, d := range []string{data, l.Logs} {
		if err := workspace.EnsureProjectDir(l, d); err != nil {
			panic(err)
		}
	}
	spec := fakeSpec(bin, filepath.Join(l.Logs, "fake.log"), "-data", data)
	spec.Dir = data
	spec.OpenFile = func(path string, flag int, perm fs.FileMode) (*os.File, error) {
		return workspace.OpenProjectFile(l, path, flag, perm)
	}
	spec.Share = &managed.Sharing{
		LockFile:      filepath.Join(l.Databases, "fake.lock"),
		DiscoveryFile: filepath.Join(l.Databases, "fake.server.json"),
		DataDir:       data,
		Secret:        "s3cret",
		Replace: func(path string, b []byte, perm fs.FileMode) error {
			return workspace.ReplaceProjectFile(l, path, b, perm)
		},
		Remove: func(path string) error { return workspace.RemoveProjectFile(l, path) },
	}
	return spec
}

func newShared(t *testing.T) (managed.Spec, string) {
	t.Helper()
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return sharedSpec(fakeServer, root), root
}

// serversOn counts the live processes whose command line names dir, as the
// integration test's sampler does.
func serversOn(dir string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || !strings.Contains(string(b), dir+"\x00") || !alive(pid) {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

func TestASecondUserAttachesToTheServerOfTheFirstAndStartsNone(t *testing.T) {
	spec, _ := newShared(t)
	a := start(t, spec)
	b := start(t, spec) // its own lock file descriptor: another process as far as flock is concerned
	if !a.Owned() || b.Owned() {
		t.Fatalf("Owned: first %v, second %v; want the first to own the server and the second to use it", a.Owned(), b.Owned())
	}
	if a.BaseURL() != b.BaseURL() || a.PID() != b.PID() {
		t.Fatalf("the second uses %s (pid %d), the first runs %s (pid %d)", b.BaseURL(), b.PID(), a.BaseURL(), a.PID())
	}
	answers(t, b.BaseURL())
	if pids := serversOn(spec.Share.DataDir); len(pids) != 1 {
		t.Fatalf("processes on the data folder: %v, want one", pids)
	}
	fi, err := os.Lstat(spec.Share.DiscoveryFile)
	if err != nil || fi.Mode().Perm() != 0o600 || !fi.Mode().IsRegular() {
		t.Fatalf("discovery file: %v, %v; want a regular file with mode 0600", fi, err)
	}
	var d map[string]any
	if err := json.Unmarshal([]byte(readFile(t, spec.Share.DiscoveryFile)), &d); err != nil {
		t.Fatal(err)
	}
	if d["pid"] != float64(a.PID()) || d["owner_pid"] != float64(os.Getpid()) || d["secret"] != "s3cret" || d["pid_start"] == nil {
		t.Fatalf("discovery file says %v", d)
	}
	// The attached user's Stop signals nothing.
	if err := b.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	answers(t, a.BaseURL())
}

func TestWhenTheOwnerStopsTheNextUserStartsTheServerAgain(t *testing.T) {
	spec, _ := newShared(t)
	a, err := managed.Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	b := start(t, spec)
	old := a.PID()
	if err := a.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(spec.Share.DiscoveryFile); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the owner's Stop left its discovery file (%v)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Ready(ctx); err != nil {
		t.Fatalf("Ready after the owner stopped: %v", err)
	}
	if !b.Owned() || b.PID() == old || b.PID() == 0 {
		t.Fatalf("after the owner stopped: owned %v, pid %d (old %d); want a new server owned by the second", b.Owned(), b.PID(), old)
	}
	answers(t, b.BaseURL())
}

// startSharingHelper runs this test binary as another process that owns the
// project's shared server; it returns the helper and the server's pid.
func startSharingHelper(t *testing.T, root string) (*exec.Cmd, int) {
	t.Helper()
	helper := exec.Command(os.Args[0], "-test.run=^$")
	helper.Env = append(os.Environ(), helperEnv+"=1", helperBinEnv+"="+fakeServer, helperRoot+"="+root)
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	helper.Stderr = os.Stderr
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = helper.Process.Kill(); _ = helper.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	var pid, port int
	if _, serr := fmt.Sscanf(line, "%d %d", &pid, &port); err != nil || serr != nil || !alive(pid) {
		t.Fatalf("helper said %q (%v); want the pid of a live server and its port", line, err)
	}
	return helper, pid
}

func TestWhenTheOwnerIsKilledItsServerDiesAndAUserTakesOver(t *testing.T) {
	spec, root := newShared(t)
	helper, serverPID := startSharingHelper(t, root)
	b := start(t, spec)
	if b.Owned() || b.PID() != serverPID {
		t.Fatalf("attached to pid %d (owned %v), want the helper's server %d", b.PID(), b.Owned(), serverPID)
	}
	if err := helper.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = helper.Wait()
	// Its server dies by Pdeathsig, a moment after the owner: until then an
	// attached user rightly still sees a live server.
	eventually(t, "the killed owner's server to die", func() bool { return !alive(serverPID) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Ready(ctx); err != nil {
		t.Fatalf("Ready after the owner was killed: %v", err)
	}
	if !b.Owned() || b.PID() == serverPID {
		t.Fatalf("after the owner was killed: owned %v, pid %d; want a new server of ours", b.Owned(), b.PID())
	}
	if alive(serverPID) {
		t.Fatalf("the killed owner's server %d still runs", serverPID)
	}
	if pids := serversOn(spec.Share.DataDir); len(pids) != 1 || pids[0] != b.PID() {
		t.Fatalf("processes on the data folder: %v, want only %d", pids, b.PID())
	}
	answers(t, b.BaseURL())
}

// plant writes a discovery file that claims pid is the server.
func plant(t *testing.T, spec managed.Spec, pid int, edit func(d map[string]any)) {
	t.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	startTime, _ := strconv.ParseUint(fields[19], 10, 64)
	boot, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	d := map[string]any{"kind": spec.Name, "data_dir": spec.Share.DataDir, "host": "127.0.0.1", "port": 1,
		"pid": pid, "pid_start": startTime, "boot_id": strings.TrimSpace(string(boot)), "owner_pid": pid}
	if edit != nil {
		edit(d)
	}
	b, _ := json.Marshal(d)
	_ = os.Remove(spec.Share.DiscoveryFile)
	if err := os.WriteFile(spec.Share.DiscoveryFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// holdLock takes the lock as an owner that announces nothing would.
func holdLock(t *testing.T, spec managed.Spec) func() {
	t.Helper()
	f, err := os.OpenFile(spec.Share.LockFile, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	return func() { f.Close() }
}

func TestAPlantedDiscoveryFileIsNeitherUsedNorSignalled(t *testing.T) {
	sleep := exec.Command("sleep", "300")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sleep.Process.Kill(); _ = sleep.Wait() })
	cases := []struct {
		name  string
		plant func(t *testing.T, spec managed.Spec)
	}{
		{"another program's pid", func(t *testing.T, spec managed.Spec) { plant(t, spec, sleep.Process.Pid, nil) }},
		{"a recycled pid", func(t *testing.T, spec managed.Spec) {
			plant(t, spec, sleep.Process.Pid, func(d map[string]any) { d["pid_start"] = 12 })
		}},
		{"a foreign host", func(t *testing.T, spec managed.Spec) {
			plant(t, spec, sleep.Process.Pid, func(d map[string]any) { d["host"] = "10.1.2.3" })
		}},
		{"another boot", func(t *testing.T, spec managed.Spec) {
			plant(t, spec, sleep.Process.Pid, func(d map[string]any) { d["boot_id"] = "0" })
		}},
		{"a world-readable file", func(t *testing.T, spec managed.Spec) {
			plant(t, spec, sleep.Process.Pid, nil)
			if err := os.Chmod(spec.Share.DiscoveryFile, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"a link", func(t *testing.T, spec managed.Spec) {
			plant(t, spec, sleep.Process.Pid, nil)
			elsewhere := filepath.Join(t.TempDir(), "elsewhere.json")
			if err := os.Rename(spec.Share.DiscoveryFile, elsewhere); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(elsewhere, spec.Share.DiscoveryFile); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec, _ := newShared(t)
			c.plant(t, spec)
			// With the lock held by someone who announced nothing usable, the
			// planted file is not attached to: the call waits and fails clearly.
			release := holdLock(t, spec)
			ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
			_, err := managed.Start(ctx, spec)
			cancel()
			release()
			if !errors.Is(err, managed.ErrBusy) {
				t.Fatalf("Start with the lock held and a planted discovery file = %v, want ErrBusy", err)
			}
			mustContain(t, err.Error(), "being started by another server process of this project", "retry")
			// With the lock free, the planted file is replaced by a server of our own.
			s := start(t, spec)
			if !s.Owned() || s.PID() == sleep.Process.Pid {
				t.Fatalf("owned %v, pid %d; want a server of our own", s.Owned(), s.PID())
			}
			answers(t, s.BaseURL())
			if !alive(sleep.Process.Pid) {
				t.Fatalf("the program named by the planted file (pid %d) was signalled", sleep.Process.Pid)
			}
		})
	}
}

func TestAProcessAlreadyOnTheDataFolderIsWaitedForNotSignalled(t *testing.T) {
	spec, _ := newShared(t)
	// A process we cannot account for runs on the data folder and exits in a moment
	// (the killed owner's server, being reaped): the new owner starts only after it.
	squatter := exec.Command(fakeServer, "-port", "0", "-data", spec.Share.DataDir, "-exit-after", "700ms")
	if err := squatter.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = squatter.Wait(); close(exited) }()
	s := start(t, spec)
	select {
	case <-exited:
	default:
		t.Fatal("a server was started while another process still ran on the data folder")
	}
	answers(t, s.BaseURL())
}

func TestACallShorterThanTheTakeoverFailsClearlyAndTheTakeoverGoesOn(t *testing.T) {
	spec, _ := newShared(t)
	spec.Args = func(port int) []string {
		return []string{"-port", strconv.Itoa(port), "-data", spec.Share.DataDir, "-slow-start", "1500ms"}
	}
	a, err := managed.Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	b := start(t, spec)
	if err := a.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	err = b.Ready(short)
	cancel()
	if !errors.Is(err, managed.ErrBusy) {
		t.Fatalf("Ready with a context shorter than the restart = %v, want ErrBusy", err)
	}
	mustContain(t, err.Error(), "fake is being started again", "retry in a moment")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Ready(ctx); err != nil {
		t.Fatalf("Ready after the short call: %v", err)
	}
	if !b.Owned() {
		t.Fatal("the takeover that the short call began did not make the second user the owner")
	}
	answers(t, b.BaseURL())
	if pids := serversOn(spec.Share.DataDir); len(pids) != 1 {
		t.Fatalf("processes on the data folder: %v, want one", pids)
	}
}

func TestWhenTheServerCrashesItsOwnerRestartsItAndTheOthersFollow(t *testing.T) {
	spec, root := newShared(t)
	marker := filepath.Join(root, "crashed-once")
	spec.Args = func(port int) []string {
		return []string{"-port", strconv.Itoa(port), "-data", spec.Share.DataDir, "-exit-after", "400ms", "-once", marker}
	}
	a := start(t, spec)
	b := start(t, spec)
	first := a.PID()
	if b.Owned() || b.PID() != first {
		t.Fatalf("the second uses pid %d (owned %v), want the first's %d", b.PID(), b.Owned(), first)
	}
	eventually(t, "the server to crash", func() bool { return !alive(first) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Ready(ctx); err != nil {
		t.Fatalf("the owner's Ready after the crash: %v", err)
	}
	eventually(t, "the second to follow the restarted server", func() bool {
		return b.Ready(ctx) == nil && b.PID() == a.PID()
	})
	if b.Owned() || a.PID() == first || b.BaseURL() != a.BaseURL() {
		t.Fatalf("after the crash: owner pid %d at %s; second pid %d at %s (owned %v); first pid was %d",
			a.PID(), a.BaseURL(), b.PID(), b.BaseURL(), b.Owned(), first)
	}
	answers(t, b.BaseURL())
}
