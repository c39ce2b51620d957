//go:build linux

package managed

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

type stopSignal = syscall.Signal

const (
	sigTerm = syscall.SIGTERM
	sigKill = syscall.SIGKILL
)

// sysProcAttr puts the child in its own process group (so Stop reaches its
// helpers) and has the kernel SIGKILL it if the forking thread dies (so a
// crash or SIGKILL of this process leaves no orphan). Go's fork code re-checks
// the parent after setting Pdeathsig, closing the race where we die mid-fork.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func signalGroup(pid int, sig stopSignal) error { return syscall.Kill(-pid, sig) }

// waitExited blocks until pid has exited, without reaping it (waitid with
// WNOWAIT), and reports whether it did so.
func waitExited(pid int) bool {
	const pPID = 1     // P_PID
	var info [128]byte // siginfo_t
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
			uintptr(unsafe.Pointer(&info)), syscall.WEXITED|syscall.WNOWAIT, 0, 0)
		switch errno {
		case 0:
			return true
		case syscall.EINTR:
			continue
		default:
			return false
		}
	}
}

// sharingSupported: /proc tells a pid's start time and command line, and
// Pdeathsig ties a server to its owner, so servers can be shared across
// processes (see share.go).
const sharingSupported = true

// procInfo is what /proc says of a live process.
type procInfo struct {
	start   uint64 // field 22 of /proc/PID/stat: clock ticks after boot
	zombie  bool
	cmdline []string
}

// readProc reads /proc/PID/stat and /proc/PID/cmdline.
func readProc(pid int) (procInfo, error) {
	var info procInfo
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return info, err
	}
	// "PID (COMM) STATE ...": COMM may hold spaces and parentheses, so split after the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return info, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	fields := strings.Fields(string(stat[i+1:])) // fields[0] is field 3 (state)
	if len(fields) < 20 {
		return info, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	info.zombie = fields[0] == "Z" || fields[0] == "X"
	if info.start, err = strconv.ParseUint(fields[19], 10, 64); err != nil {
		return info, fmt.Errorf("/proc/%d/stat: start time: %w", pid, err)
	}
	cmd, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return info, err
	}
	info.cmdline = strings.Split(strings.TrimRight(string(cmd), "\x00"), "\x00")
	return info, nil
}

// bootID changes at every boot: a discovery file written before a reboot
// names pids and start times of another boot.
func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// fileOwner is the uid that owns fi.
func fileOwner(fi os.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return -1, false
	}
	return int(st.Uid), true
}

// processesOn lists the live processes (not zombies, not us) whose command
// line names dir.
func processesOn(dir string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		info, err := readProc(pid)
		if err != nil || info.zombie || !namesDir(info.cmdline, dir) {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// tryLock takes an exclusive flock on f without waiting; false when another
// open file (another process) holds it.
func tryLock(f *os.File) (bool, error) { return workspace.TryLockFile(f, false) }
