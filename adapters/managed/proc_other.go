//go:build !unix

package managed

import (
	"os"
	"syscall"
)

// stopSignal only says how hard to stop: without Unix signals both kill.
type stopSignal int

const (
	sigTerm stopSignal = iota
	sigKill
)

// sysProcAttr: no process groups or Pdeathsig here; a child can outlive a crash of this process.
func sysProcAttr() *syscall.SysProcAttr { return nil }

func signalGroup(pid int, _ stopSignal) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

func waitExited(int) bool { return false }
