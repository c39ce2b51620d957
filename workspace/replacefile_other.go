//go:build !unix

package workspace

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

func replaceNoFollow(root, rel string, data []byte, perm fs.FileMode) error {
	if err := checkParents(root, rel, false); err != nil {
		return err
	}
	abs := filepath.Join(root, rel)
	tmp := filepath.Join(filepath.Dir(abs), TempPrefix+filepath.Base(abs))
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	if err := os.Rename(tmp, abs); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
}

func removeNoFollow(root, rel string) error {
	if err := checkParents(root, rel, false); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	if err := os.Remove(filepath.Join(root, rel)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
