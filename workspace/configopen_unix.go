//go:build unix

package workspace

import (
	"io/fs"
	"syscall"
)

// fileIdentity is what tells a config file apart from its next version:
// device, inode, size and modification time (and mode, so a FIFO put in a
// file's place is seen). absent marks "no file".
type fileIdentity struct {
	absent    bool
	dev, ino  uint64
	size      int64
	mtimeNano int64
	mode      fs.FileMode
}

func identityOf(fi fs.FileInfo) fileIdentity {
	id := fileIdentity{size: fi.Size(), mtimeNano: fi.ModTime().UnixNano(), mode: fi.Mode()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.dev, id.ino = uint64(st.Dev), uint64(st.Ino) //nolint:unconvert // Dev is int32 on some systems
	}
	return id
}
