//go:build unix && !linux

package managed

import "syscall"

type stopSignal = syscall.Signal

const (
	sigTerm = syscall.SIGTERM
	sigKill = syscall.SIGKILL
)

// sysProcAttr puts the child in its own process group so Stop reaches its
// helpers. There is no Pdeathsig here: a child can outlive a crash of this process.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func signalGroup(pid int, sig stopSignal) error { return syscall.Kill(-pid, sig) }

// waitExited cannot wait without reaping here; the caller just waits.
func waitExited(int) bool { return false }
