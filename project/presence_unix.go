//go:build unix

package project

import (
	"io/fs"
	"os"
	"syscall"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// lockEntry takes an exclusive flock on f without waiting.
func lockEntry(f *os.File) (bool, error) {
	return workspace.TryLockFile(f, false)
}

// heldByAnother reports whether another open file holds f's lock, by taking a
// shared lock for an instant (lockable false where locks do not work).
func heldByAnother(f *os.File) (held, lockable bool) {
	ok, err := workspace.TryLockFile(f, true)
	if err != nil {
		return false, false
	}
	if ok {
		_ = workspace.UnlockFile(f)
		return false, true
	}
	return true, true
}

func ownedByUs(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid()
}
