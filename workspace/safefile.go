package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// A project's files are untrusted: whoever wrote the repository may have put
// a symlink or a FIFO where the server keeps its data (git keeps symlinks).
// Every file the server opens or creates under .task_orchestrator goes
// through OpenProjectFile (or, when a library opens it, CheckProjectFile
// first), which never follows a link, in the folders on the way or at the
// end, never blocks on a FIFO, and refuses anything but a regular file.

// ErrUnsafeFile: a file or folder under .task_orchestrator is a symbolic link
// or not the kind of file it must be. The error's message is a sentence
// fit for the client: it names the project-relative path, why and what to do.
var ErrUnsafeFile = errors.New("unsafe project file")

// UnsafeFileError is the ErrUnsafeFile a check returns.
type UnsafeFileError struct {
	Path string // project-relative, with forward slashes
	Why  string // "is a symbolic link", "is a named pipe (FIFO)", ...
	Dir  bool   // a folder was expected
}

func (e *UnsafeFileError) Error() string {
	if e.Dir {
		return fmt.Sprintf("%s %s; a project's data folders must be real folders inside the project: remove it (the server creates the folder anew on next use) or replace it with the real folder",
			e.Path, e.Why)
	}
	fix := "move it away (the server creates the file anew on next use)"
	if strings.HasPrefix(e.Why, whyLink) {
		fix = "remove the link (the server creates the file anew on next use) or replace it with the real file"
	}
	return fmt.Sprintf("%s %s; a project's data files must be regular files inside the project: %s", e.Path, e.Why, fix)
}

// Is makes errors.Is(err, ErrUnsafeFile) true.
func (e *UnsafeFileError) Is(target error) bool { return target == ErrUnsafeFile }

// ClientMessage is the sentence the tool layer shows, wherever in an error
// chain the refusal sits (the registry's wrapping holds absolute paths).
func (e *UnsafeFileError) ClientMessage() string { return e.Error() }

const whyLink = "is a symbolic link"

// fileKind names what a file of mode m is, for refusals ("" for a regular
// file): the one naming of file kinds for the opener, the config reader and
// the workspace resolver.
func fileKind(m fs.FileMode) string {
	switch t := m.Type(); {
	case t == 0:
		return ""
	case t&fs.ModeSymlink != 0:
		return "a symbolic link"
	case t&fs.ModeDir != 0:
		return "a folder"
	case t&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case t&fs.ModeSocket != 0:
		return "a socket"
	case t&fs.ModeCharDevice != 0:
		return "a character device"
	case t&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}

// whyNot says what kind of file mode is, for a refusal ("" if it is a regular file).
func whyNot(mode fs.FileMode) string {
	switch kind := fileKind(mode); {
	case kind == "":
		return ""
	case mode&fs.ModeSymlink != 0:
		return whyLink
	default:
		return "is " + kind + ", not a regular file"
	}
}

// projectRel returns path relative to l.Root: path is absolute (inside the
// project) or already project-relative. It must not climb out of the project.
func projectRel(l Layout, path string) (string, error) {
	rel := path
	if filepath.IsAbs(path) {
		r, err := filepath.Rel(l.Root, path)
		if err != nil {
			return "", fmt.Errorf("%s is not inside the project %s", path, l.Root)
		}
		rel = r
	}
	rel = filepath.Clean(rel)
	if !filepath.IsLocal(rel) {
		return "", fmt.Errorf("%s is not inside the project %s", path, l.Root)
	}
	return rel, nil
}

// display is how a refusal names rel: project-relative, forward slashes.
func display(rel string) string { return filepath.ToSlash(rel) }

// OpenProjectFile opens path (absolute inside l.Root, or relative to it)
// without following any symbolic link, neither in the folders on the way
// (each must be a real folder) nor at the end, and without blocking on a
// FIFO. Anything but a regular file is refused with an *UnsafeFileError
// (errors.Is ErrUnsafeFile); nothing is created outside the project. With
// os.O_CREATE a missing file is created with perm, and an existing file of
// ours with wider bits than perm is narrowed to perm (older versions created
// files 0644). A missing file without O_CREATE is an fs.ErrNotExist.
func OpenProjectFile(l Layout, path string, flag int, perm fs.FileMode) (*os.File, error) {
	rel, err := projectRel(l, path)
	if err != nil {
		return nil, err
	}
	return openNoFollow(l.Root, rel, flag, perm)
}

// CheckProjectFile checks, for a file that a library opens by name (SQLite's
// database, WAL and SHM), that path is not a symbolic link nor anything but a
// regular file, and that no folder on the way is a link. It returns the
// file's information, or nil and no error when it does not exist.
func CheckProjectFile(l Layout, path string) (fs.FileInfo, error) {
	rel, err := projectRel(l, path)
	if err != nil {
		return nil, err
	}
	fi, err := lstatNoFollow(l.Root, rel)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if why := whyNot(fi.Mode()); why != "" {
		return nil, &UnsafeFileError{Path: display(rel), Why: why}
	}
	return fi, nil
}

// EnsureProjectDir creates path (inside the project) and the folders on the
// way, 0700, where missing, without following links: a link or a non-folder
// on the way is refused with an *UnsafeFileError.
func EnsureProjectDir(l Layout, path string) error {
	rel, err := projectRel(l, path)
	if err != nil {
		return err
	}
	return mkdirNoFollow(l.Root, rel)
}

// CheckProjectTree refuses a symbolic link anywhere under the folder path
// (a managed database server's data folder, whose files that server opens
// by name). The folder itself must be a real folder; a missing one is fine.
func CheckProjectTree(l Layout, path string) error {
	rel, err := projectRel(l, path)
	if err != nil {
		return err
	}
	fi, err := lstatNoFollow(l.Root, rel)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return &UnsafeFileError{Path: display(rel), Why: strings.TrimSuffix(whyNot(fi.Mode()), ", not a regular file") + ", not a folder", Dir: true}
	}
	abs := filepath.Join(l.Root, rel)
	return filepath.WalkDir(abs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			r, _ := filepath.Rel(l.Root, p)
			return &UnsafeFileError{Path: display(r), Why: "is a symbolic link inside a managed server's data folder"}
		}
		return nil
	})
}

