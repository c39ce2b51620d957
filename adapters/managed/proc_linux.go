//go:build linux

package managed

import (
	"syscall"
	"unsafe"
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
