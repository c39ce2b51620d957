//go:build unix

package workspace

import (
	"io/fs"
	"os"
	"syscall"
)

// posixPerms: mode bits are meaningful here, so Validate checks them.
const posixPerms = true

// ownedByUs reports whether fi belongs to the effective user, and its owner's id.
func ownedByUs(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return -1, true // no owner information: nothing to compare
	}
	return int(st.Uid), int(st.Uid) == os.Geteuid()
}
