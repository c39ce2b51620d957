package workspace

import "io/fs"

// ReplaceProjectFile writes data to path (inside the project) atomically: a
// temporary file beside it, created without following links, written,
// synced, then renamed over path (a link at path is replaced, never
// followed). A reader sees the old content or the new, never a part.
// The folder must exist and be a real folder.
func ReplaceProjectFile(l Layout, path string, data []byte, perm fs.FileMode) error {
	rel, err := projectRel(l, path)
	if err != nil {
		return err
	}
	return replaceNoFollow(l.Root, rel, data, perm)
}

// RemoveProjectFile removes path (inside the project) without following a
// link in the folders on the way; a missing file is not an error.
func RemoveProjectFile(l Layout, path string) error {
	rel, err := projectRel(l, path)
	if err != nil {
		return err
	}
	return removeNoFollow(l.Root, rel)
}
