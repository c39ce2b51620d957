//go:build unix

package workspace

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The walk below opens each folder with openat(O_NOFOLLOW|O_DIRECTORY)
// relative to the one before, so what is checked is what is used: a link
// swapped in after a check cannot redirect a later step. os.Root would not
// do: it refuses links that leave the root but follows those inside it.

// openParent opens the folder that holds the last component of rel
// (relative to root), refusing a link or a non-folder on the way; with
// mkdir, missing folders are created 0700. The caller closes the descriptor.
func openParent(root, rel string, mkdir bool) (fd int, last string, err error) {
	fd, err = unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, "", &fs.PathError{Op: "open", Path: root, Err: err}
	}
	comps := strings.Split(rel, string(filepath.Separator))
	for i, c := range comps[:len(comps)-1] {
		next, err := openDirAt(fd, c, mkdir)
		if err != nil {
			err = refusal(fd, c, filepath.Join(comps[:i+1]...), err, true)
			_ = unix.Close(fd)
			return -1, "", err
		}
		_ = unix.Close(fd)
		fd = next
	}
	return fd, comps[len(comps)-1], nil
}

func openDirAt(dirfd int, name string, mkdir bool) (int, error) {
	const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := openat(dirfd, name, flags, 0)
	if err == unix.ENOENT && mkdir {
		if err = unix.Mkdirat(dirfd, name, uint32(dirPerm)); err == nil {
			_ = unix.Fchmodat(dirfd, name, uint32(dirPerm), 0) // undo the umask
		}
		if err == nil || err == unix.EEXIST { // made meanwhile: judged by the open
			fd, err = openat(dirfd, name, flags, 0)
		}
	}
	return fd, err
}

func openat(dirfd int, name string, flags int, perm uint32) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, flags, perm)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// refusal turns a failed openat of name (in dirfd; rel for messages) into
// an *UnsafeFileError when the file is a link or of the wrong kind, and into
// an *fs.PathError otherwise (fs.ErrNotExist for a missing one).
func refusal(dirfd int, name, rel string, err error, wantDir bool) error {
	var st unix.Stat_t
	if serr := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); serr == nil {
		mode := modeOf(uint32(st.Mode))
		switch {
		case mode&fs.ModeSymlink != 0:
			return &UnsafeFileError{Path: display(rel), Why: whyLink, Dir: wantDir}
		case wantDir && !mode.IsDir():
			return &UnsafeFileError{Path: display(rel), Why: "is not a folder", Dir: true}
		case !wantDir && !mode.IsRegular():
			return &UnsafeFileError{Path: display(rel), Why: whyNot(mode)}
		}
	}
	return &fs.PathError{Op: "open", Path: display(rel), Err: err}
}

func modeOf(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFLNK:
		mode |= fs.ModeSymlink
	case unix.S_IFDIR:
		mode |= fs.ModeDir
	case unix.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		mode |= fs.ModeSocket
	case unix.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		mode |= fs.ModeDevice
	}
	return mode
}

func openNoFollow(root, rel string, flag int, perm fs.FileMode) (*os.File, error) {
	dirfd, last, err := openParent(root, rel, false)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dirfd)
	// O_NONBLOCK: opening a FIFO must not wait for a writer or reader.
	fd, err := openat(dirfd, last, flag|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, uint32(perm.Perm()))
	if err != nil {
		return nil, refusal(dirfd, last, rel, err, false)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		_ = unix.Close(fd)
		return nil, &fs.PathError{Op: "fstat", Path: display(rel), Err: err}
	}
	if why := whyNot(modeOf(uint32(st.Mode))); why != "" {
		_ = unix.Close(fd)
		return nil, &UnsafeFileError{Path: display(rel), Why: why}
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		_ = unix.Close(fd)
		return nil, &fs.PathError{Op: "fcntl", Path: display(rel), Err: err}
	}
	// Narrow a file of ours that is more open than asked (0644 from older versions).
	if flag&os.O_CREATE != 0 && int(st.Uid) == os.Geteuid() && uint32(st.Mode)&0o777&^uint32(perm.Perm()) != 0 {
		if err := unix.Fchmod(fd, uint32(st.Mode)&0o777&uint32(perm.Perm())); err != nil {
			_ = unix.Close(fd)
			return nil, &fs.PathError{Op: "chmod", Path: display(rel), Err: err}
		}
	}
	return os.NewFile(uintptr(fd), filepath.Join(root, rel)), nil
}

func lstatNoFollow(root, rel string) (fs.FileInfo, error) {
	dirfd, last, err := openParent(root, rel, false)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dirfd)
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, last, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: display(rel), Err: err}
	}
	return &statInfo{name: last, st: st}, nil
}

func mkdirNoFollow(root, rel string) error {
	dirfd, last, err := openParent(root, rel, true)
	if err != nil {
		return err
	}
	defer unix.Close(dirfd)
	fd, err := openDirAt(dirfd, last, true)
	if err != nil {
		return refusal(dirfd, last, rel, err, true)
	}
	return unix.Close(fd)
}

// statInfo is an fs.FileInfo from a unix.Stat_t.
type statInfo struct {
	name string
	st   unix.Stat_t
}

func (s *statInfo) Name() string       { return s.name }
func (s *statInfo) Size() int64        { return s.st.Size }
func (s *statInfo) Mode() fs.FileMode  { return modeOf(uint32(s.st.Mode)) }
func (s *statInfo) ModTime() time.Time { return time.Unix(s.st.Mtim.Unix()) }
func (s *statInfo) IsDir() bool        { return s.Mode().IsDir() }
func (s *statInfo) Sys() any           { return &s.st }
