//go:build unix

package workspace

import (
	"os"
	"syscall"
)

// TryLockFile takes a flock on f without waiting, exclusive or (shared)
// shared, and reports false when another open file holds a lock that
// conflicts. Project lock files (a managed server's owner, a process's
// presence) are opened through OpenProjectFile first.
func TryLockFile(f *os.File, shared bool) (bool, error) {
	how := syscall.LOCK_EX | syscall.LOCK_NB
	if shared {
		how = syscall.LOCK_SH | syscall.LOCK_NB
	}
	for {
		switch err := syscall.Flock(int(f.Fd()), how); err {
		case nil:
			return true, nil
		case syscall.EINTR:
			continue
		case syscall.EWOULDBLOCK:
			return false, nil
		default:
			return false, err
		}
	}
}

// UnlockFile releases f's flock.
func UnlockFile(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
