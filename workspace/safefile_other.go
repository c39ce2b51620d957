//go:build !unix

package workspace

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Without openat, each step is checked with Lstat before it is used: a link
// put in place between the check and the open is not caught here.

func checkParents(root, rel string, mkdir bool) error {
	comps := strings.Split(rel, string(filepath.Separator))
	for i := range comps[:len(comps)-1] {
		p := filepath.Join(comps[:i+1]...)
		fi, err := os.Lstat(filepath.Join(root, p))
		if errors.Is(err, fs.ErrNotExist) && mkdir {
			if err = os.Mkdir(filepath.Join(root, p), dirPerm); err == nil || errors.Is(err, fs.ErrExist) {
				fi, err = os.Lstat(filepath.Join(root, p))
			}
		}
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return &UnsafeFileError{Path: display(p), Why: whyLink, Dir: true}
		}
		if !fi.IsDir() {
			return &UnsafeFileError{Path: display(p), Why: "is not a folder", Dir: true}
		}
	}
	return nil
}

func openNoFollow(root, rel string, flag int, perm fs.FileMode) (*os.File, error) {
	if err := checkParents(root, rel, false); err != nil {
		return nil, err
	}
	abs := filepath.Join(root, rel)
	if fi, err := os.Lstat(abs); err == nil {
		if why := whyNot(fi.Mode()); why != "" {
			return nil, &UnsafeFileError{Path: display(rel), Why: why}
		}
	}
	f, err := os.OpenFile(abs, flag, perm)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	if why := whyNot(fi.Mode()); why != "" {
		_ = f.Close()
		return nil, &UnsafeFileError{Path: display(rel), Why: why}
	}
	return f, nil
}

func lstatNoFollow(root, rel string) (fs.FileInfo, error) {
	if err := checkParents(root, rel, false); err != nil {
		return nil, err
	}
	return os.Lstat(filepath.Join(root, rel))
}

func mkdirNoFollow(root, rel string) error {
	return checkParents(root, filepath.Join(rel, "x"), true)
}
