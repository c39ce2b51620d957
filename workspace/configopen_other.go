//go:build !unix

package workspace

import (
	"io/fs"
)

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
