//go:build !unix

package workspace

import (
	"errors"
	"io/fs"
	"os"
)

// errSymlink: the path names a symbolic link, which openNoFollow does not follow.
var errSymlink = errors.New("is a symbolic link")

// openNoFollow opens path for reading unless it is a symlink. Without
// O_NOFOLLOW here, the check and the open are two steps.
func openNoFollow(path string) (*os.File, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return nil, errSymlink
	}
	return os.Open(path)
}

// fileIdentity is what tells a config file apart from its next version:
// size, modification time and mode (no inode here). absent marks "no file".
type fileIdentity struct {
	absent    bool
	size      int64
	mtimeNano int64
	mode      fs.FileMode
}

func identityOf(fi fs.FileInfo) fileIdentity {
	return fileIdentity{size: fi.Size(), mtimeNano: fi.ModTime().UnixNano(), mode: fi.Mode()}
}
