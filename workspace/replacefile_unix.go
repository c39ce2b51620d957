//go:build unix

package workspace

import (
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

func replaceNoFollow(root, rel string, data []byte, perm fs.FileMode) error {
	dirfd, last, err := openParent(root, rel, false)
	if err != nil {
		return err
	}
	defer unix.Close(dirfd)
	var nonce [6]byte
	_, _ = rand.Read(nonce[:])
	tmp := TempPrefix + last + "." + hex.EncodeToString(nonce[:])
	fd, err := openat(dirfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm.Perm()))
	if err != nil {
		return &fs.PathError{Op: "create", Path: display(filepath.Join(filepath.Dir(rel), tmp)), Err: err}
	}
	f := os.NewFile(uintptr(fd), filepath.Join(root, filepath.Dir(rel), tmp))
	err = f.Chmod(perm.Perm()) // undo the umask
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = unix.Renameat(dirfd, tmp, dirfd, last)
	}
	if err != nil {
		_ = unix.Unlinkat(dirfd, tmp, 0)
		return &fs.PathError{Op: "replace", Path: display(rel), Err: err}
	}
	return nil
}

func removeNoFollow(root, rel string) error {
	dirfd, last, err := openParent(root, rel, false)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	defer unix.Close(dirfd)
	if err := unix.Unlinkat(dirfd, last, 0); err != nil && err != unix.ENOENT {
		return &fs.PathError{Op: "remove", Path: display(rel), Err: err}
	}
	return nil
}