// PrepareServerDirs makes a managed server's data folder and the logs folder
// where missing, and checks that neither is, or holds, a symbolic link: the
// server we start opens its files by name. server names it in messages
// ("Chroma"). An unsafe file is an *UnsafeFileError; any other error's
// message is a sentence fit for the client too.
func PrepareServerDirs(l Layout, dataDir, server string) error {
	for _, dir := range []string{dataDir, l.Logs} {
		if err := EnsureProjectDir(l, dir); err != nil {
			if errors.Is(err, ErrUnsafeFile) {
				return err
			}
			return fmt.Errorf("cannot create %s for the project's %s server (%w): check the permissions of %s", dir, server, err, DirName)
		}
	}
	if err := CheckProjectTree(l, dataDir); err != nil {
		if errors.Is(err, ErrUnsafeFile) {
			return err
		}
		return fmt.Errorf("cannot read %s for the project's %s server (%w): check the permissions of %s", dataDir, server, err, DirName)
	}
	return nil
}

// LayoutOf returns the layout of the project whose .task_orchestrator folder
// holds path (absolute), and false when path is not inside one.
func LayoutOf(path string) (Layout, bool) {
	for dir := filepath.Dir(path); ; {
		if filepath.Base(dir) == DirName {
			return LayoutFor(filepath.Dir(dir)), true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return Layout{}, false
		}
		dir = parent
	}
}

// TempPrefix starts the name of an artifact being written (see writeAtomic).
const TempPrefix = ".tmp-"

// StaleTempAge is how old a temporary artifact file must be before it is
// taken for the leftover of a killed writer: another server process may be
// writing one right now, and a write takes well under a second.
const StaleTempAge = 2 * time.Minute

// RemoveStaleTemps removes what a writer killed mid-write left in
// artifacts/<task>/: regular files named .tmp-* last modified more than
// olderThan ago. Links and folders are left alone; nothing is followed. It
// returns how many files it removed.
func RemoveStaleTemps(l Layout, olderThan time.Duration) (int, error) {
	root, err := os.OpenRoot(l.Artifacts)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, nil
		}
		return 0, err
	}
	defer root.Close()
	tasks, err := fs.ReadDir(root.FS(), ".")
	if err != nil {
		return 0, err
	}
	cutoff := time.Now().Add(-olderThan)
	removed := 0
	var errs []error
	for _, t := range tasks {
		if !t.IsDir() || !taskIDPattern.MatchString(t.Name()) { // a DirEntry of a link is not IsDir
			continue
		}
		entries, err := fs.ReadDir(root.FS(), t.Name())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), TempPrefix) || !e.Type().IsRegular() {
				continue
			}
			rel := filepath.Join(t.Name(), e.Name())
			fi, err := root.Lstat(rel)
			if err != nil || !fi.Mode().IsRegular() || fi.ModTime().After(cutoff) {
				continue
			}
			if err := root.Remove(rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
				continue
			}
			removed++
		}
	}
	return removed, errors.Join(errs...)
}

// UnsafeFileMessage returns the client-ready sentence of the *UnsafeFileError
// inside err, without the context that wrapping layers added (which may hold
// absolute paths), or err's own message if it holds none.
func UnsafeFileMessage(err error) string {
	var u *UnsafeFileError
	if errors.As(err, &u) {
		return u.Error()
	}
	return err.Error()
}

// NarrowFile takes from f's mode every bit outside perm, if f is ours (older
// versions created database files 0644). A file of another user is left alone.
func NarrowFile(f *os.File, perm fs.FileMode) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if _, ours := ownedByUs(fi); !ours || !posixPerms || fi.Mode().Perm()&^perm == 0 {
		return nil
	}
	return f.Chmod(fi.Mode().Perm() & perm)
}
