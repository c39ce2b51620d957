//go:build unix

package project

import (
	"io/fs"
	"os"
	"syscall"
)

// lockEntry takes an exclusive flock on f without waiting.
func lockEntry(f *os.File) (bool, error) {
	return flock(f, syscall.LOCK_EX|syscall.LOCK_NB)
}

// heldByAnother reports whether another open file holds f's lock, by taking a
// shared lock for an instant (lockable false where locks do not work).
func heldByAnother(f *os.File) (held, lockable bool) {
	ok, err := flock(f, syscall.LOCK_SH|syscall.LOCK_NB)
	if err != nil {
		return false, false
	}
	if ok {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return false, true
	}
	return true, true
}

func flock(f *os.File, how int) (bool, error) {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		switch err {
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

func ownedByUs(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid()
}
