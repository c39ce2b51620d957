//go:build unix

package workspace

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// errSymlink: the path names a symbolic link, which openNoFollow does not follow.
var errSymlink = errors.New("is a symbolic link")

// openNoFollow opens path for reading without following a symlink at its
// last component (ELOOP, refused) and without blocking on a FIFO (whose mode
// the caller then refuses): O_NOFOLLOW|O_NONBLOCK, then fstat by the caller.
func openNoFollow(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EMLINK) {
		return nil, errSymlink
	}
	return f, err
}

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
